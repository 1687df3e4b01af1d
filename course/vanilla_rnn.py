"""Lesson 2 (the vanilla RNN): torch oracles, hints for the visible checks, and the lesson's drawings.

The oracles run torch.nn.RNNCell / nn.RNN in float64 with the lesson's NumPy weights loaded through
`course.layout`, so a visible check compares your NumPy code with an independent implementation.
The hints are wrong answers computed the same way (torch with swapped, transposed or missing
weights): when your output equals one of them, the check tells you which mistake it looks like.
No solution code lives here.
"""
import contextlib

import numpy as np

from course.checks import CheckFailed, ok
from course.layout import load_numpy_weights

_CLOSE = dict(rtol=1e-9, atol=1e-11)


# ----------------------------------------------------------------------------- oracles (torch, float64)
def torch_rnn_cell(x, prev_h, Wx, Wh, b):
    """next_h (N, H) from torch.nn.RNNCell (float64) loaded with Wx (D, H), Wh (H, H), b (H,)."""
    import torch

    D, H = np.shape(Wx)
    cell = load_numpy_weights(torch.nn.RNNCell(D, H).double(), Wx, Wh, b, suffix="")
    with torch.no_grad():
        return cell(torch.from_numpy(np.asarray(x, float)), torch.from_numpy(np.asarray(prev_h, float))).numpy()


def torch_rnn(x, h0, Wx, Wh, b):
    """All hidden states h (N, T, H) from torch.nn.RNN(batch_first=True) (float64), same weights."""
    import torch

    D, H = np.shape(Wx)
    rnn = load_numpy_weights(torch.nn.RNN(D, H, batch_first=True).double(), Wx, Wh, b)
    with torch.no_grad():
        h, _ = rnn(torch.from_numpy(np.asarray(x, float)), torch.from_numpy(np.asarray(h0, float))[None])
    return h.numpy()


def torch_temporal_affine(x, W, b):
    """x (N, T, H) @ W (H, M) + b (M,) with torch.nn.functional.linear (float64)."""
    import torch

    with torch.no_grad():
        return torch.nn.functional.linear(torch.from_numpy(np.asarray(x, float)),
                                          torch.from_numpy(np.ascontiguousarray(np.asarray(W, float).T)),
                                          torch.from_numpy(np.asarray(b, float))).numpy()


def torch_rnn_grads(x, h0, Wx, Wh, b, dh, carry=True):
    """Gradients of L = sum(h * dh) for the vanilla RNN by torch autograd (float64): a dict with dx, dh0,
    dWx, dWh, db, shared by lesson 3's visible and hidden checks of rnn_backward.

    carry=False cuts the recurrence in the backward pass (h_{t-1} detached for t >= 1): the gradients
    a backward pass gives that forgets to carry dprev_h from step t+1 to step t (a known mistake)."""
    import torch

    leaf = lambda a: torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)  # noqa: E731
    x_, h0_, Wx_, Wh_, b_ = (leaf(a) for a in (x, h0, Wx, Wh, b))
    prev, states = h0_, []
    for t in range(x_.shape[1]):
        recurrent = prev if carry or t == 0 else prev.detach()
        prev = torch.tanh(x_[:, t] @ Wx_ + recurrent @ Wh_ + b_)
        states.append(prev)
    (torch.stack(states, dim=1) * torch.tensor(np.asarray(dh, dtype=np.float64))).sum().backward()
    return {name: (leaf_.grad.numpy() if leaf_.grad is not None else np.zeros(leaf_.shape))
            for name, leaf_ in zip(["dx", "dh0", "dWx", "dWh", "db"], [x_, h0_, Wx_, Wh_, b_])}


NO_CARRY = ("the gradient from later steps is not carried back: at each step pass dh[:, t] + dprev_h "
            "(the dprev_h that step t+1 returned) to rnn_step_backward.")


