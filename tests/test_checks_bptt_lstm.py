"""Lessons 3 and 4 through the checker: what replaced torch.autograd.gradcheck for RNNFunction and
LSTMFunction still catches a backward that disagrees with its forward (and only that), the forget gate
follows the lecture's order [x; h], TorchLSTM's gradients come from the kernel, and every label and
message these checks print has a Vietnamese translation."""
import socket
import threading

import pytest

from autograder.checker.session import check_over
from autograder.export import reference_path
from autograder.in_kernel import server
from autograder.in_kernel.defaults import library_defaults
from course import lstm as L
from course.i18n import translate


def namespace(lesson_id, *edits):
    """The reference code of a lesson, with (old, new) text edits, executed into a notebook-like dict."""
    source = reference_path(lesson_id).read_text()
    for old, new, *where in edits:   # the first occurrence, or the last one with a third item "last"
        assert old in source, old
        source = _last(source, old, new) if where == ["last"] else source.replace(old, new, 1)
    ns = {"__name__": f"student_{lesson_id}"}
    exec(compile(source, f"<{lesson_id}>", "exec"), ns)
    return ns


def _last(source, old, new):
    i = source.rindex(old)
    return source[:i] + new + source[i + len(old):]


def run(question, ns, capsys=None, seed=5):
    """Grade in this process as the grade cells do off the grader (checker in a thread, over a socket
    pair); returns (score, {part label: (PASS or FAIL, message)})."""
    kernel_end, checker_end = socket.socketpair()
    outcome = {}
    with library_defaults(capture_output=False):
        thread = threading.Thread(target=lambda: outcome.update(q=check_over(checker_end, question, 10, seed)))
        thread.start()
        try:
            score, _ = server.serve_question(kernel_end, ns, question, 10)
        finally:
            kernel_end.close()
            thread.join(30)
            checker_end.close()
    return score, {label: ("PASS" if passed else "FAIL", message) for label, _, passed, message in outcome["q"].parts}


FD = "backward matches finite differences of your forward (float64)"

RNN_NO_TANH = ("da = (dh[:, t] + dprev_h) * (1 - h[:, t] ** 2)", "da = (dh[:, t] + dprev_h)")
RNN_LINEAR = [("prev_h = torch.tanh(x[:, t] @ Wx + prev_h @ Wh + b)", "prev_h = 0.5 * (x[:, t] @ Wx + prev_h @ Wh + b)"),
              ("da = (dh[:, t] + dprev_h) * (1 - h[:, t] ** 2)", "da = (dh[:, t] + dprev_h) * 0.5")]


def test_rnn_function_backward_bug_fails_the_finite_difference_part_and_the_gradients(capsys):
    score, parts = run("rnn_function", namespace("03_bptt", RNN_NO_TANH), capsys)
    assert parts[FD][0] == "FAIL" and "relative error" in parts[FD][1]
    assert parts["forward h (vs nn.RNN)"][0] == "PASS"
    assert parts["dWx (vs nn.RNN autograd, float64)"][0] == "FAIL"
    assert 0 < score < 10


def test_rnn_function_consistent_but_wrong_model_passes_only_the_finite_difference_part(capsys):
    score, parts = run("rnn_function", namespace("03_bptt", *RNN_LINEAR), capsys)
    assert parts[FD][0] == "PASS"
    assert [label for label, (status, _) in parts.items() if status == "PASS"] == [FD]
    assert 0 < score < 10


def test_rnn_function_missing_gradient_is_named(capsys):
    _, parts = run("rnn_function", namespace("03_bptt", ("return dx, dprev_h, dWx, dWh, db", "return dx, None, dWx, dWh, db", "last")), capsys)
    assert parts["dh0 (vs nn.RNN autograd, float64)"] == ("FAIL", "backward returned None for dh0")


def test_lstm_function_fd_part_catches_an_ignored_dcT(capsys):
    ns = namespace("04_lstm", ("dprev_h, dprev_c = torch.zeros_like(h0), dcT",
                               "dprev_h, dprev_c = torch.zeros_like(h0), torch.zeros_like(h0)"))
    score, parts = run("lstm_function", ns, capsys)
    assert parts[FD][0] == "FAIL"
    assert parts["forward (h, cT) against nn.LSTM, float64"][0] == "PASS"
    assert "dcT was ignored" in parts["backward: all six gradients against autograd through nn.LSTM, float64"][1]


