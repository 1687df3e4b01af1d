"""Where things are: the project's folders and the lessons found in solutions/."""
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
LESSONS = ROOT / "lessons"
REFERENCES = ROOT / "autograder" / "references"
BUILD = Path(os.environ.get("RNN_COURSE_BUILD", ROOT / "build"))

LESSON_ID = re.compile(r"^\d\d_[a-z0-9_]+$")


def lesson_ids(solutions=SOLUTIONS):
    """The lesson ids (notebook stems such as '02_vanilla_rnn'), in order."""
    return sorted(p.stem for p in Path(solutions).glob("*.ipynb") if LESSON_ID.match(p.stem))


def solution_path(lesson_id, solutions=SOLUTIONS):
    return Path(solutions) / f"{lesson_id}.ipynb"


def reference_module_name(lesson_id):
    """'02_vanilla_rnn' -> 'l02_vanilla_rnn' (module names cannot start with a digit)."""
    return f"l{lesson_id}"
