"""Step 1, build: the nbgrader course directory under build/, made from solutions/.

    build/course/
        nbgrader_config.py        written here; `nbgrader ...` and formgrader work from this folder
        source/<lesson>/<lesson>.ipynb
        release/ submitted/ autograded/ feedback/ gradebook.db   (nbgrader's own folders)
"""
import os
import shutil
import sys
from pathlib import Path

from autograder.lessons import BUILD, ROOT, SOLUTIONS, lesson_ids, solution_path

COURSE_ID = "rnn-course"
CELL_TIMEOUT_S = 120

CONFIG = '''# Written by `python3 -m autograder build`; edits are overwritten.
c = get_config()
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {root!r}
c.Exchange.root = {exchange!r}
# Per-cell limit; nbgrader interrupts a cell that runs longer and goes on with the next one.
c.Execute.timeout = {timeout}
c.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]
# A student who deleted or retyped a test cell gets it back instead of a "needs manual grading" limbo.
c.OverwriteCells.add_missing_cells = True
# nbgrader zeroes a grade cell that wrote anything to stderr; warnings must never cost points,
# so every stderr stream is dropped before scoring (errors are 'error' outputs, not stderr).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"[\\s\\S]"
# Feedback shows results, never the hidden tests' code.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
'''


def course_root(build=BUILD):
    return Path(build) / "course"


def write_config(root):
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    text = CONFIG.format(course_id=COURSE_ID, root=str(root.resolve()),
                         exchange=str((root.parent / "exchange").resolve()), timeout=CELL_TIMEOUT_S)
    (root / "nbgrader_config.py").write_text(text)


def copy_sources(root, lessons=None, solutions=SOLUTIONS):
    """Copy each solution notebook to source/<lesson>/<lesson>.ipynb (only when it changed)."""
    for lesson_id in lessons or lesson_ids(solutions):
        target = Path(root) / "source" / lesson_id / f"{lesson_id}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        source = solution_path(lesson_id, solutions)
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)


def build(root=None, lessons=None, solutions=SOLUTIONS):
    """Create or refresh the course directory; returns its root. Existing grades are kept."""
    root = Path(root or course_root())
    write_config(root)
    copy_sources(root, lessons, solutions)
    (root.parent / "exchange").mkdir(parents=True, exist_ok=True)
    return root


def load_config(root):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()


def prepend_env_path(variable, folder):
    entries = [e for e in os.environ.get(variable, "").split(os.pathsep) if e]
    if folder not in entries:
        os.environ[variable] = os.pathsep.join([folder, *entries])


def prepare_environment():
    """nbgrader runs this environment's `alembic` when it creates a gradebook, and the grading kernels
    (which inherit this environment) import `course` and `autograder` from this checkout."""
    prepend_env_path("PATH", str(Path(sys.executable).parent))
    prepend_env_path("PYTHONPATH", str(ROOT))


def nbgrader_api(root):
    """An in-process nbgrader API bound to the course directory (no 3 s CLI start per call)."""
    import logging
    import warnings

    prepare_environment()
    # nbgrader 0.9.6 with SQLAlchemy 2.1 warns "not in session" on every autograde; the grades are right.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = load_config(root)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    api.log.setLevel(logging.ERROR)
    return api
