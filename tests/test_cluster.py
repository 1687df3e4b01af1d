"""Grading on a real Dask cluster (autograder/cluster.py): a `dask scheduler` and two `dask worker`
processes on 127.0.0.1. The cluster's grades equal a local run's, question by question; the command
line grades on the cluster into PostgreSQL (written by the parent only); a second run of a batch
replaces the grades (no second copy); a worker killed while it grades a notebook loses nothing and
doubles nothing: every grade arrives exactly once, also in the gradebook's rows."""
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from autograder.demo import buggy_edit, released_lesson, submission
from autograder.workers import kill_trees
from autograder.lessons import ROOT
from test_postgres import postgres_url  # noqa: F401  (a throwaway PostgreSQL server, module fixture)

distributed = pytest.importorskip("distributed", reason="distributed (Dask) is not installed: pip install -r requirements.txt")

LESSON = "02_vanilla_rnn"
SLEEP_S = 20
pytestmark = pytest.mark.slow


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A scheduler and named workers as subprocesses (each in its own session: killed as a tree)."""

    def __init__(self, folder):
        self.folder, self.processes = Path(folder), {}
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.env = dict(os.environ)

    def start(self, name, *args):
        log = open(self.folder / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=log,
                                                stderr=subprocess.STDOUT, env=self.env, start_new_session=True)

    def worker(self, name):
        self.start(name, "worker", self.address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                   "--name", name, "--local-directory", str(self.folder / name))

    def kill(self, name):
        process = self.processes.pop(name)
        kill_trees([process.pid])
        process.wait(timeout=30)

    def stop(self):
        for name in list(self.processes):
            self.kill(name)

    def log(self, name):
        return (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from distributed import Client

    cluster = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        port = cluster.address.rsplit(":", 1)[1]
        cluster.start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard")
        cluster.worker("w1")
        cluster.worker("w2")
        try:
            client = Client(cluster.address, timeout=60, set_as_default=False)
            client.wait_for_workers(2, timeout=120)
        except Exception as error:
            pytest.skip(f"Dask could not start a scheduler and two workers here ({type(error).__name__}: {error}); "
                        f"scheduler log: {cluster.log('scheduler')[-500:]}")
        yield cluster, client
        client.close()
    finally:
        cluster.stop()
        from autograder.cluster import sweep_dead_workers_folders

        sweep_dead_workers_folders()   # the killed workers' private folders (their atexit never ran)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Two course directories with lesson 2 released (one graded locally, one on the cluster) and the
    class: ada (full solutions), ben (blank), chi (the demo's bug)."""
    base = tmp_path_factory.mktemp("cluster-course")
    local_root, released, sources = released_lesson(base / "local", LESSON)
    cluster_root, _, _ = released_lesson(base / "cluster", LESSON)
    folder = base / "class"
    folder.mkdir()
    nbformat.write(submission(released, sources), str(folder / f"ada__{LESSON}.ipynb"))
    (folder / f"ben__{LESSON}.ipynb").write_bytes(released.read_bytes())
    nbformat.write(submission(released, sources, buggy_edit(LESSON)), str(folder / f"chi__{LESSON}.ipynb"))
    return local_root, cluster_root, folder, released, sources


def by_question(run):
    return {(o.student, q.name): (q.score, q.max_score) for o in run.outcomes for q in o.questions}


def gradebook_rows(root):
    """(submissions, grade rows, {student: number of submissions}) of the lesson, read with sqlite3."""
    with sqlite3.connect(Path(root) / "gradebook.db") as db:
        per_student = dict(db.execute(
            "SELECT student.id, COUNT(*) FROM submitted_assignment JOIN student ON student_id = student.id "
            "JOIN assignment ON submitted_assignment.assignment_id = assignment.id WHERE assignment.name = ? "
            "GROUP BY student.id", (LESSON,)).fetchall())
        grades = db.execute(
            "SELECT COUNT(*) FROM grade JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "JOIN assignment ON submitted_assignment.assignment_id = assignment.id WHERE assignment.name = ?",
            (LESSON,)).fetchone()[0]
        cells = db.execute("SELECT COUNT(*) FROM grade_cells JOIN base_cell ON grade_cells.id = base_cell.id "
                           "JOIN notebook ON base_cell.notebook_id = notebook.id "
                           "JOIN assignment ON notebook.assignment_id = assignment.id WHERE assignment.name = ?",
                           (LESSON,)).fetchone()[0]
    return per_student, grades, cells


