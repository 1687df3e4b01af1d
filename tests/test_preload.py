"""The grader's speed-ups must change nothing but the time: pre-imported kernels (autograder/preload.py),
forked from the preloader into each notebook's own sandbox, must be confined exactly like an
ordinary sandboxed kernel, grade the same and share nothing between students; feedback pages
(autograder/feedback.py) must be byte for byte those of nbconvert's HTMLExporter.

Two small batches of the same submissions, one with preloaded kernels and one with ordinary ones
(one worker each, so that the second student's kernel comes from the same preloader right after the
first's). A probe in the first solution cell prints what the kernel can see, then leaves traces
(module state, a file in /tmp, an environment variable) that the next student's kernel must not see.
"""
import json
from pathlib import Path

import nbformat
import pytest

from autograder import preload, sandbox
from autograder.demo import released_lesson, submission

pytestmark = pytest.mark.slow
LESSON = "02_vanilla_rnn"
FIRST = "rnn_step_forward"
STUDENTS = ["probe-a", "probe-b", "plain"]
PROBE = """
import json, os, sys
import numpy, torch
def _read(path):
    try:
        return open(path).read()
    except OSError as error:
        return repr(error)
def _folders():
    # what libraries work out from the working folder, user or environment when first imported
    import multiprocessing.process, tempfile
    import matplotlib, matplotlib.style.core
    import torch._dynamo, torch._inductor.config
    configs = [sys.modules[m]._config for m in ("torch._dynamo.config", "torch._inductor.config",
                                                "torch._functorch.config") if m in sys.modules]
    paths = sorted(str(e.default) for c in configs for e in c.values() if str(e.default).startswith("/"))
    return {"tmp": tempfile.gettempdir(), "mplconfig": matplotlib.get_configdir(),
            "mplcache": matplotlib.get_cachedir(), "styles": matplotlib.style.core.USER_LIBRARY_PATHS,
            "start": multiprocessing.process.ORIGINAL_DIR, "compiler": paths}
_status = dict(line.split(":", 1) for line in _read("/proc/self/status").splitlines() if ":" in line)
_facts = {
    "ppid": os.getppid(),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "me": os.getpid(),
    "creds": {k: _status.get(k, "").split() for k in
              ["Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"]},
    "limits": _read("/proc/self/limits"),
    "mounts": _read("/proc/self/mountinfo").count(chr(10)),
    "cwd": os.getcwd(),
    "path": sys.path,
    "env": sorted(os.environ),
    "fds": len(os.listdir("/proc/self/fd")),
    "seen": [hasattr(numpy, "LEFT_BY_ANOTHER_STUDENT"), os.path.exists("/tmp/left-by-another-student"),
             "LEFT_BY_ANOTHER_STUDENT" in os.environ],
    "np_random": float(numpy.random.rand()),
    "torch_seed": torch.initial_seed(),
    "folders": _folders(),
}
numpy.LEFT_BY_ANOTHER_STUDENT = 1
open("/tmp/left-by-another-student", "w").write("x")
os.environ["LEFT_BY_ANOTHER_STUDENT"] = "1"
print("FACTS " + json.dumps(_facts))
"""


def grade(base, preloaded):
    from autograder.grade import grade_batch

    root, released, sources = released_lesson(base, LESSON)
    folder = base / "submissions"
    folder.mkdir()
    for student in STUDENTS:
        notebook = submission(released, sources)
        if student.startswith("probe"):
            for cell in notebook.cells:
                if cell.metadata.get("nbgrader", {}).get("grade_id") == FIRST:
                    cell.source = PROBE + "\n" + cell.source
        nbformat.write(notebook, str(folder / f"{student}__{LESSON}.ipynb"))
    run = grade_batch(folder, root, [LESSON], show_progress=False, workers=1, preload=preloaded)
    facts = {}
    for student in STUDENTS[:2]:
        notebook = nbformat.read(str(Path(run.root) / "autograded" / student / LESSON / f"{LESSON}.ipynb"), as_version=4)
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                for line in output.get("text", "").splitlines():
                    if line.startswith("FACTS "):
                        facts[student] = json.loads(line[len("FACTS "):])
    return run, facts


STARTED = []   # socket paths of the preloaders the batches started


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    if not sandbox.works()[0]:
        pytest.skip(f"no sandbox here ({sandbox.works()[1]}); kernels are preloaded only in the sandbox")
    start = preload.start

    def recorded(folder, kernel_env):
        process, path = start(folder, kernel_env)
        STARTED.append(path)
        return process, path

    preload.start = recorded
    try:
        return {mode: grade(tmp_path_factory.mktemp(mode), mode == "preloaded") for mode in ("preloaded", "ordinary")}
    finally:
        preload.start = start


def test_both_ways_grade_every_submission_the_same(runs):
    scores = {mode: {(o.student, q.name): q.score for o in run.outcomes for q in o.questions}
              for mode, (run, _) in runs.items()}
    assert all(o.status == "graded" for run, _ in runs.values() for o in run.outcomes)
    from autograder.release import released_notebook

    released = nbformat.read(str(released_notebook(runs["ordinary"][0].root, LESSON)), as_version=4)
    questions = sum(1 for c in released.cells if c.metadata.get("nbgrader", {}).get("grade"))
    assert questions >= 4
    assert scores["preloaded"] == scores["ordinary"] and len(scores["ordinary"]) == questions * len(STUDENTS)
    assert all(o.score == o.max_score for run, _ in runs.values() for o in run.outcomes)


