"""Reference implementations of lesson 02_vanilla_rnn.

GENERATED from solutions/02_vanilla_rnn.ipynb by `python3 -m autograder export`; do not edit.
"""
import numpy as np
import torch

import course


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One time step of a vanilla RNN with a tanh nonlinearity, for a batch of N sequences.

    Inputs:
    - x: input at this step, shape (N, D)
    - prev_h: hidden state of the previous step, shape (N, H)
    - Wx: input-to-hidden weights, shape (D, H)
    - Wh: hidden-to-hidden weights, shape (H, H)
    - b: bias, shape (H,)

    Returns a tuple (next_h, cache):
    - next_h: the new hidden state tanh(x @ Wx + prev_h @ Wh + b), shape (N, H)
    - cache: the tuple (x, prev_h, Wx, Wh, next_h), in this order (lesson 3's rnn_step_backward reads it)
    """
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache


def rnn_forward(x, h0, Wx, Wh, b):
    """A vanilla RNN over a whole batch of sequences (batch first).

    Inputs:
    - x: input sequences, shape (N, T, D)
    - h0: initial hidden state, shape (N, H)
    - Wx: input-to-hidden weights, shape (D, H)
    - Wh: hidden-to-hidden weights, shape (H, H)
    - b: bias, shape (H,)

    Returns a tuple (h, cache):
    - h: hidden states of all steps, shape (N, T, H); h[:, t] is the state after reading x[:, t]
    - cache: a list of the T caches returned by rnn_step_forward, cache[t] for step t
      (each the tuple (x[:, t], h_{t-1}, Wx, Wh, h_t); lesson 3's rnn_backward reads it)

    Call rnn_step_forward at every step.
    """
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H), dtype=np.result_type(x, h0, Wx))
    cache = []
    prev_h = h0
    for t in range(T):
        prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        cache.append(step_cache)
    return h, cache


def temporal_affine_forward(x, W, b):
    """The same affine layer applied at every time step.

    Inputs:
    - x: input, shape (N, T, H) (for example the hidden states of rnn_forward)
    - W: weights, shape (H, M)
    - b: bias, shape (M,)

    Returns a tuple (out, cache):
    - out: out[n, t] = x[n, t] @ W + b, shape (N, T, M)
    - cache: the tuple (x, W, b), in this order
    """
    N, T, H = x.shape
    out = (x.reshape(N * T, H) @ W + b).reshape(N, T, W.shape[1])
    cache = (x, W, b)
    return out, cache


class TorchRNN(torch.nn.Module):
    """A one-layer tanh RNN written with torch operations, a drop-in for nn.RNN(..., batch_first=True).

    Parameters (same names, shapes and initialisation as torch.nn.RNN):
    - weight_ih_l0 (H, D), weight_hh_l0 (H, H), bias_ih_l0 (H,), bias_hh_l0 (H,),
      each entry uniform in [-1/sqrt(H), 1/sqrt(H)].

    forward(x, h0=None):
    - x: (N, T, D); h0: (1, N, H), or None for zeros
    - returns (output, h_n): output (N, T, H) with output[:, t] = h_t, and h_n (1, N, H) = the last state
    """

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        H, D = hidden_size, input_size
        self.weight_ih_l0 = torch.nn.Parameter(torch.empty(H, D))
        self.weight_hh_l0 = torch.nn.Parameter(torch.empty(H, H))
        self.bias_ih_l0 = torch.nn.Parameter(torch.empty(H))
        self.bias_hh_l0 = torch.nn.Parameter(torch.empty(H))
        bound = 1.0 / H ** 0.5
        for p in self.parameters():
            torch.nn.init.uniform_(p, -bound, bound)

    def forward(self, x, h0=None):
        N, T, _ = x.shape
        h = x.new_zeros(N, self.hidden_size) if h0 is None else h0[0]
        states = []
        for t in range(T):
            h = torch.tanh(x[:, t] @ self.weight_ih_l0.T + self.bias_ih_l0
                           + h @ self.weight_hh_l0.T + self.bias_hh_l0)
            states.append(h)
        return torch.stack(states, dim=1), h[None]


# Your answer: a whole number (int)
answer_rnn_params = 10 * 20 + 20 * 20 + 20 + 20   # W_ih, W_hh, b_ih, b_hh


# Your answer: a tuple of ints
answer_rnn_output_shape = (4, 7, 20)   # (N, T, H): the state of every step


# Your answer: a whole number (int)
answer_rnn_params_long = 10 * 20 + 20 * 20 + 20   # Wx, Wh, b: the same at every step, whatever T
