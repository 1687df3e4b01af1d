"""Feedback pages typeset their math offline, also after their folder is copied to a student.

A page is rendered as the grader renders it (nbgrader's feedback template through
autograder.feedback.FeedbackExporter, then offline_math), its student's folder is copied elsewhere,
and the copy is opened in Debian's Chromium (playwright-core, as the slides tests do) with every
http(s) request blocked. Skipped, with the reason, only where Chromium or Node cannot be had.
"""
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder import slides as S
from autograder.feedback import MATHJAX_FOLDER, FeedbackExporter, offline_math
from autograder.lessons import SOLUTIONS

LESSON = "02_vanilla_rnn"


def feedback_page(notebook, folder):
    """The feedback page of `notebook` as GenerateFeedback writes it (its template and paths)."""
    import nbgrader
    from traitlets.config import Config

    templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    css = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "static" / "node_modules" / \
        "bootstrap" / "dist" / "css"
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.extra_template_basedirs = [str(templates)]
    config.HTMLExporter.extra_template_paths = [str(css)]
    resources = {"nbgrader": {"notebook": LESSON, "score": 0, "max_score": 1, "late_penalty": 0}}
    notebook = nbformat.from_dict(notebook)
    for cell in notebook.cells:   # what nbgrader's GetGrades adds
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.metadata.nbgrader["score"] = 0
    html, _ = FeedbackExporter(config=config).from_notebook_node(notebook, resources)
    page = Path(folder) / f"{LESSON}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(html, encoding="utf-8")
    return page


def markdown_math(notebook):
    """The inline formulas ($...$) of the notebook's markdown cells that appear nowhere in its code."""
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    found = set()
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            found |= {m for m in re.findall(r"(?<![$\\])\$[^$\n]{2,60}\$(?!\$)", cell.source) if m not in code}
    return sorted(found)


def test_the_page_loads_mathjax_from_beside_it(tmp_path):
    notebook = nbformat.read(str(SOLUTIONS / f"{LESSON}.ipynb"), as_version=4)
    page = feedback_page(notebook, tmp_path / "ada")
    cdn = re.compile(r'<script\s+src="https?://[^"]*mathjax', re.I)
    assert cdn.search(page.read_text())   # nbgrader's template: a CDN
    offline_math(page)
    html = page.read_text()
    assert not cdn.search(html)   # the CDN is only the fallback of a page copied without its folder
    assert f'src="{MATHJAX_FOLDER}/MathJax.js?config=' in html
    assert (page.parent / MATHJAX_FOLDER / "MathJax.js").is_file()
    assert offline_math(page).read_text() == html   # idempotent (the report copies pages again)


@pytest.fixture(scope="module")
def browser():
    chromium = S.find_chromium(install=True)
    if chromium is None:
        pytest.skip("Chromium is not installed and could not be installed (needs root, apt-get and a reachable "
                    "Debian mirror): run `apt-get install chromium` or set RNN_COURSE_CHROMIUM")
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js (node and npm) is needed to drive Chromium in this test (grading does not need it)")
    return chromium, S.npm_install()


def test_a_copied_feedback_folder_typesets_its_math_offline(browser, tmp_path):
    notebook = nbformat.read(str(SOLUTIONS / f"{LESSON}.ipynb"), as_version=4)
    formulas = markdown_math(notebook)
    assert len(formulas) >= 5, formulas   # the lesson has inline math to typeset
    offline_math(feedback_page(notebook, tmp_path / "grades" / "feedback" / "ada"))
    student = shutil.copytree(tmp_path / "grades" / "feedback" / "ada", tmp_path / "elsewhere" / "ada-feedback")
    shutil.rmtree(tmp_path / "grades")   # nothing of the grader's folder is left to lean on
    alone = tmp_path / "alone" / f"{LESSON}.html"   # the page without its folder (nbgrader's release_feedback)
    alone.parent.mkdir()
    shutil.copyfile(student / f"{LESSON}.html", alone)
    record, without = S.run_browser([{"kind": "page", "url": (student / f"{LESSON}.html").as_uri()},
                                     {"kind": "page", "url": alone.as_uri()}], *browser)
    assert [url for url in without["external"] if "mathjax" in url.lower()], without   # falls back to the CDN
    assert "error" not in record, record.get("error")
    math = record["math"]
    assert math["found"] >= len(formulas), math
    assert math["typeset"] == math["found"] and math["errors"] == 0, math
    assert not [url for url in record["external"] if "mathjax" in url.lower()], record["external"]
    assert not [f for f in record["failed"] if "/MathJax.js" in f or "/jax/" in f or "/config/" in f], record["failed"]
    raw = [formula for formula in formulas if formula in record["text"]]
    assert raw == [], f"formulas left as raw LaTeX: {raw[:5]}"


