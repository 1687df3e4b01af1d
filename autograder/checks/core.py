"""The machinery of the hidden tests: one graded question, scored in parts (in the checker's process).

A grade cell's hidden block calls `autograder.in_kernel.grade("name", globals(), points=P)`; the
checker then runs the lesson's check function for "name", which adds parts (forward on random inputs,
each gradient, edge cases) and reaches the student's code only through `q.student(...)` proxies. Each
part passes or fails on its own; the score is the points earned, which nbgrader reads as partial
credit. Student code runs in the kernel with stdout, stderr and warnings captured, so a warning never
costs points. Messages report errors and tolerances, never reference values.
"""
import contextlib
import secrets

import numpy as np

from autograder.in_kernel.wire import ConnectionLost, RemoteError
from course.checks import likely_mistake
from course.i18n import translate
from course.numerics import rel_error

_isfinite = np.isfinite
_translate = translate
_asarray = np.asarray


class Mismatch(AssertionError):
    """A part failed; the message is shown to the student in the feedback."""


class MissingFunction(Exception):
    pass


def to_numpy(value):
    try:
        import torch
        if isinstance(value, torch.Tensor):
            return value.detach().cpu().double().numpy()
    except ImportError:  # pragma: no cover
        pass
    return _asarray(value)


def expect_close(what, actual, expected, tol=1e-7, atol=None, mistakes=(), hint=None, match_tol=None):
    """Raise Mismatch unless `actual` matches `expected` (shape, finiteness, tolerance).

    With atol=None the test is course.rel_error <= tol; with atol set it is max |a - e| <= atol.
    The one way the hidden checks compare and name the likely mistake: on failure, the first of
    `mistakes` that `actual` matches is named ("<failure>\n      Likely mistake: <text>"), found by
    course.checks.likely_mistake, the matcher the visible checks' check_close(..., mistakes=...)
    use too (pairs (candidate, text): a wrong answer's array, or a callable computed only on failure;
    see likely_mistake). When none matches, `hint` (if given) is appended ("<failure>. Hint: <hint>").
    match_tol: the relative error within which `actual` counts as a mistake's numbers.
    """
    try:
        _compare(what, actual, expected, tol, atol)
    except Mismatch as failure:
        named = likely_mistake(actual, mistakes, **({} if match_tol is None else {"tol": match_tol})) if mistakes else None
        if named:
            raise Mismatch(f"{failure}\n      Likely mistake: {named}") from None
        if hint:
            raise Mismatch(f"{failure}. Hint: {hint}") from None
        raise


def name_mistake(check, mistakes=(), hint=None):
    """Run check() (a comparison that raises Mismatch); on failure name the first mistake of
    `mistakes` that fires (pairs (callable -> bool or text, text), as in likely_mistake with actual
    None), else append `hint`. For checks whose result is not one array (a count, a list, a scalar)."""
    try:
        check()
    except Mismatch as failure:
        named = likely_mistake(None, mistakes) if mistakes else None
        if named:
            raise Mismatch(f"{failure}\n      Likely mistake: {named}") from None
        if hint:
            raise Mismatch(f"{failure}. Hint: {hint}") from None
        raise


def _compare(what, actual, expected, tol, atol):
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


def kernel_has_cuda(q):
    """Whether the student's kernel (not only this process) can use CUDA: the sandbox may hide the GPU.
    Asked through the notebook's `torch`; a notebook without it gets no CUDA parts."""
    import torch

    if not torch.cuda.is_available():
        return False
    try:
        return q.kernel.getattr("torch", "cuda").is_available() is True
    except (RemoteError, AttributeError):
        return False


@contextlib.contextmanager
def exact_float32_here():
    """TF32 off in this process for a CUDA comparison against torch.nn, and the flags put back afterwards
    (the kernel runs the student's code with TF32 off already: autograder/in_kernel/defaults.py)."""
    import torch

    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def with_exact_float32(part):
    """A part run with TF32 off in this process (exact_float32_here), for float32 comparisons on CUDA."""
    def run():
        with exact_float32_here():
            part()
    return run


