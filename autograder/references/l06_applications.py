"""Reference implementations of lesson 06_applications.

GENERATED from solutions/06_applications.ipynb by `python3 -m autograder export`; do not edit.
"""
import numpy as np
import torch
from torch import nn


def rnn_layer_forward(x, h0, Wx, Wh, b):
    """A vanilla tanh RNN over a sequence (lesson 2's rnn_forward, provided).

    x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,) -> h (N, T, H), h[:, t] the state after x[:, t].
    """
    h, states = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        states.append(h)
    return np.stack(states, axis=1)


def birnn_forward(x, h0_f, h0_b, params_f, params_b):
    """A bidirectional tanh RNN layer.

    Inputs:
    - x: (N, T, D) input sequences
    - h0_f, h0_b: (N, H) initial states of the forward and the backward chain
    - params_f, params_b: tuples (Wx (D, H), Wh (H, H), b (H,)) of the forward and the backward chain

    Returns:
    - h: (N, T, 2H); h[:, t, :H] is the forward state after reading x[:, 0..t], h[:, t, H:] the backward
      state after reading x[:, T-1], ..., x[:, t] (right to left)
    """
    forward = rnn_layer_forward(x, h0_f, *params_f)
    backward = rnn_layer_forward(x[:, ::-1], h0_b, *params_b)[:, ::-1]
    return np.concatenate([forward, backward], axis=2)


class DeepBiLSTM(nn.Module):
    """A stacked bidirectional batch-first LSTM with nn.LSTM's parameter names and formulas.

    DeepBiLSTM(input_size=D, hidden_size=H, num_layers=L) has, for k in 0..L-1 and suffix in ("", "_reverse"),
    weight_ih_l{k}{suffix} (4H, D if k == 0 else 2H), weight_hh_l{k}{suffix} (4H, H), bias_ih_l{k}{suffix} (4H,),
    bias_hh_l{k}{suffix} (4H,); row blocks i, f, g, o.
    forward(x (N, T, D), state=None or (h0, c0) each (2L, N, H)) -> (output (N, T, 2H), (h_n, c_n) each (2L, N, H)).
    """

    def __init__(self, input_size, hidden_size, num_layers=2):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        H, bound = hidden_size, 1.0 / hidden_size ** 0.5
        for k in range(num_layers):
            D_in = input_size if k == 0 else 2 * H
            for suffix in ("", "_reverse"):
                for name, shape in (("weight_ih", (4 * H, D_in)), ("weight_hh", (4 * H, H)),
                                    ("bias_ih", (4 * H,)), ("bias_hh", (4 * H,))):
                    setattr(self, f"{name}_l{k}{suffix}", nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))

    def forward(self, x, state=None):
        N, T, _ = x.shape
        H, L = self.hidden_size, self.num_layers
        if state is None:
            h0 = c0 = x.new_zeros(2 * L, N, H)
        else:
            h0, c0 = state
        layer_input, h_n, c_n = x, [], []
        for k in range(L):
            directions = []
            for d, suffix in enumerate(("", "_reverse")):
                W_ih, W_hh = getattr(self, f"weight_ih_l{k}{suffix}"), getattr(self, f"weight_hh_l{k}{suffix}")
                b_ih, b_hh = getattr(self, f"bias_ih_l{k}{suffix}"), getattr(self, f"bias_hh_l{k}{suffix}")
                gi = layer_input @ W_ih.T + b_ih                  # (N, T, 4H), all steps at once
                h, c = h0[2 * k + d], c0[2 * k + d]
                outputs = [None] * T
                for t in (range(T) if d == 0 else reversed(range(T))):
                    i, f, g, o = (gi[:, t] + h @ W_hh.T + b_hh).chunk(4, dim=1)
                    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                    h = torch.sigmoid(o) * torch.tanh(c)
                    outputs[t] = h
                directions.append(torch.stack(outputs, dim=1))
                h_n.append(h)
                c_n.append(c)
            layer_input = torch.cat(directions, dim=2)             # (N, T, 2H): the next layer's input
        return layer_input, (torch.stack(h_n), torch.stack(c_n))


