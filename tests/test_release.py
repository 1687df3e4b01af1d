"""lessons/ is exactly the release of solutions/, and gives nothing away."""
import ast
import json
import nbformat
import pytest

from autograder.export import stale_references
from autograder.lessons import LESSONS, SOLUTIONS, lesson_ids
from autograder.release import out_of_date

LESSON_IDS = lesson_ids()


def test_there_are_lessons():
    assert LESSON_IDS, "no solution notebooks found in solutions/"


def test_lessons_folder_is_the_release_of_solutions():
    assert out_of_date() == []


def test_reference_modules_are_generated_from_the_solutions():
    assert stale_references() == []


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_released_notebook_has_no_solution_code_and_no_hidden_tests(lesson_id):
    text = (LESSONS / f"{lesson_id}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "autograder.checks"):
        assert marker not in text, f"{marker!r} leaked into lessons/{lesson_id}.ipynb"


def solution_cells(notebook):
    return [c for c in notebook.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_every_released_exercise_raises_not_implemented(lesson_id):
    notebook = nbformat.read(str(LESSONS / f"{lesson_id}.ipynb"), as_version=4)
    cells = solution_cells(notebook)
    assert cells, "a lesson without exercises"
    for cell in cells:
        tree = ast.parse(cell.source)
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        stubs = [f for f in functions if any(isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n)
                                             for n in ast.walk(f))]
        assert stubs, f"{cell.metadata['nbgrader']['grade_id']}: no function raises NotImplementedError"


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_grade_cells_pass_their_own_points_to_the_checks(lesson_id):
    source = nbformat.read(str(SOLUTIONS / f"{lesson_id}.ipynb"), as_version=4)
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code" and "grade(" in cell.source:
            question = meta["grade_id"].removeprefix("test_")
            assert f'grade("{question}", globals(), points={meta["points"]})' in cell.source, meta["grade_id"]


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_released_notebooks_are_valid_nbformat(lesson_id):
    nbformat.validate(json.loads((LESSONS / f"{lesson_id}.ipynb").read_text()))
