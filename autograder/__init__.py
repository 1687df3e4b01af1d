"""Instructor side of the RNN course: build -> release -> collect -> grade -> report.

The CLI (`python3 -m autograder --help`) is a thin layer over the functions of the
step modules: `course_dir`, `release`, `collect`, `grade`, `report`, `demo`.

Where the code runs:
- the grader's side: everything here except `in_kernel/` (the pipeline, the checker process
  `checker/`, the hidden checks `checks/`, the reference solutions `references/`);
- the student's kernel: `in_kernel/` only (the grade cells' entry point). A graded kernel's sandbox
  shows it this file, `in_kernel/` and the `course` package, and nothing else of the checkout.
"""
