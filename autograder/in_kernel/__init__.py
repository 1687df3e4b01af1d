"""What the grading kernel may load: the grade cells' entry point and the kernel's side of a check.

    ### BEGIN HIDDEN TESTS
    from autograder.in_kernel import grade
    grade("rnn_step_forward", globals(), points=3)
    ### END HIDDEN TESTS

This package runs inside the student's kernel, so it holds no check, no oracle, no reference and no
score: the checker (autograder/checker/, with autograder/checks/ and autograder/references/) runs in a
process of the grader's and drives the question over a unix socket, asking this side to call the
student's functions on data it sends. The grader's sandbox exposes only this package and `course/`
to the kernel (autograder/GRADING.md, threat model).

Two ways a grade cell runs:
- under this project's grader, the kernel was told the checker's socket before any student cell
  (`use_checker`, the grader's silent prelude); whatever the cell prints or returns, the grader keeps
  the score the checker computed;
- anywhere else (stock `nbgrader autograde`, an instructor running a source notebook), the checker
  runs in a thread of this process over a socket pair: the same requests, the same answers, but the
  notebook's code shares the process with it, so only the grader's way is tamper-proof.
"""
import os
import socket

from autograder.in_kernel.defaults import remember_start_state

ENV = "RNN_CHECKER_SOCKET"
_checker = {"path": None}


def use_checker(path):
    """Called by the grader before the first cell: where the checker listens for this notebook."""
    _checker["path"] = str(path)
    remember_start_state()


def grade(name, namespace, points, seed=None):
    """Grade question `name` on the notebook's `namespace`; prints the report, returns the points."""
    from autograder.in_kernel import server, wire

    path = _checker["path"] or os.environ.get(ENV)
    if path:
        sock = wire.connect(path)
        try:
            score, report = server.serve_question(sock, namespace, name, points)
        finally:
            sock.close()
    else:
        score, report = _grade_in_this_process(name, namespace, points, seed)
    print(report)
    return score


def _grade_in_this_process(name, namespace, points, seed):
    """Stock nbgrader: the checker in a thread of this process, over a socket pair."""
    import threading

    from autograder.checker.session import check_over
    from autograder.in_kernel import server
    from autograder.in_kernel.defaults import library_defaults

    kernel_end, checker_end = socket.socketpair()
    outcome = {}
    with library_defaults(capture_output=False):
        thread = threading.Thread(target=lambda: outcome.update(result=check_over(checker_end, name, points, seed)),
                                  daemon=True, name="rnn-checker")
        thread.start()
        try:
            score, report = server.serve_question(kernel_end, namespace, name, points)
        finally:
            kernel_end.close()
            thread.join(5)
            checker_end.close()
    return score, report
