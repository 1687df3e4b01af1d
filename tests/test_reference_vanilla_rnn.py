"""Lessons 2 and 3: the reference implementations agree with torch and with finite differences.

These are independent of the hidden checks (which use the same oracles to grade students): here the
oracle is run directly on the reference code.
"""
import numpy as np
import pytest
import torch

import course
from autograder.references import l02_vanilla_rnn as l02
from course.layout import load_numpy_weights

RNG = np.random.default_rng(2024)


def weights(D, H, scale=0.5):
    return RNG.standard_normal((D, H)) * scale, RNG.standard_normal((H, H)) * scale, RNG.standard_normal(H)


def torch_rnn(D, H, Wx, Wh, b):
    return load_numpy_weights(torch.nn.RNN(D, H, batch_first=True).double(), Wx, Wh, b)


@pytest.mark.parametrize("N, T, D, H", [(3, 5, 4, 6), (1, 1, 2, 3)])
def test_rnn_forward_matches_nn_rnn(N, T, D, H):
    x, h0 = RNG.standard_normal((N, T, D)), RNG.standard_normal((N, H))
    Wx, Wh, b = weights(D, H)
    h, cache = l02.rnn_forward(x, h0, Wx, Wh, b)
    expected, _ = torch_rnn(D, H, Wx, Wh, b)(torch.from_numpy(x), torch.from_numpy(h0)[None])
    assert course.rel_error(h, expected.detach().numpy()) < 1e-10
    assert len(cache) == T and len(cache[0]) == 5


def test_rnn_step_forward_matches_nn_rnncell():
    x, h = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 5))
    Wx, Wh, b = weights(3, 5)
    cell = load_numpy_weights(torch.nn.RNNCell(3, 5).double(), Wx, Wh, b, suffix="")
    expected = cell(torch.from_numpy(x), torch.from_numpy(h)).detach().numpy()
    assert course.rel_error(l02.rnn_step_forward(x, h, Wx, Wh, b)[0], expected) < 1e-12


def test_temporal_affine_forward_matches_torch_linear():
    x, W, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((4, 5)), RNG.standard_normal(5)
    expected = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(W.T.copy()), torch.from_numpy(b))
    assert course.rel_error(l02.temporal_affine_forward(x, W, b)[0], expected.numpy()) < 1e-12


def test_torch_rnn_matches_nn_rnn_forward_and_backward():
    torch.manual_seed(0)
    oracle = torch.nn.RNN(4, 6, batch_first=True)
    mine = l02.TorchRNN(4, 6)
    mine.load_state_dict(oracle.state_dict())
    x = torch.randn(3, 7, 4, requires_grad=True)
    out_mine, hn_mine = mine(x)
    out_oracle, hn_oracle = oracle(x)
    assert torch.allclose(out_mine, out_oracle, atol=1e-6) and torch.allclose(hn_mine, hn_oracle, atol=1e-6)
    upstream = torch.randn_like(out_mine)
    grads_mine = torch.autograd.grad((out_mine * upstream).sum(), [x, *mine.parameters()])
    grads_oracle = torch.autograd.grad((out_oracle * upstream).sum(), [x, *oracle.parameters()])
    for a, b in zip(grads_mine, grads_oracle):
        assert torch.allclose(a, b, atol=1e-5)


def test_lesson3_gives_exactly_lesson2s_forward_functions():
    """Lesson 3 needs lesson 2's forward pass; its given copy must not drift from lesson 2's solution."""
    import ast

    import nbformat

    from autograder.export import reference_path
    from autograder.lessons import SOLUTIONS

    notebook = nbformat.read(str(SOLUTIONS / "03_bptt.ipynb"), as_version=4)
    given = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "lesson2_forward_given")
    lesson2 = ast.parse(reference_path("02_vanilla_rnn").read_text())
    functions = {n.name: ast.dump(n) for n in lesson2.body if isinstance(n, ast.FunctionDef)}
    copied = [n for n in ast.parse(given.source).body if isinstance(n, ast.FunctionDef)]
    assert {n.name for n in copied} == {"rnn_step_forward", "rnn_forward", "temporal_affine_forward"}
    for node in copied:
        assert ast.dump(node) == functions[node.name], f"{node.name} differs from lesson 2's solution"


