"""The Vietnamese edition: complete, current, faithful where it must be, and identical where it must be.

- every markdown cell of every lesson has a translation of its current English text;
- math spans and inline code are the English ones (the status tool's checks can fail: see the controls);
- code cells, cell ids and nbgrader metadata are identical in both editions, solutions and student notebooks;
- the run-time catalogues are well formed, and a Vietnamese kernel shows Vietnamese check messages;
- the glossary's choices hold (no machine-translation blunders, the d2l-vn term named once per lesson).
(Grading the Vietnamese solutions is in test_grading.py: the demo's student `vy`; slides in test_slides.py.)
"""
import json
import re
import subprocess
import sys

import nbformat
import pytest

from autograder import translate as T
from autograder.lessons import LESSONS, ROOT, SOLUTIONS, lesson_ids, solution_path
from course import i18n

LESSON_IDS = lesson_ids()
LOCALE = ROOT / "course" / "locale" / "vi"


# ---------------------------------------------------------------- complete and current

@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_every_markdown_cell_has_a_current_translation(lesson_id):
    problems = T.status(lesson_id, "vi")
    assert problems == [], "\n".join(problems) + "\n(see solutions/vi/README.md)"


def pairs(english, translated):
    assert len(english.cells) == len(translated.cells)
    return zip(english.cells, translated.cells)


def assert_same_except_text(english, translated, where):
    for en, vi in pairs(english, translated):
        assert (en.cell_type, en.get("id")) == (vi.cell_type, vi.get("id")), where
        assert en.metadata == vi.metadata, f"{where} cell {en.id}: metadata differ"
        if en.cell_type == "code":
            assert en.source == vi.source, f"{where} cell {en.id}: code differs"
            assert en.get("outputs") == vi.get("outputs"), f"{where} cell {en.id}: outputs differ"
    metadata = {k: v for k, v in translated.metadata.items() if k != "rnn_course"}
    assert metadata == english.metadata, where
    assert translated.metadata["rnn_course"]["language"] == "vi"


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_student_notebooks_differ_only_in_text(lesson_id):
    english = nbformat.read(str(LESSONS / f"{lesson_id}.ipynb"), as_version=4)
    translated = nbformat.read(str(LESSONS / "vi" / f"{lesson_id}.ipynb"), as_version=4)
    assert_same_except_text(english, translated, f"lessons/vi/{lesson_id}.ipynb")
    changed = sum(en.source != vi.source for en, vi in pairs(english, translated) if en.cell_type == "markdown")
    assert changed == len(T.translatable_cells(english))


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_solution_notebooks_differ_only_in_text(lesson_id):
    english = nbformat.read(str(solution_path(lesson_id)), as_version=4)
    translated = T.translate_notebook(english, T.read_catalogue(lesson_id), "vi")
    assert_same_except_text(english, translated, f"vi solution of {lesson_id}")


# ---------------------------------------------------------------- the status tool can fail

