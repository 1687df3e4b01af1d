"""Documented library defaults, applied while the checker runs the student's code.

A notebook may change global state of numpy, torch or Python (the default dtype, grad mode, error
handling, threads, warnings, print options...). Checks must see the libraries as documented, so every
request the checker makes runs inside `library_defaults()`, which sets the defaults and puts the
notebook's own settings back afterwards (the student's later cells behave as they expect).

| state | default during a check |
|---|---|
| torch default dtype | torch.float32 |
| torch default device | cpu |
| torch grad mode | enabled |
| torch anomaly detection, deterministic algorithms | off |
| torch float32 matmul precision | "highest"; TF32 off for CUDA matmuls and cuDNN (exact float32, as the checker's oracles) |
| torch intra-op threads | the count the kernel had when grading began (before any student cell) |
| numpy floating point errors | numpy's defaults: divide/over/invalid warn, under ignore |
| numpy print options | numpy's defaults |
| warnings | all ignored (a warning never costs points) |
| stdout, stderr | captured and dropped |
"""
import contextlib
import io
import sys
import warnings

NUMPY_ERRORS = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}
_start = {}


def remember_start_state():
    """Record what only the kernel's start knows (torch's thread count); run before student code."""
    torch = sys.modules.get("torch")
    if torch is not None and "threads" not in _start:
        _start["threads"] = torch.get_num_threads()


@contextlib.contextmanager
def _numpy_defaults():
    import numpy as np

    with np.printoptions(edgeitems=3, infstr="inf", linewidth=75, nanstr="nan", precision=8, suppress=False,
                         threshold=1000, formatter=None, sign="-", floatmode="maxprec", legacy=False), \
            np.errstate(**NUMPY_ERRORS):
        yield


def _deterministic(torch):
    return torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()


@contextlib.contextmanager
def _torch_defaults():
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    saved = {"dtype": torch.get_default_dtype(), "grad": torch.is_grad_enabled(),
             "anomaly": torch.is_anomaly_enabled(),
             "deterministic": _deterministic(torch),
             "precision": torch.get_float32_matmul_precision(), "threads": torch.get_num_threads(),
             "device": torch.get_default_device(),
             "tf32": (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)}
    torch.set_default_dtype(torch.float32)
    torch.set_default_device(None)
    torch.set_grad_enabled(True)
    torch.autograd.set_detect_anomaly(False)
    if saved["deterministic"][0]:   # the setter imports torch's compiler on first use: seconds, so only
        torch.use_deterministic_algorithms(False)   # when a notebook turned the mode on
    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    if _start.get("threads") and torch.get_num_threads() != _start["threads"]:
        torch.set_num_threads(_start["threads"])
    try:
        yield
    finally:
        torch.set_default_dtype(saved["dtype"])
        torch.set_default_device(saved["device"] if saved["device"].type != "cpu" else None)
        torch.set_grad_enabled(saved["grad"])
        torch.autograd.set_detect_anomaly(saved["anomaly"])
        if _deterministic(torch) != saved["deterministic"]:
            torch.use_deterministic_algorithms(saved["deterministic"][0], warn_only=saved["deterministic"][1])
        torch.set_float32_matmul_precision(saved["precision"])
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved["tf32"]
        if torch.get_num_threads() != saved["threads"]:
            torch.set_num_threads(saved["threads"])


@contextlib.contextmanager
def library_defaults(capture_output=True):
    """Run a block with the documented defaults above; the notebook's settings come back after it."""
    with contextlib.ExitStack() as stack:
        if capture_output:
            stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
            stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        stack.enter_context(_numpy_defaults())
        stack.enter_context(_torch_defaults())
        yield
