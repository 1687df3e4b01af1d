"""Hidden checks of lesson 4 (LSTM).

Oracles: torch.nn.LSTMCell / nn.LSTM loaded with the same weights (float64 for the NumPy parts) and
autograd; the reference module only makes caches (the documented cache format is the contract between
a forward and a backward function) and stands in for the step functions inside the sequence ones.
When a result is wrong the checks look for the classic mistakes and name them: gate blocks read in
another order (detected by permuting the weights' gate blocks and asking the oracle again), dnext_c or
dcT dropped, gradients not carried between steps.

The checks run in the checker process. The student's NumPy functions are proxies into the kernel
(arrays in, arrays out; changes made in place come back); the reference step functions reach the
kernel as stubs that call the checker. TorchLSTM is a remote object: its forward runs in the kernel,
its gradients come from q.kernel.grad_call; nn.LSTM, the oracle, runs here. LSTMFunction's forward and
backward run in the kernel too, and torch.autograd.gradcheck (which needs the graph in this process)
became core.expect_backward_matches_forward plus the comparison of every gradient with nn.LSTM's.

forget_gate follows the lecture (slides 40-41): f = sigmoid(W_f [x; h] + b_f), x first, the first D
columns of W_f acting on x (course.lstm.forget_gate_oracle, the notebook's docstring). [h, x], the order
of colah's post, fails with a hint that names the lecture's order; the lecture's order is never
called wrong.
"""
import contextlib
import math

import numpy as np
import torch

from autograder.checks import question
from course.checks import likely_mistake as course_likely_mistake
from autograder.checks.core import (Mismatch, exact_float32_here, expect_backward_matches_forward, expect_close,
                                    expect_tuple, kernel_has_cuda, tensors_in, to_numpy)
from autograder.references import l04_lstm as ref
from course import lstm as L
from course.numerics import rel_error

GRAD_NAMES_STEP = ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")
GRAD_NAMES_SEQ = ("dx", "dh0", "dc0", "dWx", "dWh", "db")


def _close(a, b, tol=1e-7):
    try:
        a = np.asarray(a, dtype=np.float64)
        return a.shape == np.shape(b) and rel_error(a, b) <= tol
    except Exception:
        return False


def _weights(q, D, H, scale=0.5):
    return q.randn(D, 4 * H, scale=scale), q.randn(H, 4 * H, scale=scale), q.randn(4 * H, scale=scale)


def _copies(*arrays):
    return [np.array(a, copy=True) for a in arrays]


def _side_rng(q, stream):
    """A generator of its own for draws the old in-kernel checks did not make (finite-difference
    directions): q.rng keeps the sequence it always had, so every part gets the inputs it always got."""
    return np.random.default_rng([q.seed, stream])


# ------------------------------------------------------------------------------------------------
@question("forget_gate")
def forget_gate(q):
    student = q.student("forget_gate")

    def case(D, H, fixed=False):
        def run():
            if fixed:
                x, h = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
            else:
                x, h = q.randn(D), q.randn(H)
            W_f, b_f = q.randn(H, H + D), q.randn(H)
            f = student(*_copies(x, h, W_f, b_f))
            want = L.forget_gate_oracle(x, h, W_f, b_f)
            h_first = L.forget_gate_oracle(x, h, L.h_first_weights(W_f, D), b_f)   # what [h, x] gives
            expect_close("f", f, want, mistakes=[   # the visible check's hints (course.lstm), in the same words
                lambda: L.FORGET_NO_SIGMOID if _close(f, W_f @ np.concatenate([x, h]) + b_f) else None,
                lambda: L.FORGET_H_FIRST if not _close(h_first, want) and _close(f, h_first) else None,
                (lambda: L.forget_gate_oracle(x, h, W_f, np.zeros_like(b_f)), L.FORGET_NO_BIAS)])
        return run

    q.part("the worked example's x and h (D = H = 3), random W_f, b_f", case(3, 3, fixed=True))
    q.part("random, D=2, H=5", case(2, 5))
    q.part("random, D=4, H=1", case(4, 1))