def test_cluster_grades_equal_a_local_run(cluster, course):
    from autograder.grade import grade_batch

    (_, client), (local_root, cluster_root, folder, _, _) = cluster, course
    local = grade_batch(folder, local_root, [LESSON], show_progress=False, workers=2)
    remote = grade_batch(folder, cluster_root, [LESSON], show_progress=False, cluster=cluster[0].address)
    assert [(o.student, o.status) for o in remote.outcomes] == [(o.student, "graded") for o in local.outcomes], \
        [(o.student, o.status, o.message) for o in remote.outcomes]
    assert by_question(remote) == by_question(local)
    scores = {o.student: o.score for o in remote.outcomes}
    assert scores["ada"] == remote.outcomes[0].max_score > scores["chi"] > scores["ben"] == 0
    for outcome in remote.outcomes:   # the worker's files, written into this course directory
        assert outcome.feedback and outcome.feedback.exists() and outcome.feedback.is_relative_to(cluster_root)
        assert (cluster_root / "autograded" / outcome.student / LESSON / f"{LESSON}.ipynb").exists()
    assert any(q.output for o in remote.outcomes for q in o.questions if q.score < q.max_score)

    per_student, grades, cells = gradebook_rows(cluster_root)
    assert per_student == {"ada": 1, "ben": 1, "chi": 1} and grades == 3 * cells > 0
    # a second run of the same batch replaces these grades: the PostgreSQL test runs it twice, and the
    # kill test grades ada, ben and chi again into this course directory and counts the rows


def lesson_scores(db_url, students):
    from nbgrader.api import Gradebook

    from autograder.course_dir import COURSE_ID

    with Gradebook(db_url, COURSE_ID) as gradebook:
        return {(student, g.name): (g.score, g.max_score) for student in students
                for nb in gradebook.find_submission(LESSON, student).notebooks for g in nb.grades}


def test_the_command_line_grades_on_the_cluster_into_postgresql(cluster, course, postgres_url, tmp_path):
    """`grade FOLDER --cluster ... --db-url postgresql://...`: the parent alone writes PostgreSQL; the
    scores equal the cluster's SQLite run's (test above). (A second run replacing the grades is checked
    in SQLite by the kill test; merge() is the same code for both databases.)"""
    from sqlalchemy import create_engine, text

    (dask, _), (_, cluster_root, folder, _, _) = cluster, course
    build = tmp_path / "pg-build"
    env = dict(os.environ, RNN_COURSE_BUILD=str(build), RNN_COURSE_USE_CURRENT_PYTHON="1")
    command = [sys.executable, "-m", "autograder", "grade", str(folder), "--lessons", LESSON, "--quiet",
               "--cluster", dask.address, "--db-url", postgres_url, "--out", str(build / "grades")]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    students = ("ada", "ben", "chi")
    assert lesson_scores(postgres_url, students) == lesson_scores(f"sqlite:///{cluster_root / 'gradebook.db'}", students)
    engine = create_engine(postgres_url)
    with engine.connect() as db:
        rows = db.execute(text("SELECT COUNT(*) FROM submitted_assignment")).scalar()
    engine.dispose()
    assert rows == 3
    assert (build / "course" / "feedback" / "chi" / LESSON / f"{LESSON}.html").exists()


def sleeping_edit():
    """The full solution; the first solution cell sleeps first (time to kill its worker)."""
    first = []

    def edit(grade_id, source):
        if not first:
            first.append(grade_id)
            return f"import time\ntime.sleep({SLEEP_S})\n{source}"
        return source
    return edit


