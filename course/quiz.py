"""Concept questions (self-assessment): the visible check of an answer's *form*, never of its value.

Each lesson ends with a few questions. You answer one by assigning a variable in its cell, e.g.

    answer_lstm_params = 1234

and the cell after it, `course.quiz.check_form("answer_lstm_params", answer_lstm_params, "count")`,
says whether the answer has the right form (a whole number here). Whether it is right is decided by
the hidden test when your notebook is graded, the same autograder as the exercises.

Kinds of answer:
- "count": a whole number (int), e.g. a number of parameters;
- "shape": a tuple of whole numbers, e.g. (4, 7, 20);
- "number": a real number (int or float);
- "vector": a list or tuple of `length` real numbers;
- "choice": one of `options` (a string: the case, spaces and hyphens do not matter).
"""
import numbers
import unicodedata

from course.checks import CheckFailed, ok

KINDS = ("count", "shape", "number", "vector", "choice")


def normalise(text):
    """How a choice is compared: NFC, lower case, no surrounding brackets, quotes or full stop, no
    comma, one hyphen for any run of spaces, hyphens, dashes or underscores, no trailing word "gate"
    ("Many to one" == "many-to-one", "many-to-many, aligned" == "many-to-many aligned",
    "Forget gate" == "forget", "nhiều - một" == "nhiều–một")."""
    text = unicodedata.normalize("NFC", str(text)).strip().lower().strip("()[]'\". ").replace(",", " ")
    for dash in ("\u2013", "\u2014", "_", " "):
        text = text.replace(dash, "-")
    while "--" in text:
        text = text.replace("--", "-")
    text = text.strip("-")
    return text[:-len("-gate")] if text.endswith("-gate") and len(text) > len("-gate") else text


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def form_problem(value, kind, options=None, length=None):
    """None when `value` has the form of a `kind` answer, else what is wrong (English)."""
    if value is None:
        return "is still None: replace None with your answer and run the cell"
    if kind == "count":
        if not _is_int(value):
            return f"should be a whole number (an int, e.g. 123), got {type(value).__name__}"
        if value < 0:
            return "should be a count (0 or more)"
    elif kind == "shape":
        if not isinstance(value, tuple) or not all(_is_int(v) for v in value):
            return f"should be a tuple of whole numbers, e.g. (4, 7, 20), got {type(value).__name__}"
    elif kind == "number":
        if not _is_real(value):
            return f"should be a number (an int or a float), got {type(value).__name__}"
    elif kind == "vector":
        items = list(value) if isinstance(value, (list, tuple)) else None
        if items is None and hasattr(value, "tolist"):
            items = value.tolist()
        if not isinstance(items, list) or not all(_is_real(v) for v in items):
            return f"should be a list of numbers, e.g. [1.0, 2.0], got {type(value).__name__}"
        if length is not None and len(items) != length:
            return f"should hold {length} numbers, got {len(items)}"
    elif kind == "choice":
        if not isinstance(value, str):
            return f"should be a string (one of the options), got {type(value).__name__}"
        if options is not None and normalise(value) not in {normalise(o) for o in options}:
            return "is not one of the options: " + ", ".join(repr(o) for o in options)
    else:  # pragma: no cover - a lesson author's mistake
        raise ValueError(f"unknown kind of answer {kind!r}; one of {KINDS}")
    return None


def check_form(name, value, kind, options=None, length=None):
    """Visible check: the answer has the right form (not: the answer is right)."""
    problem = form_problem(value, kind, options, length)
    if problem is not None:
        raise CheckFailed(f"{name} {problem}")
    ok(f"{name} has the right form; the hidden test checks whether it is right")
