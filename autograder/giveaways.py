"""What each released lesson gives away: the solutions of graded functions that its notebook contains.

A lesson may hand out the solution of an *earlier* lesson's graded function on purpose: lesson 3's locked
setup cell is lesson 2's forward pass, which its backward pass needs. Such a lesson must be released only
after that earlier lesson's deadline. A lesson must never contain the solution of one of its *own* graded
functions: `report` marks that FAIL, and `python3 -m autograder release` exits with an error.

A released notebook (lessons/<lesson>.ipynb; the Vietnamese one has the same code) is found to contain the
solution of a graded function G in four ways:

- exact: the normalised body of one of G's functions or methods appears in its code (the normalisation of
  the student edition's check, autograder/student_edition.py: names, layout, comments and docstrings do not
  count);
- named: a code cell other than G's own exercise defines G;
- similar: a function or class defined in its code reads like G's solution: the token sequences (comments
  and strings dropped) match with difflib's ratio >= SIMILAR. A rewritten copy is caught this way, such as a
  faster LSTM layer with the same parameters and loop as TorchLSTM. The threshold is set from the course
  itself: copies score 1.0 and a rewritten TorchLSTM 0.74, while the closest honest pairs (a GRU step
  against an RNN step, a brute-force search against beam search) score 0.54 and below;
- declared: given code says it is an earlier lesson's graded function, in a docstring or comment
  ("lesson 2's rnn_forward, provided").
"""
import ast
import difflib
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.export import strip_markers
from autograder.lessons import LESSONS, SOLUTIONS, lesson_ids, solution_path
from autograder.student_edition import _function_bodies, _size, leaks_in, normalised, parse_code, signature

SIMILAR = 0.7
MIN_BODY_NODES = 8          # as the student edition: smaller bodies ("return x") are too generic to count
DECLARED = re.compile(r"lesson (\d+)'s `?([A-Za-z_]\w*)`?")


@dataclass(frozen=True)
class Graded:
    lesson: str
    grade_id: str
    name: str           # the function or class the student writes
    source: str         # its solution, markers removed


@dataclass(frozen=True)
class Finding:
    lesson: str         # the released lesson that contains it
    graded: Graded
    how: str            # exact | named | similar | declared
    place: str          # which cell: "cell <grade id>" or "cell <index>"
    detail: str         # which definition, how similar

    @property
    def where(self):
        return f"{self.place} ({self.detail})"

    @property
    def own(self):
        return self.graded.lesson == self.lesson


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def graded_functions(solutions=SOLUTIONS):
    """Every graded function of every lesson: solution cells whose grade id has a graded test cell."""
    found = []
    for lesson_id in lesson_ids(solutions):
        notebook = nbformat.read(str(solution_path(lesson_id, solutions)), as_version=4)
        tested = {_nbgrader(c).get("grade_id", "").removeprefix("test_") for c in notebook.cells
                  if _nbgrader(c).get("grade") and _nbgrader(c).get("points", 0)}
        for cell in notebook.cells:
            meta = _nbgrader(cell)
            if cell.cell_type != "code" or not meta.get("solution") or meta.get("grade_id") not in tested:
                continue
            source = strip_markers(cell.source)
            tree = parse_code(source)
            for node in tree.body if tree else ():
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    found.append(Graded(lesson_id, meta["grade_id"], node.name, ast.get_source_segment(source, node)))
    return found


