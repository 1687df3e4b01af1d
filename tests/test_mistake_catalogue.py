"""The catalogue of classic mistakes, one or more per graded function (issue 14, part 3).

Each mistake is the lesson's reference code with a small text edit (the wrong line a student writes)
or with the function redefined after it, executed into a notebook-like namespace. For each mistake:

- the VISIBLE check, i.e. the notebook's own visible check cells of that function, run in the solution
  notebook's namespace (its earlier cells executed once per lesson, as a student's kernel has them),
  must fail with a message that names the mistake (the mistake's `names`, a regular expression);
- the HIDDEN check (autograder.in_kernel.grade, the checker driving the student's code over a socket
  pair) must cost points.

The rate "mistakes named by the visible checks / all mistakes" is printed at the end of the run
(`.venv/bin/python -m pytest -q -s tests/test_mistake_catalogue.py`, see README). A mistake the visible
check does not name yet is marked `visible_gap` with the reason; its visible test is an xfail and
the rate counts it as missed.
"""
import contextlib
import io
import os
import re
import warnings
from dataclasses import dataclass, field

import nbformat
import matplotlib
import pytest

from autograder.export import reference_path
from autograder.in_kernel import grade
from autograder.lessons import solution_path

matplotlib.use("Agg")   # the visible checks run in this process; an environment variable would reach every
                        # kernel that later tests start (their inline figures would vanish)


@dataclass
class Mistake:
    lesson: str
    function: str                       # the graded question (grade cell) and the function it grades
    label: str                          # the mistake, in words
    edits: list = field(default_factory=list)   # (old, new) or (old, new, "last") on the reference source
    code: str = ""                      # code appended after the reference (redefines the function)
    names: str = ""                     # regex the visible check's message must match (case-insensitive)
    visible_gap: str = ""               # why the visible check does not name it yet (counts as missed)

    @property
    def id(self):
        return f"{self.function}: {self.label}"


CATALOGUE = []


def mistake(*args, **kwargs):
    CATALOGUE.append(Mistake(*args, **kwargs))


# ============================================================================ lesson 1
L1 = "01_sequences"
mistake(L1, "build_vocab", "specials not put first", [("itos = list(SPECIALS) + kept", "itos = kept + list(SPECIALS)")],
        names=r"start with the specials")
mistake(L1, "build_vocab", "tokens not sorted", [("kept = sorted(token for", "kept = list(token for")],
        names=r"sorted|order")
mistake(L1, "build_vocab", "min_count compared with >", [("count >= min_count", "count > min_count")],
        names=r"min_count")
mistake(L1, "encode", "unknown tokens dropped", [("[stoi.get(token, UNK) for token in tokens]",
                                                  "[stoi[token] for token in tokens if token in stoi]")],
        names=r"UNK")
mistake(L1, "encode", "a list instead of an int array",
        [("return np.array([stoi.get(token, UNK) for token in tokens], dtype=np.int64)",
          "return [stoi.get(token, UNK) for token in tokens]")], names=r"integer array")
mistake(L1, "decode", "ids off by one", [("return [itos[int(i)] for i in ids]", "return [itos[int(i) - 1] for i in ids]")],
        names=r"itos\[ids")
mistake(L1, "decode", "a joined string instead of a list", [("return [itos[int(i)] for i in ids]", "return \"\".join(itos[int(i)] for i in ids)")],
        names=r"list of str")
mistake(L1, "one_hot", "one-hot axis first", [("return np.eye(V, dtype=np.float64)[np.asarray(ids)]",
                                                "return np.moveaxis(np.eye(V, dtype=np.float64)[np.asarray(ids)], -1, 0)")],
        names=r"axis|transposed|swapped")
mistake(L1, "one_hot", "integer dtype", [("np.eye(V, dtype=np.float64)", "np.eye(V, dtype=np.int64)")],
        names=r"float64")
mistake(L1, "embedding_forward", "batch and time axes swapped", [("out = W[ids]", "out = W[ids.T]")],
        names=r"transposed or swapped")
mistake(L1, "embedding_forward", "cache in the wrong order", [("cache = (ids, W)", "cache = (W, ids)")],
        names=r"cache should be the tuple \(ids, W\)")
mistake(L1, "embedding_backward", "buffered += with repeated ids",
        [("np.add.at(dW, ids, dout)", "dW[ids] += dout")], names=r"np\.add\.at")
