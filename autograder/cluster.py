"""Grading on a Dask cluster: `python3 -m autograder grade FOLDER --cluster tcp://HOST:8786`.

The unit of work is the same as in a local run: grade one notebook in its sandbox. Only where it runs
changes. The parent (grade.py) still imports, normalises, merges into the course gradebook and reads
the scores; ClusterPool takes WorkerPool's place and sends each submission to Dask's distributed
scheduler instead of a local process pool:

    parent (this machine)                              a Dask worker (any machine, same checkout)
    ClusterPool.results(tasks)
      a task = the normalised submission's files,  ->  grade_task(settings, sandbox_mode, task)
               the lesson's gradebook template          once per worker process (keyed by the settings):
               (assignment, notebooks, grade and          its own sandbox check (--sandbox require: no
               source cells: merge.copy_lesson),          sandbox, the task fails with that cause), a
               the run's WorkerSettings (limits)          private course directory and SQLite gradebook,
                                                          a preloader, the kernelspec: workers.worker_init
                                                        per task: workers.grade_in_worker, as locally
      result = plain data: grades (grades_of),     <-   the autograded notebook's and the feedback
               kernel report, files' bytes               page's bytes; its private copies removed
    the files are written into the course directory; record() merges the grades (grade.py): the
    course gradebook (SQLite, or PostgreSQL with --db-url) is written by the parent only.

Failure is Dask's business, not a queue of ours: a worker that dies while it holds a task (its process,
or the machine) has that task re-run on another worker; a task whose workers died more than
limits.CLUSTER_ALLOWED_FAILURES times (a notebook that kills every worker it runs on) ends in Dask's
KilledWorker and is recorded as a failed notebook with that cause; the batch goes on. The scheduler's
bound is set explicitly for the run (Scheduler.allowed_failures). A task that raised on its worker is
re-run limits.CLUSTER_RETRIES times. Each task's result is taken once (one future per submission), and
merge() updates the submission's rows in place: a second run of the same batch replaces the grades.

Workers run one notebook at a time per process (`dask worker --nthreads 1`; start as many processes per
machine as it has cores: `--nworkers 16`); a lock enforces it if a worker was started with more threads.
"""
import atexit
import hashlib
import os
import pickle
import shutil
import socket
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

from autograder import limits

# ===================================================================================== the parent's side


def empty_gradebook(path, version=None):
    """A new SQLite gradebook file with nbgrader's schema and alembic version (nbgrader itself would run
    the `alembic` command for a new file)."""
    from nbgrader.api import Base, get_alembic_version
    from sqlalchemy import create_engine, text

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(bind=engine)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                           {"v": version or get_alembic_version()})
    engine.dispose()
    return Path(path)


def lesson_templates(gradebook_file, lessons, folder):
    """{lesson: bytes of a SQLite gradebook holding only that lesson's definitions}, copied from
    `gradebook_file` (the SQLite file the local workers would copy: the course gradebook, or for
    PostgreSQL the run's template of it, see merge.worker_gradebook)."""
    from nbgrader.api import Gradebook
    from sqlalchemy import text

    from autograder.course_dir import COURSE_ID
    from autograder.merge import copy_lesson

    templates = {}
    with Gradebook(f"sqlite:///{Path(gradebook_file).resolve()}", COURSE_ID) as source:
        version = source.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
        for lesson in sorted(set(lessons)):
            path = empty_gradebook(Path(folder) / f"lesson-{lesson}.db", version)
            with Gradebook(f"sqlite:///{path}", COURSE_ID) as target:
                copy_lesson(source, target, lesson)
                target.db.commit()
            templates[lesson] = path.read_bytes()
    return templates


def read_tree(folder, leave_out=("mathjax",)):
    """{relative path: bytes} of the files under `folder` (MathJax is installed where a page is written)."""
    folder = Path(folder)
    files = {}
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_file() and relative.parts[0] not in leave_out:
                files[relative.as_posix()] = path.read_bytes()
    return files


def write_tree(folder, files):
    """Replace `folder` by the files of read_tree() (relative paths only, never outside it)."""
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    for name, data in files.items():
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"a worker returned a file outside its folder: {name!r}")
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)


def write_back(root, result):
    """Write a worker's autograded notebook and feedback page into the course directory (as a local
    worker would have); result["feedback"] becomes the page's path here."""
    from autograder.feedback import offline_math

    files = result.pop("files", None) or {}
    student, lesson = result["student"], result["lesson"]
    for kind in ("autograded", "feedback"):
        if kind in files:
            write_tree(Path(root) / kind / student / lesson, files[kind])
    page = Path(root) / "feedback" / student / lesson / f"{lesson}.html"
    result["feedback"] = str(offline_math(page)) if result.get("success") and page.exists() else None
    return result


def _set_allowed_failures(dask_scheduler=None, allowed=limits.CLUSTER_ALLOWED_FAILURES):
    """Run on the scheduler: the bound on workers a task may lose, for this run (returns the old one)."""
    previous = dask_scheduler.allowed_failures
    dask_scheduler.allowed_failures = allowed
    return previous


