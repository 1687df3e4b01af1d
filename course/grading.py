"""Grading mode: nbgrader sets NBGRADER_EXECUTION in the kernel while it validates or autogrades.

Long training cells ask `course.budget(full=..., grading=...)` how many steps to run, so a whole
notebook grades in seconds while students get the full experiment.
"""
import os


def grading_mode():
    """True while nbgrader validates or autogrades this notebook."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def budget(full, grading):
    """`full` normally, `grading` in grading mode (e.g. the number of training steps)."""
    return grading if grading_mode() else full


def progress(iterable=None, **kwargs):
    """A tqdm progress bar (notebook widget or text), silent in grading mode."""
    from tqdm.auto import tqdm

    from course.i18n import translate

    kwargs.setdefault("disable", grading_mode())
    if "desc" in kwargs:
        kwargs["desc"] = translate(kwargs["desc"])
    kwargs.setdefault("mininterval", 0.5)
    return tqdm(iterable, **kwargs)
