"""Translated editions: the English notebooks stay the source, the text of other languages lives in
per-lesson catalogues, and this module builds the translated notebooks from them.

A catalogue is `solutions/<language>/<lesson_id>.md`, one entry per markdown cell:

    <!-- cell 8ecc8ccc en:1a2b3c4d5e6f -->
    (the translated markdown of that cell)

`8ecc8ccc` is the cell's nbformat id (kept by nbgrader's release, so it names the same cell in the
solution and in the student notebook), `1a2b3c4d5e6f` the hash of the English text it translates.
When the English cell changes its hash changes and the entry is stale until someone updates it.
Code cells and all metadata are copied unchanged: the same autograder grades every edition.
Strings shown by code (figure text, check messages) are translated at run time by `course.i18n`.
"""
import copy
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.lessons import LESSONS, SOLUTIONS, lesson_ids, solution_path

LANGUAGES = ("vi",)
MARKER = re.compile(r"^<!-- cell (?P<id>[A-Za-z0-9_-]+) en:(?P<hash>[0-9a-f]{12}) -->[ \t]*$", re.MULTILINE)
TODO = "TODO"

MATH_SPAN = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$(?!\$).+?(?<!\\)\$", re.DOTALL)
CODE_SPAN = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
# Words inside math (\text{...}, \textbf{...}) are prose: a translation translates them, the math around stays.
MATH_TEXT = re.compile(r"\\text(bf|it|rm|sf)?\{[^{}]*\}")


class TranslationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Entry:
    cell_id: str
    en_hash: str
    text: str


def text_hash(source):
    """The version stamp of an English cell: 12 hex digits of SHA-256 of its text, trailing spaces ignored."""
    normalised = "\n".join(line.rstrip() for line in source.strip().splitlines())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:12]


def catalogue_path(lesson_id, language="vi", solutions=SOLUTIONS):
    return Path(solutions) / language / f"{lesson_id}.md"


def translatable_cells(notebook):
    """The cells whose text is translated: every non-empty markdown cell."""
    return [cell for cell in notebook.cells if cell.cell_type == "markdown" and cell.source.strip()]


def parse_catalogue(text):
    """{cell id: Entry} from a catalogue's text."""
    markers = list(MARKER.finditer(text))
    entries = {}
    for marker, following in zip(markers, markers[1:] + [None]):
        end = following.start() if following else len(text)
        cell_id = marker["id"]
        if cell_id in entries:
            raise TranslationError(f"cell {cell_id} appears twice in the catalogue")
        entries[cell_id] = Entry(cell_id, marker["hash"], text[marker.end():end].strip("\n").rstrip())
    return entries


def read_catalogue(lesson_id, language="vi", solutions=SOLUTIONS):
    path = catalogue_path(lesson_id, language, solutions)
    return parse_catalogue(path.read_text(encoding="utf-8")) if path.exists() else {}


def format_catalogue(entries):
    return "\n\n".join(f"<!-- cell {e.cell_id} en:{e.en_hash} -->\n{e.text}" for e in entries) + "\n"


def update_catalogue(lesson_id, language="vi", solutions=SOLUTIONS):
    """Rewrite the catalogue in notebook order: new cells get a TODO entry, removed cells are dropped,
    existing translations are kept with their old hash (so they stay stale until reviewed)."""
    notebook = nbformat.read(str(solution_path(lesson_id, solutions)), as_version=4)
    known = read_catalogue(lesson_id, language, solutions)
    entries = [known.get(cell.id) or Entry(cell.id, text_hash(cell.source), TODO)
               for cell in translatable_cells(notebook)]
    path = catalogue_path(lesson_id, language, solutions)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_catalogue(entries), encoding="utf-8")
    return path


def english_catalogue(lesson_id, solutions=SOLUTIONS):
    """A catalogue whose entries hold the current English text: where a translator starts."""
    notebook = nbformat.read(str(solution_path(lesson_id, solutions)), as_version=4)
    return format_catalogue([Entry(cell.id, text_hash(cell.source), cell.source.strip())
                             for cell in translatable_cells(notebook)])


def prose_letters(text):
    """Letters outside math, code and HTML tags: what a translation must change."""
    text = re.sub(r"<[^>]+>", " ", CODE_SPAN.sub(" ", MATH_SPAN.sub(" ", text)))
    return sum(ch.isalpha() for ch in text)


def spans(pattern, text):
    """The spans `pattern` finds, sorted; in math spans the words of \\text{...} are blanked (they are translated)."""
    found = (match.group(0) for match in pattern.finditer(text))
    if pattern is MATH_SPAN:
        found = (MATH_TEXT.sub(lambda m: f"\\text{m.group(1) or ''}{{}}", span) for span in found)
    return sorted(found)


def untranslatable_differences(english, translated):
    """What must be copied verbatim but was not: math spans and inline code, as readable lines."""
    problems = []
    for label, pattern in (("math", MATH_SPAN), ("code", CODE_SPAN)):
        # Code first: a `$` inside inline code is not math.
        en_text = CODE_SPAN.sub(" ", english) if label == "math" else english
        tr_text = CODE_SPAN.sub(" ", translated) if label == "math" else translated
        want, got = spans(pattern, en_text), spans(pattern, tr_text)
        if want != got:
            missing = [s for s in want if s not in got][:3]
            extra = [s for s in got if s not in want][:3]
            problems.append(f"{label} spans differ: missing {missing}, not in the English {extra}")
    return problems


