"""What a grading run hands to each worker process: one typed, picklable object.

The parent (grade.py) makes a WorkerSettings once per run; ProcessPoolExecutor pickles it into every
worker's initializer (workers.worker_init). It holds plain values only (strings, numbers, a dict of
ints), so pickling it can neither run code nor drag an open database or socket along. Defaults come
from autograder/limits.py.
"""
from dataclasses import dataclass, field, replace

from autograder import limits


@dataclass(frozen=True)
class WorkerSettings:
    root: str                     # the course directory (absolute)
    gradebook: str                # the SQLite file each worker copies for its private gradebook
    sandbox: bool                 # kernels run in bubblewrap (sandbox.py)
    preload: bool = True          # kernels are forked from a preloader (preload.py), sandbox only
    preload_socket: str = ""      # set once the preloader listens ("" = none)
    runtime_dir: str = ""         # the run's folder for kernels' connection files ("" = each worker makes one)
    cell_timeout_s: int = limits.CELL_TIMEOUT_S
    notebook_budget_s: int = limits.NOTEBOOK_BUDGET_S
    kernel_rlimits: dict = field(default_factory=limits.kernel_rlimits)

    def __post_init__(self):
        for name in ("cell_timeout_s", "notebook_budget_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
            object.__setattr__(self, name, max(1, round(value)))   # nbgrader's traits are whole seconds
        object.__setattr__(self, "kernel_rlimits", limits.kernel_rlimits(self.kernel_rlimits))

    def with_preload_socket(self, path):
        return replace(self, preload_socket=str(path or ""))

    def with_runtime_dir(self, path):
        return replace(self, runtime_dir=str(path or ""))
