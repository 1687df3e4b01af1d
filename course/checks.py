"""Visible self-checks for the exercises.

Each check either prints one line starting with "OK" or raises CheckFailed, an AssertionError whose
message says which output or gradient is wrong, its shape, the largest relative error against the
tolerance, and a hint for the mistakes students make most often. The hidden grading tests are
separate (they live with the instructor's autograder); these checks are for you.
"""
import numpy as np

from course.i18n import translate
from course.numerics import numeric_gradient, rel_error

FD_TOLERANCE = 1e-6
EXACT_TOLERANCE = 1e-7


class CheckFailed(AssertionError):
    """A visible check found a problem; the message says what to look at (in the student's language)."""

    def __init__(self, message):
        super().__init__(translate(message))


def ok(*parts):
    """Print a check's success line, "OK  " and the message (parts joined with spaces, as print does)."""
    print("OK ", translate(" ".join(str(part) for part in parts)))


def check_true(condition, message):
    """Raise CheckFailed(message) unless condition holds."""
    if not condition:
        raise CheckFailed(message)


def _as_array(name, what, value):
    if value is None:
        raise CheckFailed(f"{name}: {what} is None. Did the function end without `return`?")
    if isinstance(value, tuple):
        raise CheckFailed(f"{name}: {what} is a tuple of {len(value)} items, expected one array. "
                          "Check how many values your function returns and in which order.")
    try:
        import torch
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a requirement
        pass
    return np.asarray(value)


def _shape_hint(actual, expected):
    if sorted(actual) == sorted(expected):
        return "The same sizes in another order: an axis is transposed or swapped (batch first: (N, T, ...))."
    if len(actual) != len(expected):
        return ("A different number of axes: a sum or an index removed an axis, or one is missing "
                "(keepdims, or the batch axis N).")
    return "Check which sizes your matrix products combine."


def check_shape(name, actual, expected_shape, what="output"):
    """Check that `actual` is an array of shape `expected_shape`; returns it as a NumPy array."""
    actual = _as_array(name, what, actual)
    expected_shape = tuple(expected_shape)
    if actual.shape != expected_shape:
        raise CheckFailed(f"{name}: {what} has shape {actual.shape}, expected {expected_shape}.\n"
                          f"Hint: {_shape_hint(actual.shape, expected_shape)}")
    return actual


def _worst_element(actual, expected):
    err = np.abs(actual - expected) / np.maximum(1e-8, np.abs(actual) + np.abs(expected))
    index = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    return index, actual[index], expected[index]


def _fired_hints(hints, actual, expected):
    messages = []
    for predicate, text in hints:
        try:
            if predicate(actual, expected):
                messages.append(text)
        except Exception:  # a hint that cannot be evaluated simply does not fire
            pass
    return messages


MISTAKE_TOLERANCE = 1e-6


def same_numbers(actual, candidate, tol=MISTAKE_TOLERANCE):
    """True when `actual` has the shape of `candidate` and matches it within relative error `tol`
    (course.rel_error): the test by which a wrong answer is recognised as a known mistake."""
    try:
        actual, candidate = _plain(actual), _plain(candidate)
        return (actual.shape == candidate.shape and bool(np.all(np.isfinite(actual)))
                and rel_error(actual, candidate) <= tol)
    except Exception:   # not numbers, ragged, ...: not this mistake
        return False


def _plain(value):
    try:
        import torch
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().double().numpy()
    except ImportError:  # pragma: no cover
        pass
    return np.asarray(value, dtype=np.float64)


def likely_mistake(actual, mistakes, tol=MISTAKE_TOLERANCE):
    """The text of the first known mistake that `actual` looks like, or None.

    The one matcher of the course's checks, visible (check_close(..., mistakes=...)) and hidden
    (autograder.checks.core.expect_close(..., mistakes=...)). `mistakes`: pairs (candidate, text):
    - candidate an array or tensor: what the function with that mistake returns; it matches when
      same_numbers(actual, candidate, tol);
    - candidate a callable with no arguments: computed only when needed (an error means "not this
      one"); it returns such an array, or a bool (the mistake is there or not), or, when text is
      None, the text itself (None when not this mistake);
    - a bare callable is a diagnosis: (callable, None), it returns the text or None."""
    for mistake in mistakes:
        candidate, text = (mistake, None) if callable(mistake) else mistake
        try:
            value = candidate() if callable(candidate) else candidate
        except Exception:
            continue
        if text is None:
            if isinstance(value, str) and value:
                return value
        elif isinstance(value, (bool, np.bool_)):
            if value:
                return text
        elif value is not None and same_numbers(actual, value, tol):
            return text
    return None


