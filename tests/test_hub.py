"""A class on the local JupyterHub (`python3 -m autograder hub`), the whole cycle in a real browser.

One class with an instructor and two students (real system users made for the test), JupyterHub on a free
port, Debian's Chromium driven by autograder/web/hub_browser.cjs:

1. the instructor releases lesson 2 in formgrader;
2. student 1 logs in, fetches it (assignment list), runs its first cell, pastes a correct rnn_step_forward,
   runs the cells up to its visible check (which prints OK) and submits;
3. student 2 fetches and submits the blank notebook;
4. `hub grade` collects from the exchange, grades with this project's grader and releases the feedback;
5. student 1 fetches the feedback and reads the score; the instructor sees both in formgrader.

Between 3 and 4, student 2 tries to read student 1's notebook and the exchange's submissions, as itself.

The expected points come from the solution notebook's grade cells (nbgrader metadata), not from the grader.
Screenshots: build/test-artifacts/hub/. Everything the test started (hub, servers, users, folders) is
removed at the end. Skipped, with the reason, when not root (the hub needs real users), or when Chromium,
Node.js or npm is missing and cannot be installed.

Runtime: about 6 minutes (two lab sessions that import torch, a grading run); the first run on a machine
also builds the hub's environment in /opt/rnn-course-hub/env (about 3 minutes, cached after that).
"""
import csv
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from autograder import hub as H
from autograder.cli import lab_command
from autograder.demo import solution_sources
from autograder.lessons import BUILD, ROOT, SOLUTIONS
from autograder.report import points

LESSON = "02_vanilla_rnn"
SHOTS = BUILD / "test-artifacts" / "hub"


def test_lab_starts_as_root_with_a_warning(capsys):
    command = lab_command(euid=0)
    assert command[-1] == "--allow-root" and "warning" in capsys.readouterr().err
    assert "--allow-root" not in lab_command(euid=1000)


