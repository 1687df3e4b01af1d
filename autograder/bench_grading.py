"""Benchmark (not a test): stock serial `nbgrader autograde` against this grader, on one synthetic class.

    python -m autograder.bench_grading [--students 40] [--lessons 02_vanilla_rnn 03_bptt] [--workers 2]

The class cycles through the demo's kinds of submission (full solutions, the untouched release,
realistic bugs, solutions that print to stderr). Both graders get the same submissions in two copies
of the same freshly released course; the script prints both wall times, their ratio, and whether
every per-question score agrees (the checks draw fresh random inputs each run, so a buggy function
that passes some inputs could differ; none of the demo bugs does).
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat


def make_class(folder, root, lessons, students):
    from autograder.demo import buggy_edit, solution_sources, submission, with_noise

    folder.mkdir(parents=True)
    for lesson in lessons:
        released = Path(root) / "release" / lesson / f"{lesson}.ipynb"
        sources = solution_sources(lesson)
        kinds = [lambda: submission(released, sources), lambda: nbformat.read(str(released), as_version=4),
                 lambda: submission(released, sources, buggy_edit(lesson)),
                 lambda: submission(released, sources, lambda _, s: with_noise(s))]
        for i in range(students):
            nbformat.write(kinds[i % 4](), str(folder / f"s{i:03d}__{lesson}.ipynb"))


def gradebook_scores(root):
    from autograder.course_dir import nbgrader_api

    scores = {}
    with nbgrader_api(root).gradebook as gradebook:
        for assignment in gradebook.assignments:
            for sub in gradebook.assignment_submissions(assignment.name):
                for notebook in sub.notebooks:
                    for grade in notebook.grades:
                        scores[(sub.student.id, assignment.name, grade.name)] = float(grade.score or 0)
    return scores


def stock_serial(root, folder, lessons):
    """Import every submission as nbgrader expects, then one `nbgrader autograde <lesson>` per lesson."""
    from autograder.collect import import_submission, scan
    from autograder.course_dir import prepare_environment

    prepare_environment()
    for sub in scan(folder, lessons).submissions:
        import_submission(root, sub)
    started = time.monotonic()
    for lesson in lessons:
        subprocess.run([sys.executable, "-m", "nbgrader", "autograde", lesson, "--force", "--create"],
                       cwd=root, check=True, capture_output=True)
    return time.monotonic() - started


def main(argv=None):
    from autograder.course_dir import build
    from autograder.grade import grade_batch
    from autograder.lessons import lesson_ids
    from autograder.release import generate

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", type=int, default=40)
    p.add_argument("--lessons", nargs="*")
    p.add_argument("--workers", type=int)
    p.add_argument("--sandbox", default="auto", choices=["auto", "require", "off"])
    args = p.parse_args(argv)
    lessons = args.lessons or lesson_ids()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        root = build(scratch / "ours" / "course", lessons)
        generate(root, lessons)
        stock_root = scratch / "stock" / "course"
        shutil.copytree(root, stock_root)
        (stock_root / "nbgrader_config.py").write_text(
            (root / "nbgrader_config.py").read_text().replace(str(root.resolve()), str(stock_root.resolve())))
        folder = scratch / "class"
        make_class(folder, root, lessons, args.students)
        n = args.students * len(lessons)
        print(f"{args.students} students x {len(lessons)} lessons = {n} notebooks")
        stock = stock_serial(stock_root, folder, lessons)
        print(f"stock serial nbgrader autograde: {stock:8.1f} s  ({stock / n:.2f} s/notebook)", flush=True)
        started = time.monotonic()
        run = grade_batch(folder, root, lessons, show_progress=False, workers=args.workers, sandbox_mode=args.sandbox)
        ours = time.monotonic() - started
        print(f"this grader ({run.workers} workers, sandbox {'on' if run.sandboxed else 'off'}): {ours:8.1f} s  "
              f"({ours / n:.2f} s/notebook, includes feedback pages)")
        print(f"ratio: {stock / ours:.2f}x")
        a, b = gradebook_scores(stock_root), gradebook_scores(root)
        differ = sorted(k for k in a.keys() | b.keys() if abs(a.get(k, -1) - b.get(k, -1)) > 1e-6)
        failed = [o for o in run.outcomes if o.status != "graded"]
        print(f"scores identical: {not differ} ({len(a)} question scores; {len(differ)} differ)"
              + (f" e.g. {differ[:3]}" if differ else "") + f"; failed submissions: {len(failed)}")
        return 0 if not differ and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
