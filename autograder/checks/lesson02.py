"""Hidden checks of lesson 2 (the vanilla RNN forward pass).

Oracles: torch.nn.RNNCell / nn.RNN / functional.linear in float64 loaded with the same weights, and
torch autograd for TorchRNN (the student's module runs forward and backward in the kernel, through
q.kernel.grad_call; nn.RNN runs here). Sequence functions run with the reference step function, so a
bug in rnn_step_forward costs only its own points. Inputs are fresh at every grading run (q.randn).
"""
import numpy as np
import torch

from autograder.checks import question
from autograder.checks.core import Mismatch, expect_close
from autograder.in_kernel.wire import RemoteError
from autograder.references import l02_vanilla_rnn as ref


# ----------------------------------------------------------------------------- oracles
def _load(module, Wx, Wh, b, suffix):
    with torch.no_grad():
        getattr(module, "weight_ih" + suffix).copy_(torch.from_numpy(np.ascontiguousarray(Wx.T)))
        getattr(module, "weight_hh" + suffix).copy_(torch.from_numpy(np.ascontiguousarray(Wh.T)))
        getattr(module, "bias_ih" + suffix).copy_(torch.from_numpy(b))
        getattr(module, "bias_hh" + suffix).zero_()
    return module


def _unset(cls, *args, **kwargs):
    """A torch.nn layer whose weights the caller sets (built without drawing from torch's global generator)."""
    return cls(*args, device="meta", **kwargs).to_empty(device="cpu")


def oracle_step(x, prev_h, Wx, Wh, b):
    D, H = Wx.shape
    cell = _load(_unset(torch.nn.RNNCell, D, H, dtype=torch.float64), Wx, Wh, b, "")
    with torch.no_grad():
        return cell(torch.from_numpy(x), torch.from_numpy(prev_h)).numpy()


def oracle_rnn(x, h0, Wx, Wh, b):
    D, H = Wx.shape
    rnn = _load(_unset(torch.nn.RNN, D, H, batch_first=True, dtype=torch.float64), Wx, Wh, b, "_l0")
    with torch.no_grad():
        return rnn(torch.from_numpy(x), torch.from_numpy(h0)[None])[0].numpy()


def oracle_affine(x, W, b):
    with torch.no_grad():
        return torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(np.ascontiguousarray(W.T)),
                                          torch.from_numpy(b)).numpy()


def expect_same(what, actual, expected):
    """Exact identity of cached arrays (same values and shape)."""
    actual = np.asarray(actual)
    if actual.shape != np.shape(expected) or not np.array_equal(actual, expected):
        raise Mismatch(what)


# ----------------------------------------------------------------------------- rnn_step_forward
@question("rnn_step_forward")
def rnn_step_forward(q):
    student = q.student("rnn_step_forward")

    def inputs(N, D, H, zero_h=False, scale=1.0):
        x, prev_h = q.randn(N, D, scale=scale), q.randn(N, H)
        if zero_h:
            prev_h = np.zeros((N, H))
        return x, prev_h, q.randn(D, H, scale=0.5), q.randn(H, H, scale=0.5), q.randn(H)

    def case(N, D, H, **kwargs):
        def run():
            args = inputs(N, D, H, **kwargs)
            next_h, _ = student(*(a.copy() for a in args))
            expect_close("next_h vs torch.nn.RNNCell", next_h, oracle_step(*args), tol=1e-7)
        return run

    def cache_format():
        args = inputs(3, 4, 5)
        next_h, cache = student(*(a.copy() for a in args))
        if not isinstance(cache, tuple) or len(cache) != 5:
            raise Mismatch("cache should be the tuple (x, prev_h, Wx, Wh, next_h)")
        for i, key in enumerate(["x", "prev_h", "Wx", "Wh"]):
            expect_same(f"cache[{i}] should be {key}", cache[i], args[i])
        expect_same("cache[4] should be next_h", cache[4], next_h)

    q.part("forward, random batch (D != H)", case(4, 5, 6), weight=2)
    q.part("forward, square weights (D == H)", case(3, 4, 4))
    q.part("forward, N = 1", case(1, 3, 2))
    q.part("forward, zero previous state", case(2, 3, 4, zero_h=True))
    q.part("forward, large inputs (tanh saturates)", case(3, 4, 5, scale=10.0))
    q.part("cache is (x, prev_h, Wx, Wh, next_h)", cache_format)


