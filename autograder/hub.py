"""A class on one machine: JupyterHub, nbgrader's assignment list and exchange, this project's grader.

    python3 -m autograder hub [--roster roster.csv] [--instructor NAME] [--port 8000]   start the class
    python3 -m autograder hub grade 02_vanilla_rnn     collect the submissions from the exchange, grade them
                                                       with this project's grader, release the feedback
    python3 -m autograder hub remove-users             delete the system users the hub created

Where things are (the class folder, default /srv/rnn-course-hub; --dir):

    env/  (default /opt/rnn-course-hub/env; $RNN_COURSE_HUB_ENV)  the environment the hub and every server
          run in: the pinned requirements, JupyterHub, the `course` wheel of the student edition (no
          solutions), configurable-http-proxy from npm (autograder/hub_config/package-lock.json). Made
          from a Python that every user can read: spawned servers run as the students, and a virtual
          environment made from a Python under /root fails at spawn with "Permission denied".
    exchange/       nbgrader's filesystem exchange (release, fetch, submit, feedback)
    jupyter/student, jupyter/instructor   the Jupyter configuration each role's server reads first
                    ($JUPYTER_CONFIG_PATH): the course id and the exchange; formgrader off for students
    hub/            (mode 700) JupyterHub's state, settings.json, passwords.json (scrypt hashes), the
                    student edition the course wheel is built from, the submissions `hub grade` collected
    passwords.txt   the generated passwords, to hand out (mode 600)
    ~instructor/rnn-course/   the nbgrader course directory, in the instructor's home (formgrader only
                    works on a course inside the server's root folder)
    grades/         what `hub grade` writes (grades.csv, canvas.csv, moodle.csv, results, feedback pages)

Users: the instructor and the students of the roster, each a real system user with a home folder of
mode 700 (the hub must run as root: nbgrader's exchange tells students apart by their system user, so
without root it cannot hold a class). The roster is a CSV file with a header and the columns
`id` (the login name), and optionally `first_name`, `last_name`, `email`, `lms_user_id`, `password`.
"""
import csv
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
import venv
from dataclasses import dataclass
from pathlib import Path

from autograder.exports import Student
from autograder.lessons import BUILD, ROOT, lesson_ids

CONFIG_SOURCE = ROOT / "autograder" / "hub_config"
DEFAULT_CLASS_DIR = Path("/srv/rnn-course-hub")
DEFAULT_ENV = Path(os.environ.get("RNN_COURSE_HUB_ENV", "/opt/rnn-course-hub/env"))
EXAMPLE_ROSTER = CONFIG_SOURCE / "roster.example.csv"
USERNAME = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")
MARK = "rnn-course hub"   # the GECOS field of the users the hub creates: remove-users deletes only those


class HubError(RuntimeError):
    pass


def say(message):
    print(f"[hub] {message}", flush=True)


# ---------------------------------------------------------------------------------------- roster

@dataclass
class Member(Student):
    """A roster line: the exports' Student plus the hub password."""
    password: str = ""


