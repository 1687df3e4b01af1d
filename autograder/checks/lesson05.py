"""Hidden checks of lesson 5 (GRU).

Oracles
- NumPy forward (the lecture GRU, reset before the recurrent product): the reference module generated
  from solutions/05_gru.ipynb (no torch.nn module computes this variant).
- NumPy gradients: torch autograd of the lecture GRU written again below in torch (float64), an
  independent route from the reference backward.
- TorchGRU: torch.nn.GRU loaded with the same weights (CPU, and CUDA with TF32 off when the student's kernel
  has a GPU). The student's module stays in the kernel (a RemoteObject); its forward and backward run
  there (q.kernel.grad_call), the checker compares outputs and gradients. Random inputs come from a
  torch.Generator of the question's (torch.manual_seed here would not seed the kernel, and the
  checker's global RNG is not the question's to change).

When a result is wrong, the checks also compute the usual wrong variants (the other update
convention h = z*h_prev + (1-z)*h~, torch's reset-after placement, r and z blocks swapped, ...) and,
if the student's result matches one of them, name that mistake in the message.
"""

import numpy as np
import torch

from autograder.checks import question
from autograder.checks.core import expect_close, expect_tuple, kernel_has_cuda, Mismatch, with_exact_float32
from autograder.in_kernel.wire import RemoteError

NUMPY_TOL = 1e-7      # float64 against the oracle, relative error
TORCH_ATOL = 1e-5     # float32 against torch.nn.GRU, max absolute error

VARIANT_TEXT = {
    "update": ("your result matches the OTHER update convention h = z*h_prev + (1-z)*h~ (d2l, torch). "
               "This lesson uses the lecture's h = (1-z)*h_prev + z*h~: z is the share of the NEW candidate."),
    "reset_after": ("your result matches torch's reset-AFTER placement h~ = tanh(x Wx_n + b_n + r*(h_prev Wh_n)). "
                    "The lecture applies the reset gate BEFORE the recurrent product: "
                    "h~ = tanh(x Wx_n + (r*h_prev) Wh_n + b_n)."),
    "reset_after_bias": ("your result matches torch's reset-AFTER placement with the bias inside, "
                         "h~ = tanh(x Wx_n + r*(h_prev Wh_n + b_n)). The lecture applies the reset gate to h_prev "
                         "BEFORE the product: h~ = tanh(x Wx_n + (r*h_prev) Wh_n + b_n)."),
    "torch": ("your result matches torch's nn.GRU formulas (reset after the product AND h = (1-z)*h~ + z*h_prev). "
              "The NumPy part follows the lecture: h~ = tanh(x Wx_n + (r*h_prev) Wh_n + b_n), "
              "h = (1-z)*h_prev + z*h~. Keep torch's formulas for TorchGRU."),
    "gate_order": ("your result matches the GRU with the r and z blocks swapped. The column blocks of Wx, Wh and b "
                   "are in torch's order r, z, n: r = [:, :H], z = [:, H:2H], n = [:, 2H:]."),
    "no_reset": "your result matches a GRU without the reset gate: multiply h_prev by r before the product with Wh_n.",
}

TORCH_VARIANT_TEXT = {
    "update": ("your output matches h = z*h~ + (1-z)*h_prev, the other update convention. "
               "nn.GRU uses h = (1-z)*n + z*h_prev: torch's z is the share of the OLD state."),
    "reset_before": ("your output matches the lecture's reset-BEFORE placement. nn.GRU applies r AFTER the product "
                     "and to its bias: n = tanh(x W_in^T + b_in + r*(h W_hn^T + b_hn))."),
    "reset_after_bias_out": ("your output matches n = tanh(x W_in^T + b_in + b_hn + r*(h W_hn^T)). In nn.GRU the "
                             "reset gate also multiplies b_hn: n = tanh(x W_in^T + b_in + r*(h W_hn^T + b_hn))."),
    "lecture": ("your output matches the lecture GRU (reset before, h = (1-z)*h_prev + z*n). TorchGRU must follow "
                "nn.GRU: n = tanh(x W_in^T + b_in + r*(h W_hn^T + b_hn)), h = (1-z)*n + z*h_prev."),
    "gate_order": ("your output matches the GRU with the r and z row blocks swapped. nn.GRU stacks the rows of "
                   "weight_ih_l0 / weight_hh_l0 / biases as r, z, n."),
}


