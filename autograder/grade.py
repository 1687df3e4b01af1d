"""Step 4, grade: import a batch into nbgrader, autograde it with several worker processes, write feedback.

Pipeline per submission (each step one module):
    collect.import_submission   copy to submitted/<student>/<lesson>/ with a timestamp
    normalize.normalise_file    metadata a student changed is restored from the release (no
                                "Inconsistent checksums"), deleted cells come back, suspicious code is flagged
    worker (this module)        nbgrader's own Autograde, with Execute replaced by
                                hardened.HardenedExecute (integrity guard, score cross-check, per-cell
                                timeout and per-notebook budget, dead kernels, output cap), in a kernel
                                started by sandbox.py (bubblewrap + limits); then generate_feedback
    merge (this module)         the worker's grades are written into the course gradebook by this
                                process only: each worker has a private copy of the gradebook, so
                                there is never a lock between workers. The course gradebook is
                                SQLite, or a PostgreSQL database (db_url); workers always grade
                                into private SQLite files

One failed submission is recorded as an Outcome with status "failed" and its reason; every other
submission is still graded. Earlier grades in the gradebook are never removed.
"""
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import sandbox
from autograder.collect import import_submission, scan
from autograder.course_dir import COURSE_ID, build, gradebook_url, nbgrader_api
from autograder.lessons import ROOT, SOLUTIONS, lesson_ids
from autograder.normalize import normalise_file
from autograder.release import generate, released_notebook


@dataclass
class QuestionResult:
    name: str
    score: float
    max_score: float
    output: str


@dataclass
class Outcome:
    student: str
    lesson: str
    status: str  # "graded" or "failed"
    score: float = 0.0
    max_score: float = 0.0
    message: str = ""
    questions: list = field(default_factory=list)
    feedback: Path | None = None
    flags: list = field(default_factory=list)   # integrity: what the grader restored, caught or found suspicious
    notes: list = field(default_factory=list)   # what normalisation repaired, a dead kernel, a spent budget


@dataclass
class GradingRun:
    root: Path
    lessons: list
    outcomes: list
    problems: list
    students: list
    workers: int = 1
    sandboxed: bool = False
    seconds: float = 0.0
    # the course gradebook the grades went to (reports read it); kept out of repr: it may hold a password
    db_url: str = field(default="", repr=False)


def last_error_line(text):
    """The most telling line of a failed nbgrader run: its last exception other than nbgrader's
    generic "see the above traceback" wrapper, else its last line."""
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    causes = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b.*:", line)
              and "NbGraderException" not in line]
    return (causes or lines or ["unknown error"])[-1][:300]


def cell_outputs(notebook_path):
    """{grade_id: text the cell printed} for the grade cells of an autograded notebook."""
    if not notebook_path.exists():
        return {}
    notebook = nbformat.read(str(notebook_path), as_version=4)
    texts = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            parts = []
            for output in cell.get("outputs", []):
                if output.output_type == "stream" and output.name == "stdout":
                    parts.append(output.text)
                elif output.output_type == "error":
                    parts.append(f"{output.ename}: {output.evalue}")
            texts[meta["grade_id"]] = "".join(parts).strip()
    return texts


def read_scores(gradebook, root, student, lesson):
    """Score, max score and per-question results of one autograded submission, from the (open)
    gradebook: one connection for the whole batch (opening one costs ~65 ms with PostgreSQL)."""
    submission = gradebook.find_submission(lesson, student)
    outputs = cell_outputs(Path(root) / "autograded" / student / lesson / f"{lesson}.ipynb")
    questions = [QuestionResult(g.name, float(g.score or 0.0), float(g.max_score), outputs.get(g.name, ""))
                 for notebook in submission.notebooks for g in notebook.grades]
    return float(submission.score or 0.0), float(submission.max_score), questions


