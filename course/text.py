"""The text corpora of the course (shipped in course/data/, see its README.md for origin and license).

    import course.text
    text = course.text.load_corpus("shakespeare")          # one str, Unicode NFC
    train, held_out = course.text.load_split("kieu")        # the split used by lessons 1 and 6

Data loading only: no model code lives here.
"""
import unicodedata
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

CORPORA = {
    "shakespeare": "shakespeare.txt",   # Shakespeare, Macbeth + Romeo and Juliet (public domain)
    "kieu": "truyen_kieu.txt",          # Nguyễn Du, Truyện Kiều, lines 1-442 (public domain)
}

HELD_OUT_FRACTION = 0.1


def corpus_names():
    """The names that load_corpus accepts."""
    return sorted(CORPORA)


def normalize(text):
    """Unicode NFC and '\\n' line endings, so that one visible letter is one code point.

    'ệ' may arrive as one code point (U+1EC7) or as 'e' plus two combining marks; after NFC both
    are U+1EC7 and a character vocabulary sees one symbol.
    """
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def load_corpus(name):
    """The whole text of corpus `name` ("shakespeare" or "kieu") as one str, normalised to NFC."""
    if name not in CORPORA:
        raise KeyError(f"unknown corpus {name!r}; choose one of {corpus_names()}")
    return normalize((DATA / CORPORA[name]).read_text(encoding="utf-8"))


def split_text(text, held_out=HELD_OUT_FRACTION):
    """(train, held_out_text): the last `held_out` fraction of the text, cut at a line start.

    The held-out part is one contiguous block at the end, never seen in training, so a model is
    judged on text it has not memorised. train + held_out_text == text.
    """
    if not 0.0 < held_out < 1.0:
        raise ValueError("held_out must be a fraction between 0 and 1")
    cut = int(len(text) * (1.0 - held_out))
    newline = text.rfind("\n", 0, cut)
    if newline > 0:
        cut = newline + 1
    return text[:cut], text[cut:]


def load_split(name, held_out=HELD_OUT_FRACTION):
    """(train, held_out_text) of corpus `name`; the split that lessons 1 and 6 report perplexity on."""
    return split_text(load_corpus(name), held_out)
