"""A grading run as an instructor starts it (`python -m autograder grade ...`, a real subprocess):
Ctrl-C stops it within seconds and cleanly, and two runs on one course at once both succeed
(the second waits for the first and says so)."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from autograder.demo import released_lesson, submission
from autograder.lessons import ROOT
from autograder.limits import INTERRUPT_STOP_S

LESSON = "01_sequences"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course directory with one lesson released; `python -m autograder` finds it through
    RNN_COURSE_BUILD (its course directory is <build>/course)."""
    base = tmp_path_factory.mktemp("runs")
    root, released, sources = released_lesson(base, LESSON)
    # a copy: every run releases the lesson again (the file is briefly missing meanwhile)
    copy = base / f"{LESSON}.released.ipynb"
    copy.write_bytes(released.read_bytes())
    return root, copy, sources


# A terminal's foreground job starts with SIGINT at its default, but this test session may not: a
# background job of a non-interactive shell (`pytest ... &` in a script) ignores SIGINT, and its children
# inherit that. A run started that way rightly ignores Ctrl-C, so the run is started through this.
WITH_DEFAULT_SIGINT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                       "os.execv(sys.argv[1], sys.argv[1:])")


def grade_command(root, folder, marker):
    env = dict(os.environ, RNN_COURSE_BUILD=str(Path(root).parent), RNN_COURSE_USE_CURRENT_PYTHON="1",
               RNN_TEST_RUN_MARKER=marker)
    command = [sys.executable, "-c", WITH_DEFAULT_SIGINT, sys.executable, "-m", "autograder", "grade", str(folder),
               "--lessons", LESSON, "--quiet", "--workers", "2",
               "--out", str(Path(folder).parent / f"grades-{Path(folder).name}")]
    return command, env


def processes_with(marker):
    """Live processes (any uid, in any sandbox) whose environment carries `marker`: everything a run
    started inherits it (workers, preloader, kernel launchers, bubblewrap, kernels)."""
    found = []
    needle = f"RNN_TEST_RUN_MARKER={marker}".encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as handle:
                environ = handle.read()
            with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(f"{entry.name}: {cmdline[:150]}")
    return found


def saved_scores(root):
    """{student: score} of the lesson's submissions in the course gradebook (read with sqlite3 directly)."""
    with sqlite3.connect(Path(root) / "gradebook.db") as db:
        rows = db.execute("SELECT student.id, SUM(COALESCE(grade.manual_score, grade.auto_score, 0)) "
                          "FROM grade JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
                          "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
                          "JOIN student ON submitted_assignment.student_id = student.id "
                          "JOIN assignment ON submitted_assignment.assignment_id = assignment.id "
                          "WHERE assignment.name = ? GROUP BY student.id", (LESSON,)).fetchall()
    return dict(rows)


def lesson_points(released):
    notebook = nbformat.read(str(released), as_version=4)
    return sum(float(c.metadata["nbgrader"].get("points", 0)) for c in notebook.cells
               if c.metadata.get("nbgrader", {}).get("grade"))


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_ctrl_c_stops_within_seconds_and_keeps_the_saved_grades(course, tmp_path):
    root, released, sources = course
    folder = tmp_path / "batch"
    folder.mkdir()
    nbformat.write(submission(released, sources), str(folder / f"quick__{LESSON}.ipynb"))
    slow = submission(released, sources)   # a student's cell that keeps its kernel busy for minutes
    slow.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(600)"))
    nbformat.write(slow, str(folder / f"slow__{LESSON}.ipynb"))
    marker = uuid.uuid4().hex
    command, env = grade_command(root, folder, marker)
    # its own process group, as a terminal's foreground job: Ctrl-C goes to every process in it
    run = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        wait_for(lambda: saved_scores(root).get("quick") == lesson_points(released) or run.poll() is not None,
                 600, "quick's grades to be saved")
        assert run.poll() is None, "the run ended before it could be interrupted:\n" + run.stderr.read()[-3000:]
        busy = processes_with(marker)
        assert any("ipykernel" in p or "bwrap" in p for p in busy), busy   # slow's kernel is running
        interrupted = time.monotonic()
        os.killpg(run.pid, signal.SIGINT)
        try:
            stdout, stderr = run.communicate(timeout=60)
        except subprocess.TimeoutExpired:   # say what was still running and what the run had printed
            left = processes_with(marker)
            os.killpg(run.pid, signal.SIGKILL)
            stdout, stderr = run.communicate()
            raise AssertionError(f"the run did not stop within 60 s of Ctrl-C; still running: {left}\n"
                                 f"stdout: {stdout[-1500:]}\nstderr: {stderr[-3000:]}") from None
        took = time.monotonic() - interrupted
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    print(f"Ctrl-C stopped the run in {took:.1f} s")
    assert took < 2 * INTERRUPT_STOP_S, f"Ctrl-C took {took:.1f} s to stop the run"
    assert run.returncode == 130, (run.returncode, stderr[-3000:])
    assert "Traceback" not in stderr + stdout, stderr[-3000:]
    assert "Saved in the gradebook" in stderr and "saved   quick" in stderr, stderr[-3000:]
    assert "Not graded: 1 notebook(s)" in stderr, stderr[-3000:]
    time.sleep(1)
    assert processes_with(marker) == [], "processes left behind by the interrupted run"
    assert saved_scores(root)["quick"] == lesson_points(released)   # kept
    assert not (root / ".grading").exists()
    # the next runs on this course (unaffected by the interruption): the test below


