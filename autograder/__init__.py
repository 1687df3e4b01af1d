"""Instructor side of the RNN course: build -> release -> collect -> grade -> report.

The CLI (`python3 -m autograder --help`) is a thin layer over the functions of the
step modules: `course_dir`, `release`, `collect`, `grade`, `report`, `demo`.
The hidden-check library that graded cells call lives in `autograder.checks`.
"""
