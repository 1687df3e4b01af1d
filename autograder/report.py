"""Step 5, report: grades CSV, a results JSON per student and lesson, feedback pages, a summary table.

    build/grades/grades.csv                     every (student, lesson) in the gradebook, this batch and earlier ones
    build/grades/results/<student>/<lesson>.json  per question: score, max_score, status, the check's messages
                                                 (the shape of Gradescope's results.json)
    build/grades/feedback/<student>/<lesson>.html the student's feedback page (no hidden test code); its math
                                                 is typeset by MathJax in feedback/<student>/mathjax/ (offline)
    build/grades/canvas.csv, moodle.csv         the gradebook in the layouts Canvas and Moodle import
                                                 (one row per student, one column per lesson: autograder/exports.py)
    build/grades/summary.txt                    the table printed at the end of a run
    build/grades/class_report.html              per question mean, failure messages grouped by cause,
                                                 score distribution, integrity flags and notes
"""
import html
import re
from collections import Counter, defaultdict
import csv
import json
import shutil
from pathlib import Path


def results_json(outcome):
    tests = [{"name": q.name, "score": q.score, "max_score": q.max_score,
              "status": "passed" if q.score >= q.max_score else "failed", "output": q.output}
             for q in outcome.questions]
    output = "\n".join([outcome.message] + [f"note: {n}" for n in getattr(outcome, "notes", [])]).strip()
    return {"student": outcome.student, "lesson": outcome.lesson, "status": outcome.status,
            "score": outcome.score, "max_score": outcome.max_score, "output": output, "tests": tests,
            "flags": list(getattr(outcome, "flags", [])), "notes": list(getattr(outcome, "notes", []))}


def gradebook_rows(root, db_url=None):
    """(student, lesson, score, max_score) for every submission in the gradebook (the course's
    configured one, or the one `db_url` names)."""
    from autograder.course_dir import nbgrader_api

    rows = []
    with nbgrader_api(root, db_url).gradebook as gradebook:
        for assignment in gradebook.assignments:
            for submission in gradebook.assignment_submissions(assignment.name):
                rows.append((submission.student.id, assignment.name, float(submission.score or 0.0),
                             float(submission.max_score)))
    return sorted(rows)


def write_grades_csv(path, root, outcomes, db_url=None):
    failed = {(o.student, o.lesson): o.message for o in outcomes if o.status == "failed"}
    maximum = {(o.student, o.lesson): o.max_score for o in outcomes}
    rows = gradebook_rows(root, db_url)
    seen = {(student, lesson) for student, lesson, _, _ in rows}
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "lesson", "score", "max_score", "status"])
        for student, lesson, score, max_score in rows:
            status = f"failed: {failed[(student, lesson)]}" if (student, lesson) in failed else "graded"
            writer.writerow([student, lesson, f"{score:g}", f"{max_score:g}", status])
        for (student, lesson), message in sorted(failed.items()):
            if (student, lesson) not in seen:
                writer.writerow([student, lesson, "0", f"{maximum[(student, lesson)]:g}", f"failed: {message}"])


def missing_lessons(run):
    """(student, lesson) pairs of this batch that have neither an outcome nor a problem line."""
    lessons = sorted({o.lesson for o in run.outcomes} | {p.lesson for p in run.problems if p.lesson})
    covered = {(o.student, o.lesson) for o in run.outcomes} | {(p.student, p.lesson) for p in run.problems}
    explained = {p.student for p in run.problems if p.lesson is None}
    return [(s, lesson) for s in run.students if s not in explained for lesson in lessons
            if (s, lesson) not in covered]


