"""The worker side of a grading run: processes that autograde and write feedback, one notebook at a time.

    WorkerPool(settings, workers)      the pool, and the preloader its kernels are forked from;
                                       leaving it by an exception (Ctrl-C) stops every process it
                                       started within limits.INTERRUPT_STOP_S
    worker_init(settings)              start of a worker: a private gradebook copy, a kernelspec
                                       (sandbox.py) that hides hidden_paths() and exposes exposed_paths(),
                                       an in-process nbgrader API running HARDENED_PREPROCESSORS
    grade_in_worker(student, lesson)   nbgrader's Autograde, then GenerateFeedback; returns plain data

A worker never writes the course gradebook: it grades into its private SQLite copy and returns the
grades as plain data, which the parent merges (merge.py). Settings cross into the workers as one
settings.WorkerSettings.
"""
import os
import shutil
import signal
import time
from contextlib import contextmanager
from pathlib import Path

from autograder import limits, sandbox
from autograder.lessons import ROOT

HARDENED_PREPROCESSORS = [
    "autograder.hardened.HardenedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]


def grading_dir(root):
    """The run's working folder in the course directory (the workers' gradebook copies); removed at
    the end of the run. Only one run uses it at a time (run_lock.py)."""
    return Path(root) / ".grading"


def hidden_paths(root):
    """What a sandboxed kernel must not see: the build folder (gradebook, every student's files),
    and the checkout (solutions/, lessons/)."""
    return sorted({str(Path(root).resolve().parent), str(ROOT)})


def exposed_paths():
    """What a sandboxed kernel may load from the checkout: the student's package and the kernel's side
    of the checks (autograder/in_kernel/, with the package file above it), plus the sandbox's own
    launcher (sandbox.py and the limits it reads), whose second stage runs inside the sandbox before
    the kernel. The checks, their oracles, the references and the pipeline stay out of its reach."""
    package = ROOT / "autograder"
    return [str(ROOT / "course"), *(str(package / name) for name in ("__init__.py", "in_kernel", "sandbox.py", "limits.py"))]


def default_workers():
    return max(1, os.cpu_count() or 1)


# ------------------------------------------------------------------------------------------ in a worker
_worker = {}


def never_block_on_dead_kernels():
    """A ZeroMQ context that the garbage collector finalises while a socket of a finished kernel
    client is still open blocks for ever in Context.term() (seen here: grading workers hung in
    Context.__del__ after a few notebooks). Workers therefore never terminate contexts from a
    finaliser: an unreachable context is simply dropped; the worker process ends with the batch."""
    import zmq

    zmq.Context.__del__ = lambda self: None


def short_runtime_dir(parent=None):
    """A private (0700) folder with a short path for the kernels' connection files and ipc sockets:
    a unix socket path may not exceed 107 bytes, which a runtime folder inside a deep course
    directory does (seen with pytest's temporary folders). Inside `parent` (the run's, which the
    parent process removes at the end of the run even when it had to kill the worker), else in /tmp;
    also removed when the worker ends normally."""
    import atexit
    import tempfile

    folder = tempfile.mkdtemp(prefix="w-" if parent else "rnn-grader-", dir=parent or None)
    atexit.register(shutil.rmtree, folder, True)
    return folder


def leave_ctrl_c_to_the_parent():
    """Ctrl-C in a terminal reaches every process of the foreground group, workers included. A worker
    ignores it (the parent stops the workers itself, see WorkerPool) with a handler rather than
    SIG_IGN, so that the kernels it starts do not inherit an ignored SIGINT; the parent started it
    with SIGINT blocked, so no Ctrl-C got in before this. A Dask worker (cluster.py) initialises in a
    task's thread, where signal handlers cannot be set: its own process handles signals there."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def worker_init(settings):
    """Start of a worker process: a private gradebook copy, a kernelspec, an in-process nbgrader API."""
    import logging
    import warnings

    from autograder.course_dir import load_config, prepare_environment, share_gradebook_engines, skip_iri_format_checker

    skip_iri_format_checker()
    leave_ctrl_c_to_the_parent()
    never_block_on_dead_kernels()
    share_gradebook_engines()
    prepare_environment()
    warnings.filterwarnings("ignore", message=".*not in session.*")
    root = Path(settings.root)
    work = grading_dir(root) / f"worker-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    db = work / "gradebook.db"
    shutil.copyfile(settings.gradebook, db)
    os.environ["JUPYTER_RUNTIME_DIR"] = short_runtime_dir(settings.runtime_dir)
    kernels = sandbox.write_kernelspec(work / "jupyter", settings.sandbox, hidden_paths(root), exposed_paths(),
                                       settings.kernel_rlimits)
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(kernels), os.environ.get("JUPYTER_PATH", "")]).strip(os.pathsep)
    if settings.preload_socket:
        from autograder.preload import ENV

        os.environ[ENV] = settings.preload_socket
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = load_config(root)
    config.CourseDirectory.db_url = f"sqlite:///{db}"
    config.Autograde.autograde_preprocessors = HARDENED_PREPROCESSORS
    config.GenerateFeedback.exporter_class = "autograder.feedback.FeedbackExporter"
    config.HardenedExecute.kernel_name = sandbox.KERNEL_NAME
    config.HardenedExecute.notebook_budget = settings.notebook_budget_s
    config.Execute.timeout = settings.cell_timeout_s
    if settings.sandbox:
        config.KernelManager.transport = "ipc"
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    api.log.setLevel(logging.ERROR)
    _worker.update(api=api, db=f"sqlite:///{db}", root=root)
    import gc

    gc.collect()
    gc.freeze()   # what the worker imported lives as long as it does: keep the collector off it


def last_error_line(text):
    """The most telling line of a failed nbgrader run: its last exception other than nbgrader's
    generic "see the above traceback" wrapper, else its last line."""
    import re

    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    causes = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b.*:", line)
              and "NbGraderException" not in line]
    return (causes or lines or ["unknown error"])[-1][:300]


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
    from autograder.feedback import offline_math
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
        if feedback["success"] and path.exists():
            offline_math(path)
            result["feedback"] = str(path)
        else:
            result["feedback"] = None
        result["success"] = True
    except Exception as error:  # one broken submission never stops the batch
        result["error"] = f"grading raised {type(error).__name__}: {error}"
    return result


# ------------------------------------------------------------------------------------------ the pool
def start_preloader(settings):
    """Pre-imported kernels (autograder/preload.py): one preloader for the batch, which forks every
    worker's kernels, already holding numpy/torch/matplotlib/ipykernel, into their sandboxes instead
    of each kernel starting Python and importing them. Only with the sandbox (a kernel joins its
    sandbox's namespaces). Returns ((process, its folder) or None, settings with preload_socket set)."""
    if not (settings.sandbox and settings.preload):
        return None, settings
    preloader, socket_path = launch_preloader(settings.kernel_rlimits)
    return preloader, settings.with_preload_socket(socket_path)


def launch_preloader(kernel_rlimits):
    """Start a preloader whose kernels get `kernel_rlimits`; returns ((process, its folder), socket path)."""
    import json
    import tempfile

    from autograder import preload
    from autograder.course_dir import prepare_environment

    prepare_environment()   # the kernels' PYTHONPATH, which decides sys.path
    folder = tempfile.mkdtemp(prefix="rnn-preload-")  # private (0700); short, as a unix socket's path must be
    kernels = sandbox.write_kernelspec(Path(folder) / "jupyter", True, [], [], limits.kernel_rlimits(kernel_rlimits))
    spec = json.loads((kernels / "kernels" / sandbox.KERNEL_NAME / "kernel.json").read_text())
    process, socket_path = preload.start(folder, spec.get("env", {}))
    return (process, folder), socket_path


@contextmanager
def early_preloader(wanted, kernel_rlimits):
    """The batch's preloader started before the batch is prepared, so that its imports (the longest part
    of starting a batch) run while the parent releases and normalises: yields (preloader, socket path)
    for WorkerPool, or None when not `wanted`; stopped when the block ends, however it ends."""
    started = launch_preloader(kernel_rlimits) if wanted else None
    try:
        yield started
    finally:
        if started:
            stop_preloader(started[0])


def stop_preloader(preloader):
    if preloader:
        from autograder import preload

        preload.stop(preloader[0])
        shutil.rmtree(preloader[1], ignore_errors=True)


def largest_first(tasks, root):
    """The biggest submissions first (complete solutions: the ones that run every check and train),
    so that no worker is left alone with a long notebook at the end while the others idle."""
    def size(task):
        student, lesson = task
        path = Path(root) / "submitted" / student / lesson / f"{lesson}.ipynb"
        return path.stat().st_size if path.exists() else 0
    return sorted(tasks, key=lambda task: (-size(task), task))


def _parents():
    """{pid: parent pid} of every process (Linux /proc)."""
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    stat = handle.read()
            except OSError:
                continue
            # the command name (in parentheses) may hold spaces or parentheses: fields follow the last ')'
            parents[int(entry.name)] = int(stat[stat.rindex(b")") + 2:].split()[1])
    return parents


def _tree(roots):
    parents = _parents()
    found, todo = set(), [pid for pid in roots if pid in parents]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(child for child, parent in parents.items() if parent == pid)
    return found


def kill_trees(roots, deadline_s=limits.INTERRUPT_STOP_S):
    """SIGKILL every process in the trees under `roots` (pids): the workers, the kernel launchers,
    bubblewrap and the kernels in it, the preloader and the kernels it forked. Everything is stopped
    first (SIGSTOP), until the tree holds still, so that nothing forks or escapes to init between
    the look and the kill. Returns the pids killed."""
    roots = [pid for pid in roots if pid]
    if not os.path.isdir("/proc"):   # not Linux: the roots only
        for pid in roots:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return set(roots)
    stopped = set()
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        tree = _tree(roots) | {pid for pid in stopped if os.path.exists(f"/proc/{pid}")}
        new = tree - stopped
        if not new:
            break
        for pid in new:
            try:
                os.kill(pid, signal.SIGSTOP)
            except OSError:
                pass
        stopped |= new
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return stopped


class WorkerPool:
    """with WorkerPool(settings, workers) as pool: for result in pool.results(tasks): ...

    Starts the preloader (sandbox only) and `workers` spawned worker processes. Leaving the block
    normally waits for the workers to end; leaving it by an exception (KeyboardInterrupt: Ctrl-C)
    kills the workers, their kernels and the preloader at once instead of waiting for the notebooks
    that are running (one can take minutes)."""

    def __init__(self, settings, workers, show_progress=False, preloader=None):
        """preloader: (preloader, socket path) from early_preloader, already importing; None: the pool
        starts its own (sandbox and preload only)."""
        self.settings, self.workers, self.show_progress = settings, workers, show_progress
        self.given_preloader = preloader
        self.preloader = self.pool = self.runtime = None

    def __enter__(self):
        import tempfile
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        self.runtime = tempfile.mkdtemp(prefix="rnn-grader-")   # private (0700), short: see short_runtime_dir
        self.settings = self.settings.with_runtime_dir(self.runtime)
        try:
            if self.given_preloader:
                self.preloader, socket_path = self.given_preloader
                self.settings = self.settings.with_preload_socket(socket_path)
            else:
                self.preloader, self.settings = start_preloader(self.settings)   # imports while the workers start
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=get_context("spawn"),
                                            initializer=worker_init, initargs=(self.settings,))
        except BaseException:   # Ctrl-C while the preloader starts: __exit__ would not run
            self.kill()
            raise
        return self

    def results(self, tasks):
        """Yield each worker's result as it finishes (the biggest submissions are started first)."""
        from concurrent.futures import as_completed

        from tqdm.auto import tqdm

        tasks = largest_first(tasks, self.settings.root)
        # workers are spawned by submit(): with SIGINT blocked, which they inherit until worker_init
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            futures = {self.pool.submit(grade_in_worker, student, lesson): (student, lesson)
                       for student, lesson in tasks}
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"grading ({self.workers} workers)",
                           unit="notebook", disable=not self.show_progress):
            try:
                yield future.result()
            except Exception as error:  # a worker process that died
                student, lesson = futures[future]
                yield {"student": student, "lesson": lesson, "success": False,
                       "error": f"the grading worker died ({type(error).__name__}: {error})"}

    def processes(self):
        pids = [p.pid for p in (getattr(self.pool, "_processes", None) or {}).values()]
        return pids + ([self.preloader[0].pid] if self.preloader else [])

    def kill(self):
        """Stop everything this pool started, now (Ctrl-C ignored meanwhile: a second one must not
        interrupt the clean-up). Returns the number of processes killed."""
        import threading

        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            killed = kill_trees(self.processes())
            if self.pool is not None:
                self.pool.shutdown(wait=False, cancel_futures=True)
            stop_preloader(self.preloader)
            shutil.rmtree(self.runtime, ignore_errors=True)
            return len(killed)
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)

    def __exit__(self, kind, error, traceback):
        if kind is None:
            try:
                self.pool.shutdown(wait=True)
            finally:
                stop_preloader(self.preloader)
                shutil.rmtree(self.runtime, ignore_errors=True)
        else:
            self.kill()
        return False
