"""Grades out to a learning management system: the gradebook as the CSV files Canvas and Moodle import.

One row per student, one column per lesson (its total score), beside grades.csv (one row per student
and lesson) and the results JSON that `grade` writes.

    canvas.csv   Canvas: Gradebook > Import. Columns Student ("Last, First"), ID (the Canvas user id:
                 the roster's lms_user_id), SIS User ID, SIS Login ID (the student id used here), Section,
                 then one column per lesson ("02_vanilla_rnn"; a new name makes a new assignment), and a
                 second row "Points Possible" with each lesson's maximum.
    moodle.csv   Moodle: Grades > Import > CSV file. Columns ID number (the student id used here), First
                 name, Last name, Email address, then one column per lesson. On the import page map "ID
                 number" (or "Email address") to the matching user field, and each lesson column to a
                 grade item (or "new grade item").

A lesson a student did not hand in is left blank (both systems then leave that grade as it was); with
missing="zero" it is 0. Student names, e-mail addresses and LMS ids come from the gradebook's students,
which `python3 -m autograder hub` fills from the roster (or `nbgrader db student import roster.csv`).
"""
import csv
from dataclasses import dataclass, field
from pathlib import Path

from autograder.report import points


@dataclass
class Student:
    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""


@dataclass
class Gradebook:
    students: list                                   # Student, sorted by id
    lessons: list                                    # lesson ids, sorted
    max_scores: dict = field(default_factory=dict)   # lesson -> maximum
    scores: dict = field(default_factory=dict)       # (student id, lesson) -> score


def read_gradebook(root, db_url=None):
    """Every student and lesson of a course directory's gradebook, with the scores of the submissions."""
    from autograder.course_dir import nbgrader_api

    book = Gradebook([], [])
    with nbgrader_api(root, db_url).gradebook as gradebook:
        for s in gradebook.students:
            book.students.append(Student(s.id, s.first_name or "", s.last_name or "", s.email or "",
                                         s.lms_user_id or ""))
        for assignment in gradebook.assignments:
            book.lessons.append(assignment.name)
            book.max_scores[assignment.name] = float(assignment.max_score or 0.0)
            for submission in gradebook.assignment_submissions(assignment.name):
                book.scores[(submission.student.id, assignment.name)] = float(submission.score or 0.0)
    book.students.sort(key=lambda s: s.id)
    book.lessons.sort()
    return book


def _score(book, student, lesson, missing):
    if (student.id, lesson) in book.scores:
        return points(book.scores[(student.id, lesson)])
    return "0" if missing == "zero" else ""


def canvas_rows(book, missing="blank"):
    rows = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *book.lessons],
            ["Points Possible", "", "", "", "", *(points(book.max_scores.get(lesson, 0.0)) for lesson in book.lessons)]]
    for s in book.students:
        name = ", ".join(part for part in (s.last_name, s.first_name) if part) or s.id
        rows.append([name, s.lms_user_id, s.id, s.id, "", *(_score(book, s, lesson, missing) for lesson in book.lessons)])
    return rows


def moodle_rows(book, missing="blank"):
    rows = [["ID number", "First name", "Last name", "Email address", *book.lessons]]
    for s in book.students:
        rows.append([s.id, s.first_name, s.last_name, s.email, *(_score(book, s, lesson, missing) for lesson in book.lessons)])
    return rows


LAYOUTS = {"canvas": canvas_rows, "moodle": moodle_rows}


def write_csv(path, rows):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def export_gradebook(root, out, layouts=("canvas", "moodle"), db_url=None, missing="blank"):
    """Write <out>/<layout>.csv for each layout; returns the paths."""
    book = read_gradebook(root, db_url)
    return [write_csv(Path(out) / f"{layout}.csv", LAYOUTS[layout](book, missing)) for layout in layouts]
