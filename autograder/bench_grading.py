"""Benchmark (not a test): stock serial `nbgrader autograde` against this grader, on one synthetic class.

    python -m autograder.bench_grading [--students 8] [--lessons 02_vanilla_rnn 03_bptt ...] [--workers N]

The synthetic class: every student submits every lesson, cycling through five kinds of submission
(student i gets kind i mod 5):

    correct   the full solutions
    blank     the untouched release (every question 0)
    buggy     the demo's realistic bug where the lesson has one (autograder/demo.py BUGS), and one
              function left unfinished (which one rotates with the student)
    noisy     the full solutions, every function printing to stderr and warning (full marks)
    partial   only the first k functions done (k rotates with the student)

Both graders get the same submissions in two copies of the same freshly released course: stock
serial `nbgrader autograde <lesson>` (one CLI process per lesson, as an instructor runs it; no
sandbox, no feedback pages) and this grader (`grade_batch`: import, normalise, workers with sandboxed
pre-imported kernels, feedback pages, merge). The script prints both wall times, their ratio, every
per-question score that differs (the bugs above are deterministic, so none should), the number of
failed submissions and of gradebook lock errors ("database is locked" anywhere in either grader's
output). Exit status 0 only when the scores are identical, nothing failed and nothing was locked.

The machine's other load counts against both runs, and against the parallel grader more than the
serial one: each timing line says how much CPU the run itself used and how many cores other
processes kept busy meanwhile. Compare ratios taken in the same run, and repeat (`--repeat`) when
other processes were busy.
"""
import argparse
import io
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stderr
from pathlib import Path

KINDS = ["correct", "blank", "buggy", "noisy", "partial"]
LOCKED = "database is locked"


def make_submission(kind, index, released, sources, lesson):
    """One synthetic submission (a notebook node) of the given kind for student number `index`."""
    import nbformat

    from autograder.demo import BUGS, buggy_edit, submission, with_noise

    names = list(sources)
    if kind == "correct":
        return submission(released, sources)
    if kind == "blank":
        return nbformat.read(str(released), as_version=4)
    if kind == "noisy":
        return submission(released, sources, lambda _, s: with_noise(s))
    if kind == "partial":
        done = names[:index % len(names)]
        return submission(released, {name: sources[name] for name in done})
    # buggy: the demo bug (if any), and one other function left as released
    bugged = {b[1] for b in BUGS if b[0] == lesson}
    others = [name for name in names if name not in bugged] or names
    unfinished = others[index % len(others)]
    return submission(released, {name: code for name, code in sources.items() if name != unfinished},
                      buggy_edit(lesson))


def make_class(folder, root, lessons, students):
    """Write <folder>/s<i>__<lesson>.ipynb for every student and lesson; returns {student: kind}."""
    import nbformat   # here, not at the top: the grading workers import this module again (spawn)

    from autograder.demo import solution_sources
    from autograder.release import released_notebook

    folder.mkdir(parents=True)
    kinds = {f"s{i:03d}": KINDS[i % len(KINDS)] for i in range(students)}
    for lesson in lessons:
        released = released_notebook(root, lesson)
        sources = solution_sources(lesson)
        for i, (student, kind) in enumerate(kinds.items()):
            nbformat.write(make_submission(kind, i, released, sources, lesson), str(folder / f"{student}__{lesson}.ipynb"))
    return kinds


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


class Meter:
    """Wall time, this process tree's CPU time (itself and its waited-for children) and the whole
    machine's busy CPU time over a block: what the rest of the machine took is their difference."""

    @staticmethod
    def _sample():
        import os
        import resource

        own = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                  for f in ("ru_utime", "ru_stime"))
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
            busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            busy = None
        return time.monotonic(), own, busy

    def __enter__(self):
        self.start = self._sample()
        return self

    def __exit__(self, *exc):
        end = self._sample()
        self.seconds = end[0] - self.start[0]
        self.cpu = end[1] - self.start[1]
        self.others = None if end[2] is None else max(0.0, (end[2] - self.start[2]) - self.cpu) / self.seconds

    def describe(self):
        others = "" if self.others is None else f", other processes {self.others:.2f} cores"
        return f"{self.cpu:.0f} CPU-s ({self.cpu / self.seconds:.2f} cores){others}"