# ------------------------------------------------------------------------------------------ settings
DEFAULT_NOTEBOOK_BUDGET_S = 900
HARDENED_PREPROCESSORS = [
    "autograder.hardened.HardenedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]


def default_workers():
    return max(1, os.cpu_count() or 1)


def grading_dir(root):
    return Path(root) / ".grading"


def hidden_paths(root):
    """What a sandboxed kernel must not see: the build folder (gradebook, every student's files),
    and the checkout (solutions/, lessons/)."""
    return sorted({str(Path(root).resolve().parent), str(ROOT)})


def exposed_paths():
    return [str(ROOT / "course"), str(ROOT / "autograder")]


# ------------------------------------------------------------------------------------------ worker side
_worker = {}


def never_block_on_dead_kernels():
    """A ZeroMQ context that the garbage collector finalises while a socket of a finished kernel
    client is still open blocks for ever in Context.term() (seen here: grading workers hung in
    Context.__del__ after a few notebooks). Workers therefore never terminate contexts from a
    finaliser: an unreachable context is simply dropped; the worker process ends with the batch."""
    import zmq

    zmq.Context.__del__ = lambda self: None


def short_runtime_dir():
    """A private (0700) folder with a short path for the kernels' connection files and ipc sockets:
    a unix socket path may not exceed 107 bytes, which a runtime folder inside a deep course
    directory does (seen with pytest's temporary folders). Removed when the worker ends."""
    import atexit
    import tempfile

    folder = tempfile.mkdtemp(prefix="rnn-grader-")
    atexit.register(shutil.rmtree, folder, True)
    return folder


def start_preloader(settings):
    """Pre-imported kernels (autograder/preload.py): one preloader for the batch, which forks every
    worker's kernels, already holding numpy/torch/matplotlib/ipykernel, into their sandboxes instead
    of each kernel starting Python and importing them. Only with the sandbox (a kernel joins its
    sandbox's namespaces). Returns (process, its folder) or None; sets settings["preload_socket"]."""
    if not (settings["sandbox"] and settings.get("preload", True)):
        return None
    import json
    import tempfile

    from autograder import preload
    from autograder.course_dir import prepare_environment

    prepare_environment()   # the kernels' PYTHONPATH, which decides sys.path
    folder = tempfile.mkdtemp(prefix="rnn-preload-")  # private (0700); short, as a unix socket's path must be
    kernels = sandbox.write_kernelspec(Path(folder) / "jupyter", True, [], [], settings.get("limits"))
    spec = json.loads((kernels / "kernels" / sandbox.KERNEL_NAME / "kernel.json").read_text())
    process, settings["preload_socket"] = preload.start(folder, spec.get("env", {}))
    return process, folder


def stop_preloader(preloader):
    if preloader:
        from autograder import preload

        preload.stop(preloader[0])
        shutil.rmtree(preloader[1], ignore_errors=True)


def worker_init(settings):
    """Start of a worker process: a private gradebook copy, a kernelspec, an in-process nbgrader API."""
    import logging
    import warnings

    never_block_on_dead_kernels()
    from autograder.course_dir import load_config, prepare_environment

    prepare_environment()
    warnings.filterwarnings("ignore", message=".*not in session.*")
    root = Path(settings["root"])
    work = grading_dir(root) / f"worker-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    db = work / "gradebook.db"
    shutil.copyfile(settings.get("gradebook") or root / "gradebook.db", db)
    os.environ["JUPYTER_RUNTIME_DIR"] = short_runtime_dir()
    kernels = sandbox.write_kernelspec(work / "jupyter", settings["sandbox"], hidden_paths(root), exposed_paths(),
                                       settings.get("limits"))
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(kernels), os.environ.get("JUPYTER_PATH", "")]).strip(os.pathsep)
    if settings.get("preload_socket"):
        from autograder.preload import ENV

        os.environ[ENV] = settings["preload_socket"]
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = load_config(root)
    config.CourseDirectory.db_url = f"sqlite:///{db}"
    config.Autograde.autograde_preprocessors = HARDENED_PREPROCESSORS
    config.GenerateFeedback.exporter_class = "autograder.feedback.FeedbackExporter"
    config.HardenedExecute.kernel_name = sandbox.KERNEL_NAME
    config.HardenedExecute.notebook_budget = settings["notebook_budget"]
    if settings.get("cell_timeout"):
        config.Execute.timeout = settings["cell_timeout"]
    if settings["sandbox"]:
        config.KernelManager.transport = "ipc"
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    api.log.setLevel(logging.ERROR)
    _worker.update(api=api, db=f"sqlite:///{db}", root=root)
    import gc

    gc.collect()
    gc.freeze()   # what the worker imported lives as long as it does: keep the collector off it