def masked_pool(h, mask, mode):
    """Pool a padded batch of state sequences into one vector per sequence.

    Inputs:
    - h: (N, T, H) hidden states
    - mask: (N, T) of 0.0/1.0; 1 for real positions, 0 for padding; each row is ones then zeros, at least one 1
    - mode: "sum", "mean", "max" or "last"

    Returns (out, cache):
    - out: (N, H) the pooled vectors (sum over real positions; their mean; their max per unit; the state at the
      last real position)
    - cache: the tuple (h, mask, mode)
    """
    m = mask[:, :, None]
    if mode == "sum":
        out = (h * m).sum(axis=1)
    elif mode == "mean":
        out = (h * m).sum(axis=1) / m.sum(axis=1)
    elif mode == "max":
        out = np.where(m > 0, h, -np.inf).max(axis=1)
    elif mode == "last":
        last = mask.sum(axis=1).astype(int) - 1
        out = h[np.arange(h.shape[0]), last]
    else:
        raise ValueError(f"unknown mode {mode!r}")
    return out, (h, mask, mode)


def masked_pool_backward(dout, cache):
    """Backward pass of masked_pool.

    Inputs:
    - dout: (N, H) gradient of the loss with respect to out
    - cache: (h, mask, mode) from masked_pool; h (N, T, H), mask (N, T)

    Returns dh: (N, T, H), zero at padded positions. Does not modify dout or the cache.
    """
    h, mask, mode = cache
    N, T, H = h.shape
    m = mask[:, :, None]
    if mode == "sum":
        return dout[:, None, :] * m
    if mode == "mean":
        return dout[:, None, :] * m / m.sum(axis=1, keepdims=True)
    dh = np.zeros_like(h)
    if mode == "max":
        winner = np.where(m > 0, h, -np.inf).argmax(axis=1)       # (N, H)
        np.put_along_axis(dh, winner[:, None, :], dout[:, None, :], axis=1)
    elif mode == "last":
        dh[np.arange(N), mask.sum(axis=1).astype(int) - 1] = dout
    else:
        raise ValueError(f"unknown mode {mode!r}")
    return dh


def masked_pool_torch(h, mask, mode):
    """masked_pool with torch tensors: h (N, T, H), mask (N, T) float 0/1 -> out (N, H), differentiable."""
    m = mask.unsqueeze(2).to(h.dtype)
    if mode == "sum":
        return (h * m).sum(dim=1)
    if mode == "mean":
        return (h * m).sum(dim=1) / m.sum(dim=1)
    if mode == "max":
        return h.masked_fill(m == 0, float("-inf")).max(dim=1).values
    if mode == "last":
        last = mask.sum(dim=1).long() - 1
        return h[torch.arange(h.shape[0], device=h.device), last]
    raise ValueError(f"unknown mode {mode!r}")


def sample_with_temperature(logits, temperature, rng):
    """Draw one token id per row from softmax(logits / temperature).

    Inputs:
    - logits: (N, V) float array of unnormalised log-probabilities
    - temperature: float >= 0; 0 means greedy (argmax)
    - rng: a numpy.random.Generator; call rng.random(N) exactly once (not at all when temperature == 0)

    Returns (ids, probs):
    - ids: (N,) int array; ids[n] = the first v with cumsum(probs[n])[v] > u[n], where u = rng.random(N)
    - probs: (N, V) the distributions sampled from (one-hot at the argmax when temperature == 0)
    """
    N, V = logits.shape
    if temperature == 0:
        ids = logits.argmax(axis=1)
        return ids, np.eye(V)[ids]
    z = logits / temperature
    p = np.exp(z - z.max(axis=1, keepdims=True))
    probs = p / p.sum(axis=1, keepdims=True)
    u = rng.random(N)
    ids = np.minimum((np.cumsum(probs, axis=1) <= u[:, None]).sum(axis=1), V - 1)
    return ids, probs


