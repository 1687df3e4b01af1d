"""Lecture decks and the course site, checked as a person sees them (Debian's Chromium via playwright-core).

One build of every released lesson in both languages (grading-mode figures; the executed notebooks are cached
in build/cache/ like the CLI's) into a scratch folder, then one browser run. Asserted:
- the decks are a lecture: no slide overflows the page (shown one by one, and printed), the words on a slide
  (speaker notes excluded, a formula counts as one word) have a median of at most 40 and never pass 80, no
  code block on a slide has more than 12 lines, most slides carry a figure or a formula, every exercise has
  its slide with its points, and the lesson's prose is in the speaker notes;
- arrow keys, the overview (Esc) and the speaker notes (s) work in a deck opened from disk;
- the PDF has one page per slide; no request fails or leaves the machine; every formula is typeset;
- no solution marker and no line of solution code or hidden tests on any slide or page;
- the site is built by Sphinx, in both languages with a switch between them, links every lesson's deck,
  PDF and notebook, typesets its math, and its search finds "forget gate" on lesson 4's page.
Screenshots of one slide of each deck and of the site go to build/test-artifacts/ (look at them).
Skipped, with the reason, only where Chromium is missing and cannot be installed (not root / no apt-get).
"""
import re
import shutil
import statistics

import nbformat
import pytest

from autograder import slides as S
from autograder.lessons import BUILD, LESSONS, SOLUTIONS
from autograder.site import build_site

LESSON_IDS = S.released_lessons()
ARTIFACTS = BUILD / "test-artifacts"
LANGUAGES = ("vi", "en")          # Vietnamese first, as the CLI does: the English pages link to it
MEDIAN_WORDS, MAX_WORDS = 40, 80
SEARCH = {"en": "forget gate", "vi": "cổng quên"}


def grade_points(notebook):
    return sum(c.metadata["nbgrader"].get("points", 0) for c in notebook.cells
               if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution"))


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
def test_lecture_deck_is_the_slide_cells_with_the_prose_as_notes(lesson_id):
    """Structure of a deck, from the solution notebook itself (no execution): slides are exactly the slide-only
    cells, in order; every other markdown cell after the first slide is a speaker note; no solution or grade
    cell and no code without a figure is kept; the points on the exercise slides add up to the lesson's."""
    notebook = nbformat.read(str(SOLUTIONS / f"{lesson_id}.ipynb"), as_version=4)
    deck = S.lecture_deck(notebook)
    slide_cells = [c for c in notebook.cells if S.is_slide_only(c) and c.cell_type == "markdown"]
    shown = [c for c in deck.cells if S.slide_type(c) == "slide"]
    assert [c.id for c in shown] == [c.id for c in slide_cells] and len(shown) >= 10
    first = notebook.cells.index(slide_cells[0])
    prose = [c.id for c in notebook.cells[first:] if c.cell_type == "markdown" and not S.is_slide_only(c)
             and c.source.strip()]
    assert [c.id for c in deck.cells if S.slide_type(c) == "notes"] == prose
    assert not any(S.is_solution_or_test(c) for c in deck.cells)
    assert all(c.cell_type == "markdown" for c in deck.cells)   # not executed: no figure yet, so no code
    on_slides = sum(float(m) for c in shown for m in re.findall(r'<p class="points">([\d.]+) points?</p>', c.source))
    assert on_slides == grade_points(notebook) > 0, "every graded exercise is on a slide with its points"


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_every_graded_function_has_an_exercise_slide(lesson_id):
    notebook = nbformat.read(str(SOLUTIONS / f"{lesson_id}.ipynb"), as_version=4)
    graded = set(re.findall(r'grade\(\s*"(\w+)"', "\n".join(c.source for c in notebook.cells
                                                             if c.metadata.get("nbgrader", {}).get("grade"))))
    graded = {name for name in graded if not name.startswith("concepts_")}   # quiz questions: one slide for all
    assert graded, "no graded function found"
    named = set(re.findall(r"`(\w+)`", "\n".join(c.source for c in notebook.cells if S.is_slide_only(c))))
    key = lambda name: name.lower().replace("_", "")   # question torch_rnn is the class TorchRNN
    missing = sorted(name for name in graded if key(name) not in {key(n) for n in named})
    assert not missing, f"graded, but on no slide: {missing}"


def test_code_blocks_longer_than_twelve_lines_are_found():
    deck = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("### short\n\n```python\n" + "x = 1\n" * 12 + "```", metadata={"slideshow": {"slide_type": "slide"}}),
        nbformat.v4.new_markdown_cell("### long\n\n```python\n" + "x = 1\n" * 13 + "```", metadata={"slideshow": {"slide_type": "slide"}}),
        nbformat.v4.new_markdown_cell("```python\n" + "x = 1\n" * 40 + "```", metadata={"slideshow": {"slide_type": "notes"}}),
    ])
    assert S.code_blocks_too_long(deck) == [("x = 1", 13)]


