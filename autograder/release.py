"""Step 2, release: nbgrader's generate_assignment, and the student notebooks written to lessons/.

lessons/ (English) and lessons/vi/ (the Vietnamese edition, built from solutions/vi/ catalogues by
autograder/translate.py) are committed so that `jupyter lab lessons/` works right after a clone; they
are never edited by hand. `out_of_date()` regenerates the release in a scratch course and compares,
which is how the tests notice a solution changed without a release.

The nbgrader course directory's release/<lesson>/ folder is what an instructor hands out (exchange or
LMS). `edition` picks its language: "en", "vi" (the Vietnamese notebook under the lesson's own name),
or "both" (<lesson>.ipynb and <lesson>.vi.ipynb side by side; a student hands in either, and the
grader reads <lesson>.vi.ipynb as that lesson). The gradebook is the same for every edition, since
code cells and nbgrader metadata are identical.

A grading batch releases again only what could have changed: generate(..., reuse=True) compares the
digests in <course>/.release-state/<lesson>.json (what the last release read and wrote, the
gradebook's cells included) with the course directory as it is now.
"""
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from autograder.course_dir import build, nbgrader_api
from autograder.lessons import LESSONS, SOLUTIONS, lesson_ids
from autograder.translate import read_catalogue, translate_lessons, write_translation

EDITIONS = ("en", "vi", "both")


class ReleaseError(RuntimeError):
    pass


def set_edition(released_paths, edition, solutions=SOLUTIONS):
    """Put the chosen edition into the course's release/ folder (the English one is already there)."""
    if edition not in EDITIONS:
        raise ReleaseError(f"unknown edition {edition!r}: choose one of {', '.join(EDITIONS)}")
    if edition == "en":
        return released_paths
    written = []
    for path in released_paths:
        lesson_id = path.stem
        target = path if edition == "vi" else path.with_name(f"{lesson_id}.vi.ipynb")
        write_translation(path, lesson_id, "vi", target, strict=False, solutions=solutions)
        written += [path, target] if edition == "both" else [target]
    return written


def released_notebook(root, lesson_id):
    """Where nbgrader's generate_assignment puts the student notebook of `lesson_id`."""
    return Path(root) / "release" / lesson_id / f"{lesson_id}.ipynb"


def generate(root, lessons, reuse=False):
    """Run generate_assignment for each lesson in the course directory `root`; returns released paths.
    reuse: leave a lesson as it is when its last release is still exactly what a new one would give
    (release_state: same sources, configuration and tools; the released notebook and the gradebook's
    cells untouched since). A grading batch reuses; `release` always generates."""
    api = nbgrader_api(root)
    released = []
    for lesson_id in lessons:
        if not (reuse and still_released(api, root, lesson_id)):
            generate_one(api, root, lesson_id)
            remember_release(api, root, lesson_id)
        released.append(released_notebook(root, lesson_id))
    return released


def generate_one(api, root, lesson_id):
    result = api.generate_assignment(lesson_id, force=True, create=True)
    if not result["success"]:
        raise ReleaseError(f"nbgrader could not release {lesson_id}:\n{result.get('error') or result.get('log')}")
    path = released_notebook(root, lesson_id)
    strip_slide_cells_in(path)
    stub_answers_in(path)


# ------------------------------------------------------------------ knowing when a release is still current
STATE_FOLDER = ".release-state"   # in the course directory: <lesson>.json per released lesson


def release_state(api, root, lesson_id):
    """Digests of what a release of `lesson_id` reads (its source folder, nbgrader_config.py, this
    module and the slide-cell rule, the versions of nbgrader, nbconvert and nbformat) and of what it
    writes (the released notebook; the gradebook's record of the lesson, column by column)."""
    import nbconvert
    import nbformat
    import nbgrader

    from autograder import slides

    source = Path(root) / "source" / lesson_id
    files = sorted(path for path in source.rglob("*") if path.is_file())
    released = released_notebook(root, lesson_id)
    return {
        "reads": _digest([nbgrader.__version__, nbconvert.__version__, nbformat.__version__],
                         (Path(root) / "nbgrader_config.py").read_bytes(), Path(__file__).read_bytes(),
                         Path(slides.__file__).read_bytes(),
                         *[part for path in files for part in (path.relative_to(source).as_posix(), path.read_bytes())]),
        "released": _digest(released.read_bytes()) if released.is_file() else None,
        "gradebook": _stored_lesson(api, lesson_id),
    }


def remember_release(api, root, lesson_id):
    folder = Path(root) / STATE_FOLDER
    folder.mkdir(exist_ok=True)
    (folder / f"{lesson_id}.json").write_text(json.dumps(release_state(api, root, lesson_id), indent=1))


def still_released(api, root, lesson_id):
    """True when the state remembered at the lesson's last release is the state now."""
    try:
        remembered = json.loads((Path(root) / STATE_FOLDER / f"{lesson_id}.json").read_text())
    except (OSError, ValueError):
        return False
    now = release_state(api, root, lesson_id)
    return None not in (now["released"], now["gradebook"]) and remembered == now