def read_roster(path):
    """The students of a roster CSV (header with at least `id`)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    if rows and "id" not in rows[0]:
        raise HubError(f"{path}: the roster needs a header with an `id` column (got {', '.join(rows[0])})")
    members = []
    for number, row in enumerate(rows, start=2):
        ident = (row.get("id") or "").strip()
        if not USERNAME.match(ident):
            raise HubError(f"{path}, line {number}: {ident!r} is not a usable login name "
                           "(lower-case letters, digits, '-' and '_', at most 31, starting with a letter)")
        members.append(Member(ident, *((row.get(k) or "").strip() for k in
                                       ("first_name", "last_name", "email", "lms_user_id", "password"))))
    if len({m.id for m in members}) != len(members):
        raise HubError(f"{path}: a student id appears twice")
    return members


def password_entry(password):
    salt = secrets.token_bytes(16)
    return {"salt": salt.hex(), "hash": hashlib.scrypt(password.encode(), salt=salt, n=2 ** 14, r=8, p=1).hex()}


# ---------------------------------------------------------------------------------------- environment

def world_readable(path):
    """True when every user can run `path`: each folder above it searchable by others, the file readable."""
    path = Path(path).resolve()
    for folder in path.parents:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


def readable_python():
    """A Python of this minor version that every user can run (the hub's environment is made from it)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [Path(sys._base_executable).resolve() if hasattr(sys, "_base_executable") else None,
                  Path(sys.base_prefix) / "bin" / version, Path("/usr/bin") / version, Path("/usr/local/bin") / version]
    for candidate in filter(None, candidates):
        if candidate.exists() and world_readable(candidate):
            stdlib = subprocess.run([str(candidate), "-c", "import os, sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                                    capture_output=True, text=True)
            if stdlib.returncode == 0 and world_readable(stdlib.stdout.strip()):
                return candidate
    raise HubError(f"no {version} that every user can read (the students' servers run from it): install one, "
                   f"e.g. `apt-get install {version} {version}-venv`, or set RNN_COURSE_HUB_PYTHON")


def env_digest():
    parts = [(ROOT / "requirements.txt").read_bytes(), (CONFIG_SOURCE / "package-lock.json").read_bytes()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


def wheel_digest(wheel):
    """Of the wheel's files (a rebuilt wheel of the same files has other time stamps, the same digest)."""
    import zipfile

    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode() + b"\0" + archive.read(name) + b"\0")
    return digest.hexdigest()


def ensure_env(env_dir=DEFAULT_ENV, wheel=None):
    """Create or refresh the hub's environment (pip requirements, the course wheel, the proxy); returns it."""
    env_dir = Path(env_dir)
    stamp, wheel_stamp = env_dir / "rnn-course-hub-installed.txt", env_dir / "rnn-course-wheel-installed.txt"
    digest = env_digest()
    if stamp.exists() and stamp.read_text().strip() == digest:
        if not wheel_stamp.exists() or wheel_stamp.read_text().strip() != wheel_digest(wheel):
            install_wheel(env_dir, wheel)
        return env_dir
    python = Path(os.environ.get("RNN_COURSE_HUB_PYTHON") or readable_python())
    if not (env_dir / "bin" / "python").exists():
        say(f"creating the hub's environment {env_dir} from {python} (a few minutes, once)")
        env_dir.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(python), "-m", "venv", str(env_dir)], check=True)
    pip = [str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    say("installing the pinned requirements and JupyterHub into it")
    subprocess.run([*pip, "-r", str(ROOT / "requirements.txt")], check=True)
    install_wheel(env_dir, wheel)
    npm = shutil.which("npm")
    if npm is None:
        raise HubError("npm was not found: install Node.js 18+ (JupyterHub's proxy, configurable-http-proxy, is a "
                       "Node program)")
    proxy = env_dir / "proxy"
    proxy.mkdir(exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(CONFIG_SOURCE / name, proxy / name)
    say("installing configurable-http-proxy (npm ci)")
    result = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=proxy,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise HubError(f"npm ci failed in {proxy}:\n{result.stderr[-2000:]}")
    for path in [env_dir, *env_dir.parents]:   # others must reach it
        if path == Path("/"):
            break
        path.chmod(path.stat().st_mode | stat.S_IROTH | stat.S_IXOTH)
    stamp.write_text(digest + "\n")
    return env_dir


def install_wheel(env_dir, wheel):
    say(f"installing the student edition's course package ({Path(wheel).name})")
    subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "--no-deps", "--force-reinstall", str(wheel)], check=True)
    (env_dir / "rnn-course-wheel-installed.txt").write_text(wheel_digest(wheel) + "\n")


# ---------------------------------------------------------------------------------------- users

def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def ensure_user(name):
    """A system user with a private home folder; returns its passwd entry. An account the hub did not make
    (root, a service, a person's own) is never taken over."""
    if user_exists(name) and pwd.getpwnam(name).pw_gecos.split(",")[0] != MARK:
        raise HubError(f"the system user {name!r} exists and was not made by the hub: give the roster another id")
    if not user_exists(name):
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", MARK, name], check=True,
                       capture_output=True)
    entry = pwd.getpwnam(name)
    home = Path(entry.pw_dir)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    home.chmod(0o700)
    return entry


def created_users():
    return sorted(p.pw_name for p in pwd.getpwall() if p.pw_gecos.split(",")[0] == MARK)


def remove_users(names=None):
    """Delete the system users the hub created (those whose comment is MARK) and their homes."""
    removed = []
    for name in names if names is not None else created_users():
        if user_exists(name) and pwd.getpwnam(name).pw_gecos.split(",")[0] == MARK:
            subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
            subprocess.run(["userdel", "--remove", name], capture_output=True)
            removed.append(name)
    return removed


def chown_tree(path, entry):
    for folder, dirs, files in os.walk(path):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


# ---------------------------------------------------------------------------------------- the class

@dataclass
class Hub:
    class_dir: Path
    env: Path
    instructor: str
    students: list
    url: str
    passwords: dict          # generated or roster passwords, by user
    course: Path | None = None   # the nbgrader course directory, in the instructor's home (formgrader needs it there)
    process: subprocess.Popen | None = None

    @property
    def exchange(self):
        return self.class_dir / "exchange"