def check_close(name, actual, expected, tol=EXACT_TOLERANCE, hints=(), what="output", mistakes=()):
    """Compare `actual` with `expected` by relative error (see course.rel_error).

    mistakes: pairs (candidate, text) for likely_mistake: on failure, the first known mistake that
    `actual` matches is named ("Likely mistake: ..."), the same way the hidden checks name it.
    hints: pairs (predicate(actual, expected) -> bool, text); the texts whose predicate holds are
    shown when the check fails (after the named mistake, if any).
    """
    expected = np.asarray(expected, dtype=np.float64)
    actual = check_shape(name, actual, expected.shape, what)
    if not np.all(np.isfinite(actual)):
        raise CheckFailed(f"{name}: {what} contains NaN or inf. Look for an overflow (exp of a large "
                          "number) or a division by zero.")
    err = rel_error(actual, expected)
    if err > tol:
        index, got, want = _worst_element(actual.astype(np.float64), expected)
        named = likely_mistake(actual, mistakes)
        fired = ([f"Likely mistake: {named}"] if named else []) + _fired_hints(hints, actual, expected)
        fired = fired or [
            "Work the formula through by hand for one element and compare with your code."]
        raise CheckFailed(
            f"{name}: {what} is wrong: max relative error {err:.2e} > tolerance {tol:.0e}.\n"
            f"  largest difference at index {tuple(int(i) for i in index)}: got {got:.6g}, expected {want:.6g}\n"
            + "\n".join(text if text.startswith("Likely mistake: ") else f"Hint: {text}" for text in fired))
    ok(f"{name}: {what} matches (max relative error {err:.1e} <= {tol:.0e})")
    return err


def check_inputs_unchanged(name, before, after):
    """Backward functions must not modify their inputs in place (dicts of name -> array)."""
    for key, value in before.items():
        if not np.array_equal(value, after[key]):
            raise CheckFailed(f"{name}: your function changed its input `{key}` in place. "
                              f"Use `x = x + y` (a new array) instead of `x += y` on arrays you received.")


def check_gradients(name, forward, backward, inputs, grad_names, seed=0, tol=FD_TOLERANCE, hints=None):
    """Gradient check: analytic gradients from `backward` against centred finite differences.

    forward(*inputs.values()) returns (out_1, ..., out_k, cache); backward(dout_1, ..., dout_k, cache)
    returns the gradients in the order of grad_names (names of keys of `inputs`). The loss that
    both differentiate is L = sum_j sum(out_j * dout_j) for random upstream gradients dout_j.
    hints: {gradient name: text shown when that gradient is wrong}.
    """
    hints = hints or {}
    rng = np.random.default_rng(seed)
    args = list(inputs.values())
    results = forward(*args)
    if not isinstance(results, tuple) or len(results) < 2:
        raise CheckFailed(f"{name}: the forward function should return (outputs..., cache).")
    outputs = [np.asarray(o) for o in results[:-1]]
    douts = [rng.standard_normal(o.shape) for o in outputs]
    saved = {key: np.copy(value) for key, value in inputs.items()}
    saved_douts = [np.copy(d) for d in douts]
    grads = backward(*douts, results[-1])
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != len(grad_names):
        raise CheckFailed(f"{name}: backward returned {len(grads)} gradients, expected {len(grad_names)} "
                          f"in this order: {', '.join(grad_names)}.")
    check_inputs_unchanged(name, dict(saved, **{f"dout{i}": d for i, d in enumerate(saved_douts)}),
                           dict(inputs, **{f"dout{i}": d for i, d in enumerate(douts)}))

    def loss():
        outs = forward(*args)[:-1]
        return sum(float(np.sum(np.asarray(o) * d)) for o, d in zip(outs, douts))

    rows, failures = [], []
    for grad_name, grad in zip(grad_names, grads):
        target = inputs[grad_name]
        analytic = check_shape(name, grad, np.shape(target), what=f"gradient d{grad_name}")
        numeric = numeric_gradient(loss, target)
        err = rel_error(analytic, numeric)
        good = err <= tol
        rows.append(f"  d{grad_name:<8} {'ok' if good else 'WRONG':<6} max relative error {err:.1e}")
        if not good:
            failures.append(f"Hint for d{grad_name}: {hints.get(grad_name, 'write out the chain rule for this input alone.')}")
    table = "\n".join(rows)
    if failures:
        raise CheckFailed(f"{name}: gradients against finite differences (tolerance {tol:.0e}):\n{table}\n"
                          + "\n".join(failures))
    ok(f"{name}: all {len(grads)} gradients match finite differences (tolerance {tol:.0e})\n{table}")
