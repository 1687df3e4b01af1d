"""Step 3, collect: find the submissions in a folder as an LMS download gives them, and import them.

Accepted names (the lesson id is the notebook stem in solutions/, e.g. 02_vanilla_rnn):
    <folder>/<student_id>/<lesson_id>.ipynb         one folder per student
    <folder>/<student_id>__<lesson_id>.ipynb        flat, student and lesson joined by two underscores
A suffix after the lesson id is tolerated ("02_vanilla_rnn (1).ipynb", "02_vanilla_rnn-v2.ipynb").
A student id is letters, digits, '.', '-' and '_' (not '__'). Anything else becomes a Problem line
in the report; it never stops the batch. A file of a course lesson that this run was not asked to
grade (`grade --lessons 03_bptt`) is neither graded nor a problem: it is listed in Batch.skipped.
"""
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

STUDENT_ID = re.compile(r"^(?!.*__)[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Submission:
    student: str
    lesson: str
    path: Path


@dataclass(frozen=True)
class Problem:
    student: str | None
    lesson: str | None
    path: str
    message: str


@dataclass
class Batch:
    submissions: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    skipped: list = field(default_factory=list)   # Submissions of course lessons this run does not grade

    @property
    def students(self):
        return sorted({s.student for s in self.submissions} | {p.student for p in self.problems if p.student})


def match_lesson(stem, lessons):
    """The lesson whose id starts `stem` (followed by nothing or a non-alphanumeric), else None."""
    for lesson in sorted(lessons, key=len, reverse=True):
        if stem == lesson or (stem.startswith(lesson) and not stem[len(lesson)].isalnum()):
            return lesson
    return None


def notebook_error(path):
    """None when `path` is a readable notebook, else a short reason."""
    try:
        nbformat.read(str(path), as_version=4)
    except Exception as error:  # JSON errors, schema errors, encoding errors
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"not a readable notebook ({type(error).__name__}: {first_line[:120]})"
    return None


def split_name(path, folder):
    """(student, lesson stem) from a path relative to the submissions folder, or (None, None)."""
    parts = path.relative_to(folder).parts
    if len(parts) == 2:
        return parts[0], path.stem
    if len(parts) == 1 and "__" in path.stem:
        student, _, stem = path.stem.partition("__")
        return student, stem
    return None, None


def scan(folder, lessons, known=None):
    """Read a submissions folder into a Batch of submissions and problems. `lessons`: the lessons
    this run grades; `known`: every lesson of the course (default: `lessons`). A file of a known
    lesson that is not among `lessons` goes to Batch.skipped."""
    folder = Path(folder)
    known = sorted(set(known or []) | set(lessons))
    batch = Batch()
    if not folder.is_dir():
        batch.problems.append(Problem(None, None, str(folder), "the submissions folder does not exist"))
        return batch
    entries = [p for p in sorted(folder.rglob("*")) if not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    for directory in (p for p in entries if p.is_dir() and p.parent == folder):
        if not any(directory.iterdir()):
            batch.problems.append(Problem(directory.name, None, directory.name, "the student's folder is empty"))
    files = [p for p in entries if p.is_file()]
    if not files:
        batch.problems.append(Problem(None, None, str(folder), "no submissions found: the folder is empty"))
        return batch
    chosen = {}
    for path in files:
        rel = str(path.relative_to(folder))
        student, stem = split_name(path, folder)
        if path.suffix != ".ipynb" or student is None:
            batch.problems.append(Problem(student, None, rel, "cannot tell student and lesson from this file name "
                                          "(expected <student>/<lesson>.ipynb or <student>__<lesson>.ipynb)"))
            continue
        if not STUDENT_ID.match(student):
            batch.problems.append(Problem(None, None, rel, f"{student!r} is not a valid student id"))
            continue
        lesson = match_lesson(stem, known)
        if lesson is None:
            batch.problems.append(Problem(student, None, rel, f"no lesson called {stem!r} (known: {', '.join(known)})"))
            continue
        if lesson not in lessons:
            batch.skipped.append(Submission(student, lesson, path))
            continue
        reason = notebook_error(path)
        if reason:
            batch.problems.append(Problem(student, lesson, rel, reason))
            continue
        key = (student, lesson)
        if key in chosen:
            older, newer = sorted([chosen[key], path], key=lambda p: p.stat().st_mtime)
            batch.problems.append(Problem(student, lesson, str(older.relative_to(folder)),
                                          f"two files for this lesson; graded the newer {newer.name}"))
            path = newer
        chosen[key] = path
    batch.submissions = [Submission(s, lesson, p) for (s, lesson), p in sorted(chosen.items())]
    return batch


def import_submission(root, submission):
    """Copy a submission to nbgrader's submitted/<student>/<lesson>/ with its timestamp."""
    target = Path(root) / "submitted" / submission.student / submission.lesson
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copyfile(submission.path, target / f"{submission.lesson}.ipynb")
    stamp = datetime.fromtimestamp(submission.path.stat().st_mtime, tz=timezone.utc)
    (target / "timestamp.txt").write_text(stamp.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))
    return target