# ------------------------------------------------------------------------------------------------
@question("lstm_step_forward")
def lstm_step_forward(q):
    student = q.student("lstm_step_forward")

    def case(N, D, H, zero_state=False):
        def run():
            x = q.randn(N, D)
            prev_h = np.zeros((N, H)) if zero_state else q.randn(N, H)
            prev_c = np.zeros((N, H)) if zero_state else q.randn(N, H)
            Wx, Wh, b = _weights(q, D, H)
            result = student(*_copies(x, prev_h, prev_c, Wx, Wh, b))
            next_h, next_c, _ = expect_tuple(result, "lstm_step_forward", ["next_h", "next_c", "cache"])
            want_h, want_c = L.step_oracle(x, prev_h, prev_c, Wx, Wh, b)
            gate_order = lambda: L.gate_order_mistake(  # noqa: E731
                (next_h, next_c), lambda *w: L.step_oracle(x, prev_h, prev_c, *w), (Wx, Wh, b), H)
            expect_close("next_c", next_c, want_c, mistakes=[gate_order])
            expect_close("next_h", next_h, want_h, mistakes=[
                gate_order, lambda: "next_c is right but next_h is not: next_h = o * tanh(next_c)"])
        return run

    def cache_format():
        N, D, H = 3, 4, 5
        x, prev_h, prev_c = q.randn(N, D), q.randn(N, H), q.randn(N, H)
        Wx, Wh, b = _weights(q, D, H)
        *_, cache = student(*_copies(x, prev_h, prev_c, Wx, Wh, b))
        *_, ref_cache = ref.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
        if not isinstance(cache, (tuple, list)) or len(cache) != len(ref_cache):
            raise Mismatch("cache should be the tuple (x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c)")
        for name, got, want in zip(("x", "prev_h", "prev_c", "Wx", "Wh", "i", "f", "g", "o", "next_c"), cache, ref_cache):
            expect_close(f"cache item {name}", got, want)

    q.part("next_h and next_c against nn.LSTMCell, N=4, D=5, H=6", case(4, 5, 6), weight=2)
    q.part("N=1, D=3, H=2", case(1, 3, 2))
    q.part("zero previous state (h = c = 0)", case(3, 2, 4, zero_state=True))
    q.part("cache is (x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c)", cache_format)


# ------------------------------------------------------------------------------------------------
def _step_inputs(q, N, D, H):
    return dict(x=q.randn(N, D), prev_h=q.randn(N, H), prev_c=q.randn(N, H)), _weights(q, D, H)


