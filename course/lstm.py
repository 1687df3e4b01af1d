"""LSTM helpers for lesson 4: torch oracles for the visible checks and the gate-order diagnosis.

Contains no solution code: the oracles are torch.nn.LSTMCell / torch.nn.LSTM loaded with your
NumPy weights (float64), differentiated by autograd. The diagnosis never looks at your code; it
compares your numbers with the oracle's numbers for weights whose gate blocks were permuted.

The course's layout (course/layout.py):  a = x @ Wx + h @ Wh + b,  Wx (D, 4H), Wh (H, 4H), b (4H,), and
the four blocks of width H along the last axis are, in torch's order,
    [0:H] input gate i,  [H:2H] forget gate f,  [2H:3H] candidate g (tanh),  [3H:4H] output gate o.
"""
import itertools

import numpy as np

from course.layout import load_numpy_weights
from course.numerics import rel_error

GATES = ("i", "f", "g", "o")
GATE_NAMES = {"i": "input gate i", "f": "forget gate f", "g": "candidate g", "o": "output gate o"}
KNOWN_ORDERS = {
    ("i", "f", "o", "g"): "CS231n's (and fastbook's) order: the g and o blocks are swapped",
    ("f", "i", "g", "o"): "the input and forget gates swapped",
    ("i", "g", "f", "o"): "TensorFlow's BasicLSTMCell order i, j, f, o (j is the candidate g)",
    ("f", "i", "o", "g"): "i and f swapped, and g and o swapped",
    ("i", "o", "g", "f"): "the forget and output gates swapped",
    ("o", "f", "g", "i"): "the input and output gates swapped",
    ("i", "f", "g", "o"): "the course's order",
}
LAYOUT = ("The course uses torch's order: columns [0:H] input gate i, [H:2H] forget gate f, "
          "[2H:3H] candidate g (tanh), [3H:4H] output gate o.")


def blocks(W, H):
    """The four gate blocks of W along its last axis, as a dict {gate: block} in the course's order."""
    W = np.asarray(W)
    return {gate: W[..., k * H:(k + 1) * H] for k, gate in enumerate(GATES)}


def read_as(W, order, H):
    """Weights in the course's order that make torch compute what code reading W's blocks in `order` computes.

    Code that takes block k of W as gate order[k] computes exactly what a correct LSTM computes
    with read_as(W, order, H). Example: read_as(W, ("i", "f", "o", "g"), H) swaps the last two blocks.
    """
    W = np.asarray(W)
    by_gate = {gate: W[..., k * H:(k + 1) * H] for k, gate in enumerate(order)}
    return np.concatenate([by_gate[gate] for gate in GATES], axis=-1)


def write_as(G, order, H):
    """Gradients laid out the way code that writes gate order[k]'s gradient into block k lays them out."""
    by_gate = blocks(G, H)
    return np.concatenate([by_gate[gate] for gate in order], axis=-1)


def describe_order(order):
    known = KNOWN_ORDERS.get(tuple(order))
    name = ", ".join(order)
    return (f"your result is exactly what an LSTM gives when it reads the four gate blocks in the order "
            f"{name}" + (f" -- {known}" if known else "") + ". " + LAYOUT)


def _all_close(actuals, expecteds, tol):
    try:
        return all(np.shape(a) == np.shape(e) and rel_error(a, e) <= tol for a, e in zip(actuals, expecteds))
    except Exception:
        return False


def gate_order_mistake(actuals, oracle, weights, H, tol=1e-6):
    """Name the gate order that explains `actuals`, or None.

    actuals: tuple of your outputs; oracle(*weights) -> tuple of the correct outputs for weights in the
    course's order; weights: the (Wx, Wh, b) you were given. Tries the 23 wrong orders.
    """
    actuals = tuple(np.asarray(a, dtype=np.float64) for a in actuals)
    for order in itertools.permutations(GATES):
        if order == GATES:
            continue
        expected = oracle(*[read_as(W, order, H) for W in weights])
        if _all_close(actuals, expected, tol):
            return describe_order(order)
    return None


def gradient_order_mistake(dW_actual, dW_expected, H, tol=1e-6, name="weight gradient"):
    """Name the gate order in which your weight gradient's blocks were written, or None."""
    dW_actual = np.asarray(dW_actual, dtype=np.float64)
    for order in itertools.permutations(GATES):
        if order == GATES:
            continue
        if _all_close((dW_actual,), (write_as(dW_expected, order, H),), tol):
            return (f"your {name} has the right blocks in the wrong places: you wrote the gradients of the "
                    f"gates into the 4H columns in the order {', '.join(order)}"
                    + (f" ({KNOWN_ORDERS[order]})" if order in KNOWN_ORDERS else "")
                    + ". Stack da as [di, df, dg, do]. " + LAYOUT)
    return None


# ---------------------------------------------------------------------------------------------
# Oracles: torch.nn loaded with NumPy weights, float64.

def _torch():
    import torch
    return torch


