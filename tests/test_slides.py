"""Lecture slides and the course site, opened in a real browser (Debian's Chromium via playwright-core).

One build of every released lesson (grading-mode figures) into a scratch folder, then one browser run that
opens each deck (show mode), and the site's index and lesson pages. Asserted:
- no request failed and none left the machine (http(s) is blocked and counted);
- reveal initialised; the PDF has exactly one page per slide;
- MathJax typeset as many formulas as the source cells hold, with no TeX error, visible in print mode too;
- no solution marker and no line of solution code or hidden tests in any deck, PDF source page or site page.
Skipped, with the reason, only where Chromium is missing and cannot be installed (not root / no apt-get).
"""
import re
import shutil

import nbformat
import pytest

from autograder import slides as S
from autograder.lessons import BUILD, LESSONS, SOLUTIONS
from autograder.site import build_site

LESSON_IDS = S.released_lessons()
SCREENSHOT = BUILD / "test-artifacts" / "first-math-slide.png"


# ---------------------------------------------------------------- no browser needed

@pytest.mark.parametrize("text, count", [
    ("$a$ and $b$", 2),
    ("$$h_t = \\tanh(a_t)$$", 1),
    ("costs \\$5 and \\$6", 0),
    ("`$x$` in code, $y$ in text", 1),
    ("```python\nx = '$a$'\n```\n$z$", 1),
    ("\\begin{aligned} a &= b \\\\ c &= d \\end{aligned} and \\(e\\)", 2),
    ("$$a$$ then $b$ then \\[c\\]", 3),
])
def test_formula_counter(text, count):
    assert len(S.formulas_in_markdown(text)) == count, S.formulas_in_markdown(text)


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_leak_detector_sees_the_solution_notebook(lesson_id):
    """Control: the check would catch a deck made from the solution notebook."""
    assert S.secret_snippets(lesson_id), "no solution lines found to look for"
    found = S.leaks((SOLUTIONS / f"{lesson_id}.ipynb").read_text(encoding="utf-8"), lesson_id)
    assert "BEGIN SOLUTION" in found and len(found) > 2


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_deck_notebook_has_no_exercise_or_skipped_cell(lesson_id):
    deck = S.deck_notebook(nbformat.read(str(LESSONS / f"{lesson_id}.ipynb"), as_version=4))
    assert deck.cells
    for cell in deck.cells:
        assert S.slide_type(cell) != "skip"
        assert not S.is_solution_or_test(cell)


# ---------------------------------------------------------------- in the browser

@pytest.fixture(scope="session")
def chromium():
    path = S.find_chromium(install=True)
    if path is None:
        pytest.skip("Chromium is not installed and could not be installed (needs root, apt-get and a reachable "
                    "Debian mirror): run `apt-get install chromium` or set RNN_COURSE_CHROMIUM")
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js (node and npm) is needed to drive Chromium and to install reveal.js/MathJax")
    return path


@pytest.fixture(scope="session", params=["en", "vi"])
def built(request, chromium, tmp_path_factory):
    """Decks, PDFs and site of every released lesson in one edition, and what the browser saw in each."""
    language = request.param
    root = tmp_path_factory.mktemp(f"slides-{language}")
    solutions, lessons_dir, _ = S.edition_sources(language, root)
    decks = S.build_decks(LESSON_IDS, out=root / "slides", full=False, chromium=chromium, cache=root / "cache",
                          solutions=solutions, lessons_dir=lessons_dir, log=lambda message: None)
    index = build_site(decks, root / "slides", root / "site", lessons_dir=lessons_dir, language=language)
    screenshot = SCREENSHOT.with_name(f"{SCREENSHOT.stem}-{language}.png")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    jobs = [{"kind": "deck", "url": d.html.resolve().as_uri(), **({"screenshot": str(screenshot)} if i == 0 else {})}
            for i, d in enumerate(decks)]
    jobs.append({"kind": "page", "url": index.resolve().as_uri()})
    jobs += [{"kind": "page", "url": (root / "site" / "lessons" / f"{d.lesson_id}.html").resolve().as_uri()}
             for d in decks]
    results = S.run_browser(jobs, chromium, S.npm_install())
    n = len(decks)
    return {"root": root, "decks": decks, "index": index, "shown": results[:n], "index_page": results[n],
            "pages": results[n + 1:], "language": language, "lessons_dir": lessons_dir, "screenshot": screenshot}


def test_every_released_lesson_has_a_deck_a_pdf_and_a_page(built):
    assert [d.lesson_id for d in built["decks"]] == LESSON_IDS
    for deck in built["decks"]:
        assert deck.html.exists() and deck.pdf.exists()
        assert (built["root"] / "site" / "lessons" / f"{deck.lesson_id}.html").exists()


def test_nothing_fails_to_load_and_nothing_leaves_the_machine(built):
    for result in built["shown"] + [built["index_page"]] + built["pages"]:
        assert "error" not in result, result.get("error")
        assert result["failed"] == [], f"{result['url']}: failed requests {result['failed']}"
        assert result["external"] == [], f"{result['url']}: requests to the network {result['external']}"