@question("lstm_step_backward")
def lstm_step_backward(q):
    student = q.student("lstm_step_backward")
    N, D, H = 4, 5, 3
    inputs, (Wx, Wh, b) = _step_inputs(q, N, D, H)
    dnext_h, dnext_c = q.randn(N, H), q.randn(N, H)
    *_, cache = ref.lstm_step_forward(inputs["x"], inputs["prev_h"], inputs["prev_c"], Wx, Wh, b)
    want = L.step_grads_oracle(**inputs, Wx=Wx, Wh=Wh, b=b, dnext_h=dnext_h, dnext_c=dnext_c)
    no_dc = L.step_grads_oracle(**inputs, Wx=Wx, Wh=Wh, b=b, dnext_h=dnext_h, dnext_c=np.zeros((N, H)))
    saved = _copies(dnext_h, dnext_c, *cache)
    state = {}

    def grads():
        if "value" not in state:
            result = student(dnext_h, dnext_c, cache)
            state["value"] = expect_tuple(result, "lstm_step_backward", ["dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"])
        return state["value"]

    def gradient(k):
        def run():
            got = grads()[k]
            expect_close(GRAD_NAMES_STEP[k], got, want[k], mistakes=[
                lambda: ("dnext_c was dropped: your gradient equals the one for dnext_c = 0. The cell state "
                         "gets gradient from dnext_c AND through next_h: dc = dnext_c + dnext_h * o * (1 - tanh(next_c)**2)"
                         if _close(got, no_dc[k]) else None),
                lambda: (L.gradient_order_mistake(got, want[k], H, name=GRAD_NAMES_STEP[k]) if k >= 3 else
                         L.gradient_order_mistake(grads()[3], want[3], H, name="dWx")),
                # the visible check's mistakes (course.lstm.step_backward_mistakes), in the same words
                lambda: course_likely_mistake(got, L.step_backward_mistakes(
                    **inputs, Wx=Wx, Wh=Wh, b=b, dnext_h=dnext_h, dnext_c=dnext_c)[k]),
            ])
        return run

    def zero_upstream_c():
        dh_only = q.randn(1, 2)
        inp, (wx, wh, bb) = _step_inputs(q, 1, 3, 2)
        *_, c1 = ref.lstm_step_forward(inp["x"], inp["prev_h"], inp["prev_c"], wx, wh, bb)
        got = student(dh_only.copy(), np.zeros((1, 2)), c1)
        want1 = L.step_grads_oracle(**inp, Wx=wx, Wh=wh, b=bb, dnext_h=dh_only, dnext_c=np.zeros((1, 2)))
        for name, g, w in zip(GRAD_NAMES_STEP, got, want1):
            expect_close(name, g, w)

    def unchanged():
        grads()
        after = [dnext_h, dnext_c, *cache]
        for value_before, value_after in zip(saved, after):
            if not np.array_equal(value_before, value_after):
                raise Mismatch("lstm_step_backward changed one of its inputs in place (dnext_h, dnext_c or the cache)")

    for k, name in enumerate(GRAD_NAMES_STEP):
        q.part(f"{name} against autograd through nn.LSTMCell (reference cache)", gradient(k), weight=2 if k < 3 else 1)
    q.part("N=1, H=2, dnext_c = 0", zero_upstream_c)
    q.part("inputs not modified in place", unchanged)


# ------------------------------------------------------------------------------------------------
def _seq_inputs(q, N, T, D, H, zero_state=False):
    x = q.randn(N, T, D)
    h0 = np.zeros((N, H)) if zero_state else q.randn(N, H)
    c0 = np.zeros((N, H)) if zero_state else q.randn(N, H)
    return x, h0, c0, *_weights(q, D, H)


@question("lstm_forward")
def lstm_forward(q):
    student = q.student("lstm_forward")

    def case(N, T, D, H, zero_state=False):
        def run():
            args = _seq_inputs(q, N, T, D, H, zero_state)
            with q.using(lstm_step_forward=ref.lstm_step_forward):
                result = student(*_copies(*args))
            h, cT, _ = expect_tuple(result, "lstm_forward", ["h", "cT", "cache"])
            want_h, want_cT = L.sequence_oracle(*args)
            x, h0, c0, Wx, Wh, b = args
            gate_order = lambda: L.gate_order_mistake(  # noqa: E731
                (h, cT), lambda *w: L.sequence_oracle(x, h0, c0, *w), (Wx, Wh, b), H)
            expect_close("h", h, want_h, mistakes=[
                gate_order,
                lambda: ("step 0 is right, later steps are not: feed each step the (h, c) of the step before"
                         if _close(np.asarray(h)[:, 0], want_h[:, 0]) else None)])
            expect_close("cT", cT, want_cT, mistakes=[
                lambda: "you returned c0: return the cell state after the last step" if _close(cT, c0) else None])
        return run

    def cache_works():
        args = _seq_inputs(q, 2, 3, 4, 3)
        with q.using(lstm_step_forward=ref.lstm_step_forward):
            *_, cache = student(*_copies(*args))
        if not isinstance(cache, (list, tuple)) or len(cache) != 3:
            raise Mismatch("cache should be a list of the T step caches")
        dh, dcT = q.randn(2, 3, 3), q.randn(2, 3)
        got = ref.lstm_backward(dh, dcT, list(cache))
        for name, g, w in zip(GRAD_NAMES_SEQ, got, L.sequence_grads_oracle(*args, dh=dh, dcT=dcT)):
            expect_close(f"{name} from the reference lstm_backward given your cache", g, w)

    q.part("h and cT against nn.LSTM, N=3, T=5, D=4, H=6", case(3, 5, 4, 6), weight=2)
    q.part("T=1", case(2, 1, 3, 4))
    q.part("N=1, zero initial state", case(1, 4, 2, 3, zero_state=True))
    q.part("cache (list of step caches) works with the reference lstm_backward", cache_works)


