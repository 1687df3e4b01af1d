"""Hidden checks of the concept questions (self-assessment) at the end of every lesson.

A concept question's solution cell assigns one notebook variable (`answer_lstm_params = ...`); the
check reads it as data (`q.answer`), first checks its form like the visible check does
(course.quiz.form_problem), then its value. The right answer is computed here by a route of its own
wherever there is one: parameters counted on the torch.nn module, shapes read off a forward or a
backward pass, gate roles found by closing each gate of an nn.LSTMCell / nn.GRUCell, entropies of
softmax(z / tau). Only the questions about definitions (which shape a task has, what teacher forcing
feeds) carry their answer as a constant, with the reason next to it. Choices are compared after
course.quiz.normalise (case, spaces, hyphens, dashes), against the synonyms listed with the question,
English and Vietnamese. Messages name what to reconsider, never the answer.
"""
import math

import numpy as np
import torch
from torch import nn

from autograder.checks import question
from autograder.checks.core import Mismatch
from course.quiz import form_problem, normalise

SHAPES = {  # the five shapes of lesson 1, each as the lesson names it in English and in Vietnamese
    "one-to-one": ("one-to-one", "một–một"),
    "one-to-many": ("one-to-many", "một–nhiều"),
    "many-to-one": ("many-to-one", "nhiều–một"),
    "many-to-many aligned": ("many-to-many aligned", "nhiều–nhiều khớp từng bước"),
    "many-to-many unaligned": ("many-to-many unaligned", "nhiều–nhiều không khớp"),
}
LSTM_GATES = {"input": ("input", "cổng vào"), "forget": ("forget", "cổng quên"), "output": ("output", "cổng ra")}
GRU_GATES = {"update": ("update", "cổng cập nhật"), "reset": ("reset", "cổng đặt lại")}
TREND = {"vanishes": ("vanishes", "triệt tiêu"), "stays the same": ("stays the same", "không đổi"),
         "explodes": ("explodes", "bùng nổ")}
LETTERS = {letter: (letter,) for letter in "abc"}


def options_of(synonyms):
    """Every accepted form, in order: what the visible check lists (the notebook copies this list)."""
    return [form for forms in synonyms.values() for form in forms]


def _parameters(module):
    return sum(p.numel() for p in module.parameters())


def _torch_module(factory):
    """Build a torch.nn module without touching the checker's global RNG (the values do not matter)."""
    state = torch.random.get_rng_state()
    try:
        return factory()
    finally:
        torch.random.set_rng_state(state)


def concept(name, variable, kind, right, points_hint, length=None, synonyms=None, tol=1e-3):
    """Register question `name`: the notebook variable `variable` must hold `right()` (computed at grading).

    kind: as in course.quiz ("count", "shape", "number", "vector", "choice"); for "choice", `synonyms`
    maps each canonical answer to the forms accepted for it (all of them together are the options the
    visible check accepts); `points_hint` is the message of a wrong answer."""

    @question(name)
    def check(q):
        def part():
            value = q.answer(variable)
            problem = form_problem(value, kind, synonyms and options_of(synonyms), length)
            if problem is not None:
                raise Mismatch(f"{variable} {problem}")
            expected = right()
            if kind == "count":
                correct = int(value) == int(expected)
            elif kind == "shape":
                correct = tuple(int(v) for v in value) == tuple(int(e) for e in expected)
            elif kind == "number":
                correct = math.isclose(float(value), float(expected), rel_tol=tol, abs_tol=tol)
            elif kind == "vector":
                actual = np.asarray(value, dtype=np.float64).ravel()
                correct = actual.shape == np.shape(expected) and np.allclose(actual, expected, rtol=tol, atol=tol)
            else:
                correct = normalise(value) in {normalise(s) for s in synonyms[expected]}
            if not correct:
                raise Mismatch(f"{variable} is not right. {points_hint}")
        q.part(variable, part)
    return check


# ----------------------------------------------------------------------------- lesson 1
# Definitions (lesson 1, section 2): a clip of sound frames in, one label out; an article in, a
# shorter sentence of its own length out.
concept("concepts_shape_digits", "answer_shape_digits", "choice", lambda: "many-to-one",
        "Ask: is the input a sequence? Is the output a sequence, and is it as long as the input?", synonyms=SHAPES)
concept("concepts_shape_headline", "answer_shape_headline", "choice", lambda: "many-to-many unaligned",
        "Ask: is the input a sequence? Is the output a sequence, and is it as long as the input?", synonyms=SHAPES)
concept("concepts_onehot_shape", "answer_onehot_shape", "shape",
        lambda: tuple(torch.nn.functional.one_hot(torch.zeros(32, 20, dtype=torch.long), 65).shape),
        "one_hot adds one axis, of size V, after the axes of ids.")