LECTURE = "return sigmoid(W_f @ np.concatenate([x, h]) + b_f)"


def test_forget_gate_in_the_lecture_order_gets_full_marks_and_no_order_hint(capsys):
    assert LECTURE in reference_path("04_lstm").read_text(), "the reference follows the lecture's [x; h]"
    score, parts = run("forget_gate", namespace("04_lstm"), capsys)
    assert score == 10 and all(status == "PASS" for status, _ in parts.values())
    # the lecture's order also passes written another way: W_f split into the x and h columns
    ns = namespace("04_lstm", (LECTURE, "D = x.shape[0]\n    return sigmoid(W_f[:, :D] @ x + W_f[:, D:] @ h + b_f)"))
    score, parts = run("forget_gate", ns, capsys)
    assert score == 10 and all(status == "PASS" for status, _ in parts.values())


def test_forget_gate_h_first_is_told_the_lectures_order_in_every_part(capsys):
    ns = namespace("04_lstm", (LECTURE, "return sigmoid(W_f @ np.concatenate([h, x]) + b_f)"))
    score, parts = run("forget_gate", ns, capsys)
    assert score == 0
    for status, message in parts.values():
        assert status == "FAIL" and message.endswith(L.FORGET_H_FIRST)


def test_forget_gate_without_sigmoid_is_named_not_blamed_on_the_order(capsys):
    ns = namespace("04_lstm", (LECTURE, "return W_f @ np.concatenate([x, h]) + b_f"))
    _, parts = run("forget_gate", ns, capsys)
    messages = [m for _, m in parts.values()]
    assert all(m.endswith(L.FORGET_NO_SIGMOID) for m in messages)
    assert not any(L.FORGET_H_FIRST in m or "order" in m for m in messages)


def test_torch_lstm_gradients_come_from_the_kernel_and_a_cut_graph_is_named(capsys):
    ns = namespace("04_lstm", ("outputs.append(h)", "outputs.append(h)\n            h = h.detach()"))
    _, parts = run("torch_lstm", ns, capsys)
    label = "CPU: gradients of x, h0, c0 and the four parameters against nn.LSTM, tol 1e-5"
    assert parts[label] == ("FAIL", "h_n is not connected to the autograd graph (a .detach(), .data or torch.no_grad()?)")
    assert parts["CPU: forward (output, h_n, c_n) against nn.LSTM, float32, tol 1e-5"][0] == "PASS"


def test_torch_lstm_leaves_the_checkers_random_state_alone(capsys):
    import torch
    # the student's module is built in this process here (in-process kernel), so only the checker's own
    # draws are tested: TorchLSTM's __init__ is replaced by one that draws nothing
    ns = namespace("04_lstm", ("        for p in self.parameters():\n            nn.init.uniform_(p, -bound, bound)\n", ""))
    before = torch.random.get_rng_state()
    score, _ = run("torch_lstm", ns, capsys)
    assert score == 10
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize("question, lesson_id, edits", [
    ("rnn_function", "03_bptt", [RNN_NO_TANH]),
    ("rnn_function", "03_bptt", []),
    ("forget_gate", "04_lstm", [(LECTURE, "return sigmoid(W_f @ np.concatenate([h, x]) + b_f)")]),
    ("forget_gate", "04_lstm", [(LECTURE, "return W_f @ np.concatenate([x, h]) + b_f")]),
    ("torch_lstm", "04_lstm", [("outputs.append(h)", "outputs.append(h)\n            h = h.detach()")]),
    ("lstm_function", "04_lstm", [("dprev_h, dprev_c = torch.zeros_like(h0), dcT",
                                   "dprev_h, dprev_c = torch.zeros_like(h0), torch.zeros_like(h0)")]),
    ("lstm_function", "04_lstm", []),
])
def test_labels_and_messages_have_a_vietnamese_translation(question, lesson_id, edits, capsys):
    _, parts = run(question, namespace(lesson_id, *edits), capsys)
    for label, (_, message) in parts.items():
        assert translate(label, "vi") != label, label
        if message:
            assert translate(message, "vi") != message, message