mistake(L1, "embedding_backward", "dout modified in place",
        [("np.add.at(dW, ids, dout)", "dout *= 1.0\n    np.add.at(dW, ids, dout)\n    dout += 1.0")],
        names=r"in place")
mistake(L1, "pad_batch", "mask of the padding instead of the real positions",
        [("return ids, mask", "return ids, ~mask")], names=r"mask")
mistake(L1, "pad_batch", "pad_id ignored (always 0)",
        [("ids = np.full((N, T), pad_id, dtype=np.int64)", "ids = np.zeros((N, T), dtype=np.int64)")],
        names=r"pad")
mistake(L1, "bigram_probabilities", "buffered += counts repeated pairs once",
        [("np.add.at(counts, (ids[:-1], ids[1:]), 1.0)", "counts[ids[:-1], ids[1:]] += 1.0")], names=r"np\.add\.at|once")
mistake(L1, "bigram_probabilities", "P transposed",
        [("return (counts + alpha) / (counts.sum(axis=1, keepdims=True) + alpha * V)",
          "return ((counts + alpha) / (counts.sum(axis=1, keepdims=True) + alpha * V)).T")], names=r"transposed|rows are the CURRENT token")
mistake(L1, "bigram_probabilities", "smoothing without alpha * V",
        [("(counts.sum(axis=1, keepdims=True) + alpha * V)", "(counts.sum(axis=1, keepdims=True) + alpha)")],
        names=r"alpha \* V|alpha\*V")
mistake(L1, "perplexity", "exp of the sum", [("np.exp(-np.mean(np.log(picked)))", "np.exp(-np.sum(np.log(picked)))")],
        names=r"SUM")
mistake(L1, "perplexity", "sign of the exponent", [("np.exp(-np.mean(np.log(picked)))", "np.exp(np.mean(np.log(picked)))")],
        names=r"sign")
mistake(L1, "embedding_torch", "through NumPy (cut from the graph)",
        [("    return W[ids]\n", "    return torch.as_tensor(W.detach().cpu().numpy()[ids.cpu().numpy()], device=W.device)\n", "last")],
        names=r"graph")
mistake(L1, "embedding_torch", "W detached", [("    return W[ids]\n", "    return W.detach()[ids]\n", "last")],
        names=r"graph")
mistake(L1, "masked_cross_entropy_torch", "mask ignored",
        [("return (nll * mask).sum() / mask.sum()", "return nll.mean()")], names=r"mask is ignored|padded positions count")
mistake(L1, "masked_cross_entropy_torch", "mean over N*T",
        [("return (nll * mask).sum() / mask.sum()", "return (nll * mask).sum() / mask.numel()")], names=r"UNMASKED|unmasked")
mistake(L1, "masked_cross_entropy_torch", "no max subtracted (overflow)",
        [("shifted = logits - logits.max(dim=-1, keepdim=True).values", "shifted = logits")], names=r"max logit|overflow")


# ============================================================================ lesson 2
L2 = "02_vanilla_rnn"
mistake(L2, "rnn_step_forward", "no tanh", [("next_h = np.tanh(x @ Wx + prev_h @ Wh + b)", "next_h = x @ Wx + prev_h @ Wh + b")],
        names=r"apply np\.tanh")
mistake(L2, "rnn_step_forward", "no bias", [("next_h = np.tanh(x @ Wx + prev_h @ Wh + b)", "next_h = np.tanh(x @ Wx + prev_h @ Wh)")],
        names=r"without the bias")
mistake(L2, "rnn_step_forward", "Wx and Wh swapped", [("next_h = np.tanh(x @ Wx + prev_h @ Wh + b)", "next_h = np.tanh(x @ Wh + prev_h @ Wx + b)")],
        names=r"swapped")
mistake(L2, "rnn_step_forward", "Wh transposed", [("next_h = np.tanh(x @ Wx + prev_h @ Wh + b)", "next_h = np.tanh(x @ Wx + prev_h @ Wh.T + b)")],
        names=r"transposed")
mistake(L2, "rnn_step_forward", "prev_h ignored", [("next_h = np.tanh(x @ Wx + prev_h @ Wh + b)", "next_h = np.tanh(x @ Wx + b)")],
        names=r"ignores prev_h|both x @ Wx and prev_h @ Wh")
mistake(L2, "rnn_forward", "every step from h0", [("prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)",
                                                    "prev_h, step_cache = rnn_step_forward(x[:, t, :], h0, Wx, Wh, b)")],
        names=r"starts from h0")
