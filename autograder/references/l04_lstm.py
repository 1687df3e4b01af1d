"""Reference implementations of lesson 04_lstm.

GENERATED from solutions/04_lstm.ipynb by `python3 -m autograder export`; do not edit.
"""
import math
import time

import numpy as np
import torch
from torch import nn


def sigmoid(z):
    """Numerically stable logistic function 1 / (1 + exp(-z)), elementwise."""
    out = np.empty_like(z, dtype=np.float64)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    ez = np.exp(z[~positive])
    out[~positive] = ez / (1.0 + ez)
    return out


def forget_gate(x, h, W_f, b_f):
    """The forget gate of one LSTM step, in the lecture's notation.

    f = sigmoid(W_f [x; h] + b_f), where [x; h] is x followed by h (length D + H), as on the lecture's slides.

    Inputs:
    - x: input at this step, shape (D,)
    - h: previous hidden state, shape (H,)
    - W_f: weights, shape (H, D + H); columns 0..D-1 act on x, columns D..D+H-1 on h
    - b_f: bias, shape (H,)

    Returns:
    - f: the forget gate, shape (H,), every entry in (0, 1)
    """
    return sigmoid(W_f @ np.concatenate([x, h]) + b_f)


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step for a minibatch (gate order i, f, g, o along the 4H axis).

    Inputs:
    - x: input at this step, shape (N, D)
    - prev_h: previous hidden state, shape (N, H)
    - prev_c: previous cell state, shape (N, H)
    - Wx: input-to-gates weights, shape (D, 4H)
    - Wh: hidden-to-gates weights, shape (H, 4H)
    - b: biases, shape (4H,)

    Returns a tuple of:
    - next_h: next hidden state, shape (N, H)
    - next_c: next cell state, shape (N, H)
    - cache: the tuple (x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c), where i, f, g, o (each (N, H))
      are the gate values after their nonlinearity and next_c is the new cell state.
    """
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c)
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of one LSTM step. Does not modify its inputs.

    Inputs:
    - dnext_h: gradient of the loss with respect to next_h, shape (N, H)
    - dnext_c: gradient of the loss with respect to next_c, shape (N, H)
    - cache: (x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c) from lstm_step_forward

    Returns a tuple of:
    - dx: shape (N, D)
    - dprev_h: shape (N, H)
    - dprev_c: shape (N, H)
    - dWx: shape (D, 4H)
    - dWh: shape (H, 4H)
    - db: shape (4H,)
    """
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c = cache
    tanh_c = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    do = dnext_h * tanh_c
    da = np.concatenate([dc * g * i * (1 - i),
                         dc * prev_c * f * (1 - f),
                         dc * i * (1 - g ** 2),
                         do * o * (1 - o)], axis=1)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dprev_c = dc * f
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, c0, Wx, Wh, b):
    """LSTM over a whole sequence, calling lstm_step_forward at each step.

    Inputs:
    - x: inputs, shape (N, T, D)
    - h0: initial hidden state, shape (N, H)
    - c0: initial cell state, shape (N, H)
    - Wx (D, 4H), Wh (H, 4H), b (4H,): as in lstm_step_forward

    Returns a tuple of:
    - h: hidden states of all steps, shape (N, T, H)  (h[:, -1] is the final hidden state)
    - cT: final cell state, shape (N, H)
    - cache: a list of the T step caches, cache[t] from lstm_step_forward at step t
    """
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    prev_h, prev_c, cache = h0, c0, []
    for t in range(T):
        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        cache.append(step_cache)
    return h, prev_c, cache


def lstm_backward(dh, dcT, cache):
    """Backward pass over a whole sequence, calling lstm_step_backward at each step. Does not modify dh.

    Inputs:
    - dh: upstream gradients on every hidden state, shape (N, T, H)
    - dcT: upstream gradient on the final cell state cT, shape (N, H) (zeros when the loss ignores cT)
    - cache: the list of T step caches from lstm_forward

    Returns a tuple of:
    - dx: shape (N, T, D)
    - dh0: shape (N, H)
    - dc0: shape (N, H)
    - dWx: shape (D, 4H)
    - dWh: shape (H, 4H)
    - db: shape (4H,)
    """
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    dprev_h, dprev_c = np.zeros((N, H)), dcT
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dprev_c, dWx, dWh, db


