"""Hidden-check library, on the grader's side: the questions the grade cells ask the checker for.

    ### BEGIN HIDDEN TESTS
    from autograder.in_kernel import grade
    grade("rnn_step_forward", globals(), points=3)
    ### END HIDDEN TESTS

Each lesson module registers its questions with @question(name); a question function receives a
`core.Question` and adds parts to it. The checker (autograder/checker/) runs them with
`run_question`; the student's kernel never imports this package.
"""
import importlib
import pkgutil

from autograder.checks.core import MissingFunction, Question

QUESTIONS = {}
IMPORT_ERRORS = {}


def question(name):
    def register(function):
        if name in QUESTIONS:
            raise ValueError(f"question {name!r} is registered twice")
        QUESTIONS[name] = function
        return function
    return register


def load_all():
    """Import every lesson module of this package, and `concepts` (they register their questions).

    A lesson module that fails to import is remembered, not raised: it must not stop the grading
    of the other lessons.
    """
    for info in pkgutil.iter_modules(__path__):
        name = f"{__name__}.{info.name}"
        if (info.name.startswith("lesson") or info.name == "concepts") and name not in IMPORT_ERRORS:
            try:
                importlib.import_module(name)
            except Exception as error:
                IMPORT_ERRORS[name] = f"{type(error).__name__}: {error}"
    return QUESTIONS


def run_question(name, points, kernel, seed=None, language="en"):
    """Score question `name` on the student's `kernel`; returns the finished Question."""
    load_all()
    if name not in QUESTIONS:
        broken = "; ".join(f"{module}: {error}" for module, error in IMPORT_ERRORS.items())
        raise KeyError(f"no hidden check is registered for {name!r}" + (f" (modules that failed to import: {broken})" if broken else ""))
    q = Question(name, kernel, points, seed, language)
    try:
        QUESTIONS[name](q)
    except MissingFunction as missing:   # looked up before the first part: every part fails
        q.parts = [(name, 1.0, False, str(missing))]
    return q