def test_release_strips_the_slide_cells():
    for lesson_id in LESSON_IDS:
        solution = nbformat.read(str(SOLUTIONS / f"{lesson_id}.ipynb"), as_version=4)
        slide_ids = {c.id for c in solution.cells if S.is_slide_only(c)}
        assert slide_ids, lesson_id
        for path in (LESSONS / f"{lesson_id}.ipynb", LESSONS / "vi" / f"{lesson_id}.ipynb"):
            released = nbformat.read(str(path), as_version=4)
            assert not slide_ids & {c.id for c in released.cells}, f"{path}: slide-only cells handed to students"


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


def picture_slide(deck_path):
    """Index of the slide to photograph in a deck notebook: the first with one of the course's diagrams
    (course/diagrams.py), else the first with a figure, else the second slide."""
    deck = nbformat.read(str(deck_path), as_version=4)
    index, first_figure = -1, None
    for cell in deck.cells:
        if S.slide_type(cell) == "slide":
            index += 1
        elif cell.cell_type == "code" and index > 0:
            if "course.diagrams." in cell.source:
                return index
            first_figure = index if first_figure is None else first_figure
    return first_figure if first_figure is not None else 1


@pytest.fixture(scope="session")
def built(chromium, tmp_path_factory):
    """Decks, PDFs and sites of every released lesson in both languages, and what the browser saw."""
    root = tmp_path_factory.mktemp("lecture")
    editions = {}
    for language in LANGUAGES:
        solutions, lessons_dir, suffix = S.edition_sources(language, root)
        decks = S.build_decks(LESSON_IDS, out=root / "slides" / suffix, full=False, chromium=chromium,
                              cache=BUILD / "cache" / "executed", solutions=solutions, lessons_dir=lessons_dir,
                              language=language, log=lambda message: None)
        site = root / "site" / suffix
        index = build_site(decks, root / "slides" / suffix, site, lessons_dir=lessons_dir, language=language,
                           link_other=True)
        editions[language] = {"decks": decks, "index": index, "site": site, "lessons_dir": lessons_dir,
                              "slides": root / "slides" / suffix}
    # A deck with one slide too tall and one too wide, printed like the others: the check must see both.
    bad = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("### tall\n\n" + "\n".join(f"- line {i}" for i in range(40)),
                                      metadata={"slideshow": {"slide_type": "slide"}}),
        nbformat.v4.new_markdown_cell("### wide\n\n$$" + " + ".join(f"x_{{{i}}}" for i in range(90)) + "$$",
                                      metadata={"slideshow": {"slide_type": "slide"}}),
        nbformat.v4.new_markdown_cell("### fits\n\n$$a + b$$\n\n- one line", metadata={"slideshow": {"slide_type": "slide"}})])
    bad_html = S.export_deck(bad, "overflowing", editions["en"]["slides"])
    jobs, where = [], {}
    for language, edition in editions.items():
        shots = ARTIFACTS / "slides" / language
        shots.mkdir(parents=True, exist_ok=True)
        for deck in edition["decks"]:
            job = {"kind": "deck", "url": deck.html.resolve().as_uri(),
                   "screenshots": [{"slide": picture_slide(edition["slides"] / f".{deck.lesson_id}.deck.ipynb"),
                                    "path": str(shots / f"{deck.lesson_id}.png")}]}
            if deck.lesson_id == "04_lstm" or deck is edition["decks"][-1] and "04_lstm" not in LESSON_IDS:
                job["keys"] = True
            where[("deck", language, deck.lesson_id)] = len(jobs)
            jobs.append(job)
        where[("index", language)] = len(jobs)
        jobs.append({"kind": "page", "url": edition["index"].resolve().as_uri(),
                     "screenshot": str(ARTIFACTS / f"site-index-{language}.png")})
        for deck in edition["decks"]:
            where[("page", language, deck.lesson_id)] = len(jobs)
            jobs.append({"kind": "page", "url": (edition["site"] / "lessons" / f"{deck.lesson_id}.html").resolve().as_uri(),
                         **({"screenshot": str(ARTIFACTS / f"site-04_lstm-{language}.png")} if deck.lesson_id == "04_lstm" else {})})
        lesson4 = edition["site"] / "lessons" / ("04_lstm.html" if "04_lstm" in LESSON_IDS else f"{LESSON_IDS[-1]}.html")
        where[("search", language)] = len(jobs)
        jobs.append({"kind": "search", "url": lesson4.resolve().as_uri(), "query": SEARCH[language],
                     "screenshot": str(ARTIFACTS / f"site-search-{language}.png")})
    where["bad"] = len(jobs)
    jobs.append({"kind": "print", "url": bad_html.resolve().as_uri() + "?print-pdf", "pdf": str(bad_html.with_suffix(".pdf"))})
    results = S.run_browser(jobs, chromium, S.npm_install())
    return {"root": root, "editions": editions, "results": results, "where": where}


