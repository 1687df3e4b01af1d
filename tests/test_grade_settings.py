"""The grader's small parts, in-process: the settings that cross into workers, the limits, the course lock,
and the process-tree kill that Ctrl-C uses (the real runs are in tests/test_grade_runs.py)."""
import os
import pickle
import subprocess
import sys
import threading
import time

import pytest

from autograder import limits, sandbox
from autograder.run_lock import course_lock
from autograder.settings import WorkerSettings
from autograder.workers import kill_trees


def test_worker_settings_are_typed_picklable_and_default_to_the_limits():
    settings = WorkerSettings(root="/course", gradebook="/course/gradebook.db", sandbox=True,
                              kernel_rlimits={"memory_mb": 2048})
    assert pickle.loads(pickle.dumps(settings)) == settings
    assert settings.cell_timeout_s == limits.CELL_TIMEOUT_S and settings.notebook_budget_s == limits.NOTEBOOK_BUDGET_S
    assert settings.kernel_rlimits == {**limits.KERNEL_RLIMITS, "memory_mb": 2048}
    assert limits.KERNEL_RLIMITS["memory_mb"] != 2048   # the run's override did not change the default
    with pytest.raises(ValueError, match="unknown kernel limit"):
        WorkerSettings(root="/c", gradebook="/g", sandbox=False, kernel_rlimits={"memmory_mb": 1})
    with pytest.raises(ValueError, match="positive"):
        WorkerSettings(root="/c", gradebook="/g", sandbox=False, cell_timeout_s=0)


def test_every_limit_has_one_definition():
    """The modules that apply a limit take it from limits.py: the same values, and no number of their own
    (a literal assignment) in their source."""
    import inspect
    import re

    from autograder import course_dir, grade, hardened, preload, settings

    assert sandbox.DEFAULT_LIMITS is limits.KERNEL_RLIMITS
    uses = [(course_dir, "CELL_TIMEOUT_S", limits.CELL_TIMEOUT_S), (preload, "READY_TIMEOUT_S", limits.PRELOAD_READY_TIMEOUT_S),
            (preload, "STEP_TIMEOUT_S", limits.PRELOAD_STEP_TIMEOUT_S)]
    for module, name, value in uses:
        assert getattr(module, name) == value, (module.__name__, name)
    for module in (course_dir, preload, sandbox, grade, settings, hardened):
        source = inspect.getsource(module)
        own = re.findall(r"^\s*(?:DEFAULT_\w+|\w*TIMEOUT\w*|\w*BUDGET\w*|\w*LIMITS)\s*=\s*[\d{]", source, re.M)
        assert own == [], (module.__name__, own)
    config = course_dir.CONFIG.format(course_id="c", root="/r", exchange="/e", timeout=limits.CELL_TIMEOUT_S)
    assert f"c.Execute.timeout = {limits.CELL_TIMEOUT_S}\n" in config


def test_a_second_holder_of_the_course_lock_waits_and_says_who_holds_it(tmp_path):
    said, order = [], []
    with course_lock(tmp_path):
        def second():
            with course_lock(tmp_path, announce=said.append):
                order.append("second")
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        order.append("first done")
    thread.join(10)
    assert order == ["first done", "second"]
    assert len(said) == 1 and f"another grading run (pid {os.getpid()}, started at" in said[0] and "waiting" in said[0]
    with course_lock(tmp_path, announce=said.append):   # free again: no wait, no message
        pass
    assert len(said) == 1


def test_kill_trees_leaves_no_process_of_the_tree(tmp_path):
    """A tree three deep, with a child in its own session (as kernels are): all of it is gone."""
    script = ("import subprocess, sys, time\n"
              "subprocess.Popen([sys.executable, '-c', 'import subprocess, sys, time; "
              "subprocess.Popen([sys.executable, \"-c\", \"import time; time.sleep(300)\"], start_new_session=True); "
              "time.sleep(300)'])\n"
              "time.sleep(300)\n")
    marker = f"RNN_TREE_TEST={os.getpid()}-{time.monotonic_ns()}"
    root = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ, RNN_TREE_TEST=marker.split("=")[1]))

    def tree():
        found = []
        for entry in os.scandir("/proc"):
            try:
                if entry.name.isdigit() and marker.encode() in open(f"/proc/{entry.name}/environ", "rb").read().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                pass
        return found
    deadline = time.monotonic() + 30
    while len(tree()) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(tree()) == 3
    started = time.monotonic()
    killed = kill_trees([root.pid])
    root.wait(10)
    assert time.monotonic() - started < limits.INTERRUPT_STOP_S
    assert len(killed) == 3
    time.sleep(0.5)
    assert tree() == []


def test_workers_share_one_gradebook_engine_per_database_and_still_close_it(tmp_path, monkeypatch):
    """Each Gradebook of a worker reuses the engine (and its compiled statements) of its database;
    another database gets its own; what one Gradebook committed, the next one reads."""
    import nbgrader.api
    from nbgrader.api import Gradebook

    from autograder.course_dir import prepare_environment, share_gradebook_engines

    prepare_environment()   # a new gradebook runs this environment's `alembic`
    monkeypatch.setattr(nbgrader.api, "create_engine", nbgrader.api.create_engine)   # undone after the test
    share_gradebook_engines()
    share_gradebook_engines()   # a second call does not wrap the wrapper
    first, second = (f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db"))
    with Gradebook(first) as book:
        book.add_student("ada")
        engine = book.engine
    with Gradebook(first) as book:
        assert book.engine is engine
        assert [s.id for s in book.students] == ["ada"]
    with Gradebook(second) as book:
        assert book.engine is not engine and book.students == []
    assert engine.pool.checkedout() == 0   # closed: no connection held between uses


def test_grading_processes_skip_the_iri_format_checker_and_still_validate_notebooks():
    """course_dir.skip_iri_format_checker: nbformat imports without rfc3987_syntax (1.2 s of every
    grading process), and validation of notebooks is what it was."""
    import subprocess
    import sys

    from autograder.lessons import LESSONS, ROOT

    code = f"""
import sys
from autograder.course_dir import skip_iri_format_checker
skip_iri_format_checker()
import jsonschema, nbformat
assert sys.modules["rfc3987_syntax"] is None
assert "iri" not in jsonschema.FormatChecker.checkers
notebook = nbformat.read({str(LESSONS / "02_vanilla_rnn.ipynb")!r}, as_version=4)
nbformat.validate(notebook)
notebook.cells[0]["cell_type"] = "not a cell type"
try:
    nbformat.validate(notebook)
except nbformat.ValidationError:
    print("still validates")
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "still validates"


@pytest.mark.parametrize("command", ["grade", "demo"])
def test_the_grading_commands_skip_the_iri_format_checker_before_anything_imports_nbformat(command):
    """`python -m autograder grade|demo` as started: nothing before the skip may import nbformat.
    Building the command-line parser once did (hub -> exports -> report -> feedback -> nbconvert)."""
    from autograder.lessons import ROOT

    code = f"""
import sys
from autograder import cli
cli.cmd_{command} = lambda args: print(repr(sys.modules.get("rfc3987_syntax", "never imported")))
cli.main([{command!r}] + ({["/no/folder"] if command == "grade" else []!r}))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "None", done.stdout   # left out, not imported
