"""Step 2, release: nbgrader's generate_assignment, and the student notebooks written to lessons/.

lessons/ is committed so that `jupyter lab lessons/` works right after a clone; it is never edited
by hand. `out_of_date()` regenerates the release in a scratch course and compares, which is how
the tests notice a solution changed without a release.
"""
import shutil
import tempfile
from pathlib import Path

from autograder.course_dir import build, nbgrader_api
from autograder.lessons import LESSONS, SOLUTIONS, lesson_ids


class ReleaseError(RuntimeError):
    pass


def generate(root, lessons):
    """Run generate_assignment for each lesson in the course directory `root`; returns released paths."""
    api = nbgrader_api(root)
    released = []
    for lesson_id in lessons:
        result = api.generate_assignment(lesson_id, force=True, create=True)
        if not result["success"]:
            raise ReleaseError(f"nbgrader could not release {lesson_id}:\n{result.get('error') or result.get('log')}")
        released.append(Path(root) / "release" / lesson_id / f"{lesson_id}.ipynb")
    return released


def release(root=None, lessons=None, target=LESSONS, solutions=SOLUTIONS):
    """Build the course directory, release every lesson and copy the student notebooks to `target`."""
    lessons = lessons or lesson_ids(solutions)
    root = build(root, lessons, solutions)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in generate(root, lessons):
        shutil.copyfile(path, target / path.name)
        written.append(target / path.name)
    return written


def out_of_date(lessons_dir=LESSONS, solutions=SOLUTIONS):
    """Messages for each lesson whose committed student notebook differs from a fresh release."""
    problems = []
    lessons = lesson_ids(solutions)
    with tempfile.TemporaryDirectory() as scratch:
        fresh = release(Path(scratch) / "course", lessons, Path(scratch) / "lessons", solutions)
        for path in fresh:
            committed = Path(lessons_dir) / path.name
            if not committed.exists():
                problems.append(f"lessons/{path.name} is missing")
            elif committed.read_bytes() != path.read_bytes():
                problems.append(f"lessons/{path.name} differs from the release of solutions/{path.name}")
    expected = {f"{lid}.ipynb" for lid in lessons}
    problems += [f"lessons/{p.name} has no solution notebook" for p in Path(lessons_dir).glob("*.ipynb")
                 if p.name not in expected]
    if problems:
        problems.append("Run `python3 -m autograder release` and commit lessons/.")
    return problems