def _stored_lesson(api, lesson_id):
    """One digest of the gradebook's assignment row for the lesson, its notebooks and every grade,
    solution, task and source cell (every column: points, checksums, locked flags, sources);
    None when the gradebook has no such assignment."""
    from nbgrader.api import MissingEntry
    from sqlalchemy import Column, inspect

    def columns(row):   # the stored columns, not the counts nbgrader computes from submissions
        stored = [a.key for a in inspect(row).mapper.column_attrs if all(isinstance(c, Column) for c in a.columns)]
        return [type(row).__name__] + [[key, getattr(row, key)] for key in stored]

    with api.gradebook as gradebook:
        try:
            assignment = gradebook.find_assignment(lesson_id)
        except MissingEntry:
            return None
        record = [columns(assignment)]
        for notebook in sorted(assignment.notebooks, key=lambda n: n.name):
            record.append(columns(notebook))
            for kind in ("grade_cells", "solution_cells", "task_cells", "source_cells"):
                record += [columns(cell) for cell in sorted(getattr(notebook, kind), key=lambda c: c.name)]
        return _digest(record)


def _digest(*parts):
    """sha256 over the parts, each length-prefixed (bytes as they are, anything else as JSON)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode()
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def strip_slide_cells_in(path):
    """Students get the lesson, not the lecture deck: drop the cells tagged `slide-only` (see slides.py)."""
    import nbformat

    from autograder.slides import is_slide_only

    notebook = nbformat.read(str(path), as_version=4)
    if any(is_slide_only(cell) for cell in notebook.cells):
        notebook.cells = [cell for cell in notebook.cells if not is_slide_only(cell)]
        nbformat.write(notebook, str(path))


ANSWER_PREFIX = "answer_"
NBGRADER_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def stub_answers_in(path):
    """A concept question's answer cell (a solution cell whose grade_id is the variable it assigns,
    `answer_...`) is released as `answer_... = None  # YOUR ANSWER HERE` instead of nbgrader's
    `raise NotImplementedError()`: the student replaces None (course.quiz, autograder/checks/concepts.py)."""
    import nbformat

    notebook = nbformat.read(str(path), as_version=4)
    changed = False
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id", "")
        if cell.cell_type == "code" and meta.get("solution") and grade_id.startswith(ANSWER_PREFIX) \
                and NBGRADER_STUB in cell.source:
            cell.source = cell.source.replace(NBGRADER_STUB, f"{grade_id} = None  # YOUR ANSWER HERE")
            changed = True
    if changed:
        nbformat.write(notebook, str(path))


def release(root=None, lessons=None, target=LESSONS, solutions=SOLUTIONS, edition="en"):
    """Build the course directory, release every lesson, copy the English student notebooks to `target`
    and write the Vietnamese ones to `target`/vi/ (a cell whose translation is stale stays English
    there: `python3 -m autograder translate --status` lists them). `edition` is what the course's
    release/ folder hands out."""
    lessons = lessons or lesson_ids(solutions)
    root = build(root, lessons, solutions)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    released = generate(root, lessons)
    for path in released:
        shutil.copyfile(path, target / path.name)
        written.append(target / path.name)
    if any(read_catalogue(lesson_id, "vi", solutions) for lesson_id in lessons):
        written += translate_lessons("vi", lessons, target, solutions, strict=False)
    set_edition(released, edition, solutions)
    return written


def giveaway_report(lessons_dir=LESSONS, solutions=SOLUTIONS):
    """(lines, failures): for each released lesson, the graded functions of earlier lessons whose solutions it
    contains (release it only after their deadlines), and a failure for any solution of its own graded
    functions (autograder/giveaways.py says how they are found)."""
    from autograder.giveaways import report

    return report(lessons_dir, solutions)


def out_of_date(lessons_dir=LESSONS, solutions=SOLUTIONS):
    """Messages for each lesson whose committed student notebook differs from a fresh release."""
    problems = []
    lessons = lesson_ids(solutions)
    with tempfile.TemporaryDirectory() as scratch:
        fresh_dir = Path(scratch) / "lessons"
        fresh = release(Path(scratch) / "course", lessons, fresh_dir, solutions)
        for path in fresh:
            committed = Path(lessons_dir) / path.relative_to(fresh_dir)
            shown = path.relative_to(fresh_dir).as_posix()
            if not committed.exists():
                problems.append(f"lessons/{shown} is missing")
            elif committed.read_bytes() != path.read_bytes():
                problems.append(f"lessons/{shown} differs from the release of solutions/{path.name}"
                                + (" and the solutions/vi/ catalogue" if "/" in shown else ""))
    expected = {f"{lid}.ipynb" for lid in lessons}
    problems += [f"lessons/{p.name} has no solution notebook" for p in Path(lessons_dir).glob("*.ipynb")
                 if p.name not in expected]
    if problems:
        problems.append("Run `python3 -m autograder release` and commit lessons/.")
    return problems
