"""Lesson 1: the reference implementations agree with torch."""
import numpy as np
import torch

import course
from autograder.references import l01_sequences as l01

RNG = np.random.default_rng(7)


def test_embedding_forward_and_backward_match_nn_embedding():
    V, D = 6, 3
    W = RNG.standard_normal((V, D))
    ids = np.array([[1, 2, 2], [5, 1, 1]])
    out, cache = l01.embedding_forward(ids, W)
    layer = torch.nn.Embedding(V, D).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(W))
    expected = layer(torch.from_numpy(ids))
    assert course.rel_error(out, expected.detach().numpy()) == 0
    dout = RNG.standard_normal(out.shape)
    (expected * torch.from_numpy(dout)).sum().backward()
    assert course.rel_error(l01.embedding_backward(dout, cache), layer.weight.grad.numpy()) < 1e-12


def test_one_hot_matches_torch():
    ids = np.array([[0, 3], [2, 2]])
    assert np.array_equal(l01.one_hot(ids, 4), torch.nn.functional.one_hot(torch.from_numpy(ids), 4).numpy())


def test_masked_cross_entropy_torch_matches_f_cross_entropy():
    logits = torch.randn(2, 4, 5, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([[1, 2, 0, 0], [3, 4, 1, 0]])
    mine = l01.masked_cross_entropy_torch(logits, targets, pad_id=0)
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, 5), targets.reshape(-1), ignore_index=0)
    assert torch.allclose(mine, expected)
    assert torch.allclose(torch.autograd.grad(mine, logits)[0], torch.autograd.grad(expected, logits)[0])


def test_vocabulary_round_trip_on_vietnamese_text():
    from course.text import load_corpus

    text = load_corpus("kieu")[:500]
    itos, stoi = l01.build_vocab(list(text))
    assert l01.decode(l01.encode(list(text), stoi), itos) in (text, list(text))
    assert any(ch in stoi for ch in "ăâđêôơư")
