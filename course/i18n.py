"""The language of what code shows: check messages, figure titles, axis labels and legends.

The lesson text of each edition is built from catalogues (see autograder/translate.py); the strings
that code prints or draws are translated here, at run time, so that the code cells of every edition
are identical. English is the default. The language is, in order of precedence:

1. the environment variable RNN_COURSE_LANG (`en` or `vi`);
2. the metadata `rnn_course.language` of the notebook the kernel runs (Jupyter tells the kernel
   its notebook in JPY_SESSION_NAME);
3. the notebooks in the kernel's working folder, when they all declare the same language
   (lessons/vi/, and a submission folder while it is graded).

Message catalogues are JSON files in course/locale/<language>/, {English: translation}. An English
key may contain placeholders {%0}, {%1}, ... that match any text; the translation puts the matched
texts where its own {%0}, {%1}, ... are, each matched text itself translated if it can be. So a
message built with an f-string, "T = 21: accuracy 98.0%", is caught by the key "T = {%0}: accuracy {%1}".
"""
import functools
import json
import os
import re
from pathlib import Path

LOCALE = Path(__file__).resolve().parent / "locale"
DEFAULT = "en"
PLACEHOLDER = re.compile(r"\{%(\d+)\}")


def declared_language(notebook_path):
    """`rnn_course.language` from a notebook's metadata, None when absent or unreadable."""
    try:
        with open(notebook_path, encoding="utf-8") as handle:
            metadata = json.load(handle).get("metadata", {})
    except (OSError, ValueError):
        return None
    language = metadata.get("rnn_course", {}).get("language") if isinstance(metadata, dict) else None
    return language if isinstance(language, str) else None


def folder_language(folder):
    notebooks = sorted(Path(folder).glob("*.ipynb"))
    languages = {declared_language(path) or DEFAULT for path in notebooks}
    return languages.pop() if len(languages) == 1 else None


@functools.lru_cache(maxsize=1)
def language():
    """The language of this kernel: 'en' or one of the languages in course/locale/."""
    available = {DEFAULT} | {p.name for p in LOCALE.iterdir() if p.is_dir()} if LOCALE.exists() else {DEFAULT}
    chosen = os.environ.get("RNN_COURSE_LANG", "").strip().lower()
    if not chosen and os.environ.get("JPY_SESSION_NAME", "").endswith(".ipynb"):
        chosen = declared_language(os.environ["JPY_SESSION_NAME"]) or ""
    if not chosen:
        chosen = folder_language(Path.cwd()) or DEFAULT
    return chosen if chosen in available else DEFAULT


@functools.lru_cache(maxsize=None)
def catalogue(lang):
    """({exact English: translation}, [(compiled English template, translation)]) for `lang`."""
    exact, templates = {}, []
    for path in sorted((LOCALE / lang).glob("*.json")) if lang != DEFAULT else []:
        for english, translated in json.loads(path.read_text(encoding="utf-8")).items():
            if PLACEHOLDER.search(english):
                templates.append((template_pattern(english), translated))
            else:
                exact[english] = translated
    # Longer fixed text first: the most specific template wins.
    templates = [t for t in templates if fixed_text(t[0])]
    templates.sort(key=lambda item: -len(fixed_text(item[0])))
    return exact, templates


def fixed_text(pattern):
    return re.sub(r"\(\?P<p\d+>\.\*\?\)", "", pattern.pattern)


def template_pattern(english):
    parts = PLACEHOLDER.split(english)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<p{part}>.*?)" for i, part in enumerate(parts))
    return re.compile(regex + r"\Z", re.DOTALL)


@functools.lru_cache(maxsize=4096)
def translate(text, lang=None):
    """`text` in the kernel's language (or `lang`); unchanged when the catalogue has nothing for it."""
    lang = lang or language()
    if lang == DEFAULT or not isinstance(text, str) or not text.strip():
        return text
    exact, templates = catalogue(lang)
    if text in exact:
        return exact[text]
    for pattern, translated in templates:
        match = pattern.match(text)
        if match:
            values = {name[1:]: value if value == text else translate(value, lang)
                      for name, value in match.groupdict().items()}
            return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), translated)
    return text


tr = translate


def install_figure_translation():
    """Translate every text matplotlib draws (titles, labels, legends, annotations) as it is set."""
    if language() == DEFAULT:
        return
    from matplotlib import text as mtext

    if getattr(mtext.Text.set_text, "_course_translated", False):
        return
    original = mtext.Text.set_text

    def set_text(self, s):
        return original(self, translate(s) if isinstance(s, str) else s)

    set_text._course_translated = True
    mtext.Text.set_text = set_text
