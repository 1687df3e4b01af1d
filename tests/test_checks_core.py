"""The hidden-check machinery: parts, partial credit, the student's code reached only through the
checker's wire (data in, data out), quiet student code, references swapped in and out."""
import json
import socket
import struct
import threading

import numpy as np
import pytest
import torch

from autograder.checker.remote import Kernel
from autograder.checks.core import Mismatch, Question, expect_close
from autograder.in_kernel import grade, server, wire


class Connected:
    """A Question whose kernel is `namespace` served by the real kernel side in a thread, over a socket pair."""

    def __init__(self, namespace, points=3):
        self.kernel_end, checker_end = socket.socketpair()
        self.side = server.KernelSide(namespace)
        self.side.peer = wire.Peer(self.kernel_end, self.side.serve, self.side.encoder, self.side.decoder)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        kernel = Kernel(lambda k: wire.Peer(checker_end, k.serve_callback, k.encoder, k.decoder))
        self.q = Question("demo", kernel, points=points, seed=1)
        self.checker_end = checker_end

    def _serve(self):
        try:
            while True:
                header, buffers = wire.receive(self.kernel_end)
                self.side.peer.answer(header, buffers)
        except (wire.ConnectionLost, OSError):
            pass

    def close(self):
        self.checker_end.close()
        self.thread.join(5)
        self.kernel_end.close()


@pytest.fixture
def connect():
    made = []

    def make(namespace, points=3):
        made.append(Connected(namespace, points))
        return made[-1].q
    yield make
    for connection in made:
        connection.close()


def test_parts_give_partial_credit_as_a_plain_float(connect):
    q = connect({})
    q.part("a", lambda: None, weight=2)

    def fails():
        raise Mismatch("wrong")
    q.part("b", fails)
    assert q.score() == 2.0 and type(q.score()) is float


def test_student_output_and_warnings_stay_in_the_kernel(connect, capsys):
    def noisy(x):
        import sys
        import warnings
        print("to stdout")
        print("to stderr", file=sys.stderr)
        warnings.warn("careful")
        return x * 2
    q = connect({"noisy": noisy})
    q.part("noisy", lambda: expect_close("out", q.student("noisy")(np.ones(3)), 2 * np.ones(3)))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "" and q.score() == 3.0


def test_not_implemented_and_missing_functions_score_zero_with_a_reason(connect):
    def stub():
        raise NotImplementedError()
    q = connect({"f": stub}, points=2)
    q.part("calls f", lambda: q.student("f")())
    q.part("calls g", lambda: q.student("g")())
    out = q.report_text()
    assert q.score() == 0.0 and "not implemented yet" in out and "`g` is not defined" in out


def test_results_are_copies_and_changes_in_place_come_back(connect):
    def doubles_in_place(a):
        a *= 2
        return a
    q = connect({"f": doubles_in_place})
    mine = np.arange(3.0)
    result = q.student("f")(mine)
    assert result is not mine and np.array_equal(result, [0.0, 2.0, 4.0])
    assert np.array_equal(mine, [0.0, 2.0, 4.0]), "the in-place change was not written back"


def test_using_swaps_in_a_checker_function_and_restores_the_namespace(connect):
    calls = []

    def reference_step(x):
        calls.append(x)
        return x + 1

    def student_sequence(xs):
        return [step(x) for x in xs]   # `step` is looked up in the notebook's globals at call time

    namespace = {"step": lambda x: -1.0}
    exec("def sequence(xs):\n    return [step(x) for x in xs]\n", namespace)
    q = connect(namespace)
    with q.using(step=reference_step):
        assert q.student("sequence")([1.0, 2.0]) == [2.0, 3.0]
    assert len(calls) == 2
    assert q.student("sequence")([1.0]) == [-1.0]   # the student's own step is back


