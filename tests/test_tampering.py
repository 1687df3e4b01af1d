"""Attacks on the grader, graded in one batch; each has its expected outcome.

Every attack starts from a *wrong* submission (the untouched release: it scores 0), so any point an
attack gains means it worked: "blocked" = 0 points; "flagged" = the report names it. The attacks
that need a working notebook (kill the kernel, loop forever, flood output, exhaust memory, fork bomb,
probe the sandbox) start from the full solutions, and the expected outcome is about the other questions.
"""
import json
import os
from pathlib import Path

import nbformat
import pytest

from autograder.demo import released_lesson, submission
from autograder.lessons import solution_path
from autograder import sandbox

pytestmark = pytest.mark.slow
LESSON = "02_vanilla_rnn"
FIRST, SECOND, THIRD = "rnn_step_forward", "rnn_forward", "temporal_affine_forward"
TEST_FIRST = "test_rnn_step_forward"


def lesson_max_score(lesson):
    """The lesson's points, from its solution notebook's grade cells (lessons gain questions)."""
    notebook = nbformat.read(str(solution_path(lesson)), as_version=4)
    return float(sum(c.metadata["nbgrader"].get("points", 0) for c in notebook.cells
                     if c.metadata.get("nbgrader", {}).get("grade")))


MAX_SCORE = lesson_max_score(LESSON)

PATCH_NUMPY = """
import numpy as np, numpy.testing
np.testing.assert_allclose = lambda *a, **k: None
np.allclose = lambda *a, **k: True
np.max = lambda *a, **k: 0.0
"""
PATCH_REL_ERROR = """
import course, course.numerics
course.numerics.rel_error = lambda *a, **k: 0.0
course.rel_error = lambda *a, **k: 0.0
"""
PATCH_CHECKS = """
import autograder.checks.core as core
core.expect_close = lambda *a, **k: None
core.Question.score = lambda self: self.points
"""
REDEFINE_GRADE = """
import autograder.in_kernel as entry
entry.grade = lambda name, namespace, points, seed=None: float(points)
def grade(name, namespace, points, seed=None):
    return float(points)
"""
REPLACE_REGISTRY = """
import autograder.checks as checks
checks.load_all()
for name in list(checks.QUESTIONS):
    checks.QUESTIONS[name] = lambda q: None
"""
SYS_MODULES = """
import sys, types
for name in ("autograder.checks", "autograder.in_kernel"):
    fake = types.ModuleType(name)
    fake.grade = lambda name, namespace, points, seed=None: float(points)
    sys.modules[name] = fake
"""
FAKE_PRINT = """
print("test_rnn_step_forward: 3 / 3 points  (random seed 1)")
print("  PASS  forward on random inputs")
"""
FORMATTER = """
get_ipython().display_formatter.formatters["text/plain"].for_type(float, lambda x, p, cycle: p.text("3.0"))
"""
NO_RESULT = """
get_ipython().displayhook.write_format_data = lambda *a, **k: None
"""
BUILTINS = """
import builtins
builtins.isinstance = lambda *a: True
builtins.abs = lambda x: 0
"""
KILL = "import os\nos._exit(1)\n"
LOOP = "while True:\n    pass\n"
FLOOD = "print('x' * 1000 + '\\n', end='') if False else None\nfor _ in range(20000):\n    print('y' * 1000)\n"
MEMORY = "import numpy as np\nblob = np.ones((2**38,))\n"
# Bounded, so that it cannot hurt the machine if the limit fails: at most 1000 sleeping children.
FORK_BOMB = """
import os, time
_children, _stopped_by = [], None
try:
    for _ in range(1000):
        _pid = os.fork()
        if _pid == 0:
            time.sleep(60)
            os._exit(0)
        _children.append(_pid)
except OSError as error:
    _stopped_by = error.errno
print("FORKS", len(_children), _stopped_by, len(os.listdir("/proc/self/task")))
for _pid in _children:
    os.kill(_pid, 9)
    os.waitpid(_pid, 0)
"""
PROBE = """
import json, os, socket, subprocess
def _try(action):
    try:
        action()
        return True
    except Exception:
        return False
here = os.path.abspath(".")
course = os.path.abspath("../../..")
import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
def _unmount_and_read():  # the tmpfs that hides the build folder, then the gradebook under it
    if _libc.umount2(os.path.dirname(course).encode(), 2):
        raise OSError(ctypes.get_errno(), "umount2")
    open(os.path.join(course, "gradebook.db"), "rb").read(1)
def _remount_and_write():  # / is bound read-only; as root with capabilities it could be made writable
    if _libc.mount(None, b"/", None, 32 | 4096, None):  # MS_REMOUNT | MS_BIND
        raise OSError(ctypes.get_errno(), "mount")
    open(%(host_file)r, "w").write("x")
probe = {
    "gradebook": _try(lambda: open(os.path.join(course, "gradebook.db"), "rb").read(1)),
    "source": _try(lambda: os.listdir(os.path.join(course, "source"))),
    "other_students": _try(lambda: os.listdir(os.path.join(course, "submitted"))),
    "solutions": _try(lambda: os.listdir(%(solutions)r)),
    "network": _try(lambda: socket.create_connection(("1.1.1.1", 53), timeout=3)),
    "dns": _try(lambda: socket.getaddrinfo("pypi.org", 443)),
    "write_checkout": _try(lambda: open(%(checkout)r + "/pwned.txt", "w").write("x")),
    "host_tmp_visible": os.path.exists(%(marker)r),
    "write_here": _try(lambda: open("probe.txt", "w").write("x")),
    "memory_limit": not _try(lambda: bytearray(16 * 2**30)),
    "unmount_hidden": _try(_unmount_and_read),
    "remount_root_rw": _try(_remount_and_write),
}
print("PROBE " + json.dumps(probe))
"""