def test_lab_really_starts_as_root(tmp_path):
    """`python3 -m autograder lab` as root: JupyterLab serves (before, it stopped at "Running as root")."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("not root: nothing to show")
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, RNN_COURSE_USE_CURRENT_PYTHON="1", JUPYTER_RUNTIME_DIR=str(tmp_path))
    process = subprocess.Popen([sys.executable, "-m", "autograder", "lab", "--no-browser", "--ip=127.0.0.1",
                                f"--port={port}", "--IdentityProvider.token=abc"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline, status = time.monotonic() + 90, None
        while time.monotonic() < deadline and process.poll() is None and status != 200:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token=abc", timeout=2) as answer:
                    status = answer.status
            except OSError:
                time.sleep(0.5)
    finally:
        os.killpg(process.pid, 15)
        output = process.communicate(timeout=30)[0]
    assert status == 200, output[-2000:]
    assert "warning: running as root" in output and "Running as root is not recommended" not in output


def test_roster_is_read_and_checked(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name,last_name,email,password\nan,An,Nguyễn,an@x.edu,\nbinh,Bình,,,s3cret\n",
                      encoding="utf-8")
    members = H.read_roster(roster)
    assert [(m.id, m.first_name, m.password) for m in members] == [("an", "An", ""), ("binh", "Bình", "s3cret")]
    roster.write_text("id\nAn Nguyen\n")
    with pytest.raises(H.HubError, match="not a usable login name"):
        H.read_roster(roster)
    assert [m.id for m in H.read_roster(H.EXAMPLE_ROSTER)] == ["an", "binh"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:   # an account the hub did not make is never taken over
        with pytest.raises(H.HubError, match="not made by the hub"):
            H.ensure_user("root")


def grade_points(lesson):
    """{grade_id: points} of the lesson's grade cells, from the solution notebook."""
    notebook = nbformat.read(str(SOLUTIONS / f"{lesson}.ipynb"), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"]) for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


def tools():
    """(chromium, node_modules) or a reason to skip."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None, "not root: the hub makes a system user per student"
    if not (shutil.which("node") and shutil.which("npm")):
        return None, "Node.js and npm are needed (JupyterHub's proxy, and the browser driver)"
    from autograder.slides import SlidesError, find_chromium, npm_install

    chromium = find_chromium(install=True)
    if chromium is None:
        return None, "Chromium is missing and could not be installed (apt-get install chromium)"
    try:
        return (chromium, npm_install()), None
    except SlidesError as error:
        return None, f"the pinned browser driver (playwright-core) could not be installed: {error}"


def run_browser(spec, node_modules):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    try:
        result = subprocess.run(["node", str(ROOT / "autograder" / "web" / "hub_browser.cjs"), handle.name],
                                env=dict(os.environ, NODE_PATH=str(node_modules)), capture_output=True, text=True,
                                timeout=900)
    finally:
        os.unlink(handle.name)
    assert result.stdout, result.stderr[-3000:]
    seen = json.loads(result.stdout)
    assert "error" not in seen, f"{seen['error']} (screenshots in {SHOTS})\n{json.dumps(seen['seen'], indent=1)[:3000]}"
    return seen


def user_settings(name):
    """Two JupyterLab preferences of the test's users: every cell rendered (the driver finds cells in the
    page; JupyterLab 4 renders only the visible ones by default) and no news pop-up over the page."""
    import pwd

    entry = pwd.getpwnam(name)
    base = Path(entry.pw_dir) / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
    for rel, value in (("notebook-extension/tracker.jupyterlab-settings", {"windowingMode": "none"}),
                       ("apputils-extension/notification.jupyterlab-settings", {"fetchNews": "false"})):
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(json.dumps(value))
    H.chown_tree(Path(entry.pw_dir) / ".jupyter", entry)


def test_a_class_on_jupyterhub_in_the_browser():
    found, reason = tools()
    if found is None:
        pytest.skip(reason)
    chromium, node_modules = found
    tag = secrets.token_hex(2)
    instructor, students = f"rt{tag}-teacher", [f"rt{tag}-ana", f"rt{tag}-bao"]
    class_dir = Path(tempfile.mkdtemp(prefix="rnn-hub-test-", dir="/tmp"))
    class_dir.chmod(0o755)
    (class_dir / "roster.csv").write_text("id,first_name,last_name,email,lms_user_id\n" + "".join(
        f"{s},{s.split('-')[1].title()},Test,{s}@example.edu,{100 + i}\n" for i, s in enumerate(students)))
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    SHOTS.mkdir(parents=True)
    hub = None
    try:
        hub = H.setup_class(class_dir / "class", class_dir / "roster.csv", instructor, ip="127.0.0.1", port=0,
                            lessons=[LESSON])
        assert sorted(H.created_users()) >= sorted([instructor, *students])
        for name in [instructor, *students]:
            home = Path(os.path.expanduser(f"~{name}"))
            assert oct(home.stat().st_mode & 0o777) == "0o700", f"{home} is readable by others"
            user_settings(name)
        with open(class_dir / "hub.log", "w") as log:
            H.start(hub, log=log)
        spec = {"chromium": str(chromium), "url": hub.url, "lesson": LESSON, "shots": str(SHOTS),
                "instructor": {"name": instructor, "password": hub.passwords[instructor]},
                "students": [{"name": students[0], "password": hub.passwords[students[0]],
                              "code": solution_sources(LESSON)["rnn_step_forward"]},
                             {"name": students[1], "password": hub.passwords[students[1]], "code": None}]}

        # 1-3: release, fetch, work, submit
        seen = run_browser(dict(spec, phase="submit"), node_modules)["seen"]
        assert f"Successfully released '{LESSON}'" in seen["release_modal"] and seen["release_status"] == "released"
        assert "Formgrader" in seen["instructor_menu"]
        for student in students:
            assert "Assignment List" in seen[f"{student}_menu"] and "Formgrader" not in seen[f"{student}_menu"]
            assert LESSON in seen[f"{student}_submitted"]
        assert seen[f"{students[0]}_first_cell_prompt"] == "[1]:"
        check = seen[f"{students[0]}_check_output"]
        assert check.count("OK") >= 2 and "rnn_step_forward" in check and "Error" not in check, check
        inbound = list((hub.exchange / "rnn-course" / "inbound").iterdir())
        assert sorted(p.name.split("+")[0] for p in inbound) == sorted(students)
        # one student cannot read the other's work: not in the home folder, not in the exchange
        own = Path(os.path.expanduser(f"~{students[0]}")) / LESSON / f"{LESSON}.ipynb"
        for command in (["cat", str(own)], ["ls", str(hub.exchange / "rnn-course" / "inbound")]):
            as_other = subprocess.run(["runuser", "-u", students[1], "--", *command], capture_output=True, text=True)
            assert as_other.returncode != 0 and "Permission denied" in as_other.stderr, (command, as_other)
        assert subprocess.run(["runuser", "-u", students[0], "--", "cat", str(own)], capture_output=True).returncode == 0

        # 4: collect, grade with this project's grader, release feedback
        run = H.grade_lesson(hub.class_dir, LESSON, workers=2)
        per_question = grade_points(LESSON)
        total = sum(per_question.values())
        step_points = per_question["test_rnn_step_forward"]
        scores = {o.student: o for o in run.outcomes}
        assert sorted(scores) == sorted(students) and all(o.status == "graded" for o in run.outcomes)
        assert scores[students[0]].max_score == total
        assert {q.name: q.score for q in scores[students[0]].questions} == \
            {name: (step_points if name == "test_rnn_step_forward" else 0.0) for name in per_question}
        assert scores[students[1]].score == 0.0
        feedback_files = list((hub.exchange / "rnn-course" / "feedback").glob("*.html"))
        assert len(feedback_files) == 2
        with open(hub.class_dir / "grades" / "canvas.csv", newline="") as handle:
            canvas = {row[3]: row for row in csv.reader(handle)}
        assert canvas[students[0]][5] == points(step_points) and canvas[students[1]][5] == "0"
        assert canvas[students[0]][1] == "100"

        # 5: the student reads the score; the instructor sees both
        seen = run_browser(dict(spec, phase="feedback"), node_modules)["seen"]
        assert f"{LESSON} (Score: {step_points:.1f} / {total:.1f})" in seen["feedback_text"]
        assert f"{points(step_points)} / {points(total)}" in seen["gradebook_text"]
        assert f"0 / {points(total)}" in seen["gradebook_text"]
    finally:
        if hub is not None:
            H.stop(hub)
        H.remove_users([instructor, *students])
        shutil.rmtree(class_dir, ignore_errors=True)
    assert not [name for name in [instructor, *students] if H.user_exists(name)]
    shots = sorted(p.name for p in SHOTS.glob("*.png"))
    assert len(shots) >= 9 and not [s for s in shots if s.startswith("failed")], shots
