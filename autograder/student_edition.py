"""The student edition: what a student in a class receives, and nothing else.

    build/student-edition/
        lessons/NN_topic.ipynb            the released lessons (English)
        lessons/vi/NN_topic.ipynb         the Vietnamese edition
        rnn_course_student-<v>-py3-none-any.whl
                                          the `course` package (code, course/data/, course/locale/),
                                          installable with pip; its dependencies are the project's pins
        requirements.txt                  the pins a student's environment needs (course + JupyterLab)
        README.md                         how to install and start
    build/student-edition.zip             the same folder, zipped, to hand out

Nothing from solutions/, no reference module (autograder/references/), no hidden check (the
`autograder` package is not in it at all). `build_edition` refuses to finish when a solution
function's body appears anywhere in what it wrote: `solution_leaks` compares code after
normalising it (ast, names replaced by their order of appearance, docstrings dropped), so a
renamed or reformatted copy is found too, not only a verbatim one.
"""
import ast
import copy
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.export import strip_markers
from autograder.lessons import BUILD, LESSONS, ROOT, SOLUTIONS, lesson_ids, solution_path

EDITION = BUILD / "student-edition"
DISTRIBUTION = "rnn-course-student"
# what `import course` needs at run time (their pins are read from requirements.txt)
COURSE_DEPENDENCIES = ("numpy", "torch", "matplotlib", "tqdm")
# what a student's own Jupyter needs besides the wheel
STUDENT_TOOLS = ("jupyterlab", "notebook", "ipykernel")
# data files of the course package that a wheel must carry (setuptools leaves out non-.py files by default)
COURSE_PACKAGE_DATA = ("data/*", "locale/*/*.json")
HIDDEN_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
# packages of the grader's side: code in the edition that imports one of these needs what students do not get
GRADER_PACKAGES = ("autograder", "solutions")
# solution bodies smaller than this (AST nodes) are too generic to count as a leak ("return x")
MIN_BODY_NODES = 8

PYPROJECT = '''[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "{version}"
description = "The course package of the RNN course (lessons' tools and visible checks; no solutions)"
requires-python = ">=3.10"
dependencies = {dependencies}

[tool.setuptools]
packages = {packages}

[tool.setuptools.package-data]
course = {package_data}
'''

README = '''# RNN course: student edition

The lessons (`lessons/`, Vietnamese: `lessons/vi/`) and the `course` package they import, as a wheel.
No solutions are in here.

```bash
python3 -m venv rnn-env
rnn-env/bin/pip install -r requirements.txt {wheel}
rnn-env/bin/jupyter lab lessons/        # or lessons/vi/
```

In a class on JupyterHub you do not install anything: fetch each lesson from the Assignments
list (Nbgrader menu, "Assignment List"), work on it, and submit it there.
'''


class EditionError(RuntimeError):
    pass


def project_version():
    match = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    return match.group(1) if match else "0.0.0"


def pins(names, requirements=ROOT / "requirements.txt"):
    """The requirement lines of requirements.txt for these distribution names, in that file's order."""
    wanted = {n.lower() for n in names}
    lines = [line.split("#")[0].strip() for line in Path(requirements).read_text().splitlines()]
    found = [line for line in lines if line and re.split(r"[<>=!~\[ ]", line)[0].lower() in wanted]
    missing = wanted - {re.split(r"[<>=!~\[ ]", line)[0].lower() for line in found}
    if missing:
        raise EditionError(f"requirements.txt has no pin for {', '.join(sorted(missing))}")
    return found


def course_packages(source=ROOT / "course"):
    """'course' and its sub-packages (folders with an __init__.py), dotted."""
    source = Path(source)
    return sorted(".".join(("course",) + p.parent.relative_to(source).parts) for p in source.rglob("__init__.py")
                  if "__pycache__" not in p.parts)


