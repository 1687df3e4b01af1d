"""Step 4, grade: import a batch into nbgrader, autograde it with several worker processes, write feedback.

Pipeline per submission (each step one module):
    run_lock.course_lock        one run per course directory at a time (a second one waits, and says so)
    collect.scan / import_submission   find the batch's files; copy each to submitted/<student>/<lesson>/
    normalize.normalise_file    metadata a student changed is restored from the release (no
                                "Inconsistent checksums"), deleted cells come back, suspicious code is flagged
    workers.WorkerPool          nbgrader's own Autograde in worker processes, with Execute replaced by
                                hardened.HardenedExecute, in kernels started by sandbox.py (bubblewrap +
                                limits), forked from preload.py's preloader; then generate_feedback
    merge.merge                 the worker's grades are written into the course gradebook by this
                                process only (each worker grades into a private copy)
    read_scores (this module)   the Outcome of each submission, from the course gradebook

Settings cross into the workers as one settings.WorkerSettings; every limit is in limits.py.
One failed submission is recorded as an Outcome with status "failed", its reason and the lesson's
maximum; every other submission is still graded. Earlier grades in the gradebook are never removed.
Ctrl-C stops the workers, kernels and preloader at once and raises GradingInterrupted, which carries
the GradingRun of what was graded and saved before it.
"""
import shutil
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import sandbox
from autograder.collect import import_submission, scan
from autograder.course_dir import build, course_root, gradebook_url, nbgrader_api, share_gradebook_engines
from autograder.lessons import SOLUTIONS, lesson_ids
from autograder.limits import NOTEBOOK_BUDGET_S
from autograder.merge import merge, worker_gradebook
from autograder.normalize import normalise_file
from autograder.release import generate, released_notebook
from autograder.run_lock import course_lock
from autograder.settings import WorkerSettings
from autograder.workers import WorkerPool, default_workers, early_preloader, grading_dir


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
    skipped: list = field(default_factory=list)   # files of lessons this run was not asked to grade
    not_graded: list = field(default_factory=list)   # (student, lesson) left when the run was interrupted


class GradingInterrupted(KeyboardInterrupt):
    """Ctrl-C during grading. `run` is the GradingRun of what was graded before it (those grades are in
    the gradebook); run.not_graded lists the submissions that were not."""

    def __init__(self, run):
        super().__init__(f"grading interrupted: {len(run.outcomes)} notebook(s) saved, "
                         f"{len(run.not_graded)} not graded")
        self.run = run


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


def lesson_max_score(gradebook, lesson):
    """The lesson's maximum score (its grade cells' points, from the release in the gradebook)."""
    try:
        return float(gradebook.find_assignment(lesson).max_score or 0.0)
    except Exception:   # MissingEntry: a lesson that was never released into this gradebook
        return 0.0


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


def record(gradebook, result, prepared):
    """The Outcome of one worker result; graded ones are merged into the course gradebook first."""
    key = (result["student"], result["lesson"])
    notes, flags = prepared
    kernel = result.get("kernel") or {}
    notes = notes + kernel_notes(kernel)
    flags = flags + list(kernel.get("flags", []))
    if not result["success"]:
        return Outcome(*key, "failed", message=result.get("error", "unknown error"), flags=flags, notes=notes)
    try:
        merge(gradebook, result)
    except Exception as error:
        gradebook.db.rollback()
        return Outcome(*key, "failed", message=f"could not record the grades ({error})", flags=flags, notes=notes)
    return Outcome(*key, "graded", feedback=Path(result["feedback"]) if result.get("feedback") else None,
                   flags=flags, notes=notes)


def add_scores(api, root, outcomes):
    """Scores of the graded outcomes, from the course gradebook; a failed one gets score 0 and its
    lesson's real maximum (an LMS divides by it)."""
    with api.gradebook as gradebook:
        for key, outcome in outcomes.items():
            if outcome.status == "graded":
                outcome.score, outcome.max_score, outcome.questions = read_scores(gradebook, root, *key)
            else:
                outcome.score, outcome.max_score = 0.0, lesson_max_score(gradebook, outcome.lesson)


def pool_for(settings, workers, show_progress, cluster=None, sandbox_mode="auto", preloader=None):
    """Local worker processes, or a Dask cluster's workers (cluster.py) when `cluster` is its address."""
    if cluster:
        from autograder.cluster import ClusterPool

        return ClusterPool(cluster, settings, sandbox_mode, show_progress)
    return WorkerPool(settings, workers, show_progress, preloader)


