"""Attacks that the hidden checks could not survive while they ran in the student's kernel (issue:
hidden checks out of the student's reach), and correct notebooks that change global state.

Each attack is a WRONG rnn_step_forward (it forgets the tanh) plus the attack; the same wrong function
without the attack is graded in the same batch as the baseline. An attack succeeds if it scores more
than the baseline. Against the old design (checks, oracles and references inside the kernel) every one
of these reached full marks on rnn_step_forward; now the checks run in the grader's process and the
kernel only answers with data. Each attack must also be flagged for the instructor.
"""
from pathlib import Path

import nbformat
import pytest

from autograder.course_dir import build
from autograder.demo import solution_sources, submission
from autograder.release import generate, released_notebook

pytestmark = pytest.mark.slow
LESSON = "02_vanilla_rnn"
STEP = "rnn_step_forward"

WRONG_STEP = '''
import numpy as np
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = x @ Wx + prev_h @ Wh + b   # wrong: no tanh
    {hook}
    return next_h, (x, prev_h, Wx, Wh, next_h)
'''

# A thread keeps patching what the checks compare with, a moment after anything restores it.
THREAD = '''
import sys, threading, time
def _patch_forever():
    end = time.time() + 120
    while time.time() < end:
        for name in list(sys.modules):
            module = sys.modules.get(name)
            if name.endswith("checks.core") and module is not None:
                module.expect_close = lambda *a, **k: None
                module.Question.score = lambda self: self.points
        np.allclose = lambda *a, **k: True
        try:
            import course
            course.rel_error = lambda *a, **k: 0.0
        except Exception:
            pass
        time.sleep(0.001)
threading.Thread(target=_patch_forever, daemon=True).start()
'''

# A tracing hook rewrites a comparison's arguments as it is called: actual := expected.
TRACE = '''
import sys, threading, ctypes
def _tracer(frame, event, arg):
    if event == "call" and frame.f_code.co_name in ("expect_close", "expect_same", "expect", "_expect",
                                                      "expect_with_diagnosis", "rel_error"):
        names = frame.f_code.co_varnames
        if "actual" in names and "expected" in names:
            frame.f_locals["actual"] = frame.f_locals["expected"]
            ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))
    return _tracer
sys.settrace(_tracer)
threading.settrace(_tracer)
'''
PROFILE = TRACE.replace("sys.settrace(_tracer)\\nthreading.settrace(_tracer)",
                        "sys.setprofile(_tracer)\\nthreading.setprofile(_tracer)")

# From inside the student's function: up the call stack, through tracebacks and every live object,
# to whatever scores the question.
FRAMES = '''
import gc, sys, inspect
def _boost(obj):
    if hasattr(obj, "parts") and hasattr(obj, "points") and hasattr(type(obj), "score"):
        type(obj).score = lambda self: self.points
        obj.parts = [(label, w, True, "") for label, w, _, _ in obj.parts]
def _climb():
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            _boost(value)
        frame = frame.f_back
    for info in inspect.stack():
        for value in list(info.frame.f_locals.values()):
            _boost(value)
    try:
        raise RuntimeError
    except RuntimeError as error:
        tb = error.__traceback__
        frame = tb.tb_frame
        while frame is not None:
            for value in list(frame.f_locals.values()):
                _boost(value)
            frame = frame.f_back
    for obj in gc.get_objects():
        try:
            _boost(obj)
            if inspect.isgenerator(obj) and obj.gi_frame is not None:
                for value in list(obj.gi_frame.f_locals.values()):
                    _boost(value)
        except Exception:
            pass
'''

# The reference solutions and the checks, under names a scan for "autograder.references" misses.
REFERENCES = '''
import importlib, importlib.util, os, json
_ref = None
_attempts = []
for _try in (lambda: importlib.import_module("auto" + "grader.refer" + "ences.l02_vanilla_rnn"),
             lambda: __import__("".join(["autog", "rader.references.l02_vanilla_rnn"]), fromlist=["x"]),
             lambda: importlib.import_module("autograder.checks.lesson02").ref):
    try:
        _ref = _try()
        break
    except Exception as error:
        _attempts.append(repr(error))
if _ref is None:
    import autograder
    _here = os.path.dirname(autograder.__file__)
    for _path in (os.path.join(_here, "references", "l02_vanilla_rnn.py"),
                  os.path.join(os.path.dirname(_here), "autograder", "references", "l02_vanilla_rnn.py")):
        try:
            _spec = importlib.util.spec_from_file_location("stolen", _path)
            _ref = importlib.util.module_from_spec(_spec)
            _spec.loader.exec_module(_ref)
            break
        except Exception as error:
            _ref = None
            _attempts.append(repr(error))
if _ref is None:
    try:
        _cells = json.load(open(os.path.join(os.path.dirname(os.path.dirname(autograder.__file__)),
                                             "solutions", "02_vanilla_rnn.ipynb")))["cells"]
        _ns = {}
        for _cell in _cells:
            if "def rnn_step_forward" in "".join(_cell["source"]):
                exec("".join(_cell["source"]), _ns)
        _ref = type("ns", (), {"rnn_step_forward": staticmethod(_ns["rnn_step_forward"])})
    except Exception as error:
        _attempts.append(repr(error))
print("REFERENCE", _ref is not None, _attempts)
'''
USE_REFERENCE = "if _ref is not None:\n        return _ref.rnn_step_forward(x, prev_h, Wx, Wh, b)"