def released_cells(notebook):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in notebook.cells if c.metadata.get("nbgrader")}


def wrong(released, edit):
    """The untouched release (scores 0) changed by edit(notebook, cells_by_grade_id)."""
    notebook = nbformat.read(str(released), as_version=4)
    edit(notebook, released_cells(notebook))
    return notebook


def prepend_to(grade_id, code):
    def edit(notebook, cells):
        cells[grade_id].source = code + "\n" + cells[grade_id].source
    return edit


def set_meta(cell_id, **changes):
    def edit(notebook, cells):
        cells[cell_id].metadata["nbgrader"].update(changes)
    return edit


def edit_test(notebook, cells):
    cells[TEST_FIRST].source = "pass"
    cells[TEST_FIRST].metadata["nbgrader"]["points"] = 100


def to_markdown(notebook, cells):
    index = notebook.cells.index(cells[TEST_FIRST])
    notebook.cells[index] = nbformat.v4.new_markdown_cell("nothing to see", metadata=cells[TEST_FIRST].metadata)


def delete_test(notebook, cells):
    notebook.cells.remove(cells[TEST_FIRST])


def garbage_meta(notebook, cells):
    cells[TEST_FIRST].metadata["nbgrader"] = {"grade": True, "points": "lots", "grade_id": 17}


def solved(released, sources, grade_id=None, code=""):
    """Full solutions with `code` put at the start of `grade_id`'s cell."""
    notebook = submission(released, sources)
    if grade_id:
        released_cells(notebook)[grade_id].source = code + "\n" + released_cells(notebook)[grade_id].source
    return notebook


