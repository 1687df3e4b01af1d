"""Benchmark (not a test): local grading against the same batch on a Dask cluster on this machine, and
a model of a MOOC-sized run on N machines.

    python -m autograder.bench_cluster [--students 4] [--lessons 02_vanilla_rnn] [--machines 1 2 4 8 16 32 64]

One run, three gradings of the same synthetic class (bench_grading.make_class: correct, blank, buggy,
noisy and partial submissions), each into a fresh copy of the same released course:

    local       grade_batch(workers=2): the local process pool
    cluster 1   a `dask scheduler` and 1 `dask worker --nthreads 1` on 127.0.0.1, grade_batch(cluster=...)
    cluster 2   the same with 2 workers

Each cluster is started before its timing starts and each worker initialises (sandbox check,
preloader, kernelspec) inside its first task, as in a real run; the local pool starts its workers and
preloader inside its timing too. The script prints the wall times and their ratios (one run, same
machine, same load), and checks that every question's score is the same in all three.

Then it measures what the model needs:
    per notebook on a worker   grading seconds (autograde + feedback, measured inside the task) and the
                               worker's one-time set-up, from the 1-worker run
    the parent, per notebook   prepare (import + normalise, before any task is sent), record (merge into
                               the gradebook, while the workers run), add_scores (at the end)
    the scheduler              round trip per task of a payload of the class's mean task size, through
                               the 2-worker cluster (many tasks in flight: the scheduler's throughput)
and models 1,000 students x 6 lessons on N machines of 16 cores (16 worker processes each):

    T(N) = M * prepare + setup + max(ceil(M / 16N) * grading, M * record, M * scheduler) + M * add_scores

with M = 6,000 notebooks. The assumptions are printed with the table (and in BENCHMARKS.md).
"""
import argparse
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

MODEL_STUDENTS, MODEL_LESSONS, CORES_PER_MACHINE = 1000, 6, 16


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_cluster(folder, workers):
    """A scheduler and `workers` Dask workers (one thread each) on 127.0.0.1, as subprocesses; yields the
    scheduler's address once every worker has joined; everything is killed at the end."""
    from distributed import Client

    from autograder.workers import kill_trees

    address = f"tcp://127.0.0.1:{free_port()}"
    processes = []

    def start(name, *args):
        log = open(Path(folder) / f"{name}.log", "wb")
        processes.append(subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))
    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard")
        for i in range(workers):
            start(f"w{i}", "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                  "--name", f"w{i}", "--local-directory", str(Path(folder) / f"w{i}"))
        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=180)
        yield address
    finally:
        kill_trees([p.pid for p in processes])
        for p in processes:
            p.wait(timeout=30)


class Timings:
    """Wraps grade.prepare / grade.record / grade.add_scores for one grading run: their seconds, and the
    workers' own timings that each result carries (cluster runs)."""

    def __init__(self):
        self.prepare = self.record = self.add_scores = 0.0
        self.results = []

    @contextmanager
    def watching(self):
        from autograder import grade

        originals = {name: getattr(grade, name) for name in ("prepare", "record", "add_scores")}

        def timed(name):
            def wrapper(*args):
                if name == "record":
                    self.results.append(args[1])
                started = time.monotonic()
                try:
                    return originals[name](*args)
                finally:
                    setattr(self, name, getattr(self, name) + time.monotonic() - started)
            return wrapper
        for name in originals:
            setattr(grade, name, timed(name))
        try:
            yield self
        finally:
            for name, function in originals.items():
                setattr(grade, name, function)


def scores_of(run):
    return {(o.student, o.lesson, q.name): q.score for o in run.outcomes for q in o.questions}


def grade_once(pristine, scratch, name, folder, lessons, **kwargs):
    from autograder.course_dir import copy_course
    from autograder.grade import grade_batch

    root = copy_course(pristine, Path(scratch) / name / "build" / "course")
    timings = Timings()
    with timings.watching():
        started = time.monotonic()
        run = grade_batch(folder, root, lessons, show_progress=False, **kwargs)
        seconds = time.monotonic() - started
    failed = [(o.student, o.lesson, o.message) for o in run.outcomes if o.status != "graded"]
    print(f"{name:>10}: {seconds:7.1f} s for {len(run.outcomes)} notebooks, {len(failed)} failed {failed[:2] or ''}",
          flush=True)
    return seconds, run, timings


