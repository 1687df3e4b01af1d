"""Lecture slides: one reveal.js deck per lesson (HTML that works offline, and a PDF), into build/slides/.

Pipeline for one lesson:

1. execute  solutions/NN.ipynb runs (grading mode by default: short experiments; `full=True` for the
            full ones), so that the figures are the lesson's own plots. Cached under build/cache/.
2. illustrate  the released student notebook lessons/NN.ipynb gets the outputs of its *concept* cells
            from that run (same cell id and same source; never a solution or grade cell). Nothing else
            from the solution notebook is used, so no solution code can reach a slide or the site.
3. deck     cells with slide_type "skip" and every nbgrader solution or grade cell are dropped; a cell
            whose output is a figure shows the figure without its plotting code.
4. export   nbconvert's SlidesExporter with the `reveal_offline` template (autograder/web/templates):
            reveal.js 4.0.2, MathJax 2.7.9, require.js and jQuery come from build/slides/lib/, copied
            from the pinned npm packages (autograder/web/package.json + package-lock.json, `npm ci`).
5. print    Debian's Chromium (driven by playwright-core, no browser download) prints `deck?print-pdf`
            to PDF, one page per slide; slides taller than the page are zoomed out to fit and reported.
6. check    no solution marker or solution/hidden-test text in any deck (the build fails if there is).

`python3 -m autograder slides` runs this for every released lesson and then builds the site
(autograder/site.py).
"""
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.lessons import BUILD, LESSONS, ROOT, SOLUTIONS, lesson_ids
from course.i18n import declared_language

WEB_SOURCE = ROOT / "autograder" / "web"
TEMPLATES = WEB_SOURCE / "templates"
WEB = BUILD / "web"
SLIDES = BUILD / "slides"
CACHE = BUILD / "cache" / "executed"
MATHJAX_CONFIG = "TeX-AMS_CHTML-full,Safe"
REVEAL_HEIGHT = 700
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                    "BEGIN MARK SCHEME", "END MARK SCHEME")


class SlidesError(RuntimeError):
    pass


# ---------------------------------------------------------------- which lessons, which cells

def released_lessons(lessons_dir=LESSONS, solutions=SOLUTIONS):
    """Lesson ids that have both a solution and a released student notebook (a lesson being written has
    only its solution notebook until it is released)."""
    return [lid for lid in lesson_ids(solutions) if (Path(lessons_dir) / f"{lid}.ipynb").exists()]


def slide_type(cell):
    return cell.metadata.get("slideshow", {}).get("slide_type", "-")


def is_solution_or_test(cell):
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("solution") or meta.get("grade"))


def is_concept(cell):
    """A cell that may appear on a slide (and whose outputs may be shown): not an exercise, not a test, not skipped."""
    return not is_solution_or_test(cell) and slide_type(cell) != "skip"


def lesson_title(notebook, fallback):
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if match:
                return match.group(1).strip()
    return fallback


# ---------------------------------------------------------------- 1. execute the solution notebook

def _source_digest(lesson_id, full, solutions):
    h = hashlib.sha256(Path(solutions, f"{lesson_id}.ipynb").read_bytes())
    for path in sorted([*(ROOT / "course").rglob("*.py"), *(ROOT / "course").rglob("*.json")]):
        h.update(path.read_bytes())
    h.update(b"full" if full else b"grading")
    return h.hexdigest()[:16]


def _execute(solution_path, out_path, full, timeout):
    """Run in a worker process: its environment (grading mode, matplotlib backend) is its own."""
    from nbclient import NotebookClient

    os.environ.pop("NBGRADER_EXECUTION", None)
    if not full:
        os.environ["NBGRADER_EXECUTION"] = "autograde"
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    pythonpath = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *pythonpath])
    notebook = nbformat.read(str(solution_path), as_version=4)
    os.environ["RNN_COURSE_LANG"] = notebook.metadata.get("rnn_course", {}).get("language", "en")
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(Path(solution_path).parent)}}).execute()
    tmp = Path(str(out_path) + ".tmp")
    nbformat.write(notebook, str(tmp))
    tmp.replace(out_path)
    return str(out_path)


