"""A grading batch releases a lesson again only when a new release could differ from the last one
(release.generate(reuse=True)): any change to what the release reads, or to what it wrote, releases
again, so a batch never grades against stale cells."""
import json

import nbformat
import pytest

import autograder.release as release
from autograder.course_dir import build, nbgrader_api
from autograder.release import generate, release_state, released_notebook

LESSON = "02_vanilla_rnn"


@pytest.fixture
def course(tmp_path):
    root = build(tmp_path / "course", [LESSON])
    generate(root, [LESSON])
    return root


@pytest.fixture
def generated(monkeypatch):
    """The lessons actually released (not reused) from here on."""
    calls, real = [], release.generate_one

    def counted(api, root, lesson_id):
        calls.append(lesson_id)
        real(api, root, lesson_id)
    monkeypatch.setattr(release, "generate_one", counted)
    return calls


def state(root):
    return release_state(nbgrader_api(root), root, LESSON)


def lesson_cells(root):
    """What grading reads from the gradebook about the lesson (its ids left out: a new gradebook gets new ones)."""
    with nbgrader_api(root).gradebook as gradebook:
        [notebook] = gradebook.find_assignment(LESSON).notebooks
        return ({c.name: c.max_score for c in notebook.grade_cells},
                {c.name: (c.cell_type, c.locked, c.source, c.checksum) for c in notebook.source_cells})


def first_grade_cell(gradebook):
    [notebook] = gradebook.find_assignment(LESSON).notebooks
    return sorted(notebook.grade_cells, key=lambda c: c.name)[0]


def test_an_unchanged_lesson_is_not_released_again(course, generated):
    before, released = state(course), released_notebook(course, LESSON).read_bytes()
    assert generate(course, [LESSON], reuse=True) == [released_notebook(course, LESSON)]
    assert generated == []
    assert state(course) == before and released_notebook(course, LESSON).read_bytes() == released
    generate(course, [LESSON])   # what `release` does: always a new release
    assert generated == [LESSON]


def test_a_grading_batch_does_not_change_what_it_compares(course, generated):
    """Grading adds submissions to the gradebook, never cells: the next batch can reuse the release."""
    from autograder.bench_grading import make_class
    from autograder.grade import grade_batch

    before = state(course)
    make_class(course.parent / "class", course, [LESSON], 1)
    run = grade_batch(course.parent / "class", course, [LESSON], show_progress=False, workers=1, sandbox_mode="off")
    assert [o.status for o in run.outcomes] == ["graded"]
    assert generated == []
    assert state(course) == before


def edit_source_points(root):
    path = root / "source" / LESSON / f"{LESSON}.ipynb"
    notebook = nbformat.read(str(path), as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.metadata["nbgrader"]["points"] += 1
    nbformat.write(notebook, str(path))


def edit_gradebook_points(root):
    with nbgrader_api(root).gradebook as gradebook:
        first_grade_cell(gradebook).max_score += 5
        gradebook.db.commit()


def edit_gradebook_test_code(root):
    """The code OverwriteCells puts back into the student's locked test cells."""
    with nbgrader_api(root).gradebook as gradebook:
        [notebook] = gradebook.find_assignment(LESSON).notebooks
        cell = next(c for c in notebook.source_cells if c.locked and c.cell_type == "code")
        cell.source += "\nassert True"
        gradebook.db.commit()


def edit_released_notebook(root):
    path = released_notebook(root, LESSON)
    path.write_text(path.read_text().replace("NotImplementedError", "NotImplementedErr0r", 1))


def delete_gradebook(root):
    (root / "gradebook.db").unlink()


def edit_config(root):
    with open(root / "nbgrader_config.py", "a") as config:
        config.write("c.ClearSolutions.text_stub = 'YOUR ANSWER'\n")


def garble_state(root):
    (root / release.STATE_FOLDER / f"{LESSON}.json").write_text("{not json")


@pytest.mark.parametrize("change", [edit_gradebook_points, edit_gradebook_test_code, edit_released_notebook,
                                    delete_gradebook, garble_state, lambda root: released_notebook(root, LESSON).unlink()],
                         ids=["gradebook points", "gradebook test code", "released notebook", "gradebook deleted",
                              "state unreadable", "released notebook deleted"])
def test_a_changed_output_is_released_again_and_restored(course, generated, change):
    cells, released = lesson_cells(course), released_notebook(course, LESSON).read_bytes()
    change(course)
    generate(course, [LESSON], reuse=True)
    assert generated == [LESSON]
    assert lesson_cells(course) == cells and released_notebook(course, LESSON).read_bytes() == released
    generated.clear()
    generate(course, [LESSON], reuse=True)
    assert generated == []


@pytest.mark.parametrize("change", [edit_source_points, edit_config], ids=["source points", "configuration"])
def test_a_changed_input_is_released_again(course, generated, change):
    with nbgrader_api(course).gradebook as gradebook:
        points = first_grade_cell(gradebook).max_score
    change(course)
    generate(course, [LESSON], reuse=True)
    assert generated == [LESSON]
    with nbgrader_api(course).gradebook as gradebook:
        changed = first_grade_cell(gradebook).max_score
    assert changed == (points + 1 if change is edit_source_points else points)
    generated.clear()
    generate(course, [LESSON], reuse=True)
    assert generated == []


def test_the_remembered_state_is_readable_json(course):
    remembered = json.loads((course / release.STATE_FOLDER / f"{LESSON}.json").read_text())
    assert set(remembered) == {"reads", "released", "gradebook"} and all(remembered.values())
