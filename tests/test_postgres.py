"""The gradebook in PostgreSQL: Debian's server, a throwaway cluster on loopback, the same batch graded
into SQLite and into PostgreSQL must give the same scores.

The fixture installs Debian's `postgresql` with apt-get when it is missing and we are root (CI), runs
initdb as an unprivileged user (initdb refuses root) in a temporary folder, starts `postgres` on
127.0.0.1 with a free port and its unix socket in that folder, and removes everything afterwards.
It skips, with the reason, only where the server cannot be installed or started.
"""
import csv
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from autograder.course_dir import COURSE_ID, build
from autograder.demo import buggy_edit, released_lesson, submission
from autograder.lessons import ROOT

pytestmark = pytest.mark.slow
LESSON = "02_vanilla_rnn"
STUDENTS = ("ada", "chi")  # full marks; a bug in one function (demo.BUGS)
QUIET_APT = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def postgres_bin():
    """Debian keeps the server's programs in /usr/lib/postgresql/<version>/bin (not on PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def install_postgres():
    """apt-get install postgresql as root; a policy-rc.d keeps the package's own cluster from starting."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "PostgreSQL is not installed, and installing it needs root and apt-get"
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"]
        done = subprocess.run(command, env=QUIET_APT, capture_output=True, text=True, timeout=900)
        if done.returncode:
            subprocess.run(["apt-get", "update", "-q"], env=QUIET_APT, capture_output=True, timeout=900)
            done = subprocess.run(command, env=QUIET_APT, capture_output=True, text=True, timeout=900)
        if done.returncode:
            return f"apt-get install postgresql failed: {(done.stderr or done.stdout).strip()[-300:]}"
    finally:
        if ours:
            policy.unlink(missing_ok=True)
    return None


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_user():
    """(uid, gid) to run initdb and postgres as: ourselves, or as root the `postgres` (else `nobody`) user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            continue
    return None


@pytest.fixture(scope="module")
def postgres_url():
    import psycopg

    bin_dir = postgres_bin()
    if bin_dir is None:
        problem = install_postgres()
        bin_dir = postgres_bin()
        if bin_dir is None:
            pytest.skip(problem or "PostgreSQL was installed but initdb was not found")
    user = server_user()
    if os.geteuid() == 0 and user is None:
        pytest.skip("running as root and there is no unprivileged user to run initdb as")
    as_user = {"user": user[0], "group": user[1], "extra_groups": []} if user else {}
    base = Path(tempfile.mkdtemp(prefix="rnn-pg-"))  # short: the unix socket path is limited to 107 bytes
    if user:
        os.chown(base, *user)
    data, log = base / "data", base / "server.log"
    env = dict(os.environ, LC_ALL="C", HOME=str(base))
    server = None
    try:
        done = subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                               "--no-sync"], capture_output=True, text=True, env=env, cwd=base, timeout=300, **as_user)
        if done.returncode:
            pytest.skip(f"initdb failed: {(done.stderr or done.stdout).strip()[-300:]}")
        port = free_port()
        with open(log, "w") as handle:
            if user:
                os.chown(log, *user)
            server = subprocess.Popen([str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                                       "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={base}",
                                       "-c", "fsync=off", "-c", "full_page_writes=off"],
                                      stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=base, **as_user)
        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = psycopg.connect(admin, connect_timeout=3, autocommit=True)
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"postgres did not start: {log.read_text()[-500:]}")
                time.sleep(0.2)
        with connection:
            connection.execute("CREATE DATABASE gradebook")
        yield f"postgresql://postgres@127.0.0.1:{port}/gradebook"
    finally:
        if server is not None:
            server.terminate()  # SIGTERM: smart shutdown; the test's connections are closed by now
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    """Two students of one lesson, made from the solutions as the demo makes them."""
    scratch = tmp_path_factory.mktemp("pg-release")
    _, released, sources = released_lesson(scratch, LESSON)
    folder = scratch / "submissions"
    folder.mkdir()
    nbformat.write(submission(released, sources), str(folder / f"ada__{LESSON}.ipynb"))
    nbformat.write(submission(released, sources, buggy_edit(LESSON)), str(folder / f"chi__{LESSON}.ipynb"))
    return folder


def question_scores(db_url):
    from nbgrader.api import Gradebook

    with Gradebook(db_url, COURSE_ID) as gradebook:
        return {(student, g.name): (g.score, g.max_score) for student in STUDENTS
                for nb in gradebook.find_submission(LESSON, student).notebooks for g in nb.grades}


@pytest.fixture(scope="module")
def graded(postgres_url, submissions, tmp_path_factory):
    """The batch graded twice: into SQLite through the Python API, into PostgreSQL through the CLI."""
    from autograder.grade import grade_batch

    sqlite_build = tmp_path_factory.mktemp("pg-sqlite")
    sqlite_run = grade_batch(submissions, sqlite_build / "course", [LESSON], show_progress=False, workers=2)
    pg_build = tmp_path_factory.mktemp("pg-postgres")
    env = dict(os.environ, RNN_COURSE_BUILD=str(pg_build), RNN_COURSE_USE_CURRENT_PYTHON="1")
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submissions), "--lessons", LESSON,
                           "--db-url", postgres_url, "--workers", "2", "--quiet", "--out", str(pg_build / "grades")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return sqlite_run, pg_build, done.stdout


def test_postgres_gradebook_has_the_same_scores_as_sqlite(graded, postgres_url):
    sqlite_run = graded[0]
    sqlite = question_scores(f"sqlite:///{sqlite_run.root / 'gradebook.db'}")
    postgres = question_scores(postgres_url)
    assert postgres == sqlite
    assert len(sqlite) >= 2 * 4, sqlite
    # the batch is not trivial: ada has full marks, chi lost the points of the function with the bug
    assert all(score == max_score for (student, _), (score, max_score) in sqlite.items() if student == "ada")
    assert any(score < max_score for (student, _), (score, max_score) in sqlite.items() if student == "chi")


def test_grades_csv_comes_from_postgres(graded, postgres_url):
    from nbgrader.api import Gradebook

    pg_build = graded[1]
    with open(pg_build / "grades" / "grades.csv") as handle:
        rows = {(r["student"], r["lesson"]): r for r in csv.DictReader(handle)}
    with Gradebook(postgres_url, COURSE_ID) as gradebook:
        for student in STUDENTS:
            stored = gradebook.find_submission(LESSON, student)
            row = rows[(student, LESSON)]
            assert (float(row["score"]), float(row["max_score"])) == (stored.score, stored.max_score), row
            assert row["status"] == "graded"
    # nothing went to a SQLite gradebook on the side
    assert not (pg_build / "course" / "gradebook.db").exists()


def test_the_course_directory_remembers_the_url(graded, postgres_url):
    from autograder.course_dir import configured_db_url, gradebook_url

    course = graded[1] / "course"
    assert configured_db_url(course) == postgres_url
    build(course, [LESSON])  # a later build without a URL keeps it
    assert gradebook_url(course) == postgres_url
    assert "Grades (this batch)" in graded[2]