def course_files(source=ROOT / "course"):
    """Every file of the course package a wheel must contain, relative to the project root."""
    source = Path(source)
    return sorted(p.relative_to(source.parent).as_posix() for p in source.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def build_wheel(out_dir, source=ROOT / "course"):
    """Build the `course` wheel with setuptools (pip wheel, no network) into out_dir; returns its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        stage = Path(scratch) / "stage"
        shutil.copytree(source, stage / "course", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (stage / "pyproject.toml").write_text(PYPROJECT.format(
            name=DISTRIBUTION, version=project_version(), dependencies=json.dumps(pins(COURSE_DEPENDENCIES)),
            packages=json.dumps(course_packages(source)), package_data=json.dumps(list(COURSE_PACKAGE_DATA))))
        result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                                 "--disable-pip-version-check", "-q", "-w", str(Path(scratch) / "dist"), str(stage)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise EditionError(f"pip wheel failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
        built = next((Path(scratch) / "dist").glob("*.whl"))
        wheel = out_dir / built.name
        shutil.copyfile(built, wheel)
    missing = missing_from_wheel(wheel, source)
    if missing:
        raise EditionError(f"the wheel lacks {len(missing)} file(s) of the course package: {', '.join(missing[:5])}")
    return wheel


def missing_from_wheel(wheel, source=ROOT / "course"):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    return [f for f in course_files(source) if f not in names]


@dataclass
class Edition:
    folder: Path
    wheel: Path
    archive: Path | None
    lessons: list
    given: list = field(default_factory=list)   # (place, 'lesson: function') a later lesson hands out on purpose


def build_edition(out=EDITION, lessons=None, lessons_dir=LESSONS, solutions=SOLUTIONS, archive=True):
    """Write the student edition of `lessons` (default: all) to `out` (replacing it) and, with
    archive=True, a zip beside it. Raises EditionError when solution code is found in it, except
    where a later lesson in it hands out an earlier lesson's solution on purpose (listed in `given`:
    leave such a lesson out until the earlier one's deadline has passed)."""
    out = Path(out)
    known = lesson_ids(solutions)
    lessons = list(lessons or known)
    unknown = [lesson for lesson in lessons if lesson not in known]
    if unknown:
        raise EditionError(f"unknown lesson(s) {', '.join(unknown)} (known: {', '.join(known)})")
    if out.exists():
        shutil.rmtree(out)
    (out / "lessons").mkdir(parents=True)
    for lesson_id in sorted(lessons):
        for folder, target in ((Path(lessons_dir), out / "lessons"), (Path(lessons_dir) / "vi", out / "lessons" / "vi")):
            notebook = folder / f"{lesson_id}.ipynb"
            if notebook.exists():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(notebook, target / notebook.name)
            elif folder == Path(lessons_dir):
                raise EditionError(f"{notebook} is missing: run `python3 -m autograder release`")
    wheel = build_wheel(out)
    (out / "requirements.txt").write_text("\n".join(pins(COURSE_DEPENDENCIES + STUDENT_TOOLS)) + "\n")
    (out / "README.md").write_text(README.format(wheel=wheel.name))
    found = solution_leaks(out, solutions)
    leaks = [(place, what) for place, what in found if not given_by_later_lesson(place, what)]
    if leaks:
        raise EditionError("solution code found in the student edition:\n"
                           + "\n".join(f"  {place}: {what}" for place, what in leaks[:20]))
    zipped = None
    if archive:
        zipped = Path(shutil.make_archive(str(out), "zip", root_dir=out.parent, base_dir=out.name))
    return Edition(out, wheel, zipped, sorted(lessons), [hit for hit in found if hit not in leaks])


# ------------------------------------------------------------------------------ normalised code

def _without_docstring(body):
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1:]
    return body


class _Canonical(ast.NodeTransformer):
    """Every identifier (variables, arguments, nested function names) becomes v0, v1, ... in order of
    first appearance; attribute names, constants and the structure stay."""

    def __init__(self):
        self.names = {}

    def _name(self, name):
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        node.id = self._name(node.id)
        return node

    def visit_arg(self, node):
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def visit_FunctionDef(self, node):
        node.name = self._name(node.name)
        node.returns = None
        node.body = _without_docstring(node.body) or [ast.Pass()]
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef


def normalised(statements):
    """A canonical text of a list of statements: equal for code that differs only in names, layout,
    comments and docstrings."""
    module = ast.Module(body=[copy.deepcopy(s) for s in statements], type_ignores=[])
    return ast.dump(_Canonical().visit(module), annotate_fields=False, include_attributes=False)


def _size(statements):
    return sum(1 for s in statements for _ in ast.walk(s))


def _function_bodies(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, _without_docstring(node.body)


def _statement_lists(tree):
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


def parse_code(source):
    """An AST of Python source or a notebook cell (IPython magics turned into Python), or None."""
    try:
        return ast.parse(source)
    except SyntaxError:
        pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))
    except Exception:
        return None


def solution_regions(source):
    """The cell's code with its solution markers turned into comments (line numbers kept), and the
    (first, last) line numbers of each region between BEGIN SOLUTION and END SOLUTION."""
    lines, regions, begin = source.splitlines(), [], None
    for number, line in enumerate(lines, start=1):
        if line.strip() == "### BEGIN SOLUTION":
            begin = number
        elif line.strip() == "### END SOLUTION" and begin is not None:
            regions.append((begin + 1, number - 1))
            begin = None
    code = "\n".join("#" if line.strip() in ("### BEGIN SOLUTION", "### END SOLUTION") else line for line in lines)
    return code, regions


