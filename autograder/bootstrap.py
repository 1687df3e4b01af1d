"""Create the project's virtual environment and re-run the command inside it.

Standard library only: this runs before anything is installed. `python3 -m autograder ...`
lands here first; once the interpreter is the project's `.venv` with the pinned requirements
installed, it returns and the real CLI runs.
"""
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("RNN_COURSE_VENV", ROOT / ".venv"))
REQUIREMENTS = ROOT / "requirements.txt"
STAMP_NAME = "rnn-course-installed.txt"
USE_CURRENT = "RNN_COURSE_USE_CURRENT_PYTHON"


def venv_python(venv_dir=VENV):
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def requirements_digest():
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def running_in(venv_dir):
    return Path(sys.prefix).resolve() == venv_dir.resolve()


def say(message):
    print(f"[setup] {message}", flush=True)


def install_requirements(python):
    say(f"installing the pinned requirements into {VENV} (first run only, a few minutes)")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "-r", str(REQUIREMENTS)], check=True)


def link_project(python):
    """Make `import course` and `import autograder` work from any folder (what -e would do)."""
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "rnn_course.pth").write_text(str(ROOT) + "\n")


def ensure_environment(argv):
    """Return when the current interpreter can run the course; otherwise build .venv and exec into it."""
    if os.environ.get(USE_CURRENT) == "1":
        return
    python = venv_python()
    stamp = VENV / STAMP_NAME
    up_to_date = stamp.exists() and stamp.read_text().strip() == requirements_digest()
    if running_in(VENV) and up_to_date:
        return
    if not python.exists():
        say(f"creating the virtual environment {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    if not up_to_date:
        install_requirements(python)
        link_project(python)
        stamp.write_text(requirements_digest() + "\n")
    os.execv(str(python), [str(python), "-m", "autograder", *argv])

