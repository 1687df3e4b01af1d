"""HardenedExecute: nbgrader's Execute preprocessor, made safe to run a whole class through.

It replaces `Execute` in `Autograde.autograde_preprocessors` when this project's grader runs
(autograder/grade.py); `nbgrader autograde` from the command line is unchanged. Per notebook:

- a checker (autograder/checker/session.py) listens on a unix socket in the kernel's private runtime
  folder; before the first cell a silent prelude tells the kernel where (`autograder.in_kernel`);
- each grade cell that calls the checks runs as usual, and while it runs the checker, in a thread of
  this process, drives the question over the socket; the checker's score and report then REPLACE the
  cell's outputs, so nothing the notebook prints, returns or changes can alter a score. A grade cell
  the checker could not finish (a timeout, a dead kernel, a kernel that never called it) scores 0
  with the reason;
- a per-cell timeout (Execute.timeout) and a per-notebook budget (`notebook_budget`, seconds): cells
  after the budget is spent are not run and score 0;
- a kernel that dies (os._exit, a segfault, the memory limit) costs the cell it died in and the
  cells after it (0 points each); the cells before keep their scores and the batch goes on;
- outputs are capped per cell (`max_output_bytes`); results and errors are always kept.

What happened is left in REPORTS[(student, lesson, notebook)] for the grader (same process).
"""
import json
import os
import re
from queue import Empty
import tempfile
import time
import uuid
from pathlib import Path

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.client import NotebookClient
from nbclient.util import ensure_async, run_hook, run_sync
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade
from traitlets import Enum, Integer

from autograder import limits
from autograder.checker.session import CheckerSession

REPORTS = {}

PRELUDE = "import autograder.in_kernel as _rnn_checks; _rnn_checks.use_checker({path!r}); del _rnn_checks"
QUESTION_CALL = re.compile(r"""grade\(\s*["'](?P<name>[A-Za-z0-9_]+)["']""")