@question("lstm_backward")
def lstm_backward(q):
    student = q.student("lstm_backward")
    N, T, D, H = 3, 5, 4, 3
    args = _seq_inputs(q, N, T, D, H)
    dh, dcT = q.randn(N, T, H), q.randn(N, H)
    _, _, cache = ref.lstm_forward(*args)
    want = L.sequence_grads_oracle(*args, dh=dh, dcT=dcT)
    variants = {
        "dcT was ignored (start the backward loop from dprev_c = dcT, not zeros)":
            L.sequence_grads_oracle(*args, dh=dh, dcT=np.zeros((N, H))),
        "the cell-state gradient is not carried to the previous step (pass dprev_c on as the next step's dnext_c)":
            L.sequence_grads_oracle(*args, dh=dh, dcT=dcT, carry_c=False),
        "the hidden-state gradient is not carried (each step needs dh[:, t] + dprev_h)":
            L.sequence_grads_oracle(*args, dh=dh, dcT=dcT, carry_h=False),
    }
    saved_dh, saved_dcT = dh.copy(), dcT.copy()
    state = {}

    def grads():
        if "value" not in state:
            with q.using(lstm_step_backward=ref.lstm_step_backward):
                result = student(dh, dcT, cache)
            state["value"] = expect_tuple(result, "lstm_backward", ["dx", "dh0", "dc0", "dWx", "dWh", "db"])
        return state["value"]

    def diagnosis():
        for text, variant in variants.items():
            if _close(grads()[0], variant[0]):
                return text
        return None

    def gradient(k):
        def run():
            expect_close(GRAD_NAMES_SEQ[k], grads()[k], want[k], mistakes=[diagnosis])
        return run

    def short(T1, zero_dcT):
        def run():
            a = _seq_inputs(q, 2, T1, 3, 2)
            d_h, d_c = q.randn(2, T1, 2), (np.zeros((2, 2)) if zero_dcT else q.randn(2, 2))
            with q.using(lstm_step_backward=ref.lstm_step_backward):
                got = student(d_h.copy(), d_c.copy(), ref.lstm_forward(*a)[2])
            for name, g, w in zip(GRAD_NAMES_SEQ, got, L.sequence_grads_oracle(*a, dh=d_h, dcT=d_c)):
                expect_close(name, g, w)
        return run

    def unchanged():
        grads()
        if not (np.array_equal(dh, saved_dh) and np.array_equal(dcT, saved_dcT)):
            raise Mismatch("lstm_backward changed dh or dcT in place; use dh[:, t] + dprev_h (a new array), not +=")

    for k, name in enumerate(GRAD_NAMES_SEQ):
        q.part(f"{name} against autograd through nn.LSTM (reference cache, T={T})", gradient(k), weight=2 if k == 0 else 1)
    q.part("T=1", short(1, False))
    q.part("dcT = 0 (loss on h only), T=3", short(3, True))
    q.part("dh and dcT not modified in place", unchanged)