NBGRADER_CONFIG = '''# Written by `python3 -m autograder hub`.
c = get_config()
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}
c.Exchange.path_includes_course = False
'''
INSTRUCTOR_CONFIG = NBGRADER_CONFIG + '''c.CourseDirectory.root = {course!r}
'''
# nbgrader's lab extensions and server extension for the instructor only (students see the assignment list)
STUDENT_PAGE_CONFIG = {"disabledExtensions": {"@jupyter/nbgrader:formgrader": True,
                                              "@jupyter/nbgrader:create-assignment": True,
                                              "@jupyter/nbgrader:course-list": True}}
STUDENT_SERVER_CONFIG = {"ServerApp": {"jpserver_extensions": {"nbgrader.server_extensions.formgrader": False,
                                                               "nbgrader.server_extensions.course_list": False}}}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_jupyter_config(class_dir, course_id, course):
    exchange, course = str(class_dir / "exchange"), str(course)
    dirs = {}
    for role in ("student", "instructor"):
        folder = class_dir / "jupyter" / role
        (folder / "labconfig").mkdir(parents=True, exist_ok=True)
        (folder / "jupyter_server_config.d").mkdir(parents=True, exist_ok=True)
        template = INSTRUCTOR_CONFIG if role == "instructor" else NBGRADER_CONFIG
        (folder / "nbgrader_config.py").write_text(template.format(course_id=course_id, exchange=exchange, course=course))
        if role == "student":
            (folder / "labconfig" / "page_config.json").write_text(json.dumps(STUDENT_PAGE_CONFIG, indent=2))
            (folder / "jupyter_server_config.d" / "nbgrader-student.json").write_text(
                json.dumps(STUDENT_SERVER_CONFIG, indent=2))
        dirs[role] = str(folder)
    return dirs


def prepare_course(course, lessons, edition, members):
    """The nbgrader course directory: sources, the generated release of every lesson, the roster."""
    from autograder.course_dir import build, nbgrader_api
    from autograder.release import generate, set_edition

    build(course, lessons)
    shutil.rmtree(course.parent / "exchange", ignore_errors=True)   # build's default exchange: the class has its own
    set_edition(generate(course, lessons), edition)
    with nbgrader_api(course).gradebook as gradebook:
        for m in members:
            gradebook.update_or_create_student(m.id, first_name=m.first_name or None, last_name=m.last_name or None,
                                               email=m.email or None, lms_user_id=m.lms_user_id or None)