def test_highlighting_is_computed_once_per_distinct_cell_whatever_its_timestamps():
    """nbclient writes execution timestamps into every cell's metadata; nbconvert's highlighting reads
    only "magics_language" of it, so cells that differ only in timestamps share one highlighted block."""
    from autograder.feedback import _HIGHLIGHTED, _MemoizedHighlight

    calls = []

    def highlight(source, language=None, metadata=None):
        calls.append(source)
        return f"<div>{source}</div>"

    memo = _MemoizedHighlight(highlight, set())
    _HIGHLIGHTED.clear()
    source = f"x = 1  # {id(calls)}"
    for second in range(3):
        stamp = {"execution": {"iopub.execute_input": f"2026-12-02T10:00:0{second}Z"}}
        assert memo(source, "ipython3", stamp) == f"<div>{source}</div>"
    assert len(calls) == 1
    memo(source, "ipython3", {"magics_language": "bash"})   # this one can change the result
    assert len(calls) == 2


def course_code_and_random_code(count=500, seed=0):
    """Every code cell of the course, and random code full of what HTML escaping and BeautifulSoup
    treat specially (quotes, ampersands, markup, entities, class attributes in strings, control
    characters, non-ASCII)."""
    import random

    from autograder.lessons import ROOT

    sources = [cell.source for path in sorted((ROOT / "solutions").glob("*.ipynb"))
               for cell in nbformat.read(str(path), as_version=4).cells if cell.cell_type == "code"]
    pieces = list("abc xyz_01'\"&<>;#\t\n\r\\$%{}[]()=+-*/.,:!?@`~|^") + [
        "é", "ệ", "\u00a0", "\x00", "\x0b", "\x0c", "\ufeff", "\u2028", "💥", "&amp;", "&quot;", "&#39;", "&nbsp;",
        "<b>", "</pre>", "</div>", "<!--", "-->", "<script>", '"""', "'''", "# note ", "print(", "%%time\n",
        "!ls\n", "?x\n", 'class="a  b"', '<span class=" x  y">', '<div class=" q">']
    rng = random.Random(seed)
    return sources + ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 60))) for _ in range(count)]


def test_highlighted_blocks_are_written_as_beautifulsoup_writes_them():
    """FeedbackExporter writes a pygments block itself instead of parsing it with BeautifulSoup; for
    every block the result must be BeautifulSoup's own, and a block that is not plain pygments output
    must be left to BeautifulSoup."""
    from nbconvert.filters.highlight import Highlight2HTML

    from autograder.feedback import _pygments_written, _soup_written

    highlight = Highlight2HTML(pygments_lexer="ipython3")
    written = 0
    for source in course_code_and_random_code():
        block = highlight(source).strip()
        fast = _pygments_written(block)
        assert fast is not None, block   # every pygments block takes the fast way
        assert fast == _soup_written(block), source
        written += 1
    assert written > 700
    for other in ('<div class="x"><pre><b>bold</b></pre></div>', '<div class="x"><pre>a &nbsp; b</pre></div>',
                  '<div class="x"><pre><span class="n">a</span></pre></div><p>', '<div><pre></pre></div>'):
        assert _pygments_written(other) is None, other


def test_markdown_is_rendered_once_per_distinct_cell():
    """The rendered markdown of a cell is cached by everything nbconvert's markdown2html reads: the
    same source in a cell with other attachments is rendered again."""
    from autograder.feedback import _MARKDOWN

    source = f"# Title {id(_MARKDOWN)}\n\n$h_t$ and *x*"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(source) for _ in range(2)])
    _MARKDOWN.clear()
    html, _ = FeedbackExporter().from_notebook_node(notebook)
    assert len(_MARKDOWN) == 1 and html.count(f"Title {id(_MARKDOWN)}") >= 2
    attached = nbformat.v4.new_markdown_cell(notebook.cells[0].source, attachments={"a.png": {"image/png": "iVBORw0KGgo="}})
    FeedbackExporter().from_notebook_node(nbformat.v4.new_notebook(cells=[attached]))
    assert len(_MARKDOWN) == 2
