"""FeedbackExporter: nbconvert's HTMLExporter for nbgrader's feedback pages, made cheaper per page.

The grader sets `GenerateFeedback.exporter_class` to it in its workers (autograder/grade.py); the
pages are the same, byte for byte, as those of nbconvert's HTMLExporter (tests/test_preload.py
compares them). nbgrader makes a new exporter for every page, so everything below is cached per
worker process:

- the Jinja templates are compiled once (compiling the feedback template was ~0.1 s of each page;
  a changed template file gets a new key: jinja's bucket checksum);
- syntax highlighting (pygments: a pure function of the code, the language, the options and the
  cell's "magics_language", the only metadata nbconvert reads for it) is done once per distinct
  cell: most code cells are the same in every student's notebook;
- HTMLExporter parses every page with BeautifulSoup and writes it out again (to give images an alt
  text); the highlighted code was most of what it parsed (a few thousand <span>s a page). Each
  highlighted block is given to that pass as a plain-text token instead, and afterwards replaced by
  the block as BeautifulSoup writes it out on its own (computed once per distinct block). A block is
  hidden that way only when that cannot change the result: a single <div> holding no image, script
  or style, the only things the pass looks at or treats specially. A block exactly as pygments
  writes it is not even parsed: what BeautifulSoup makes of it is known (_pygments_written);
- markdown (mistune) is rendered once per distinct cell: the instructor's text is the same on every
  page;
- the notebook is validated once, after nbconvert's preprocessors, not after each of them.

Math (offline_math, run on each page after it is written): nbgrader's feedback template loads
MathJax from a CDN, so offline the pages showed raw LaTeX ($h_t = \tanh(...)$). Each page instead
loads MathJax 2.7.9 from a `mathjax/` folder next to it, by a relative path, so a page still
typesets its math when its folder is copied to a student (a page copied without its folder falls
back to the CDN, as before). The files come from the pinned PyPI
package jupyter-server-mathjax (its static folder only; grading needs no Node); only what the
page's configuration (TeX input, HTML-CSS output, STIX-Web fonts) loads is copied (~2 MB), hard
linked where the file system allows, so a class of pages costs one copy.
"""
import importlib.util
import json
import os
import re
import secrets
import shutil
from pathlib import Path

from bs4 import BeautifulSoup
from jinja2 import BytecodeCache, pass_context
from nbconvert.exporters import HTMLExporter, TemplateExporter
from traitlets import default

CACHE_LIMIT = 20_000


class _MemoryBytecodeCache(BytecodeCache):
    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        code = self.compiled.get((bucket.key, bucket.checksum))
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self.compiled[(bucket.key, bucket.checksum)] = bucket.bytecode_to_string()


_TEMPLATES = _MemoryBytecodeCache()
_HIGHLIGHTED = {}   # (highlighter, options, source, language, metadata) -> html
_WRITTEN = {}       # html block -> that block as BeautifulSoup writes it out
_MARKDOWN = {}      # (source, and what else nbconvert's markdown2html reads) -> html


def _bounded(cache):
    if len(cache) > CACHE_LIMIT:
        cache.clear()
    return cache


class _MemoizedHighlight:
    def __init__(self, highlight, seen):
        self.highlight, self.seen = highlight, seen

    def __call__(self, source, language=None, metadata=None):
        options = getattr(self.highlight, "extra_formatter_options", None)
        # of a cell's metadata, nbconvert's highlighting reads only "magics_language"; the rest (the
        # execution timestamps nbclient records in every cell) would make every cell a new key
        magics = metadata.get("magics_language") if metadata else None
        key = (type(self.highlight).__qualname__, getattr(self.highlight, "pygments_lexer", None),
               json.dumps(options, sort_keys=True, default=repr), source, language, repr(magics))
        html = _HIGHLIGHTED.get(key)
        if html is None:
            html = _bounded(_HIGHLIGHTED)[key] = self.highlight(source, language, metadata)
        self.seen.add(html)
        return html


