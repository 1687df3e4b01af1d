"""Export the reference implementations from the solution notebooks into autograder/references/.

A lesson's reference module is the code of its solution code cells (nbgrader `solution: true`)
and of the code cells tagged `export` (imports and helpers the solutions need), in notebook
order, with the solution markers removed. The modules are generated; `check()` reports drift.
"""
from pathlib import Path

import nbformat

from autograder.lessons import REFERENCES, lesson_ids, reference_module_name, solution_path

HEADER = '''"""Reference implementations of lesson {lesson}.

GENERATED from solutions/{lesson}.ipynb by `python3 -m autograder export`; do not edit.
"""
'''
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def is_exported(cell):
    if cell.cell_type != "code":
        return False
    nbgrader = cell.metadata.get("nbgrader", {})
    return bool(nbgrader.get("solution")) or "export" in cell.metadata.get("tags", [])


def strip_markers(source):
    return "\n".join(line for line in source.splitlines() if line.strip() not in MARKERS)


def reference_source(lesson_id):
    notebook = nbformat.read(solution_path(lesson_id), as_version=4)
    blocks = [strip_markers(cell.source).strip() for cell in notebook.cells if is_exported(cell)]
    return HEADER.format(lesson=lesson_id) + "\n\n\n".join(b for b in blocks if b) + "\n"


def reference_path(lesson_id):
    return REFERENCES / f"{reference_module_name(lesson_id)}.py"


def export_all():
    """Write every lesson's reference module; returns the paths written."""
    written = []
    for lesson_id in lesson_ids():
        path = reference_path(lesson_id)
        path.write_text(reference_source(lesson_id))
        written.append(path)
    return written


def stale_references():
    """Lessons whose reference module is missing or differs from its solution notebook."""
    stale = [lid for lid in lesson_ids()
             if not reference_path(lid).exists() or reference_path(lid).read_text() != reference_source(lid)]
    known = {reference_module_name(lid) for lid in lesson_ids()}
    orphans = [p.stem for p in Path(REFERENCES).glob("l*.py") if p.stem not in known]
    return stale + orphans
