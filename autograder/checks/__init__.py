"""Hidden-check library: what the grade cells of the lessons call.

    ### BEGIN HIDDEN TESTS
    from autograder.checks import grade
    grade("rnn_step_forward", globals(), points=3)
    ### END HIDDEN TESTS

Each lesson module registers its questions with @question(name); a question function receives a
`core.Question` and adds parts to it.
"""
import importlib
import pkgutil

from autograder.checks.core import Question

QUESTIONS = {}


def question(name):
    def register(function):
        if name in QUESTIONS:
            raise ValueError(f"question {name!r} is registered twice")
        QUESTIONS[name] = function
        return function
    return register


def load_all():
    """Import every lesson module of this package (they register their questions)."""
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("lesson"):
            importlib.import_module(f"{__name__}.{info.name}")
    return QUESTIONS


def grade(name, namespace, points, seed=None):
    """Score question `name` against the student's `namespace`; prints a report, returns the points."""
    load_all()
    if name not in QUESTIONS:
        raise KeyError(f"no hidden check is registered for {name!r}")
    q = Question(name, namespace, points, seed)
    QUESTIONS[name](q)
    q.report()
    return float(q.score())