@pytest.fixture
def one_lesson(tmp_path):
    """A scratch solutions/ folder with one small lesson and a correct catalogue for it."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("The hidden state $h_t$ is computed by `rnn_step`.", id="a1"),
                      nbformat.v4.new_code_cell("x = 1", id="b2"),
                      nbformat.v4.new_markdown_cell("Weights are shared by all the time steps of a sequence.", id="c3")]
    nbformat.write(notebook, str(tmp_path / "07_demo.ipynb"))
    catalogue = T.catalogue_path("07_demo", "vi", tmp_path)
    catalogue.parent.mkdir()
    catalogue.write_text(T.format_catalogue([
        T.Entry("a1", T.text_hash(notebook.cells[0].source), "Trạng thái ẩn $h_t$ được tính bởi `rnn_step`."),
        T.Entry("c3", T.text_hash(notebook.cells[2].source), "Các trọng số được chia sẻ giữa các bước thời gian."),
    ]), encoding="utf-8")
    return tmp_path, notebook, catalogue


def test_status_accepts_a_good_catalogue(one_lesson):
    solutions, notebook, _ = one_lesson
    assert T.status("07_demo", "vi", solutions) == []
    translated = T.translate_notebook(notebook, T.read_catalogue("07_demo", "vi", solutions), "vi")
    assert translated.cells[0].source.startswith("Trạng thái ẩn") and translated.cells[1].source == "x = 1"


@pytest.mark.parametrize("edit, complaint", [
    (lambda text: text.replace("$h_t$", "$h$"), "math spans differ"),
    (lambda text: text.replace("`rnn_step`", "rnn_step"), "code spans differ"),
    (lambda text: text.replace("Các trọng số được chia sẻ giữa các bước thời gian.", "TODO"), "not translated yet"),
    (lambda text: text.replace("Các trọng số được chia sẻ giữa các bước thời gian.",
                               "Weights are shared by all the time steps of a sequence."), "still the English text"),
    (lambda text: text + "\n<!-- cell zz9 en:000000000000 -->\nThừa.\n", "no such markdown cell"),
    (lambda text: text.split("<!-- cell c3")[0], "missing"),
])
def test_status_reports_each_kind_of_problem(one_lesson, edit, complaint):
    solutions, _, catalogue = one_lesson
    catalogue.write_text(edit(catalogue.read_text(encoding="utf-8")), encoding="utf-8")
    problems = T.status("07_demo", "vi", solutions)
    assert any(complaint in p for p in problems), problems


def test_a_changed_english_cell_makes_its_translation_stale(one_lesson):
    solutions, notebook, _ = one_lesson
    notebook.cells[2].source = "Weights are shared by all time steps of a sequence."
    nbformat.write(notebook, str(solutions / "07_demo.ipynb"))
    problems = T.status("07_demo", "vi", solutions)
    assert problems == ["vi/07_demo.md cell c3: stale (the English cell changed since it was translated)"]
    with pytest.raises(T.TranslationError, match="c3"):
        T.translate_notebook(notebook, T.read_catalogue("07_demo", "vi", solutions), "vi")
    lenient = T.translate_notebook(notebook, T.read_catalogue("07_demo", "vi", solutions), "vi", strict=False)
    assert lenient.cells[2].source == "Weights are shared by all time steps of a sequence."


def test_update_keeps_translations_and_adds_new_cells(one_lesson):
    solutions, notebook, catalogue = one_lesson
    notebook.cells.append(nbformat.v4.new_markdown_cell("A new section.", id="d4"))
    nbformat.write(notebook, str(solutions / "07_demo.ipynb"))
    T.update_catalogue("07_demo", "vi", solutions)
    entries = T.read_catalogue("07_demo", "vi", solutions)
    assert list(entries) == ["a1", "c3", "d4"] and entries["d4"].text == T.TODO
    assert entries["a1"].text.startswith("Trạng thái ẩn")


def test_trailing_spaces_do_not_make_a_translation_stale():
    assert T.text_hash("a line  \nnext\n") == T.text_hash("a line\nnext")
    assert T.text_hash("a line") != T.text_hash("a  line")


# ---------------------------------------------------------------- run-time messages

def catalogues():
    return sorted(LOCALE.glob("*.json"))


def test_there_is_a_message_catalogue_for_every_lesson_and_for_the_checks():
    names = {p.stem for p in catalogues()}
    assert set(LESSON_IDS) <= names and "course_checks" in names, names


@pytest.mark.parametrize("path", catalogues(), ids=lambda p: p.name)
def test_message_catalogue_is_well_formed(path):
    entries = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(entries, dict) and entries
    for english, vietnamese in entries.items():
        assert isinstance(vietnamese, str) and vietnamese.strip() and vietnamese != "TODO", english
        placeholders = sorted(set(i18n.PLACEHOLDER.findall(english)))
        assert sorted(set(i18n.PLACEHOLDER.findall(vietnamese))) == placeholders, \
            f"{path.name}: placeholders of {english!r} and {vietnamese!r} differ"
        assert english.count("$") == vietnamese.count("$"), f"{path.name}: math in {english!r} changed"


def test_no_key_is_translated_twice_differently():
    seen = {}
    for path in catalogues():
        for english, vietnamese in json.loads(path.read_text(encoding="utf-8")).items():
            if english in seen:
                assert seen[english][1] == vietnamese, f"{english!r}: {seen[english][0]} and {path.name} disagree"
            seen[english] = (path.name, vietnamese)


def test_templates_fill_in_values_and_translate_what_they_caught(monkeypatch, tmp_path):
    (tmp_path / "vi").mkdir()
    (tmp_path / "vi" / "x.json").write_text(json.dumps({
        "{%0}: {%1} is wrong.\n{%2}": "{%0}: {%1} sai.\n{%2}",
        "pad at the END.": "đệm ở CUỐI.",
        "T = {%0}: accuracy {%1}": "T = {%0}: độ chính xác {%1}",
    }), encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE", tmp_path)
    i18n.catalogue.cache_clear()
    i18n.translate.cache_clear()
    try:
        assert i18n.translate("T = 21: accuracy 98.0%", "vi") == "T = 21: độ chính xác 98.0%"
        assert i18n.translate("pad_batch: out is wrong.\npad at the END.", "vi") == "pad_batch: out sai.\nđệm ở CUỐI."
        assert i18n.translate("nothing known here", "vi") == "nothing known here"
        assert i18n.translate("T = 21: accuracy 98.0%", "en") == "T = 21: accuracy 98.0%"
    finally:
        i18n.catalogue.cache_clear()
        i18n.translate.cache_clear()


def run_python(code, env_extra, cwd=None):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("RNN_COURSE_LANG", "JPY_SESSION_NAME")}
    env.update(env_extra)
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd or ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_language_comes_from_the_environment_then_the_notebook_then_the_folder(tmp_path):
    code = "import course.i18n as i; print(i.language())"
    assert run_python(code, {}, cwd=tmp_path) == "en"
    assert run_python(code, {"RNN_COURSE_LANG": "vi"}, cwd=tmp_path) == "vi"
    assert run_python(code, {"RNN_COURSE_LANG": "klingon"}, cwd=tmp_path) == "en"
    vi_notebook = LESSONS / "vi" / f"{LESSON_IDS[1]}.ipynb"
    assert run_python(code, {"JPY_SESSION_NAME": str(vi_notebook)}, cwd=tmp_path) == "vi"
    assert run_python(code, {"JPY_SESSION_NAME": str(LESSONS / f"{LESSON_IDS[1]}.ipynb")}, cwd=tmp_path) == "en"
    assert run_python(code, {}, cwd=LESSONS / "vi") == "vi"
    assert run_python(code, {}, cwd=LESSONS) == "en"
    assert run_python(code, {"RNN_COURSE_LANG": "en"}, cwd=LESSONS / "vi") == "en"


def test_a_wrong_answer_gets_a_vietnamese_message_in_the_vietnamese_edition():
    code = """