def execute_solutions(lessons, full=False, solutions=SOLUTIONS, cache=CACHE, timeout=None, workers=None):
    """{lesson_id: executed solution notebook path}; reuses a cached run when nothing it depends on changed."""
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    timeout = timeout or (900 if full else 180)
    paths, todo = {}, []
    for lid in lessons:
        # the edition is in the name: the English and Vietnamese runs of a lesson must not evict each other
        edition = declared_language(Path(solutions, f"{lid}.ipynb")) or "en"
        kind = f"{lid}-{edition}-{'full' if full else 'grading'}"
        path = cache / f"{kind}-{_source_digest(lid, full, solutions)}.ipynb"
        paths[lid] = path
        if not path.exists():
            for stale in cache.glob(f"{kind}-*.ipynb"):
                stale.unlink()
            todo.append(lid)
    if todo:
        workers = workers or max(1, min(len(todo), os.cpu_count() or 1, 4))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {lid: pool.submit(_execute, Path(solutions, f"{lid}.ipynb"), paths[lid], full, timeout)
                       for lid in todo}
            for lid, future in futures.items():
                try:
                    future.result()
                except Exception as exc:  # noqa: BLE001 - report which lesson failed and why
                    raise SlidesError(f"solutions/{lid}.ipynb failed to run: {exc}") from exc
    return paths


# ---------------------------------------------------------------- 2. the illustrated student notebook

def _clean_outputs(outputs):
    """Outputs fit for a slide: no widgets (their JavaScript lives on a CDN), no stderr (warnings, progress bars)."""
    kept = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            continue
        if WIDGET_MIME in output.get("data", {}):
            continue
        kept.append(output)
    return kept


def illustrated_notebook(lesson_id, executed_path, lessons_dir=LESSONS):
    """The released student notebook with the outputs of its concept cells taken from the executed solution.

    A cell gets outputs only when it is a concept cell and the executed cell has the same id and the
    same source, so only cells that students see verbatim contribute, and never a solution cell."""
    notebook = nbformat.read(str(Path(lessons_dir) / f"{lesson_id}.ipynb"), as_version=4)
    executed = nbformat.read(str(executed_path), as_version=4)
    by_id = {cell.get("id"): cell for cell in executed.cells if cell.get("id")}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = []
        source = by_id.get(cell.get("id"))
        if is_concept(cell) and source is not None and source.source == cell.source and not is_solution_or_test(source):
            cell.outputs = _clean_outputs(source.get("outputs", []))
            cell.execution_count = source.get("execution_count")
    notebook.metadata.pop("widgets", None)
    return notebook


# ---------------------------------------------------------------- 3. the deck notebook

def has_figure(cell):
    return any("image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {})
               for o in cell.get("outputs", []))


SLIDE_TAG = "slide-only"      # a cell written for the deck: on a slide, stripped from the student release
NO_SLIDE_TAG = "no-slide"     # a concept cell whose figure stays off the lecture deck
MAX_CODE_LINES = 12
POINTS = {"en": ("point", "points"), "vi": ("điểm", "điểm")}


def is_slide_only(cell):
    return SLIDE_TAG in cell.metadata.get("tags", [])


def strip_slide_cells(notebook):
    """The notebook without its slide-only cells (what the student release keeps)."""
    notebook.cells = [cell for cell in notebook.cells if not is_slide_only(cell)]
    return notebook


def _points_after(cells, start):
    """Points of the grade cells after the slide cell at `start`, up to the next slide cell."""
    total = 0
    for cell in cells[start + 1:]:
        if is_slide_only(cell) and cell.cell_type == "markdown":
            break
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            total += meta.get("points", 0) or 0
    return total


def _figure_outputs(cell):
    """Only the pictures of a figure cell (the last one when it draws several)."""
    images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {})]
    if not images:
        return []
    output = nbformat.from_dict(json.loads(json.dumps(images[-1])))
    output["data"] = {k: v for k, v in output["data"].items() if k.startswith("image/")}
    return [output]