def setup_class(class_dir=DEFAULT_CLASS_DIR, roster=EXAMPLE_ROSTER, instructor="instructor", env_dir=DEFAULT_ENV,
                ip="", port=8000, lessons=None, edition="en"):
    """Everything `hub` needs before JupyterHub starts; returns a Hub (not started)."""
    from autograder.course_dir import COURSE_ID
    from autograder.student_edition import build_edition

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        raise HubError("the hub must run as root: each student is a real system user (nbgrader's exchange tells "
                       "students apart by their system user, and one student must not read another's work). "
                       "For one student on one machine use `python3 -m autograder lab`.")
    if edition not in ("en", "vi"):
        raise HubError("--edition: en or vi (the released notebook keeps the lesson's name, so feedback finds it)")
    class_dir = Path(class_dir).resolve()
    members = read_roster(roster)
    if not USERNAME.match(instructor) or instructor in {m.id for m in members}:
        raise HubError(f"instructor {instructor!r}: a login name not among the students")
    lessons = lessons or lesson_ids()
    class_dir.mkdir(parents=True, exist_ok=True)
    for path in [class_dir, *class_dir.parents]:
        if path == Path("/"):
            break
        path.chmod(path.stat().st_mode | stat.S_IXOTH)
    state = class_dir / "hub"
    state.mkdir(exist_ok=True)
    state.chmod(0o700)   # private: password hashes, and the edition's later lessons (lesson 3 holds lesson 2's answers)
    edition_dir = build_edition(state / "student-edition", lessons=lessons, archive=False)
    env_dir = ensure_env(env_dir, edition_dir.wheel)

    say(f"users: instructor {instructor}, {len(members)} student(s)")
    entries = {name: ensure_user(name) for name in [instructor] + [m.id for m in members]}
    known = json.loads((state / "plain.json").read_text()) if (state / "plain.json").exists() else {}
    passwords = {}
    for name in [instructor] + [m.id for m in members]:
        given = next((m.password for m in members if m.id == name and m.password), "")
        passwords[name] = given or known.get(name) or secrets.token_urlsafe(9)
    (state / "plain.json").write_text(json.dumps(passwords))
    (state / "plain.json").chmod(0o600)
    (state / "passwords.json").write_text(json.dumps({n: password_entry(p) for n, p in passwords.items()}))
    (state / "passwords.json").chmod(0o600)
    listing = class_dir / "passwords.txt"
    listing.write_text("user,password\n" + "".join(f"{n},{p}\n" for n, p in passwords.items()))
    listing.chmod(0o600)

    course = Path(entries[instructor].pw_dir) / COURSE_ID
    exchange = class_dir / "exchange"
    prepare_course(course, lessons, edition, members)
    point_exchange(course, exchange)
    exchange.mkdir(exist_ok=True)
    exchange.chmod(0o1777)   # nbgrader: everyone writes to the exchange; it sets the modes of what is inside
    chown_tree(course, entries[instructor])
    jupyter_dirs = write_jupyter_config(class_dir, COURSE_ID, course)

    port = port or free_port()
    settings = {"ip": ip, "port": port, "hub_port": free_port(), "proxy_api_port": free_port(),
                "proxy": str(env_dir / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"),
                "state": str(state), "passwords": str(state / "passwords.json"), "env": str(env_dir),
                "instructor": instructor, "students": [m.id for m in members], "jupyter_config": jupyter_dirs,
                "course": str(course)}
    (state / "settings.json").write_text(json.dumps(settings, indent=2))
    host = "127.0.0.1" if ip in ("", "0.0.0.0") else ip
    return Hub(class_dir, env_dir, instructor, [m.id for m in members], f"http://{host}:{port}", passwords, course)


def start(hub, wait=True, log=None):
    """Start JupyterHub for a prepared class; returns the Hub with its process (wait: until it answers)."""
    state = hub.class_dir / "hub"
    env = dict(os.environ, RNN_COURSE_HUB_SETTINGS=str(state / "settings.json"),
               PATH=f"{hub.env / 'bin'}:{hub.env / 'proxy' / 'node_modules' / '.bin'}:{os.environ.get('PATH', '')}")
    env.pop("PYTHONPATH", None)
    command = [str(hub.env / "bin" / "jupyterhub"), "-f", str(CONFIG_SOURCE / "jupyterhub_config.py")]
    hub.process = subprocess.Popen(command, cwd=state, env=env, stdout=log or None, stderr=subprocess.STDOUT if log else None,
                                   start_new_session=True)
    if wait:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if hub.process.poll() is not None:
                raise HubError(f"JupyterHub exited with {hub.process.returncode}")
            try:
                with urllib.request.urlopen(f"{hub.url}/hub/health", timeout=2) as response:
                    if response.status == 200:
                        return hub
            except OSError:
                time.sleep(0.5)
        raise HubError("JupyterHub did not answer within 90 s")
    return hub


def stop(hub):
    """Stop JupyterHub, its proxy and every server it started (they run in its session or as the users)."""
    if hub.process and hub.process.poll() is None:
        hub.process.terminate()   # the hub alone first: it stops the servers and its proxy itself
        try:
            hub.process.wait(20)
        except subprocess.TimeoutExpired:
            pass
    if hub.process:
        try:
            os.killpg(hub.process.pid, signal.SIGKILL)   # whatever is left of its session (the proxy)
        except ProcessLookupError:
            pass
        hub.process.wait(10)
    for name in [hub.instructor, *hub.students]:   # single-user servers left behind
        if user_exists(name):
            subprocess.run(["pkill", "-TERM", "-u", name], capture_output=True)


# ---------------------------------------------------------------------------------------- grading

def grade_lesson(class_dir, lesson, instructor=None, show_progress=False, workers=None):
    """Collect the newest submission of every student from the exchange (nbgrader collect), grade them with
    this project's grader, write the reports to <class>/grades/ and release the feedback through the
    exchange. Returns the GradingRun."""
    from autograder.course_dir import nbgrader_api
    from autograder.grade import grade_batch
    from autograder.report import write_reports

    class_dir = Path(class_dir).resolve()
    course = Path(hub_settings(class_dir)["course"])
    exchange = class_dir / "exchange"
    point_exchange(course, exchange)
    api = nbgrader_api(course)
    collected = api.collect(lesson)
    if not collected["success"]:
        raise HubError(f"nbgrader collect failed: {collected.get('error') or collected.get('log')}")
    submitted = course / "submitted"
    folder = class_dir / "hub" / "collected" / lesson
    if folder.exists():
        shutil.rmtree(folder)
    receipts = {}
    for student_dir in sorted(p for p in submitted.iterdir() if (p / lesson / f"{lesson}.ipynb").exists()):
        source = student_dir / lesson
        target = folder / student_dir.name / f"{lesson}.ipynb"
        target.parent.mkdir(parents=True)
        shutil.copy2(source / f"{lesson}.ipynb", target)
        # what nbgrader's feedback release needs to find the student's copy (the grader re-imports the notebook)
        receipts[student_dir.name] = {name: (source / name).read_text() for name in ("timestamp.txt", "submission_secret.txt")
                                      if (source / name).exists()}
    if not receipts:
        raise HubError(f"no submission of {lesson} in the exchange")
    run = grade_batch(folder, root=course, lessons=[lesson], show_progress=show_progress, workers=workers)
    write_reports(run, class_dir / "grades")
    for outcome in run.outcomes:
        feedback_dir = course / "feedback" / outcome.student / lesson
        if outcome.status == "graded" and (feedback_dir / f"{lesson}.html").exists():
            for name, text in receipts.get(outcome.student, {}).items():
                (feedback_dir / name).write_text(text)
                (course / "submitted" / outcome.student / lesson / name).write_text(text)
    point_exchange(course, exchange)   # the grader rewrote the course's config
    shutil.rmtree(course.parent / "exchange", ignore_errors=True)
    released = nbgrader_api(course).release_feedback(lesson)
    if not released["success"]:
        raise HubError(f"nbgrader release_feedback failed: {released.get('error') or released.get('log')}")
    owner = instructor or hub_settings(class_dir)["instructor"]
    if user_exists(owner):
        chown_tree(course, pwd.getpwnam(owner))
    return run


def point_exchange(course, exchange):
    """The course's nbgrader_config.py names the class's exchange (course_dir.write_config names a folder
    beside the course; formgrader and the API read this file after the user's configuration)."""
    path = Path(course) / "nbgrader_config.py"
    line = f"c.Exchange.root = {str(exchange)!r}   # the class's exchange (python3 -m autograder hub)\n"
    text = path.read_text()
    if not text.endswith(line):
        path.write_text(text + line)


def hub_settings(class_dir):
    settings = Path(class_dir) / "hub" / "settings.json"
    if not settings.exists():
        raise HubError(f"{class_dir} holds no class: start one with `python3 -m autograder hub --dir {class_dir}`")
    return json.loads(settings.read_text())


# ---------------------------------------------------------------------------------------- command line

def add_arguments(parser):
    parser.add_argument("action", nargs="?", default="start", choices=["start", "grade", "remove-users"],
                        help="start the class (default); grade LESSON: collect, grade, release feedback; "
                             "remove-users: delete the system users the hub created")
    parser.add_argument("lesson", nargs="?", help="with grade: the lesson id, e.g. 02_vanilla_rnn")
    parser.add_argument("--dir", default=str(DEFAULT_CLASS_DIR), help=f"the class folder (default {DEFAULT_CLASS_DIR})")
    parser.add_argument("--env", default=str(DEFAULT_ENV), help=f"the hub's environment (default {DEFAULT_ENV})")
    parser.add_argument("--roster", default=str(EXAMPLE_ROSTER),
                        help="CSV with a header: id[,first_name,last_name,email,lms_user_id,password] "
                             "(default: the example roster, students an and binh)")
    parser.add_argument("--instructor", default="instructor", help="the instructor's login name (default instructor)")
    parser.add_argument("--ip", default="", help="address to listen on (default: all)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--edition", choices=["en", "vi"], default="en", help="language of the released notebooks")
    parser.add_argument("--lessons", nargs="*", help="lesson ids the course offers (default: all)")


def main(args):
    if args.action == "remove-users":
        removed = remove_users()
        print(f"removed {', '.join(removed)}" if removed else "no user made by the hub is left")
        return 0
    if args.action == "grade":
        if not args.lesson:
            raise HubError("hub grade LESSON: which lesson?")
        from autograder.report import summary_table

        run = grade_lesson(args.dir, args.lesson, show_progress=True)
        print(summary_table(run))
        print(f"\nReports: {Path(args.dir) / 'grades'}; feedback released to the exchange (students: "
              "Assignment List > Fetch Feedback)")
        return 0
    hub = setup_class(args.dir, args.roster, args.instructor, args.env, args.ip, args.port, args.lessons, args.edition)
    print(f"\nThe class is at {hub.url}  (Ctrl+C stops it)\n\nLog in as (passwords also in {hub.class_dir / 'passwords.txt'}):")
    for name, password in hub.passwords.items():
        print(f"  {name:<16} {password}{'   (instructor: Nbgrader > Formgrader)' if name == hub.instructor else ''}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))   # `kill` stops the class as Ctrl+C does
    start(hub, wait=False)
    try:
        return hub.process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(hub)
