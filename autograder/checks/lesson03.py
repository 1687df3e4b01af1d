"""Hidden checks of lesson 3 (backpropagation through time).

Oracles: torch autograd through torch.nn (nn.RNNCell / nn.RNN loaded with the same weights, float64),
F.cross_entropy(ignore_index=...) for the sequence loss, torch.nn.utils.clip_grad_norm_ for clipping.
Backward functions receive caches built by the REFERENCE forward functions of lesson 2, and
rnn_backward runs with the reference rnn_step_backward, so each function is scored on its own.

The checks run in the checker process: the student's functions are proxies into the kernel (arrays
in, arrays out; changes made in place come back), the reference rnn_step_backward reaches the kernel
as a stub that calls the checker, and RNNFunction's forward and backward run in the kernel through
q.kernel.grad_call.
"""
import numpy as np
import torch
import torch.nn.functional as F

from autograder.checks import question
from autograder.checks.core import Mismatch, expect_backward_matches_forward, expect_close, to_numpy
from course.layout import load_numpy_weights
from course.vanilla_rnn import rnn_backward_mistakes

GRADS_STEP = ["dx", "dprev_h", "dWx", "dWh", "db"]
GRADS_SEQ = ["dx", "dh0", "dWx", "dWh", "db"]


def _l02():
    from autograder.references import l02_vanilla_rnn
    return l02_vanilla_rnn


def _ref():
    from autograder.references import l03_bptt
    return l03_bptt


def _once(compute):
    """Run compute() at most once; later calls return its result or raise its error again."""
    box = {}

    def get():
        if "value" not in box and "error" not in box:
            try:
                box["value"] = compute()
            except BaseException as error:  # re-raised in every part that needs it
                box["error"] = error
        if "error" in box:
            raise box["error"]
        return box["value"]
    return get


def _tuple_of(result, count, names):
    if not isinstance(result, (tuple, list)) or len(result) != count:
        raise Mismatch(f"expected a tuple of {count} values ({', '.join(names)}), got "
                       f"{type(result).__name__}" + (f" of {len(result)}" if isinstance(result, (tuple, list)) else ""))
    return result


def _copies(arrays):
    return [np.array(a, copy=True) for a in arrays]


def _unchanged(label, before, after):
    for name, a, b in zip(label, before, after):
        if not np.array_equal(a, b):
            raise Mismatch(f"your function modified its input `{name}` in place; build new arrays instead")


