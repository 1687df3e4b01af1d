"""End to end: the demo class graded by nbgrader through the project's pipeline."""
import csv
import json
import shutil

import pytest

from autograder.demo import BUGS
from autograder.lessons import lesson_ids

LESSON_IDS = lesson_ids()
pytestmark = pytest.mark.slow


def result(build, student, lesson):
    return json.loads((build / "grades" / "results" / student / f"{lesson}.json").read_text())


def question_scores(build, student, lesson):
    return {t["name"]: (t["score"], t["max_score"]) for t in result(build, student, lesson)["tests"]}


def test_the_demo_prints_the_grade_table(demo_build):
    _, stdout = demo_build
    assert "Grades (this batch)" in stdout
    for student in ("ada", "ben", "chi", "dan", "vy"):
        assert f"\n{student} " in stdout


@pytest.mark.parametrize("lesson", LESSON_IDS)
def test_full_solutions_score_full_marks(demo_build, lesson):
    r = result(demo_build[0], "ada", lesson)
    assert r["max_score"] > 0 and r["score"] == r["max_score"], r


@pytest.mark.parametrize("lesson", LESSON_IDS)
def test_vietnamese_edition_full_solutions_score_full_marks_per_question(demo_build, lesson):
    """vy handed in the Vietnamese notebooks: same autograder, same scores as ada question by question."""
    assert question_scores(demo_build[0], "vy", lesson) == question_scores(demo_build[0], "ada", lesson)
    r = result(demo_build[0], "vy", lesson)
    assert r["score"] == r["max_score"] > 0, r


def test_vietnamese_feedback_shows_the_lesson_and_the_checks_in_vietnamese(demo_build):
    from autograder.translate import read_catalogue

    lesson = "02_vanilla_rnn"
    page = (demo_build[0] / "grades" / "feedback" / "vy" / f"{lesson}.html").read_text(encoding="utf-8")
    english = (demo_build[0] / "grades" / "feedback" / "ada" / f"{lesson}.html").read_text(encoding="utf-8")
    assert "OK  rnn_step_forward: cache is" in english
    assert "OK  rnn_step_forward: cache is" not in page, "the visible checks spoke English to vy"
    title = next(iter(read_catalogue(lesson).values())).text.splitlines()[0].lstrip("# ")
    assert title.split()[0] in page


@pytest.mark.parametrize("lesson", LESSON_IDS)
def test_the_untouched_release_scores_zero(demo_build, lesson):
    r = result(demo_build[0], "ben", lesson)
    assert r["status"] == "graded" and r["score"] == 0, r


@pytest.mark.parametrize("lesson", LESSON_IDS)
def test_code_that_writes_to_stderr_still_gets_full_marks(demo_build, lesson):
    r = result(demo_build[0], "dan", lesson)
    assert r["score"] == r["max_score"], r


@pytest.mark.parametrize("lesson", LESSON_IDS)
def test_one_broken_function_costs_only_its_own_points(demo_build, lesson):
    broken = {f"test_{question}" for bug_lesson, question, *_ in BUGS if bug_lesson == lesson}
    for name, (score, max_score) in question_scores(demo_build[0], "chi", lesson).items():
        if name in broken:
            assert score < max_score, f"{name} should lose points"
        else:
            assert score == max_score, f"{name} lost points for a bug elsewhere"


def test_feedback_shows_results_but_no_hidden_test_code(demo_build):
    pages = list((demo_build[0] / "grades" / "feedback").rglob("*.html"))
    assert len(pages) >= 4 * len(LESSON_IDS)
    for page in pages:
        html = page.read_text()
        assert "HIDDEN TESTS" not in html and "autograder.checks" not in html, page
    chi = (demo_build[0] / "grades" / "feedback" / "chi" / f"{BUGS[0][0]}.html").read_text()
    assert "FAIL" in chi and "relative error" in chi


def test_feedback_pages_load_mathjax_from_their_own_folder(demo_build):
    """Offline math (tests/test_feedback_math.py opens such a page in Chromium): each student's feedback
    folder carries MathJax, and no page asks a CDN for it."""
    pages = list((demo_build[0] / "grades" / "feedback").rglob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text()
        assert 'src="mathjax/MathJax.js?config=' in html and '<script src="https://cdnjs' not in html, page
        assert (page.parent / "mathjax" / "MathJax.js").is_file(), page


def test_bad_submissions_get_a_line_each(demo_build):
    summary = (demo_build[0] / "grades" / "summary.txt").read_text()
    assert "not a readable notebook" in summary
    assert "no lesson called '99_transformers'" in summary
    assert "cannot tell student and lesson" in summary
    assert "fay" in summary and "empty" in summary


def test_grades_csv_has_a_row_per_graded_submission(demo_build):
    with open(demo_build[0] / "grades" / "grades.csv") as handle:
        rows = list(csv.DictReader(handle))
    pairs = {(r["student"], r["lesson"]) for r in rows}
    assert {(s, lesson) for s in ("ada", "ben", "chi", "dan") for lesson in LESSON_IDS} <= pairs


def test_a_new_batch_keeps_earlier_grades(demo_build, tmp_path):
    from autograder.grade import grade_batch
    from autograder.report import write_reports

    build = demo_build[0]
    lesson = LESSON_IDS[0]
    shutil.copyfile(build / "demo" / "submissions" / f"ben__{lesson}.ipynb", tmp_path / f"gil__{lesson}.ipynb")
    run = grade_batch(tmp_path, root=build / "course", lessons=[lesson], show_progress=False)
    out = write_reports(run, tmp_path / "grades")
    with open(out / "grades.csv") as handle:
        rows = {(r["student"], r["lesson"]): r for r in csv.DictReader(handle)}
    assert rows[("gil", lesson)]["score"] == "0"
    ada = result(build, "ada", lesson)
    assert float(rows[("ada", lesson)]["score"]) == ada["score"] == ada["max_score"]


def test_grades_match_a_serial_stock_nbgrader_autograde(demo_build, tmp_path):
    """Parity: stock `nbgrader autograde` (serial, no sandbox, no guard) on a copy of the same course
    and submissions gives the same score per question as this grader's workers did."""
    import os
    import subprocess
    import sys

    from nbgrader.api import Gradebook

    from autograder.course_dir import copy_course
    from autograder.lessons import ROOT

    build, lesson = demo_build[0], "02_vanilla_rnn"
    course = copy_course(build / "course", tmp_path / "course", leave_out=["autograded", "feedback", ".grading"])
    env = dict(os.environ, PYTHONPATH=str(ROOT), PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    students = ["ada", "ben", "chi", "dan"]
    for student in students:
        subprocess.run([sys.executable, "-m", "nbgrader", "autograde", lesson, "--force", f"--student={student}"],
                       cwd=course, env=env, check=True, capture_output=True, timeout=600)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in students:
            stock = {g.name: g.score for nb in gradebook.find_submission(lesson, student).notebooks for g in nb.grades}
            ours = {name: score for name, (score, _) in question_scores(build, student, lesson).items()}
            assert stock == ours, f"{student}: stock {stock} != ours {ours}"