import numpy as np, course
try:
    course.check_close("rnn_step_forward", np.zeros((2, 3)), np.ones((2, 3)), what="next_h")
except AssertionError as error:
    print(error)
try:
    course.check_shape("rnn_step_forward", np.zeros((3, 2)), (2, 3), what="next_h")
except AssertionError as error:
    print(error)
"""
    english = run_python(code, {"RNN_COURSE_LANG": "en"})
    vietnamese = run_python(code, {"RNN_COURSE_LANG": "vi"})
    assert "rnn_step_forward" in vietnamese and "next_h" in vietnamese
    english_words = {w for w in re.findall(r"[a-z]{4,}", english) if w not in
                     {"next", "step", "forward", "rnn_step_forward", "batch"}}   # "batch" is kept (GLOSSARY.md)
    left = [w for w in re.findall(r"[a-z]{4,}", vietnamese) if w in english_words - {"next_h"}]
    assert not left, f"English left in the Vietnamese message: {left}\n{vietnamese}"


# ---------------------------------------------------------------- the glossary holds

BLUNDERS = ["nhà nước ẩn", "trọng lượng", "thiên vị", "Grus"]


def vietnamese_texts():
    for lesson_id in LESSON_IDS:
        yield f"solutions/vi/{lesson_id}.md", T.catalogue_path(lesson_id).read_text(encoding="utf-8")
    for path in catalogues():
        yield f"course/locale/vi/{path.name}", "\n".join(json.loads(path.read_text(encoding="utf-8")).values())


def test_no_machine_translation_blunders():
    for name, text in vietnamese_texts():
        for blunder in BLUNDERS:
            assert blunder.lower() not in text.lower(), f"{name}: '{blunder}' (see solutions/vi/GLOSSARY.md)"


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_the_lesson_says_recurrent_network_the_lectures_way(lesson_id):
    text = T.catalogue_path(lesson_id).read_text(encoding="utf-8").lower()
    assert "mạng hồi quy" in text or "mạng nơ-ron hồi quy" in text
    lesson_text = text.split("## đọc thêm")[0]   # a further-reading entry may cite d2l-vn's chapter title
    assert lesson_text.count("hồi tiếp") <= 1, "d2l-vn's term is mentioned once, in the goals (GLOSSARY.md)"


def test_a_student_switches_language_without_losing_work(tmp_path):
    lesson_id = LESSON_IDS[1]
    mine = nbformat.read(str(LESSONS / f"{lesson_id}.ipynb"), as_version=4)
    for cell in mine.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "# my work in progress\nx = 42"
    nbformat.write(mine, str(tmp_path / f"{lesson_id}.ipynb"))
    vi_path = T.switch_language(tmp_path / f"{lesson_id}.ipynb", "vi")
    back_path = T.switch_language(vi_path, "en", out=tmp_path / "back.ipynb")
    vi, back = (nbformat.read(str(p), as_version=4) for p in (vi_path, back_path))
    assert vi.metadata["rnn_course"]["language"] == "vi"
    for before, during, after in zip(mine.cells, vi.cells, back.cells):
        if before.cell_type == "code":
            assert before.source == during.source == after.source
        elif before.source.strip():
            assert during.source != before.source and after.source == before.source
    assert "rnn_course" not in back.metadata


# ---------------------------------------------------------------- the lecture's words (issue 14)

def test_words_inside_math_text_are_translated_but_the_math_is_not():
    english = r"Clip: $$g \leftarrow g \cdot \frac{c}{\|g\|} \quad \text{if } \|g\| > c$$"
    assert T.untranslatable_differences(english, r"Cắt: $$g \leftarrow g \cdot \frac{c}{\|g\|} \quad \text{nếu } \|g\| > c$$") == []
    changed = T.untranslatable_differences(english, r"Cắt: $$g \leftarrow g \cdot \frac{c}{\|g\|} \quad \text{nếu } \|g\| \ge c$$")
    assert changed and "math spans differ" in changed[0]


# names of code objects and symbols written with \text: they stay as they are in every edition
MATH_TEXT_NAMES = {"PP", "ids", "ids ", "mask", "out", r"pad\_id", "prev", "next", "reshape", "torch:", "one-hot / embedding"}


@pytest.mark.parametrize("lesson_id", LESSON_IDS)
def test_english_words_in_math_are_translated_in_the_vietnamese_edition(lesson_id):
    notebook = nbformat.read(str(solution_path(lesson_id)), as_version=4)
    entries = T.read_catalogue(lesson_id)
    words = re.compile(r"\\text(?:bf|it|rm|sf)?\{([^{}]*)\}")
    for cell in T.translatable_cells(notebook):
        english = {w for span in T.MATH_SPAN.findall(cell.source) for w in words.findall(span)}
        kept = {w for span in T.MATH_SPAN.findall(entries[cell.id].text) for w in words.findall(span)}
        untranslated = sorted(w for w in english & kept if w not in MATH_TEXT_NAMES and re.search(r"[a-z]{2}", w))
        assert untranslated == [], f"{lesson_id} cell {cell.id}: \\text{{...}} still English: {untranslated}"


# (a word other books use, the lecture's word): the Vietnamese edition uses the lecture's (GLOSSARY.md names both)
LECTURE_TERMS = [(r"\btrải\b(?! dài)", "duỗi (unroll)"), (r"tiêu biến", "triệt tiêu (vanishing)"),
                 (r"phân loại cảm xúc", "phân loại sắc thái (sentiment)"), (r"chú thích\s+(cho\s+)?ảnh", "sinh mô tả ảnh (captioning)"),
                 (r"(?<!còn gọi là )nhiều tầng", "nhiều lớp (deep RNN)")]


def test_the_vietnamese_edition_uses_the_lectures_terms():
    for name, text in vietnamese_texts():
        for other, lecture in LECTURE_TERMS:
            found = re.search(other, text, re.IGNORECASE)
            assert not found, f"{name}: '{found.group(0)}': the lecture says {lecture} (solutions/vi/GLOSSARY.md)"
    glossary = (ROOT / "solutions" / "vi" / "GLOSSARY.md").read_text(encoding="utf-8")
    for word in ("duỗi", "trải", "triệt tiêu", "tiêu biến", "phân loại sắc thái", "phân loại cảm xúc", "sinh mô tả ảnh",
                 "chú thích ảnh", "nhiều lớp", "nhiều tầng"):
        assert word in glossary, f"GLOSSARY.md should name '{word}'"