def test_reveal_initialised(built):
    for deck, shown in zip(built["decks"], built["shown"]):
        assert shown["reveal_ready"], f"{deck.lesson_id}: reveal did not initialise"
        assert shown["slides"] > 1


def test_every_formula_is_typeset_on_the_slides(built):
    for deck, shown in zip(built["decks"], built["shown"]):
        math = shown["math"]
        assert deck.formulas > 0, f"{deck.lesson_id}: no formula in the concept cells?"
        assert math["errors"] == 0, f"{deck.lesson_id}: {math['errors']} TeX error(s)"
        assert math["found"] == deck.formulas, f"{deck.lesson_id}: MathJax found {math['found']} formulas, the source has {deck.formulas}"
        assert math["typeset"] == deck.formulas, f"{deck.lesson_id}: {math['typeset']} of {deck.formulas} formulas typeset"


def test_every_formula_is_visible_when_printed(built):
    """Print mode is what the PDF is made from: every formula typeset and visible (fragments included)."""
    for deck in built["decks"]:
        printed = deck.printed
        assert printed["reveal_ready"]
        assert printed["failed"] == [] and printed["external"] == [], printed
        assert printed["math"]["errors"] == 0
        assert printed["math"]["visible"] == deck.formulas, f"{deck.lesson_id}: {printed['math']}"


def test_pdf_has_one_page_per_slide(built):
    for deck, shown in zip(built["decks"], built["shown"]):
        pages = S.pdf_page_count(deck.pdf)
        assert pages == shown["slides"], f"{deck.lesson_id}: {pages} PDF pages for {shown['slides']} slides"
        print(f"{deck.lesson_id}: {pages} slides, {deck.formulas} formulas, {len(deck.tall)} taller than the page")


def test_no_solution_on_any_slide_or_page(built):
    for deck in built["decks"]:
        markup = deck.html.read_text(encoding="utf-8")
        assert S.leaks(markup, deck.lesson_id) == []
        assert "NotImplementedError" not in markup and "YOUR CODE HERE" not in markup, "an exercise cell is on a slide"
        page = (built["root"] / "site" / "lessons" / f"{deck.lesson_id}.html").read_text(encoding="utf-8")
        assert S.leaks(page, deck.lesson_id) == []
    for shown in built["shown"] + built["pages"]:
        assert not any(m in shown["text"] for m in S.SOLUTION_MARKERS)


def test_slides_show_the_lessons_own_figures(built):
    for deck in built["decks"]:
        assert re.search(r'<img[^>]+src="data:image/png', deck.html.read_text(encoding="utf-8")), deck.lesson_id


def test_site_pages_typeset_their_math(built):
    for deck, page in zip(built["decks"], built["pages"]):
        notebook = nbformat.read(str(built["root"] / "slides" / f".{deck.lesson_id}.illustrated.ipynb"), as_version=4)
        expected = S.formula_count(notebook)
        assert page["math"]["errors"] == 0
        assert page["math"]["typeset"] == expected, f"{deck.lesson_id}: {page['math']} != {expected}"


def test_site_index_links_every_lesson_its_slides_and_its_notebook(built):
    links = built["index_page"]["links"]
    site = built["root"] / "site"
    for deck in built["decks"]:
        lid = deck.lesson_id
        for href in (f"lessons/{lid}.html", f"lessons/{lid}.ipynb", f"slides/{lid}.slides.html", f"slides/{lid}.pdf"):
            assert href in links, f"index has no link to {href}"
            assert (site / href).exists(), f"{href} is linked but missing"
        assert (site / "lessons" / f"{lid}.ipynb").read_bytes() == (built["lessons_dir"] / f"{lid}.ipynb").read_bytes()
        assert deck.title in built["index_page"]["text"]


def test_screenshot_of_the_first_slide_with_math(built):
    assert built["screenshot"].exists() and built["screenshot"].stat().st_size > 10_000
    assert built["shown"][0].get("screenshot_slide"), "no slide with math in the first deck"


def test_vietnamese_edition_shows_vietnamese_text_and_figures(built):
    """The Vietnamese decks carry the catalogue's text, and their figures were drawn in Vietnamese."""
    if built["language"] != "vi":
        pytest.skip("Vietnamese edition only")
    for deck, shown in zip(built["decks"], built["shown"]):
        assert re.search(r"Bài \d", deck.title), f"{deck.lesson_id}: title {deck.title!r} is not the Vietnamese one"
        assert "chuỗi" in shown["text"] or "mạng hồi quy" in shown["text"], f"{deck.lesson_id}: no Vietnamese text"
        notebook = nbformat.read(str(built["root"] / "slides" / f".{deck.lesson_id}.illustrated.ipynb"), as_version=4)
        assert notebook.metadata["rnn_course"]["language"] == "vi"
