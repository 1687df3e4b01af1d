"""The hidden-check machinery: parts, partial credit, quiet student code, isolation."""
import warnings

import numpy as np
import pytest

from autograder.checks.core import Mismatch, Question, expect_close


def test_parts_give_partial_credit_as_a_plain_float():
    q = Question("demo", {}, points=3, seed=1)
    q.part("a", lambda: None, weight=2)

    def fails():
        raise Mismatch("wrong")
    q.part("b", fails)
    assert q.score() == 2.0 and type(q.score()) is float


def test_student_output_and_warnings_are_swallowed(capsys):
    def noisy():
        import sys
        print("to stdout")
        print("to stderr", file=sys.stderr)
        warnings.warn("careful")
    q = Question("demo", {}, points=1, seed=1)
    q.part("noisy", noisy)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "" and q.score() == 1.0


def test_not_implemented_and_missing_functions_score_zero_with_a_reason(capsys):
    def stub():
        raise NotImplementedError()
    q = Question("demo", {"f": stub}, points=2, seed=1)
    q.part("calls f", lambda: q.student("f")())
    q.part("calls g", lambda: q.student("g")())
    q.report()
    out = capsys.readouterr().out
    assert q.score() == 0.0 and "not implemented yet" in out and "`g` is not defined" in out


def test_using_swaps_in_a_reference_and_restores_the_namespace():
    namespace = {"step": "student's"}
    q = Question("demo", namespace, points=1, seed=1)
    with q.using(step="reference", helper="added"):
        assert namespace == {"step": "reference", "helper": "added"}
    assert namespace == {"step": "student's"}


def test_expect_close_reports_errors_not_values():
    import numpy as np
    import pytest

    with pytest.raises(Mismatch) as info:
        expect_close("out", np.array([1.0, 2.0]), np.array([1.0, 2.5]))
    assert "relative error" in str(info.value) and "2.5" not in str(info.value)
    with pytest.raises(Mismatch, match="shape"):
        expect_close("out", np.ones(2), np.ones(3))
    with pytest.raises(Mismatch, match="NaN"):
        expect_close("out", np.array([np.nan]), np.array([1.0]))


def test_expect_tuple_names_what_the_function_should_return():
    from autograder.checks.core import Mismatch, expect_tuple

    assert expect_tuple((1, 2), "gru_forward", ["h", "cache"]) == (1, 2)
    with pytest.raises(Mismatch, match=r"gru_forward should return the tuple \(h, cache\), got a ndarray"):
        expect_tuple(np.zeros(3), "gru_forward", ["h", "cache"])
    with pytest.raises(Mismatch, match="got a tuple of 3 values"):
        expect_tuple((1, 2, 3), "gru_forward", ["h", "cache"])
    with pytest.raises(Mismatch, match="got a list of 2 values"):
        expect_tuple([1, 2], "gru_forward", ["h", "cache"])
    assert expect_tuple([1, 2], "beam_search", ["tokens", "score"], lists_too=True) == [1, 2]


def test_a_missing_function_scores_zero_with_a_message_not_a_traceback(capsys):
    from autograder.checks import grade

    assert grade("rnn_step_forward", {}, points=3, seed=1) == 0.0
    out = capsys.readouterr().out
    assert out.startswith("rnn_step_forward: 0 / 3 points")
    assert "FAIL  rnn_step_forward: `rnn_step_forward` is not defined: run its cell, and keep its name." in out