# ----------------------------------------------------------------------------------------------
# The lecture GRU and its usual wrong variants, in torch (float64), for oracles and diagnoses.
# ----------------------------------------------------------------------------------------------
def _swap_rz(W):
    H = W.shape[-1] // 3
    return torch.cat([W[..., H:2 * H], W[..., :H], W[..., 2 * H:]], dim=-1)


def lecture_step(x, h, Wx, Wh, b, variant="lecture", n_value=None):
    """One step of the lecture GRU (NumPy layout, torch tensors) or of one of its wrong variants.

    n_value: use these candidate values (e.g. the cached ones) while keeping the derivative
    structure of the variant, so that a backward written for the variant can be recognised when it
    is fed the lecture's cache.
    """
    if variant == "gate_order":
        Wx, Wh, b, variant = _swap_rz(Wx), _swap_rz(Wh), _swap_rz(b), "lecture"
    H = h.shape[1]
    a = x @ Wx + b
    r = torch.sigmoid(a[:, :H] + h @ Wh[:, :H])
    z = torch.sigmoid(a[:, H:2 * H] + h @ Wh[:, H:2 * H])
    if variant in ("reset_after", "torch"):
        an = a[:, 2 * H:] + r * (h @ Wh[:, 2 * H:])
    elif variant == "reset_after_bias":
        an = x @ Wx[:, 2 * H:] + r * (h @ Wh[:, 2 * H:] + b[2 * H:])
    elif variant == "no_reset":
        an = a[:, 2 * H:] + h @ Wh[:, 2 * H:]
    else:
        an = a[:, 2 * H:] + (r * h) @ Wh[:, 2 * H:]
    if n_value is None:
        n = torch.tanh(an)
    else:
        n = n_value + (an - an.detach()) * (1 - n_value ** 2)
    if variant in ("update", "torch"):
        return z * h + (1 - z) * n
    return (1 - z) * h + z * n


def lecture_sequence(x, h0, Wx, Wh, b, variant="lecture"):
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = lecture_step(x[:, t], h, Wx, Wh, b, variant)
        hs.append(h)
    return torch.stack(hs, dim=1)