def test_a_stub_kept_by_the_student_stops_answering_after_its_block(connect):
    namespace = {}
    exec("kept = []\ndef keep():\n    kept.append(step)\n    return step(1)\ndef later():\n    return kept[0](1)\n",
         namespace)
    q = connect(namespace)
    with q.using(step=lambda x: x + 41):
        assert q.student("keep")() == 42
    with pytest.raises(wire.RemoteError, match="no longer available"):
        q.student("later")()


def test_kernel_objects_are_handles_and_autograd_runs_in_the_kernel(connect):
    namespace = {"torch": torch}
    exec("class Scale(torch.nn.Module):\n"
         "    def __init__(self, n):\n"
         "        super().__init__()\n"
         "        self.w = torch.nn.Parameter(torch.ones(n))\n"
         "    def forward(self, x):\n"
         "        return x * self.w\n", namespace)
    q = connect(namespace)
    module = q.student("Scale")(3)
    assert module.type_name == "Scale"
    assert [name for name, _ in module.named_parameters()] == ["w"]
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    result = q.kernel.grad_call(module, x, grad_outputs=torch.tensor([1.0, 1.0, 2.0]))
    assert torch.equal(result.out, torch.tensor([1.0, 2.0, 3.0]))
    assert torch.equal(result.input_grads[0], torch.tensor([1.0, 1.0, 2.0]))
    assert torch.equal(result.param_grads["w"], torch.tensor([1.0, 2.0, 6.0]))


def test_forbidden_layers_refuse_to_run_in_the_students_code(connect):
    namespace = {"torch": torch}
    exec("def uses_rnn(x):\n    return torch.nn.RNN(2, 3)(x)[0]\n", namespace)
    q = connect(namespace)
    with pytest.raises(wire.RemoteError, match="write the loop"):
        q.kernel.grad_call("uses_rnn", torch.zeros(1, 2, 2), forbid={"classes": ["RNN"], "message": "write the loop"})
    assert torch.nn.RNN(2, 3)(torch.zeros(1, 2, 2))[0].shape == (1, 2, 3)   # put back afterwards


def test_each_request_runs_with_library_defaults_and_the_notebooks_state_comes_back():
    namespace = {}
    exec("import numpy as np, torch\n"
         "def state(x):\n"
         "    return (str(torch.get_default_dtype()), torch.is_grad_enabled(), np.geterr()['under'],\n"
         "            float(np.exp(np.array(-1000.0))))\n", namespace)
    saved = torch.get_default_dtype(), np.geterr()
    torch.set_default_dtype(torch.float64)
    np.seterr(all="raise")
    try:
        with torch.no_grad():
            connection = Connected(namespace)
            try:
                assert connection.q.student("state")(1) == ("torch.float32", True, "ignore", 0.0)
            finally:
                connection.close()
        assert torch.get_default_dtype() == torch.float64 and np.geterr()["under"] == "raise"
    finally:
        torch.set_default_dtype(saved[0])
        np.seterr(**saved[1])


def test_expect_close_reports_errors_not_values():
    with pytest.raises(Mismatch) as info:
        expect_close("out", np.array([1.0, 2.0]), np.array([1.0, 2.5]))
    assert "relative error" in str(info.value) and "2.5" not in str(info.value)
    with pytest.raises(Mismatch, match="shape"):
        expect_close("out", np.ones(2), np.ones(3))
    with pytest.raises(Mismatch, match="NaN"):
        expect_close("out", np.array([np.nan]), np.array([1.0]))


def test_expect_tuple_names_what_the_function_should_return():
    from autograder.checks.core import expect_tuple

    assert expect_tuple((1, 2), "gru_forward", ["h", "cache"]) == (1, 2)
    with pytest.raises(Mismatch, match=r"gru_forward should return the tuple \(h, cache\), got a ndarray"):
        expect_tuple(np.zeros(3), "gru_forward", ["h", "cache"])
    with pytest.raises(Mismatch, match="got a tuple of 3 values"):
        expect_tuple((1, 2, 3), "gru_forward", ["h", "cache"])
    with pytest.raises(Mismatch, match="got a list of 2 values"):
        expect_tuple([1, 2], "gru_forward", ["h", "cache"])
    assert expect_tuple([1, 2], "beam_search", ["tokens", "score"], lists_too=True) == [1, 2]