# ----------------------------------------------------------------------------- rnn_forward
@question("rnn_forward")
def rnn_forward(q):
    student = q.student("rnn_forward")
    calls = [0]

    def counted_step(*args):
        calls[0] += 1
        return ref.rnn_step_forward(*args)

    def inputs(N, T, D, H, zero_h=False):
        h0 = np.zeros((N, H)) if zero_h else q.randn(N, H)
        return q.randn(N, T, D), h0, q.randn(D, H, scale=0.5), q.randn(H, H, scale=0.5), q.randn(H)

    def case(N, T, D, H, **kwargs):
        def run():
            args = inputs(N, T, D, H, **kwargs)
            with q.using(rnn_step_forward=ref.rnn_step_forward):
                h, _ = student(*(a.copy() for a in args))
            expect_close("h vs torch.nn.RNN", h, oracle_rnn(*args), tol=1e-7)
        return run

    def uses_step_and_cache():
        N, T, D, H = 2, 4, 3, 5
        args = inputs(N, T, D, H)
        calls[0] = 0
        with q.using(rnn_step_forward=counted_step):
            h, cache = student(*(a.copy() for a in args))
        if calls[0] != T:
            raise Mismatch(f"rnn_step_forward was called {calls[0]} times for T = {T}; call it once per step")
        if not isinstance(cache, list) or len(cache) != T:
            raise Mismatch(f"cache should be a list of the T = {T} step caches")
        expected = ref.rnn_forward(*args)[1]
        for t in range(T):
            if not isinstance(cache[t], tuple) or len(cache[t]) != 5:
                raise Mismatch(f"cache[{t}] should be the tuple returned by rnn_step_forward at step {t}")
            for i, key in enumerate(["x[:, t]", "prev_h", "Wx", "Wh", "next_h"]):
                try:
                    expect_close(f"cache[{t}][{i}] ({key})", cache[t][i], expected[t][i], tol=1e-12)
                except Mismatch as failure:
                    raise Mismatch(f"{failure}: cache[{t}] should be the cache of step {t}") from None

    q.part("forward, random batch", case(3, 6, 4, 5), weight=2)
    q.part("forward, T = 1", case(2, 1, 3, 4))
    q.part("forward, N = 1", case(1, 5, 2, 3))
    q.part("forward, zero initial state", case(2, 4, 3, 3, zero_h=True))
    q.part("calls rnn_step_forward once per step; cache is the list of step caches", uses_step_and_cache)


# ----------------------------------------------------------------------------- temporal_affine_forward
@question("temporal_affine_forward")
def temporal_affine_forward(q):
    student = q.student("temporal_affine_forward")

    def case(N, T, H, M):
        def run():
            x, W, b = q.randn(N, T, H), q.randn(H, M), q.randn(M)
            out, _ = student(x.copy(), W.copy(), b.copy())
            expect_close("out vs torch.nn.functional.linear", out, oracle_affine(x, W, b), tol=1e-7)
        return run

    def cache_format():
        x, W, b = q.randn(2, 3, 4), q.randn(4, 5), q.randn(5)
        _, cache = student(x.copy(), W.copy(), b.copy())
        if not isinstance(cache, tuple) or len(cache) != 3:
            raise Mismatch("cache should be the tuple (x, W, b)")
        for i, (key, value) in enumerate([("x", x), ("W", W), ("b", b)]):
            expect_same(f"cache[{i}] should be {key}", cache[i], value)

    q.part("forward, random (N != T, H != M)", case(4, 3, 5, 6), weight=2)
    q.part("forward, square W", case(2, 5, 4, 4))
    q.part("forward, T = 1 and N = 1", case(1, 1, 3, 2))
    q.part("cache is (x, W, b)", cache_format)


