"""Hidden checks of lesson 4 (LSTM).

Oracles: torch.nn.LSTMCell / nn.LSTM loaded with the same weights (float64 for the NumPy parts) and
autograd; the reference module only makes caches (the documented cache format is the contract between
a forward and a backward function) and stands in for the step functions inside the sequence ones.
When a result is wrong the checks look for the classic mistakes and name them: gate blocks read in
another order (detected by permuting the weights' gate blocks and asking the oracle again), dnext_c or
dcT dropped, gradients not carried between steps.
"""
import numpy as np
import torch

from autograder.checks import question
from autograder.checks.core import expect_tuple, Mismatch, expect_close
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


def expect(what, actual, expected, diagnoses=(), tol=1e-7):
    """expect_close, and when it fails, append the first diagnosis (callable -> text or None) that fires."""
    try:
        expect_close(what, actual, expected, tol=tol)
    except Mismatch as failure:
        for diagnose in diagnoses:
            try:
                text = diagnose()
            except Exception:
                text = None
            if text:
                raise Mismatch(f"{failure}. Likely mistake: {text}") from None
        raise


def _weights(q, D, H, scale=0.5):
    return q.randn(D, 4 * H, scale=scale), q.randn(H, 4 * H, scale=scale), q.randn(4 * H, scale=scale)


