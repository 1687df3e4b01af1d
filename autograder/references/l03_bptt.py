"""Reference implementations of lesson 03_bptt.

GENERATED from solutions/03_bptt.ipynb by `python3 -m autograder export`; do not edit.
"""
import numpy as np
import torch


def rnn_step_backward(dnext_h, cache):
    """Backward pass of one vanilla RNN step (rnn_step_forward).

    Inputs:
    - dnext_h: (N, H) gradient of the loss with respect to next_h
    - cache: (x, prev_h, Wx, Wh, next_h) from rnn_step_forward, with
      x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), next_h (N, H)

    Returns a tuple of:
    - dx: (N, D) gradient with respect to x
    - dprev_h: (N, H) gradient with respect to prev_h
    - dWx: (D, H) gradient with respect to Wx
    - dWh: (H, H) gradient with respect to Wh
    - db: (H,) gradient with respect to b
    Do not modify dnext_h or the arrays in cache.
    """
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1.0 - next_h ** 2)   # through tanh, from its output
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_backward(dh, cache):
    """Backpropagation through time for a vanilla RNN (rnn_forward).

    Inputs:
    - dh: (N, T, H) upstream gradients on ALL hidden states, dL/dh[:, t] from the layers above
      (not including what flows back through the recurrence)
    - cache: list of the T step caches from rnn_forward; cache[t] = (x_t, prev_h, Wx, Wh, next_h)

    Returns a tuple of:
    - dx: (N, T, D) gradient with respect to the inputs x
    - dh0: (N, H) gradient with respect to the initial hidden state h0
    - dWx: (D, H) gradient with respect to Wx, summed over time
    - dWh: (H, H) gradient with respect to Wh, summed over time
    - db: (H,) gradient with respect to b, summed over time
    Must call rnn_step_backward once per time step and must not modify dh.
    """
    N, T, H = dh.shape
    x0, _, Wx, Wh, _ = cache[0]
    D = x0.shape[1]
    dx = np.zeros((N, T, D))
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])
        dx[:, t, :] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


def temporal_affine_backward(dout, cache):
    """Backward pass of temporal_affine_forward (out[:, t] = x[:, t] W + b at every step).

    Inputs:
    - dout: (N, T, M) upstream gradient
    - cache: (x, W, b) from temporal_affine_forward, with x (N, T, D), W (D, M), b (M,)

    Returns a tuple of:
    - dx: (N, T, D)
    - dW: (D, M), summed over batch and time
    - db: (M,), summed over batch and time
    """
    x, W, b = cache
    N, T, D = x.shape
    M = W.shape[1]
    dx = dout @ W.T
    dW = x.reshape(N * T, D).T @ dout.reshape(N * T, M)
    db = dout.sum(axis=(0, 1))
    return dx, dW, db


def temporal_softmax_loss(x, y, mask):
    """Softmax cross-entropy at every time step, averaged over the unmasked tokens.

    Inputs:
    - x: (N, T, V) scores
    - y: (N, T) integer targets, each in [0, V)
    - mask: (N, T) bool, True where the token counts (at least one True)

    Returns a tuple of:
    - loss: float, sum over unmasked (n, t) of -log softmax(x[n, t])[y[n, t]], divided by mask.sum()
    - dx: (N, T, V) gradient of loss with respect to x (zero at masked positions)
    Numerically stable for large scores; does not modify its inputs.
    """
    N, T, V = x.shape
    flat_x = x.reshape(N * T, V)
    flat_y = y.reshape(N * T)
    flat_m = mask.reshape(N * T).astype(np.float64)
    shifted = flat_x - flat_x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    count = flat_m.sum()
    rows = np.arange(N * T)
    loss = -np.sum(log_probs[rows, flat_y] * flat_m) / count
    dx = np.exp(log_probs)
    dx[rows, flat_y] -= 1.0
    dx *= flat_m[:, None] / count
    return float(loss), dx.reshape(N, T, V)


def clip_grad_norm(grads, max_norm):
    """Clip a list of gradient arrays by their global L2 norm, like torch.nn.utils.clip_grad_norm_.

    Inputs:
    - grads: list of arrays of any shapes (e.g. [dWx (D, H), dWh (H, H), db (H,)])
    - max_norm: float > 0

    Returns a tuple of:
    - clipped_grads: list of NEW arrays, same shapes as grads; when total_norm > max_norm every array
      is multiplied by max_norm / (total_norm + 1e-6), otherwise they are unchanged copies
    - total_norm: float, sqrt of the sum of squares of all entries of all arrays (before clipping)
    Does not modify the arrays in grads.
    """
    total_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads)))
    scale = max_norm / (total_norm + 1e-6)
    if scale < 1.0:
        clipped = [g * scale for g in grads]
    else:
        clipped = [np.array(g, dtype=np.float64, copy=True) for g in grads]
    return clipped, total_norm


class RNNFunction(torch.autograd.Function):
    """A vanilla RNN over a sequence with a hand-written backward (BPTT).

    forward(ctx, x, h0, Wx, Wh, b):
    - x: (N, T, D), h0: (N, H), Wx: (D, H), Wh: (H, H), b: (H,), all on one device, one float dtype
    - returns h: (N, T, H), h[:, t] = tanh(x[:, t] @ Wx + h[:, t-1] @ Wh + b) with h[:, -1] read as h0 at t = 0

    backward(ctx, dh):
    - dh: (N, T, H) upstream gradient on every hidden state
    - returns (dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,)), computed by BPTT
      with torch operations (no autograd, no NumPy)
    """

    @staticmethod
    def forward(ctx, x, h0, Wx, Wh, b):
        states = []
        prev_h = h0
        for t in range(x.shape[1]):
            prev_h = torch.tanh(x[:, t] @ Wx + prev_h @ Wh + b)
            states.append(prev_h)
        h = torch.stack(states, dim=1)
        ctx.save_for_backward(x, h0, Wx, Wh, h)
        return h

    @staticmethod
    def backward(ctx, dh):
        x, h0, Wx, Wh, h = ctx.saved_tensors
        T = x.shape[1]
        dx = torch.zeros_like(x)
        dWx = torch.zeros_like(Wx)
        dWh = torch.zeros_like(Wh)
        db = torch.zeros_like(h0[0])
        dprev_h = torch.zeros_like(h0)
        for t in reversed(range(T)):
            prev_h = h[:, t - 1] if t > 0 else h0
            da = (dh[:, t] + dprev_h) * (1 - h[:, t] ** 2)
            dx[:, t] = da @ Wx.T
            dWx = dWx + x[:, t].T @ da
            dWh = dWh + prev_h.T @ da
            db = db + da.sum(dim=0)
            dprev_h = da @ Wh.T
        return dx, dprev_h, dWx, dWh, db


# Your answer: a tuple of ints
answer_grad_shape = (10, 20)   # the shape of Wx, (D, H)


# Your answer: a list of numbers
answer_clipped_gradient = [3.0, 4.0]   # norm 10 -> 5: every component halved


# Your answer: a string
answer_vanishing = "vanishes"   # like 0.5 ** k
