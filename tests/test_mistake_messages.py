"""The checks name the mistakes students make most with gates (issue: LSTM gate order, GRU conventions).

Each wrong implementation is built from the reference by an exact identity on the weights, so it is
exactly the function a student with that mistake writes:
- reading the LSTM gate blocks in CS231n's order i, f, o, g = the reference with blocks g and o swapped;
- the other GRU update convention h = z*h_prev + (1-z)*h~ = the reference with the update-gate
  weights and bias negated (sigma(-a) = 1 - sigma(a)).
"""
import numpy as np

from autograder import checks
from autograder.in_kernel import grade
from autograder.references import l04_lstm, l05_gru


def swap_blocks(array, first, second, H):
    out = np.array(array, copy=True)
    a, b = slice(first * H, (first + 1) * H), slice(second * H, (second + 1) * H)
    out[..., a], out[..., b] = array[..., b], array[..., a]
    return out


def negate_block(array, block, H):
    out = np.array(array, copy=True)
    out[..., block * H:(block + 1) * H] *= -1
    return out


def report(question, namespace, capsys):
    score = grade(question, namespace, points=3, seed=99)
    return score, capsys.readouterr().out


def test_lstm_in_cs231n_gate_order_is_named(capsys):
    def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
        H = prev_h.shape[1]
        return l04_lstm.lstm_step_forward(x, prev_h, prev_c, *(swap_blocks(w, 2, 3, H) for w in (Wx, Wh, b)))
    score, out = report("lstm_step_forward", {"lstm_step_forward": lstm_step_forward}, capsys)
    assert score < 3
    assert "i, f, o, g" in out and "CS231n" in out, out


def test_lstm_with_input_and_forget_gates_swapped_is_named(capsys):
    def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
        H = prev_h.shape[1]
        return l04_lstm.lstm_step_forward(x, prev_h, prev_c, *(swap_blocks(w, 0, 1, H) for w in (Wx, Wh, b)))
    score, out = report("lstm_step_forward", {"lstm_step_forward": lstm_step_forward}, capsys)
    assert score < 3 and "f, i, g, o" in out, out


def test_gru_with_the_other_update_convention_is_named(capsys):
    def gru_step_forward(x, prev_h, Wx, Wh, b):
        H = prev_h.shape[1]
        return l05_gru.gru_step_forward(x, prev_h, *(negate_block(w, 1, H) for w in (Wx, Wh, b)))
    score, out = report("gru_step_forward", {"gru_step_forward": gru_step_forward}, capsys)
    assert score < 3 and "OTHER update convention" in out, out


def test_the_correct_functions_get_no_mistake_message(capsys):
    score, out = report("lstm_step_forward", {"lstm_step_forward": l04_lstm.lstm_step_forward}, capsys)
    assert score == 3 and "CS231n" not in out
    score, out = report("gru_step_forward", {"gru_step_forward": l05_gru.gru_step_forward}, capsys)
    assert score == 3 and "OTHER" not in out