def _copies(*arrays):
    return [np.array(a, copy=True) for a in arrays]


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
            swapped = np.concatenate([W_f[:, H:], W_f[:, :H]], axis=1) if H == D else None
            expect("f", f, L.forget_gate_oracle(x, h, W_f, b_f), diagnoses=[
                lambda: "the sigmoid is missing" if _close(f, W_f @ np.concatenate([h, x]) + b_f) else None,
                lambda: ("[x, h] concatenated in the wrong order; the lecture's order is [h, x]"
                         if swapped is not None and _close(f, L.forget_gate_oracle(x, h, swapped, b_f)) else None)])
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
            expect("next_c", next_c, want_c, diagnoses=[gate_order])
            expect("next_h", next_h, want_h, diagnoses=[
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
            expect(f"cache item {name}", got, want)

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
            expect(GRAD_NAMES_STEP[k], got, want[k], diagnoses=[
                lambda: ("dnext_c was dropped: your gradient equals the one for dnext_c = 0. The cell state "
                         "gets gradient from dnext_c AND through next_h: dc = dnext_c + dnext_h * o * (1 - tanh(next_c)**2)"
                         if _close(got, no_dc[k]) else None),
                lambda: (L.gradient_order_mistake(got, want[k], H, name=GRAD_NAMES_STEP[k]) if k >= 3 else
                         L.gradient_order_mistake(grads()[3], want[3], H, name="dWx")),
            ])
        return run

    def zero_upstream_c():
        dh_only = q.randn(1, 2)
        inp, (wx, wh, bb) = _step_inputs(q, 1, 3, 2)
        *_, c1 = ref.lstm_step_forward(inp["x"], inp["prev_h"], inp["prev_c"], wx, wh, bb)
        got = student(dh_only.copy(), np.zeros((1, 2)), c1)
        want1 = L.step_grads_oracle(**inp, Wx=wx, Wh=wh, b=bb, dnext_h=dh_only, dnext_c=np.zeros((1, 2)))
        for name, g, w in zip(GRAD_NAMES_STEP, got, want1):
            expect(name, g, w)

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
            expect("h", h, want_h, diagnoses=[
                gate_order,
                lambda: ("step 0 is right, later steps are not: feed each step the (h, c) of the step before"
                         if _close(np.asarray(h)[:, 0], want_h[:, 0]) else None)])
            expect("cT", cT, want_cT, diagnoses=[
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
            expect(f"{name} from the reference lstm_backward given your cache", g, w)

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
            expect(GRAD_NAMES_SEQ[k], grads()[k], want[k], diagnoses=[diagnosis])
        return run

    def short(T1, zero_dcT):
        def run():
            a = _seq_inputs(q, 2, T1, 3, 2)
            d_h, d_c = q.randn(2, T1, 2), (np.zeros((2, 2)) if zero_dcT else q.randn(2, 2))
            with q.using(lstm_step_backward=ref.lstm_step_backward):
                got = student(d_h.copy(), d_c.copy(), ref.lstm_forward(*a)[2])
            for name, g, w in zip(GRAD_NAMES_SEQ, got, L.sequence_grads_oracle(*a, dh=d_h, dcT=d_c)):
                expect(name, g, w)
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
def _torch_layer_parts(q, make, device, label):
    N, T, D, H = 3, 6, 4, 5
    torch.manual_seed(int(q.rng.integers(2 ** 31)))
    reference = torch.nn.LSTM(D, H, batch_first=True).to(device)
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

    def run(module):
        xs = [t.clone().requires_grad_() for t in (x, h0, c0)]
        out, (hn, cn) = module(xs[0], (xs[1], xs[2]))
        torch.autograd.backward((out, hn, cn), ups)
        grads = {"dx": xs[0].grad, "dh0": xs[1].grad, "dc0": xs[2].grad}
        grads.update({f"d{k}": p.grad for k, p in module.named_parameters()})
        return (out, hn, cn), grads

    def forward():
        with torch.no_grad():
            out, (hn, cn) = layer()(x, (h0, c0))
            want, (want_hn, want_cn) = reference(x, (h0, c0))
        diagnose = lambda: L.layer_order_mistake(out, reference, x, (h0, c0))  # noqa: E731
        for name, got, exp in (("output", out, want), ("h_n", hn, want_hn), ("c_n", cn, want_cn)):
            try:
                expect_close(name, got, exp, atol=1e-5)
            except Mismatch as failure:
                text = diagnose() if got.shape == exp.shape else None
                raise Mismatch(f"{failure}" + (f". Likely mistake: {text}" if text else "")) from None

    def backward():
        reference.zero_grad()
        _, want = run(reference)
        _, got = run(layer())
        for name, exp in want.items():
            if got.get(name) is None:
                raise Mismatch(f"{name}: no gradient (is the parameter used, and is the graph intact?)")
            expect_close(name, got[name], exp, atol=1e-5)

    def default_state():
        with torch.no_grad():
            out, (hn, cn) = layer()(x)
            want, (want_hn, want_cn) = reference(x)
        for name, got, exp in (("output", out, want), ("h_n", hn, want_hn), ("c_n", cn, want_cn)):
            expect_close(f"{name} with state=None", got, exp, atol=1e-5)

    q.part(f"{label}: forward (output, h_n, c_n) against nn.LSTM, float32, tol 1e-5", forward, weight=2)
    q.part(f"{label}: gradients of x, h0, c0 and the four parameters against nn.LSTM, tol 1e-5", backward, weight=2)
    q.part(f"{label}: state=None means zeros", default_state)


@question("torch_lstm")
def torch_lstm(q):
    make = q.student("TorchLSTM")

    def parameters():
        D, H = 3, 7
        expected = {name: tuple(p.shape) for name, p in torch.nn.LSTM(D, H, batch_first=True).named_parameters()}
        got = {name: tuple(p.shape) for name, p in make(D, H).named_parameters()}
        if got != expected:
            raise Mismatch(f"parameters are {got}; nn.LSTM's are {expected}")
        module = make(D, H)
        module.load_state_dict(torch.nn.LSTM(D, H, batch_first=True).state_dict())

    q.part("parameter names and shapes as nn.LSTM's; load_state_dict works", parameters)
    _torch_layer_parts(q, make, torch.device("cpu"), "CPU")
    if torch.cuda.is_available():
        matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        try:
            _torch_layer_parts(q, make, torch.device("cuda"), "CUDA (TF32 off)")
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


@question("lstm_function")
def lstm_function(q):
    function = q.student("LSTMFunction")
    N, T, D, H = 2, 4, 3, 3
    args = _seq_inputs(q, N, T, D, H)

    def tensors(requires_grad=True):
        return [torch.tensor(a, dtype=torch.float64, requires_grad=requires_grad) for a in args]

    def forward():
        with torch.no_grad():
            result = function.apply(*tensors(False))
        h, cT = expect_tuple(result, "LSTMFunction.apply", ["h", "cT"])
        want_h, want_cT = L.sequence_oracle(*args)
        gate_order = lambda: L.gate_order_mistake(  # noqa: E731
            (h.numpy(), cT.numpy()), lambda *w: L.sequence_oracle(*args[:3], *w), args[3:], H)
        expect("h", h, want_h, diagnoses=[gate_order])
        expect("cT", cT, want_cT, diagnoses=[gate_order])

    def backward():
        inputs = tensors()
        h, cT = function.apply(*inputs)
        dh, dcT = q.randn(N, T, H), q.randn(N, H)
        torch.autograd.backward((h, cT), (torch.tensor(dh), torch.tensor(dcT)))
        want = L.sequence_grads_oracle(*args, dh=dh, dcT=dcT)
        for name, t, w in zip(GRAD_NAMES_SEQ, inputs, want):
            if t.grad is None:
                raise Mismatch(f"{name}: backward returned None for this input")
            expect(name, t.grad, w, diagnoses=[
                lambda: ("dcT was ignored" if _close(inputs[0].grad, L.sequence_grads_oracle(
                    *args, dh=dh, dcT=np.zeros((N, H)))[0]) else None)])

    def gradcheck():
        small = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in _seq_inputs(q, 2, 3, 2, 2)]
        try:
            ok = torch.autograd.gradcheck(function.apply, small, eps=1e-6, atol=1e-7, raise_exception=True)
        except RuntimeError as error:
            first = str(error).strip().splitlines()[0][:200]
            raise Mismatch(f"torch.autograd.gradcheck failed (float64, atol 1e-7): {first}") from None
        if not ok:
            raise Mismatch("torch.autograd.gradcheck failed (float64, atol 1e-7)")

    q.part("forward (h, cT) against nn.LSTM, float64", forward)
    q.part("backward: all six gradients against autograd through nn.LSTM, float64", backward)
    q.part("torch.autograd.gradcheck, float64", gradcheck)