def scheduler_overhead(address, payload_bytes, tasks=200):
    """Seconds per task of `tasks` tasks carrying `payload_bytes` each, all in flight at once (2 workers)."""
    from distributed import Client

    with Client(address, timeout=60, set_as_default=False) as client:
        payload = os.urandom(payload_bytes)
        client.gather(client.map(len, [payload] * 4, pure=False))   # warm-up
        started = time.monotonic()
        futures = client.map(len, [payload] * tasks, pure=False)
        assert client.gather(futures) == [payload_bytes] * tasks
        return (time.monotonic() - started) / tasks


def mean_task_bytes(root, folder, lessons, scratch):
    """What a task carries: a submitted notebook (mean of the class) and its lesson's gradebook template."""
    from autograder.cluster import lesson_templates

    templates = lesson_templates(Path(root) / "gradebook.db", lessons, Path(scratch))
    notebooks = [p.stat().st_size for p in Path(folder).glob("*.ipynb")]
    return int(sum(notebooks) / len(notebooks) + sum(map(len, templates.values())) / len(templates))


def model(m, prepare, setup, grading, record, scheduler, add_scores, machines):
    rows = []
    for n in machines:
        workers = CORES_PER_MACHINE * n
        waves = math.ceil(m / workers)
        total = m * prepare + setup + max(waves * grading, m * record, m * scheduler) + m * add_scores
        bound = max(("grading", waves * grading), ("merge", m * record), ("scheduler", m * scheduler),
                    key=lambda item: item[1])[0]
        rows.append((n, workers, total, bound))
    return rows


def main(argv=None):
    from autograder.bench_grading import make_class
    from autograder.demo import released_lesson

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--lessons", nargs="+", default=["02_vanilla_rnn"])
    parser.add_argument("--machines", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    args = parser.parse_args(argv)
    print(f"load before: {os.getloadavg()}, {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="rnn-bench-cluster-") as scratch:
        scratch = Path(scratch)
        pristine, _, _ = released_lesson(scratch / "pristine", args.lessons[0])
        if len(args.lessons) > 1:
            from autograder.course_dir import build
            from autograder.release import generate

            build(pristine, args.lessons)
            generate(pristine, args.lessons)
        folder = scratch / "class"
        make_class(folder, pristine, args.lessons, args.students)
        local_s, local, _ = grade_once(pristine, scratch, "local", folder, args.lessons, workers=2)
        with local_cluster(scratch, 1) as address:
            one_s, one, one_t = grade_once(pristine, scratch, "cluster 1", folder, args.lessons, cluster=address)
        with local_cluster(scratch, 2) as address:
            two_s, two, two_t = grade_once(pristine, scratch, "cluster 2", folder, args.lessons, cluster=address)
            task_bytes = mean_task_bytes(pristine, folder, args.lessons, scratch)
            overhead = scheduler_overhead(address, task_bytes)
        print(f"load after: {os.getloadavg()}", flush=True)
    same = scores_of(local) == scores_of(one) == scores_of(two)
    print(f"\nratios (one run): cluster 1 / local = {one_s / local_s:.2f}, cluster 2 / local = {two_s / local_s:.2f}, "
          f"cluster 1 / cluster 2 = {one_s / two_s:.2f}; every question's score identical: {same}")
    n = len(one.outcomes)
    grading = sum(r["seconds"]["grading"] for r in one_t.results if r.get("seconds")) / n
    setup = max(r["seconds"]["setup"] for r in one_t.results if r.get("seconds"))
    prepare, record, add_scores = one_t.prepare / n, one_t.record / n, one_t.add_scores / n
    print(f"per notebook: grading {grading:.2f} s on a worker (1-worker run), worker set-up {setup:.1f} s once; "
          f"parent: prepare {prepare * 1000:.0f} ms, record {record * 1000:.0f} ms, add_scores {add_scores * 1000:.0f} ms; "
          f"scheduler {overhead * 1000:.1f} ms per task of {task_bytes / 1000:.0f} kB")
    m = MODEL_STUDENTS * MODEL_LESSONS
    print(f"\nmodel: {MODEL_STUDENTS} students x {MODEL_LESSONS} lessons = {m} notebooks, {CORES_PER_MACHINE} worker "
          f"processes per machine (one per core)")
    print("| machines | workers | modelled time | bound by |\n|---|---|---|---|")
    for machines, workers, total, bound in model(m, prepare, setup, grading, record, overhead, add_scores, args.machines):
        print(f"| {machines} | {workers} | {total / 60:.1f} min | {bound} |")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
