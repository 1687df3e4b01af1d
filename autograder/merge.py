"""Merging: the grades a worker returns are written into the course gradebook by the parent only.

Each worker grades into a private SQLite copy of the gradebook (so there is never a lock between
workers) and returns the grades as plain data; merge() writes them into the course gradebook, which
is SQLite or a database server (db_url). worker_gradebook() makes the SQLite file the workers copy.
"""
from pathlib import Path

from autograder.course_dir import COURSE_ID
from autograder.workers import grading_dir


def merge(gradebook, result):
    """Write a worker's grades for one submission into the course gradebook (this process only)."""
    from datetime import datetime

    student, lesson, data = result["student"], result["lesson"], result["grades"]
    gradebook.update_or_create_student(student)
    stamp = datetime.fromisoformat(data["timestamp"]) if data["timestamp"] else None
    gradebook.update_or_create_submission(lesson, student, **({"timestamp": stamp} if stamp else {}))
    for notebook, values in data["notebooks"].items():
        submitted = gradebook.find_submission_notebook(notebook, lesson, student)
        submitted.late_submission_penalty = values["late_submission_penalty"]
        for name, (auto_score, needs_manual) in values["grades"].items():
            grade = gradebook.find_grade(name, notebook, lesson, student)
            grade.auto_score, grade.needs_manual_grade = auto_score, needs_manual
        for name, auto_comment in values["comments"].items():
            gradebook.find_comment(name, notebook, lesson, student).auto_comment = auto_comment
    gradebook.db.commit()


def copy_lesson(source, target, lesson):
    """Add a lesson's definitions (assignment, notebooks, grade/task/solution/source cells: what
    autograde reads) from gradebook `source` to the session of an empty gradebook `target`."""
    from nbgrader.api import Assignment, GradeCell, Notebook, SolutionCell, SourceCell, TaskCell

    assignment = source.find_assignment(lesson)
    copy = Assignment(name=lesson, duedate=assignment.duedate, course_id=assignment.course_id or COURSE_ID)
    for notebook in assignment.notebooks:
        into = Notebook(name=notebook.name, assignment=copy)
        for cell in notebook.grade_cells:
            GradeCell(name=cell.name, notebook=into, max_score=cell.max_score, cell_type=cell.cell_type)
        for cell in notebook.task_cells:
            TaskCell(name=cell.name, notebook=into, max_score=cell.max_score, cell_type=cell.cell_type)
        for cell in notebook.solution_cells:
            SolutionCell(name=cell.name, notebook=into)
        for cell in notebook.source_cells:
            SourceCell(name=cell.name, notebook=into, source=cell.source, checksum=cell.checksum, locked=cell.locked,
                       cell_type=cell.cell_type)
    target.db.add(copy)


def worker_gradebook(root, db_url, lessons):
    """The SQLite file each worker copies for its private gradebook: the course gradebook itself when
    that is SQLite; for a database server, a new file holding this batch's lessons copied from it
    (schema and alembic version made here: nbgrader would run the `alembic` CLI for a new file)."""
    from nbgrader.api import Base, Gradebook, get_alembic_version
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    if db_url.startswith("sqlite:///"):
        return Path(db_url[len("sqlite:///"):])
    template = grading_dir(root) / "gradebook-template.db"
    template.parent.mkdir(parents=True, exist_ok=True)
    template.unlink(missing_ok=True)
    with Gradebook(db_url, COURSE_ID) as source:
        try:
            version = source.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:  # a gradebook whose creation stopped before its version was written
            source.db.rollback()
            version = None
        version = version or get_alembic_version()
        engine = create_engine(f"sqlite:///{template}")
        Base.metadata.create_all(bind=engine)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version})
        engine.dispose()
        with Gradebook(f"sqlite:///{template}", COURSE_ID) as target:
            for lesson in lessons:
                copy_lesson(source, target, lesson)
            target.db.commit()
    return template