def _hideable(block):
    lowered = block.lower()
    return (lowered.startswith("<div") and lowered.count("<div") == 1 and lowered.endswith("</div>")
            and not any(tag in lowered for tag in ("<img", "<script", "<style", "<textarea", "<!--", "<![")))


# A block exactly as pygments' HtmlFormatter writes it: a div, a pre, spans with a class, text escaped
# with no other entities and no markup. BeautifulSoup's round trip of such a block is known: text
# unescaped and escaped again (only &amp; &lt; &gt; stay entities) and each class attribute's words
# joined by single spaces (class is a multi-valued attribute). tests/test_feedback_math.py compares
# the two on every code cell of the course and on random code.
_CLASS = r" *[\w-]+(?: +[\w-]+)* *"
_TEXT = r"(?:[^<>&]|&(?:amp|lt|gt|quot|#39);)"
_PYGMENTS_BLOCK = re.compile(rf'<div class="{_CLASS}"><pre>(?:<span(?: class="{_CLASS}")?>{_TEXT}*</span>|{_TEXT})*</pre></div>')
_CLASS_ATTRIBUTE = re.compile(r'(<(?:div|span) class=")([^"]*)">')


def _pygments_written(block):
    """`block` as BeautifulSoup writes it out, computed without parsing; None if it is not a plain
    pygments block."""
    if not _PYGMENTS_BLOCK.fullmatch(block):
        return None
    block = _CLASS_ATTRIBUTE.sub(lambda m: m.group(1) + " ".join(m.group(2).split()) + '">', block)
    return block.replace("&quot;", '"').replace("&#39;", "'")


def _soup_written(block):
    return str(BeautifulSoup(block, features="html.parser"))


def _written(block):
    html = _WRITTEN.get(block)
    if html is None:
        html = _bounded(_WRITTEN)[block] = _pygments_written(block) or _soup_written(block)
    return html


class _HighlightTokens(TemplateExporter):
    """Between HTMLExporter and TemplateExporter in FeedbackExporter's MRO: the rendered page, with
    each hideable highlighted block replaced by a token, goes on to HTMLExporter's BeautifulSoup pass."""

    def from_notebook_node(self, nb, resources=None, **kw):
        html, resources = super().from_notebook_node(nb, resources, **kw)
        seen, self._tokens = getattr(self, "_seen", set()), {}
        nonce = secrets.token_hex(8)
        if nonce in html:
            return html, resources
        # the element alone: whitespace around it merges with the page's, as it did in one piece
        for number, block in enumerate(sorted({b.strip() for b in seen}, key=len, reverse=True)):
            if _hideable(block) and block in html:
                name = f"rnngraderblock{nonce}n{number}x"
                token = f"<{name}></{name}>"   # an element, as the block was (whitespace around it is
                html = html.replace(block, token)  # collapsed alike), which BeautifulSoup writes back as is
                self._tokens[token] = block
        return html, resources


class FeedbackExporter(HTMLExporter, _HighlightTokens):
    """HTMLExporter with the per-process caches described in the module docstring (same output)."""

    @default("optimistic_validation")
    def _validate_once(self):
        # nbconvert validates the notebook after each of its ~12 preprocessors (most of them disabled
        # for HTML), ~0.1 s a page; with this option it validates once, after the last (an invalid
        # notebook still fails). The notebook was validated when it was autograded.
        return True

    def __init__(self, *args, **kwargs):
        self._seen, self._tokens = set(), {}
        super().__init__(*args, **kwargs)

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _TEMPLATES
        return environment

    @pass_context
    def markdown2html(self, context, source):
        if self.embed_images:   # then the result depends on image files too
            return super().markdown2html(context, source)
        cell = context.get("cell", {})
        key = (source, json.dumps(cell.get("attachments", {}), sort_keys=True, default=repr),
               context.get("resources", {}).get("metadata", {}).get("path", ""), self.anchor_link_text,
               self.exclude_anchor_links, json.dumps(self.lexer_options, sort_keys=True, default=repr))
        html = _MARKDOWN.get(key)
        if html is None:
            html = _bounded(_MARKDOWN)[key] = super().markdown2html(context, source)
        return html

    def register_filter(self, name, jinja_filter):
        if name == "highlight_code" and not isinstance(jinja_filter, _MemoizedHighlight):
            jinja_filter = _MemoizedHighlight(jinja_filter, self._seen)
        return super().register_filter(name, jinja_filter)

    def from_notebook_node(self, nb, resources=None, **kw):
        self._seen, self._tokens = set(), {}
        html, resources = super().from_notebook_node(nb, resources, **kw)
        for token, block in self._tokens.items():
            html = html.replace(token, _written(block))
        return html, resources