mistake(L2, "rnn_forward", "stores h_{t-1} (off by one in time)",
        [("        prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)\n        h[:, t, :] = prev_h",
          "        h[:, t, :] = prev_h\n        prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)")],
        names=r"off by one")
mistake(L2, "rnn_forward", "reads x[t] (batch axis) instead of x[:, t]",
        [("rnn_step_forward(x[:, t, :], prev_h", "rnn_step_forward(x.transpose(1, 0, 2).reshape(x.shape)[:, t, :], prev_h")],
        names=r"time axis")
mistake(L2, "rnn_forward", "one step short", [("for t in range(T):\n        prev_h, step_cache", "for t in range(T - 1):\n        prev_h, step_cache")],
        names=r"every h_t|T times|calls")
mistake(L2, "temporal_affine_forward", "no bias", [("@ W + b).reshape(N, T, W.shape[1])", "@ W).reshape(N, T, W.shape[1])")],
        names=r"without the bias")
mistake(L2, "temporal_affine_forward", "W transposed", [("@ W + b).reshape(N, T, W.shape[1])", "@ W.T + b).reshape(N, T, W.shape[1])")],
        names=r"transposed")
mistake(L2, "torch_rnn", "one bias only", [("+ h @ self.weight_hh_l0.T + self.bias_hh_l0)", "+ h @ self.weight_hh_l0.T)")],
        names=r"bias")
mistake(L2, "torch_rnn", "weight_hh not transposed", [("+ h @ self.weight_hh_l0.T + self.bias_hh_l0)", "+ h @ self.weight_hh_l0 + self.bias_hh_l0)")],
        names=r"transpos|\.T")
mistake(L2, "torch_rnn", "h0 ignored", [("h = x.new_zeros(N, self.hidden_size) if h0 is None else h0[0]", "h = x.new_zeros(N, self.hidden_size)")],
        names=r"h0")

# ============================================================================ lesson 3
L3 = "03_bptt"
mistake(L3, "rnn_step_backward", "tanh derivative missing", [("da = dnext_h * (1.0 - next_h ** 2)", "da = dnext_h")],
        names=r"tanh")
mistake(L3, "rnn_step_backward", "dWx transposed (da.T @ x)", [("dWx = x.T @ da", "dWx = da.T @ x")],
        names=r"transposed|swapped")
mistake(L3, "rnn_step_backward", "dprev_h uses Wx", [("dprev_h = da @ Wh.T", "dprev_h = da @ Wh")],
        names=r"dprev_h")
mistake(L3, "rnn_step_backward", "db not summed over the batch", [("db = da.sum(axis=0)", "db = da.mean(axis=0)")],
        names=r"db")
mistake(L3, "rnn_backward", "carried gradient not added", [("rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])", "rnn_step_backward(dh[:, t, :], cache[t])")],
        names=r"dprev_h|carried|upstream")
mistake(L3, "rnn_backward", "one step short", [("for t in reversed(range(T)):\n        dx_t, dprev_h", "for t in reversed(range(1, T)):\n        dx_t, dprev_h")],
        names=r"step|calls|T times")
mistake(L3, "rnn_backward", "weight gradients not accumulated", [("dWx += dWx_t", "dWx = dWx_t")],
        names=r"accumulate|sum over|every step")
mistake(L3, "rnn_backward", "dh modified in place", [("dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])",
                                                      "dh[:, t, :] += dprev_h\n        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :], cache[t])")],
        names=r"in place")
mistake(L3, "temporal_affine_backward", "dW not summed over time", [("dW = x.reshape(N * T, D).T @ dout.reshape(N * T, M)", "dW = x[:, -1].T @ dout[:, -1]")],
        names=r"dW")
mistake(L3, "temporal_affine_backward", "db over the batch only", [("db = dout.sum(axis=(0, 1))", "db = dout.sum(axis=0)[0]")],
        names=r"db")
mistake(L3, "temporal_softmax_loss", "mask ignored", [("flat_m = mask.reshape(N * T).astype(np.float64)", "flat_m = np.ones(N * T)")],
        names=r"mask")
mistake(L3, "temporal_softmax_loss", "mean over N instead of the real positions", [("count = flat_m.sum()", "count = N")],
        names=r"divide|real positions|mask.sum|count")
mistake(L3, "temporal_softmax_loss", "gradient without the -1 at the target", [("dx[rows, flat_y] -= 1.0", "pass")],
        names=r"-1|- 1|one-hot|target")
