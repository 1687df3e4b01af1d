"""The course site: a static, offline site of the released notebooks and the slides, in build/site/.

    build/site/index.html              the course and the lesson table
    build/site/lessons/NN.html         each released (student) notebook as a page, with the lesson's figures
    build/site/lessons/NN.ipynb        the student notebook to download (exactly lessons/NN.ipynb)
    build/site/slides/                 the decks, their PDFs and lib/ (MathJax, reveal.js), shared by the pages

No dependency beyond nbconvert: each page is nbconvert's lab template (without its mermaid import) with
MathJax and require.js pointed at slides/lib/. Pages are made from the *released* notebooks (with the
outputs of their concept cells, see slides.illustrated_notebook), never from solutions/.
"""
import html
import shutil
from pathlib import Path

import nbformat

from autograder.lessons import BUILD, LESSONS
from autograder.slides import MATHJAX_CONFIG, TEMPLATES, SlidesError, leaks

SITE = BUILD / "site"

INDEX = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 60em; margin: 2em auto;
       padding: 0 1em; line-height: 1.5; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: 0.4em 0.8em; border-bottom: 1px solid #ddd; }}
th {{ background: #f4f4f4; }}
code {{ background: #f4f4f4; padding: 0 0.2em; }}
.editions {{ float: right; }}
</style>
</head>
<body>
<p class="editions">{editions}</p>
<h1>{title}</h1>
{intro}
<table>
<thead><tr><th>#</th><th>{lesson}</th><th>Notebook</th><th>Slides</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<p>{footer}</p>
</body>
</html>
"""

TEXT = {
    "en": {
        "title": "Recurrent neural networks",
        "intro": """<p>A course on recurrent neural networks, following the lecture
<em>Học sâu và ứng dụng – Bài 9: Mạng hồi quy</em>: sequence problems, the vanilla RNN, backpropagation through
time, LSTM, GRU and applications. Each lesson explains an idea, then you implement it in NumPy (forward and
backward) and in PyTorch, with checks that tell you what is wrong.</p>
<p>Read a lesson here, or download its notebook and work in JupyterLab, Notebook 7, VS Code or Colab. The
pages show the figures; the downloaded notebooks have no outputs until you run them.</p>""",
        "lesson": "Lesson",
        "footer": "Everything here works offline. Slides: arrow keys to move, <code>Esc</code> for an overview.",
        "download": "Download the notebook",
        "other": ("Tiếng Việt", "vi/index.html"),
    },
    "vi": {
        "title": "Mạng hồi quy",
        "intro": """<p>Khoá học về mạng hồi quy (recurrent neural networks), đi theo bài giảng
<em>Học sâu và ứng dụng – Bài 9: Mạng hồi quy</em>: bài toán dự đoán chuỗi, RNN cơ bản, lan truyền ngược theo
thời gian, LSTM, GRU và các ứng dụng. Mỗi bài giải thích một ý tưởng, rồi bạn tự cài đặt nó bằng NumPy (lượt
truyền xuôi và truyền ngược) và bằng PyTorch, kèm các bước kiểm tra chỉ ra chỗ sai.</p>
<p>Bạn có thể đọc bài ngay trên trang này, hoặc tải notebook về và làm bài trong JupyterLab, Notebook 7, VS Code
hay Colab. Các trang có sẵn hình vẽ; notebook tải về chưa có kết quả nào cho đến khi bạn chạy nó.</p>""",
        "lesson": "Bài",
        "footer": "Mọi thứ ở đây dùng được khi không có mạng. Slide: phím mũi tên để chuyển, <code>Esc</code> để xem tổng quan.",
        "download": "Tải notebook",
        "other": ("English", "../index.html"),
    },
}

ROW = ('<tr><td>{number}</td><td><a href="lessons/{lid}.html">{title}</a></td>'
       '<td><a href="lessons/{lid}.ipynb" download>{lid}.ipynb</a></td>'
       '<td>{slides}</td></tr>')


def export_page(notebook, lesson_id, out_dir, lib="../slides/lib", links=()):
    """Write out_dir/<lesson_id>.html (nbconvert lab template, local MathJax); returns the path."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.TemplateExporter.extra_template_basedirs = [str(TEMPLATES)]
    config.HTMLExporter.template_name = "lab_offline"
    config.HTMLExporter.mathjax_url = f"{lib}/mathjax/MathJax.js?config={MATHJAX_CONFIG}"
    config.HTMLExporter.require_js_url = f"{lib}/require.js"
    exporter = HTMLExporter(config=config)
    from autograder.slides import lesson_title

    body, _ = exporter.from_notebook_node(notebook, resources={
        "metadata": {"name": lesson_title(notebook, lesson_id)}, "course_links": list(links)})
    path = Path(out_dir) / f"{lesson_id}.html"
    path.write_text(body, encoding="utf-8")
    return path


def build_site(decks, slides_dir, out=SITE, lessons_dir=LESSONS, language="en"):
    """Build the site from the decks made by slides.build_decks (their illustrated notebooks and files).
    The Vietnamese edition's site goes to site/vi/; each index links to the other edition."""
    text = TEXT[language]
    out, slides_dir = Path(out), Path(slides_dir)
    for previous in (out / "lessons", out / "slides"):   # other editions' folders (site/vi/) stay
        if previous.exists():
            shutil.rmtree(previous)
    (out / "lessons").mkdir(parents=True)
    shutil.copytree(slides_dir, out / "slides", ignore=shutil.ignore_patterns(".*", *TEXT))
    rows = []
    for deck in decks:
        lid = deck.lesson_id
        notebook = nbformat.read(str(slides_dir / f".{lid}.illustrated.ipynb"), as_version=4)
        links = [("Slides", f"../slides/{lid}.slides.html")]
        if deck.pdf:
            links.append(("PDF", f"../slides/{lid}.pdf"))
        links.append((text["download"], f"{lid}.ipynb"))
        page = export_page(notebook, lid, out / "lessons", links=links)
        found = leaks(page.read_text(encoding="utf-8"), lid, lessons_dir=lessons_dir)
        if found:
            page.unlink()
            raise SlidesError(f"{lid}: solution text on the site page, page not written: {found[:5]}")
        shutil.copyfile(Path(lessons_dir) / f"{lid}.ipynb", out / "lessons" / f"{lid}.ipynb")
        slides = f'<a href="slides/{lid}.slides.html">slides</a>'
        if deck.pdf:
            slides += f' · <a href="slides/{lid}.pdf">PDF</a>'
        number = lid.split("_")[0].lstrip("0") or "0"
        rows.append(ROW.format(number=number, lid=lid, title=html.escape(deck.title), slides=slides))
    index = out / "index.html"
    label, href = text["other"]
    other_exists = (out / href).resolve().exists()
    index.write_text(INDEX.format(lang=language, title=html.escape(text["title"]), intro=text["intro"],
                                  lesson=text["lesson"], footer=text["footer"], rows="\n".join(rows),
                                  editions=f'<a href="{href}">{label}</a>' if other_exists else ""),
                     encoding="utf-8")
    return index