concept("concepts_embedding_params", "answer_embedding_params", "count",
        lambda: _parameters(_torch_module(lambda: nn.Embedding(65, 16))),
        "An embedding is one matrix with a row per token.")

# ----------------------------------------------------------------------------- lesson 2
concept("concepts_rnn_params", "answer_rnn_params", "count",
        lambda: _parameters(_torch_module(lambda: nn.RNN(10, 20))),
        "Count every weight matrix and bias vector: input-to-hidden, hidden-to-hidden, and PyTorch keeps two biases.")
concept("concepts_rnn_output_shape", "answer_rnn_output_shape", "shape",
        lambda: tuple(_torch_module(lambda: nn.RNN(10, 20, batch_first=True))(torch.zeros(4, 7, 10))[0].shape),
        "out holds the hidden state of every time step, batch first.")
concept("concepts_rnn_params_long", "answer_rnn_params_long", "count",
        lambda: sum(p.numel() for name, p in _torch_module(lambda: nn.RNN(10, 20)).named_parameters()
                    if name != "bias_hh_l0"),   # the course's RNN: Wx, Wh and one bias b
        "The same Wx, Wh and b are used at every time step (weight sharing).")


# ----------------------------------------------------------------------------- lesson 3
def _dWx_shape(N=4, T=7, D=10, H=20):
    """The shape of dL/dWx, by torch autograd on the course's convention h_t = tanh(x_t Wx + h_{t-1} Wh + b)."""
    g = torch.Generator().manual_seed(0)
    Wx = torch.randn(D, H, generator=g, dtype=torch.float64, requires_grad=True)
    Wh, b = torch.randn(H, H, generator=g, dtype=torch.float64), torch.zeros(H, dtype=torch.float64)
    x, h = torch.randn(N, T, D, generator=g, dtype=torch.float64), torch.zeros(N, H, dtype=torch.float64)
    for t in range(T):
        h = torch.tanh(x[:, t] @ Wx + h @ Wh + b)
    h.sum().backward()
    return tuple(Wx.grad.shape)


def _clipped():
    p = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    p.grad = torch.tensor([6.0, 8.0], dtype=torch.float64)
    torch.nn.utils.clip_grad_norm_([p], max_norm=5.0)
    return p.grad.numpy().copy()


def _trend(radius=0.5, steps=60, H=16):
    """The norm of a product of `steps` Jacobians Wh^T (tanh far from saturation: its derivative ~ 1)."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal((H, H))
    W *= radius / max(abs(np.linalg.eigvals(W)))
    norm = np.linalg.norm(np.linalg.matrix_power(W.T, steps), 2)
    return "vanishes" if norm < 1e-6 else "explodes" if norm > 1e6 else "stays the same"


concept("concepts_grad_shape", "answer_grad_shape", "shape", _dWx_shape,
        "A gradient has the shape of the array it is the gradient of (in this course Wx is (D, H)).")
concept("concepts_clipped_gradient", "answer_clipped_gradient", "vector", _clipped,
        "Clipping rescales the whole vector so that its norm becomes max_norm; the direction stays.", length=2)
concept("concepts_vanishing", "answer_vanishing", "choice", _trend,
        "The product of k Jacobians behaves like the k-th power of the spectral radius.",
        synonyms=TREND)


# ----------------------------------------------------------------------------- lesson 4
def _close_gate(cell, gate, chunks, value=-1e3):
    """cell with the bias of gate number `gate` (torch's order of chunks) set so that the gate is shut."""
    with torch.no_grad():
        cell.bias_ih.zero_()
        cell.bias_hh.zero_()
        size = cell.hidden_size
        cell.bias_ih[gate * size:(gate + 1) * size] = value
    return cell


def _lstm_gate_role(role):
    """Which LSTM gate, shut, makes c_t forget c_{t-1} ("erase") or h_t ignore c_t ("expose"): nn.LSTMCell."""
    names = ["input", "forget", None, "output"]   # torch's chunks: i, f, g, o
    for gate, name in enumerate(names):
        if name is None:
            continue
        cell = _close_gate(_torch_module(lambda: nn.LSTMCell(3, 4).double()), gate, 4)
        x, h = torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64)
        c = torch.ones(2, 4, dtype=torch.float64, requires_grad=True)
        h1, c1 = cell(x, (h, c))
        h1, c1_value = h1.detach(), c1.detach()
        if role == "erase":
            (grad,) = torch.autograd.grad(c1.sum(), c, allow_unused=True)
            if grad is None or float(grad.abs().max()) < 1e-12:
                return name
        elif role == "expose" and float(h1.abs().max()) < 1e-12 and float(c1_value.abs().max()) > 1e-3:
            return name
    raise RuntimeError("no LSTM gate plays that role")   # pragma: no cover