mistake(L3, "clip_grad_norm", "input modified in place", [("clipped = [g * scale for g in grads]", "clipped = grads\n        for g in clipped:\n            g *= scale")],
        names=r"modified the input|in place")
mistake(L3, "clip_grad_norm", "each gradient clipped by its own norm",
        [("    scale = max_norm / (total_norm + 1e-6)\n    if scale < 1.0:\n        clipped = [g * scale for g in grads]",
          "    scale = max_norm / (total_norm + 1e-6)\n    if scale < 1.0:\n        clipped = [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads]")],
        names=r"total|global|one norm|all gradients")
mistake(L3, "clip_grad_norm", "norm without the square root", [("total_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads)))", "total_norm = float(sum(np.sum(np.square(g)) for g in grads))")],
        names=r"sqrt|square root|norm")
mistake(L3, "rnn_function", "backward without the tanh derivative", [("da = (dh[:, t] + dprev_h) * (1 - h[:, t] ** 2)", "da = (dh[:, t] + dprev_h)")],
        names=r"gradcheck|finite diff|tanh")
mistake(L3, "rnn_function", "backward misses the carried gradient", [("da = (dh[:, t] + dprev_h) * (1 - h[:, t] ** 2)", "da = dh[:, t] * (1 - h[:, t] ** 2)")],
        names=r"gradcheck|finite diff|dprev_h")
mistake(L3, "rnn_function", "dWh uses h_t instead of h_{t-1}", [("dWh = dWh + prev_h.T @ da", "dWh = dWh + h[:, t].T @ da")],
        names=r"gradcheck|finite diff|dWh|prev")


# ============================================================================ lesson 4
L4 = "04_lstm"
mistake(L4, "forget_gate", "[h, x] instead of the lecture's [x, h]", [("np.concatenate([x, h])", "np.concatenate([h, x])")],
        names=r"\[h, x\]|h first|order")
mistake(L4, "forget_gate", "no sigmoid", [("return sigmoid(W_f @ np.concatenate([x, h]) + b_f)", "return W_f @ np.concatenate([x, h]) + b_f")],
        names=r"sigmoid")
mistake(L4, "forget_gate", "no bias", [("return sigmoid(W_f @ np.concatenate([x, h]) + b_f)", "return sigmoid(W_f @ np.concatenate([x, h]))")],
        names=r"bias|b_f")
_CS231N = [("    i = sigmoid(a[:, :H])\n    f = sigmoid(a[:, H:2 * H])\n    g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])",
            "    i = sigmoid(a[:, :H])\n    f = sigmoid(a[:, H:2 * H])\n    o = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])")]
mistake(L4, "lstm_step_forward", "gates read in CS231n's order i, f, o, g", _CS231N, names=r"i, f, o, g|order")
mistake(L4, "lstm_step_forward", "input and forget gates swapped",
        [("    i = sigmoid(a[:, :H])\n    f = sigmoid(a[:, H:2 * H])", "    f = sigmoid(a[:, :H])\n    i = sigmoid(a[:, H:2 * H])")],
        names=r"f, i, g, o|order")
mistake(L4, "lstm_step_forward", "next_h from the old cell state", [("next_h = o * np.tanh(next_c)", "next_h = o * np.tanh(prev_c)")],
        names=r"next_h = o \* tanh\(next_c\)|next_c")
mistake(L4, "lstm_step_forward", "g with a sigmoid", [("g = np.tanh(a[:, 2 * H:3 * H])", "g = sigmoid(a[:, 2 * H:3 * H])")],
        names=r"tanh|sigmoid|g ")
mistake(L4, "lstm_step_backward", "dnext_c dropped", [("dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)", "dc = dnext_h * o * (1 - tanh_c ** 2)")],
        names=r"dnext_c")
mistake(L4, "lstm_step_backward", "tanh derivative of the cell missing", [("dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)", "dc = dnext_c + dnext_h * o")],
        names=r"tanh|both paths")
mistake(L4, "lstm_step_backward", "dprev_c without the forget gate", [("dprev_c = dc * f", "dprev_c = dc")],
        names=r"dprev_c = dc \* f|forget")
mistake(L4, "lstm_step_backward", "gate gradients stacked in CS231n's order",
        [("                         dc * i * (1 - g ** 2),\n                         do * o * (1 - o)], axis=1)",
          "                         do * o * (1 - o),\n                         dc * i * (1 - g ** 2)], axis=1)")],
        names=r"order")
