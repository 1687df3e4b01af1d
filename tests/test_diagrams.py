"""course.diagrams: the four cell/architecture drawings draw, and every word on them is translated in Vietnamese."""
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from course import diagrams, i18n  # noqa: E402

EXAMPLE_WORDS = {"START", "STOP", "RNN", "CNN", "tanh"}


def words_drawn(fig):
    """Every text on the figure, with math spans and the example sentences' quoted tokens removed."""
    texts = []
    for text in fig.findobj(matplotlib.text.Text):
        raw = re.sub(r"\$[^$]*\$", "", text.get_text())
        raw = re.sub(r"“[^”]*”", "", raw).strip()
        if raw and raw not in EXAMPLE_WORDS and re.search(r"[A-Za-z]{2,}", raw):
            texts.append(raw)
    return texts


@pytest.mark.parametrize("name", list(diagrams.DIAGRAMS))
def test_each_diagram_draws_its_parts(name):
    fig = diagrams.DIAGRAMS[name]()
    drawn = " ".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))
    plt.close(fig)
    expected = {"lstm_cell": ["forget gate", "input gate", "output gate", "conveyor belt", "gradient", r"c_{t-1}"],
                "gru_cell": ["reset gate", "update gate", "gradient", r"1 - z_t"],
                "encoder_decoder": ["encoder", "decoder", "START", "STOP"],
                "captioning": ["image", "CNN", "START", "STOP"]}[name]
    for part in expected:
        assert part in drawn, f"{name}: '{part}' is not drawn"


def drawn_in(language, name, monkeypatch):
    monkeypatch.setenv("RNN_COURSE_LANG", language)
    i18n.language.cache_clear()
    i18n.translate.cache_clear()     # translate() caches per (text, lang=None): the language just changed
    try:
        i18n.install_figure_translation()
        fig = diagrams.DIAGRAMS[name]()
        texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        words = words_drawn(fig)
        plt.close(fig)
    finally:
        i18n.language.cache_clear()
        i18n.translate.cache_clear()
    return texts, words


@pytest.mark.parametrize("name", list(diagrams.DIAGRAMS))
def test_in_vietnamese_every_word_is_translated(name, monkeypatch):
    _, english_words = drawn_in("en", name, monkeypatch)
    vietnamese, _ = drawn_in("vi", name, monkeypatch)
    assert english_words, "the control: the English figure has words to translate"
    untranslated = [w for w in english_words if w in [re.sub(r"\$[^$]*\$", "", t).strip() for t in vietnamese]]
    assert untranslated == [], (f"{name}: still English in the Vietnamese figure: {untranslated} "
                                "(add them to course/locale/vi/course_diagrams.json)")
    if name == "captioning":
        assert "“tròn”" in vietnamese, "the caption is written in the student's language"