# Talk to the checker's socket directly, or stop the grade cell from ever reaching it.
FORGE = '''
import autograder.in_kernel as _k, autograder.in_kernel.server as _server
_server.serve_question = lambda sock, namespace, name, points: (float(points), f"{name}: {points} / {points} points")
'''
REPLACE_ENTRY = '''
import sys, types
_fake = types.ModuleType("autograder.in_kernel")
_fake.grade = lambda name, namespace, points, seed=None: float(points)
sys.modules["autograder.in_kernel"] = _fake
'''

ATTACKS = {
    "thread": (THREAD, ""),
    "trace": (TRACE, ""),
    "profile": (PROFILE, ""),
    "frames": (FRAMES, "_climb()"),
    "references": (REFERENCES, USE_REFERENCE),
    "forge_reply": (FORGE, ""),
    "replace_entry": (REPLACE_ENTRY, ""),
}

# Global state a correct notebook may change; the checks must see documented defaults anyway.
GLOBAL_STATE = '''
import warnings, numpy as np, torch
torch.set_default_dtype(torch.float64)
torch.set_grad_enabled(False)
torch.set_num_threads(1)
torch.autograd.set_detect_anomaly(True)
np.seterr(all="raise")
np.set_printoptions(precision=1, threshold=4, suppress=True)
warnings.simplefilter("error")
'''
STATE_LESSONS = ["02_vanilla_rnn", "03_bptt", "04_lstm", "06_applications"]


def solution_cell(notebook, grade_id):
    return next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def first_solution_id(notebook):
    return next(c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
                if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from autograder.grade import grade_batch

    base = tmp_path_factory.mktemp("isolation")
    root = build(Path(base) / "build" / "course", STATE_LESSONS)
    generate(root, STATE_LESSONS)
    folder = base / "submissions"
    folder.mkdir()
    released = released_notebook(root, LESSON)
    for name, (prelude, hook) in {"baseline": ("", ""), **ATTACKS}.items():
        notebook = nbformat.read(str(released), as_version=4)
        solution_cell(notebook, STEP).source = prelude + WRONG_STEP.replace("{hook}", hook or "pass")
        nbformat.write(notebook, str(folder / f"{name.replace('_', '-')}__{LESSON}.ipynb"))
    for lesson in STATE_LESSONS:
        notebook = submission(released_notebook(root, lesson), solution_sources(lesson))
        cell = solution_cell(notebook, first_solution_id(notebook))
        cell.source = GLOBAL_STATE + "\n" + cell.source
        nbformat.write(notebook, str(folder / f"state__{lesson}.ipynb"))
    run = grade_batch(folder, root, STATE_LESSONS, show_progress=False, workers=2, cell_timeout=60)
    return run, {(o.student.replace("-", "_"), o.lesson): o for o in run.outcomes}


def step_score(outcome):
    return {q.name: q.score for q in outcome.questions}[f"test_{STEP}"]


def test_the_baseline_is_wrong_but_graded(graded):
    baseline = graded[1][("baseline", LESSON)]
    assert baseline.status == "graded" and step_score(baseline) < 3, baseline


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_scores_no_more_than_the_wrong_code_alone(graded, attack):
    outcome, baseline = graded[1][(attack, LESSON)], graded[1][("baseline", LESSON)]
    assert outcome.status == "graded", f"{attack} stopped the grading: {outcome.message}"
    assert step_score(outcome) <= step_score(baseline), (attack, step_score(outcome), outcome.flags)
    assert outcome.score <= baseline.score, (attack, outcome.score, baseline.score)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_is_flagged_for_the_instructor(graded, attack):
    assert graded[1][(attack, LESSON)].flags, f"{attack} was not flagged"


def test_the_references_are_out_of_the_kernels_reach(graded):
    run = graded[0]
    if not run.sandboxed:
        pytest.skip("no sandbox here: the references are hidden by the sandbox")
    notebook = nbformat.read(str(Path(run.root) / "autograded" / "references" / LESSON / f"{LESSON}.ipynb"), as_version=4)
    printed = "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []))
    assert "REFERENCE False" in printed, printed[:2000]


@pytest.mark.parametrize("lesson", STATE_LESSONS)
def test_a_correct_notebook_that_changes_global_state_gets_full_marks(graded, lesson):
    outcome = graded[1][("state", lesson)]
    lost = {q.name: q.output for q in outcome.questions if q.score < q.max_score}
    assert outcome.status == "graded" and outcome.score == outcome.max_score, (outcome.message, lost)