# attack -> (what it does, expected outcome)
ATTACKS = {
    "edit_test_cell": "test cell replaced by `pass`, points set to 100",
    "test_cell_to_markdown": "test cell retyped as markdown",
    "delete_test_cell": "test cell deleted",
    "flip_grade_flag": "grade: false on the test cell (stock nbgrader: Inconsistent checksums, student not graded)",
    "flip_solution_flag": "solution: true on the test cell (stock nbgrader crashes)",
    "rename_grade_id": "test cell's grade_id renamed (stock nbgrader: ValidationError)",
    "garbage_metadata": "test cell's nbgrader metadata replaced by nonsense",
    "patch_numpy": "np.testing.assert_allclose, np.allclose, np.max replaced",
    "patch_rel_error": "course.numerics.rel_error and course.rel_error replaced",
    "patch_checks": "core.expect_close and Question.score replaced",
    "redefine_grade": "the grade cells' entry point autograder.in_kernel.grade replaced and a global grade() defined",
    "replace_registry": "every registered check replaced by a no-op",
    "sys_modules": "sys.modules['autograder.checks'] and ['autograder.in_kernel'] replaced by fake modules",
    "patch_builtins": "builtins.isinstance and builtins.abs replaced",
    "fake_success_print": "prints a fake full-score report",
    "display_formatter": "text/plain formatter for float prints 3.0 (stock nbgrader: partial credit becomes full)",
    "suppress_result": "display hook swallows the score (stock nbgrader: no result = full points)",
}
SOLVED_ATTACKS = {
    "kill_kernel": (THIRD, KILL),
    "infinite_loop": (SECOND, LOOP),
    "huge_output": (FIRST, FLOOD),
    "memory_blowup": (FIRST, MEMORY),
    "fork_bomb": (FIRST, FORK_BOMB),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from autograder.grade import grade_batch

    base = tmp_path_factory.mktemp("tamper")
    root, released, sources = released_lesson(base, LESSON)
    folder = base / "submissions"
    folder.mkdir()
    edits = {
        "edit_test_cell": edit_test, "test_cell_to_markdown": to_markdown, "delete_test_cell": delete_test,
        "flip_grade_flag": set_meta(TEST_FIRST, grade=False), "flip_solution_flag": set_meta(TEST_FIRST, solution=True),
        "rename_grade_id": set_meta(TEST_FIRST, grade_id="my_own_id"), "garbage_metadata": garbage_meta,
        "patch_numpy": prepend_to(FIRST, PATCH_NUMPY), "patch_rel_error": prepend_to(FIRST, PATCH_REL_ERROR),
        "patch_checks": prepend_to(FIRST, PATCH_CHECKS), "redefine_grade": prepend_to(FIRST, REDEFINE_GRADE),
        "replace_registry": prepend_to(FIRST, REPLACE_REGISTRY), "sys_modules": prepend_to(FIRST, SYS_MODULES),
        "patch_builtins": prepend_to(FIRST, BUILTINS), "fake_success_print": prepend_to(FIRST, FAKE_PRINT),
        "display_formatter": prepend_to(FIRST, FORMATTER), "suppress_result": prepend_to(FIRST, NO_RESULT),
    }
    for name, edit in edits.items():
        nbformat.write(wrong(released, edit), str(folder / f"{name.replace('_', '-')}__{LESSON}.ipynb"))
    for name, (grade_id, code) in SOLVED_ATTACKS.items():
        nbformat.write(solved(released, sources, grade_id, code), str(folder / f"{name.replace('_', '-')}__{LESSON}.ipynb"))
    marker = base / "host-marker.txt"
    marker.write_text("a file of the grading machine's /tmp")
    probe = PROBE % {"solutions": str(Path(__file__).resolve().parent.parent / "solutions"),
                     "checkout": str(Path(__file__).resolve().parent.parent), "marker": str(marker),
                     "host_file": str(HOST_FILE)}
    nbformat.write(solved(released, sources, FIRST, probe), str(folder / f"probe__{LESSON}.ipynb"))
    nbformat.write(submission(released, sources), str(folder / f"honest__{LESSON}.ipynb"))
    run = grade_batch(folder, root, [LESSON], show_progress=False, workers=2, cell_timeout=15, notebook_budget=300)
    return run, {o.student.replace("-", "_"): o for o in run.outcomes}


HOST_FILE = Path("/var/tmp") / f"rnn-grader-probe-{os.getpid()}.txt"  # outside every folder the sandbox hides


@pytest.fixture(scope="module", autouse=True)
def no_probe_file_left():
    yield
    HOST_FILE.unlink(missing_ok=True)


def scores(outcome):
    return {q.name: q.score for q in outcome.questions}


def test_the_honest_control_scores_full_marks_without_flags(graded):
    honest = graded[1]["honest"]
    assert honest.status == "graded" and honest.score == honest.max_score == MAX_SCORE, honest
    assert honest.flags == [], honest.flags


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attacks_on_a_wrong_submission_gain_nothing(graded, attack):
    outcome = graded[1][attack]
    if attack == "patch_builtins":  # breaks the kernel itself: that student's grading fails, with 0 points
        assert outcome.score == 0 and (outcome.status == "failed" or outcome.flags), outcome
        return
    assert outcome.status == "graded", f"{attack} ({ATTACKS[attack]}) stopped the grading: {outcome.message}"
    assert outcome.max_score == MAX_SCORE and outcome.score == 0, (attack, outcome.score, outcome.flags)


@pytest.mark.parametrize("attack", ["patch_numpy", "patch_rel_error", "patch_checks", "redefine_grade",
                                    "replace_registry", "sys_modules", "patch_builtins", "display_formatter",
                                    "suppress_result"])
def test_runtime_tampering_is_flagged(graded, attack):
    assert graded[1][attack].flags, f"{attack} ({ATTACKS[attack]}) was not flagged"


@pytest.mark.parametrize("attack", ["flip_grade_flag", "flip_solution_flag", "rename_grade_id", "test_cell_to_markdown",
                                    "delete_test_cell", "garbage_metadata"])
def test_metadata_tampering_is_repaired_and_noted(graded, attack):
    assert graded[1][attack].notes, attack


def test_a_dead_kernel_costs_only_the_questions_not_yet_graded(graded):
    outcome = graded[1]["kill_kernel"]
    got = scores(outcome)
    assert outcome.status == "graded"
    assert got[f"test_{FIRST}"] == 3 and got[f"test_{SECOND}"] == 3, got
    assert got[f"test_{THIRD}"] == 0 and got["test_torch_rnn"] == 0, got
    assert any("kernel died" in n for n in outcome.notes), outcome.notes


def test_an_infinite_loop_costs_only_its_question(graded):
    got = scores(graded[1]["infinite_loop"])
    assert got[f"test_{SECOND}"] == 0 and got[f"test_{FIRST}"] == 3 and got["test_torch_rnn"] == 4, got


def test_huge_output_is_truncated_and_grading_goes_on(graded):
    outcome = graded[1]["huge_output"]
    assert outcome.score == MAX_SCORE, outcome
    assert any("truncated" in n for n in outcome.notes), outcome.notes
    notebook = Path(graded[0].root) / "autograded" / "huge-output" / LESSON / f"{LESSON}.ipynb"
    assert notebook.stat().st_size < 2_000_000


def test_a_memory_blowup_costs_only_its_question(graded):
    outcome = graded[1]["memory_blowup"]
    got = scores(outcome)
    assert got[f"test_{SECOND}"] == 3 and got["test_torch_rnn"] == 4, (got, outcome.notes)


def test_writes_outside_the_submission_folder_never_reach_the_machine(graded):
    if not graded[0].sandboxed:
        pytest.skip(f"no sandbox here: {sandbox.works()[1]}")
    assert probe_result(graded[0])["write_checkout"] in (True, False)  # it may write to its private tmpfs ...
    assert not (Path(__file__).resolve().parent.parent / "pwned.txt").exists()  # ... never to the checkout
    assert not HOST_FILE.exists()  # ... nor anywhere else on the machine


def printed(run, student, prefix):
    notebook = nbformat.read(str(Path(run.root) / "autograded" / student / LESSON / f"{LESSON}.ipynb"), as_version=4)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith(prefix):
                    return line[len(prefix):].split()
    raise AssertionError(f"{student} printed no {prefix!r} line")


def test_a_fork_bomb_is_stopped_by_the_process_limit_and_grading_goes_on(graded):
    """Grading as root, the kernel runs under a private uid, so RLIMIT_NPROC applies to it."""
    run, outcomes = graded
    if not (run.sandboxed and sandbox.private_uid_works()[0]):
        pytest.skip(f"kernels do not run under a private uid here: {sandbox.private_uid_works()[1]}")
    outcome = outcomes["fork_bomb"]
    assert outcome.status == "graded" and outcome.score == MAX_SCORE, (outcome.message, outcome.notes)
    forks, stopped_by, tasks = printed(run, "fork-bomb", "FORKS ")
    limit = sandbox.DEFAULT_LIMITS["processes"]
    assert stopped_by == "11", f"fork did not fail with EAGAIN after {forks} children"
    # every process and thread of the kernel's uid counts: the kernel's own threads plus the children
    assert limit // 2 <= int(forks) and int(forks) + int(tasks) <= limit + 1, (forks, tasks, limit)
    assert all(o.status == "graded" for o in outcomes.values() if o.student != "patch-builtins")


def probe_result(run):
    notebook = nbformat.read(str(Path(run.root) / "autograded" / "probe" / LESSON / f"{LESSON}.ipynb"), as_version=4)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith("PROBE "):
                    return json.loads(line[len("PROBE "):])
    raise AssertionError("the probe printed nothing")


@pytest.mark.parametrize("what, allowed", [
    ("gradebook", False), ("source", False), ("other_students", False), ("solutions", False), ("network", False),
    ("dns", False), ("host_tmp_visible", False), ("write_here", True), ("memory_limit", True),
    ("unmount_hidden", False), ("remount_root_rw", False)])
def test_the_sandbox_from_inside_a_graded_notebook(graded, what, allowed):
    run = graded[0]
    if not run.sandboxed:
        pytest.skip(f"no sandbox here: {sandbox.works()[1]}")
    assert probe_result(run)[what] is allowed
    assert graded[1]["probe"].score == MAX_SCORE