def test_a_missing_function_scores_zero_with_a_message_not_a_traceback(capsys):
    assert grade("rnn_step_forward", {}, points=3, seed=1) == 0.0
    out = capsys.readouterr().out
    assert out.startswith("rnn_step_forward: 0 / 3 points")
    assert "FAIL  rnn_step_forward: `rnn_step_forward` is not defined: run its cell, and keep its name." in out


# ------------------------------------------------------------------------------ the wire itself
VALUES = [None, True, 3, -2**70, 1.5, float("inf"), complex(1, -2), "héllo", b"\x00\x01",
          (1, [2, {"a": 3, 4: (5,)}]), np.arange(6.0).reshape(2, 3), np.array(["ab", "c"]), np.float32(2.5),
          np.zeros((0, 4), dtype=np.int64), torch.arange(4, dtype=torch.float32).reshape(2, 2),
          torch.ones(2, dtype=torch.bfloat16), torch.float64, torch.device("cpu")]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_data_survives_the_wire(value):
    encoder = wire.Encoder()
    header = encoder.encode(value)
    back = wire.Decoder(encoder.buffers).decode(json.loads(json.dumps(header)))
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and np.array_equal(back, value)
    elif isinstance(value, torch.Tensor):
        assert back.dtype == value.dtype and torch.equal(back, value)
    else:
        assert back == value and type(back) is type(value)


def test_requires_grad_travels_and_objects_become_handles():
    encoder = wire.Encoder(handle_of=lambda obj: 7)
    header = encoder.encode((torch.ones(2, requires_grad=True), object()))
    tensor, handle = wire.Decoder(encoder.buffers).decode(header)
    assert tensor.requires_grad and tensor.is_leaf
    assert isinstance(handle, wire.Handle) and handle.number == 7 and handle.type_name == "object"


@pytest.mark.parametrize("header, buffers", [
    ({"A": 0, "dt": "|O", "sh": [1]}, [b"\x00" * 8]),                 # object arrays: pickles in disguise
    ({"A": 0, "dt": "<f8", "sh": [1000]}, [b"\x00" * 8]),             # shape and bytes disagree
    ({"A": 5, "dt": "<f8", "sh": [1]}, [b"\x00" * 8]),                # a buffer that does not exist
    ({"X": 0, "dt": "Tensor", "sh": [1]}, [b"\x00" * 4]),             # not a dtype
    ({"X": 0, "dt": "int64", "sh": [1], "rg": True}, [b"\x00" * 8]),  # integer tensors have no gradient
    ({"pickle": "gASV"}, []),                                         # unknown tags
    ({"T": {"a": 1}}, []),
    ({"D": [[{"L": []}, 1]]}, []),                                    # an unhashable key
])
def test_forged_values_are_refused(header, buffers):
    with pytest.raises(wire.WireError):
        wire.Decoder(buffers).decode(header)


def test_a_frame_over_the_limit_is_refused_before_it_is_read():
    sender, receiver = socket.socketpair()
    try:
        sender.sendall(struct.pack(">I", wire.MAX_FRAME_BYTES + 1))
        with pytest.raises(wire.WireError, match="size limit"):
            wire.receive(receiver)
    finally:
        sender.close()
        receiver.close()


def test_deep_nesting_is_refused():
    node = 1
    for _ in range(wire.MAX_DEPTH + 5):
        node = {"L": [node]}
    with pytest.raises(wire.WireError, match="deeply"):
        wire.Decoder([]).decode(node)


def test_a_notebook_variable_comes_back_as_data_and_a_missing_one_is_named(connect):
    q = connect({"answer_params": 4 * (3 * 5 + 5 * 5 + 5), "answer_gate": "forget"})
    assert q.answer("answer_params") == 180 and q.answer("answer_gate") == "forget"
    q.part("missing", lambda: q.answer("answer_shape"))
    assert "`answer_shape` is not defined" in q.report_text()