def each_deck(built):
    for language, edition in built["editions"].items():
        for deck in edition["decks"]:
            yield language, deck, built["results"][built["where"][("deck", language, deck.lesson_id)]]


def each_page(built):
    for language, edition in built["editions"].items():
        for deck in edition["decks"]:
            yield language, deck, built["results"][built["where"][("page", language, deck.lesson_id)]]


def test_every_released_lesson_has_a_deck_a_pdf_and_a_page_in_both_languages(built):
    for language, edition in built["editions"].items():
        assert [d.lesson_id for d in edition["decks"]] == LESSON_IDS
        for deck in edition["decks"]:
            assert deck.html.exists() and deck.pdf.exists()
            assert (edition["site"] / "lessons" / f"{deck.lesson_id}.html").exists()


def test_nothing_fails_to_load_and_nothing_leaves_the_machine(built):
    for result in built["results"]:
        assert "error" not in result, result.get("error")
        assert result["failed"] == [], f"{result['url']}: failed requests {result['failed']}"
        assert result["external"] == [], f"{result['url']}: requests to the network {result['external']}"


def test_reveal_initialised(built):
    for language, deck, shown in each_deck(built):
        assert shown["reveal_ready"], f"{deck.lesson_id}: reveal did not initialise"
        assert shown["slides"] == len(shown["per_slide"]) > 5


def test_no_slide_overflows_the_page(built):
    """Shown one by one (fragments included) and printed: every slide fits 960 x 700."""
    problems = []
    for language, deck, shown in each_deck(built):
        for s in shown["per_slide"]:
            if s["height"] > s["page_height"] or s["width"] > s["page_width"] or s["scrolls"]:
                problems.append(f"{language}/{deck.lesson_id} slide {s['index'] + 1} {s['title']!r}: "
                                f"{s['width']}x{s['height']} px, scrolls: {s['scrolls']}")
        problems += S.tall_slides_report([deck])
    assert not problems, "\n".join(problems)


def test_the_overflow_check_sees_a_slide_too_tall_and_one_too_wide(built):
    """Control: the measurement the build fails on catches both kinds of overflow, and passes a slide that fits."""
    report = built["results"][built["where"]["bad"]]["report"]
    assert [t["page"] for t in report["tall"]] == [1, 2], report["tall"]
    assert report["tall"][0]["height"] > report["tall"][0]["pageHeight"]
    assert report["tall"][1]["width"] > report["tall"][1]["pageWidth"]


