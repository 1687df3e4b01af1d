"""The student edition (`python3 -m autograder student-edition`): complete, installable, without solutions.

- The edition is built once into a scratch folder: lessons in both editions, the `course` wheel, no
  solutions/, no reference module, no `autograder` package.
- The wheel installs into an empty virtual environment (no pip inside, nothing of this checkout on its
  path); a lesson's visible checks run there in English and in Vietnamese, and the Vietnamese output equals
  the one this checkout's own `course` package gives (a wheel without course/locale/ prints English).
- No solution function's body is in anything the edition contains, compared as normalised code (ast):
  the detector is shown to find a solution body that was renamed, reformatted and moved into another
  function, and to find every solution in solutions/.
- The project's own wheel (pyproject.toml) carries course/locale/ and autograder/web/.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import venv
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import student_edition as SE
from autograder.demo import solution_sources
from autograder.lessons import ROOT, SOLUTIONS, lesson_ids

LESSON = "02_vanilla_rnn"


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    return SE.build_edition(tmp_path_factory.mktemp("edition") / "student-edition")


def files_of(folder):
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())


def test_edition_holds_the_lessons_and_the_wheel_only(edition):
    files = files_of(edition.folder)
    expected_lessons = {f"lessons/{lid}.ipynb" for lid in lesson_ids()} | \
                       {f"lessons/vi/{p.name}" for p in (ROOT / "lessons" / "vi").glob("*.ipynb")}
    assert expected_lessons <= set(files)
    assert len(list((ROOT / "lessons" / "vi").glob("*.ipynb"))) == len(lesson_ids())
    assert set(files) - expected_lessons == {edition.wheel.name, "README.md", "requirements.txt"}
    with zipfile.ZipFile(edition.wheel) as wheel:
        names = wheel.namelist()
    assert {n.split("/")[0] for n in names} == {"course", f"rnn_course_student-{SE.project_version()}.dist-info"}
    assert not [n for n in names if "solution" in n.lower() or "reference" in n.lower() or "autograder" in n]
    # every file of course/ (listed here from the checkout, not by the code under test) is in the wheel
    in_checkout = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "course").rglob("*")
                         if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    assert [f for f in in_checkout if f not in names] == []
    assert any(n.startswith("course/locale/vi/") and n.endswith(".json") for n in names)
    in_zip = [n for n in zipfile.ZipFile(edition.archive).namelist() if not n.endswith("/")]
    assert sorted(in_zip) == [f"{edition.folder.name}/{f}" for f in files]


def test_only_the_given_forward_pass_of_lesson_3_repeats_a_solution(edition):
    """Lesson 3 hands out lesson 2's forward functions (read-only, said in its text); nothing else does."""
    assert edition.given, "lesson 3's given cell should be recognised as lesson 2's solution"
    for place, what in edition.given:
        assert place.split(" cell ")[0] in ("lessons/03_bptt.ipynb", "lessons/vi/03_bptt.ipynb"), place
        assert what.startswith("02_vanilla_rnn: "), what


def test_edition_of_lessons_so_far_has_no_solution_at_all(tmp_path):
    early = SE.build_edition(tmp_path / "se", lessons=["01_sequences", LESSON], archive=False)
    assert early.given == []
    assert SE.solution_leaks(early.folder) == []


def test_no_solution_body_in_the_edition(edition):
    found = SE.solution_leaks(edition.folder)
    assert [(p, w) for p, w in found if not SE.given_by_later_lesson(p, w)] == []


def test_leak_detector_finds_disguised_solutions(tmp_path):
    secrets = SE.solution_bodies()
    sources = solution_sources(LESSON)
    assert sum(w.startswith(LESSON) for _, w in secrets.values()) >= 3
    # every solution notebook's own solutions are found
    folder = tmp_path / "copy"
    folder.mkdir()
    shutil.copyfile(SOLUTIONS / f"{LESSON}.ipynb", folder / f"{LESSON}.ipynb")
    hits = {what for _, what in SE.solution_leaks(folder)}
    assert {f"{LESSON}: rnn_step_forward", f"{LESSON}: rnn_forward", "marker"} <= hits
    # renamed function, renamed variables, other layout and comments, pasted inside another function
    import ast
    tree = ast.parse(sources["rnn_step_forward"])
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    renames = {a.arg: f"arg_{i}" for i, a in enumerate(function.args.args)}

    class Rename(ast.NodeTransformer):
        def visit_Name(self, node):
            node.id = renames.get(node.id, node.id + "_renamed" if node.id not in ("np",) else node.id)
            return node

        def visit_arg(self, node):
            node.arg = renames[node.arg]
            return node
    disguised = Rename().visit(tree)
    body = "\n".join("    # unrelated comment\n    " + ast.unparse(s).replace("\n", "\n    ")
                     for s in SE._without_docstring(function.body))
    module = folder.parent / "helper.py"
    module.write_text(f"import numpy as np\n\ndef helper({', '.join(renames.values())}):\n    x = 1\n{body}\n")
    assert "rnn_step_forward" not in module.read_text() and "prev_h" not in module.read_text()
    assert (str(module.name) + "", f"{LESSON}: rnn_step_forward") in SE.leaks_in("helper.py", module.read_text(), secrets)
    assert disguised is not None
    # a grade cell that imports the grader's side is found; a docstring that names it is not code
    assert SE.grader_imports("from autograder.in_kernel import run\nimport numpy\n") == ["autograder.in_kernel"]
    assert SE.grader_imports('"""as autograder.checks does"""\n') == []
    # and code that is only similar is not taken for a solution
    assert SE.leaks_in("x.py", "def f(x):\n    raise NotImplementedError()\n", secrets) == []