mistake(L4, "lstm_forward", "every step from (h0, c0)",
        [("lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)", "lstm_step_forward(x[:, t], h0, c0, Wx, Wh, b)")],
        names=r"pass the NEW|step 0 is right")
mistake(L4, "lstm_forward", "returns c0 instead of cT", [("    return h, prev_c, cache", "    return h, c0, cache")],
        names=r"c0|cell state after the last step|cT")
mistake(L4, "lstm_backward", "dcT ignored", [("dprev_h, dprev_c = np.zeros((N, H)), dcT", "dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))")],
        names=r"dcT")
mistake(L4, "lstm_backward", "carried dprev_h not added",
        [("lstm_step_backward(dh[:, t] + dprev_h, dprev_c, cache[t])", "lstm_step_backward(dh[:, t], dprev_c, cache[t])")],
        names=r"dprev_h|carried|carry")
mistake(L4, "lstm_backward", "cell gradient not carried",
        [("lstm_step_backward(dh[:, t] + dprev_h, dprev_c, cache[t])",
          "lstm_step_backward(dh[:, t] + dprev_h, dcT if t == T - 1 else np.zeros((N, H)), cache[t])")],
        names=r"dprev_c|carried|carry")
mistake(L4, "torch_lstm", "gates chunked in CS231n's order", [("            i, f, g, o = a.chunk(4, dim=1)", "            i, f, o, g = a.chunk(4, dim=1)")],
        names=r"i, f, o, g|order")
mistake(L4, "torch_lstm", "recurrent bias forgotten",
        [("a = x[:, t] @ self.weight_ih_l0.T + self.bias_ih_l0 + h @ self.weight_hh_l0.T + self.bias_hh_l0",
          "a = x[:, t] @ self.weight_ih_l0.T + self.bias_ih_l0 + h @ self.weight_hh_l0.T")],
        names=r"bias")
mistake(L4, "lstm_function", "backward ignores dcT", [("dprev_h, dprev_c = torch.zeros_like(h0), dcT", "dprev_h, dprev_c = torch.zeros_like(h0), torch.zeros_like(h0)")],
        names=r"dcT|gradcheck|finite diff")
mistake(L4, "lstm_function", "forward in CS231n's gate order",
        [("i, f, o = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H:2 * H]), torch.sigmoid(a[:, 3 * H:])\n            g = torch.tanh(a[:, 2 * H:3 * H])",
          "i, f, o = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H:2 * H]), torch.sigmoid(a[:, 2 * H:3 * H])\n            g = torch.tanh(a[:, 3 * H:])")],
        names=r"i, f, o, g|order")

# ============================================================================ lesson 5
L5 = "05_gru"
mistake(L5, "gru_step_forward", "the other update convention", [("next_h = (1 - z) * prev_h + z * n", "next_h = z * prev_h + (1 - z) * n")],
        names=r"OTHER update convention|convention")
mistake(L5, "gru_step_forward", "reset after the product (torch's variant)",
        [("n = np.tanh(a[:, 2 * H:] + (r * prev_h) @ Wh[:, 2 * H:])", "n = np.tanh(a[:, 2 * H:] + r * (prev_h @ Wh[:, 2 * H:]))")],
        names=r"reset|AFTER|before")
mistake(L5, "gru_step_forward", "no reset gate", [("n = np.tanh(a[:, 2 * H:] + (r * prev_h) @ Wh[:, 2 * H:])", "n = np.tanh(a[:, 2 * H:] + prev_h @ Wh[:, 2 * H:])")],
        names=r"reset")
mistake(L5, "gru_step_backward", "path through the update gate missing", [("dz = dnext_h * (n - prev_h)", "dz = dnext_h * n")],
        names=r"dz|n - prev_h|update|finite")
mistake(L5, "gru_step_backward", "paths through r and z missing in dprev_h",
        [("dprev_h = dprev_h + da[:, :2 * H] @ Wh[:, :2 * H].T", "dprev_h = dprev_h")],
        names=r"prev_h|path")
mistake(L5, "gru_step_backward", "reset gate derivative without prev_h", [("dr = drh * prev_h", "dr = drh")],
        names=r"dr|reset|finite")
mistake(L5, "gru_forward", "every step from h0", [("gru_step_forward(x[:, t], prev_h, Wx, Wh, b)", "gru_step_forward(x[:, t], h0, Wx, Wh, b)")],
        names=r"h0|carry|previous")