def test_the_preloaded_kernels_did_come_from_the_preloader(runs):
    # its parent is outside the sandbox's PID namespace (the preloader), an ordinary kernel's is bwrap's init
    assert [runs["preloaded"][1][s]["ppid"] for s in STUDENTS[:2]] == [0, 0], runs["preloaded"][1]
    assert [runs["ordinary"][1][s]["ppid"] for s in STUDENTS[:2]] == [1, 1], runs["ordinary"][1]


def test_a_preloaded_kernel_is_confined_like_an_ordinary_one(runs):
    preloaded, ordinary = runs["preloaded"][1]["probe-a"], runs["ordinary"][1]["probe-a"]
    for field in ["Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"]:
        assert preloaded["creds"][field] == ordinary["creds"][field], field
    for facts in (preloaded, ordinary):  # real, effective, saved and filesystem ids alike; root only when we are not
        assert len(set(facts["creds"]["Uid"])) == 1 and len(set(facts["creds"]["Gid"])) == 1
    assert (preloaded["creds"]["Uid"][0] == "0") == (ordinary["creds"]["Uid"][0] == "0")
    assert preloaded["limits"] == ordinary["limits"]
    assert preloaded["mounts"] == ordinary["mounts"]
    assert preloaded["env"] == ordinary["env"]
    assert preloaded["path"] == ordinary["path"]
    assert Path(preloaded["cwd"]).name == Path(ordinary["cwd"]).name == LESSON
    # folders the preloader's imports computed from its own folder are computed again for the kernel
    same_places = [json.loads(json.dumps(facts["folders"]).replace(facts["cwd"], "<cwd>")) for facts in (preloaded, ordinary)]
    assert same_places[0] == same_places[1], same_places
    # it sees its sandbox's init, the holder and itself: never the preloader, a worker or another kernel
    assert set(preloaded["pids"]) <= {1, 2, preloaded["me"]} and len(preloaded["pids"]) <= 3, preloaded["pids"]


def test_nothing_passes_from_one_students_kernel_to_the_next(runs):
    for mode, (_, facts) in runs.items():
        assert facts["probe-b"]["seen"] == [False, False, False], (mode, facts["probe-b"])
        assert facts["probe-a"]["np_random"] != facts["probe-b"]["np_random"], mode
        assert facts["probe-a"]["torch_seed"] != facts["probe-b"]["torch_seed"], mode


def test_no_preloader_or_kernel_outlives_its_batch(runs):
    assert len(STARTED) == 1, STARTED   # the preloaded batch started one; the ordinary batch none
    survivors = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and STARTED[0].encode() in (entry / "cmdline").read_bytes():
                survivors.append(entry.name)   # the preloader, or a kernel forked from it
        except OSError:
            pass
    assert not survivors, survivors


def test_feedback_pages_are_those_of_nbconverts_html_exporter(runs, tmp_path):
    """The workers write feedback with autograder.feedback.FeedbackExporter (caches); nbgrader with
    nbconvert's own HTMLExporter must write the very same pages (both then pointed at the MathJax
    beside them by feedback.offline_math, as the workers do)."""
    from autograder.course_dir import copy_course, nbgrader_api
    from autograder.feedback import offline_math

    run = runs["preloaded"][0]
    course = copy_course(run.root, tmp_path / "course", leave_out=["feedback", ".grading"])
    api = nbgrader_api(course)
    for student in STUDENTS:
        assert api.generate_feedback(LESSON, student, force=True)["success"]
        ours = Path(run.root) / "feedback" / student / LESSON / f"{LESSON}.html"
        stock = offline_math(course / "feedback" / student / LESSON / f"{LESSON}.html")
        assert ours.read_text() == stock.read_text(), student


def test_figures_are_the_same_pngs_either_way(runs):
    """A preloaded kernel draws a figure once, not twice (preload.skip_unseen_figure_drawing): the
    notebook must store the very same images. Lesson 2 leaves figures to pyplot's post-execute drawing
    (no plt.show()), which is what the preloaded kernel skips."""
    def images(run):
        found = []
        for student in STUDENTS:
            notebook = nbformat.read(str(Path(run.root) / "autograded" / student / LESSON / f"{LESSON}.ipynb"), as_version=4)
            found += [output["data"]["image/png"] for cell in notebook.cells for output in cell.get("outputs", [])
                      if "image/png" in output.get("data", {})]
        return found

    preloaded, ordinary = images(runs["preloaded"][0]), images(runs["ordinary"][0])
    assert len(ordinary) >= 5 * len(STUDENTS)
    assert preloaded == ordinary


def test_the_launcher_falls_back_when_there_is_no_preloader(tmp_path):
    import sys

    kernel_args = ["-f", str(tmp_path / "k-1" / "kernel.json")]
    command = ["/usr/bin/bwrap", "--ro-bind", "/", "/", "--", sys.executable, "-m", "ipykernel_launcher", *kernel_args]
    assert preload.exec_preloaded(command, kernel_args, str(tmp_path / "no-such.sock")) is None
    # a command line that does not end in the kernel is never rewritten
    assert preload.exec_preloaded(command[:-1], kernel_args, str(tmp_path / "no-such.sock")) is None


def test_a_stopped_preloader_answers_no_more(tmp_path):
    process, path = preload.start(tmp_path, {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    try:
        assert preload._ask(path, b"hello", [], preload.READY_TIMEOUT_S) == b"ready"
        assert "1 thread(s)" in (tmp_path / "preload.log").read_text()
    finally:
        preload.stop(process)
    with pytest.raises(OSError):
        preload._ask(path, b"hello", [], 5)
