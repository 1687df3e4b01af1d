"""Reading a submissions folder: both naming schemes, and a clear problem line for everything else."""
import json
import os

import nbformat
import pytest

from autograder.collect import match_lesson, scan

LESSONS = ["02_vanilla_rnn", "03_bptt"]


def write_notebook(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(), str(path))


def messages(batch):
    return [(p.student, p.lesson, p.message) for p in batch.problems]


def test_both_naming_schemes(tmp_path):
    write_notebook(tmp_path / "an.nguyen" / "02_vanilla_rnn.ipynb")
    write_notebook(tmp_path / "binh__03_bptt.ipynb")
    batch = scan(tmp_path, LESSONS)
    assert [(s.student, s.lesson) for s in batch.submissions] == [("an.nguyen", "02_vanilla_rnn"), ("binh", "03_bptt")]
    assert batch.problems == []


@pytest.mark.parametrize("stem, lesson", [("02_vanilla_rnn (1)", "02_vanilla_rnn"), ("03_bptt-v2", "03_bptt"),
                                          ("02_vanilla_rnn.vi", "02_vanilla_rnn"),   # the Vietnamese edition
                                          ("03_bpttx", None), ("04_lstm", None)])
def test_lesson_suffixes(stem, lesson):
    assert match_lesson(stem, LESSONS) == lesson


def test_bad_inputs_each_give_a_line_and_the_rest_is_graded(tmp_path):
    write_notebook(tmp_path / "ok__02_vanilla_rnn.ipynb")
    (tmp_path / "broken__02_vanilla_rnn.ipynb").write_text("{ not json")
    (tmp_path / "broken__03_bptt.ipynb").write_text(json.dumps({"cells": "wrong"}))
    write_notebook(tmp_path / "who__99_unknown.ipynb")
    (tmp_path / "readme.txt").write_text("hello")
    (tmp_path / "empty_student").mkdir()
    batch = scan(tmp_path, LESSONS)
    assert [(s.student, s.lesson) for s in batch.submissions] == [("ok", "02_vanilla_rnn")]
    found = messages(batch)
    assert ("broken", "02_vanilla_rnn") in [(s, lesson) for s, lesson, m in found if "not a readable notebook" in m]
    assert ("broken", "03_bptt") in [(s, lesson) for s, lesson, m in found if "not a readable notebook" in m]
    assert any(s == "who" and "no lesson called '99_unknown'" in m for s, _, m in found)
    assert any("cannot tell student and lesson" in m for _, _, m in found)
    assert any(s == "empty_student" and "empty" in m for s, _, m in found)
    assert batch.students == ["broken", "empty_student", "ok", "who"]


def test_an_empty_or_missing_folder_is_reported(tmp_path):
    assert "empty" in scan(tmp_path, LESSONS).problems[0].message
    assert "does not exist" in scan(tmp_path / "nope", LESSONS).problems[0].message


def test_two_files_for_one_lesson_keep_the_newer(tmp_path):
    write_notebook(tmp_path / "c" / "02_vanilla_rnn.ipynb")
    write_notebook(tmp_path / "c" / "02_vanilla_rnn (1).ipynb")
    os.utime(tmp_path / "c" / "02_vanilla_rnn.ipynb", (1, 1))
    batch = scan(tmp_path, LESSONS)
    assert [s.path.name for s in batch.submissions] == ["02_vanilla_rnn (1).ipynb"]
    assert "graded the newer" in batch.problems[0].message


def test_files_of_lessons_left_out_of_the_run_are_skipped_not_unknown(tmp_path):
    """`grade --lessons 03_bptt`: a 02_vanilla_rnn file is a course lesson this run does not grade,
    not "no lesson called '02_vanilla_rnn'"; a truly unknown lesson is still a problem."""
    write_notebook(tmp_path / "an" / "02_vanilla_rnn.ipynb")
    write_notebook(tmp_path / "an" / "03_bptt.ipynb")
    write_notebook(tmp_path / "binh__02_vanilla_rnn (1).ipynb")
    write_notebook(tmp_path / "who__99_unknown.ipynb")
    batch = scan(tmp_path, ["03_bptt"], known=LESSONS)
    assert [(s.student, s.lesson) for s in batch.submissions] == [("an", "03_bptt")]
    assert sorted((s.student, s.lesson) for s in batch.skipped) == [("an", "02_vanilla_rnn"), ("binh", "02_vanilla_rnn")]
    assert [(p.student, p.message) for p in batch.problems] == [
        ("who", "no lesson called '99_unknown' (known: 02_vanilla_rnn, 03_bptt)")]
    assert batch.students == ["an", "who"]   # binh handed in nothing this run grades


def test_the_summary_says_which_files_were_left_out(tmp_path):
    from autograder.grade import GradingRun
    from autograder.report import summary_table

    write_notebook(tmp_path / "an" / "02_vanilla_rnn.ipynb")
    write_notebook(tmp_path / "binh__02_vanilla_rnn.ipynb")
    batch = scan(tmp_path, ["03_bptt"], known=LESSONS)
    run = GradingRun(tmp_path, ["03_bptt"], [], batch.problems, batch.students, skipped=batch.skipped)
    summary = summary_table(run)
    assert "no lesson called" not in summary
    assert "Not part of this run's lessons (03_bptt): left ungraded\n  02_vanilla_rnn: 2 file(s)" in summary