# ------------------------------------------------------------------------------------------ math, offline
MATHJAX_FOLDER = "mathjax"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
# What that configuration loads (found by opening a feedback page in Chromium: tests/test_feedback_math.py)
MATHJAX_PARTS = ("MathJax.js", "LICENSE", "config/TeX-AMS-MML_HTMLorMML-full.js", "config/Safe.js",
                 "extensions/Safe.js", "extensions/TeX", "extensions/HTML-CSS", "extensions/MathMenu.js",
                 "extensions/MathZoom.js", "jax/input/TeX", "jax/element", "jax/output/HTML-CSS",
                 "fonts/HTML-CSS/STIX-Web/woff")
# Fonts: only STIX-Web ships (as web fonts); without this MathJax first looks for its TeX fonts
MATHJAX_FONTS = ('<script type="text/x-mathjax-config">MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], '
                 'preferredFont: null, webFont: "STIX-Web", imageFont: null}});</script>\n')
_CDN_MATHJAX = re.compile(r'<script\s+src="(?P<url>https?://[^"]*mathjax[^"]*)"', re.I)


def mathjax_source():
    """The static folder of the pinned jupyter-server-mathjax package (MathJax 2.7.9)."""
    spec = importlib.util.find_spec("jupyter_server_mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("jupyter-server-mathjax is not installed (requirements.txt pins it): "
                           "run `python3 -m autograder setup`")
    return Path(list(spec.submodule_search_locations)[0]) / "static"


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def install_mathjax(folder):
    """Put the MathJax files the pages load into <folder>/mathjax (once per folder); returns it."""
    target = Path(folder) / MATHJAX_FOLDER
    if (target / "MathJax.js").exists():
        return target
    source = mathjax_source()
    scratch = Path(folder) / f".{MATHJAX_FOLDER}-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    for part in MATHJAX_PARTS:
        src = source / part
        if src.is_dir():
            shutil.copytree(src, scratch / part, copy_function=_link_or_copy, dirs_exist_ok=True)
        elif src.exists():
            (scratch / part).parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(src, scratch / part)
    try:
        scratch.rename(target)   # whole or not at all (another process may have put it there first)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def uses_local_mathjax(html):
    return f'<script src="{MATHJAX_FOLDER}/MathJax.js?config=' in html


def offline_math(page):
    """Make a written feedback page load MathJax from mathjax/ beside it, and put MathJax there."""
    page = Path(page)
    html = page.read_text(encoding="utf-8")
    def local(match):
        # the page alone, without its mathjax/ folder (nbgrader's release_feedback copies only the
        # .html): the CDN, as before, where there is a network
        fallback = ("var s=document.createElement('script');s.src='" + match.group("url") +
                    "';document.head.appendChild(s)")
        return (f'{MATHJAX_FONTS}<script src="{MATHJAX_FOLDER}/MathJax.js?config={MATHJAX_CONFIG}" '
                f'onerror="{fallback}"')
    changed = _CDN_MATHJAX.sub(local, html)
    if changed != html:
        page.write_text(changed, encoding="utf-8")
    if uses_local_mathjax(changed):
        install_mathjax(page.parent)
    return page
