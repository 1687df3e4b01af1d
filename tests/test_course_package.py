"""The student-facing tools: relative error, finite differences, visible checks and their messages."""
import numpy as np
import pytest

import course
from course.checks import CheckFailed


def test_rel_error_is_zero_for_equal_arrays_and_large_for_different_ones():
    x = np.linspace(-1, 1, 7)
    assert course.rel_error(x, x.copy()) == 0.0
    assert course.rel_error(x, x + 1e-3) > 1e-4


def test_numeric_gradient_matches_an_analytic_gradient():
    x = np.random.default_rng(0).standard_normal((3, 4))
    dout = np.random.default_rng(1).standard_normal((3, 4))
    numeric = course.numeric_gradient(lambda: np.tanh(x), x, dout)
    analytic = dout * (1 - np.tanh(x) ** 2)
    assert course.rel_error(numeric, analytic) < 1e-8


def test_numeric_gradient_of_a_scalar_loss_and_restores_x():
    x = np.array([1.0, -2.0, 3.0])
    saved = x.copy()
    grad = course.numeric_gradient(lambda: np.sum(x ** 3), x)
    assert np.allclose(grad, 3 * saved ** 2, rtol=1e-8)
    assert np.array_equal(x, saved)


def test_check_close_passes_and_reports_the_tolerance(capsys):
    course.check_close("f", np.ones(3), np.ones(3))
    assert "OK" in capsys.readouterr().out


def test_check_close_names_the_output_the_error_and_the_hint():
    predicate = (lambda actual, expected: np.allclose(np.tanh(actual), expected), "did you forget the tanh?")
    expected = np.tanh(np.array([[0.5, 1.0], [1.5, -2.0]]))
    with pytest.raises(CheckFailed) as info:
        course.check_close("rnn_step_forward", np.arctanh(expected), expected, hints=[predicate], what="next_h")
    message = str(info.value)
    assert "next_h" in message and "tolerance 1e-07" in message and "forget the tanh" in message


@pytest.mark.parametrize("value, words", [(None, "return"), ((1, 2), "tuple"), (np.ones((3, 2)), "transposed")])
def test_check_shape_messages(value, words):
    with pytest.raises(CheckFailed, match=words):
        course.check_shape("f", value, (2, 3))


def _square_forward(x):
    return x ** 2, x


def test_check_gradients_accepts_a_correct_backward(capsys):
    course.check_gradients("square", _square_forward, lambda dout, x: 2 * x * dout,
                           {"x": np.array([1.0, -0.5, 2.0])}, ["x"])
    assert "match finite differences" in capsys.readouterr().out


def test_check_gradients_names_the_wrong_gradient_and_its_hint():
    with pytest.raises(CheckFailed) as info:
        course.check_gradients("square", _square_forward, lambda dout, x: x * dout,
                               {"x": np.array([1.0, -0.5, 2.0])}, ["x"], hints={"x": "d(x^2)/dx = 2x"})
    assert "dx" in str(info.value) and "WRONG" in str(info.value) and "2x" in str(info.value)


def test_check_gradients_catches_in_place_modification_of_dout():
    def backward(dout, x):
        dout *= 2 * x
        return dout
    with pytest.raises(CheckFailed, match="in place"):
        course.check_gradients("square", _square_forward, backward, {"x": np.array([1.0, 2.0])}, ["x"])


def test_budget_follows_nbgrader_execution(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert course.budget(full=1000, grading=10) == 1000
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert course.grading_mode() and course.budget(full=1000, grading=10) == 10


def test_device_prints_one_line_and_respects_the_override(monkeypatch, capsys):
    monkeypatch.setenv("RNN_COURSE_DEVICE", "cpu")
    assert course.device().type == "cpu"
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


def test_layout_round_trip_through_torch():
    import torch
    from course import layout

    rng = np.random.default_rng(0)
    Wx, Wh, b = rng.standard_normal((3, 8)), rng.standard_normal((2, 8)), rng.standard_normal(8)
    lstm = torch.nn.LSTM(3, 2, batch_first=True).double()
    layout.load_numpy_weights(lstm, Wx, Wh, b)
    back = layout.from_torch(lstm)
    for original, returned in zip((Wx, Wh, b), back):
        assert np.allclose(original, returned)


def test_course_contains_no_solution_markers():
    from pathlib import Path

    for path in Path(course.__file__).parent.rglob("*.py"):
        text = path.read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, path


def test_the_project_cites_only_its_own_files():
    """No file of the project points to a file outside the repository (a design note, the shared lecture folder)."""
    import re
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    outside = re.compile(r"DESIGN\.md|\.\./shared|/work/shared|shared/(lecture|notes)")
    cited = []
    for name in tracked:
        if name.startswith(("lessons/", "autograder/references/")) or name == "tests/test_course_package.py":
            continue
        path = root / name
        if path.suffix in {".py", ".md", ".ipynb", ".json", ".txt", ".yml", ".toml", ".j2", ".cjs"} and path.is_file():
            cited += [f"{name}: {m.group(0)}" for m in outside.finditer(path.read_text(encoding="utf-8", errors="replace"))]
    assert cited == []