class TorchLSTM(nn.Module):
    """A one-layer, batch-first LSTM with nn.LSTM's parameter names, shapes and gate order (i, f, g, o).

    Parameters: weight_ih_l0 (4H, D), weight_hh_l0 (4H, H), bias_ih_l0 (4H,), bias_hh_l0 (4H,).
    forward(x (N, T, D), state=(h0 (1, N, H), c0 (1, N, H)) or None)
        -> (output (N, T, H), (h_n (1, N, H), c_n (1, N, H)))
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        H, D = hidden_size, input_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(4 * H, D))
        self.weight_hh_l0 = nn.Parameter(torch.empty(4 * H, H))
        self.bias_ih_l0 = nn.Parameter(torch.empty(4 * H))
        self.bias_hh_l0 = nn.Parameter(torch.empty(4 * H))
        bound = 1.0 / math.sqrt(H)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x, state=None):
        N, T, _ = x.shape
        H = self.hidden_size
        if state is None:
            h = c = x.new_zeros(N, H)
        else:
            h, c = state[0][0], state[1][0]
        outputs = []
        for t in range(T):
            a = x[:, t] @ self.weight_ih_l0.T + self.bias_ih_l0 + h @ self.weight_hh_l0.T + self.bias_hh_l0
            i, f, g, o = a.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h.unsqueeze(0), c.unsqueeze(0))


class LSTMFunction(torch.autograd.Function):
    """LSTM over a sequence with a hand-written backward pass (NumPy layout, gate order i, f, g, o).

    apply(x (N, T, D), h0 (N, H), c0 (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,)) -> (h (N, T, H), cT (N, H))
    backward(ctx, dh (N, T, H), dcT (N, H)) -> (dx, dh0, dc0, dWx, dWh, db), shaped like the inputs.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, Wx, Wh, b):
        N, T, _ = x.shape
        H = h0.shape[1]
        h, c = h0, c0
        hs, cs, gates = [], [], []
        for t in range(T):
            a = x[:, t] @ Wx + h @ Wh + b
            i, f, o = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H:2 * H]), torch.sigmoid(a[:, 3 * H:])
            g = torch.tanh(a[:, 2 * H:3 * H])
            c = f * c + i * g
            h = o * torch.tanh(c)
            hs.append(h), cs.append(c), gates.append(torch.cat([i, f, g, o], dim=1))
        h_all, c_all, gate_all = torch.stack(hs, 1), torch.stack(cs, 1), torch.stack(gates, 1)
        ctx.save_for_backward(x, h0, c0, Wx, Wh, h_all, c_all, gate_all)
        return h_all, c

    @staticmethod
    def backward(ctx, dh, dcT):
        x, h0, c0, Wx, Wh, h_all, c_all, gate_all = ctx.saved_tensors
        N, T, H = h_all.shape
        dx = torch.zeros_like(x)
        dWx, dWh, db = torch.zeros_like(Wx), torch.zeros_like(Wh), torch.zeros(4 * H, dtype=x.dtype, device=x.device)
        dprev_h, dprev_c = torch.zeros_like(h0), dcT
        for t in reversed(range(T)):
            i, f, g, o = gate_all[:, t].split(H, dim=1)
            prev_h = h_all[:, t - 1] if t > 0 else h0
            prev_c = c_all[:, t - 1] if t > 0 else c0
            tanh_c = torch.tanh(c_all[:, t])
            dnext_h = dh[:, t] + dprev_h
            dc = dprev_c + dnext_h * o * (1 - tanh_c ** 2)
            da = torch.cat([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),
                            dc * i * (1 - g ** 2), dnext_h * tanh_c * o * (1 - o)], dim=1)
            dx[:, t] = da @ Wx.T
            dprev_h, dprev_c = da @ Wh.T, dc * f
            dWx, dWh, db = dWx + x[:, t].T @ da, dWh + prev_h.T @ da, db + da.sum(0)
        return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_cell_pointwise(a, c):
    """The pointwise part of one LSTM step in torch (not graded).

    Inputs: a (N, 4H) pre-activations in the order i, f, g, o; c (N, H) previous cell state.
    Returns (next_h, next_c), each (N, H).
    """
    i, f, g, o = a.chunk(4, dim=1)
    next_c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(next_c), next_c


class FastLSTM(TorchLSTM):
    """Batch-first one-layer LSTM with TorchLSTM's parameters (those of nn.LSTM): hoisted input GEMM, one addmm
    per step, pointwise maths in lstm_cell_pointwise (compiled with torch.compile when compile=True)."""

    def __init__(self, input_size, hidden_size, compile=False):
        super().__init__(input_size, hidden_size)
        self.cell = torch.compile(lstm_cell_pointwise, dynamic=False) if compile else lstm_cell_pointwise

    def forward(self, x, state=None):
        """Same inputs and outputs as TorchLSTM.forward. 1. One GEMM for every step's input projection, both
        biases folded in (torch.addmm, x reshaped to (N*T, D)); 2. per step one torch.addmm(xp_t, h, W_hh.T);
        3. self.cell(a, c) for the rest. Iterate over xp.unbind(1), not xp[:, t]: its backward stacks the T
        gradients once."""
        N, T, D = x.shape
        H = self.hidden_size
        if state is None:
            h = c = x.new_zeros(N, H)
        else:
            h, c = state[0][0], state[1][0]
        xp = torch.addmm(self.bias_ih_l0 + self.bias_hh_l0, x.reshape(N * T, D), self.weight_ih_l0.T).view(N, T, 4 * H)
        W_hh_T = self.weight_hh_l0.T
        outputs = []
        for xp_t in xp.unbind(1):
            h, c = self.cell(torch.addmm(xp_t, h, W_hh_T), c)
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h.unsqueeze(0), c.unsqueeze(0))


# Your answer: a whole number (int)
answer_lstm_params = 4 * (20 * 10 + 20 * 20 + 20 + 20)   # i, f, g, o: W_ih, W_hh, b_ih, b_hh each


# Your answer: a string
answer_lstm_erase = "forget"


# Your answer: a number
answer_lstm_worked_example = 1.0   # sigma(92), sigma(177), sigma(136) are 1 to many decimals: the gate is saturated open


# Your answer: a string
answer_lstm_expose = "output"
