"""Relative error and centred finite differences: the two tools of gradient checking."""
import numpy as np


def rel_error(actual, expected, floor=1e-8):
    """Largest elementwise relative error  |a - e| / max(floor, |a| + |e|).

    0 means identical; float64 round-off gives about 1e-16; a wrong formula gives about 1e-1.
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.size == 0:
        return 0.0
    return float(np.max(np.abs(actual - expected) / np.maximum(floor, np.abs(actual) + np.abs(expected))))


def numeric_gradient(f, x, dout=None, h=1e-5):
    """Centred finite-difference gradient of  L = sum(f() * dout)  with respect to the array x.

    f takes no argument and reads x (which is perturbed in place, one element at a time, and
    restored); it returns an array (or a scalar loss when dout is None). The result has x's shape:
        dL/dx[i] ~= (L(x + h e_i) - L(x - h e_i)) / (2h),
    whose error is O(h^2) for smooth f.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"numeric_gradient needs a float array, got dtype {x.dtype}")
    grad = np.zeros_like(x, dtype=np.float64)

    def loss():
        out = np.asarray(f(), dtype=np.float64)
        return float(np.sum(out * dout)) if dout is not None else float(out)

    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        saved = x[i]
        x[i] = saved + h
        plus = loss()
        x[i] = saved - h
        minus = loss()
        x[i] = saved
        grad[i] = (plus - minus) / (2 * h)
        it.iternext()
    return grad