mistake(L5, "gru_forward", "stores h_{t-1} (off by one in time)",
        [("        prev_h, step_cache = gru_step_forward(x[:, t], prev_h, Wx, Wh, b)\n        h[:, t] = prev_h",
          "        h[:, t] = prev_h\n        prev_h, step_cache = gru_step_forward(x[:, t], prev_h, Wx, Wh, b)")],
        names=r"off by one|state after")
mistake(L5, "gru_backward", "dh modified in place",
        [("dx_t, dprev_h, dWx_t, dWh_t, db_t = gru_step_backward(dh[:, t] + dprev_h, cache[t])",
          "dh[:, t] += dprev_h\n        dx_t, dprev_h, dWx_t, dWh_t, db_t = gru_step_backward(dh[:, t], cache[t])")],
        names=r"in place")
mistake(L5, "gru_backward", "carried gradient not added", [("gru_step_backward(dh[:, t] + dprev_h, cache[t])", "gru_step_backward(dh[:, t], cache[t])")],
        names=r"dprev_h|carried|upstream")
mistake(L5, "torch_gru", "the other update convention", [("h = (1 - z) * n + z * h", "h = z * n + (1 - z) * h")],
        names=r"convention|update")
mistake(L5, "torch_gru", "reset before the product (not nn.GRU's variant)",
        [("n = torch.tanh(gi[:, t, 2 * H:] + r * gh[:, 2 * H:])",
          "n = torch.tanh(gi[:, t, 2 * H:] + (r * h) @ self.weight_hh_l0[2 * H:].T + r * self.bias_hh_l0[2 * H:])")],
        names=r"reset|AFTER")

# ============================================================================ lesson 6
L6 = "06_applications"
mistake(L6, "birnn_forward", "backward direction not reversed back", [("backward = rnn_layer_forward(x[:, ::-1], h0_b, *params_b)[:, ::-1]",
                                                                       "backward = rnn_layer_forward(x[:, ::-1], h0_b, *params_b)")],
        names=r"reverse|flip|time order")
mistake(L6, "birnn_forward", "backward direction reads x forwards", [("backward = rnn_layer_forward(x[:, ::-1], h0_b, *params_b)[:, ::-1]",
                                                                      "backward = rnn_layer_forward(x, h0_b, *params_b)")],
        names=r"reverse|flip|backward direction")
mistake(L6, "birnn_forward", "directions' weights swapped", [("forward = rnn_layer_forward(x, h0_f, *params_f)", "forward = rnn_layer_forward(x, h0_f, *params_b)")],
        names=r"params_f|swapped|weights")
mistake(L6, "deep_bilstm", "CS231n gate order", [("i, f, g, o = (gi[:, t] + h @ W_hh.T + b_hh).chunk(4, dim=1)", "i, f, o, g = (gi[:, t] + h @ W_hh.T + b_hh).chunk(4, dim=1)")],
        names=r"order|i, f, o, g")
mistake(L6, "deep_bilstm", "the reverse direction runs forwards", [("for t in (range(T) if d == 0 else reversed(range(T))):", "for t in range(T):")],
        names=r"reverse|direction")
mistake(L6, "masked_pool", "max by multiplying with the mask", [("out = np.where(m > 0, h, -np.inf).max(axis=1)", "out = (h * m).max(axis=1)")],
        names=r"-inf|negative|multipl")
mistake(L6, "masked_pool", "mean divided by T", [("out = (h * m).sum(axis=1) / m.sum(axis=1)", "out = (h * m).sum(axis=1) / h.shape[1]")],
        names=r"divided by T|length")
mistake(L6, "masked_pool", "sum over padding too", [("        out = (h * m).sum(axis=1)\n", "        out = h.sum(axis=1)\n")],
        names=r"padded|mask")
mistake(L6, "masked_pool", "last = the last column", [("last = mask.sum(axis=1).astype(int) - 1", "last = np.full(h.shape[0], h.shape[1] - 1)")],
        names=r"last real|length|padding")
mistake(L6, "masked_pool_backward", "mean gradient not divided by the length", [("return dout[:, None, :] * m / m.sum(axis=1, keepdims=True)", "return dout[:, None, :] * m")],
        names=r"length|divide")
mistake(L6, "masked_pool_backward", "max gradient to every position", [("        np.put_along_axis(dh, winner[:, None, :], dout[:, None, :], axis=1)",
                                                                        "        dh = dh + dout[:, None, :] * m")],
        names=r"max|winner|argmax")
mistake(L6, "masked_pool_backward", "sum gradient at padding too", [("        return dout[:, None, :] * m\n", "        return dout[:, None, :] * np.ones_like(m)\n")],
        names=r"padding|0 at")
