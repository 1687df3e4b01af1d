"""Normalise a submitted notebook against its release before nbgrader sees it.

nbgrader 0.9.6 aborts a student's grading with "Inconsistent checksums" when a grade or solution
flag was flipped, fails on a renamed grade_id, and leaves deleted solution cells in limbo. Here every
nbgrader cell of the submission is matched to the released notebook (by grade_id, else by the
notebook cell id) and gets the release's nbgrader metadata and cell type back; unknown nbgrader
cells lose their nbgrader metadata (they become ordinary cells, never extra grade cells); deleted
cells come back from the release (a deleted answer cell comes back as the unanswered stub). The
locked cells' sources (the tests) are then restored by nbgrader itself from the gradebook.

`suspicious_code` is a static scan of the student's cells for code that tampers with the grader;
it only flags (the grading itself is protected by the checker process and the sandbox).
"""
import copy
import re

import nbformat

SUSPICIOUS = [
    (re.compile(r"\b(np|numpy|torch|F|course|core|checks|autograder)(\.\w+)*\.\w+\s*=[^=]"), "assigns to an attribute of a library or of the checks"),
    (re.compile(r"setattr\s*\(\s*(np|numpy|torch|course|builtins|core|sys)\b"), "setattr on a library module"),
    (re.compile(r"\bautograder\b|gradebook|\bsolutions/"), "refers to the grader, its references or the gradebook"),
    (re.compile(r"display_formatter|displayhook|for_type\s*\(|showtraceback"), "touches IPython's display machinery"),
    (re.compile(r"__code__|__globals__|\bgc\.get_objects|\bctypes\b|sys\.modules\s*\["), "uses interpreter internals"),
    (re.compile(r"\bbuiltins\.\w+\s*=|__builtins__\s*\["), "replaces a builtin"),
    (re.compile(r"os\._exit|os\.kill|signal\.|faulthandler\._sigsegv"), "kills or signals the process"),
    (re.compile(r"\bsocket\b|urllib|requests\.|http\.client"), "uses the network"),
    (re.compile(r"settrace|setprofile|sys\.monitoring"), "installs a tracing or profiling hook"),
    (re.compile(r"_getframe|\bf_back\b|\bf_locals\b|\btb_frame\b|\bgi_frame\b|inspect\.(stack|currentframe|getouterframes)"),
     "walks the interpreter's frames"),
    (re.compile(r"\bthreading\b|\b_thread\b|\bmultiprocessing\b"), "starts threads or processes"),
    (re.compile(r"""(__import__|import_module)\s*\((?!\s*["'][\w.]+["']\s*[,)])|spec_from_file_location|\brunpy\b"""),
     "imports modules by a computed name"),
]


def nbgrader_meta(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else None


def _retyped(cell, cell_type):
    maker = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
             "raw": nbformat.v4.new_raw_cell}[cell_type]
    new = maker(source=cell.get("source", ""))
    if cell.get("id"):
        new["id"] = cell["id"]
    new.metadata = copy.deepcopy(cell.get("metadata", {}))
    return new


def normalise(notebook, released):
    """Fix `notebook` (a NotebookNode) in place against `released`; returns a list of notes."""
    notes = []
    release_cells = [c for c in released.cells if nbgrader_meta(c)]
    by_grade_id = {nbgrader_meta(c).get("grade_id"): c for c in release_cells}
    by_cell_id = {c.get("id"): c for c in release_cells if c.get("id")}
    used = set()
    cells = []
    for cell in notebook.cells:
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id") if meta else None
        target = None
        if grade_id in by_grade_id and grade_id not in used:
            target = by_grade_id[grade_id]
        elif cell.get("id") in by_cell_id and nbgrader_meta(by_cell_id[cell.get("id")])["grade_id"] not in used:
            target = by_cell_id[cell["id"]]
        if target is None:
            if "nbgrader" in cell.get("metadata", {}):
                notes.append(f"removed nbgrader metadata from a cell that is not in the release (grade_id {grade_id!r})")
                del cell.metadata["nbgrader"]
            cells.append(cell)
            continue
        wanted = nbgrader_meta(target)
        target_id = wanted["grade_id"]
        used.add(target_id)
        if cell.cell_type != target.cell_type:
            notes.append(f"{target_id}: cell type {cell.cell_type} restored to {target.cell_type}")
            cell = _retyped(cell, target.cell_type)
        if meta != wanted:
            changed = sorted(k for k in set(wanted) | set(meta or {}) if (meta or {}).get(k) != wanted.get(k))
            notes.append(f"{target_id}: nbgrader metadata restored ({', '.join(changed)})")
            cell.metadata["nbgrader"] = copy.deepcopy(wanted)
        cells.append(cell)
    # re-insert deleted cells after the cell that precedes them in the release
    position = {}
    for index, cell in enumerate(cells):
        meta = nbgrader_meta(cell)
        if meta:
            position[meta["grade_id"]] = index
    order = [nbgrader_meta(c)["grade_id"] for c in release_cells]
    for rank, grade_id in enumerate(order):
        if grade_id in used:
            continue
        before = [position[g] for g in order[:rank] if g in position]
        at = (max(before) + 1) if before else 0
        cells.insert(at, copy.deepcopy(by_grade_id[grade_id]))
        position = {g: (i + 1 if i >= at else i) for g, i in position.items()}
        position[grade_id] = at
        notes.append(f"{grade_id}: the deleted cell was put back from the release")
    notebook.cells = cells
    notebook.metadata["kernelspec"] = copy.deepcopy(released.metadata.get("kernelspec", {}))
    return notes


def suspicious_code(notebook):
    """Flags for student-editable code cells that look like an attempt to tamper with grading."""
    flags = []
    for cell in notebook.cells:
        meta = nbgrader_meta(cell) or {}
        if cell.cell_type != "code" or meta.get("locked"):
            continue
        where = meta.get("grade_id") or f"cell {cell.get('id', '?')}"
        for pattern, what in SUSPICIOUS:
            if pattern.search(cell.source):
                flags.append(f"{where}: code {what}")
    return flags


def normalise_file(path, released_path):
    """Read, normalise and rewrite the submission at `path`; returns (notes, suspicious flags)."""
    notebook = nbformat.read(str(path), as_version=4)
    released = nbformat.read(str(released_path), as_version=4)
    notes = normalise(notebook, released)
    flags = suspicious_code(notebook)
    nbformat.write(notebook, str(path))
    return notes, flags
