"""Gradebook exports for Canvas and Moodle (autograder/exports.py, `python3 -m autograder export-grades`).

A real nbgrader gradebook (SQLite) is filled through nbgrader's own API with two lessons, three students
and known scores; the CSV files are read back with the csv module and every cell is checked against
those scores: one row per student, one column per lesson, Canvas's "Points Possible" row.
"""
import csv
import os
import subprocess
import sys

import pytest

from autograder.course_dir import prepare_environment, write_config
from autograder.lessons import ROOT

# (student, first, last, email, lms id) and {lesson: {student: [score per question]}}
STUDENTS = [("an", "An", "Nguyễn", "an@example.edu", "1001"), ("binh", "Bình", "Trần", "binh@example.edu", ""),
            ("chi", "", "", "", "")]
QUESTIONS = {"01_sequences": [("q1", 3.0), ("q2", 2.0)], "02_vanilla_rnn": [("step", 4.0), ("forward", 6.5)]}
SCORES = {"01_sequences": {"an": [3.0, 1.5], "binh": [0.0, 0.0]}, "02_vanilla_rnn": {"an": [4.0, 6.5], "chi": [2.0, 0.25]}}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    from nbgrader.api import Gradebook

    prepare_environment()   # nbgrader runs this environment's alembic to create a gradebook
    root = tmp_path_factory.mktemp("course") / "course"
    write_config(root)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for sid, first, last, email, lms in STUDENTS:
            gb.add_student(sid, first_name=first or None, last_name=last or None, email=email or None,
                           lms_user_id=lms or None)
        for lesson, questions in QUESTIONS.items():
            gb.add_assignment(lesson)
            gb.add_notebook(lesson, lesson)
            for name, max_score in questions:
                gb.add_grade_cell(name, lesson, lesson, max_score=max_score, cell_type="code")
            for sid, scores in SCORES[lesson].items():
                gb.add_submission(lesson, sid)
                for (name, _), score in zip(questions, scores):
                    grade = gb.find_grade(name, lesson, lesson, sid)
                    grade.manual_score = score
            gb.db.commit()
    return root


def read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def expected_score(lesson, sid, missing):
    if sid in SCORES[lesson]:
        return f"{sum(SCORES[lesson][sid]):.2f}".rstrip("0").rstrip(".")
    return "0" if missing == "zero" else ""


@pytest.mark.parametrize("missing", ["blank", "zero"])
def test_canvas_and_moodle_layouts(course, tmp_path, missing):
    env = dict(os.environ, RNN_COURSE_USE_CURRENT_PYTHON="1")
    result = subprocess.run([sys.executable, "-m", "autograder", "export-grades", "--course", str(course),
                             "--out", str(tmp_path), "--missing", missing], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lessons = sorted(QUESTIONS)

    canvas = read(tmp_path / "canvas.csv")
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *lessons]
    assert canvas[1][0] == "Points Possible"
    assert [float(x) for x in canvas[1][5:]] == [sum(m for _, m in QUESTIONS[lesson]) for lesson in lessons]
    by_login = {row[3]: row for row in canvas[2:]}
    assert sorted(by_login) == sorted(s[0] for s in STUDENTS)
    for sid, first, last, email, lms in STUDENTS:
        row = by_login[sid]
        assert row[0] == (f"{last}, {first}" if first else sid) and row[1] == lms and row[2] == sid
        assert row[5:] == [expected_score(lesson, sid, missing) for lesson in lessons]

    moodle = read(tmp_path / "moodle.csv")
    assert moodle[0] == ["ID number", "First name", "Last name", "Email address", *lessons]
    assert [row[:4] for row in moodle[1:]] == [[s[0], s[1], s[2], s[3]] for s in sorted(STUDENTS)]
    for row in moodle[1:]:
        assert row[4:] == [expected_score(lesson, row[0], missing) for lesson in lessons]