@contextmanager
def ctrl_c_after():
    """Ctrl-C during the block takes effect at its end: a submission's grades are recorded whole or
    not at all (nbgrader commits the new submission row before merge() writes its scores). A run
    whose SIGINT is ignored (started as a background job of a script) keeps ignoring it here too."""
    import signal

    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


@contextmanager
def no_ctrl_c():
    """A second Ctrl-C must not interrupt the clean-up after the first (main thread only)."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def grade_batch(folder, root=None, lessons=None, show_progress=True, solutions=SOLUTIONS, workers=None,
                sandbox_mode="auto", notebook_budget=NOTEBOOK_BUDGET_S, cell_timeout=None, limits=None,
                db_url=None, preload=True, cluster=None):
    """Grade every submission found in `folder`; returns a GradingRun.

    workers: worker processes (default: one per core). sandbox_mode: 'auto' (bubblewrap when it
    works, a loud warning otherwise), 'require' (refuse to grade without it) or 'off'.
    notebook_budget, cell_timeout (seconds; None: limits.CELL_TIMEOUT_S) and limits (the kernel's
    rlimits to change, e.g. {"memory_mb": 2048}): this run's limits; the defaults are in limits.py.
    db_url: the course gradebook, e.g. postgresql://user:password@host/db (default: the URL the
    course directory was configured with before, else SQLite gradebook.db in it).
    preload: sandboxed kernels are forked from a preloader that has imported numpy/torch/matplotlib/
    ipykernel once (autograder/preload.py) instead of starting Python and importing them each time.
    cluster: a Dask scheduler's address (tcp://host:8786), a distributed.Client, or a Dask cluster object
    with get_client(): each notebook is graded by a worker of that cluster (cluster.py) instead of
    local processes; the rest of the run is the same.
    Another run on the same course directory is waited for (run_lock.py). Ctrl-C raises
    GradingInterrupted (a KeyboardInterrupt) within seconds; the grades saved before it are kept.
    """
    started = time.monotonic()
    share_gradebook_engines()   # the release step opens a gradebook for every cell it saves
    known = lesson_ids(solutions)
    lessons = lessons or known
    use_sandbox = sandbox.check(sandbox_mode)
    root = Path(root or course_root())
    with course_lock(root), early_preloader(use_sandbox and preload and not cluster, limits or {}) as preloader:
        root = build(root, lessons, solutions, db_url=db_url)
        db_url = gradebook_url(root)
        generate(root, lessons, reuse=True)
        batch = scan(folder, lessons, known)
        prepared = {(s.student, s.lesson): prepare(root, s) for s in batch.submissions}
        workers = max(1, min(workers or default_workers(), len(batch.submissions) or 1))
        settings = WorkerSettings(root=str(Path(root).resolve()), gradebook=str(worker_gradebook(root, db_url, lessons)),
                                  sandbox=use_sandbox, preload=preload, notebook_budget_s=notebook_budget,
                                  **({"cell_timeout_s": cell_timeout} if cell_timeout else {}),
                                  kernel_rlimits=dict(limits or {}))
        api = nbgrader_api(root, db_url)
        outcomes = {}
        tasks = sorted(prepared)

        def finish(not_graded=()):
            add_scores(api, root, outcomes)
            shutil.rmtree(grading_dir(root), ignore_errors=True)
            return GradingRun(Path(root), lessons, [outcomes[k] for k in sorted(outcomes)], batch.problems,
                              batch.students, workers=workers, sandboxed=use_sandbox,
                              seconds=time.monotonic() - started, db_url=db_url, skipped=batch.skipped,
                              not_graded=sorted(not_graded))
        try:
            if tasks:
                pool = pool_for(settings, workers, show_progress, cluster, sandbox_mode, preloader)
                with api.gradebook as gradebook, pool:
                    for result in pool.results(tasks):
                        key = (result["student"], result["lesson"])
                        with ctrl_c_after():
                            outcomes[key] = record(gradebook, result, prepared[key])
        except KeyboardInterrupt:
            with no_ctrl_c():
                run = finish(set(tasks) - set(outcomes))
            raise GradingInterrupted(run) from None
        return finish()
