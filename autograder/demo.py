"""The demo: sample students made from the solution notebooks, graded end to end.

    ada   full solutions to every lesson                        -> full marks
    ben   the untouched release                                 -> 0
    chi   full solutions with realistic bugs (BUGS below)       -> loses only those functions' points
    dan   full solutions whose functions print to stderr        -> full marks (warnings never cost points)
    vy    full solutions written in the Vietnamese edition      -> full marks (one autograder for both editions)
    eve   a corrupt notebook, a lesson that does not exist, a stray file; fay: an empty folder
          -> one line each in the report, everything else graded
"""
import ast
import re
import shutil
from pathlib import Path

import nbformat

from autograder.course_dir import build, course_root
from autograder.export import strip_markers
from autograder.grade import grade_batch
from autograder.lessons import BUILD, SOLUTIONS, lesson_ids, solution_path
from autograder.release import generate, released_notebook
from autograder.report import summary_table, write_reports
from autograder.translate import read_catalogue, translate_notebook

# (lesson, question, pattern, replacement, what the bug is)
BUGS = [
    ("03_bptt", "rnn_step_backward", r"\(1(\.0)? - next_h ?\*\* ?2\)", "1", "missing tanh derivative in the backward step"),
    ("02_vanilla_rnn", "temporal_affine_forward", r"@ W \+ b\)", "@ W)", "bias left out of the output layer"),
]
NOISE = 'print("debug: inside the function", file=__import__("sys").stderr); __import__("warnings").warn("demo warning")'


class DemoError(RuntimeError):
    pass


def solution_sources(lesson_id, solutions=SOLUTIONS):
    """{grade_id: solution code without markers} from the solution notebook."""
    notebook = nbformat.read(str(solution_path(lesson_id, solutions)), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: strip_markers(c.source)
            for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}


def with_noise(source):
    """Insert a stderr print and a warning as the first statement of every function's body."""
    lines = source.splitlines()
    functions = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)]
    for node in sorted(functions, key=lambda n: n.lineno, reverse=True):
        body = node.body
        has_docstring = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str)
        anchor = body[1] if has_docstring and len(body) > 1 else body[0]
        indent = " " * anchor.col_offset
        lines.insert(anchor.lineno - 1, indent + NOISE)
    return "\n".join(lines)


def submission(released, sources, edit=None):
    """The released notebook with its solution cells filled from `sources`, optionally edited."""
    notebook = nbformat.read(str(released), as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in sources:
            cell.source = edit(grade_id, sources[grade_id]) if edit else sources[grade_id]
    return notebook


def buggy_edit(lesson_id):
    bugs = [b for b in BUGS if b[0] == lesson_id]

    def edit(grade_id, source):
        for _, question, pattern, replacement, what in bugs:
            if question == grade_id:
                changed, count = re.subn(pattern, replacement, source, count=1)
                if not count:
                    raise DemoError(f"the demo bug '{what}' no longer applies to {lesson_id}/{grade_id}")
                source = changed
        return source
    return edit if bugs else None


def vietnamese(notebook, lesson_id, solutions=SOLUTIONS):
    """The same submission in the Vietnamese edition (cells whose translation is stale stay English)."""
    return translate_notebook(notebook, read_catalogue(lesson_id, "vi", solutions), "vi", strict=False)


def released_lesson(base, lesson_id, solutions=SOLUTIONS):
    """A fresh course directory under `base` with one lesson released, for tests and benchmarks that
    grade made-up students; returns (course root, released notebook, {function: solution source})."""
    root = build(Path(base) / "build" / "course", [lesson_id], solutions)
    [released] = generate(root, [lesson_id])
    return root, released, solution_sources(lesson_id, solutions)


def make_submissions(folder, root, lessons, solutions=SOLUTIONS):
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "chi").mkdir(parents=True)
    (folder / "fay").mkdir()
    for lesson_id in lessons:
        released = released_notebook(root, lesson_id)
        sources = solution_sources(lesson_id, solutions)
        nbformat.write(submission(released, sources), str(folder / f"ada__{lesson_id}.ipynb"))
        shutil.copyfile(released, folder / f"ben__{lesson_id}.ipynb")
        nbformat.write(submission(released, sources, buggy_edit(lesson_id)), str(folder / "chi" / f"{lesson_id}.ipynb"))
        nbformat.write(submission(released, sources, lambda _, s: with_noise(s)), str(folder / f"dan__{lesson_id}.ipynb"))
        nbformat.write(vietnamese(submission(released, sources), lesson_id, solutions), str(folder / f"vy__{lesson_id}.ipynb"))
    (folder / f"eve__{lessons[0]}.ipynb").write_text('{"cells": [ this is not JSON')
    shutil.copyfile(folder / f"ben__{lessons[0]}.ipynb", folder / "eve__99_transformers.ipynb")
    (folder / "notes from eve.txt").write_text("I could not finish, sorry")
    return folder


def run_demo(build_dir=BUILD, lessons=None, show_progress=True, solutions=SOLUTIONS):
    """Build, release, make the sample class, grade it, write the reports; returns (run, report folder)."""
    lessons = lessons or lesson_ids(solutions)
    root = build(course_root(build_dir), lessons, solutions)
    print(f"Course directory: {root}")
    generate(root, lessons)
    print(f"Released {len(lessons)} lessons: {', '.join(lessons)}")
    folder = make_submissions(Path(build_dir) / "demo" / "submissions", root, lessons, solutions)
    print(f"Sample submissions: {folder}")
    run = grade_batch(folder, root, lessons, show_progress=show_progress, solutions=solutions)
    out = write_reports(run)
    print()
    print(summary_table(run))
    print(f"\nReports: {out} (grades.csv, summary.txt, results/<student>/<lesson>.json, feedback/<student>/<lesson>.html)")
    return run, out
