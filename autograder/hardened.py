"""HardenedExecute: nbgrader's Execute preprocessor, made safe to run a whole class through.

It replaces `Execute` in `Autograde.autograde_preprocessors` when this project's grader runs
(autograder/grade.py); `nbgrader autograde` from the command line is unchanged. Per notebook:

- before the first cell, a silent prelude imports numpy, torch, course and every hidden check and
  records their state (autograder/integrity.py); before each grade cell that calls the checks, a
  silent `verify()` restores whatever student code replaced, and each restoration becomes a flag;
- after each such grade cell, the score is cross-checked outside the kernel: a grade cell with no
  result (nbgrader would give it full points) gets an error output (0 points); a result that
  disagrees with the score line the check printed is lowered to the smaller one and flagged;
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

from nbclient.exceptions import DeadKernelError
from nbclient.client import NotebookClient
from nbclient.util import ensure_async, run_hook, run_sync
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade
from traitlets import Bool, Enum, Integer

REPORTS = {}

PRELUDE = "import autograder.integrity as _rnn_guard_module; _rnn_guard_module.install(); del _rnn_guard_module"
VERIFY = "__import__('autograder.integrity', fromlist=['verify']).verify()"
SCORE_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_]+): (?P<score>[-+0-9.e]+) / (?P<points>[-+0-9.e]+) points", re.M)


def error_output(ename, message):
    return NotebookNode(output_type="error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"])


def calls_checks(cell):
    return "autograder.checks" in cell.source


class HardenedExecute(Execute):
    notebook_budget = Integer(600, help="Seconds one notebook may run in all; later cells are not run.").tag(config=True)
    max_output_bytes = Integer(200_000, help="Bytes of stream/display output kept per cell.").tag(config=True)
    guard = Bool(True, help="Install the integrity guard and verify it before grade cells.").tag(config=True)
    prelude_timeout = Integer(180).tag(config=True)
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
                                 "guard": None}
        self._output_bytes, self._truncated = {}, set()
        start = time.monotonic()
        stop = None
        with self.setup_kernel():
            info_msg = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info_msg["content"]["language_info"]
            guarded = False
            if self.guard:
                status, results = self._silent(PRELUDE, timeout=self.prelude_timeout)
                guarded = status == "ok"
                report["guard"] = "installed" if guarded else f"not installed: {results.get('__error__')}"
                if not guarded:
                    report["flags"].append(f"integrity guard could not be installed ({results.get('__error__')})")
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
                try:
                    if guarded and is_grade(cell) and calls_checks(cell):
                        self._verify(grade_id, report, min(30, max(1, int(remaining))))
                    self._cell_timeout = max(1, min(self.timeout or 10**9, int(remaining) + 1))
                    self.preprocess_cell(cell, resources, index)
                except DeadKernelError:
                    cell.outputs = list(cell.get("outputs", [])) + [error_output(
                        "DeadKernelError", "the kernel died while running this cell (os._exit, a crash, "
                        "or the memory limit); the cells after it were not run")]
                    stop = "not run: the kernel died in an earlier cell"
                    report["dead_at"] = grade_id
                    continue
                if is_grade(cell) and calls_checks(cell):
                    self._check_score(cell, grade_id, report)
            report["truncated"] = sorted(self._truncated)
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _verify(self, grade_id, report, timeout):
        status, results = self._silent(expressions={"flags": VERIFY}, timeout=timeout)
        text = results.get("flags", "")
        if status != "ok" or text.startswith("error"):
            report["flags"].append(f"before {grade_id}: the integrity check failed to run ({text or results})")
            return
        try:
            import ast
            flags = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            report["flags"].append(f"before {grade_id}: the integrity check answered nonsense ({text[:200]})")
            return
        for flag in flags:
            message = f"before {grade_id}: {flag} (restored)"
            if message not in report["flags"]:
                report["flags"].append(message)

    def _check_score(self, cell, grade_id, report):
        outputs = cell.get("outputs", [])
        if any(o.output_type == "error" for o in outputs):
            return
        results = [o for o in outputs if o.output_type == "execute_result"]
        printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.get("name") == "stdout")
        lines = list(SCORE_LINE.finditer(printed))
        if not results:
            report["flags"].append(f"{grade_id}: the grade cell produced no score (display machinery tampered with?); "
                                   "scored 0")
            cell.outputs = outputs + [error_output("NoScore", "the grade cell produced no score")]
            return
        try:
            value = float(results[-1].get("data", {}).get("text/plain", ""))
        except ValueError:
            report["flags"].append(f"{grade_id}: the score is not a number; scored 0")
            cell.outputs = outputs + [error_output("NoScore", "the grade cell's score is not a number")]
            return
        if len(lines) != 1:
            report["flags"].append(f"{grade_id}: {len(lines)} score lines printed instead of 1")
        printed_score = min((float(m.group("score")) for m in lines), default=0.0)
        if abs(printed_score - value) > 1e-6 or len(lines) != 1:
            lowest = min(printed_score, value)
            if abs(lowest - value) > 1e-9:
                report["flags"].append(f"{grade_id}: result {value:g} disagrees with the printed score "
                                       f"{printed_score:g}; kept {lowest:g}")
                results[-1]["data"] = {"text/plain": repr(float(lowest))}
