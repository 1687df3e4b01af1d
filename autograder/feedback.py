"""FeedbackExporter: nbconvert's HTMLExporter for nbgrader's feedback pages, made cheaper per page.

The grader sets `GenerateFeedback.exporter_class` to it in its workers (autograder/grade.py); the
pages are the same, byte for byte, as those of nbconvert's HTMLExporter (tests/test_preload.py
compares them). nbgrader makes a new exporter for every page, so everything below is cached per
worker process:

- the Jinja templates are compiled once (compiling the feedback template was ~0.1 s of each page;
  a changed template file gets a new key: jinja's bucket checksum);
- syntax highlighting (pygments: a pure function of the code, language, options and cell metadata)
  is done once per distinct cell: most code cells are the same in every student's notebook;
- HTMLExporter parses every page with BeautifulSoup and writes it out again (to give images an alt
  text); the highlighted code was most of what it parsed (a few thousand <span>s a page). Each
  highlighted block is given to that pass as a plain-text token instead, and afterwards replaced by
  the block as BeautifulSoup writes it out on its own (computed once per distinct block). A block is
  hidden that way only when that cannot change the result: a single <div> holding no image, script
  or style, the only things the pass looks at or treats specially.
"""
import json
import secrets

from bs4 import BeautifulSoup
from jinja2 import BytecodeCache
from nbconvert.exporters import HTMLExporter, TemplateExporter

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


def _bounded(cache):
    if len(cache) > CACHE_LIMIT:
        cache.clear()
    return cache


class _MemoizedHighlight:
    def __init__(self, highlight, seen):
        self.highlight, self.seen = highlight, seen

    def __call__(self, source, language=None, metadata=None):
        options = getattr(self.highlight, "extra_formatter_options", None)
        key = (type(self.highlight).__qualname__, getattr(self.highlight, "pygments_lexer", None),
               json.dumps(options, sort_keys=True, default=repr), source, language,
               json.dumps(metadata, sort_keys=True, default=repr))
        html = _HIGHLIGHTED.get(key)
        if html is None:
            html = _bounded(_HIGHLIGHTED)[key] = self.highlight(source, language, metadata)
        self.seen.add(html)
        return html


def _hideable(block):
    lowered = block.lower()
    return (lowered.startswith("<div") and lowered.count("<div") == 1 and lowered.endswith("</div>")
            and not any(tag in lowered for tag in ("<img", "<script", "<style", "<textarea", "<!--", "<![")))


def _written(block):
    html = _WRITTEN.get(block)
    if html is None:
        html = _bounded(_WRITTEN)[block] = str(BeautifulSoup(block, features="html.parser"))
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

    def __init__(self, *args, **kwargs):
        self._seen, self._tokens = set(), {}
        super().__init__(*args, **kwargs)

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _TEMPLATES
        return environment

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