def failed(student, lesson, message):
    return {"student": student, "lesson": lesson, "success": False, "error": message}


def cause_of(error):
    from distributed import KilledWorker

    if isinstance(error, KilledWorker):
        return (f"the notebook's grading was lost with every worker that ran it "
                f"({error.allowed_failures + 1} workers died while grading it; Dask's KilledWorker); not retried")
    return f"the cluster could not grade it ({type(error).__name__}: {error})"


class ClusterPool:
    """with ClusterPool("tcp://host:8786", settings, sandbox_mode) as pool: for result in pool.results(tasks)

    WorkerPool's interface (grade.py uses either), on a Dask cluster. Leaving the block by an exception
    (Ctrl-C) cancels the tasks not yet finished."""

    def __init__(self, address, settings, sandbox_mode="auto", show_progress=False,
                 allowed_failures=limits.CLUSTER_ALLOWED_FAILURES, retries=limits.CLUSTER_RETRIES):
        self.address, self.settings, self.sandbox_mode = address, settings, sandbox_mode
        self.show_progress, self.allowed_failures, self.retries = show_progress, allowed_failures, retries
        self.client, self.owned = None, False
        self.futures = {}
        self.workers = 0

    def __enter__(self):
        from distributed import Client

        # an address (tcp://host:8786); or, from Python, a Client or a cluster object of the Dask project's
        # tools (dask-kubernetes' KubeCluster, Dask Gateway's GatewayCluster: their get_client() carries TLS)
        if isinstance(self.address, str):
            try:
                self.client = Client(self.address, timeout=limits.CLUSTER_CONNECT_S, set_as_default=False)
            except (OSError, TimeoutError) as error:
                raise RuntimeError(f"cannot reach the Dask scheduler at {self.address} ({error}); "
                                   "start one with `dask scheduler` (GRADING.md)") from None
            self.owned = True
        else:
            self.client = self.address if isinstance(self.address, Client) else self.address.get_client()
            self.owned = False
        try:
            self.client.run_on_scheduler(_set_allowed_failures, allowed=self.allowed_failures)
            try:
                self.client.wait_for_workers(1, timeout=limits.CLUSTER_CONNECT_S)
            except TimeoutError:
                raise RuntimeError(f"the Dask scheduler at {self.address} has no workers "
                                   f"(waited {limits.CLUSTER_CONNECT_S} s); start some: dask worker ADDRESS") from None
            self.workers = len(self.client.scheduler_info(n_workers=-1).get("workers", {}))
        except BaseException:
            self.close()
            raise
        return self

    def close(self):
        if self.owned:
            self.client.close()

    def tasks_of(self, tasks, folder):
        """The data each submission's task carries (nothing refers to this machine's files)."""
        from autograder.workers import largest_first

        root = Path(self.settings.root)
        templates = lesson_templates(self.settings.gradebook, [lesson for _, lesson in tasks], folder)
        for student, lesson in largest_first(tasks, root):
            yield {"student": student, "lesson": lesson, "template": templates[lesson],
                   "submitted": read_tree(root / "submitted" / student / lesson)}

    def results(self, tasks):
        """Yield each submission's result (the shape grade_in_worker returns) as it finishes."""
        from distributed import as_completed
        from tqdm.auto import tqdm

        # what only this machine knows stays here: the worker makes its own course directory
        shipped = replace(self.settings, root="", gradebook="", runtime_dir="", preload_socket="")
        run = uuid.uuid4().hex[:8]
        with tempfile.TemporaryDirectory(prefix="rnn-cluster-") as folder:
            payloads = list(self.tasks_of(tasks, folder))
        for rank, payload in enumerate(payloads):
            key = f"grade-{payload['student']}-{payload['lesson']}-{run}"
            future = self.client.submit(grade_task, shipped, self.sandbox_mode, payload, key=key, pure=False,
                                        retries=self.retries, priority=len(payloads) - rank)
            self.futures[future] = (payload["student"], payload["lesson"])
        del payloads
        root = Path(self.settings.root)
        for future in tqdm(as_completed(list(self.futures), loop=self.client.loop), total=len(self.futures),
                           desc=f"grading (Dask cluster, {self.workers} workers)", unit="notebook",
                           disable=not self.show_progress):
            student, lesson = self.futures.pop(future)
            try:
                result = future.result()
            except Exception as error:
                result = failed(student, lesson, cause_of(error))
            else:
                try:
                    result = write_back(root, result)
                except Exception as error:
                    result = failed(student, lesson, f"could not write the worker's files ({type(error).__name__}: {error})")
            future.release()
            yield result

    def __exit__(self, kind, error, traceback):
        try:
            if self.futures:
                self.client.cancel(list(self.futures))
        finally:
            self.futures.clear()
            self.close()
        return False


# ===================================================================================== a worker's side
_state = {"key": None, "folder": None, "preloader": None, "lessons": {}}
_lock = threading.Lock()


class WorkerRefused(RuntimeError):
    """This worker cannot grade under the run's settings (e.g. no sandbox under --sandbox require)."""


