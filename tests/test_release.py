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
        if cell.metadata["nbgrader"]["grade_id"].startswith("answer_"):
            continue   # a concept question's answer: released as `answer_... = None` (tests/test_concepts.py)
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


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_vietnamese_lessons_give_nothing_away_either(lesson_id):
    text = (LESSONS / "vi" / f"{lesson_id}.ipynb").read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "autograder.checks"):
        assert marker not in text, f"{marker!r} leaked into lessons/vi/{lesson_id}.ipynb"


@pytest.mark.parametrize("edition, files", [
    ("en", {"02_vanilla_rnn.ipynb": "en"}),
    ("vi", {"02_vanilla_rnn.ipynb": "vi"}),
    ("both", {"02_vanilla_rnn.ipynb": "en", "02_vanilla_rnn.vi.ipynb": "vi"}),
])
def test_the_course_release_folder_hands_out_the_chosen_edition(tmp_path, edition, files):
    from autograder.release import release
    from autograder.translate import notebook_language

    release(tmp_path / "course", ["02_vanilla_rnn"], tmp_path / "lessons", edition=edition)
    folder = tmp_path / "course" / "release" / "02_vanilla_rnn"
    assert {p.name: notebook_language(p) for p in folder.glob("*.ipynb")} == files
    assert notebook_language(tmp_path / "lessons" / "vi" / "02_vanilla_rnn.ipynb") == "vi"


# ---------------------------------------------------------------- what each lesson gives away (issue 14)

def test_no_lesson_contains_the_solution_of_its_own_graded_functions():
    from autograder.release import giveaway_report

    lines, failures = giveaway_report()
    assert failures == [], "\n".join(lines)
    assert len(lines) == 1 + len(LESSON_IDS), "one line per released lesson"


def test_the_report_lists_lesson_2s_forward_pass_in_lesson_3():
    """Lesson 3's locked setup cell is lesson 2's solution of the three forward functions; the report says so."""
    from autograder.giveaways import findings

    setup = next(c for c in nbformat.read(str(SOLUTIONS / "03_bptt.ipynb"), as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("grade_id") == "lesson2_forward_given")
    defined = {n.name for n in ast.parse(setup.source).body if isinstance(n, ast.FunctionDef)}
    found = findings(lessons=["03_bptt"])["03_bptt"]
    assert {f.graded.name for f in found if f.graded.lesson == "02_vanilla_rnn" and f.how == "exact"} == defined
    assert not any(f.own for f in found)


def _lesson2_with_extra_cell(tmp_path, source):
    notebook = nbformat.read(str(LESSONS / "02_vanilla_rnn.ipynb"), as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(notebook, str(tmp_path / "02_vanilla_rnn.ipynb"))
    from autograder.giveaways import report

    return report(tmp_path, lessons=["02_vanilla_rnn"])


def _solution_of(lesson_id, grade_id):
    from autograder.export import strip_markers

    cell = next(c for c in nbformat.read(str(SOLUTIONS / f"{lesson_id}.ipynb"), as_version=4).cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return strip_markers(cell.source)


def test_a_renamed_copy_of_a_graded_solution_in_its_own_lesson_fails(tmp_path):
    copy = _solution_of("02_vanilla_rnn", "rnn_forward").replace("def rnn_forward(", "def forward_given(")
    copy = copy.replace("x, h0, Wx, Wh, b", "inputs, start, A, B, c")
    lines, failures = _lesson2_with_extra_cell(tmp_path, copy)
    assert any("rnn_forward" in f and "exact" in f for f in failures), lines


def test_a_rewritten_copy_of_a_graded_layer_in_its_own_lesson_fails(tmp_path):
    """Like lesson 4's old FastLSTM: TorchRNN's solution under another name, with a line changed and one added."""
    copy = _solution_of("02_vanilla_rnn", "torch_rnn").replace("class TorchRNN(", "class FastRNN(")
    lines = copy.splitlines()
    body = max(i for i, line in enumerate(lines) if line.strip().startswith("return"))
    lines.insert(body, "        self.calls = getattr(self, 'calls', 0) + 1")
    lines[body + 1] = lines[body + 1].replace("return ", "return (") + ")"
    lines, failures = _lesson2_with_extra_cell(tmp_path, "\n".join(lines))
    assert any("TorchRNN" in f and "similar" in f for f in failures), lines


def test_an_unrelated_helper_does_not_fail(tmp_path):
    lines, failures = _lesson2_with_extra_cell(tmp_path, "def mean_of(values):\n    return sum(values) / len(values)\n")
    assert failures == [] and lines[1] == "  02_vanilla_rnn: no solution of a graded function", lines
