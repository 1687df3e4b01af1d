"""Step 1, build: the nbgrader course directory under build/, made from solutions/.

    build/course/
        nbgrader_config.py        written here; `nbgrader ...` and formgrader work from this folder
        source/<lesson>/<lesson>.ipynb
        release/ submitted/ autograded/ feedback/ gradebook.db   (nbgrader's own folders)

The gradebook is SQLite (gradebook.db) by default. build(..., db_url="postgresql://user:pw@host/db")
puts it in a database server instead (CourseDirectory.db_url in nbgrader_config.py, so `nbgrader`
commands and formgrader use it too); the course directory remembers that URL until another is given.
"""
import os
import shutil
import sys
from pathlib import Path

from autograder.lessons import BUILD, ROOT, SOLUTIONS, lesson_ids, solution_path
from autograder.limits import CELL_TIMEOUT_S

COURSE_ID = "rnn-course"

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
DB_URL_LINE = '''# The gradebook (default: SQLite gradebook.db in this folder). Kept when `build` runs without a URL.
c.CourseDirectory.db_url = {db_url!r}
'''


def course_root(build=BUILD):
    return Path(build) / "course"


def default_db_url(root):
    """nbgrader's own default: SQLite gradebook.db in the course directory."""
    return f"sqlite:///{(Path(root) / 'gradebook.db').resolve()}"


def configured_db_url(root):
    """The gradebook URL the course directory's config names, or None (the SQLite default)."""
    if not (Path(root) / "nbgrader_config.py").exists():
        return None
    course = load_config(root).CourseDirectory
    return course.db_url if "db_url" in course else None


def gradebook_url(root):
    return configured_db_url(root) or default_db_url(root)


def write_config(root, db_url=None):
    """Write nbgrader_config.py. db_url None keeps the URL the existing config names (if any)."""
    from urllib.parse import urlsplit

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    db_url = db_url or configured_db_url(root)
    text = CONFIG.format(course_id=COURSE_ID, root=str(root.resolve()),
                         exchange=str((root.parent / "exchange").resolve()), timeout=CELL_TIMEOUT_S)
    if db_url and db_url != default_db_url(root):
        text += DB_URL_LINE.format(db_url=db_url)
    path = root / "nbgrader_config.py"
    path.write_text(text)
    # a password in the URL: the config is for the grader's eyes only (kernels never see this folder)
    path.chmod(0o600 if db_url and urlsplit(db_url).password else 0o644)


def copy_sources(root, lessons=None, solutions=SOLUTIONS):
    """Copy each solution notebook to source/<lesson>/<lesson>.ipynb (only when it changed)."""
    for lesson_id in lessons or lesson_ids(solutions):
        target = Path(root) / "source" / lesson_id / f"{lesson_id}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        source = solution_path(lesson_id, solutions)
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)


def build(root=None, lessons=None, solutions=SOLUTIONS, db_url=None):
    """Create or refresh the course directory; returns its root. Existing grades are kept.
    db_url: the gradebook's database URL (None: the one configured before, else SQLite)."""
    root = Path(root or course_root())
    write_config(root, db_url)
    copy_sources(root, lessons, solutions)
    (root.parent / "exchange").mkdir(parents=True, exist_ok=True)
    return root


def copy_course(root, target, leave_out=()):
    """Copy a course directory (gradebook included) to `target`, its config pointing at the copy;
    `leave_out`: names of files or folders not to copy (e.g. "feedback"). Returns `target`."""
    target = Path(target)
    shutil.copytree(root, target, ignore=shutil.ignore_patterns(*leave_out))
    write_config(target)
    return target


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


def skip_iri_format_checker():
    """jsonschema, with which nbformat and nbgrader validate notebooks, registers a checker for the
    'iri' string format by importing rfc3987_syntax, which builds a grammar as it is imported: 1.2 s
    of every process that imports nbformat (measured with `python -X importtime -c "import nbformat"`).
    No notebook schema uses that format and nothing here asks jsonschema to check formats, so the
    grading processes leave the module out (jsonschema then has no 'iri' checker, which is all that
    changes). Call before nbformat is imported; afterwards it changes nothing."""
    sys.modules.setdefault("rfc3987_syntax", None)


def share_gradebook_engines():
    """nbgrader opens a new Gradebook, with a new SQLAlchemy engine, several times for every notebook
    it autogrades or writes feedback for, and an engine's cache of compiled SQL statements is its
    own: every query was compiled again each time (~35 ms of each Gradebook, measured). Workers, and
    the process that runs a grading batch, therefore get one engine per database URL.
    Gradebook.close() still disposes of the engine's connections (the next Gradebook opens new
    ones), so nothing stays open between uses."""
    import nbgrader.api

    if getattr(nbgrader.api.create_engine, "shared", False):
        return
    engines, create = {}, nbgrader.api.create_engine

    def create_engine(url, *args, **kwargs):
        key = (str(url), args, tuple(sorted(kwargs.items())))
        if key not in engines:
            engines[key] = create(url, *args, **kwargs)
        return engines[key]

    create_engine.shared = True
    nbgrader.api.create_engine = create_engine


def nbgrader_api(root, db_url=None):
    """An in-process nbgrader API bound to the course directory (no 3 s CLI start per call), and to its
    configured gradebook unless `db_url` names another."""
    import logging
    import warnings

    prepare_environment()
    # nbgrader 0.9.6 with SQLAlchemy 2.1 warns "not in session" on every autograde; the grades are right.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = load_config(root)
    if db_url:
        config.CourseDirectory.db_url = db_url
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    api.log.setLevel(logging.ERROR)
    return api