def rnn_backward_mistakes(x, h0, Wx, Wh, b, dh):
    """{gradient name: [(candidate, text)]}: what rnn_backward's classic mistakes give (for check_close's
    and expect_close's mistakes=...)."""
    no_carry = torch_rnn_grads(x, h0, Wx, Wh, b, dh, carry=False)
    return {name: [(no_carry[name], NO_CARRY)] for name in ["dx", "dh0", "dWx", "dWh", "db"]}


# ----------------------------------------------------------------------------- hints
def _same(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a.shape == b.shape and np.allclose(a, b, **_CLOSE)


def _no_tanh(actual, expected):
    return np.all(np.abs(expected) < 1 - 1e-9) and _same(actual, np.arctanh(expected))


def step_hints(x, prev_h, Wx, Wh, b):
    """(predicate, text) pairs for course.check_close: mistakes that rnn_step_forward often makes."""
    H = np.shape(Wh)[0]
    hints = [
        (_no_tanh, "Your output is exactly the pre-activation x Wx + prev_h Wh + b: apply np.tanh to it."),
        (lambda a, e: _same(a, torch_rnn_cell(x, prev_h, Wx, Wh, np.zeros(H))),
         "Your output equals the correct one without the bias: add b (shape (H,), broadcast over the batch)."),
        (lambda a, e: _same(a, torch_rnn_cell(x, np.zeros_like(prev_h), Wx, Wh, b)),
         "Your output ignores prev_h: the previous hidden state enters through prev_h @ Wh."),
        (lambda a, e: _same(a, np.tanh(x @ Wx + b)) or _same(a, np.tanh(prev_h @ Wh + b)),
         "Only one of the two products is there: the step needs both x @ Wx and prev_h @ Wh."),
    ]
    if np.shape(Wx) == np.shape(Wh):  # square case: swapped or transposed weights still run
        hints += [
            (lambda a, e: _same(a, torch_rnn_cell(x, prev_h, Wh, Wx, b)),
             "Wx and Wh are swapped: the input x goes with Wx, the previous state prev_h with Wh."),
            (lambda a, e: _same(a, torch_rnn_cell(x, prev_h, Wx.T, Wh.T, b))
             or _same(a, torch_rnn_cell(x, prev_h, Wx.T, Wh, b)) or _same(a, torch_rnn_cell(x, prev_h, Wx, Wh.T, b)),
             "A weight is transposed: in the course's row-vector layout it is x @ Wx with Wx (D, H), "
             "not Wx @ x (that is torch's weight_ih = Wx.T layout)."),
        ]
    return hints


def forward_hints(x, h0, Wx, Wh, b, step=None):
    """(predicate, text) pairs for rnn_forward's output h (N, T, H); `step`: your rnn_step_forward."""
    N, T, _ = np.shape(x)

    def step_is_wrong():
        if step is None:
            return False
        try:
            out = step(x[:, 0].copy(), np.asarray(h0).copy(), Wx.copy(), Wh.copy(), b.copy())[0]
            return not _same(out, torch_rnn_cell(x[:, 0], h0, Wx, Wh, b))
        except Exception:
            return True

    def from_h0_each_step():
        return np.stack([torch_rnn_cell(x[:, t], h0, Wx, Wh, b) for t in range(T)], axis=1)

    def shifted():  # stored h_{t-1} instead of h_t
        h = torch_rnn(x, h0, Wx, Wh, b)
        return np.concatenate([np.asarray(h0)[:, None], h[:, :-1]], axis=1)

    def one_step_short(a, e):
        a = np.asarray(a)
        return T > 1 and _same(a[:, :-1], e[:, :-1]) and not _same(a[:, -1], e[:, -1])

    return [
        (lambda a, e: step_is_wrong(),
         "Your rnn_step_forward does not pass its own check yet; rnn_forward calls it, so fix it first."),
        (one_step_short, "The last step is missing: the loop must run T times (range(T)) and write h[:, t] "
                         "at every step."),
        (_no_tanh, "Your states are exactly the pre-activations: apply np.tanh (rnn_step_forward should do it)."),
        (lambda a, e: _same(a, from_h0_each_step()),
         "Every step starts from h0: carry the state, i.e. the h returned by step t is prev_h of step t+1."),
        (lambda a, e: _same(a, shifted()),
         "Off by one in time: h[:, t] must be the state AFTER reading x[:, t] (h_t), not the one before (h_{t-1})."),
        (lambda a, e: _same(a, torch_rnn(np.swapaxes(x, 0, 1).reshape(x.shape), h0, Wx, Wh, b)),
         "The time axis looks mixed up with the batch axis: x is (N, T, D), so step t reads x[:, t, :]."),
        (lambda a, e: np.allclose(np.asarray(a)[:, -1], e[:, -1], **_CLOSE),
         "The last state is right but earlier ones are not: write every h_t into h[:, t, :] inside the loop."),
    ]


def affine_hints(x, W, b):
    """(predicate, text) pairs for temporal_affine_forward's output (N, T, M)."""
    hints = [
        (lambda a, e: _same(a, torch_temporal_affine(x, W, np.zeros_like(b))),
         "Your output equals the correct one without the bias: add b (shape (M,))."),
        (lambda a, e: _same(np.asarray(a) - b, e),
         "The bias is added twice."),
    ]
    if np.shape(W)[0] == np.shape(W)[1]:
        hints.append((lambda a, e: _same(a, torch_temporal_affine(x, W.T, b)),
                      "W is transposed: the output is x @ W with W (H, M)."))
    return hints


# ----------------------------------------------------------------------------- small helpers for checks
@contextlib.contextmanager
def explain_shape_errors(name, hint=None, **arrays):
    """Turn a NumPy shape error inside student code into a CheckFailed that lists the input shapes."""
    hint = hint or ("in the row-vector layout the products are x @ Wx -> (N, H) and prev_h @ Wh -> (N, H); "
                    "check which array goes with which weight, and that no weight is transposed.")
    try:
        yield
    except ValueError as error:
        if "shape" not in str(error) and "dimension" not in str(error) and "broadcast" not in str(error):
            raise
        shapes = ", ".join(f"{key} {np.shape(value)}" for key, value in arrays.items())
        raise CheckFailed(f"{name}: NumPy could not combine the arrays ({error}).\n  Inputs: {shapes}.\n"
                          f"Hint: {hint}") from None


@contextlib.contextmanager
def count_calls(namespace, name):
    """Wrap namespace[name] so that the calls made while the block runs are counted: `calls[0]`."""
    original = namespace[name]
    calls = [0]

    def counted(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    namespace[name] = counted
    try:
        yield calls
    finally:
        namespace[name] = original


# ----------------------------------------------------------------------------- drawings
def _box(ax, xy, text, color, w=0.7, h=0.5, fontsize=11):
    from matplotlib.patches import FancyBboxPatch

    x, y = xy
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.04",
                                fc=color, ec="0.25", lw=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, color="0.25", text=None, text_offset=(0, 0), rad=0.0, fontsize=10):
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle="-|>", color=color, lw=1.6, shrinkA=14, shrinkB=14,
                                connectionstyle=f"arc3,rad={rad}"))
    if text:
        mx, my = (start[0] + end[0]) / 2 + text_offset[0], (start[1] + end[1]) / 2 + text_offset[1]
        ax.text(mx, my, text, ha="center", va="center", fontsize=fontsize, color=color,
                bbox=dict(fc="white", ec="none", pad=0.5))