# ------------------------------------------------------------------------------------------------
def _reference_lstm(D, H, seed):
    """nn.LSTM(D, H, batch_first=True) with the weights torch.manual_seed(seed) would give it (nn.LSTM's
    own U(-1/sqrt(H), 1/sqrt(H)), drawn in parameter order from a generator of its own: the checker's
    global RNG is left alone, and seeding it would not seed the student's kernel anyway)."""
    module = torch.nn.LSTM(D, H, batch_first=True, device="meta").to_empty(device="cpu")
    generator = torch.Generator().manual_seed(int(seed))
    bound = 1.0 / math.sqrt(H)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.uniform_(-bound, bound, generator=generator)
    return module


def _torch_layer_parts(q, make, device, label):
    N, T, D, H = 3, 6, 4, 5
    reference = _reference_lstm(D, H, q.rng.integers(2 ** 31)).to(device)
    x = torch.tensor(q.randn(N, T, D), dtype=torch.float32, device=device)
    h0 = torch.tensor(q.randn(1, N, H), dtype=torch.float32, device=device)
    c0 = torch.tensor(q.randn(1, N, H), dtype=torch.float32, device=device)
    ups = [torch.tensor(q.randn(*s), dtype=torch.float32, device=device) for s in ((N, T, H), (1, N, H), (1, N, H))]
    state = {}

    def layer():
        if "layer" not in state:
            mine = make(D, H)
            mine.load_state_dict(reference.state_dict())
            state["layer"] = mine.to(device)
        return state["layer"]

    def reference_grads():
        reference.zero_grad()
        xs = [t.clone().requires_grad_() for t in (x, h0, c0)]
        out, (hn, cn) = reference(xs[0], (xs[1], xs[2]))
        torch.autograd.backward((out, hn, cn), ups)
        grads = {"dx": xs[0].grad, "dh0": xs[1].grad, "dc0": xs[2].grad}
        grads.update({f"d{k}": p.grad for k, p in reference.named_parameters()})
        return grads

    def student_grads():
        xs = [t.clone().requires_grad_() for t in (x, h0, c0)]
        result = q.kernel.grad_call(layer(), xs[0], (xs[1], xs[2]), grad_outputs=tuple(ups))
        outputs = tensors_in(result.out)
        for name, output in zip(("output", "h_n", "c_n"), outputs):
            if not output.requires_grad:   # the kernel skipped it in the backward: say so, as autograd did
                raise Mismatch(f"{name} is not connected to the autograd graph (a .detach(), .data or torch.no_grad()?)")
        grads = dict(zip(("dx", "dh0", "dc0"), result.input_grads))
        grads.update({f"d{k}": g for k, g in (result.param_grads or {}).items()})
        return grads

    def forward():
        out, (hn, cn) = layer()(x, (h0, c0))
        with torch.no_grad():
            want, (want_hn, want_cn) = reference(x, (h0, c0))
        diagnose = lambda: L.layer_order_mistake(out, reference, x, (h0, c0))  # noqa: E731
        for name, got, exp in (("output", out, want), ("h_n", hn, want_hn), ("c_n", cn, want_cn)):
            expect_close(name, got, exp, atol=1e-5,
                         mistakes=[lambda got=got, exp=exp: diagnose() if got.shape == exp.shape else None])

    def backward():
        want = reference_grads()
        got = student_grads()
        for name, exp in want.items():
            if got.get(name) is None:
                raise Mismatch(f"{name}: no gradient (is the parameter used, and is the graph intact?)")
            expect_close(name, got[name], exp, atol=1e-5)

    def default_state():
        out, (hn, cn) = layer()(x)
        with torch.no_grad():
            want, (want_hn, want_cn) = reference(x)
        for name, got, exp in (("output", out, want), ("h_n", hn, want_hn), ("c_n", cn, want_cn)):
            expect_close(f"{name} with state=None", got, exp, atol=1e-5)

    wrap = exact_float32_here if device.type == "cuda" else contextlib.nullcontext

    def exact(part):
        def run():
            with wrap():
                part()
        return run

    q.part(f"{label}: forward (output, h_n, c_n) against nn.LSTM, float32, tol 1e-5", exact(forward), weight=2)
    q.part(f"{label}: gradients of x, h0, c0 and the four parameters against nn.LSTM, tol 1e-5", exact(backward),
           weight=2)
    q.part(f"{label}: state=None means zeros", exact(default_state))


