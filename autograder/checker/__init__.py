"""The grader's side of a hidden check: it drives one question over a socket to the student's kernel.

    session.CheckerSession   one per graded notebook (autograder/hardened.py): listens on a unix socket
                             in the kernel's private runtime folder, runs each question the grader arms
    session.check_over       runs one question over an open connection, returns its Question
    remote.Kernel            the student's kernel as the checks see it: its functions and objects are
                             proxies whose calls send data and return data

The question's code (autograder/checks/), its oracles and the references (autograder/references/) live
only in this process; the kernel never receives them, an expected value or a score it could change.
"""
