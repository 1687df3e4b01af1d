"""Reference implementations of lesson 01_sequences.

GENERATED from solutions/01_sequences.ipynb by `python3 -m autograder export`; do not edit.
"""
from collections import Counter

import numpy as np
import torch

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


def build_vocab(tokens, min_count=1):
    """Build a vocabulary from a sequence of tokens.

    Inputs:
    - tokens: an iterable of str (characters, e.g. list(text), or words, e.g. text.split())
    - min_count: int, keep only tokens that occur at least this many times

    Returns a tuple (itos, stoi):
    - itos: list of str of length V. itos[:4] == list(SPECIALS) (ids PAD=0, BOS=1, EOS=2, UNK=3), then
      every kept token once, in sorted() order. Tokens equal to a special string are not added again.
    - stoi: dict str -> int with stoi[itos[i]] == i for every i.
    """
    counts = Counter(tokens)
    kept = sorted(token for token, count in counts.items() if count >= min_count and token not in SPECIALS)
    itos = list(SPECIALS) + kept
    stoi = {token: i for i, token in enumerate(itos)}
    return itos, stoi


def encode(tokens, stoi):
    """Map tokens to ids.

    Inputs:
    - tokens: a sequence of T str
    - stoi: dict str -> int from build_vocab

    Returns:
    - ids: int64 array of shape (T,); a token missing from stoi gets the id UNK (= 3)
    """
    return np.array([stoi.get(token, UNK) for token in tokens], dtype=np.int64)


def decode(ids, itos):
    """Map ids back to tokens.

    Inputs:
    - ids: a sequence (list or 1-D int array) of T ids
    - itos: list of str from build_vocab

    Returns:
    - tokens: list of T str, tokens[t] == itos[ids[t]]
    """
    return [itos[int(i)] for i in ids]


def one_hot(ids, V):
    """One-hot encode integer ids.

    Inputs:
    - ids: int array of any shape S, e.g. (N, T), with values in [0, V)
    - V: int, vocabulary size

    Returns:
    - out: float64 array of shape S + (V,), out[..., v] = 1.0 where ids == v, else 0.0
    """
    return np.eye(V, dtype=np.float64)[np.asarray(ids)]


def embedding_forward(ids, W):
    """Embedding lookup.

    Inputs:
    - ids: int array of shape (N, T) (any shape S works), values in [0, V)
    - W: float64 array of shape (V, D), row v is the vector of token v

    Returns a tuple (out, cache):
    - out: array of shape (N, T, D) (in general S + (D,)), out[n, t] = W[ids[n, t]]
    - cache: the tuple (ids, W)
    """
    out = W[ids]
    cache = (ids, W)
    return out, cache


def embedding_backward(dout, cache):
    """Backward pass of the embedding lookup.

    Inputs:
    - dout: upstream gradient of shape (N, T, D) (in general S + (D,))
    - cache: the tuple (ids, W) from embedding_forward

    Returns:
    - dW: array of shape (V, D); dW[v] is the sum of dout[n, t] over all (n, t) with ids[n, t] == v.
      Does not modify dout or the cache.
    """
    ids, W = cache
    dW = np.zeros_like(W)
    np.add.at(dW, ids, dout)
    return dW


def pad_batch(sequences, pad_id=PAD):
    """Right-pad a list of id sequences into one rectangular array, with a mask of the real positions.

    Inputs:
    - sequences: list of N sequences of ids (1-D int arrays or lists); sequence n has length T_n >= 1
    - pad_id: int, the id written into the padded positions

    Returns a tuple (ids, mask):
    - ids: int64 array of shape (N, T) with T = max_n T_n; ids[n, :T_n] = sequences[n], ids[n, T_n:] = pad_id
    - mask: bool array of shape (N, T); mask[n, t] is True exactly when t < T_n
    """
    lengths = [len(seq) for seq in sequences]
    N, T = len(sequences), max(lengths)
    ids = np.full((N, T), pad_id, dtype=np.int64)
    mask = np.zeros((N, T), dtype=bool)
    for n, seq in enumerate(sequences):
        ids[n, :lengths[n]] = seq
        mask[n, :lengths[n]] = True
    return ids, mask


def bigram_probabilities(ids, V, alpha=1.0):
    """Add-alpha smoothed bigram model from one sequence of ids.

    Inputs:
    - ids: 1-D int array of length L >= 2, values in [0, V)
    - V: int, vocabulary size
    - alpha: float > 0, the pseudo-count added to every pair

    Returns:
    - P: float64 array of shape (V, V), P[i, j] = (c_ij + alpha) / (sum_k c_ik + alpha * V), where c_ij is the
      number of positions t with ids[t] == i and ids[t + 1] == j. Every row sums to 1.
    """
    ids = np.asarray(ids)
    counts = np.zeros((V, V), dtype=np.float64)
    np.add.at(counts, (ids[:-1], ids[1:]), 1.0)
    return (counts + alpha) / (counts.sum(axis=1, keepdims=True) + alpha * V)


def perplexity(probs, targets):
    """Perplexity of predicted distributions on the tokens that actually came.

    Inputs:
    - probs: float array of shape (T, V); row t is the model's distribution for position t (rows sum to 1,
      entries > 0)
    - targets: int array of shape (T,), the true token at each position

    Returns:
    - pp: a Python float, exp( -(1/T) * sum_t log probs[t, targets[t]] )
    """
    picked = probs[np.arange(len(targets)), targets]
    return float(np.exp(-np.mean(np.log(picked))))


def embedding_torch(ids, W):
    """Embedding lookup in PyTorch (autograd does the backward pass).

    Inputs:
    - ids: LongTensor of shape (N, T) (any shape S), values in [0, V)
    - W: tensor of shape (V, D), usually with requires_grad=True, on the same device as ids

    Returns:
    - out: tensor of shape (N, T, D) (in general S + (D,)), out[n, t] = W[ids[n, t]], connected to W's graph
    """
    return W[ids]


def masked_cross_entropy_torch(logits, targets, pad_id=PAD):
    """Mean softmax cross-entropy over the positions whose target is not pad_id.

    Inputs:
    - logits: float tensor of shape (N, T, V)
    - targets: LongTensor of shape (N, T), values in [0, V); positions equal to pad_id are ignored
    - pad_id: int in [0, V)

    Returns:
    - loss: scalar tensor (shape ()), sum over unmasked (n, t) of -log softmax(logits[n, t])[targets[n, t]],
      divided by the number of unmasked positions. Differentiable with respect to logits.
    """
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=-1, keepdim=True).log()
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    mask = (targets != pad_id).to(logits.dtype)
    return (nll * mask).sum() / mask.sum()


# Your answer: a string
answer_shape_digits = "many-to-one"   # a sequence of frames in, one label out


# Your answer: a string
answer_shape_headline = "many-to-many unaligned"   # a long sequence in, a shorter one out


# Your answer: a tuple of ints
answer_onehot_shape = (32, 20, 65)   # one axis of size V added after the axes of ids


# Your answer: a whole number (int)
answer_embedding_params = 65 * 16   # one row of D numbers per token
