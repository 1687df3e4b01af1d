"""The hidden checks themselves: the reference earns full marks, a stub earns nothing, and one broken
function costs the points of its own question only (each question is scored on its own)."""
import importlib

import pytest

from autograder import checks
from autograder.in_kernel import grade
from autograder.export import reference_path
from autograder.lessons import lesson_ids, reference_module_name

LESSON_IDS = lesson_ids()


class Recording(dict):
    """A namespace that remembers which names the checks asked for as the student's code."""

    def __init__(self, *args):
        super().__init__(*args)
        self.requested = set()

    def get(self, key, default=None):
        self.requested.add(key)
        return super().get(key, default)


def fresh_reference_namespace(lesson_id):
    """The reference code executed into a plain dict, as a notebook's globals would be."""
    namespace = Recording({"__name__": f"student_{lesson_id}"})
    exec(compile(reference_path(lesson_id).read_text(), str(reference_path(lesson_id)), "exec"), namespace)
    return namespace


def questions_of(lesson_id):
    checks.load_all()
    module = importlib.import_module(f"autograder.checks.lesson{lesson_id[:2]}")
    return sorted(name for name, function in checks.QUESTIONS.items() if function.__module__ == module.__name__)


def broken(name):
    def function(*args, **kwargs):
        raise RuntimeError(f"{name} is broken on purpose")
    return type(name, (), {"__init__": function}) if name[:1].isupper() else function


def score(question, namespace, points=10):
    return grade(question, namespace, points=points, seed=1234)


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_lesson_has_a_check_module_with_questions(lesson_id):
    assert questions_of(lesson_id), f"autograder/checks/lesson{lesson_id[:2]}.py registers no question"


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_the_reference_earns_full_marks_and_stubs_earn_nothing(lesson_id):
    for question in questions_of(lesson_id):
        namespace = fresh_reference_namespace(lesson_id)
        assert score(question, namespace) == 10, question
        stubbed = Recording(namespace)
        for name in namespace.requested:
            stubbed[name] = broken(name)
        assert score(question, stubbed) == 0, f"{question} gave points to code that raises"


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_one_broken_function_costs_only_its_own_question(lesson_id):
    questions = questions_of(lesson_id)
    requested = {}
    for question in questions:
        namespace = fresh_reference_namespace(lesson_id)
        score(question, namespace)
        requested[question] = namespace.requested
    for question in questions:
        namespace = fresh_reference_namespace(lesson_id)
        own = {n for n in requested[question] if n in namespace}
        for name in own:
            namespace[name] = broken(name)
        for other in questions:
            if other != question and not (requested[other] & own):
                assert score(other, namespace) == 10, f"breaking {sorted(own)} cost points in {other}"
