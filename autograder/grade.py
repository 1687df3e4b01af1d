"""Step 4, grade: import a batch into nbgrader, autograde each submission, write its feedback.

One failed submission (a kernel that died, a notebook nbgrader rejects) is recorded as an Outcome
with status "failed" and its reason; every other submission is still graded. Earlier grades in
the gradebook are never removed.
"""
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.collect import import_submission, scan
from autograder.course_dir import build, nbgrader_api
from autograder.lessons import SOLUTIONS, lesson_ids
from autograder.release import generate


@dataclass
class QuestionResult:
    name: str
    score: float
    max_score: float
    output: str


@dataclass
class Outcome:
    student: str
    lesson: str
    status: str  # "graded" or "failed"
    score: float = 0.0
    max_score: float = 0.0
    message: str = ""
    questions: list = field(default_factory=list)
    feedback: Path | None = None


@dataclass
class GradingRun:
    root: Path
    lessons: list
    outcomes: list
    problems: list
    students: list


def last_error_line(text):
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "unknown error"


def cell_outputs(notebook_path):
    """{grade_id: text the cell printed} for the grade cells of an autograded notebook."""
    if not notebook_path.exists():
        return {}
    notebook = nbformat.read(str(notebook_path), as_version=4)
    texts = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            parts = []
            for output in cell.get("outputs", []):
                if output.output_type == "stream" and output.name == "stdout":
                    parts.append(output.text)
                elif output.output_type == "error":
                    parts.append(f"{output.ename}: {output.evalue}")
            texts[meta["grade_id"]] = "".join(parts).strip()
    return texts


def read_scores(api, root, student, lesson):
    """Score, max score and per-question results of one autograded submission, from the gradebook."""
    with api.gradebook as gradebook:
        submission = gradebook.find_submission(lesson, student)
        outputs = cell_outputs(Path(root) / "autograded" / student / lesson / f"{lesson}.ipynb")
        questions = [QuestionResult(g.name, float(g.score or 0.0), float(g.max_score), outputs.get(g.name, ""))
                     for notebook in submission.notebooks for g in notebook.grades]
        return float(submission.score or 0.0), float(submission.max_score), questions


def grade_one(api, root, submission):
    import_submission(root, submission)
    result = api.autograde(submission.lesson, submission.student, force=True, create=True)
    if not result["success"]:
        return Outcome(submission.student, submission.lesson, "failed",
                       message=f"autograde failed: {last_error_line(result.get('error') or result.get('log'))}")
    score, max_score, questions = read_scores(api, root, submission.student, submission.lesson)
    feedback = api.generate_feedback(submission.lesson, submission.student, force=True)
    path = Path(root) / "feedback" / submission.student / submission.lesson / f"{submission.lesson}.html"
    return Outcome(submission.student, submission.lesson, "graded", score, max_score,
                   questions=questions, feedback=path if feedback["success"] and path.exists() else None)


def grade_batch(folder, root=None, lessons=None, show_progress=True, solutions=SOLUTIONS):
    """Grade every submission found in `folder`; returns a GradingRun."""
    from tqdm.auto import tqdm

    lessons = lessons or lesson_ids(solutions)
    root = build(root, lessons, solutions)
    generate(root, lessons)
    batch = scan(folder, lessons)
    api = nbgrader_api(root)
    outcomes = []
    for submission in tqdm(batch.submissions, desc="grading", unit="notebook", disable=not show_progress):
        try:
            outcomes.append(grade_one(api, root, submission))
        except Exception as error:  # one broken submission never stops the batch
            outcomes.append(Outcome(submission.student, submission.lesson, "failed",
                                    message=f"grading raised {type(error).__name__}: {error}"))
    return GradingRun(Path(root), lessons, outcomes, batch.problems, batch.students)