mistake(L6, "masked_pool_torch", "max by multiplying with the mask", [("return h.masked_fill(m == 0, float(\"-inf\")).max(dim=1).values", "return (h * m).max(dim=1).values")],
        names=r"-inf|negative|multipl")
mistake(L6, "masked_pool_torch", "mean divided by T", [("return (h * m).sum(dim=1) / m.sum(dim=1)", "return (h * m).sum(dim=1) / h.shape[1]")],
        names=r"divided by T|length")
mistake(L6, "sample_with_temperature", "multiplied by the temperature", [("z = logits / temperature", "z = logits * temperature")],
        names=r"multiplied by the temperature")
mistake(L6, "sample_with_temperature", "temperature ignored", [("z = logits / temperature", "z = logits")],
        names=r"temperature")
mistake(L6, "sample_with_temperature", "no max subtracted (overflow)", [("p = np.exp(z - z.max(axis=1, keepdims=True))", "p = np.exp(z)")],
        names=r"max|overflow")
mistake(L6, "beam_search", "greedy (beam of one)", [("for score, tokens, state in candidates[:beam_size]:", "for score, tokens, state in candidates[:1]:")],
        names=r"beam|greedy|best")
mistake(L6, "beam_search", "candidates sorted lowest first", [("candidates.sort(key=lambda c: -c[0])", "candidates.sort(key=lambda c: c[0])")],
        names=r"sort|highest|best")
mistake(L6, "beam_search", "unfinished beams dropped at max_len", [("    finished += [(tokens, score) for tokens, score, _ in alive]\n", "")],
        names=r"max_len|unfinished|alive")


# Mistakes the visible checks catch (the cell fails) but do not name yet, {mistake id: why}: counted as
# missed in the rate, their visible test an xfail (none today).
GAPS = {}
for _m in CATALOGUE:
    _m.visible_gap = GAPS.get(_m.id, "")


# ============================================================================ harness
def _source(lesson, mistake_=None):
    source = reference_path(lesson).read_text()
    if mistake_ is None:
        return source
    for old, new, *where in mistake_.edits:
        assert old in source, f"{mistake_.id}: {old!r} is not in the reference"
        if where == ["last"]:
            i = source.rindex(old)
            source = source[:i] + new + source[i + len(old):]
        else:
            source = source.replace(old, new, 1)
    return source + ("\n" + mistake_.code if mistake_.code else "")


def _grade_cell_function(cell):
    match = re.search(r"""grade\(\s*["'](\w+)["']""", cell.source)
    return match.group(1) if match else None


class Lesson:
    """The solution notebook run once (code cells up to the last visible check, no grade cells), and
    for each graded function the visible check cells between its solution cell and its grade cell."""

    def __init__(self, lesson):
        self.lesson = lesson
        notebook = nbformat.read(solution_path(lesson), as_version=4)
        cells = [c for c in notebook.cells if c.cell_type == "code"]
        self.checks, solution_of, last = {}, {}, 0
        for index, cell in enumerate(cells):
            nbgrader = cell.metadata.get("nbgrader", {})
            if nbgrader.get("solution"):
                for name in re.findall(r"^(?:def|class) (\w+)", cell.source, re.M):
                    solution_of.setdefault(name, index)
            function = _grade_cell_function(cell) if nbgrader.get("grade") else None
            defined = solution_of.get(_QUESTION_FUNCTION.get(function, function)) if function else None
            if defined is not None:
                visible = [c.source for c in cells[defined + 1:index]
                           if not c.metadata.get("nbgrader", {}).get("solution")
                           and not c.metadata.get("nbgrader", {}).get("grade")]
                self.checks[function] = visible
                last = max(last, index)
        self.namespace = {"__name__": "__main__"}
        with _quiet():
            for cell in cells[:last]:
                if cell.metadata.get("nbgrader", {}).get("grade"):
                    continue
                exec(compile(_plain(cell.source), f"<{lesson}>", "exec"), self.namespace)

    def visible_failure(self, mistake_):
        """The message of the first failing visible check cell of the mistake's function, or None."""
        saved = dict(self.namespace)
        try:
            with _quiet():
                exec(compile(_source(self.lesson, mistake_), f"<{mistake_.id}>", "exec"), self.namespace)
                for source in self.checks[mistake_.function]:
                    try:
                        exec(compile(_plain(source), f"<visible check of {mistake_.function}>", "exec"), self.namespace)
                    except Exception as failure:  # CheckFailed, or an error the wrong code raised
                        return f"{type(failure).__name__}: {failure}"
            return None
        finally:
            self.namespace.clear()
            self.namespace.update(saved)