def grades_of(db_url, student, lesson):
    """Everything autograde wrote for one submission, as plain data (to be merged by the parent)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gradebook:
        submission = gradebook.find_submission(lesson, student)
        return {"timestamp": submission.timestamp.isoformat() if submission.timestamp else None,
                "notebooks": {nb.name: {
                    "late_submission_penalty": nb.late_submission_penalty,
                    "grades": {g.name: [g.auto_score, g.needs_manual_grade] for g in nb.grades},
                    "comments": {c.name: c.auto_comment for c in nb.comments}} for nb in submission.notebooks}}


def grade_in_worker(student, lesson):
    """Autograde and write feedback for one imported submission (in a worker process)."""
    from autograder.hardened import REPORTS

    api, root = _worker["api"], _worker["root"]
    REPORTS.clear()
    result = {"student": student, "lesson": lesson, "success": False}
    try:
        graded = api.autograde(lesson, student, force=True, create=True)
        reports = [r for (s, a, _), r in REPORTS.items() if s == student and a == lesson]
        result["kernel"] = reports[0] if reports else {}
        if not graded["success"]:
            # the cause is in the log; `error` holds only nbgrader's "see the above traceback" wrapper
            cause = last_error_line("\n".join(graded.get(key) or "" for key in ("log", "error")))
            result["error"] = f"autograde failed: {cause}"
            return result
        result["grades"] = grades_of(_worker["db"], student, lesson)
        feedback = api.generate_feedback(lesson, student, force=True)
        path = Path(root) / "feedback" / student / lesson / f"{lesson}.html"
        result["feedback"] = str(path) if feedback["success"] and path.exists() else None
        result["success"] = True
    except Exception as error:  # one broken submission never stops the batch
        result["error"] = f"grading raised {type(error).__name__}: {error}"
    return result


# ------------------------------------------------------------------------------------------ parent side
def merge(gradebook, result):
    """Write a worker's grades for one submission into the course gradebook (this process only)."""
    from datetime import datetime

    student, lesson, data = result["student"], result["lesson"], result["grades"]
    gradebook.update_or_create_student(student)
    stamp = datetime.fromisoformat(data["timestamp"]) if data["timestamp"] else None
    gradebook.update_or_create_submission(lesson, student, **({"timestamp": stamp} if stamp else {}))
    for notebook, values in data["notebooks"].items():
        submitted = gradebook.find_submission_notebook(notebook, lesson, student)
        submitted.late_submission_penalty = values["late_submission_penalty"]
        for name, (auto_score, needs_manual) in values["grades"].items():
            grade = gradebook.find_grade(name, notebook, lesson, student)
            grade.auto_score, grade.needs_manual_grade = auto_score, needs_manual
        for name, auto_comment in values["comments"].items():
            gradebook.find_comment(name, notebook, lesson, student).auto_comment = auto_comment
    gradebook.db.commit()


def copy_lesson(source, target, lesson):
    """Add a lesson's definitions (assignment, notebooks, grade/task/solution/source cells: what
    autograde reads) from gradebook `source` to the session of an empty gradebook `target`."""
    from nbgrader.api import Assignment, GradeCell, Notebook, SolutionCell, SourceCell, TaskCell

    assignment = source.find_assignment(lesson)
    copy = Assignment(name=lesson, duedate=assignment.duedate, course_id=assignment.course_id or COURSE_ID)
    for notebook in assignment.notebooks:
        into = Notebook(name=notebook.name, assignment=copy)
        for cell in notebook.grade_cells:
            GradeCell(name=cell.name, notebook=into, max_score=cell.max_score, cell_type=cell.cell_type)
        for cell in notebook.task_cells:
            TaskCell(name=cell.name, notebook=into, max_score=cell.max_score, cell_type=cell.cell_type)
        for cell in notebook.solution_cells:
            SolutionCell(name=cell.name, notebook=into)
        for cell in notebook.source_cells:
            SourceCell(name=cell.name, notebook=into, source=cell.source, checksum=cell.checksum, locked=cell.locked,
                       cell_type=cell.cell_type)
    target.db.add(copy)


def worker_gradebook(root, db_url, lessons):
    """The SQLite file each worker copies for its private gradebook: the course gradebook itself when
    that is SQLite; for a database server, a new file holding this batch's lessons copied from it
    (schema and alembic version made here: nbgrader would run the `alembic` CLI for a new file)."""
    from nbgrader.api import Base, Gradebook, get_alembic_version
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    if db_url.startswith("sqlite:///"):
        return Path(db_url[len("sqlite:///"):])
    template = grading_dir(root) / "gradebook-template.db"
    template.parent.mkdir(parents=True, exist_ok=True)
    template.unlink(missing_ok=True)
    with Gradebook(db_url, COURSE_ID) as source:
        try:
            version = source.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:  # a gradebook whose creation stopped before its version was written
            source.db.rollback()
            version = None
        version = version or get_alembic_version()
        engine = create_engine(f"sqlite:///{template}")
        Base.metadata.create_all(bind=engine)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version})
        engine.dispose()
        with Gradebook(f"sqlite:///{template}", COURSE_ID) as target:
            for lesson in lessons:
                copy_lesson(source, target, lesson)
            target.db.commit()
    return template


def kernel_notes(kernel):
    notes = []
    if kernel.get("dead_at"):
        notes.append(f"the kernel died in {kernel['dead_at']}; that question and the ones after it scored 0")
    if kernel.get("budget_exceeded_at"):
        notes.append(f"the notebook's time budget ran out before {kernel['budget_exceeded_at']}; "
                     "the questions from there on scored 0")
    if kernel.get("truncated"):
        notes.append(f"output of {len(kernel['truncated'])} cell(s) was truncated")
    return notes