def test_project_wheel_carries_the_data_files(tmp_path):
    """A wheel of the whole project (pyproject.toml) has course/locale/vi/*.json and autograder/web/ assets."""
    stage = tmp_path / "stage"
    for part in ("course", "autograder"):
        shutil.copytree(ROOT / part, stage / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules"))
    shutil.copyfile(ROOT / "pyproject.toml", stage / "pyproject.toml")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(tmp_path / "dist"), str(stage)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    names = set(zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))).namelist())
    for folder in ("course/locale/vi", "course/data", "autograder/web", "autograder/web/templates"):
        expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*")
                    if p.is_file() and "node_modules" not in p.parts}
        assert expected and expected <= names, sorted(expected - names)[:5]
    packages = {p.parent.relative_to(ROOT).as_posix() for part in ("course", "autograder")
                for p in (ROOT / part).rglob("__init__.py") if "__pycache__" not in p.parts}
    assert {f"{p}/__init__.py" for p in packages} <= names


# ---------------------------------------------------------------- installed in an empty environment

def check_script(lesson_notebook, step_source):
    """The lesson's code cells up to the visible check of rnn_step_forward, with `step_source` as the
    student's rnn_step_forward; the check's failure message is printed instead of raised."""
    from IPython.core.inputtransformer2 import TransformerManager

    notebook = nbformat.read(str(lesson_notebook), as_version=4)
    cells, seen_function = [], False
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "rnn_step_forward":
            cells.append(step_source)
            seen_function = True
            continue
        if seen_function and grade_id:
            break
        source = TransformerManager().transform_cell(cell.source)
        if seen_function:   # the visible check: print its message instead of raising
            source = "try:\n" + textwrap.indent(source, "    ") + \
                     "\nexcept course.CheckFailed as error:\n    print('CHECK FAILED:', error)\n"
        cells.append(source)
    assert seen_function
    return "import matplotlib\nmatplotlib.use('Agg')\n" + "\n\n".join(cells)


BUGGY_STEP = '''def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = x @ Wx + prev_h @ Wh + b      # tanh forgotten
    return next_h, (x, prev_h, Wx, Wh, next_h)
'''


def run_checks(python, script, language, cwd, extra_env=None):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RNN_COURSE_LANG")}
    env.update(RNN_COURSE_LANG=language, MPLBACKEND="Agg", RNN_COURSE_DEVICE="cpu", **(extra_env or {}))
    result = subprocess.run([str(python), "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


def test_wheel_installs_into_an_empty_venv_and_the_checks_speak_both_languages(edition, tmp_path):
    env_dir = tmp_path / "empty-venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert sorted(os.listdir(purelib)) == [], "the new environment is not empty"
    # pip (this environment's) installs the wheel into the empty one; nothing of this checkout goes with it
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                              "--no-index", "-q", str(edition.wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    # numpy, torch and matplotlib from this environment's site-packages, as a plain path entry: its .pth files
    # (the one that puts this checkout on the path among them) are not processed
    import numpy
    (Path(purelib) / "third_party.pth").write_text(str(Path(numpy.__file__).parent.parent) + "\n")
    probe = ("import sys; from pathlib import Path; import course; print(course.__file__); "
             f"print(any(Path(p or '.').resolve() == Path({str(ROOT)!r}) for p in sys.path))")
    where = run_checks(python, probe, "en", tmp_path)
    assert where.splitlines()[0].startswith(purelib), where
    assert where.splitlines()[1] == "False", "this checkout is on the installed environment's path"

    lesson = edition.folder / "lessons" / f"{LESSON}.ipynb"
    correct = solution_sources(LESSON)["rnn_step_forward"]
    outputs = {}
    for name, step in (("correct", correct), ("buggy", BUGGY_STEP)):
        script = check_script(lesson, step)
        for language in ("en", "vi"):
            outputs[name, language] = run_checks(python, script, language, tmp_path)
    check_lines = {k: [line for line in v.splitlines() if line.startswith(("OK", "CHECK FAILED"))]
                   for k, v in outputs.items()}
    assert any(line.startswith("OK") and "rnn_step_forward" in line for line in check_lines["correct", "en"])
    assert not any(line.startswith("CHECK FAILED") for line in check_lines["correct", "en"])
    assert any(line.startswith("CHECK FAILED") for line in check_lines["buggy", "en"])
    for name in ("correct", "buggy"):
        assert check_lines[name, "vi"] and check_lines[name, "vi"] != check_lines[name, "en"]
    # the reference for the Vietnamese text: this checkout's own course package (course/locale/ in the tree)
    for name, step in (("correct", correct), ("buggy", BUGGY_STEP)):
        script = check_script(ROOT / "lessons" / f"{LESSON}.ipynb", step)
        expected = run_checks(sys.executable, script, "vi", tmp_path, {"PYTHONPATH": str(ROOT)})
        assert [line for line in expected.splitlines() if line.startswith(("OK", "CHECK FAILED"))] == \
            check_lines[name, "vi"]
    assert any(ch in "".join(check_lines["buggy", "vi"]) for ch in "ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ")