def points(value):
    """Points as people write them: 12, 10.4, 15.57 (not 15.5714)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def summary_table(run):
    lessons = sorted({o.lesson for o in run.outcomes} | {p.lesson for p in run.problems if p.lesson})
    by_key = {(o.student, o.lesson): o for o in run.outcomes}
    width = max([len("student")] + [len(s) for s in run.students])
    lines = ["Grades (this batch)", f"{'student':<{width}}  " + "  ".join(f"{lesson:>16}" for lesson in lessons)]
    for student in run.students:
        cells = []
        for lesson in lessons:
            outcome = by_key.get((student, lesson))
            if outcome is None:
                cells.append(f"{'-':>16}")
            elif outcome.status == "failed":
                cells.append(f"{'failed':>16}")
            else:
                cells.append(f"{points(outcome.score):>8} / {points(outcome.max_score):<5}")
        lines.append(f"{student:<{width}}  " + "  ".join(cells))
    lines += ["", "Per question (mean over graded submissions of this batch)"]
    for lesson in lessons:
        graded = [o for o in run.outcomes if o.lesson == lesson and o.status == "graded"]
        names = [q.name for q in graded[0].questions] if graded else []
        for name in names:
            scores = [q.score for o in graded for q in o.questions if q.name == name]
            max_score = next(q.max_score for q in graded[0].questions if q.name == name)
            lines.append(f"  {lesson}  {name:<32} {sum(scores) / len(scores):6.2f} / {max_score:g}"
                         f"   ({sum(s >= max_score for s in scores)}/{len(scores)} full marks)")
    notes = [f"  {o.student:<{width}}  {o.lesson}: {o.message}" for o in run.outcomes if o.status == "failed"]
    notes += [f"  {p.student or '?':<{width}}  {p.lesson or ''}{': ' if p.lesson else ''}{p.path}: {p.message}"
              for p in run.problems]
    notes += [f"  {s:<{width}}  {lesson}: no submission" for s, lesson in missing_lessons(run)]
    if notes:
        lines += ["", "Problems (not graded, or graded with a note)"] + notes
    skipped = getattr(run, "skipped", [])
    if skipped:
        per_lesson = Counter(s.lesson for s in skipped)
        lines += ["", f"Not part of this run's lessons ({', '.join(run.lessons)}): left ungraded",
                  "  " + ", ".join(f"{lesson}: {n} file(s)" for lesson, n in sorted(per_lesson.items()))]
    not_graded = getattr(run, "not_graded", [])
    if not_graded:
        lines += ["", "Not graded (the run was interrupted)"] + [f"  {s:<{width}}  {lesson}" for s, lesson in not_graded]
    flagged = [f"  {o.student:<{width}}  {o.lesson}: {flag}" for o in run.outcomes for flag in getattr(o, "flags", [])]
    if flagged:
        lines += ["", "Integrity flags (for the instructor to look at)"] + flagged
    repaired = [f"  {o.student:<{width}}  {o.lesson}: {note}" for o in run.outcomes for note in getattr(o, "notes", [])]
    if repaired:
        lines += ["", "Notes (repaired metadata, dead kernels, time budget, truncated output)"] + repaired
    return "\n".join(lines)


def blank_numbers(line):
    """A FAIL line with the numbers of its message (errors, values) replaced by '#', its label kept:
    'FAIL  forward, N=1: max relative error 3.1e-02 > tolerance 1e-07' -> '... error # > tolerance #'."""
    label, colon, message = line.partition(": ")
    if not colon:
        label, message = "", line
    return label + colon + re.sub(r"[-+]?\d[\d.e+-]*", "#", message)


def failure_causes(run):
    """{(lesson, question): Counter(cause)} where a cause is a FAIL line with its message's numbers blanked."""
    causes = defaultdict(Counter)
    for outcome in run.outcomes:
        for q in outcome.questions:
            for line in (q.output or "").splitlines():
                line = line.strip()
                if line.startswith("FAIL") or (q.score < q.max_score and ("Error" in line or "error" in line)):
                    causes[(outcome.lesson, q.name)][blank_numbers(line)[:200]] += 1
    return causes


def histogram_svg(values, maximum, bins=10, width=420, height=140):
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(bins * v / maximum)) if maximum else 0] += 1
    top = max(counts) or 1
    bar = width / bins
    rects = "".join(f'<rect x="{i * bar + 1:.0f}" y="{height - 20 - (height - 30) * c / top:.0f}" width="{bar - 2:.0f}" '
                    f'height="{(height - 30) * c / top:.0f}" fill="#4a7"><title>{c}</title></rect>'
                    f'<text x="{i * bar + bar / 2:.0f}" y="{height - 5}" font-size="10" text-anchor="middle">'
                    f'{100 * i // bins}%</text>' for i, c in enumerate(counts))
    return f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">{rects}</svg>'


