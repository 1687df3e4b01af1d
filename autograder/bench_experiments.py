"""Run the solution notebooks' experiments in full mode and print the figures they reach.

    .venv/bin/python -m autograder.bench_experiments [LESSON ...]

Every output line that states a figure (a target such as "(target < 8; ...)", a perplexity, an
accuracy, a test MSE, an exact-match rate, an MAE) is printed with the lesson and the wall time of
the run, so the README's lesson table can be checked against a fresh run.
Not a test: a full run takes minutes per lesson.
"""
import argparse
import os
import time

import nbformat
from nbclient import NotebookClient

from autograder.lessons import SOLUTIONS, lesson_ids


def run_full(lesson_id, timeout=1800):
    notebook = nbformat.read(str(SOLUTIONS / f"{lesson_id}.ipynb"), as_version=4)
    os.environ.pop("NBGRADER_EXECUTION", None)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(SOLUTIONS)}}).execute()
    return notebook, time.perf_counter() - start


# what a line that reports an experiment's figure says (the README's lesson table quotes these lines)
FIGURE_WORDS = ("target", "held-out bigram perplexity", "accuracy", "test mse", "mean loss of the last",
                "exact match", "mae")


def target_lines(notebook, words=("target",)):
    """The notebook's printed lines that mention one of `words` (case-insensitive)."""
    lines = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.output_type == "stream" and output.name == "stdout":
                lines += [line.strip() for line in output.text.splitlines()
                          if any(word in line.lower() for word in words)]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lesson ids (default: all)")
    lessons = parser.parse_args(argv).lessons or lesson_ids()
    for lesson_id in lessons:
        notebook, seconds = run_full(lesson_id)
        print(f"{lesson_id}: full mode in {seconds:.0f} s")
        for line in target_lines(notebook, FIGURE_WORDS) or ["(no line states a figure)"]:
            print(f"    {line}")


if __name__ == "__main__":
    main()