def error_output(ename, message):
    return NotebookNode(output_type="error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


def calls_checks(cell):
    return "autograder.in_kernel" in cell.source


def question_of(cell):
    """(question name, points) of a grade cell that calls the checks, from its (restored) source and
    nbgrader metadata; None when the source names no question."""
    match = QUESTION_CALL.search(cell.source)
    if not match:
        return None
    return match.group("name"), float(cell.metadata.get("nbgrader", {}).get("points", 0) or 0)


def scored_outputs(question):
    """The outputs a grade cell gets from the checker: its report, then its score as the cell's result."""
    return [NotebookNode(output_type="stream", name="stdout", text=question.report_text() + "\n"),
            NotebookNode(output_type="execute_result", execution_count=None, metadata={},
                         data={"text/plain": repr(float(question.score()))})]


class HardenedExecute(Execute):
    notebook_budget = Integer(limits.NOTEBOOK_BUDGET_S,
                              help="Seconds one notebook may run in all; later cells are not run.").tag(config=True)
    max_output_bytes = Integer(limits.MAX_OUTPUT_BYTES, help="Bytes of stream/display output kept per cell.").tag(config=True)
    prelude_timeout = Integer(limits.PRELUDE_TIMEOUT_S, help="Seconds for the silent prelude.").tag(config=True)
    # Nothing is read from a kernel after its last cell: kill it at once (a graceful shutdown waited
    # ~0.9 s per notebook for ipykernel to exit). The sandbox goes with it.
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate").tag(config=True)

    def create_kernel_manager(self):
        """Each kernel gets its own runtime folder (connection file and ipc sockets), which is all of
        the runtime the sandbox lets it see."""
        km = super().create_kernel_manager()
        folder = Path(os.environ.get("JUPYTER_RUNTIME_DIR") or tempfile.gettempdir()) / f"k-{uuid.uuid4().hex[:12]}"
        folder.mkdir(parents=True, exist_ok=True)
        km.connection_file = str(folder / "kernel.json")
        return km

    async def async_start_new_kernel_client(self):
        """nbclient's, except for the wait for readiness: jupyter_client's wait_for_ready() ends with
        0.2 s of waiting for a silent IOPub channel (~0.25 s per notebook, the grader's core idle).
        The messages that drain would discard belong to the kernel_info requests, and nbclient and
        this class read only messages whose parent is their own request, so they are left alone."""
        self.kc = self.km.client()
        await ensure_async(self.kc.start_channels())
        try:
            await self._async_wait_until_ready(self.startup_timeout)
        except Exception as error:
            self.log.error(f"Error occurred while starting new kernel client: {error}")
            await self._async_cleanup_kernel()
            raise
        self.kc.allow_stdin = False
        await run_hook(self.on_notebook_start, notebook=self.nb)
        return self.kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def _async_wait_until_ready(self, timeout):
        """A kernel_info reply on the shell channel and a message on IOPub (it is connected)."""
        deadline = time.monotonic() + timeout
        while True:
            self.kc.kernel_info()
            try:
                reply = await ensure_async(self.kc.shell_channel.get_msg(timeout=1))
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:
                    await ensure_async(self.kc.iopub_channel.get_msg(timeout=0.2))
                except Empty:
                    pass
                else:
                    self.kc._handle_kernel_info_reply(reply)
                    return
            if not await ensure_async(self.km.is_alive()):
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")

    def _get_timeout(self, cell):
        return getattr(self, "_cell_timeout", None) or super()._get_timeout(cell)

    # ----------------------------------------------------------------------------------- kernel I/O
    def _silent(self, code="", expressions=None, timeout=30):
        """Run code silently; returns (status, {name: text/plain or error})."""
        self._cell_timeout = timeout
        msg_id = self.kc.execute(code, silent=True, store_history=False, user_expressions=expressions or {})
        reply = self.wait_for_reply(msg_id)
        content = (reply or {}).get("content", {})
        results = {}
        for name, value in content.get("user_expressions", {}).items():
            if value.get("status") == "ok":
                results[name] = value.get("data", {}).get("text/plain", "")
            else:
                results[name] = f"error: {value.get('ename')}: {value.get('evalue')}"
        if content.get("status") != "ok":
            results["__error__"] = f"{content.get('ename')}: {content.get('evalue')}"
        return content.get("status"), results

    def output(self, outs, msg, display_id, cell_index):
        msg_type = msg["msg_type"]
        if msg_type in ("stream", "display_data", "update_display_data"):
            size = len(json.dumps(msg.get("content", {}), default=str))
            used = self._output_bytes.get(cell_index, 0)
            self._output_bytes[cell_index] = used + size
            if used + size > self.max_output_bytes:
                if cell_index not in self._truncated:
                    self._truncated.add(cell_index)
                    outs.append(NotebookNode(output_type="stream", name="stdout",
                                             text=f"\n[output truncated by the grader at {self.max_output_bytes} bytes]\n"))
                return None
        return super().output(outs, msg, display_id, cell_index)

    # ----------------------------------------------------------------------------------- the run
    def preprocess(self, nb, resources=None, km=None):
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        info = (resources or {}).get("nbgrader", {})
        key = (info.get("student"), info.get("assignment"), info.get("notebook"))
        report = REPORTS[key] = {"flags": [], "dead_at": None, "budget_exceeded_at": None, "truncated": [],
                                 "checker": None}
        self._output_bytes, self._truncated = {}, set()
        start = time.monotonic()
        stop = None
        with self.setup_kernel():
            checker = CheckerSession(Path(self.km.connection_file).parent)
            try:
                info_msg = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info_msg["content"]["language_info"]
                status, results = self._silent(PRELUDE.format(path=checker.path), timeout=self.prelude_timeout)
                report["checker"] = "ready" if status == "ok" else f"the prelude failed: {results.get('__error__')}"
                for index, cell in enumerate(self.nb.cells):
                    if cell.cell_type != "code" or not cell.source.strip():
                        continue
                    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
                    if stop:
                        cell.outputs = [error_output("NotRun", stop)]
                        continue
                    remaining = self.notebook_budget - (time.monotonic() - start)
                    if remaining <= 0:
                        stop = f"not run: the notebook's time budget ({self.notebook_budget} s) was spent"
                        report["budget_exceeded_at"] = grade_id
                        cell.outputs = [error_output("NotRun", stop)]
                        continue
                    question = question_of(cell) if is_grade(cell) and calls_checks(cell) else None
                    if question:
                        checker.arm(*question)
                    self._cell_timeout = max(1, min(self.timeout or 10**9, int(remaining) + 1))
                    try:
                        self.preprocess_cell(cell, resources, index)
                    except CellTimeoutError as error:   # nbgrader raises when a cell's output is late (iopub)
                        cell.outputs = list(cell.get("outputs", [])) + [error_output(
                            "CellTimeoutError", f"the cell's output did not all arrive in time ({error}); "
                            "grading goes on with the next cell")]
                    except DeadKernelError:
                        cell.outputs = list(cell.get("outputs", [])) + [error_output(
                            "DeadKernelError", "the kernel died while running this cell (os._exit, a crash, "
                            "or the memory limit); the cells after it were not run")]
                        stop = "not run: the kernel died in an earlier cell"
                        report["dead_at"] = grade_id
                    if question:
                        self._score_from_checker(cell, grade_id, checker, report, died=bool(stop))
                report["truncated"] = sorted(self._truncated)
            finally:
                checker.close()
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _score_from_checker(self, cell, grade_id, checker, report, died):
        """The checker's report and score become the cell's outputs; without them the cell scores 0."""
        question, reason, connected = checker.result(grace=0 if died else limits.CHECKER_GRACE_S)
        if question is not None:
            cell.outputs = scored_outputs(question)
            report["flags"].extend(f"{grade_id}: {note}" for note in question.notes)
            return
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if died:
            cell.outputs = errors + [error_output("NotGraded", "the kernel died, so the check could not finish: 0 points")]
        elif errors:      # the student's code ran out of time or raised through the check
            cell.outputs = errors + [error_output("NotGraded", f"the check could not finish ({reason}): 0 points")]
        else:             # the cell ended normally without the checker's answer: an honest one never does
            report["flags"].append(f"{grade_id}: the grade cell ended without the checker's score "
                                   f"({reason}; {'connected' if connected else 'never connected'}); scored 0")
            cell.outputs = [error_output("NotGraded", "the grade cell did not give the checker its answers: 0 points")]