COLORS = dict(x="#cfe2f3", h="#d9ead3", y="#fce5cd", Wx="#1f77b4", Wh="#2ca02c", Wy="#d62728")


def draw_task_patterns():
    """Four ways to use a recurrent net: one-to-many, many-to-one, many-to-many (aligned and not)."""
    import matplotlib.pyplot as plt

    patterns = [
        ("one-to-many\n(caption an image)", [1, 0, 0, 0], [0, 1, 1, 1]),
        ("many-to-one\n(classify a sentence)", [1, 1, 1, 1], [0, 0, 0, 1]),
        ("many-to-many, aligned\n(tag every word)", [1, 1, 1, 1], [1, 1, 1, 1]),
        ("many-to-many, encoder-decoder\n(translate)", [1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.2), gridspec_kw=dict(width_ratios=[4, 4, 4, 6]))
    for ax, (title, ins, outs) in zip(axes, patterns):
        T = len(ins)
        for t in range(T):
            _box(ax, (t, 1), "", COLORS["h"], w=0.55, h=0.4)
            if ins[t]:
                _box(ax, (t, 0), "", COLORS["x"], w=0.55, h=0.4)
                _arrow(ax, (t, 0), (t, 1))
            if outs[t]:
                _box(ax, (t, 2), "", COLORS["y"], w=0.55, h=0.4)
                _arrow(ax, (t, 1), (t, 2))
            if t:
                _arrow(ax, (t - 1, 1), (t, 1))
        ax.set_title(title, fontsize=11)
        ax.set_xlim(-0.6, T - 0.4)
        ax.set_ylim(-0.5, 2.5)
        ax.set_aspect("equal")
        ax.axis("off")
    axes[0].text(-0.55, 0, "input", ha="right", va="center", fontsize=9)
    axes[0].text(-0.55, 1, "state", ha="right", va="center", fontsize=9)
    axes[0].text(-0.55, 2, "output", ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def draw_unrolled(T=4):
    """The RNN folded (a loop) and unrolled over T steps; the same weights have the same colour."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.0), gridspec_kw=dict(width_ratios=[2.1, 1.6 * T + 1.2]))
    # folded: one cell with a self-loop
    _box(left, (0, 0), "$x_t$", COLORS["x"])
    _box(left, (0, 1.4), "$h_t$", COLORS["h"])
    _box(left, (0, 2.8), "$y_t$", COLORS["y"])
    _arrow(left, (0, 0), (0, 1.4), COLORS["Wx"], "$W_x$", (-0.35, 0))
    _arrow(left, (0, 1.4), (0, 2.8), COLORS["Wy"], "$W_y$", (-0.35, 0))
    left.annotate("", xy=(0.36, 1.25), xytext=(0.36, 1.55),
                  arrowprops=dict(arrowstyle="-|>", color=COLORS["Wh"], lw=1.6,
                                  connectionstyle="arc3,rad=-2.6"))
    left.text(0.95, 1.4, "$W_h$", color=COLORS["Wh"], fontsize=10, va="center")
    left.set_title("folded: one cell, a loop", fontsize=11)
    left.set_xlim(-0.8, 1.3)
    left.set_ylim(-0.5, 3.3)
    left.set_aspect("equal")
    left.axis("off")
    # unrolled (cells 1.6 apart so that the W_h labels fit between them)
    s = 1.6
    _box(right, (0, 1.4), "$h_0$", "white")
    for t in range(1, T + 1):
        label = t
        _box(right, (s * t, 0), f"$x_{{{label}}}$", COLORS["x"])
        _box(right, (s * t, 1.4), f"$h_{{{label}}}$", COLORS["h"])
        _box(right, (s * t, 2.8), f"$y_{{{label}}}$", COLORS["y"])
        _arrow(right, (s * t, 0), (s * t, 1.4), COLORS["Wx"], "$W_x$", (-0.3, 0))
        _arrow(right, (s * t, 1.4), (s * t, 2.8), COLORS["Wy"], "$W_y$", (-0.3, 0))
        _arrow(right, (s * (t - 1), 1.4), (s * t, 1.4), COLORS["Wh"], "$W_h$", (0, 0.22))
    right.set_title(f"unrolled in time: {T} copies of the same cell (same $W_x$, $W_h$, $b$, $W_y$ at every step)",
                    fontsize=11)
    right.set_xlim(-0.6, s * T + 0.6)
    right.set_ylim(-0.5, 3.3)
    right.set_aspect("equal")
    right.axis("off")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- the PyTorch part
PARAMETER_SHAPES = lambda D, H: {"weight_ih_l0": (H, D), "weight_hh_l0": (H, H),  # noqa: E731
                                 "bias_ih_l0": (H,), "bias_hh_l0": (H,)}


def check_parameters(module, D, H, name="TorchRNN"):
    """The module has exactly nn.RNN's four parameters, with nn.RNN's names and shapes."""
    expected = PARAMETER_SHAPES(D, H)
    got = {key: tuple(p.shape) for key, p in module.named_parameters()}
    if got != expected:
        raise CheckFailed(f"{name}({D}, {H}): parameters {got}, expected exactly {expected}.\n"
                          "Hint: create them in __init__ as torch.nn.Parameter attributes with these names "
                          "(no nn.RNN or nn.Linear inside: their parameters would get other names).")


def check_initialisation(cls, D=5, H=64, name="TorchRNN"):
    """Every parameter uniform in [-1/sqrt(H), 1/sqrt(H)], like nn.RNN."""
    import torch

    torch.manual_seed(0)
    module = cls(D, H)
    bound = 1 / H ** 0.5
    for key, p in module.named_parameters():
        values = p.detach().double()
        if values.abs().max() > bound + 1e-7:
            raise CheckFailed(f"{name}: {key} has entries up to {values.abs().max():.3f}, outside "
                              f"[-1/sqrt(H), 1/sqrt(H)] = [-{bound:.3f}, {bound:.3f}] for H = {H}.\n"
                              "Hint: torch.nn.init.uniform_(p, -1 / H**0.5, 1 / H**0.5) on every parameter.")
        if values.numel() >= H and not (0.75 < values.std().item() / (bound / 3 ** 0.5) < 1.25):
            raise CheckFailed(f"{name}: {key} has standard deviation {values.std().item():.4f}; a uniform "
                              f"distribution on [-{bound:.3f}, {bound:.3f}] has {bound / 3 ** 0.5:.4f}. "
                              "Hint: initialise every entry (torch.empty leaves garbage, torch.zeros leaves zeros).")


def compare_with_nn_rnn(cls, device, N, T, D, H, dtype, use_h0=True, seed=0, reference_edit=None):
    """Outputs, h_n and gradients of `cls` and of nn.RNN(batch_first=True) with the same weights and inputs.

    Returns {quantity: (mine, reference)} as CPU tensors: output, h_n, and the gradients of the four
    parameters, of x and (with use_h0) of h0, for the loss sum(output * g) + sum(h_n * g_n), g random.
    """
    import torch

    torch.manual_seed(seed)
    reference = torch.nn.RNN(D, H, batch_first=True).to(device=device, dtype=dtype)
    mine = cls(D, H).to(device=device, dtype=dtype)
    mine.load_state_dict(reference.state_dict())
    if reference_edit is not None:          # the reference made to commit a known mistake (to name it)
        with torch.no_grad():
            reference_edit(reference)
    x = torch.randn(N, T, D, device=device, dtype=dtype)
    h0 = torch.randn(1, N, H, device=device, dtype=dtype) if use_h0 else None
    g, g_n = torch.randn(N, T, H, device=device, dtype=dtype), torch.randn(1, N, H, device=device, dtype=dtype)
    results = {}
    for which, module in (("mine", mine), ("reference", reference)):
        xi = x.clone().requires_grad_(True)
        hi = h0.clone().requires_grad_(True) if use_h0 else None
        output, h_n = module(xi, hi) if use_h0 else module(xi)
        (output * g).sum().add((h_n * g_n).sum()).backward()
        values = {"output": output, "h_n": h_n, "dx": xi.grad}
        if use_h0:
            values["dh0"] = hi.grad
        for key, p in module.named_parameters():
            values[f"d{key}"] = p.grad
        for key, value in values.items():
            results.setdefault(key, {})[which] = None if value is None else value.detach().cpu()
    return {key: (v.get("mine"), v.get("reference")) for key, v in results.items()}


TORCH_RNN_MISTAKES = [
    (lambda rnn: rnn.weight_hh_l0.copy_(rnn.weight_hh_l0.T.clone()),
     "weight_hh_l0 is used untransposed: torch stores it as (H, H) acting on rows, h @ weight_hh_l0.T."),
    (lambda rnn: rnn.bias_hh_l0.zero_(), "bias_hh_l0 is missing: nn.RNN adds both biases, b_ih and b_hh."),
    (lambda rnn: rnn.bias_ih_l0.zero_(), "bias_ih_l0 is missing: nn.RNN adds both biases, b_ih and b_hh."),
]


def torch_rnn_mistake(cls, device, N, T, D, H, dtype, use_h0, atol):
    """The text of the first TORCH_RNN_MISTAKES whose nn.RNN gives the outputs of `cls`, or None."""
    for edit, text in TORCH_RNN_MISTAKES:
        try:
            pairs = compare_with_nn_rnn(cls, device, N, T, D, H, dtype, use_h0=use_h0, reference_edit=edit)
            mine, ref = pairs["output"]
            if mine is not None and mine.shape == ref.shape and (mine.double() - ref.double()).abs().max().item() <= atol:
                return text
        except Exception:
            continue
    return None


def check_torch_rnn(cls, device, atol=1e-5):
    """The visible check of TorchRNN: parameters, forward and autograd gradients vs nn.RNN, h0=None, init."""
    import torch

    N, T, D, H = 3, 5, 4, 6
    check_parameters(cls(D, H), D, H)
    ok(f"TorchRNN: parameters named and shaped like nn.RNN: {PARAMETER_SHAPES(D, H)}")
    for use_h0 in (True, False):
        pairs = compare_with_nn_rnn(cls, device, N, T, D, H, torch.float32, use_h0=use_h0)
        rows, wrong = [], []
        for key, (mine, ref) in pairs.items():
            if mine is None:
                rows.append(f"  {key:16s} WRONG  no gradient (is it used? is it a Parameter? no .detach() in forward?)")
                wrong.append(key)
                continue
            if tuple(mine.shape) != tuple(ref.shape):
                rows.append(f"  {key:16s} WRONG  shape {tuple(mine.shape)}, expected {tuple(ref.shape)}")
                wrong.append(key)
                continue
            err = (mine.double() - ref.double()).abs().max().item()
            good = err <= atol
            rows.append(f"  {key:16s} {'ok' if good else 'WRONG':6s} max abs error {err:.1e}")
            if not good:
                wrong.append(key)
        case = "h0 given" if use_h0 else "h0=None"
        table = "\n".join(rows)
        if wrong:
            hint = ("Hint: compare your formula with nn.RNN's: h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh); "
                    "output[:, t] is h_t and h_n is output[:, -1] with a leading axis of size 1.")
            if not use_h0:
                hint = "Hint: with h0=None the initial state is zeros of shape (N, H) on x's device and dtype."
            named = torch_rnn_mistake(cls, device, N, T, D, H, torch.float32, use_h0, atol)
            if named:
                hint = f"Likely mistake: {named}"
            raise CheckFailed(f"TorchRNN vs nn.RNN on {device.type} (float32, {case}, tolerance {atol:.0e}):\n"
                              f"{table}\n{hint}")
        ok(f"TorchRNN matches nn.RNN on {device.type} (float32, {case}, N={N}, T={T}, D={D}, H={H}, "
              f"max abs tolerance {atol:.0e}):\n{table}")
    check_initialisation(cls)
    ok("TorchRNN: initialised uniform in [-1/sqrt(H), 1/sqrt(H)] like nn.RNN")