_QUESTION_FUNCTION = {"torch_rnn": "TorchRNN", "rnn_function": "RNNFunction", "torch_lstm": "TorchLSTM",
                      "lstm_function": "LSTMFunction", "torch_gru": "TorchGRU", "deep_bilstm": "DeepBiLSTM"}


def _plain(source):
    """A cell without IPython magics."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


@contextlib.contextmanager
def _quiet():
    """No output, no figures left open, and the notebooks' experiments at their grading-mode size."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    before = os.environ.get("NBGRADER_EXECUTION")
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            plt.close("all")
            if before is None:
                os.environ.pop("NBGRADER_EXECUTION", None)
            else:
                os.environ["NBGRADER_EXECUTION"] = before


_LESSONS = {}


def lesson(lesson_id):
    if lesson_id not in _LESSONS:
        _LESSONS[lesson_id] = Lesson(lesson_id)
    return _LESSONS[lesson_id]


RESULTS = {}   # mistake id -> named by the visible check (bool)


def hidden_score(mistake_, seed=3):
    namespace = {"__name__": f"student_{mistake_.lesson}"}
    exec(compile(_source(mistake_.lesson, mistake_), f"<{mistake_.id}>", "exec"), namespace)
    with contextlib.redirect_stdout(io.StringIO()):
        return grade(mistake_.function, namespace, points=10, seed=seed)


@pytest.mark.parametrize("mistake_", CATALOGUE, ids=[m.id for m in CATALOGUE])
def test_the_hidden_check_costs_points(mistake_):
    assert hidden_score(mistake_) < 10, f"{mistake_.id}: the hidden check gave full marks"


@pytest.mark.parametrize("mistake_", CATALOGUE, ids=[m.id for m in CATALOGUE])
def test_the_visible_check_names_the_mistake(mistake_):
    message = lesson(mistake_.lesson).visible_failure(mistake_)
    named = message is not None and re.search(mistake_.names, message, re.I) is not None
    RESULTS[mistake_.id] = named
    if mistake_.visible_gap:
        assert not named, f"{mistake_.id} is named by the visible check now: remove it from GAPS"
        pytest.xfail(f"known gap: {mistake_.visible_gap}")
    assert message is not None, f"{mistake_.id}: every visible check printed OK"
    assert named, f"{mistake_.id}: the visible check failed without naming the mistake ({mistake_.names!r}):\n{message}"


def test_the_reference_passes_every_visible_check_and_gets_full_marks():
    for lesson_id in sorted({m.lesson for m in CATALOGUE}):
        visible = lesson(lesson_id)
        for function in sorted({m.function for m in CATALOGUE if m.lesson == lesson_id}):
            assert visible.checks.get(function), f"no visible check cell found for {function}"
            assert visible.visible_failure(Mistake(lesson_id, function, "none")) is None, function


def test_every_graded_function_has_mistakes_in_the_catalogue():
    from autograder import checks
    checks.load_all()
    lessons = {m.lesson for m in CATALOGUE}
    graded = {name for name, f in checks.QUESTIONS.items()
              if any(f.__module__.endswith(f"lesson{lid[:2]}") for lid in lessons)}
    graded -= {name for name in graded if name.startswith("answer_")}
    assert graded <= {m.function for m in CATALOGUE}, sorted(graded - {m.function for m in CATALOGUE})


def test_report_the_visible_check_rate():
    """Printed for the README: mistakes named by the visible checks / all mistakes in the catalogue."""
    for mistake_ in CATALOGUE:
        if mistake_.id not in RESULTS:
            message = lesson(mistake_.lesson).visible_failure(mistake_)
            RESULTS[mistake_.id] = message is not None and re.search(mistake_.names, message, re.I) is not None
    caught = sum(RESULTS[m.id] for m in CATALOGUE)
    print(f"\nvisible checks name {caught} of {len(CATALOGUE)} catalogued mistakes "
          f"({100 * caught / len(CATALOGUE):.0f}%)")
    missed = [m.id for m in CATALOGUE if not RESULTS[m.id]]
    if missed:
        print("not named by the visible checks:\n  " + "\n  ".join(missed))
    assert all(RESULTS[m.id] or m.visible_gap for m in CATALOGUE)
