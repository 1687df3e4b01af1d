"""Every limit of a grading run, defined here once with its one default.

Other modules import these names (never copy the numbers):

    course_dir.py   CELL_TIMEOUT_S            written into nbgrader_config.py as Execute.timeout
    grade.py        NOTEBOOK_BUDGET_S         grade_batch(notebook_budget=...)'s default
    settings.py     all of the per-run ones   the defaults of WorkerSettings (what crosses into workers)
    hardened.py     NOTEBOOK_BUDGET_S, MAX_OUTPUT_BYTES, PRELUDE_TIMEOUT_S, CHECKER_GRACE_S
                                              the defaults of HardenedExecute's traits
    checker/        CHECKER_READY_S           the checker's wait for a kernel that connected
    sandbox.py      KERNEL_RLIMITS            sandbox.DEFAULT_LIMITS (setrlimit in the kernel's sandbox)
    preload.py      PRELOAD_READY_TIMEOUT_S, PRELOAD_STEP_TIMEOUT_S
    workers.py      INTERRUPT_STOP_S          how long Ctrl-C may take to stop workers, kernels, preloader
    cluster.py      CLUSTER_*                 a Dask cluster's bounds on lost workers, retries, connecting

A run can override the per-run ones (grade_batch(cell_timeout=, notebook_budget=, limits=)); the
override travels to the workers inside settings.WorkerSettings, not through these module globals.
"""

# ---------------------------------------------------------------------------- time, per notebook
CELL_TIMEOUT_S = 120          # one cell (nbgrader interrupts it and goes on with the next)
NOTEBOOK_BUDGET_S = 900       # a whole notebook; cells after the budget is spent are not run (0 points)
PRELUDE_TIMEOUT_S = 180       # the silent prelude before the first cell (imports numpy, torch, the checks)
CHECKER_READY_S = 30          # from the kernel's connection to its "ready" (it is already in the grade cell)
CHECKER_GRACE_S = 2           # after a grade cell ended without the checker's "done": wait this long, then 0

# ---------------------------------------------------------------------------- output
MAX_OUTPUT_BYTES = 200_000    # stream/display output kept per cell (results and errors always kept)

# ---------------------------------------------------------------------------- the kernel's sandbox
# setrlimit(2) in the sandbox launcher. processes: RLIMIT_NPROC of a kernel run under a private uid
# (threads count: a torch kernel has ~20).
KERNEL_RLIMITS = {"memory_mb": 6144, "cpu_s": 900, "file_mb": 256, "open_files": 512, "processes": 256}

# ---------------------------------------------------------------------------- pre-imported kernels
PRELOAD_READY_TIMEOUT_S = 300  # the preloader may still be importing torch when the first kernel is asked for
PRELOAD_STEP_TIMEOUT_S = 60    # each step of forking a kernel into its sandbox

# ---------------------------------------------------------------------------- the run itself
INTERRUPT_STOP_S = 5          # Ctrl-C: workers, kernels and the preloader are gone within this

# ---------------------------------------------------------------------------- a Dask cluster (cluster.py)
CLUSTER_ALLOWED_FAILURES = 2  # workers a notebook's task may lose (died while running it) and still be re-run;
                              # one more loss marks the notebook failed (Dask's KilledWorker), the batch goes on
CLUSTER_RETRIES = 1           # re-runs of a task that raised on its worker (e.g. no sandbox under --sandbox require)
CLUSTER_CONNECT_S = 30        # connecting to the scheduler, and waiting for its first worker


def kernel_rlimits(overrides=None):
    """KERNEL_RLIMITS with a run's overrides (a dict with some of its keys); a new dict."""
    unknown = set(overrides or {}) - set(KERNEL_RLIMITS)
    if unknown:
        raise ValueError(f"unknown kernel limit(s) {sorted(unknown)}; known: {sorted(KERNEL_RLIMITS)}")
    return {**KERNEL_RLIMITS, **(overrides or {})}
