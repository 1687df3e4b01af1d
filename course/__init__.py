"""What students import in the lesson notebooks: `import course`.

- `course.device()`: the torch device to use (CUDA when present, else CPU), with a one-line report.
- `course.rel_error`, `course.numeric_gradient`: the tools of gradient checking.
- `course.check_*`: visible self-checks whose messages say what is wrong and where to look.
- `course.example_inputs`, `course.rng`: seeded example inputs.
- `course.grading_mode`, `course.budget`, `course.progress`: short runs while nbgrader grades.
- `course.plotting`: the figures of the lessons.
- `course.layout`: NumPy <-> torch.nn weight layout conversion.
- `course.quiz.check_form`: the visible check of a concept question's answer (its form, not its value).
- `course.ok`, `course.tr`: a check's success line and any message in the student's language
  (English, or Vietnamese in the Vietnamese edition: see `course.i18n`).

This package contains no solution code.
"""
from course.checks import (
    CheckFailed,
    ok,
    check_close,
    check_gradients,
    check_inputs_unchanged,
    check_shape,
    check_true,
)
from course.device import device, exact_float32
from course.examples import example_inputs, rng
from course.grading import budget, grading_mode, progress
from course.i18n import install_figure_translation, language, translate as tr
from course.numerics import numeric_gradient, rel_error
from course import quiz  # concept questions: course.quiz.check_form

install_figure_translation()

__all__ = [
    "CheckFailed", "check_close", "check_gradients", "check_inputs_unchanged", "check_shape", "check_true",
    "device", "exact_float32", "example_inputs", "rng", "budget", "grading_mode", "progress",
    "numeric_gradient", "rel_error", "ok", "tr", "language", "quiz",
]