@question("torch_lstm")
def torch_lstm(q):
    make = q.student("TorchLSTM")

    def parameters():
        D, H = 3, 7
        expected = {name: tuple(p.shape) for name, p in
                    torch.nn.LSTM(D, H, batch_first=True, device="meta").named_parameters()}
        got = {name: tuple(p.shape) for name, p in make(D, H).named_parameters()}
        if got != expected:
            raise Mismatch(f"parameters are {got}; nn.LSTM's are {expected}")
        module = make(D, H)
        module.load_state_dict(_reference_lstm(D, H, 0).state_dict())

    q.part("parameter names and shapes as nn.LSTM's; load_state_dict works", parameters)
    _torch_layer_parts(q, make, torch.device("cpu"), "CPU")
    if kernel_has_cuda(q):
        _torch_layer_parts(q, make, torch.device("cuda"), "CUDA (TF32 off)")


@question("lstm_function")
def lstm_function(q):
    """LSTMFunction runs in the student's kernel: forward and backward through q.kernel.grad_call.

    The old in-kernel check's third part was torch.autograd.gradcheck (full Jacobian, atol 1e-7); the
    graph now lives in the kernel, so it is core.expect_backward_matches_forward (the student's backward
    against central differences of the student's own forward, 3 random directions, float64, relative
    tolerance 1e-6), on the same small inputs."""
    q.student("LSTMFunction")
    side = _side_rng(q, 4)
    N, T, D, H = 2, 4, 3, 3
    args = _seq_inputs(q, N, T, D, H)

    def tensors(requires_grad=True):
        return [torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad) for a in args]

    def forward():
        result = q.kernel.grad_call("LSTMFunction", *tensors(False), attr="apply").out
        h, cT = expect_tuple(result, "LSTMFunction.apply", ["h", "cT"])
        want_h, want_cT = L.sequence_oracle(*args)
        gate_order = lambda: L.gate_order_mistake(  # noqa: E731
            (to_numpy(h), to_numpy(cT)), lambda *w: L.sequence_oracle(*args[:3], *w), args[3:], H)
        expect_close("h", h, want_h, mistakes=[gate_order])
        expect_close("cT", cT, want_cT, mistakes=[gate_order])

    def backward():
        dh, dcT = q.randn(N, T, H), q.randn(N, H)
        result = q.kernel.grad_call("LSTMFunction", *tensors(), attr="apply",
                                    grad_outputs=(torch.tensor(dh), torch.tensor(dcT)))
        grads = result.input_grads
        want = L.sequence_grads_oracle(*args, dh=dh, dcT=dcT)
        for name, grad, w in zip(GRAD_NAMES_SEQ, grads, want):
            if grad is None:
                raise Mismatch(f"{name}: backward returned None for this input")
            expect_close(name, grad, w, mistakes=[
                lambda: ("dcT was ignored" if _close(grads[0], L.sequence_grads_oracle(
                    *args, dh=dh, dcT=np.zeros((N, H)))[0]) else None)])

    def backward_matches_forward():
        small = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in _seq_inputs(q, 2, 3, 2, 2)]
        expect_backward_matches_forward(q.kernel, "LSTMFunction", small, side, attr="apply", tol=1e-6)

    q.part("forward (h, cT) against nn.LSTM, float64", forward)
    q.part("backward: all six gradients against autograd through nn.LSTM, float64", backward)
    q.part("backward matches finite differences of your forward (float64)", backward_matches_forward)