class Question:
    """One graded question: parts with weights, a score, a report.

    `kernel` is the student's kernel (autograder.checker.remote.Kernel): the check reaches the
    notebook's functions only through it, as proxies that send data and return data."""

    def __init__(self, name, kernel, points, seed=None, language="en"):
        self.name = name
        self.kernel = kernel
        self.points = float(points)
        self.seed = secrets.randbits(32) if seed is None else seed
        self.rng = np.random.default_rng(self.seed)
        self.parts = []  # (label, weight, passed, message)
        self.notes = []
        self.language = language

    def student(self, function_name):
        """The student's function (or class) of that name, as a proxy into the kernel."""
        if not self.kernel.exists(function_name):
            raise MissingFunction(f"`{function_name}` is not defined: run its cell, and keep its name.")
        return self.kernel.function(function_name)

    def answer(self, variable):
        """The value the student gave the notebook variable `variable` (concept questions), as data."""
        try:
            return self.kernel.value(variable)
        except RemoteError as error:
            if error.type_name == "NameError":
                raise MissingFunction(f"`{variable}` is not defined: run its cell, and keep its name.") from None
            raise

    def randn(self, *shape, scale=1.0):
        return scale * self.rng.standard_normal(shape)

    @contextlib.contextmanager
    def using(self, **replacements):
        """While the block runs, the notebook's functions of these names call the checker's versions
        (reference step functions, counters) instead of the student's."""
        for name, function in replacements.items():
            self.kernel.inject(name, function)
        try:
            yield
        finally:
            for name, function in replacements.items():
                self.kernel.restore(name, function)

    def part(self, label, check, weight=1.0):
        """Run check() (which raises Mismatch or any error on failure) as one scored part."""
        try:
            check()
        except (ConnectionLost, OSError):
            raise   # the kernel is gone: the question cannot be finished
        except (Mismatch, MissingFunction) as failure:
            self.parts.append((label, weight, False, str(failure)))
        except RemoteError as error:
            self.parts.append((label, weight, False, describe_remote_error(error)))
        except NotImplementedError:
            self.parts.append((label, weight, False, "not implemented yet (NotImplementedError)"))
        except Exception as error:  # e.g. the student's result has the wrong type for the comparison
            self.parts.append((label, weight, False, f"raised {type(error).__name__}: {error}"))
        else:
            self.parts.append((label, weight, True, ""))

    def score(self):
        total = sum(weight for _, weight, _, _ in self.parts)
        earned = sum(weight for _, weight, passed, _ in self.parts if passed)
        return round(self.points * earned / total, 4) if total else 0.0

    def report_text(self):
        """The score line (English, read back by the grader), then one line per part in the student's language."""
        lines = [f"{self.name}: {self.score():g} / {self.points:g} points  (random seed {self.seed})"]
        for label, _, passed, message in self.parts:
            lines.append(f"  {'PASS' if passed else 'FAIL'}  {_translate(label, self.language)}"
                         + (f": {_translate(message, self.language)}" if message else ""))
        return "\n".join(lines)

    def report(self):
        print(self.report_text())


def describe_remote_error(error):
    """A part's message for an exception raised by the student's code in the kernel."""
    if error.type_name == "NotImplementedError":
        return "not implemented yet (NotImplementedError)"
    if error.type_name in ("Forbidden", "NameError") and error.message:
        return error.message
    return f"raised {error.type_name}: {error.message}"


def tensors_in(value):
    """The tensors of a nested tuple/list result, in order."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in tensors_in(v)]
    return []


def expect_backward_matches_forward(kernel, target, inputs, rng, attr=None, eps=1e-6, tol=1e-5, directions=3):
    """The checker's gradcheck for a student's autograd.Function (or module) that runs in the kernel.

    `inputs`: float64 tensors, those with requires_grad are differentiated. For a few random output
    weights v and input directions u, the student's backward (<dL/dx, u> for L = sum(v * f(x))) must
    match the central difference (L(x + eps u) - L(x - eps u)) / (2 eps) of the student's own forward.
    Raises Mismatch naming the relative error and the tolerance."""
    import torch

    leaves = [i for i, t in enumerate(inputs) if isinstance(t, torch.Tensor) and t.requires_grad]
    plain = [t.detach() if isinstance(t, torch.Tensor) else t for t in inputs]

    def loss(values, weights):
        outputs = tensors_in(kernel.grad_call(target, *values, attr=attr).out)
        if len(outputs) != len(weights):
            raise Mismatch(f"forward returned {len(outputs)} tensors, expected {len(weights)}")
        return sum(float((o.double() * w).sum()) for o, w in zip(outputs, weights))

    first = tensors_in(kernel.grad_call(target, *plain, attr=attr).out)
    for _ in range(directions):
        weights = [torch.from_numpy(rng.standard_normal(tuple(o.shape))) for o in first]
        result = kernel.grad_call(target, *inputs, attr=attr, grad_outputs=tuple(w.to(o.dtype) for w, o in zip(weights, first)))
        grads = result.input_grads
        if len(grads) != len(leaves) or any(g is None for g in grads):
            raise Mismatch("backward returned no gradient for an input that requires one")
        directions_u = {i: torch.from_numpy(rng.standard_normal(tuple(inputs[i].shape))) for i in leaves}
        analytic = sum(float((g.double() * directions_u[i]).sum()) for g, i in zip(grads, leaves))
        plus = [p + eps * directions_u[i] if i in directions_u else p for i, p in enumerate(plain)]
        minus = [p - eps * directions_u[i] if i in directions_u else p for i, p in enumerate(plain)]
        numeric = (loss(plus, weights) - loss(minus, weights)) / (2 * eps)
        error = abs(analytic - numeric) / max(1.0, abs(analytic), abs(numeric))
        if not error <= tol:
            raise Mismatch(f"backward disagrees with finite differences of your forward (float64): "
                           f"relative error {error:.1e} > tolerance {tol:.0e}")