def lecture_deck(notebook, language="en"):
    """The lecture deck of an executed solution notebook (see the module docstring).

    - a markdown cell tagged `slide-only` starts a slide and is its text; when exercise points follow it
      (grade cells before the next slide cell), their sum is added as the slide's last line;
    - a slide-only code cell (a drawing made for the lecture) shows its figure on the current slide;
    - a concept code cell that draws a figure shows the figure (not the code) on the current slide,
      unless tagged `no-slide`;
    - every other markdown cell (the lesson's prose and the exercise instructions) becomes the speaker
      notes of the current slide;
    - solution cells, grade cells, checks and code without a figure are left out."""
    source = nbformat.from_dict(json.loads(json.dumps(notebook)))
    cells, started = [], False
    for index, cell in enumerate(source.cells):
        tags = set(cell.metadata.get("tags", []))
        if is_solution_or_test(cell):
            continue
        if cell.cell_type == "markdown" and is_slide_only(cell):
            points = _points_after(source.cells, index)
            if points:
                one, many = POINTS.get(language, POINTS["en"])
                cell.source = cell.source.rstrip() + f"\n\n<p class=\"points\">{points:g} {one if points == 1 else many}</p>"
            cell.metadata["slideshow"] = {"slide_type": "slide"}
            started = True
        elif cell.cell_type == "markdown":
            if not started or not cell.source.strip():
                continue
            cell.metadata["slideshow"] = {"slide_type": "notes"}
        elif cell.cell_type == "code" and has_figure(cell) and NO_SLIDE_TAG not in tags \
                and (is_slide_only(cell) or slide_type(cell) != "skip") and started:
            cell.outputs = _figure_outputs(cell)
            cell.metadata["tags"] = sorted((tags - {"show-input"}) | {"remove-input"})
            cell.metadata["slideshow"] = {"slide_type": "-"}
        else:
            continue
        cells.append(cell)
    source.cells = cells
    source.metadata.pop("widgets", None)
    return source


def deck_notebook(notebook):
    """Only what goes on slides: skipped cells and every solution or grade cell removed; figure cells lose
    their plotting code (tag remove-input); cells tagged remove-cell go too."""
    deck = nbformat.from_dict(json.loads(json.dumps(notebook)))
    cells = []
    for cell in deck.cells:
        tags = set(cell.metadata.get("tags", []))
        if not is_concept(cell) or "remove-cell" in tags:
            continue
        if cell.cell_type == "code" and has_figure(cell) and "show-input" not in tags:
            cell.metadata["tags"] = sorted(tags | {"remove-input"})
        cells.append(cell)
    deck.cells = cells
    return deck


# ---------------------------------------------------------------- formulas in the source

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_MATH = re.compile(
    r"\$\$(?P<d>.+?)\$\$"
    r"|\\\[(?P<b>.+?)\\\]"
    r"|\\begin\{(?P<env>[A-Za-z]+\*?)\}(?P<e>.*?)\\end\{(?P=env)\}"
    r"|\$(?P<i>[^$\n]+(?:\n(?!\s*\n)[^$\n]*)*?)\$"
    r"|\\\((?P<p>.+?)\\\)",
    re.S)


def formulas_in_markdown(text):
    """The formulas MathJax (tex2jax, as nbconvert configures it) will typeset in one markdown cell:
    $$..$$, \\[..\\], \\begin{env}..\\end{env}, $..$ and \\(..\\), outside code blocks and code spans."""
    text = _FENCE.sub("", text)
    text = _CODE_SPAN.sub("", text)
    text = text.replace("\\$", "")
    return [m.group(0) for m in _MATH.finditer(text) if m.group(0).strip("$\\[]() \n")]


def formula_count(notebook):
    """Formulas in the notebook's markdown cells and in markdown/LaTeX outputs (what MathJax will see)."""
    total = 0
    for cell in notebook.cells:
        if slide_type(cell) == "notes":
            continue                      # speaker notes: not on the slide
        if cell.cell_type == "markdown":
            total += len(formulas_in_markdown(cell.source))
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                continue  # not expected in this course; counted by the browser only
            for mime in ("text/markdown", "text/latex"):
                if mime in data:
                    total += len(formulas_in_markdown(data[mime]))
                    break
    return total


# ---------------------------------------------------------------- no solution on any slide

def _normalise(text):
    return " ".join(text.split())