def prepare(root, submission):
    """Import one submission and normalise it against the release; returns (notes, flags)."""
    target = import_submission(root, submission) / f"{submission.lesson}.ipynb"
    released = released_notebook(root, submission.lesson)
    try:
        return normalise_file(target, released)
    except Exception as error:
        return [f"could not normalise the notebook ({type(error).__name__}: {error}); graded as submitted"], []


def largest_first(tasks, root):
    """The biggest submissions first (complete solutions: the ones that run every check and train),
    so that no worker is left alone with a long notebook at the end while the others idle."""
    def size(task):
        student, lesson = task
        path = Path(root) / "submitted" / student / lesson / f"{lesson}.ipynb"
        return path.stat().st_size if path.exists() else 0
    return sorted(tasks, key=lambda task: (-size(task), task))


def run_workers(tasks, settings, workers, show_progress):
    """Yield worker results as they finish."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from tqdm.auto import tqdm

    settings = dict(settings)
    tasks = largest_first(tasks, settings["root"])
    preloader = start_preloader(settings)   # imports while the workers start
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                 initializer=worker_init, initargs=(settings,)) as pool:
            futures = {pool.submit(grade_in_worker, student, lesson): (student, lesson) for student, lesson in tasks}
            for future in tqdm(as_completed(futures), total=len(futures), desc=f"grading ({workers} workers)",
                               unit="notebook", disable=not show_progress):
                try:
                    yield future.result()
                except Exception as error:  # a worker process that died
                    student, lesson = futures[future]
                    yield {"student": student, "lesson": lesson, "success": False,
                           "error": f"the grading worker died ({type(error).__name__}: {error})"}
    finally:
        stop_preloader(preloader)


def grade_batch(folder, root=None, lessons=None, show_progress=True, solutions=SOLUTIONS, workers=None,
                sandbox_mode="auto", notebook_budget=DEFAULT_NOTEBOOK_BUDGET_S, cell_timeout=None, limits=None,
                db_url=None, preload=True):
    """Grade every submission found in `folder`; returns a GradingRun.

    workers: worker processes (default: one per core). sandbox_mode: 'auto' (bubblewrap when it
    works, a loud warning otherwise), 'require' (refuse to grade without it) or 'off'.
    db_url: the course gradebook, e.g. postgresql://user:password@host/db (default: the URL the
    course directory was configured with before, else SQLite gradebook.db in it).
    preload: sandboxed kernels are forked from a preloader that has imported numpy/torch/matplotlib/
    ipykernel once (autograder/preload.py) instead of starting Python and importing them each time.
    """
    started = time.monotonic()
    lessons = lessons or lesson_ids(solutions)
    use_sandbox = sandbox.check(sandbox_mode)
    root = build(root, lessons, solutions, db_url=db_url)
    db_url = gradebook_url(root)
    generate(root, lessons)
    batch = scan(folder, lessons)
    prepared = {(s.student, s.lesson): prepare(root, s) for s in batch.submissions}
    workers = max(1, min(workers or default_workers(), len(batch.submissions) or 1))
    settings = {"root": str(Path(root).resolve()), "sandbox": use_sandbox, "notebook_budget": notebook_budget,
                "preload": preload,
                "cell_timeout": cell_timeout, "limits": limits,
                "gradebook": str(worker_gradebook(root, db_url, lessons))}
    api = nbgrader_api(root, db_url)
    outcomes = {}
    tasks = sorted(prepared)
    results = run_workers(tasks, settings, workers, show_progress) if tasks else []
    with api.gradebook as gradebook:
        for result in results:
            key = (result["student"], result["lesson"])
            notes, flags = prepared[key]
            kernel = result.get("kernel") or {}
            notes = notes + kernel_notes(kernel)
            flags = flags + list(kernel.get("flags", []))
            if not result["success"]:
                outcomes[key] = Outcome(*key, "failed", message=result.get("error", "unknown error"),
                                        flags=flags, notes=notes)
                continue
            try:
                merge(gradebook, result)
            except Exception as error:
                gradebook.db.rollback()
                outcomes[key] = Outcome(*key, "failed", message=f"could not record the grades ({error})",
                                        flags=flags, notes=notes)
                continue
            outcomes[key] = Outcome(*key, "graded", feedback=Path(result["feedback"]) if result.get("feedback") else None,
                                    flags=flags, notes=notes)
    with api.gradebook as gradebook:
        for key, outcome in outcomes.items():
            if outcome.status == "graded":
                outcome.score, outcome.max_score, outcome.questions = read_scores(gradebook, root, *key)
    shutil.rmtree(grading_dir(root), ignore_errors=True)
    return GradingRun(Path(root), lessons, [outcomes[k] for k in sorted(outcomes)], batch.problems, batch.students,
                      workers=workers, sandboxed=use_sandbox, seconds=time.monotonic() - started, db_url=db_url)