def _leaf(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def _rnn_oracle(x, h0, Wx, Wh, b, dh):
    """Gradients of sum(h * dh) through nn.RNN (float64) loaded with the same weights."""
    D, H = Wx.shape
    rnn = load_numpy_weights(torch.nn.RNN(D, H, batch_first=True).double(), Wx, Wh, b)
    x_, h0_ = _leaf(x), _leaf(h0)
    h, _ = rnn(x_, h0_[None])
    (h * torch.tensor(dh)).sum().backward()
    return {"h": h.detach().numpy(), "dx": x_.grad.numpy(), "dh0": h0_.grad.numpy(),
            "dWx": rnn.weight_ih_l0.grad.numpy().T, "dWh": rnn.weight_hh_l0.grad.numpy().T,
            "db": rnn.bias_ih_l0.grad.numpy()}


def _rnn_inputs(q, N, T, D, H, zero_h0=False):
    x = q.randn(N, T, D)
    h0 = np.zeros((N, H)) if zero_h0 else q.randn(N, H)
    return x, h0, q.randn(D, H, scale=0.6), q.randn(H, H, scale=0.5 / np.sqrt(H) * 2), q.randn(H, scale=0.3)


@question("rnn_step_backward")
def rnn_step_backward(q):
    l02 = _l02()

    def case(N, D, H):
        x, _, Wx, Wh, b = _rnn_inputs(q, N, 1, D, H)
        x = x[:, 0]
        prev_h = q.randn(N, H)
        dnext = q.randn(N, H)
        _, cache = l02.rnn_step_forward(x, prev_h, Wx, Wh, b)
        before = _copies([dnext, *cache])
        run = _once(lambda: _tuple_of(q.student("rnn_step_backward")(dnext, cache), 5, GRADS_STEP))

        def unchanged():
            run()
            _unchanged(["dnext_h", "cache[0] (x)", "cache[1] (prev_h)", "cache[2] (Wx)", "cache[3] (Wh)",
                        "cache[4] (next_h)"], before, [dnext, *cache])
        oracle = _rnn_oracle(x[:, None], prev_h, Wx, Wh, b, dnext[:, None])
        want = {"dx": oracle["dx"][:, 0], "dprev_h": oracle["dh0"], "dWx": oracle["dWx"],
                "dWh": oracle["dWh"], "db": oracle["db"]}
        # a known wrong answer: the gradients of the same cell without tanh (da = dnext_h)
        linear = [dnext @ Wx.T, dnext @ Wh.T, x.T @ dnext, prev_h.T @ dnext, dnext.sum(axis=0)]
        diagnoses = {n: [(w, "this is the gradient without the tanh derivative 1 - next_h**2")]
                     for n, w in zip(GRADS_STEP, linear)}
        return run, want, diagnoses, unchanged

    result, want, diag, unchanged = case(4, 5, 6)
    for i, name in enumerate(GRADS_STEP):
        q.part(f"{name}, random batch (vs torch autograd)",
               lambda i=i, name=name: expect_close(name, result()[i], want[name], mistakes=diag[name]))
    result1, want1, diag1, unchanged1 = case(1, 3, 2)
    q.part("all gradients, N = 1", lambda: [expect_close(n, result1()[i], want1[n], mistakes=diag1[n])
                                            for i, n in enumerate(GRADS_STEP)])
    q.part("does not modify dnext_h or the cache in place", lambda: (unchanged(), unchanged1()))


@question("rnn_backward")
def rnn_backward(q):
    l02, ref = _l02(), _ref()
    calls = {"count": 0}

    def counting_step_backward(dnext_h, cache):
        calls["count"] += 1
        return ref.rnn_step_backward(dnext_h, cache)

    def case(N, T, D, H, zero_h0=False, last_only=False):
        x, h0, Wx, Wh, b = _rnn_inputs(q, N, T, D, H, zero_h0)
        dh = q.randn(N, T, H)
        if last_only:
            dh[:, :-1] = 0.0
        _, cache = l02.rnn_forward(x, h0, Wx, Wh, b)
        dh_before = dh.copy()

        def run():
            student = q.student("rnn_backward")
            calls["count"] = 0
            with q.using(rnn_step_backward=counting_step_backward):
                got = _tuple_of(student(dh, cache), 5, GRADS_SEQ)
            return got, calls["count"], not np.array_equal(dh, dh_before)

        # known wrong answers: a loss on the last state only (dh[:, t] never added), and the weight
        # gradients of a single step (overwritten instead of accumulated)
        last = dh_before.copy()
        last[:, :-1] = 0.0
        wrong_last = _rnn_oracle(x, h0, Wx, Wh, b, last)
        per_step, dprev = [], np.zeros_like(h0)
        for t in reversed(range(T)):
            step = ref.rnn_step_backward(dh_before[:, t] + dprev, cache[t])
            dprev = step[1]
            per_step.append(step)
        no_carry = rnn_backward_mistakes(x, h0, Wx, Wh, b, dh_before)   # shared with the visible check
        diagnoses = {}
        for i, name in enumerate(GRADS_SEQ):
            diagnoses[name] = list(no_carry[name]) if T > 1 else []
            diagnoses[name] += [] if last_only else [
                (wrong_last[name], "this is the gradient of a loss on the last hidden state only: "
                                   "add dh[:, t] at every step")]
            if name in ("dWx", "dWh", "db") and T > 1:
                diagnoses[name] += [(s[i], "this is one time step's contribution: accumulate over all steps")
                                    for s in (per_step[0], per_step[-1])]
        return _once(run), _rnn_oracle(x, h0, Wx, Wh, b, dh_before), diagnoses

    result, want, diag = case(3, 6, 4, 5)
    for i, name in enumerate(GRADS_SEQ):
        q.part(f"{name}, upstream gradient on every hidden state (vs nn.RNN autograd)",
               lambda i=i, name=name: expect_close(name, result()[0][i], want[name], mistakes=diag[name]))

    def all_grads(res, oracle, diagnoses):
        def check():
            for i, name in enumerate(GRADS_SEQ):
                expect_close(name, res()[0][i], oracle[name], mistakes=diagnoses[name])
        return check
    q.part("all gradients, loss on the last hidden state only", all_grads(*case(2, 5, 3, 4, last_only=True)))
    q.part("all gradients, T = 1", all_grads(*case(3, 1, 4, 5)))
    q.part("all gradients, N = 1 and h0 = 0", all_grads(*case(1, 4, 3, 2, zero_h0=True)))

    def not_in_place():
        if result()[2]:
            raise Mismatch("rnn_backward modified dh in place (e.g. `dh[:, t] += ...`), so the caller's dh "
                           "changes; compute dh[:, t] + dprev_h into a new array")
    q.part("does not modify dh in place", not_in_place)

    def calls_step():
        count = result()[1]
        if count != 6:
            raise Mismatch(f"rnn_step_backward was called {count} times for T = 6; call it once per time step")
    q.part("calls rnn_step_backward once per time step", calls_step)


@question("temporal_affine_backward")
def temporal_affine_backward(q):
    l02 = _l02()
    names = ["dx", "dW", "db"]

    def case(N, T, D, M):
        x, W, b = q.randn(N, T, D), q.randn(D, M), q.randn(M)
        dout = q.randn(N, T, M)
        _, cache = l02.temporal_affine_forward(x, W, b)
        before = _copies([dout, *cache])
        run = _once(lambda: _tuple_of(q.student("temporal_affine_backward")(dout, cache), 3, names))

        def unchanged():
            run()
            _unchanged(["dout", "cache[0] (x)", "cache[1] (W)", "cache[2] (b)"], before, [dout, *cache])
        leaves = [_leaf(a) for a in before[1:]]
        ((leaves[0] @ leaves[1] + leaves[2]) * torch.tensor(before[0])).sum().backward()
        return run, [leaf.grad.numpy() for leaf in leaves], unchanged

    result, want, unchanged = case(3, 4, 5, 6)
    for i, name in enumerate(names):
        q.part(f"{name} (vs torch autograd)", lambda i=i, name=name: expect_close(name, result()[i], want[i], tol=1e-7))
    r1, w1, unchanged1 = case(1, 1, 3, 2)
    q.part("all gradients, N = 1 and T = 1",
           lambda: [expect_close(n, r1()[i], w1[i], tol=1e-7) for i, n in enumerate(names)])
    q.part("does not modify its inputs in place", lambda: (unchanged(), unchanged1()))


def _scalar(value):
    array = np.asarray(to_numpy(value), dtype=np.float64)
    if array.size != 1:
        raise Mismatch(f"loss should be a single number, got an array of shape {array.shape}")
    return array.reshape(())


@question("temporal_softmax_loss")
def temporal_softmax_loss(q):
    unchanged_checks = []

    def case(N, T, V, lengths=None, scale=1.0, pad=0):
        x = q.randn(N, T, V, scale=scale)
        y = q.rng.integers(1, V, size=(N, T))
        if lengths is not None:
            for n, length in enumerate(lengths):
                y[n, length:] = pad
        mask = y != pad
        before = _copies([x, y, mask])
        run = _once(lambda: _tuple_of(q.student("temporal_softmax_loss")(x, y, mask), 2, ["loss", "dx"]))

        def unchanged():
            run()
            _unchanged(["x", "y", "mask"], before, [x, y, mask])
        unchanged_checks.append(unchanged)
        x_ = _leaf(before[0])
        loss = F.cross_entropy(x_.reshape(-1, V), torch.tensor(before[1]).reshape(-1), ignore_index=pad)
        loss.backward()
        return run, loss.item(), x_.grad.numpy()

    def both(res, loss, dx):
        def check():
            expect_close("loss", _scalar(res()[0]), np.float64(loss), tol=1e-7)
            expect_close("dx", res()[1], dx, tol=1e-7)
        return check

    result, loss, dx = case(4, 5, 7)
    q.part("loss, no padding (vs F.cross_entropy)",
           lambda: expect_close("loss", _scalar(result()[0]), np.float64(loss), tol=1e-7))
    q.part("dx, no padding (vs autograd of F.cross_entropy)", lambda: expect_close("dx", result()[1], dx, tol=1e-7))
    q.part("loss and dx with padding (average over the unmasked tokens)", both(*case(4, 6, 5, lengths=[6, 3, 1, 4])),
           weight=2)
    row_case, single_case = both(*case(2, 5, 6, lengths=[5, 1])), both(*case(1, 1, 4))
    q.part("loss and dx, a row fully padded except one token; N = 1 and T = 1",
           lambda: (row_case(), single_case()))
    q.part("numerically stable for scores of size 1000", both(*case(3, 4, 6, lengths=[4, 2, 3], scale=1000.0)))
    q.part("does not modify its inputs in place", lambda: [check() for check in unchanged_checks])


@question("clip_grad_norm")
def clip_grad_norm(q):
    unchanged_checks = []

    def case(max_norm_factor):
        shapes = [(3, 4), (4, 4), (4,), (2, 3, 2)]
        grads = [q.randn(*s) for s in shapes]
        total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))
        max_norm = total * max_norm_factor
        before = _copies(grads)
        run = _once(lambda: _tuple_of(q.student("clip_grad_norm")(grads, max_norm), 2, ["clipped_grads", "total_norm"]))

        def unchanged():
            run()
            _unchanged([f"grads[{i}]" for i in range(len(grads))], before, grads)
        unchanged_checks.append(unchanged)
        params = [torch.zeros(s, dtype=torch.float64) for s in shapes]
        for p, g in zip(params, before):
            p.grad = torch.tensor(g)
        torch_total = torch.nn.utils.clip_grad_norm_(params, max_norm).item()
        return run, torch_total, [p.grad.numpy() for p in params]

    def check(res, total, clipped):
        def run():
            got_clipped, got_total = res()
            expect_close("total_norm", _scalar(got_total), np.float64(total), tol=1e-7)
            if not isinstance(got_clipped, (list, tuple)) or len(got_clipped) != len(clipped):
                raise Mismatch(f"clipped_grads should be a list of {len(clipped)} arrays, one per input array")
            for i, (a, e) in enumerate(zip(got_clipped, clipped)):
                expect_close(f"clipped_grads[{i}]", a, e, tol=1e-7)
        return run

    q.part("norm above max_norm: all arrays scaled (vs torch.nn.utils.clip_grad_norm_)", check(*case(0.3)), weight=2)
    q.part("norm below max_norm: unchanged", check(*case(3.0)))
    q.part("does not modify its inputs in place", lambda: [check() for check in unchanged_checks])