def test_a_worker_killed_mid_notebook_loses_nothing_and_doubles_nothing(cluster, course, tmp_path):
    from autograder.grade import grade_batch

    (dask, client), (_, cluster_root, folder, released, sources) = cluster, course
    batch = tmp_path / "batch"
    batch.mkdir()
    for path in folder.iterdir():
        (batch / path.name).write_bytes(path.read_bytes())
    nbformat.write(submission(released, sources, sleeping_edit()), str(batch / f"dee__{LESSON}.ipynb"))
    results = {}
    thread = threading.Thread(target=lambda: results.update(run=grade_batch(
        batch, cluster_root, [LESSON], show_progress=False, cluster=dask.address)), daemon=True)
    thread.start()

    deadline, victim = time.monotonic() + 240, None
    while victim is None and time.monotonic() < deadline and thread.is_alive():
        for address, keys in client.processing().items():
            if any(str(key).startswith("grade-dee-") for key in keys):
                victim = client.scheduler_info(n_workers=-1)["workers"][address]["name"]
        time.sleep(0.5)
    assert victim, "the sleeping notebook never started on a worker"
    time.sleep(SLEEP_S / 3)   # its worker is inside the sleeping cell (workers are warm from the test before)
    dask.kill(victim)
    thread.join(timeout=400)
    assert not thread.is_alive(), "the batch did not finish after its worker was killed"

    run = results["run"]
    keys = [(o.student, o.lesson) for o in run.outcomes]
    assert sorted(keys) == sorted(set(keys)) == [(s, LESSON) for s in ("ada", "ben", "chi", "dee")]
    assert all(o.status == "graded" for o in run.outcomes), [(o.student, o.message) for o in run.outcomes]
    scores = {o.student: o.score for o in run.outcomes}
    assert scores["dee"] == scores["ada"] > scores["chi"] > scores["ben"] == 0
    per_student, grades, cells = gradebook_rows(cluster_root)
    assert per_student == {"ada": 1, "ben": 1, "chi": 1, "dee": 1} and grades == 4 * cells
    assert len(client.scheduler_info(n_workers=-1)["workers"]) == 1   # the other one did the rest


# ------------------------------------------------------------------ in-process: no Dask processes needed
def test_a_worker_without_a_sandbox_refuses_under_require(monkeypatch):
    from autograder import cluster, sandbox
    from autograder.settings import WorkerSettings

    def no_sandbox(mode):
        raise sandbox.SandboxUnavailable("autograder: NO SANDBOX: bwrap is not installed")
    monkeypatch.setattr(sandbox, "check", no_sandbox)
    monkeypatch.setitem(cluster._state, "key", None)
    settings = WorkerSettings(root="", gradebook="", sandbox=True)
    with pytest.raises(cluster.WorkerRefused, match="refuses to grade: autograder: NO SANDBOX") as refused:
        cluster.grade_task(settings, "require", {"student": "ada", "lesson": LESSON, "template": b"", "submitted": {}})
    # the parent records the notebook as failed with that cause
    assert "refuses to grade: autograder: NO SANDBOX" in cluster.cause_of(refused.value)
    assert cluster._state["folder"] is None   # nothing was set up on the refusing worker


def test_a_notebook_that_killed_its_workers_is_failed_with_the_cause():
    from distributed import KilledWorker

    from autograder import cluster, limits

    error = KilledWorker("grade-ada-02_vanilla_rnn-x", None, limits.CLUSTER_ALLOWED_FAILURES)
    message = cluster.cause_of(error)
    assert f"{limits.CLUSTER_ALLOWED_FAILURES + 1} workers died while grading it" in message and "KilledWorker" in message


def test_files_from_a_worker_stay_in_their_folder(tmp_path):
    from autograder import cluster

    cluster.write_tree(tmp_path / "a", {"x.ipynb": b"1", "sub/y.txt": b"2"})
    assert cluster.read_tree(tmp_path / "a") == {"sub/y.txt": b"2", "x.ipynb": b"1"}
    for name in ("../escape.txt", "/etc/escape.txt"):
        with pytest.raises(ValueError, match="outside its folder"):
            cluster.write_tree(tmp_path / "b", {name: b"!"})
    assert not (tmp_path / "escape.txt").exists()


def test_a_killed_workers_private_folder_is_swept_by_the_next_worker():
    import shutil
    import tempfile

    from autograder import cluster

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = Path(tempfile.mkdtemp(prefix=f"rnn-dask-{gone.pid}-"))
    alive = Path(tempfile.mkdtemp(prefix=f"rnn-dask-{os.getpid()}-"))
    try:
        cluster.sweep_dead_workers_folders()
        assert not dead.exists() and alive.exists()
    finally:
        shutil.rmtree(dead, ignore_errors=True)
        shutil.rmtree(alive, ignore_errors=True)