def stock_serial(root, folder, lessons):
    """Import every submission as nbgrader expects, then one `nbgrader autograde <lesson>` per lesson.
    Returns (seconds, lock errors, failed lessons)."""
    from autograder.collect import import_submission, scan
    from autograder.course_dir import prepare_environment

    prepare_environment()
    for sub in scan(folder, lessons).submissions:
        import_submission(root, sub)
    locked, failed = 0, []
    with Meter() as meter:
        for lesson in lessons:
            done = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", lesson, "--force", "--create"],
                                  cwd=root, capture_output=True, text=True)
            locked += (done.stdout + done.stderr).count(LOCKED)
            if done.returncode:
                failed.append(lesson)
    return meter, locked, failed


def ours(root, folder, lessons, workers, sandbox_mode):
    """This grader on the same class. Returns (seconds, run, lock errors)."""
    from autograder.grade import grade_batch

    captured = io.StringIO()
    with redirect_stderr(captured), Meter() as meter:
        run = grade_batch(folder, root, lessons, show_progress=False, workers=workers, sandbox_mode=sandbox_mode)
    sys.stderr.write(captured.getvalue()[-2000:])
    texts = [captured.getvalue()] + [o.message for o in run.outcomes] + [n for o in run.outcomes for n in o.notes]
    return meter, run, sum(t.count(LOCKED) for t in texts)


def one_run(args, lessons, scratch):
    from autograder.course_dir import build, copy_course
    from autograder.release import generate

    root = build(scratch / "ours" / "course", lessons)
    generate(root, lessons)
    stock_root = copy_course(root, scratch / "stock" / "course")
    folder = scratch / "class"
    kinds = make_class(folder, root, lessons, args.students)
    n = args.students * len(lessons)
    mix = ", ".join(f"{k} {list(kinds.values()).count(k)}" for k in KINDS)
    print(f"{args.students} students ({mix}) x {len(lessons)} lessons = {n} notebooks", flush=True)
    stock_meter, stock_locked, stock_failed = stock_serial(stock_root, folder, lessons)
    stock = stock_meter.seconds
    print(f"stock serial nbgrader autograde: {stock:8.1f} s  ({stock / n:.2f} s/notebook; "
          f"{stock_meter.describe()})", flush=True)
    meter, run, locked = ours(root, folder, lessons, args.workers, args.sandbox)
    mine = meter.seconds
    print(f"this grader ({run.workers} workers, sandbox {'on' if run.sandboxed else 'off'}, feedback pages): "
          f"{mine:8.1f} s  ({mine / n:.2f} s/notebook; {meter.describe()})")
    print(f"ratio: {stock / mine:.2f}x")
    a, b = gradebook_scores(stock_root), gradebook_scores(root)
    differ = sorted(k for k in a.keys() | b.keys() if abs(a.get(k, -1) - b.get(k, -1)) > 1e-6)
    failed = [o for o in run.outcomes if o.status != "graded"]
    print(f"scores identical: {not differ} ({len(a)} question scores from stock, {len(b)} from this grader; "
          f"{len(differ)} differ)")
    for key in differ:
        print(f"  {key}: stock {a.get(key, 'missing')}, this grader {b.get(key, 'missing')}")
    print(f"failed submissions: this grader {len(failed)}, stock {len(stock_failed)} lesson run(s)"
          + "".join(f"\n  {o.student}/{o.lesson}: {o.message}" for o in failed))
    print(f"gradebook lock errors: stock {stock_locked}, this grader {locked}")
    ok = not differ and not failed and not stock_failed and not (stock_locked or locked)
    return ok, stock / mine


def main(argv=None):
    from autograder.lessons import lesson_ids

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", type=int, default=8)
    p.add_argument("--lessons", nargs="*", help="lesson ids (default: every lesson)")
    p.add_argument("--workers", type=int, help="this grader's worker processes (default: its own default)")
    p.add_argument("--sandbox", default="auto", choices=["auto", "require", "off"])
    p.add_argument("--repeat", type=int, default=1, help="run the whole comparison this many times")
    args = p.parse_args(argv)
    lessons = args.lessons or lesson_ids()
    results = []
    for attempt in range(args.repeat):
        if args.repeat > 1:
            print(f"--- run {attempt + 1} of {args.repeat}")
        with tempfile.TemporaryDirectory() as scratch:
            results.append(one_run(args, lessons, Path(scratch)))
    if args.repeat > 1:
        print("ratios: " + ", ".join(f"{r:.2f}x" for _, r in results))
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