def _side_rng(q, stream):
    """A generator of its own for draws the old in-kernel check did not make (finite-difference
    directions): q.rng keeps the sequence it always had, so later parts get the same inputs."""
    return np.random.default_rng([q.seed, stream])


@question("rnn_function")
def rnn_function(q):
    """RNNFunction runs in the student's kernel: forward and backward through q.kernel.grad_call.

    The old in-kernel check ran torch.autograd.gradcheck (full Jacobian, atol 1e-6); the graph now lives
    in the kernel, so that part is core.expect_backward_matches_forward (the student's backward against
    central differences of the student's own forward, in 3 random directions, float64). Every gradient
    is also compared with nn.RNN's autograd, as before."""
    q.student("RNNFunction")
    side = _side_rng(q, 3)

    def inputs(N, T, D, H):
        return [_leaf(a) for a in _rnn_inputs(q, N, T, D, H)]

    def backward_matches_forward():
        expect_backward_matches_forward(q.kernel, "RNNFunction", inputs(2, 3, 3, 4), side, attr="apply")
    q.part("backward matches finite differences of your forward (float64)", backward_matches_forward)

    def case(N, T, D, H):
        args = inputs(N, T, D, H)
        arrays = [a.detach().numpy().copy() for a in args]
        dh = q.randn(N, T, H)

        def run():
            h = q.kernel.grad_call("RNNFunction", *[a.detach() for a in args], attr="apply").out
            if not isinstance(h, torch.Tensor):
                raise Mismatch(f"forward should return a tensor, got {type(h).__name__}")
            if h.dtype != torch.float64:
                raise Mismatch(f"forward returned {h.dtype} for float64 inputs; create tensors with "
                               "zeros_like/new_zeros (or pass dtype and device)")
            result = q.kernel.grad_call("RNNFunction", *args, attr="apply", grad_outputs=(torch.tensor(dh),))
            grads = {}
            for name, grad in zip(GRADS_SEQ, result.input_grads):
                if grad is None:
                    raise Mismatch(f"backward returned None for {name}")
                grads[name] = to_numpy(grad)
            return to_numpy(result.out), grads
        return _once(run), _rnn_oracle(*arrays, dh)

    result, want = case(3, 5, 4, 6)
    q.part("forward h (vs nn.RNN)", lambda: expect_close("h", result()[0], want["h"], tol=1e-7))
    for name in GRADS_SEQ:
        q.part(f"{name} (vs nn.RNN autograd, float64)",
               lambda name=name: expect_close(name, result()[1][name], want[name], tol=1e-7), weight=0.6)

    def all_of(res, oracle):
        def check():
            expect_close("h", res()[0], oracle["h"], tol=1e-7)
            for name in GRADS_SEQ:
                expect_close(name, res()[1][name], oracle[name], tol=1e-7)
        return check
    q.part("h and all gradients, T = 1", all_of(*case(2, 1, 3, 4)))
    q.part("h and all gradients, N = 1", all_of(*case(1, 4, 2, 3)))