def tokens(source):
    """Python tokens without comments, strings (docstrings) and layout."""
    out = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                  tokenize.DEDENT, tokenize.STRING, tokenize.ENDMARKER):
                out.append(token.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def similarity(a, b):
    return difflib.SequenceMatcher(None, tokens(a), tokens(b), autojunk=False).ratio()


def _secrets(graded):
    """{normalised body: (signature, label)} for the functions and methods of graded solutions."""
    secrets = {}
    for g in graded:
        tree = parse_code(g.source)
        for name, body in _function_bodies(tree) if tree else ():
            if _size(body) >= MIN_BODY_NODES:
                label = g.name if name == g.name else f"{g.name}.{name}"
                secrets.setdefault(normalised(body), (signature(body), f"{g.lesson}:{g.name}:{label}"))
    return secrets


def _definitions(source):
    tree = parse_code(source)
    for node in tree.body if tree else ():
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            yield node.name, ast.get_source_segment(source, node) or ""


def lesson_findings(lesson_id, notebook, graded, secrets=None):
    """Findings for one released notebook: which graded solutions (of lessons up to this one) it contains."""
    secrets = _secrets(graded) if secrets is None else secrets
    candidates = [g for g in graded if g.lesson <= lesson_id]
    by_key = {(g.lesson, g.name): g for g in graded}
    found = {}

    def add(g, how, where, detail):
        found.setdefault((g.lesson, g.name, how), Finding(lesson_id, g, how, where, detail))

    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        grade_id = _nbgrader(cell).get("grade_id")
        place = f"cell {grade_id or index}"
        own_exercise = {(g.lesson, g.name) for g in candidates if g.lesson == lesson_id and g.grade_id == grade_id}
        for _, label in leaks_in(place, cell.source, secrets):
            lesson, name, what = label.split(":", 2)
            if lesson <= lesson_id and (lesson, name) not in own_exercise:
                add(by_key[(lesson, name)], "exact", place, f"the body of {what}")
        for name, source in _definitions(cell.source):
            for g in candidates:
                if (g.lesson, g.name) in own_exercise:
                    continue
                if name == g.name:
                    add(g, "named", place, f"defines {name}")
                else:
                    ratio = similarity(source, g.source)
                    if ratio >= SIMILAR:
                        add(g, "similar", place, f"{name} is {ratio:.2f} similar")
        for number, name in DECLARED.findall(cell.source):
            g = next((g for g in candidates if g.name == name and int(g.lesson[:2]) == int(number)), None)
            if g is not None and g.lesson < lesson_id:      # "lesson 3's rnn_backward" in lesson 3 is a reference
                add(g, "declared", place, f"says it is lesson {int(number)}'s {name}")
    return sorted(found.values(), key=lambda f: (f.graded.lesson, f.graded.name, f.how))


def findings(lessons_dir=LESSONS, solutions=SOLUTIONS, lessons=None):
    """{lesson id: [Finding]} for every released lesson."""
    graded = graded_functions(solutions)
    secrets = _secrets(graded)
    result = {}
    for lesson_id in lessons or lesson_ids(solutions):
        path = Path(lessons_dir) / f"{lesson_id}.ipynb"
        if path.exists():
            result[lesson_id] = lesson_findings(lesson_id, nbformat.read(str(path), as_version=4), graded, secrets)
    return result


def report(lessons_dir=LESSONS, solutions=SOLUTIONS, lessons=None):
    """(lines, failures): what each lesson gives away, and a FAIL line for each solution of a lesson's own function."""
    lines = ["What each lesson gives away (release a lesson only after the deadlines of the lessons listed for it):"]
    failures = []
    for lesson_id, found in findings(lessons_dir, solutions, lessons).items():
        earlier = {}
        for f in found:
            if not f.own:
                places = earlier.setdefault(f.graded.lesson, {}).setdefault(f.graded.name, {})
                places.setdefault(f.place, []).append(f.how)
        if earlier:
            parts = [f"{lesson}: " + ", ".join(
                        f"{name} [" + "; ".join(f"{place}: {', '.join(hows)}" for place, hows in places.items()) + "]"
                        for name, places in names.items())
                     for lesson, names in sorted(earlier.items())]
            lines.append(f"  {lesson_id}: solutions of " + " | ".join(parts)
                         + f" -> release after the deadline of {', '.join(sorted(earlier))}")
        else:
            lines.append(f"  {lesson_id}: no solution of a graded function")
        for f in found:
            if f.own:
                failures.append(f"FAIL {lesson_id} contains the solution of its own graded function "
                                f"{f.graded.name} ({f.how}: {f.where})")
    return lines + failures, failures
