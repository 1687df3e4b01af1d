"""One grading run per course directory at a time.

Two `grade` runs on one course used to collide: the first removed the working folder (.grading,
the workers' private gradebooks) that the second was using, and every notebook of the second failed
with "unable to open database file". Now a run holds an exclusive lock on <course>/.grading.lock
from before it touches the course directory until it has written its grades; a second run waits,
after saying who holds the lock:

    another grading run (pid 4242, started at 2026-12-02 09:10:11 UTC) is using build/course; waiting...

The lock is flock(2): the kernel releases it when the holding process ends in any way (Ctrl-C, a
crash, kill -9), so a stale lock file never blocks the next run; the file's text is only for the
message. Runs on different course directories never wait for each other.
"""
import fcntl
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".grading.lock"


def describe_holder(path):
    try:
        text = Path(path).read_text().strip()
    except OSError:
        text = ""
    return text or "pid unknown"


@contextmanager
def course_lock(root, announce=None):
    """Hold the course directory's grading lock for the `with` block, waiting for another run to
    finish first. `announce(message)` is called once if we have to wait (default: print to stderr)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    handle = open(path, "a+")
    acquired = False
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            message = (f"another grading run ({describe_holder(path)}) is using {display_path(root)}; "
                       "waiting for it to finish...")
            (announce or (lambda m: print(m, file=sys.stderr, flush=True)))(message)
            fcntl.flock(handle, fcntl.LOCK_EX)   # Ctrl-C interrupts the wait (KeyboardInterrupt)
        acquired = True
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started at {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n")
        handle.flush()
        yield path
    finally:
        if acquired:   # the next holder writes its own line
            handle.seek(0)
            handle.truncate()
        handle.close()   # releases the lock


def display_path(path):
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
