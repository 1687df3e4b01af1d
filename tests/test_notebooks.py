"""Every solution notebook runs top to bottom: fast in grading mode, a few minutes in full mode."""
import functools
import os
import time

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.lessons import SOLUTIONS, lesson_ids

LESSON_IDS = lesson_ids()


def execute(lesson_id, grading, timeout):
    notebook = nbformat.read(str(SOLUTIONS / f"{lesson_id}.ipynb"), as_version=4)
    env = {"NBGRADER_EXECUTION": "autograde"} if grading else {}
    saved = {k: os.environ.get(k) for k in ("NBGRADER_EXECUTION", "MPLBACKEND")}
    os.environ.pop("NBGRADER_EXECUTION", None)
    os.environ.pop("MPLBACKEND", None)   # the kernel draws inline figures, whatever this process uses
    os.environ.update(env)
    start = time.perf_counter()
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(SOLUTIONS)}}).execute()
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value
    return notebook, time.perf_counter() - start


def grade_cell_values(notebook):
    values = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            results = [o for o in cell.outputs if o.output_type == "execute_result"]
            values[meta["grade_id"]] = (results[-1].data["text/plain"] if results else None, meta["points"])
    return values


def count_images(notebook):
    return sum("image/png" in o.get("data", {}) for c in notebook.cells if c.cell_type == "code" for o in c.outputs)


@functools.lru_cache(maxsize=None)
def executed_in_grading_mode(lesson_id):
    """One grading-mode run per lesson for this file's tests (lesson 6's runs for ~25 s)."""
    return execute(lesson_id, grading=True, timeout=120)


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_solution_notebook_in_grading_mode(lesson_id):
    notebook, seconds = executed_in_grading_mode(lesson_id)
    print(f"{lesson_id}: grading mode ran in {seconds:.1f} s")
    for grade_id, (value, points) in grade_cell_values(notebook).items():
        assert value is not None and float(value) == points, f"{grade_id}: the reference scored {value} of {points}"
    assert count_images(notebook) > 0, "no figure was produced"
    assert seconds < 90, f"grading mode took {seconds:.0f} s; nbgrader's budget per cell is 120 s"


@pytest.mark.full_mode   # left out by default (pyproject.toml): bench_experiments runs full mode
@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_solution_notebook_in_full_mode(lesson_id):
    notebook, seconds = execute(lesson_id, grading=False, timeout=600)
    print(f"{lesson_id}: full mode ran in {seconds:.1f} s")
    assert count_images(notebook) > 0


def test_lesson6_experiments_report_their_metric_against_a_target_in_grading_mode():
    """Each of lesson 6's experiments prints its reached figure next to its target, and plots."""
    from autograder.bench_experiments import target_lines

    if "06_applications" not in LESSON_IDS:
        pytest.skip("lesson 6 is not in solutions/")
    notebook, _ = executed_in_grading_mode("06_applications")
    lines = target_lines(notebook)
    for metric in ("negated", "perplexity", "exact match", "MAE"):
        assert any(metric in line for line in lines), f"no target line mentions {metric!r}: {lines}"
    assert count_images(notebook) >= 4