def _worked_example_keep():
    """The source's worked example: W_f rows 1..6, 5..10, 3..8; b_f = (1, 2, 3); [x; h] = (1, ..., 6)."""
    W = torch.stack([torch.arange(s, s + 6, dtype=torch.float64) for s in (1, 5, 3)])
    f = torch.sigmoid(W @ torch.arange(1, 7, dtype=torch.float64) + torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    return round(float(f.min()), 3)


concept("concepts_lstm_params", "answer_lstm_params", "count",
        lambda: _parameters(_torch_module(lambda: nn.LSTM(10, 20))),
        "Four blocks (the three gates and the candidate), each with an input matrix, a hidden matrix and PyTorch's two biases.")
concept("concepts_lstm_erase", "answer_lstm_erase", "choice", lambda: _lstm_gate_role("erase"),
        "Look at c_t = f_t * c_{t-1} + i_t * g_t: which gate multiplies the old cell state?",
        synonyms=LSTM_GATES)
concept("concepts_lstm_worked_example", "answer_lstm_worked_example", "number", _worked_example_keep,
        "sigma of a large positive number is close to 1; f_t * c_{t-1} keeps that fraction of each component.")
concept("concepts_lstm_expose", "answer_lstm_expose", "choice", lambda: _lstm_gate_role("expose"),
        "Look at h_t = o_t * tanh(c_t): which gate decides what of the cell state is shown?",
        synonyms=LSTM_GATES)


# ----------------------------------------------------------------------------- lesson 5
def _gru_copy_value():
    """The value of z_t for which h_t = (1 - z_t) h_{t-1} + z_t h~_t (the lecture's GRU) equals h_{t-1}."""
    g = torch.Generator().manual_seed(0)
    h, cand = torch.randn(5, generator=g), torch.randn(5, generator=g)
    for z in (0, 1):
        if torch.allclose((1 - z) * h + z * cand, h):
            return z
    raise RuntimeError("neither")   # pragma: no cover


def _gru_reset_role():
    """The nn.GRUCell gate that, shut, removes h_{t-1} from the candidate n_t (torch's chunks: r, z, n)."""
    for gate, name in ((0, "reset"), (1, "update")):
        cell = _close_gate(_torch_module(lambda: nn.GRUCell(3, 4).double()), gate, 3)
        with torch.no_grad():   # torch's h' = (1 - z) n + z h: also shut z (unless it is the gate tested) so h' = n
            if gate != 1:
                cell.bias_ih[4:8] = -1e3
        x = torch.zeros(2, 3, dtype=torch.float64)
        h = torch.randn(2, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
        (grad,) = torch.autograd.grad(cell(x, h).sum(), h, allow_unused=True)
        if gate != 1 and (grad is None or float(grad.abs().max()) < 1e-12):
            return name
    raise RuntimeError("no GRU gate plays that role")   # pragma: no cover


concept("concepts_gru_params", "answer_gru_params", "count",
        lambda: _parameters(_torch_module(lambda: nn.GRU(10, 20))),
        "Three blocks (reset, update, candidate), each with an input matrix, a hidden matrix and PyTorch's two biases.")
concept("concepts_gru_copy", "answer_gru_copy", "number", _gru_copy_value,
        "Put each value into h_t = (1 - z_t) * h_{t-1} + z_t * h~_t and see which one leaves h_{t-1}.")
concept("concepts_gru_candidate_gate", "answer_gru_candidate_gate", "choice", _gru_reset_role,
        "Look at the candidate: which gate multiplies h_{t-1} inside it?",
        synonyms=GRU_GATES)


# ----------------------------------------------------------------------------- lesson 6
def _flattest_temperature(temperatures=(0.5, 1, 2)):
    logits = torch.randn(200, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2

    def entropy(tau):
        p = torch.softmax(logits / tau, dim=1)
        return float(-(p * p.log()).sum(dim=1).mean())
    return max(temperatures, key=entropy)


concept("concepts_bilstm_shape", "answer_bilstm_shape", "shape",
        lambda: tuple(_torch_module(lambda: nn.LSTM(8, 16, num_layers=2, bidirectional=True, batch_first=True))(
            torch.zeros(4, 7, 8))[0].shape),
        "out is the last layer's states at every step; a bidirectional layer concatenates both directions.")
concept("concepts_temperature", "answer_temperature", "number", _flattest_temperature,
        "softmax(z / tau): a larger tau shrinks the differences between the logits.")
# Definition (lesson 6, section 6): teacher forcing feeds the caption's true previous word, option (b).
concept("concepts_teacher_forcing", "answer_teacher_forcing", "choice", lambda: "b",
        "Teacher forcing: during training the decoder reads the caption itself, shifted by one step.",
        synonyms=LETTERS)
# Definition (lesson 1's table, the lecture's example): one image in, a sentence out.
concept("concepts_captioning_shape", "answer_captioning_shape", "choice", lambda: "one-to-many",
        "Ask: is the input a sequence? Is the output a sequence?", synonyms=SHAPES)
