"""The concept questions (self-assessment) at the end of every lesson: autograder/checks/concepts.py,
course/quiz.py, and the answer cells of the notebooks (released as `answer_... = None`)."""
import re

import nbformat
import numpy as np
import pytest

from autograder import checks
from autograder.checks import concepts
from autograder.in_kernel import grade
from autograder.lessons import LESSONS, SOLUTIONS, lesson_ids
from course import quiz
from tests.test_hidden_checks import fresh_reference_namespace

LESSON_IDS = lesson_ids()


def concept_questions():
    checks.load_all()
    return sorted(n for n, f in checks.QUESTIONS.items() if f.__module__ == concepts.__name__)


def asked_in(lesson_id, folder=SOLUTIONS):
    """{question: answer variable} of the lesson's concept questions, from its grade and answer cells."""
    notebook = nbformat.read(str(folder / f"{lesson_id}.ipynb"), as_version=4)
    questions = [m for c in notebook.cells for m in re.findall(r'grade\("(concepts_\w+)"', c.source)]
    answers = [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
               if c.metadata.get("nbgrader", {}).get("solution") and c.metadata["nbgrader"]["grade_id"].startswith("answer_")]
    return questions, answers


def score(question, namespace):
    return grade(question, namespace, points=1, seed=7)


def report(question, namespace, capsys):
    score(question, namespace)
    return capsys.readouterr().out


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_every_lesson_asks_three_to_five_questions_each_with_its_answer_cell(lesson_id):
    questions, answers = asked_in(lesson_id)
    assert 3 <= len(questions) <= 5, questions
    assert [q.removeprefix("concepts_") for q in questions] == [a.removeprefix("answer_") for a in answers]
    assert set(questions) <= set(concept_questions())


def test_every_registered_concept_question_is_asked_once():
    asked = [q for lesson_id in LESSON_IDS for q in asked_in(lesson_id)[0]]
    assert sorted(asked) == concept_questions()


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_the_solutions_earn_full_marks_and_the_release_earns_nothing(lesson_id):
    questions, answers = asked_in(lesson_id)
    namespace = fresh_reference_namespace(lesson_id)
    for question, variable in zip(questions, answers):
        assert score(question, namespace) == 1, question
        assert quiz.form_problem(namespace[variable], "choice" if isinstance(namespace[variable], str) else
                                 {tuple: "shape", list: "vector", int: "count", float: "number"}[type(namespace[variable])]) is None
        assert score(question, dict(namespace, **{variable: None})) == 0, question
        assert score(question, {k: v for k, v in namespace.items() if k != variable}) == 0, question


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_the_release_stub_is_none_and_its_visible_check_fails(lesson_id):
    notebook = nbformat.read(str(LESSONS / f"{lesson_id}.ipynb"), as_version=4)
    cells = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("answer_")]
    assert cells
    for cell in cells:
        variable = cell.metadata["nbgrader"]["grade_id"]
        assert f"{variable} = None  # YOUR ANSWER HERE" in cell.source and "NotImplementedError" not in cell.source


WRONG = {  # plausible wrong answers: each costs the point, and the message never shows the right answer
    "concepts_shape_digits": "many-to-many aligned", "concepts_shape_headline": "many-to-many aligned",
    "concepts_onehot_shape": (32, 65, 20), "concepts_embedding_params": 65 + 16,
    "concepts_rnn_params": 10 * 20 + 20 * 20 + 20, "concepts_rnn_output_shape": (4, 20),
    "concepts_rnn_params_long": 50 * (10 * 20 + 20 * 20 + 20),
    "concepts_grad_shape": (20, 10), "concepts_clipped_gradient": [0.6, 0.8], "concepts_vanishing": "explodes",
    "concepts_lstm_params": 4 * (10 * 20 + 20 * 20 + 20), "concepts_lstm_erase": "input",
    "concepts_lstm_worked_example": 0.5, "concepts_lstm_expose": "forget",
    "concepts_gru_params": 4 * (10 * 20 + 20 * 20 + 40), "concepts_gru_copy": 1, "concepts_gru_candidate_gate": "update",
    "concepts_bilstm_shape": (4, 7, 16), "concepts_temperature": 0.5, "concepts_teacher_forcing": "a",
    "concepts_captioning_shape": "many-to-one",
}


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_a_wrong_answer_costs_the_point_without_showing_the_answer(lesson_id, capsys):
    questions, answers = asked_in(lesson_id)
    namespace = fresh_reference_namespace(lesson_id)
    for question, variable in zip(questions, answers):
        right = namespace[variable]
        text = report(question, dict(namespace, **{variable: WRONG[question]}), capsys)
        assert text.startswith(f"{question}: 0 / 1"), text
        assert f"{variable} is not right." in text
        shown = [str(right)] if not isinstance(right, (tuple, list)) else [str(right), str(tuple(right))]
        message = text.split("is not right.", 1)[1]
        assert not any(s in message for s in shown if len(s) > 1), (question, text)


EQUIVALENT = [  # (question, an equivalent form of the right answer)
    ("concepts_shape_digits", "Many to one"), ("concepts_shape_digits", "nhiều - một"),
    ("concepts_shape_headline", "many-to-many, unaligned"), ("concepts_shape_headline", "Nhiều–nhiều không khớp"),
    ("concepts_lstm_erase", "Forget gate"), ("concepts_lstm_erase", "cổng quên"), ("concepts_lstm_expose", " OUTPUT "),
    ("concepts_gru_candidate_gate", "cổng đặt lại"), ("concepts_vanishing", "triệt tiêu"), ("concepts_teacher_forcing", "(B)"),
    ("concepts_onehot_shape", (np.int64(32), 20, 65)), ("concepts_lstm_params", np.int64(2560)),
    ("concepts_clipped_gradient", (3, 4)), ("concepts_clipped_gradient", np.array([3.0, 4.0])),
    ("concepts_lstm_worked_example", 1), ("concepts_gru_copy", 0.0), ("concepts_temperature", 2.0),
    ("concepts_captioning_shape", "một–nhiều"),
]


@pytest.mark.parametrize("question,value", EQUIVALENT)
def test_equivalent_forms_are_accepted_by_the_hidden_and_the_visible_check(question, value):
    lesson_id = next(l for l in LESSON_IDS if question in asked_in(l)[0])
    questions, answers = asked_in(lesson_id)
    variable = answers[questions.index(question)]
    assert score(question, {variable: value}) == 1


def test_a_wrong_form_gets_the_visible_checks_message(capsys):
    text = report("concepts_lstm_params", {"answer_lstm_params": "2560"}, capsys)
    assert "answer_lstm_params should be a whole number (an int, e.g. 123), got str" in text
    with pytest.raises(AssertionError, match="should be a whole number"):
        quiz.check_form("answer_lstm_params", "2560", "count")
    text = report("concepts_lstm_erase", {"answer_lstm_erase": "the forget one"}, capsys)
    assert "is not one of the options" in text


def test_the_answers_come_from_torch_not_from_constants():
    """The oracles answer other versions of the questions correctly (they are computed, not typed in)."""
    assert concepts._lstm_gate_role("erase") == "forget" and concepts._lstm_gate_role("expose") == "output"
    assert concepts._gru_reset_role() == "reset" and concepts._gru_copy_value() == 0
    assert concepts._trend(radius=0.5) == "vanishes" and concepts._trend(radius=2.0) == "explodes"
    assert concepts._dWx_shape(D=3, H=5) == (3, 5)
    assert concepts._flattest_temperature((0.1, 5, 1)) == 5