def torch_cell(Wx, Wh, b):
    """nn.LSTMCell(D, H).double() holding the NumPy weights (weight_ih = Wx.T, bias_ih + bias_hh = b)."""
    torch = _torch()
    D, H4 = np.shape(Wx)
    cell = torch.nn.LSTMCell(D, H4 // 4).double()
    return load_numpy_weights(cell, Wx, Wh, b, suffix="")


def torch_layer(Wx, Wh, b):
    """nn.LSTM(D, H, batch_first=True).double() holding the NumPy weights."""
    torch = _torch()
    D, H4 = np.shape(Wx)
    layer = torch.nn.LSTM(D, H4 // 4, batch_first=True).double()
    return load_numpy_weights(layer, Wx, Wh, b)


def step_oracle(x, prev_h, prev_c, Wx, Wh, b):
    """(next_h, next_c) from nn.LSTMCell, as float64 arrays."""
    torch = _torch()
    with torch.no_grad():
        h, c = torch_cell(Wx, Wh, b)(torch.tensor(x), (torch.tensor(prev_h), torch.tensor(prev_c)))
    return h.numpy(), c.numpy()


def step_grads_oracle(x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c):
    """(dx, dprev_h, dprev_c, dWx, dWh, db) by autograd through nn.LSTMCell."""
    torch = _torch()
    cell = torch_cell(Wx, Wh, b)
    xs = [torch.tensor(a, requires_grad=True) for a in (x, prev_h, prev_c)]
    h, c = cell(xs[0], (xs[1], xs[2]))
    torch.autograd.backward((h, c), (torch.tensor(dnext_h), torch.tensor(dnext_c)))
    dWx = cell.weight_ih.grad.numpy().T
    dWh = cell.weight_hh.grad.numpy().T
    return tuple(t.grad.numpy() for t in xs) + (dWx, dWh, cell.bias_ih.grad.numpy())


STEP_GRAD_NAMES = ["dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"]
NO_TANH_DERIVATIVE = ("the cell path misses tanh's derivative: dc = dnext_c + dnext_h * o * (1 - tanh(next_c)**2), "
                      "not dnext_c + dnext_h * o.")
NO_FORGET_IN_DPREV_C = "dprev_c is missing the forget gate: next_c = f * prev_c + i * g, so dprev_c = dc * f."


def step_backward_mistakes(x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c):
    """[[(candidate, text)] for each of dx, dprev_h, dprev_c, dWx, dWh, db]: what lstm_step_backward's classic
    mistakes give, read off nn.LSTMCell's autograd (no gate formulas here):
    - without tanh's derivative on the cell path, the cell gets dnext_h * o more than dnext_h * o * (1 - t**2),
      i.e. the true gradients for dnext_c + dnext_h * h * t (h = o * t, t = tanh(next_c));
    - dprev_c without the forget gate is dc = (true dprev_c) / f, and f = d next_c / d prev_c."""
    h, c = step_oracle(x, prev_h, prev_c, Wx, Wh, b)
    no_tanh = step_grads_oracle(x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c + dnext_h * h * np.tanh(c))
    want = step_grads_oracle(x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c)
    f = step_grads_oracle(x, prev_h, prev_c, Wx, Wh, b, np.zeros_like(h), np.ones_like(c))[2]
    mistakes = [[(no_tanh[k], NO_TANH_DERIVATIVE)] for k in range(6)]
    mistakes[2].append((want[2] / f, NO_FORGET_IN_DPREV_C))
    return mistakes


def sequence_oracle(x, h0, c0, Wx, Wh, b):
    """(h (N, T, H), cT (N, H)) from nn.LSTM(batch_first=True)."""
    torch = _torch()
    with torch.no_grad():
        h, (_, cT) = torch_layer(Wx, Wh, b)(torch.tensor(x), (torch.tensor(h0)[None], torch.tensor(c0)[None]))
    return h.numpy(), cT[0].numpy()


def sequence_grads_oracle(x, h0, c0, Wx, Wh, b, dh, dcT, carry_h=True, carry_c=True):
    """(dx, dh0, dc0, dWx, dWh, db) by autograd through nn.LSTMCell unrolled over time.

    carry_h / carry_c = False cut the gradient between steps (detach), which is what a backward pass
    that forgets to carry dprev_h / dprev_c to the previous step computes; used to name that mistake.
    """
    torch = _torch()
    cell = torch_cell(Wx, Wh, b)
    xt, h, c = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    leaves = (xt, h, c)
    hs = []
    for t in range(x.shape[1]):
        h, c = cell(xt[:, t], (h if carry_h or t == 0 else h.detach(), c if carry_c or t == 0 else c.detach()))
        hs.append(h)
    torch.autograd.backward((torch.stack(hs, 1), c), (torch.tensor(dh), torch.tensor(dcT)))
    grads = tuple(leaf.grad.numpy() if leaf.grad is not None else np.zeros(leaf.shape) for leaf in leaves)
    return grads + (cell.weight_ih.grad.numpy().T, cell.weight_hh.grad.numpy().T, cell.bias_ih.grad.numpy())


def forget_gate_oracle(x, h, W_f, b_f):
    """The forget gate sigma(W_f [x; h] + b_f), x first as the lecture writes it, read off nn.LSTMCell (float64).

    W_f has shape (H, D + H): its first D columns act on x, the last H on h (columns 0..D-1 are
    nn.LSTMCell's weight_ih rows of the f-block, the rest its weight_hh rows).
    Trick: give the cell the forget-gate weights, shut its input gate (bias -inf, so i = 0 exactly)
    and feed it c = 1; then its new cell state is c' = f * 1 + 0 * g = f.
    """
    torch = _torch()
    x, h, W_f, b_f = (np.asarray(a, dtype=np.float64) for a in (x, h, W_f, b_f))
    H, D = len(h), len(x)
    Wx, Wh, b = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    Wx[:, H:2 * H], Wh[:, H:2 * H], b[H:2 * H] = W_f[:, :D].T, W_f[:, D:].T, b_f
    b[:H] = -np.inf
    with torch.no_grad():
        _, c = torch_cell(Wx, Wh, b)(torch.tensor(x)[None], (torch.tensor(h)[None], torch.ones(1, H, dtype=torch.float64)))
    return c[0].numpy()


FORGET_NO_SIGMOID = "you returned the pre-activation z = W_f [x; h] + b_f: apply the sigmoid."
FORGET_H_FIRST = ("you concatenated [h, x], h first, the order colah's post and the LSTM summary write; this "
                  "lesson follows the lecture's slides, [x; h] with x first: the first D columns of W_f act on x, "
                  "the last H on h.")


FORGET_NO_BIAS = "your gate is the one without the bias: add b_f inside the sigmoid, sigma(W_f [x; h] + b_f)."


def h_first_weights(W_f, D):
    """Weights W' with W' [x; h] = W_f [h; x]: what a forget gate that concatenates h first computes."""
    W_f = np.asarray(W_f, dtype=np.float64)
    H = W_f.shape[1] - D
    return np.concatenate([W_f[:, H:], W_f[:, :H]], axis=1)


def forget_gate_hints(x, h, W_f, b_f):
    """Hints for course.check_close: (predicate(actual, expected), message) for the classic forget-gate mistakes.

    Every predicate compares the student's numbers with the oracle's (never with solution code): a
    missing sigmoid when sigmoid(your numbers) is the oracle's gate; [h, x] when your numbers are the
    oracle's on h_first_weights(W_f, D).
    """
    def no_sigmoid(actual, expected):      # sigmoid(what you returned) is the gate: you returned z
        z = np.asarray(actual, dtype=np.float64)
        return not np.allclose(z, expected) and np.allclose(0.5 * (1 + np.tanh(z / 2)), expected, rtol=1e-7, atol=1e-12)

    def h_first(actual, expected):
        other = forget_gate_oracle(x, h, h_first_weights(W_f, len(x)), b_f)
        return not np.allclose(other, expected) and np.allclose(actual, other, rtol=1e-7, atol=1e-9)

    def no_bias(actual, expected):
        other = forget_gate_oracle(x, h, W_f, np.zeros_like(np.asarray(b_f, dtype=np.float64)))
        return not np.allclose(other, expected) and np.allclose(actual, other, rtol=1e-7, atol=1e-12)

    return [(no_sigmoid, FORGET_NO_SIGMOID), (h_first, FORGET_H_FIRST), (no_bias, FORGET_NO_BIAS)]


def forget_gate_mistake(f, x, h, W_f, b_f):
    """The message of the first forget-gate mistake whose numbers `f` matches, or None (for the hidden check)."""
    expected = forget_gate_oracle(x, h, W_f, b_f)
    for predicate, message in forget_gate_hints(x, h, W_f, b_f):
        try:
            if predicate(np.asarray(f, dtype=np.float64), expected):
                return message
        except Exception:
            pass
    return None


def layer_order_mistake(output, reference, x, state=None, atol=1e-5):
    """Name the gate order for which `reference` (an nn.LSTM) with permuted weight rows gives `output`, or
    the bias left out when `reference` without it gives `output`; None when neither.

    torch stores the transposed layout (4H rows), so the rows of weight_ih/weight_hh and the entries of
    the biases are permuted block by block; the module's weights are restored afterwards.
    """
    torch = _torch()
    H = reference.hidden_size
    base = {k: v.detach().clone() for k, v in reference.state_dict().items()}
    try:
        for order in itertools.permutations(GATES):
            if order == GATES:
                continue
            reference.load_state_dict({k: torch.tensor(read_as(v.cpu().numpy().T, order, H).T.copy()).to(v)
                                       for k, v in base.items()})
            with torch.no_grad():
                expected = reference(x, state)[0]
            if expected.shape == output.shape and float((expected - output.detach()).abs().max()) <= atol:
                return describe_order(order).replace("columns", "rows of weight_ih/weight_hh")
        for missing in ("bias_hh_l0", "bias_ih_l0"):       # one of the two biases left out
            reference.load_state_dict({k: (torch.zeros_like(v) if k == missing else v) for k, v in base.items()})
            with torch.no_grad():
                expected = reference(x, state)[0]
            if expected.shape == output.shape and float((expected - output.detach()).abs().max()) <= atol:
                return f"{missing} is missing: nn.LSTM adds both biases, b_ih and b_hh."
    finally:
        reference.load_state_dict(base)
    return None