def _t(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _grads(fn, arrays, dout, n_value=None):
    """Gradients of sum(fn(*tensors) * dout) with respect to every array (torch autograd)."""
    tensors = [_t(a, grad=True) for a in arrays]
    out = fn(*tensors) if n_value is None else fn(*tensors, n_value=_t(n_value))
    (out * _t(dout)).sum().backward()
    return [t.grad.numpy() for t in tensors]


def _named(variants, texts):
    """The (candidate, text) pairs of core.expect_close(mistakes=...) for {key: make} and {key: text}."""
    return [(make, texts[key]) for key, make in variants.items()]


def _ref():
    from autograder.references import l05_gru
    return l05_gru


def _weights(q, D, H, scale=0.5):
    return q.randn(D, 3 * H, scale=scale), q.randn(H, 3 * H, scale=scale), q.randn(3 * H, scale=scale)


def _copies(*arrays):
    return [np.array(a, copy=True) for a in arrays]


def _check_unchanged(saved, received):
    for name, (before, after) in zip(saved, received):
        if not np.array_equal(before, after):
            raise Mismatch(f"your function changed its input `{name}` in place; use `a = a + b`, not `a += b`")


FORWARD_VARIANTS = ("update", "torch", "reset_after", "reset_after_bias", "gate_order", "no_reset")


# ----------------------------------------------------------------------------------------------
# gru_step_forward (3 points)
# ----------------------------------------------------------------------------------------------
@question("gru_step_forward")
def gru_step_forward(q):
    student = q.student("gru_step_forward")
    ref = _ref()

    def case(N, D, H, zero_h=False, check_cache=False):
        def run():
            x, h = q.randn(N, D), (np.zeros((N, H)) if zero_h else q.randn(N, H))
            Wx, Wh, b = _weights(q, D, H)
            result = student(*_copies(x, h, Wx, Wh, b))
            next_h, cache = expect_tuple(result, "gru_step_forward", ["next_h", "cache"])
            expected, ref_cache = ref.gru_step_forward(x, h, Wx, Wh, b)
            variants = {v: (lambda v=v: lecture_step(*map(_t, (x, h, Wx, Wh, b)), variant=v).numpy())
                        for v in FORWARD_VARIANTS}
            expect_close("next_h", next_h, expected, mistakes=_named(variants, VARIANT_TEXT))
            if check_cache:
                if not isinstance(cache, (tuple, list)) or len(cache) != 7:
                    raise Mismatch("cache should be the tuple (x, prev_h, Wx, Wh, r, z, n) documented in the "
                                   "docstring (gru_step_backward is graded with a cache in that format)")
                for index, name in ((0, "x"), (1, "prev_h"), (2, "Wx"), (3, "Wh"), (4, "r"), (5, "z"), (6, "n")):
                    expect_close(f"cache[{index}] ({name})", cache[index], ref_cache[index])
        return run

    q.part("next_h, random batch (N=4, D=5, H=6)", case(4, 5, 6), weight=2)
    q.part("next_h, one example (N=1)", case(1, 3, 2))
    q.part("next_h, zero previous state", case(3, 4, 5, zero_h=True))
    q.part("cache = (x, prev_h, Wx, Wh, r, z, n)", case(2, 3, 4, check_cache=True))


# ----------------------------------------------------------------------------------------------
# gru_step_backward (4 points)
# ----------------------------------------------------------------------------------------------
STEP_GRAD_NAMES = ("dx", "dprev_h", "dWx", "dWh", "db")
BACKWARD_VARIANTS = ("update", "torch", "reset_after", "reset_after_bias", "no_reset")


def _step_backward_case(q, N, D, H):
    ref = _ref()
    x, h = q.randn(N, D), q.randn(N, H)
    Wx, Wh, b = _weights(q, D, H)
    _, cache = ref.gru_step_forward(x, h, Wx, Wh, b)
    dnext = q.randn(N, H)
    inputs = (x, h, Wx, Wh, b)
    expected = _grads(lecture_step, inputs, dnext)
    n_cached = cache[6]

    def variant_grads(v):
        step = lambda *a, n_value: lecture_step(*a, variant=v, n_value=n_value)  # noqa: E731
        return _grads(step, inputs, dnext, n_value=n_cached)

    return cache, dnext, expected, variant_grads


@question("gru_step_backward")
def gru_step_backward(q):
    student = q.student("gru_step_backward")
    state = {}

    def run_student(N, D, H):
        cache, dnext, expected, variant_grads = _step_backward_case(q, N, D, H)
        saved = _copies(dnext, *cache)
        result = student(dnext, tuple(cache))
        _check_unchanged(("dnext_h",) + ("x", "prev_h", "Wx", "Wh", "r", "z", "n"),
                         list(zip(saved, [dnext, *cache])))
        expect_tuple(result, "gru_step_backward", ["dx", "dprev_h", "dWx", "dWh", "db"])
        return result, expected, variant_grads

    def gradient_part(index):
        def run():
            if "main" not in state:
                state["main"] = run_student(4, 5, 6)
            result, expected, variant_grads = state["main"]
            variants = {v: (lambda v=v: variant_grads(v)[index]) for v in BACKWARD_VARIANTS}
            expect_close(STEP_GRAD_NAMES[index], result[index], expected[index], mistakes=_named(variants, VARIANT_TEXT))
        return run

    for i, name in enumerate(STEP_GRAD_NAMES):
        q.part(f"{name}, random batch (N=4, D=5, H=6), cache from the reference forward", gradient_part(i))

    def one_example():
        result, expected, variant_grads = run_student(1, 3, 2)
        for i, name in enumerate(STEP_GRAD_NAMES):
            variants = {v: (lambda v=v, i=i: variant_grads(v)[i]) for v in BACKWARD_VARIANTS}
            expect_close(name, result[i], expected[i], mistakes=_named(variants, VARIANT_TEXT))
    q.part("all gradients, one example (N=1, H=2)", one_example)


# ----------------------------------------------------------------------------------------------
# gru_forward (2 points)
# ----------------------------------------------------------------------------------------------
@question("gru_forward")
def gru_forward(q):
    student = q.student("gru_forward")
    ref = _ref()

    def case(N, T, D, H, zero_h0=False, check_cache=False):
        def run():
            x, h0 = q.randn(N, T, D), (np.zeros((N, H)) if zero_h0 else q.randn(N, H))
            Wx, Wh, b = _weights(q, D, H)
            with q.using(gru_step_forward=ref.gru_step_forward):
                result = student(*_copies(x, h0, Wx, Wh, b))
            h, cache = expect_tuple(result, "gru_forward", ["h", "cache"])
            expected, ref_cache = ref.gru_forward(x, h0, Wx, Wh, b)
            variants = {v: (lambda v=v: lecture_sequence(*map(_t, (x, h0, Wx, Wh, b)), variant=v).numpy())
                        for v in FORWARD_VARIANTS}
            variants["shift"] = lambda: np.concatenate([h0[:, None], expected[:, :-1]], axis=1)
            variants["no_recurrence"] = lambda: np.stack(
                [ref.gru_step_forward(x[:, t], h0, Wx, Wh, b)[0] for t in range(T)], axis=1)
            texts = dict(VARIANT_TEXT,
                         shift="h[:, t] must be the state AFTER step t (h[:, 0] is h_1, not h0)",
                         no_recurrence="every step used h0: pass each step's next_h on as the next prev_h")
            expect_close("h", h, expected, mistakes=_named(variants, texts))
            if check_cache:
                if not isinstance(cache, (list, tuple)) or len(cache) != T:
                    raise Mismatch(f"cache should be a list of the T={T} step caches, in time order")
                for t in range(T):
                    for index, name in ((1, "prev_h"), (6, "n")):
                        expect_close(f"cache[{t}][{index}] ({name})", cache[t][index], ref_cache[t][index])
        return run

    q.part("h, random batch (N=3, T=5, D=4, H=6)", case(3, 5, 4, 6), weight=2)
    q.part("h, a single time step (T=1)", case(2, 1, 3, 4))
    q.part("h, one example and zero h0 (N=1)", case(1, 4, 3, 2, zero_h0=True))
    q.part("cache = list of T step caches", case(2, 3, 3, 4, check_cache=True))


# ----------------------------------------------------------------------------------------------
# gru_backward (3 points)
# ----------------------------------------------------------------------------------------------
SEQ_GRAD_NAMES = ("dx", "dh0", "dWx", "dWh", "db")


@question("gru_backward")
def gru_backward(q):
    student = q.student("gru_backward")
    ref = _ref()
    state = {}

    def run_student(N, T, D, H):
        x, h0 = q.randn(N, T, D), q.randn(N, H)
        Wx, Wh, b = _weights(q, D, H)
        _, cache = ref.gru_forward(x, h0, Wx, Wh, b)
        dh = q.randn(N, T, H)
        saved = _copies(dh)
        with q.using(gru_step_backward=ref.gru_step_backward, gru_step_forward=ref.gru_step_forward):
            result = student(dh, cache)
        _check_unchanged(("dh",), [(saved[0], dh)])
        expect_tuple(result, "gru_backward", ["dx", "dh0", "dWx", "dWh", "db"])
        expected = _grads(lecture_sequence, (x, h0, Wx, Wh, b), dh)

        def no_carry():
            # each step receives only dh[:, t], the gradient from the later steps is dropped
            grads = [ref.gru_step_backward(dh[:, t], cache[t]) for t in range(T)]
            return (np.stack([g[0] for g in grads], axis=1), grads[0][1],
                    sum(g[2] for g in grads), sum(g[3] for g in grads), sum(g[4] for g in grads))

        def last_only():
            grads = ref.gru_backward(np.concatenate([np.zeros_like(dh[:, :-1]), dh[:, -1:]], axis=1), cache)
            return grads

        return result, expected, {"no_carry": no_carry, "last_only": last_only}

    texts = {
        "no_carry": ("each step got only dh[:, t]. The upstream gradient of step t is dh[:, t] PLUS the dprev_h "
                     "returned by step t+1 (h_t feeds both the loss and the next step)."),
        "last_only": ("only dh[:, T-1] was used. dh holds the loss gradient of EVERY h_t: add dh[:, t] at each "
                      "step to the gradient carried from step t+1."),
    }

    def gradient_part(index):
        def run():
            if "main" not in state:
                state["main"] = run_student(3, 5, 4, 6)
            result, expected, wrong = state["main"]
            variants = {k: (lambda f=f: f()[index]) for k, f in wrong.items()}
            expect_close(SEQ_GRAD_NAMES[index], result[index], expected[index], mistakes=_named(variants, texts))
        return run

    for i, name in enumerate(SEQ_GRAD_NAMES):
        q.part(f"{name}, random batch (N=3, T=5, D=4, H=6)", gradient_part(i))

    def single_step():
        result, expected, wrong = run_student(2, 1, 3, 4)
        for i, name in enumerate(SEQ_GRAD_NAMES):
            expect_close(name, result[i], expected[i])
    q.part("all gradients, a single time step (T=1)", single_step)


# ----------------------------------------------------------------------------------------------
# TorchGRU (4 points)
# ----------------------------------------------------------------------------------------------
def torch_variant_forward(gru, x, h0, variant):
    """nn.GRU's parameters run through a known wrong formula (for naming the mistake)."""
    W_ih, W_hh, b_ih, b_hh = gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0
    H = W_hh.shape[1]
    if variant == "gate_order":
        perm = torch.cat([torch.arange(H, 2 * H), torch.arange(H), torch.arange(2 * H, 3 * H)])
        W_ih, W_hh, b_ih, b_hh = W_ih[perm], W_hh[perm], b_ih[perm], b_hh[perm]
    h, outs = h0[0], []
    for t in range(x.shape[1]):
        gi, gh = x[:, t] @ W_ih.T + b_ih, h @ W_hh.T + b_hh
        r = torch.sigmoid(gi[:, :H] + gh[:, :H])
        z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        if variant in ("reset_before", "lecture"):
            n = torch.tanh(gi[:, 2 * H:] + (r * h) @ W_hh[2 * H:].T + b_hh[2 * H:])
        elif variant == "reset_after_bias_out":
            n = torch.tanh(gi[:, 2 * H:] + b_hh[2 * H:] + r * (h @ W_hh[2 * H:].T))
        else:
            n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * h + z * n if variant in ("update", "lecture") else (1 - z) * n + z * h
        outs.append(h)
    return torch.stack(outs, dim=1)


PARAM_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def torch_generator(q):
    """The torch random numbers of one case: a generator of the question's own (the checker's global
    RNG is left alone, and torch.manual_seed here would not seed the student's kernel anyway)."""
    return torch.Generator().manual_seed(int(q.rng.integers(2 ** 31)))


def reference_layer(layer, H, device, generator, *args, **kwargs):
    """torch.nn `layer`(*args, **kwargs) with its own initialisation U(-1/sqrt(H), 1/sqrt(H)) drawn from
    `generator`: the numbers of torch.manual_seed(s); layer(...), without touching the global RNG."""
    reference = layer(*args, **kwargs, device="meta").to_empty(device="cpu")
    uniform_init(reference, H, generator)
    return reference.to(device)


def uniform_init(module, H, generator, scratch=False):
    """U(-1/sqrt(H), 1/sqrt(H)) into each parameter of `module`, in order (scratch: into throwaway copies)."""
    bound = 1.0 / H ** 0.5
    with torch.no_grad():
        for parameter in module.parameters():
            target = torch.empty_like(parameter, device="cpu") if scratch else parameter
            target.uniform_(-bound, bound, generator=generator)


def _build(student_cls, D, H, device, generator):
    reference = reference_layer(torch.nn.GRU, H, device, generator, D, H, batch_first=True)
    try:
        model = student_cls(D, H)
    except RemoteError as error:
        if error.type_name != "TypeError":
            raise
        raise Mismatch(f"TorchGRU(input_size, hidden_size) failed: {error.message}") from None
    # The student's own initialisation runs in the kernel; its numbers are replaced by load_state_dict.
    # Drawing as much as nn.GRU's initialisation keeps the inputs those the in-kernel checks used.
    uniform_init(reference, H, generator, scratch=True)
    try:
        model.load_state_dict(reference.state_dict())
    except RemoteError as error:
        if error.type_name != "RuntimeError":
            raise
        first = (error.message.splitlines() or [""])[0]
        raise Mismatch("load_state_dict from nn.GRU failed: TorchGRU needs parameters named "
                       "weight_ih_l0 (3H, D), weight_hh_l0 (3H, H), bias_ih_l0 (3H,), bias_hh_l0 (3H,) "
                       f"({first})") from None
    return model.to(device), reference


def randn(generator, device, *shape):
    return torch.randn(*shape, generator=generator).to(device)


def randn_like(generator, tensor):
    """torch.randn_like(tensor) from `generator` (same strides, so the same numbers in the same places)."""
    return torch.empty_like(tensor, device="cpu").normal_(generator=generator).to(tensor.device)


def _torch_case(q, student_cls, D=5, H=6, N=4, T=7, device="cpu", with_h0=True):
    generator = torch_generator(q)
    model, reference = _build(student_cls, D, H, device, generator)
    x = randn(generator, device, N, T, D)
    h0 = randn(generator, device, 1, N, H) if with_h0 else None
    return model, reference, x, h0, generator


def _torch_forward_part(q, student_cls, device="cpu", with_h0=True, N=4, T=7):
    def run():
        model, reference, x, h0, _ = _torch_case(q, student_cls, N=N, T=T, device=device, with_h0=with_h0)
        result = model(x, h0) if with_h0 else model(x)
        output, h_n = expect_tuple(result, "TorchGRU.forward (like nn.GRU)", ["output", "h_n"])
        with torch.no_grad():
            expected, expected_n = reference(x, h0) if with_h0 else reference(x)
        h0_ = h0 if with_h0 else torch.zeros_like(expected_n)
        variants = {v: (lambda v=v: torch_variant_forward(reference, x, h0_, v).detach())
                    for v in TORCH_VARIANT_TEXT}
        expect_close("output", output, expected, mistakes=_named(variants, TORCH_VARIANT_TEXT), atol=TORCH_ATOL)
        if tuple(h_n.shape) == tuple(expected_n.shape[1:]):
            raise Mismatch(f"h_n: shape {tuple(h_n.shape)}, expected {tuple(expected_n.shape)} "
                           "(nn.GRU returns h_n with a leading num_layers axis: (1, N, H))")
        expect_close("h_n", h_n, expected_n, atol=TORCH_ATOL)
    return run


def _torch_backward_part(q, student_cls, device="cpu"):
    def run():
        model, reference, x, h0, generator = _torch_case(q, student_cls, device=device)
        xr, h0r = x.clone().requires_grad_(), h0.clone().requires_grad_()
        out_r, h_n_r = reference(xr, h0r)
        dout, dh_n = randn_like(generator, out_r), randn_like(generator, h_n_r)
        out, h_n = model(x, h0)
        try:
            expect_close("output", out, out_r, atol=TORCH_ATOL)
        except Mismatch:
            raise Mismatch("the output already differs from nn.GRU's, so the gradients do too: "
                           "fix the forward pass first (see the forward parts)") from None
        # forward and backward of sum(out * dout) + sum(h_n * dh_n) run in the kernel, on x and h0 as leaves
        try:
            grads = q.kernel.grad_call(model, x.clone().requires_grad_(), h0.clone().requires_grad_(),
                                       grad_outputs=(dout, dh_n))
        except RemoteError as error:
            if error.type_name == "ValueError" and error.message.startswith("no output depends"):
                raise Mismatch("no gradient reached x or h0: is the output computed from them with torch "
                               "operations?") from None
            raise
        ((out_r * dout).sum() + (h_n_r * dh_n).sum()).backward()
        x_grad, h0_grad = grads.input_grads
        if x_grad is None or h0_grad is None:
            raise Mismatch("no gradient reached x or h0: is the output computed from them with torch operations?")
        expect_close("x.grad", x_grad, xr.grad, atol=TORCH_ATOL)
        expect_close("h0.grad", h0_grad, h0r.grad, atol=TORCH_ATOL)
        student_grads = grads.param_grads or {}
        for name in PARAM_NAMES:
            grad = student_grads[name]
            if grad is None:
                raise Mismatch(f"{name}.grad is None: the forward pass does not use {name}")
            expect_close(f"{name}.grad", grad, getattr(reference, name).grad, atol=TORCH_ATOL)
    return run


@question("torch_gru")
def torch_gru(q):
    student_cls = q.student("TorchGRU")

    def parameters():
        # values do not matter here; a fixed generator leaves q.rng's sequence as it was before the move
        model, reference = _build(student_cls, 3, 5, "cpu", torch.Generator().manual_seed(0))
        names = {name for name, _ in model.named_parameters()}
        extra = names - set(PARAM_NAMES)
        if extra:
            raise Mismatch(f"unexpected parameters {sorted(extra)}: nn.GRU has exactly {', '.join(PARAM_NAMES)}")
    q.part("parameters named and shaped like nn.GRU (load_state_dict works)", parameters)
    q.part("forward on CPU: output and h_n match nn.GRU", _torch_forward_part(q, student_cls), weight=2)
    q.part("forward on CPU without h0 (zeros), N=1, T=1", _torch_forward_part(q, student_cls, with_h0=False, N=1, T=1))
    q.part("backward on CPU: gradients of x, h0 and all four parameters match nn.GRU",
           _torch_backward_part(q, student_cls), weight=2)
    if kernel_has_cuda(q):
        q.part("forward on CUDA (TF32 off)", with_exact_float32(_torch_forward_part(q, student_cls, device="cuda")))
        q.part("backward on CUDA (TF32 off)", with_exact_float32(_torch_backward_part(q, student_cls, device="cuda")))