# ----------------------------------------------------------------------------- TorchRNN
SHAPES = lambda D, H: {"weight_ih_l0": (H, D), "weight_hh_l0": (H, H), "bias_ih_l0": (H,), "bias_hh_l0": (H,)}  # noqa: E731


NN_RNN_FORBIDDEN = {"classes": ["RNN", "RNNCell", "RNNBase"],
                    "message": "TorchRNN must not use torch.nn.RNN or nn.RNNCell: write the loop over time yourself"}
NOT_TWO_TENSORS = "forward should return the tuple (output, h_n) of tensors"
NOT_CONNECTED = ("the outputs of forward are not connected to the autograd graph of x, h0 and the parameters "
                 "(a .detach(), NumPy, or torch.no_grad()?)")


def reference_rnn(D, H, dtype, generator):
    """nn.RNN(D, H, batch_first=True) initialised as nn.RNN does (uniform in +-1/sqrt(H)), from `generator`."""
    rnn = _unset(torch.nn.RNN, D, H, batch_first=True)
    bound = 1 / H ** 0.5
    with torch.no_grad():
        for p in rnn.parameters():
            p.uniform_(-bound, bound, generator=generator)
    return rnn.to(dtype)


@question("torch_rnn")
def torch_rnn(q):
    cls = q.student("TorchRNN")

    def parameters():
        D, H = int(q.rng.integers(2, 7)), int(q.rng.integers(2, 9))
        module = cls(D, H)
        got = {key: tuple(p.shape) for key, p in list(module.named_parameters())}
        if got != SHAPES(D, H):
            raise Mismatch(f"TorchRNN({D}, {H}) parameters {got}, expected exactly {SHAPES(D, H)}")

    def initialisation():
        H = 64
        q.rng.integers(2 ** 31)   # this part's draw: the later parts' inputs stay a function of q.seed alone
        module = cls(7, H)       # initialised in the kernel, from the kernel's own random generator
        named = list(module.named_parameters())
        if {key for key, _ in named} != set(SHAPES(7, H)):
            raise Mismatch("the parameters are not exactly weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0")
        bound = 1 / H ** 0.5
        for key, p in named:
            values = p.detach().double()
            if values.abs().max().item() > bound + 1e-7:
                raise Mismatch(f"{key}: entries outside [-1/sqrt(H), 1/sqrt(H)]")
            if not 0.75 < values.std().item() / (bound / 3 ** 0.5) < 1.25:
                raise Mismatch(f"{key}: not uniform on [-1/sqrt(H), 1/sqrt(H)] (standard deviation is off)")

    def compare(N, T, D, H, dtype, use_h0, keys, tol):
        """Run student (in the kernel) and nn.RNN (here) on the CPU with the same weights, inputs and
        output gradients; compare the quantities in `keys`."""
        def run():
            generator = torch.Generator().manual_seed(int(q.rng.integers(2 ** 31)))
            reference = reference_rnn(D, H, dtype, generator)
            mine = cls(D, H).to(dtype)
            try:
                mine.load_state_dict(reference.state_dict())
            except RemoteError as error:
                if error.type_name != "RuntimeError":
                    raise
                raise Mismatch("load_state_dict(nn.RNN(...).state_dict()) failed: the parameters must be "
                               "exactly weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0") from None
            x = torch.randn(N, T, D, dtype=dtype, generator=generator)
            h0 = torch.randn(1, N, H, dtype=dtype, generator=generator) if use_h0 else None
            g = torch.randn(N, T, H, dtype=dtype, generator=generator)
            g_n = torch.randn(1, N, H, dtype=dtype, generator=generator)
            inputs = (x.clone().requires_grad_(True),) + ((h0.clone().requires_grad_(True),) if use_h0 else ())
            try:
                result = q.kernel.grad_call(mine, *inputs, grad_outputs=(g, g_n), forbid=NN_RNN_FORBIDDEN)
            except RemoteError as error:   # the kernel's ValueErrors: no (output, h_n) pair, or nothing to differentiate
                if error.type_name == "ValueError" and error.message.startswith("returned "):
                    raise Mismatch(NOT_TWO_TENSORS) from None
                if error.type_name == "ValueError" and error.message.startswith("no output depends on"):
                    raise Mismatch(NOT_CONNECTED) from None
                raise
            if not isinstance(result.out, (tuple, list)) or len(result.out) != 2:
                raise Mismatch(NOT_TWO_TENSORS)
            output, h_n = result.out
            if not isinstance(output, torch.Tensor) or not isinstance(h_n, torch.Tensor):
                raise Mismatch(NOT_TWO_TENSORS)
            if output.dtype != dtype:
                raise Mismatch(f"output has dtype {output.dtype} for a {dtype} module and input")
            values = {"mine": {"output": output, "h_n": h_n, "dx": result.input_grads[0],
                               "dh0": result.input_grads[1] if use_h0 else None}}
            values["mine"].update({"d" + key: grad for key, grad in (result.param_grads or {}).items()})

            xi = x.clone().requires_grad_(True)
            hi = h0.clone().requires_grad_(True) if use_h0 else None
            output, h_n = reference(xi, hi) if use_h0 else reference(xi)
            ((output * g).sum() + (h_n * g_n).sum()).backward()
            values["ref"] = {"output": output, "h_n": h_n, "dx": xi.grad, "dh0": hi.grad if use_h0 else None}
            values["ref"].update({"d" + key: p.grad for key, p in reference.named_parameters()})
            for key in keys:
                mine_value, ref_value = values["mine"].get(key), values["ref"][key]
                if mine_value is None:
                    raise Mismatch(f"{key}: no gradient reached it (a .detach(), a missing Parameter, or unused)")
                if tol == "float64":
                    expect_close(key, mine_value, ref_value, tol=1e-7)
                else:
                    expect_close(key, mine_value, ref_value, atol=1e-5)
        return run

    N, T, D, H = (int(v) for v in q.rng.integers(2, 7, size=4))
    params = ["dweight_ih_l0", "dweight_hh_l0", "dbias_ih_l0", "dbias_hh_l0"]
    q.part("parameters named and shaped like nn.RNN", parameters)
    q.part("initialised uniform in [-1/sqrt(H), 1/sqrt(H)]", initialisation)
    q.part("float64: output and h_n vs nn.RNN", compare(N, T, D, H, torch.float64, True, ["output", "h_n"], "float64"),
           weight=2)
    q.part("float64: gradients of the 4 parameters vs nn.RNN (autograd)",
           compare(N, T, D, H, torch.float64, True, params, "float64"), weight=2)
    q.part("float64: gradients of x and h0 vs nn.RNN (autograd)",
           compare(N, T, D, H, torch.float64, True, ["dx", "dh0"], "float64"))
    q.part("float32: output, h_n and all gradients vs nn.RNN (max abs 1e-5)",
           compare(N, T, D, H, torch.float32, True, ["output", "h_n", "dx", "dh0"] + params, "float32"))
    q.part("h0=None (zero initial state)",
           compare(N, T, D, H, torch.float64, False, ["output", "h_n", "dx"] + params, "float64"))
    q.part("T = 1", compare(N, 1, D, H, torch.float64, True, ["output", "h_n", "dx", "dh0"] + params, "float64"))
    q.part("N = 1", compare(1, T, D, H, torch.float64, True, ["output", "h_n", "dx", "dh0"] + params, "float64"))