def _cleanup():
    from autograder.workers import stop_preloader

    stop_preloader(_state.get("preloader"))
    if _state.get("folder"):
        shutil.rmtree(_state["folder"], ignore_errors=True)
    _state.update(key=None, folder=None, preloader=None, lessons={})


def sweep_dead_workers_folders():
    """Remove the private folders (copies of students' notebooks, gradebooks) of worker processes on
    this machine that were killed (SIGKILL, a lost machine's restart) before their atexit ran."""
    for path in Path(tempfile.gettempdir()).glob("rnn-dask-*-*"):
        pid = path.name.split("-")[2]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            with open(f"/proc/{pid}/stat", "rb") as handle:   # a killed process not yet reaped: dead
                dead = handle.read().rsplit(b")", 1)[1].split()[0] == b"Z"
        except ProcessLookupError:
            dead = True
        except OSError:   # alive: another user's, or no /proc
            dead = False
        if dead:
            shutil.rmtree(path, ignore_errors=True)


def ensure_worker(settings, sandbox_mode):
    """Initialise this worker process for the run's settings (once; again only for other settings):
    its own sandbox check, a private course directory with an empty gradebook, the preloader, and
    workers.worker_init (kernelspec, nbgrader API with the hardened preprocessors, the same limits).
    Returns the private course directory."""
    from autograder import sandbox, workers
    from autograder.course_dir import prepare_environment, write_config

    prepare_environment()   # this environment's `alembic` (nbgrader runs it) and the kernels' PYTHONPATH
    key = hashlib.sha256(pickle.dumps((settings, sandbox_mode))).hexdigest()
    if _state["key"] == key:
        return Path(_state["folder"]) / "course"
    if _state["key"] is not None:
        _cleanup()
    try:
        use_sandbox = sandbox.check(sandbox_mode)   # its own machine's sandbox, whatever the parent's
    except sandbox.SandboxUnavailable as error:
        raise WorkerRefused(f"worker {socket.gethostname()} (pid {os.getpid()}) refuses to grade: {error}") from None
    sweep_dead_workers_folders()
    # private (0700); hidden from the kernels (hidden_paths); named by pid for sweep_dead_workers_folders
    folder = tempfile.mkdtemp(prefix=f"rnn-dask-{os.getpid()}-")
    _state.update(folder=folder)
    try:
        root = Path(folder) / "course"
        write_config(root)
        # the kernels' connection files and the preloader's folder live in the private folder too, so that
        # sweep_dead_workers_folders removes them after a kill (paths stay short: unix sockets <= 107 bytes)
        local = replace(settings, root=str(root), gradebook=str(empty_gradebook(root / ".grading" / "empty.db")),
                        sandbox=use_sandbox, runtime_dir=folder, preload_socket="")
        previous, tempfile.tempdir = tempfile.tempdir, folder
        try:
            preloader, local = workers.start_preloader(local)
        finally:
            tempfile.tempdir = previous
        _state.update(preloader=preloader)
        workers.worker_init(local)
    except BaseException:   # half set up: nothing left behind, the next task starts again
        _cleanup()
        raise
    _state.update(key=key, lessons={})
    return root


def ensure_lesson(lesson, template):
    """The lesson's definitions in this worker's private gradebook, from the template the task carries
    (replaced when the parent's release changed)."""
    from nbgrader.api import Gradebook, MissingEntry

    from autograder import workers
    from autograder.course_dir import COURSE_ID
    from autograder.merge import copy_lesson

    digest = hashlib.sha256(template).hexdigest()
    if _state["lessons"].get(lesson) == digest:
        return
    path = Path(_state["folder"]) / f"template-{digest[:16]}.db"
    path.write_bytes(template)
    with Gradebook(workers._worker["db"], COURSE_ID) as target:
        try:
            target.find_assignment(lesson)
            target.remove_assignment(lesson)
        except MissingEntry:
            pass
        with Gradebook(f"sqlite:///{path}", COURSE_ID) as source:
            copy_lesson(source, target, lesson)
        target.db.commit()
    path.unlink()
    _state["lessons"][lesson] = digest


def grade_task(settings, sandbox_mode, task):
    """A Dask task: grade one submitted notebook in this worker's sandbox; returns plain data."""
    from autograder.workers import grade_in_worker

    student, lesson = task["student"], task["lesson"]
    with _lock:
        started = time.monotonic()
        root = ensure_worker(settings, sandbox_mode)
        ensure_lesson(lesson, task["template"])
        ready = time.monotonic()
        folders = [root / kind / student / lesson for kind in ("submitted", "autograded", "feedback")]
        try:
            write_tree(folders[0], task["submitted"])
            result = grade_in_worker(student, lesson)
            result["files"] = {"autograded": read_tree(folders[1]), "feedback": read_tree(folders[2])} \
                if result.get("success") else {}
        finally:
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)
        result["feedback"] = None   # a path on this worker; the parent sets its own (write_back)
        result["worker"] = f"{socket.gethostname()}:{os.getpid()}"
        # where the time went (bench_cluster.py): this worker's set-up for the task, then the grading
        result["seconds"] = {"setup": ready - started, "grading": time.monotonic() - ready}
        return result


atexit.register(_cleanup)