def test_ctrl_c_while_a_command_starts_ends_it_with_one_line_and_no_traceback():
    """The imports of `python -m autograder grade` take seconds, before grade's own Ctrl-C handling is in
    place; a Ctrl-C among them ends the command with status 130 and a one-line message. Here the CLI
    raises the KeyboardInterrupt that the signal would."""
    code = ("import runpy\nimport autograder.cli as cli\n\n"
            "def interrupted_main():\n    raise KeyboardInterrupt\n\n"
            "cli.main = interrupted_main\nrunpy.run_module('autograder', run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, RNN_COURSE_USE_CURRENT_PYTHON="1"))
    assert done.returncode == 130, done.stderr[-2000:]
    assert done.stderr.strip() == "Interrupted.", done.stderr[-2000:]


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_ctrl_c_during_a_merge_takes_effect_at_its_end_unless_the_run_ignores_sigint(sigint):
    """A run started with SIGINT ignored (a background job of a script) must not be stopped by one that
    arrives while it merges a submission's grades; a run in the foreground stops after the merge."""
    from autograder.grade import ctrl_c_after

    merged = []
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler if sigint == "default" else signal.SIG_IGN)
    try:
        try:
            with ctrl_c_after():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)   # the handler runs here, inside the block
                merged.append(True)
            stopped = False
        except KeyboardInterrupt:
            stopped = True
    finally:
        signal.signal(signal.SIGINT, before)
    assert merged == [True]   # the merge always ends
    assert stopped == (sigint == "default")


def test_two_runs_on_one_course_at_once_both_succeed(course, tmp_path):
    """The second waits for the first (it used to fail every notebook with "unable to open database
    file": the first removed the working folder the second was using). In this module they are also
    the runs that follow the interrupted one above, on the same course: they must be unaffected."""
    root, released, sources = course
    lock = root / ".grading.lock"
    runs = []
    try:
        for name, notebook in (("first", submission(released, sources)), ("second", nbformat.read(str(released), 4))):
            folder = tmp_path / name
            folder.mkdir()
            nbformat.write(notebook, str(folder / f"{name}__{LESSON}.ipynb"))
            command, env = grade_command(root, folder, uuid.uuid4().hex)
            runs.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True))
            if name == "first":   # the second starts while the first holds the course (its own
                first = f"pid {runs[0].pid},"   # pid: a lock left by a killed earlier run must not count)
                wait_for(lambda: lock.exists() and lock.read_text().startswith(first), 300, "the first run's lock")
        outputs = [run.communicate(timeout=1200) for run in runs]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    for run, (stdout, stderr) in zip(runs, outputs):
        assert run.returncode == 0, stderr[-3000:]
        assert "unable to open database file" not in stdout + stderr and "failed" not in stdout, stdout[-3000:]
    assert f"another grading run (pid {runs[0].pid}" in outputs[1][1] and "waiting" in outputs[1][1], outputs[1][1]
    scores = saved_scores(root)
    assert scores["first"] == lesson_points(released) and scores["second"] == 0, scores
    assert scores.get("quick", lesson_points(released)) == lesson_points(released)   # the interrupted run's, kept


def test_a_notebook_whose_autograde_fails_reports_the_lessons_real_maximum(course, tmp_path):
    """A kernel that cannot even start (here: an address-space limit below what Python needs) fails the
    whole autograde; the results JSON must still carry the lesson's maximum (an LMS divides by it),
    score 0 and the cause."""
    import csv
    import json

    from autograder.grade import grade_batch
    from autograder.report import write_reports

    root, released, sources = course
    folder = tmp_path / "batch"
    folder.mkdir()
    nbformat.write(submission(released, sources), str(folder / f"starved__{LESSON}.ipynb"))
    run = grade_batch(folder, root, [LESSON], show_progress=False, workers=1, limits={"memory_mb": 80})
    out = write_reports(run, tmp_path / "grades")
    result = json.loads((out / "results" / "starved" / f"{LESSON}.json").read_text())
    assert result["status"] == "failed" and result["score"] == 0, result
    assert result["max_score"] == lesson_points(released) > 0, result
    assert "autograde failed" in result["output"] and "Kernel died" in result["output"], result["output"]
    with open(out / "grades.csv") as handle:
        row = next(r for r in csv.DictReader(handle) if r["student"] == "starved")
    assert float(row["max_score"]) == lesson_points(released) and row["status"].startswith("failed"), row