def secret_snippets(lesson_id, solutions=SOLUTIONS, lessons_dir=LESSONS, min_length=16):
    """Lines of solution code and hidden tests that students never see: every line between
    BEGIN/END SOLUTION or BEGIN/END HIDDEN TESTS markers in the solution notebook that does not occur
    anywhere in the released notebook (so `return out, cache`, shown in a docstring, is not flagged)."""
    public = _normalise("\n".join(c.source for c in nbformat.read(
        str(Path(lessons_dir) / f"{lesson_id}.ipynb"), as_version=4).cells))
    secrets = set()
    for cell in nbformat.read(str(Path(solutions) / f"{lesson_id}.ipynb"), as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            if re.search(r"BEGIN (SOLUTION|HIDDEN TESTS)", line):
                inside = True
                continue
            if re.search(r"END (SOLUTION|HIDDEN TESTS)", line):
                inside = False
                continue
            snippet = _normalise(line.split("#")[0] if not line.strip().startswith("#") else line)
            if inside and len(snippet) >= min_length and snippet not in public:
                secrets.add(snippet)
    return sorted(secrets)


def html_text(markup):
    """Visible-ish text of an HTML page (tags dropped, entities decoded), whitespace collapsed."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S | re.I)
    return _normalise(html.unescape(re.sub(r"<[^>]+>", "", markup)))


def leaks(markup, lesson_id, solutions=SOLUTIONS, lessons_dir=LESSONS):
    """Solution markers and solution/hidden-test lines found in an HTML page (empty list: clean)."""
    raw = markup if isinstance(markup, str) else Path(markup).read_text(encoding="utf-8")
    found = [m for m in SOLUTION_MARKERS if m in raw]
    text = html_text(raw)
    found += [s for s in secret_snippets(lesson_id, solutions, lessons_dir) if s in text]
    return found


# ---------------------------------------------------------------- npm packages and the lib folder

def npm_install(web=WEB):
    """`npm ci` the pinned packages of autograder/web/ into build/web/ (skipped when already current)."""
    web = Path(web)
    lock = (WEB_SOURCE / "package-lock.json").read_bytes()
    stamp = web / "installed-lock.sha256"
    digest = hashlib.sha256(lock).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == digest and (web / "node_modules").is_dir():
        return web / "node_modules"
    npm = shutil.which("npm")
    if npm is None:
        raise SlidesError("npm was not found: install Node.js 18+ (it brings npm) to build the slides")
    web.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(WEB_SOURCE / name, web / name)
    result = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                            cwd=web, capture_output=True, text=True)
    if result.returncode != 0:
        raise SlidesError(f"npm ci failed in {web}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    stamp.write_text(digest + "\n")
    return web / "node_modules"


# What the decks load from MathJax 2.7.9: TeX input, CommonHTML output with the TeX web fonts (5 MB of 73).
_MATHJAX_PARTS = ("MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "extensions", "jax/input/TeX",
                  "jax/element", "jax/output/CommonHTML", "fonts/HTML-CSS/TeX/woff", "localization/en", "LICENSE")
_REVEAL_PARTS = ("dist/reveal.js", "dist/reveal.css", "dist/reset.css", "dist/theme/white.css",
                 "dist/theme/fonts/source-sans-pro", "plugin/notes", "LICENSE")


def _copy_parts(source, dest, parts):
    for part in parts:
        src = Path(source) / part
        if src.is_dir():
            shutil.copytree(src, Path(dest) / part, dirs_exist_ok=True)
        elif src.exists():
            (Path(dest) / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, Path(dest) / part)


def copy_lib(node_modules, dest):
    """The files the decks and the site load, from the npm packages into `dest` (lib/)."""
    node_modules, dest = Path(node_modules), Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    _copy_parts(node_modules / "mathjax", dest / "mathjax", _MATHJAX_PARTS)
    _copy_parts(node_modules / "reveal.js", dest / "reveal.js", _REVEAL_PARTS)
    shutil.copyfile(node_modules / "requirejs" / "require.js", dest / "require.js")
    shutil.copyfile(node_modules / "jquery" / "dist" / "jquery.min.js", dest / "jquery.min.js")
    return dest


# ---------------------------------------------------------------- the browser

def find_chromium(install=False):
    """Path of a Chromium (Debian's `chromium` first; $RNN_COURSE_CHROMIUM overrides), or None.

    With install=True and root on a Debian/Ubuntu machine, a missing Chromium is installed with apt-get."""
    candidates = [os.environ.get("RNN_COURSE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome",
                  "google-chrome-stable"]
    for name in filter(None, candidates):
        path = shutil.which(name)
        if path:
            return path
    if install and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, capture_output=True)
        return find_chromium(install=False)
    return None


def run_browser(jobs, chromium, node_modules):
    """Run browser.cjs on a list of jobs (see that file); returns its list of results."""
    node = shutil.which("node")
    if node is None:
        raise SlidesError("node was not found: install Node.js 18+ to print and check the slides")
    with tempfile.TemporaryDirectory() as scratch:
        spec = Path(scratch) / "jobs.json"
        spec.write_text(json.dumps({"chromium": str(chromium), "jobs": jobs}))
        env = dict(os.environ, NODE_PATH=str(node_modules))
        result = subprocess.run([node, str(WEB_SOURCE / "browser.cjs"), str(spec)], env=env,
                                capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SlidesError(f"the browser run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def pdf_page_count(path):
    """Pages in a PDF written by Chromium (page objects are not compressed there)."""
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", Path(path).read_bytes()))


# ---------------------------------------------------------------- 4. export and 5. print

def export_deck(deck, lesson_id, out_dir, lib="lib"):
    """Write out_dir/<lesson_id>.slides.html from a deck notebook; returns the path."""
    from nbconvert import SlidesExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    config = Config()
    config.TemplateExporter.extra_template_basedirs = [str(TEMPLATES)]
    config.SlidesExporter.template_name = "reveal_offline"
    config.SlidesExporter.reveal_url_prefix = f"{lib}/reveal.js"
    config.SlidesExporter.reveal_theme = "white"          # white, black and serif load no web fonts
    config.SlidesExporter.reveal_scroll = True
    config.SlidesExporter.mathjax_url = f"{lib}/mathjax/MathJax.js?config={MATHJAX_CONFIG}"
    config.SlidesExporter.require_js_url = f"{lib}/require.js"
    config.SlidesExporter.jquery_url = f"{lib}/jquery.min.js"
    config.TagRemovePreprocessor.remove_input_tags = {"remove-input", "hide-input"}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove-output"}
    config.TagRemovePreprocessor.enabled = True
    exporter = SlidesExporter(config=config)
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    body, _ = exporter.from_notebook_node(deck, resources={"metadata": {"name": lesson_title(deck, lesson_id)}})
    path = Path(out_dir) / f"{lesson_id}.slides.html"
    path.write_text(body, encoding="utf-8")
    return path


@dataclass
class Deck:
    lesson_id: str
    title: str
    html: Path
    pdf: Path = None
    slides: int = 0
    formulas: int = 0
    tall: list = field(default_factory=list)     # slides taller or wider than the page: {page, title, height, pageHeight, width, pageWidth}
    printed: dict = field(default_factory=dict)  # what the print run saw: failed/external requests, math counts
    language: str = "en"
    long_code: list = field(default_factory=list)  # code blocks on slides longer than MAX_CODE_LINES


def code_blocks_too_long(deck_nb, limit=MAX_CODE_LINES):
    """(first line, line count) of each code shown on a slide (not in the notes) with more than `limit` lines."""
    found = []
    for cell in deck_nb.cells:
        if slide_type(cell) == "notes":
            continue
        if cell.cell_type == "code" and "remove-input" not in cell.metadata.get("tags", []):
            blocks = [cell.source]
        elif cell.cell_type == "markdown":
            blocks = [m.group(0) for m in _FENCE.finditer(cell.source)]
            blocks = ["\n".join(b.splitlines()[1:-1]) for b in blocks]
        else:
            blocks = []
        found += [(b.strip().splitlines()[0][:60], len(b.strip().splitlines())) for b in blocks
                  if len(b.strip().splitlines()) > limit]
    return found


def build_decks(lessons=None, out=SLIDES, full=False, pdf=True, chromium=None, solutions=SOLUTIONS,
                lessons_dir=LESSONS, cache=CACHE, web=WEB, log=print, language="en", strict=True):
    """Build every deck (and PDF) into `out`; returns [Deck]. Raises SlidesError on a solution leak, a code
    block longer than MAX_CODE_LINES on a slide, and (strict) a slide taller or wider than the page."""
    lessons = list(lessons or released_lessons(lessons_dir, solutions))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    node_modules = npm_install(web)
    copy_lib(node_modules, out / "lib")
    log(f"running {len(lessons)} solution notebook(s) in {'full' if full else 'grading'} mode for the figures")
    executed = execute_solutions(lessons, full=full, solutions=solutions, cache=cache)
    decks, problems = [], []
    for lid in lessons:
        notebook = illustrated_notebook(lid, executed[lid], lessons_dir)
        nbformat.write(notebook, str(out / f".{lid}.illustrated.ipynb"))   # reused by the site
        deck_nb = lecture_deck(nbformat.read(str(executed[lid]), as_version=4), language)
        nbformat.write(deck_nb, str(out / f".{lid}.deck.ipynb"))
        path = export_deck(deck_nb, lid, out)
        found = leaks(path.read_text(encoding="utf-8"), lid, solutions, lessons_dir)
        if found:
            path.unlink()
            raise SlidesError(f"{lid}: solution text on the slides, deck not written: {found[:5]}")
        deck = Deck(lid, lesson_title(deck_nb, lid), path, formulas=formula_count(deck_nb), language=language,
                    long_code=code_blocks_too_long(deck_nb))
        problems += [f"{lid}: code of {n} lines on a slide (at most {MAX_CODE_LINES}): {first!r}"
                     for first, n in deck.long_code]
        decks.append(deck)
        log(f"deck  {path}")
    if pdf:
        chromium = chromium or find_chromium()
        if chromium is None:
            raise SlidesError("Chromium was not found: `apt-get install chromium` (Debian) or set "
                              "RNN_COURSE_CHROMIUM to a Chromium/Chrome binary; or build with --no-pdf")
        jobs = [{"kind": "print", "url": d.html.resolve().as_uri() + "?print-pdf",
                 "pdf": str(d.html.with_name(f"{d.lesson_id}.pdf").resolve())} for d in decks]
        for deck, job, result in zip(decks, jobs, run_browser(jobs, chromium, node_modules)):
            if "error" in result:
                raise SlidesError(f"{deck.lesson_id}: printing failed: {result['error']}")
            deck.pdf = Path(job["pdf"])
            deck.slides = result["report"]["slides"]
            deck.tall = result["report"]["tall"]
            deck.printed = {k: result[k] for k in ("failed", "external", "math", "reveal_ready")}
            log(f"pdf   {deck.pdf} ({deck.slides} pages)")
        problems += tall_slides_report(decks)
    if problems and strict:
        raise SlidesError("slides that do not fit (fix the slide-only cells in solutions/, see README):\n  "
                          + "\n  ".join(problems))
    for line in problems:
        log(f"warning: {line}")
    return decks


def tall_slides_report(decks):
    """Lines naming each slide taller or wider than the page (split or shorten that slide's cell)."""
    lines = []
    for deck in decks:
        for t in deck.tall:
            lines.append(f"{deck.lesson_id} ({deck.language}) slide {t['page']} ({t['title'][:60]!r}): "
                         f"{t['height']}x{t.get('width', '?')} px on a page of {t['pageHeight']}x{t.get('pageWidth', '?')} px")
    return lines


def edition_sources(language, build=BUILD):
    """(solutions folder, lessons folder, output suffix) of an edition. A translated edition's solution
    notebooks are built from the catalogues into build/<language>/solutions/ (see autograder/translate.py)."""
    if language == "en":
        return SOLUTIONS, LESSONS, ""
    from autograder.translate import write_solutions

    solutions = Path(build) / language / "solutions"
    write_solutions(language, solutions)
    return solutions, LESSONS / language, language


def build_all(lessons=None, build=BUILD, full=False, pdf=True, site=True, log=print, language="en", link_other=None):
    """Decks into build/slides/[<language>/], then the site into build/site/[<language>/];
    returns (decks, site index or None). link_other: link every site page to its twin in the other language
    (None: only when that edition's site is already there)."""
    build = Path(build)
    solutions, lessons_dir, suffix = edition_sources(language, build)
    decks = build_decks(lessons, out=build / "slides" / suffix, full=full, pdf=pdf, solutions=solutions,
                        lessons_dir=lessons_dir, cache=build / "cache" / "executed", web=build / "web", log=log,
                        language=language)
    index = None
    if site:
        from autograder.site import build_site

        index = build_site(decks, slides_dir=build / "slides" / suffix, out=build / "site" / suffix,
                           lessons_dir=lessons_dir, language=language, log=log, link_other=link_other)
        log(f"site  {index}")
    return decks, index


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python3 -m autograder slides")