def solution_bodies(solutions=SOLUTIONS):
    """{normalised code: (signature, 'lesson: function')} for the solution code of every solution cell: in
    each function (or method, or at the top of the cell), the statements between the solution markers.
    Code a solution cell gives (outside the markers) is not secret."""
    secrets = {}
    for lesson_id in lesson_ids(solutions):
        notebook = nbformat.read(str(solution_path(lesson_id, solutions)), as_version=4)
        for cell in notebook.cells:
            if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("solution"):
                continue
            code, regions = solution_regions(cell.source)
            tree = parse_code(code)
            if tree is None:
                continue
            blocks = [("top of " + cell.metadata["nbgrader"].get("grade_id", "?"), tree.body)] + list(_function_bodies(tree))
            for name, body in blocks:
                for first, last in regions:
                    inside = [s for s in body if s.lineno >= first and s.end_lineno <= last]
                    if inside and _size(inside) >= MIN_BODY_NODES:
                        secrets.setdefault(normalised(inside), (signature(inside), f"{lesson_id}: {name}"))
    return secrets


FENCE = re.compile(r"```(?:python|py|ipython3?)?\s*\n(.*?)```", re.S)


def code_blocks(path):
    """(where, source) for every piece of code in a file: a .py file, a notebook's code cells and the
    fenced code of its markdown cells, fenced code in .md/.txt files; inside .whl and .zip archives too."""
    path = Path(path)
    yield from _code_blocks(path.name, path.read_bytes())


def _code_blocks(name, data):
    suffix = Path(name).suffix.lower()
    if suffix in (".whl", ".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                if not member.endswith("/"):
                    yield from ((f"{name}!{where}", code) for where, code in _code_blocks(member, archive.read(member)))
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    if suffix == ".py":
        yield name, text
    elif suffix == ".ipynb":
        notebook = nbformat.reads(text, as_version=4)
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                yield f"{name} cell {index}", cell.source
            else:
                yield from ((f"{name} cell {index}", block) for block in FENCE.findall(cell.source))
    elif suffix in (".md", ".txt", ".json"):
        yield from ((name, block) for block in FENCE.findall(text))


def marker_hits(name, data):
    """Text markers of solutions or hidden tests in a file (or the files of an archive)."""
    suffix = Path(name).suffix.lower()
    if suffix in (".whl", ".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [f"{name}!{hit}" for member in archive.namelist() if not member.endswith("/")
                    for hit in marker_hits(member, archive.read(member))]
    text = data.decode("utf-8", errors="replace")
    return [f"{name}: {marker!r}" for marker in HIDDEN_MARKERS if marker in text]


def signature(statements):
    """What renaming cannot change (statement kinds and sizes): a cheap filter before `normalised`."""
    return tuple((type(s).__name__, _size([s])) for s in statements)


def leaks_in(where, source, secrets):
    """(where, 'lesson: function') for each place in one piece of code where a solution body appears:
    every contiguous run of statements in any block (module, function, loop, ...) is compared."""
    tree = parse_code(source)
    if tree is None:
        return []
    signatures = {signature_ for signature_, _ in secrets.values()}
    lengths = sorted({len(signature_) for signature_ in signatures})
    found = []
    for block in _statement_lists(tree):
        sizes = [(type(s).__name__, _size([s])) for s in block]
        for start in range(len(block)):
            for length in lengths:
                if start + length <= len(block) and tuple(sizes[start:start + length]) in signatures:
                    hit = secrets.get(normalised(block[start:start + length]))
                    if hit:
                        found.append((where, hit[1]))
    return found


def solution_leaks(folder, solutions=SOLUTIONS):
    """Where solution code is in `folder` (files, and inside archives): a list of (place, what) with
    `what` a 'lesson: function' whose body appears there as code, or a marker of solutions or hidden
    tests found as text."""
    secrets = solution_bodies(solutions)
    found = []
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        found += [(hit, "marker") for hit in marker_hits(rel, path.read_bytes())]
        for where, source in code_blocks(path):
            place = f"{rel}{where[len(path.name):]}"
            found += leaks_in(place, source, secrets)
            found += [(place, f"imports {name}") for name in grader_imports(source)]
    return found


def grader_imports(source):
    """Modules of the grader's side (autograder.*, solutions) that a piece of code imports."""
    tree = parse_code(source)
    names = []
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return sorted({n for n in names if n.split(".")[0] in GRADER_PACKAGES})


def given_by_later_lesson(place, what):
    """True when solution code of lesson A sits in the notebook of a later lesson B, which hands it out
    on purpose (lesson 3 gives lesson 2's forward functions, read-only). Such a lesson belongs in an
    edition only once A's deadline has passed."""
    match = re.match(r"^lessons/(?:[a-z]+/)?(\d\d_[a-z0-9_]+)\.ipynb cell \d+$", place)
    return bool(match) and re.match(r"^\d\d_", what) is not None and what.split(":")[0] < match.group(1)