def class_report_html(run):
    lessons = sorted({o.lesson for o in run.outcomes})
    causes = failure_causes(run)
    parts = ["<!doctype html><meta charset='utf-8'><title>Class report</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:auto}td,th{padding:2px 8px}"
             "table{border-collapse:collapse}tr:nth-child(even){background:#f3f3f3}</style>",
             f"<h1>Class report</h1><p>{len(run.outcomes)} submissions, {len(run.students)} students, "
             f"{getattr(run, 'workers', 1)} workers, sandbox {'on' if getattr(run, 'sandboxed', False) else 'OFF'}.</p>"]
    for lesson in lessons:
        graded = [o for o in run.outcomes if o.lesson == lesson and o.status == "graded"]
        parts.append(f"<h2>{html.escape(lesson)}</h2>")
        if not graded:
            parts.append("<p>No graded submission.</p>")
            continue
        maximum = graded[0].max_score
        parts.append(f"<p>Score distribution ({len(graded)} graded, mean "
                     f"{sum(o.score for o in graded) / len(graded):.2f} / {maximum:g})</p>")
        parts.append(histogram_svg([o.score for o in graded], maximum))
        parts.append("<table><tr><th>question</th><th>mean</th><th>max</th><th>full marks</th><th>most common failures</th></tr>")
        for q in graded[0].questions:
            got = [x.score for o in graded for x in o.questions if x.name == q.name]
            common = "<br>".join(f"{n}&times; {html.escape(c)}" for c, n in causes[(lesson, q.name)].most_common(4))
            parts.append(f"<tr><td>{html.escape(q.name)}</td><td>{sum(got) / len(got):.2f}</td><td>{q.max_score:g}</td>"
                         f"<td>{sum(g >= q.max_score for g in got)}/{len(got)}</td><td>{common}</td></tr>")
        parts.append("</table>")
    flagged = [(o, f) for o in run.outcomes for f in getattr(o, "flags", [])]
    if flagged:
        parts.append("<h2>Integrity flags</h2><ul>" + "".join(
            f"<li>{html.escape(o.student)} / {html.escape(o.lesson)}: {html.escape(f)}</li>" for o, f in flagged) + "</ul>")
    failed = [o for o in run.outcomes if o.status == "failed"]
    if failed or run.problems:
        parts.append("<h2>Not graded</h2><ul>" + "".join(
            f"<li>{html.escape(o.student)} / {html.escape(o.lesson)}: {html.escape(o.message)}</li>" for o in failed)
            + "".join(f"<li>{html.escape(p.path)}: {html.escape(p.message)}</li>" for p in run.problems) + "</ul>")
    return "\n".join(parts)


def write_reports(run, out=None):
    """Write every report file of a GradingRun; returns the output folder."""
    from autograder.feedback import offline_math   # nbconvert: here, so that importing report stays light

    out = Path(out or Path(run.root).parent / "grades")
    for outcome in run.outcomes:
        result_path = out / "results" / outcome.student / f"{outcome.lesson}.json"
        result_path.parent.mkdir(parents=True, exist_ok=True)
        result_path.write_text(json.dumps(results_json(outcome), indent=2, ensure_ascii=False))
        if outcome.feedback:
            feedback_path = out / "feedback" / outcome.student / f"{outcome.lesson}.html"
            feedback_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(outcome.feedback, feedback_path)
            offline_math(feedback_path)   # MathJax in feedback/<student>/mathjax/, beside the page
    out.mkdir(parents=True, exist_ok=True)
    write_grades_csv(out / "grades.csv", run.root, run.outcomes, getattr(run, "db_url", None))
    from autograder.exports import export_gradebook   # canvas.csv, moodle.csv: one column per lesson

    export_gradebook(run.root, out, db_url=getattr(run, "db_url", None) or None)
    (out / "summary.txt").write_text(summary_table(run) + "\n")
    (out / "class_report.html").write_text(class_report_html(run))
    return out


def interrupted_summary(run, gradebook=None):
    """What an instructor reads after Ctrl-C: what was saved, what was not, and what to do next."""
    graded = [o for o in run.outcomes if o.status == "graded"]
    failed = [o for o in run.outcomes if o.status == "failed"]
    lines = [f"Interrupted after {run.seconds:.0f} s. Saved in the gradebook"
             f"{f' ({gradebook})' if gradebook else ''}: {len(graded)} notebook(s)"
             + (f", and {len(failed)} recorded as failed" if failed else "") + "."]
    lines += [f"  saved   {o.student}  {o.lesson}  {points(o.score)} / {points(o.max_score)}" for o in graded[:20]]
    if len(graded) > 20:
        lines.append(f"  ... and {len(graded) - 20} more")
    if run.not_graded:
        lines.append(f"Not graded: {len(run.not_graded)} notebook(s); run the same command again to grade them "
                     "(grades already saved are kept).")
    return "\n".join(lines)
