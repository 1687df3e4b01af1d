"""Generated reference modules, one per lesson (see autograder/export.py). Do not edit them."""
