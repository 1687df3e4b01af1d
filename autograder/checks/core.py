"""The machinery of the hidden tests: one graded question, scored in parts.

A grade cell's hidden block calls `autograder.checks.grade("name", globals(), points=P)`.
The lesson's check function for "name" adds parts (forward on random inputs, each gradient, edge
cases); each part passes or fails on its own, the cell's value is the points earned, and nbgrader
reads that value as partial credit. Student code runs with stdout, stderr and warnings captured,
so a warning never costs points. Messages report errors and tolerances, never reference values.
"""
import contextlib
import io
import secrets
import warnings

import numpy as np

from course.i18n import translate
from course.numerics import rel_error

_isfinite = np.isfinite
_translate = translate   # bound at import, before any student code runs
_asarray = np.asarray


class Mismatch(AssertionError):
    """A part failed; the message is shown to the student in the feedback."""


class MissingFunction(Exception):
    pass


@contextlib.contextmanager
def quiet():
    """Swallow what student code prints or warns while a part runs."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def to_numpy(value):
    try:
        import torch
        if isinstance(value, torch.Tensor):
            return value.detach().cpu().double().numpy()
    except ImportError:  # pragma: no cover
        pass
    return _asarray(value)


def expect_close(what, actual, expected, tol=1e-7, atol=None):
    """Raise Mismatch unless `actual` matches `expected` (shape, finiteness, tolerance).

    With atol=None the test is course.rel_error <= tol; with atol set it is max |a - e| <= atol.
    """
    if actual is None:
        raise Mismatch(f"{what}: got None (a missing `return`?)")
    if isinstance(actual, (tuple, list)) and not isinstance(expected, (tuple, list)):
        raise Mismatch(f"{what}: got a {type(actual).__name__} of {len(actual)} items, expected one array")
    actual, expected = to_numpy(actual), to_numpy(expected)
    if actual.shape != expected.shape:
        raise Mismatch(f"{what}: shape {actual.shape}, expected {expected.shape}")
    if not np.all(_isfinite(actual)):
        raise Mismatch(f"{what}: contains NaN or inf")
    if atol is None:
        err = rel_error(actual, expected)
        if err > tol:
            raise Mismatch(f"{what}: max relative error {err:.1e} > tolerance {tol:.0e}")
    else:
        err = float(np.max(np.abs(actual.astype(np.float64) - expected))) if actual.size else 0.0
        if err > atol:
            raise Mismatch(f"{what}: max absolute error {err:.1e} > tolerance {atol:.0e}")


def expect_tuple(result, function, names, lists_too=False):
    """`result` itself when it is a tuple of len(names) values, else Mismatch naming what was expected.

    function: how the student calls it ("gru_forward"), names: the documented return values."""
    kinds = (tuple, list) if lists_too else tuple
    if not isinstance(result, kinds) or len(result) != len(names):
        got = type(result).__name__ + (f" of {len(result)} values" if isinstance(result, (tuple, list)) else "")
        raise Mismatch(f"{function} should return the tuple ({', '.join(names)}), got a {got}")
    return result


def with_exact_float32(part):
    """A part that first turns TF32 off, for float32 comparisons against torch.nn on CUDA."""
    def run():
        from course import exact_float32
        exact_float32()
        part()
    return run


class Question:
    """One graded question: parts with weights, a score, a report."""

    def __init__(self, name, namespace, points, seed=None):
        self.name = name
        self.namespace = namespace
        self.points = float(points)
        self.seed = secrets.randbits(32) if seed is None else seed
        self.rng = np.random.default_rng(self.seed)
        self.parts = []  # (label, weight, passed, message)

    def student(self, function_name):
        """The student's function from the notebook's namespace."""
        function = self.namespace.get(function_name)
        if not callable(function):
            raise MissingFunction(f"`{function_name}` is not defined: run its cell, and keep its name.")
        return function

    def randn(self, *shape, scale=1.0):
        return scale * self.rng.standard_normal(shape)

    @contextlib.contextmanager
    def using(self, **replacements):
        """Let student code call reference versions of other graded functions while this part runs."""
        missing = object()
        saved = {name: self.namespace[name] if name in self.namespace else missing for name in replacements}
        self.namespace.update(replacements)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is missing:
                    self.namespace.pop(name, None)
                else:
                    self.namespace[name] = value

    def part(self, label, check, weight=1.0):
        """Run check() (which raises Mismatch or any error on failure) as one scored part."""
        try:
            with quiet():
                check()
        except Mismatch as failure:
            self.parts.append((label, weight, False, str(failure)))
        except MissingFunction as failure:
            self.parts.append((label, weight, False, str(failure)))
        except NotImplementedError:
            self.parts.append((label, weight, False, "not implemented yet (NotImplementedError)"))
        except Exception as error:  # student code may raise anything
            self.parts.append((label, weight, False, f"raised {type(error).__name__}: {error}"))
        else:
            self.parts.append((label, weight, True, ""))

    def score(self):
        total = sum(weight for _, weight, _, _ in self.parts)
        earned = sum(weight for _, weight, passed, _ in self.parts if passed)
        return round(self.points * earned / total, 4) if total else 0.0

    def report(self):
        """The score line (English, read back by the grader), then one line per part in the student's language."""
        print(f"{self.name}: {self.score():g} / {self.points:g} points  (random seed {self.seed})")
        for label, _, passed, message in self.parts:
            print(f"  {'PASS' if passed else 'FAIL'}  {_translate(label)}" + (f": {_translate(message)}" if message else ""))