def beam_search(step_fn, start_state, bos, eos, beam_size, max_len):
    """Beam search decoding.

    Inputs:
    - step_fn: function (token: int, state) -> (log_probs: (V,) array, new_state)
    - start_state: the decoder state before the first token (e.g. the encoder's summary)
    - bos, eos: int ids of the start and end symbols
    - beam_size: int >= 1, how many hypotheses are kept at each step
    - max_len: int >= 1, the most tokens generated (eos included)

    Returns (tokens, score): tokens a list of int (without bos; ends with eos if the hypothesis finished),
    score the float sum of their log-probabilities; the best finished hypothesis (see the procedure above).
    """
    alive, finished = [([], 0.0, start_state)], []
    for _ in range(max_len):
        candidates = []
        for tokens, score, state in alive:
            log_probs, new_state = step_fn(tokens[-1] if tokens else bos, state)
            log_probs = np.asarray(log_probs, dtype=np.float64)
            for v in range(len(log_probs)):
                candidates.append((score + log_probs[v], tokens + [v], new_state))
        candidates.sort(key=lambda c: -c[0])
        alive = []
        for score, tokens, state in candidates[:beam_size]:
            if tokens[-1] == eos:
                finished.append((tokens, float(score)))
            else:
                alive.append((tokens, float(score), state))
        if not alive:
            break
    finished += [(tokens, score) for tokens, score, _ in alive]
    return max(finished, key=lambda f: f[1])


class CaptionDecoder(nn.Module):
    """An LSTM decoder that writes a caption from image features v (N, F)."""

    def __init__(self, feature_size, vocab_size, word_size=32, state_size=96):
        super().__init__()
        self.picture_to_h = nn.Linear(feature_size, state_size)                 # h_0 = tanh(W_v v + b_v)
        self.word_vectors = nn.Embedding(vocab_size, word_size)
        self.lstm = nn.LSTM(word_size + feature_size, state_size, batch_first=True)
        self.to_logits = nn.Linear(state_size, vocab_size)

    def start_state(self, v):
        """The state before the first word: h_0 = tanh(picture_to_h(v)), c_0 = 0, each (1, N, H)."""
        h_start = torch.tanh(self.picture_to_h(v)).unsqueeze(0)
        return h_start, torch.zeros_like(h_start)

    def forward(self, v, tokens, state=None):
        """v (N, F) float, tokens (N, T) long -> (logits (N, T, V), (h, c) each (1, N, H)).

        state None: start from start_state(v); otherwise continue from state.
        The input of step t is [word_vectors(tokens[:, t]); v] (the word first).
        """
        if state is None:
            state = self.start_state(v)
        picture = v[:, None, :].repeat(1, tokens.shape[1], 1)   # the same v beside every word
        states, state = self.lstm(torch.cat((self.word_vectors(tokens), picture), dim=-1), state)
        return self.to_logits(states), state


def greedy_caption(decoder, v, bos, eos, max_len):
    """Greedy decoding of a batch: decoder(v, token (N, 1), state) -> (logits (N, 1, V), state).

    Returns a list of N lists of int ids: each row's argmax words up to (not including) its first eos,
    at most max_len words. One decoder call per step for the whole batch; stop when every row has ended.
    """
    N = v.shape[0]
    token = torch.full((N, 1), bos, dtype=torch.long, device=v.device)
    state, words, ended = None, [[] for _ in range(N)], [False] * N
    for _ in range(max_len):
        logits, state = decoder(v, token, state)
        token = logits[:, -1].argmax(dim=1, keepdim=True)
        for n, word in enumerate(token[:, 0].tolist()):
            if not ended[n]:
                if word == eos:
                    ended[n] = True
                else:
                    words[n].append(int(word))
        if all(ended):
            break
    return words


# Your answer: a tuple of ints
answer_bilstm_shape = (4, 7, 32)   # both directions of the last layer, concatenated


# Your answer: a number
answer_temperature = 2   # z / 2 shrinks the gaps between the logits


# Your answer: a string
answer_teacher_forcing = "b"


# Your answer: a string
answer_captioning_shape = "one-to-many"   # one image in, a sentence out
