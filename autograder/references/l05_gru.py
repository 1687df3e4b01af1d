"""Reference implementations of lesson 05_gru.

GENERATED from solutions/05_gru.ipynb by `python3 -m autograder export`; do not edit.
"""
import numpy as np
import torch
from torch import nn


def sigmoid(a):
    """Numerically stable logistic function 1 / (1 + exp(-a)), elementwise (provided)."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def gru_step_forward(x, prev_h, Wx, Wh, b):
    """One time step of the lecture's GRU (reset gate applied before the recurrent product).

    Inputs:
    - x: (N, D) inputs of this step
    - prev_h: (N, H) previous hidden state h_{t-1}
    - Wx: (D, 3H) input weights, column blocks r, z, n
    - Wh: (H, 3H) recurrent weights, column blocks r, z, n
    - b: (3H,) biases, blocks r, z, n

    Returns (next_h, cache):
    - next_h: (N, H) new hidden state h_t = (1 - z) * prev_h + z * n
    - cache: the tuple (x, prev_h, Wx, Wh, r, z, n); r, z, n each (N, H): reset gate, update gate, candidate
    """
    H = prev_h.shape[1]
    a = x @ Wx + b                                                # (N, 3H): the input parts of r, z, n
    r = sigmoid(a[:, :H] + prev_h @ Wh[:, :H])
    z = sigmoid(a[:, H:2 * H] + prev_h @ Wh[:, H:2 * H])
    n = np.tanh(a[:, 2 * H:] + (r * prev_h) @ Wh[:, 2 * H:])    # reset BEFORE the recurrent product
    next_h = (1 - z) * prev_h + z * n
    cache = (x, prev_h, Wx, Wh, r, z, n)
    return next_h, cache


def gru_step_backward(dnext_h, cache):
    """Backward pass of gru_step_forward.

    Inputs:
    - dnext_h: (N, H) gradient of the loss with respect to next_h
    - cache: (x, prev_h, Wx, Wh, r, z, n) from gru_step_forward; x (N, D), prev_h (N, H), Wx (D, 3H),
      Wh (H, 3H), r, z, n (N, H)

    Returns (dx, dprev_h, dWx, dWh, db) with shapes (N, D), (N, H), (D, 3H), (H, 3H), (3H,).
    Does not modify dnext_h or the cache.
    """
    x, prev_h, Wx, Wh, r, z, n = cache
    H = prev_h.shape[1]
    dn = dnext_h * z
    dz = dnext_h * (n - prev_h)
    dprev_h = dnext_h * (1 - z)                      # path 1: directly through (1 - z) * prev_h
    dan = dn * (1 - n ** 2)
    rh = r * prev_h
    drh = dan @ Wh[:, 2 * H:].T
    dr = drh * prev_h
    dprev_h = dprev_h + drh * r                      # path 2: through r * prev_h
    dar = dr * r * (1 - r)
    daz = dz * z * (1 - z)
    da = np.concatenate([dar, daz, dan], axis=1)     # (N, 3H)
    dx = da @ Wx.T
    dWx = x.T @ da
    db = da.sum(axis=0)
    dWh = np.concatenate([prev_h.T @ da[:, :2 * H], rh.T @ dan], axis=1)
    dprev_h = dprev_h + da[:, :2 * H] @ Wh[:, :2 * H].T   # paths 3 and 4: through r and z
    return dx, dprev_h, dWx, dWh, db


def gru_forward(x, h0, Wx, Wh, b):
    """The lecture's GRU over a whole sequence.

    Inputs:
    - x: (N, T, D) input sequence
    - h0: (N, H) initial hidden state
    - Wx: (D, 3H), Wh: (H, 3H), b: (3H,) as in gru_step_forward

    Returns (h, cache):
    - h: (N, T, H) hidden states; h[:, t] is the state after step t (h0 is not included)
    - cache: list of the T step caches of gru_step_forward, cache[t] for step t
    """
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    cache = []
    prev_h = h0
    for t in range(T):
        prev_h, step_cache = gru_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        cache.append(step_cache)
    return h, cache


def gru_backward(dh, cache):
    """Backward pass of gru_forward.

    Inputs:
    - dh: (N, T, H) gradient of the loss with respect to every hidden state h[:, t] (from the loss only)
    - cache: list of T step caches from gru_forward (see gru_step_forward for their format)

    Returns (dx, dh0, dWx, dWh, db) with shapes (N, T, D), (N, H), (D, 3H), (H, 3H), (3H,).
    Does not modify dh or the cache.
    """
    N, T, H = dh.shape
    x0, _, Wx, Wh, _, _, _ = cache[0]
    dx = np.zeros((N, T, x0.shape[1]))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(3 * H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx_t, dprev_h, dWx_t, dWh_t, db_t = gru_step_backward(dh[:, t] + dprev_h, cache[t])
        dx[:, t] = dx_t
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db


class TorchGRU(nn.Module):
    """A one-layer, batch-first GRU with torch's formulas and nn.GRU's parameter names.

    TorchGRU(input_size=D, hidden_size=H) has parameters weight_ih_l0 (3H, D), weight_hh_l0 (3H, H),
    bias_ih_l0 (3H,), bias_hh_l0 (3H,), row blocks in the order r, z, n.
    forward(x (N, T, D), h0 (1, N, H) or None) -> (output (N, T, H), h_n (1, N, H)).
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        H, bound = hidden_size, 1.0 / hidden_size ** 0.5
        self.weight_ih_l0 = nn.Parameter(torch.empty(3 * H, input_size).uniform_(-bound, bound))
        self.weight_hh_l0 = nn.Parameter(torch.empty(3 * H, H).uniform_(-bound, bound))
        self.bias_ih_l0 = nn.Parameter(torch.empty(3 * H).uniform_(-bound, bound))
        self.bias_hh_l0 = nn.Parameter(torch.empty(3 * H).uniform_(-bound, bound))

    def forward(self, x, h0=None):
        N, T, _ = x.shape
        H = self.hidden_size
        h = x.new_zeros(N, H) if h0 is None else h0[0]
        gi = x @ self.weight_ih_l0.T + self.bias_ih_l0           # (N, T, 3H): every step at once
        outputs = []
        for t in range(T):
            gh = h @ self.weight_hh_l0.T + self.bias_hh_l0       # (N, 3H): one product per step
            r = torch.sigmoid(gi[:, t, :H] + gh[:, :H])
            z = torch.sigmoid(gi[:, t, H:2 * H] + gh[:, H:2 * H])
            n = torch.tanh(gi[:, t, 2 * H:] + r * gh[:, 2 * H:])  # reset AFTER the product (and b_hn)
            h = (1 - z) * n + z * h
            outputs.append(h)
        return torch.stack(outputs, dim=1), h.unsqueeze(0)


# Your answer: a whole number (int)
answer_gru_params = 3 * (20 * 10 + 20 * 20 + 20 + 20)   # r, z, n: W_ih, W_hh, b_ih, b_hh each


# Your answer: a number
answer_gru_copy = 0   # h_t = 1 * h_{t-1} + 0 * candidate


# Your answer: a string
answer_gru_candidate_gate = "reset"