def status(lesson_id, language="vi", solutions=SOLUTIONS):
    """Problems of one lesson's catalogue: missing, untranslated (TODO), stale, unknown, unmatched spans."""
    notebook = nbformat.read(str(solution_path(lesson_id, solutions)), as_version=4)
    entries = read_catalogue(lesson_id, language, solutions)
    problems = []
    cells = translatable_cells(notebook)
    for cell in cells:
        entry = entries.get(cell.id)
        where = f"{language}/{lesson_id}.md cell {cell.id}"
        if entry is None:
            problems.append(f"{where}: missing")
        elif entry.text.strip() in ("", TODO):
            problems.append(f"{where}: not translated yet")
        elif entry.en_hash != text_hash(cell.source):
            problems.append(f"{where}: stale (the English cell changed since it was translated)")
        elif entry.text.strip() == cell.source.strip() and prose_letters(cell.source) > 30:
            problems.append(f"{where}: still the English text")
        else:
            problems += [f"{where}: {p}" for p in untranslatable_differences(cell.source, entry.text)]
    ids = {cell.id for cell in cells}
    problems += [f"{language}/{lesson_id}.md cell {cid}: no such markdown cell in the English notebook"
                 for cid in entries if cid not in ids]
    return problems


def translate_notebook(notebook, entries, language, strict=True):
    """A copy of `notebook` with each markdown cell's text replaced by its catalogue entry.

    strict: raise on a missing or stale entry; otherwise keep the English text of those cells."""
    translated = copy.deepcopy(notebook)
    for cell in translatable_cells(translated):
        entry = entries.get(cell.id)
        current = entry is not None and entry.text not in ("", TODO) and entry.en_hash == text_hash(cell.source)
        if current:
            cell.source = entry.text
        elif strict:
            state = "missing" if entry is None else "stale or not translated"
            raise TranslationError(f"cell {cell.id}: translation {state}; run "
                                   f"`python3 -m autograder translate --status`")
    translated.metadata["rnn_course"] = {**translated.metadata.get("rnn_course", {}), "language": language}
    return translated


def translated_path(english_path, language):
    """lessons/02_vanilla_rnn.ipynb -> lessons/vi/02_vanilla_rnn.ipynb"""
    english_path = Path(english_path)
    return english_path.parent / language / english_path.name


def write_translation(english_path, lesson_id, language, target, strict=True, solutions=SOLUTIONS):
    notebook = nbformat.read(str(english_path), as_version=4)
    translated = translate_notebook(notebook, read_catalogue(lesson_id, language, solutions), language, strict)
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(translated, str(target))
    return Path(target)


def translate_lessons(language="vi", lessons=None, lessons_dir=LESSONS, solutions=SOLUTIONS, strict=True):
    """Write lessons/<language>/<lesson>.ipynb from the released English student notebooks."""
    written = []
    for lesson_id in lessons or lesson_ids(solutions):
        english = Path(lessons_dir) / f"{lesson_id}.ipynb"
        written.append(write_translation(english, lesson_id, language,
                                         translated_path(english, language), strict, solutions))
    return written


def write_solutions(language, out_dir, lessons=None, solutions=SOLUTIONS):
    """The translated solution notebooks (for slides and for tests), written to out_dir/<lesson>.ipynb."""
    return [write_translation(solution_path(lesson_id, solutions), lesson_id, language,
                              Path(out_dir) / f"{lesson_id}.ipynb", solutions=solutions)
            for lesson_id in lessons or lesson_ids(solutions)]


def switch_language(path, language, out=None, lessons_dir=LESSONS, solutions=SOLUTIONS):
    """A student's own notebook in the other edition: its markdown cells replaced by that edition's
    text (matched by cell id), its code cells, outputs and metadata untouched, so no work is lost.
    Written to `out` (default: beside it, <name>.<language>.ipynb); returns the path."""
    path = Path(path)
    notebook = nbformat.read(str(path), as_version=4)
    lesson_id = next((lid for lid in sorted(lesson_ids(solutions), key=len, reverse=True)
                      if path.stem.startswith(lid)), None)
    if lesson_id is None:
        raise TranslationError(f"{path.name}: not a lesson notebook (its name should start with a lesson id "
                               f"such as {lesson_ids(solutions)[0]})")
    if language == "en":
        english = nbformat.read(str(Path(lessons_dir) / f"{lesson_id}.ipynb"), as_version=4)
        text = {cell.get("id"): cell.source for cell in translatable_cells(english)}
        switched = copy.deepcopy(notebook)
        for cell in translatable_cells(switched):
            cell.source = text.get(cell.get("id"), cell.source)
        switched.metadata.pop("rnn_course", None)
    else:
        switched = translate_notebook(notebook, read_catalogue(lesson_id, language, solutions), language,
                                      strict=False)
    out = Path(out) if out else path.with_name(f"{lesson_id}.{language}.ipynb")
    nbformat.write(switched, str(out))
    return out


def notebook_language(path):
    """The language a notebook declares in its metadata (`rnn_course.language`), 'en' when none."""
    try:
        notebook = nbformat.read(str(path), as_version=4)
    except Exception:
        return "en"
    return notebook.metadata.get("rnn_course", {}).get("language", "en")