def test_word_budgets(built):
    """A slide is a few short lines: median at most 40 words per deck, none over 80 (speaker notes excluded)."""
    for language, deck, shown in each_deck(built):
        words = [s["words"] for s in shown["per_slide"]]
        assert statistics.median(words) <= MEDIAN_WORDS, f"{language}/{deck.lesson_id}: median {statistics.median(words)}"
        crowded = [(s["index"] + 1, s["title"], s["words"]) for s in shown["per_slide"] if s["words"] > MAX_WORDS]
        assert not crowded, f"{language}/{deck.lesson_id}: slides over {MAX_WORDS} words: {crowded}"
        assert sum(s["notes_words"] for s in shown["per_slide"]) > 5 * sum(words), \
            f"{language}/{deck.lesson_id}: the lesson's prose should be in the speaker notes"


def test_code_on_a_slide_is_at_most_twelve_lines(built):
    for language, deck, shown in each_deck(built):
        assert deck.long_code == []
        for s in shown["per_slide"]:
            assert all(n <= S.MAX_CODE_LINES for n in s["code_lines"]), f"{language}/{deck.lesson_id}: {s}"


def test_pictures_first(built):
    """Most slides carry a figure or a formula (exercise slides, which say what to write, aside), and every
    deck shows the lesson's own figures."""
    for language, deck, shown in each_deck(built):
        lecture = [s for s in shown["per_slide"] if not s["exercise"]]
        pictured = [s for s in lecture if s["images"] or s["formulas"]]
        assert len(pictured) >= 0.5 * len(lecture), \
            f"{language}/{deck.lesson_id}: {len(pictured)} of {len(lecture)} slides have a figure or formula"
        assert re.search(r'<img[^>]+src="data:image/png', deck.html.read_text(encoding="utf-8")), deck.lesson_id


def test_every_formula_is_typeset_on_the_slides_and_visible_when_printed(built):
    for language, deck, shown in each_deck(built):
        math, printed = shown["math"], deck.printed
        assert deck.formulas > 0, f"{deck.lesson_id}: no formula on the slides?"
        assert math["errors"] == 0 and printed["math"]["errors"] == 0, f"{language}/{deck.lesson_id}: TeX errors"
        assert math["found"] == math["typeset"] == deck.formulas, f"{language}/{deck.lesson_id}: {math} != {deck.formulas}"
        assert printed["math"]["visible"] == deck.formulas, f"{language}/{deck.lesson_id}: {printed['math']}"


def test_pdf_has_one_page_per_slide(built):
    for language, deck, shown in each_deck(built):
        pages = S.pdf_page_count(deck.pdf)
        assert pages == shown["slides"], f"{language}/{deck.lesson_id}: {pages} PDF pages for {shown['slides']} slides"


def test_arrow_keys_overview_and_speaker_notes(built):
    for language, deck, shown in each_deck(built):
        if "keys" not in shown:
            continue
        keys = shown["keys"]
        assert keys["after_right"]["h"] == 1 and keys["after_left"]["h"] == 0, keys
        assert keys["overview"] is True, "Esc did not open the overview"
        assert keys["notes_window"], "s did not open the speaker notes"
        first_notes = nbformat.read(str(built["editions"][language]["slides"] / f".{deck.lesson_id}.deck.ipynb"),
                                    as_version=4)
        notes = next(c.source for c in first_notes.cells if S.slide_type(c) == "notes")
        words = [w for w in re.findall(r"[^\W\d_]{6,}", notes)][:3]
        assert words and all(w in keys["notes_text"] for w in words), (words, keys["notes_text"][:300])
        return
    pytest.fail("no deck was tried with the keyboard")


def test_no_solution_on_any_slide_or_page(built):
    for language, edition in built["editions"].items():
        for deck in edition["decks"]:
            for path in (deck.html, edition["site"] / "lessons" / f"{deck.lesson_id}.html"):
                markup = path.read_text(encoding="utf-8")
                assert S.leaks(markup, deck.lesson_id) == [], path
            assert "NotImplementedError" not in deck.html.read_text(encoding="utf-8"), "an exercise cell is on a slide"
    for result in built["results"]:
        assert not any(m in result.get("text", "") for m in S.SOLUTION_MARKERS)