def rnn_autograd_gradients(x, h0, Wx, Wh, b, dh):
    """Gradients of sum(h * dh) through nn.RNN (float64), in rnn_backward's order."""
    D, H = Wx.shape
    rnn = torch_rnn(D, H, Wx, Wh, b)
    xt, h0t = torch.from_numpy(x).requires_grad_(), torch.from_numpy(h0).requires_grad_()
    out, _ = rnn(xt, h0t[None])
    (out * torch.from_numpy(dh)).sum().backward()
    return (xt.grad.numpy(), h0t.grad.numpy(), rnn.weight_ih_l0.grad.numpy().T, rnn.weight_hh_l0.grad.numpy().T,
            (rnn.bias_ih_l0.grad).numpy())


@pytest.mark.parametrize("N, T, D, H", [(3, 6, 4, 5), (1, 1, 3, 2)])
def test_rnn_backward_matches_autograd_through_nn_rnn(N, T, D, H):
    from autograder.references import l03_bptt as l03

    x, h0, dh = RNG.standard_normal((N, T, D)), RNG.standard_normal((N, H)), RNG.standard_normal((N, T, H))
    Wx, Wh, b = weights(D, H)
    _, cache = l02.rnn_forward(x, h0, Wx, Wh, b)
    for mine, expected in zip(l03.rnn_backward(dh, cache), rnn_autograd_gradients(x, h0, Wx, Wh, b, dh)):
        assert course.rel_error(mine, expected) < 1e-9


def test_backward_functions_pass_finite_difference_checks(capsys):
    from autograder.references import l03_bptt as l03

    Wx, Wh, b = weights(3, 4)
    step = dict(x=RNG.standard_normal((2, 3)), prev_h=RNG.standard_normal((2, 4)), Wx=Wx, Wh=Wh, b=b)
    course.check_gradients("step", l02.rnn_step_forward, l03.rnn_step_backward, step, list(step))
    seq = dict(x=RNG.standard_normal((2, 4, 3)), h0=RNG.standard_normal((2, 4)), Wx=Wx, Wh=Wh, b=b)
    course.check_gradients("sequence", l02.rnn_forward, l03.rnn_backward, seq, list(seq))
    affine = dict(x=RNG.standard_normal((2, 3, 4)), W=RNG.standard_normal((4, 5)), b=RNG.standard_normal(5))
    course.check_gradients("affine", l02.temporal_affine_forward, l03.temporal_affine_backward, affine, list(affine))


def test_temporal_softmax_loss_matches_cross_entropy_with_ignore_index():
    from autograder.references import l03_bptt as l03

    N, T, V, pad = 3, 5, 7, 0
    x = RNG.standard_normal((N, T, V)) * 3
    y = RNG.integers(1, V, size=(N, T))
    y[0, 2:] = pad
    y[2, 1:] = pad
    loss, dx = l03.temporal_softmax_loss(x, y, y != pad)
    xt = torch.from_numpy(x).requires_grad_()
    expected = torch.nn.functional.cross_entropy(xt.reshape(-1, V), torch.from_numpy(y).reshape(-1), ignore_index=pad)
    expected.backward()
    assert abs(loss - expected.item()) < 1e-12
    assert course.rel_error(dx, xt.grad.numpy()) < 1e-9


def test_clip_grad_norm_matches_torch():
    from autograder.references import l03_bptt as l03

    grads = [RNG.standard_normal((3, 4)) * 5, RNG.standard_normal(4) * 5]
    clipped, norm = l03.clip_grad_norm(grads, 1.0)
    tensors = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
    for t, g in zip(tensors, grads):
        t.grad = torch.from_numpy(g.copy())
    expected_norm = torch.nn.utils.clip_grad_norm_(tensors, 1.0)
    assert abs(norm - expected_norm.item()) < 1e-10
    for mine, t in zip(clipped, tensors):
        assert course.rel_error(mine, t.grad.numpy()) < 1e-12


def test_rnn_function_passes_gradcheck_and_matches_nn_rnn():
    from autograder.references import l03_bptt as l03

    args = [torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True),
            torch.randn(2, 4, dtype=torch.float64, requires_grad=True),
            (0.5 * torch.randn(3, 4, dtype=torch.float64)).requires_grad_(),
            (0.5 * torch.randn(4, 4, dtype=torch.float64)).requires_grad_(),
            torch.randn(4, dtype=torch.float64, requires_grad=True)]
    assert torch.autograd.gradcheck(l03.RNNFunction.apply, args)
    h = l03.RNNFunction.apply(*args)
    x, h0, Wx, Wh, b = (a.detach().numpy() for a in args)
    assert course.rel_error(h.detach().numpy(), l02.rnn_forward(x, h0, Wx, Wh, b)[0]) < 1e-12
