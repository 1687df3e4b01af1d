"""Running questions: over one connection (`check_over`), or for a whole graded notebook (`CheckerSession`)."""
import os
import socket
import threading
import time

from autograder import limits
from autograder.checker.remote import Kernel
from autograder.in_kernel import wire
from course.i18n import LOCALE

LANGUAGES = {"en"} | {folder.name for folder in LOCALE.iterdir() if folder.is_dir()}


def check_over(sock, expected_name, points, seed=None, first=None):
    """Run question `expected_name` (worth `points`) over `sock`, whose kernel serves it; returns the
    finished autograder.checks.core.Question. `first`: the kernel's "ready" header, when already read."""
    from autograder.checks import run_question

    if first is None:
        first, _ = wire.receive(sock)
    if first.get("op") != "ready":
        raise wire.WireError("the kernel did not start the question")
    kernel = Kernel(lambda k: wire.Peer(sock, k.serve_callback, k.encoder, k.decoder))
    language = first.get("language") if first.get("language") in LANGUAGES else "en"
    question = run_question(expected_name, points, kernel, seed, language)
    if first.get("question") != expected_name:
        question.notes.append(f"the grade cell asked for {first.get('question')!r}; graded {expected_name!r}")
    kernel.peer.request("done", score=question.score(), report=question.report_text())
    question.stray_messages = kernel.peer.stray
    return question


class CheckerSession:
    """The checker of one notebook under this project's grader.

    It listens on `folder`/checker.sock (the kernel's private runtime folder, the only place the sandbox
    shares with the grader). Before each grade cell the grader calls `arm(question, points)`; a thread
    accepts the kernel's connection, runs the question and keeps the result; after the cell,
    `result(grace)` returns it, or None when the kernel never served it (a timeout, a dead kernel, a
    grade cell that did not call the checker), and the connection is cut.
    """

    def __init__(self, folder):
        self.path = os.path.join(str(folder), "checker.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        os.chmod(self.path, 0o666)   # the kernel may run under a private uid; the folder itself is private
        self.listener.listen(4)
        self.listener.settimeout(0.2)
        self.thread = None
        self.connection = None
        self.stop = threading.Event()
        self.outcome = {}

    def arm(self, name, points, seed=None):
        self.stop.clear()
        self.outcome = {}
        self.thread = threading.Thread(target=self._run, args=(name, points, seed), daemon=True,
                                       name=f"checker-{name}")
        self.thread.start()

    def _run(self, name, points, seed):
        try:
            while not self.stop.is_set():
                try:
                    self.connection, _ = self.listener.accept()
                    self.outcome["connected"] = True
                    break
                except socket.timeout:
                    continue
            else:
                return
            self.connection.settimeout(limits.CHECKER_READY_S)
            first, _ = wire.receive(self.connection)
            self.connection.settimeout(None)
            self.outcome["question"] = check_over(self.connection, name, points, seed, first=first)
        except (wire.WireError, OSError) as error:
            self.outcome["error"] = f"{type(error).__name__}: {error}"
        except Exception as error:   # a bug of the checks: the question cannot be scored
            self.outcome["error"] = f"the check itself failed ({type(error).__name__}: {error})"
        finally:
            self._hang_up()

    def _hang_up(self):
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()

    def result(self, grace=limits.CHECKER_GRACE_S):
        """(question or None, reason, whether the kernel ever connected) once the grade cell has finished."""
        if self.thread is None:
            return None, "the question was never armed", False
        deadline = time.monotonic() + (grace if self.connection is not None else 0)
        while self.thread.is_alive() and time.monotonic() < deadline and "question" not in self.outcome:
            self.thread.join(0.05)
        self.stop.set()
        self._hang_up()
        self.thread.join(5)
        question = self.outcome.get("question")
        if question is not None:
            return question, "", True
        connected = self.outcome.get("connected", False)
        return None, self.outcome.get("error") or "the grade cell never called the checker", connected

    def close(self):
        self.stop.set()
        self._hang_up()
        self.listener.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