def test_screenshots_of_one_slide_of_each_deck(built):
    for language, deck, shown in each_deck(built):
        [path] = shown["screenshots"]
        assert (ARTIFACTS / "slides" / language / f"{deck.lesson_id}.png").stat().st_size > 10_000, path


def test_vietnamese_edition_shows_vietnamese_text_and_figures(built):
    edition = built["editions"]["vi"]
    for deck in edition["decks"]:
        shown = built["results"][built["where"][("deck", "vi", deck.lesson_id)]]
        assert re.search(r"Bài \d", deck.title), f"{deck.lesson_id}: title {deck.title!r} is not the Vietnamese one"
        assert re.search(r"[ăâđêôơưạảấầẩậắằẳặẹẻẽếềểệỉịọỏốồổộớờởợụủứừửựỳỵỷỹ]", shown["text"]), deck.lesson_id
        notebook = nbformat.read(str(edition["slides"] / f".{deck.lesson_id}.illustrated.ipynb"), as_version=4)
        assert notebook.metadata["rnn_course"]["language"] == "vi"


# ---------------------------------------------------------------- the site

def test_site_is_built_by_sphinx_with_search(built):
    for language, edition in built["editions"].items():
        index = edition["index"].read_text(encoding="utf-8")
        assert re.search(r'<html[^>]+lang="' + language, index), f"{language}: wrong lang attribute"
        assert (edition["site"] / "searchindex.js").exists() and (edition["site"] / "search.html").exists()
        assert "_static/documentation_options.js" in index, "not a Sphinx page"


def test_site_index_links_every_lesson_its_slides_pdf_and_notebook(built):
    for language, edition in built["editions"].items():
        page = built["results"][built["where"][("index", language)]]
        for deck in edition["decks"]:
            lid = deck.lesson_id
            for href in (f"lessons/{lid}.html", f"lessons/{lid}.ipynb", f"slides/{lid}.slides.html", f"slides/{lid}.pdf"):
                assert href in page["links"], f"{language}: index has no link to {href}"
                assert (edition["site"] / href).exists(), f"{language}: {href} is linked but missing"
            assert (edition["site"] / "lessons" / f"{lid}.ipynb").read_bytes() == \
                (edition["lessons_dir"] / f"{lid}.ipynb").read_bytes()
            assert deck.title in page["text"]


def test_each_lesson_page_links_its_deck_and_its_twin_in_the_other_language(built):
    for language, deck, page in each_page(built):
        site = built["editions"][language]["site"]
        assert f"../slides/{deck.lesson_id}.slides.html" in page["links"], f"{language}/{deck.lesson_id}"
        twins = [h for h in page["links"] if h.endswith(f"lessons/{deck.lesson_id}.html") and ("vi/" in h) != (language == "vi")]
        assert twins, f"{language}/{deck.lesson_id}: no language switch in {page['links'][:20]}"
        assert ((site / "lessons" / twins[0]).resolve()).exists(), twins[0]


def test_site_pages_show_figures_and_typeset_their_math(built):
    for language, deck, page in each_page(built):
        math = page["math"]
        assert math["found"] > 5 and math["errors"] == 0 and math["typeset"] == math["found"], f"{language}/{deck.lesson_id}: {math}"
        markup = (built["editions"][language]["site"] / "lessons" / f"{deck.lesson_id}.html").read_text(encoding="utf-8")
        assert re.search(r'<img[^>]+src="[^"]*_images/', markup), f"{language}/{deck.lesson_id}: no figure"


def test_site_search_finds_forget_gate_on_lesson_4(built):
    for language in LANGUAGES:
        result = built["results"][built["where"][("search", language)]]
        hrefs = [r["href"] for r in result["results"]]
        target = "04_lstm" if "04_lstm" in LESSON_IDS else LESSON_IDS[-1]
        assert any(h.split("?")[0].split("#")[0].endswith(f"lessons/{target}.html") for h in hrefs), \
            f"{language}: searching {SEARCH[language]!r} gave {hrefs}"
