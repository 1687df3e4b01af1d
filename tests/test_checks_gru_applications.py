"""Lessons 5 and 6 through the checker: what each student function receives (data, a kernel object, a
checker function called back), randomness the checker controls, and the checker's own state left alone."""
import socket
import threading
import types

import numpy as np
import torch

from autograder.checker.remote import Kernel
from autograder.checks import lesson05
from autograder.checks.core import Question
from autograder.export import reference_path
from autograder.in_kernel import grade, server, wire


def reference_namespace(lesson_id, *edits):
    """The reference code of a lesson executed into a dict (a notebook's globals), after text edits."""
    source = reference_path(lesson_id).read_text()
    for old, new in edits:
        assert old in source, old
        source = source.replace(old, new)
    namespace = {"__name__": f"student_{lesson_id}"}
    exec(compile(source, str(reference_path(lesson_id)), "exec"), namespace)
    return namespace


def report(question, namespace, capsys, seed=5):
    points = grade(question, namespace, points=10, seed=seed)
    return points, capsys.readouterr().out


def test_beam_search_sees_step_fn_complaints_as_the_parts_message(capsys):
    namespace = reference_namespace("06_applications", (
        "step_fn(tokens[-1] if tokens else bos, state)", "step_fn(tokens[-1] + 50 if tokens else bos, state)"))
    points, out = report("beam_search", namespace, capsys)
    assert 0 < points < 10
    assert "step_fn was called with token 5" in out and "outside the vocabulary" in out, out
    assert "RemoteError" not in out, out


def test_the_sampler_gets_a_numpy_generator_of_the_kernel_seeded_by_the_checker(capsys):
    namespace = reference_namespace("06_applications")
    seen = []
    reference = namespace["sample_with_temperature"]

    def sample_with_temperature(logits, temperature, rng):
        seen.append(type(rng))
        return reference(logits, temperature, rng)
    namespace["sample_with_temperature"] = sample_with_temperature
    assert report("sample_with_temperature", namespace, capsys)[0] == 10
    assert np.random.Generator in seen and set(seen) <= {np.random.Generator, type(None)}


def test_a_sampler_that_ignores_rng_loses_the_ids_part_only(capsys):
    namespace = reference_namespace("06_applications", ("u = rng.random(N)", "u = np.random.random(N)"))
    points, out = report("sample_with_temperature", namespace, capsys)
    assert points == 7.5, out
    assert "FAIL  ids by inverse-transform sampling" in out and "differ from inverse-transform sampling" in out


def test_torch_gru_whose_output_is_detached_loses_the_backward_part_with_a_hint(capsys):
    namespace = reference_namespace("05_gru", (
        "return torch.stack(outputs, dim=1), h.unsqueeze(0)",
        "return torch.stack(outputs, dim=1).detach(), h.unsqueeze(0).detach()"))
    points, out = report("torch_gru", namespace, capsys)
    assert points == round(10 * 4 / 6, 4), out
    assert "no gradient reached x or h0" in out, out


def test_masked_pool_torch_gradient_comes_from_the_students_autograd(capsys):
    namespace = reference_namespace("06_applications", (
        "        return (h * m).sum(dim=1)\n", "        return (h * m).sum(dim=1) + 0 * h.detach().sum(dim=1)\n"))
    assert report("masked_pool_torch", namespace, capsys)[0] == 10
    wrong = reference_namespace("06_applications", (    # right values, gradient of the mean to every position
        "        return (h * m).sum(dim=1) / m.sum(dim=1)\n",
        "        return ((h * m).sum(dim=1) / m.sum(dim=1)).detach() + h.mean(dim=1) - h.mean(dim=1).detach()\n"))
    points, out = report("masked_pool_torch", wrong, capsys)
    assert points < 10 and "h.grad (mean) by autograd" in out, out


def test_grading_torch_questions_leaves_the_checkers_rng_and_tf32_flags_alone(capsys):
    # here the "kernel" shares this process: the student's modules start from zeros so that they draw nothing
    no_random_init = (".uniform_(-bound, bound)", ".zero_()")
    torch.manual_seed(321)
    before = torch.get_rng_state()
    flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    assert report("torch_gru", reference_namespace("05_gru", no_random_init), capsys)[0] == 10
    assert report("deep_bilstm", reference_namespace("06_applications", no_random_init), capsys)[0] == 10
    assert torch.equal(before, torch.get_rng_state())
    assert flags == (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)


def test_the_inputs_are_the_numbers_torch_manual_seed_gave_before_the_move():
    """reference_layer + randn/randn_like from a generator == torch.manual_seed, nn.GRU, a student's init
    drawn like nn.GRU's, torch.randn, torch.randn_like (on a batch-first output: strides matter)."""
    torch.manual_seed(77)
    old = torch.nn.GRU(3, 4, batch_first=True)
    torch.nn.GRU(3, 4, batch_first=True)                      # the student's initialisation, in the same process
    x_old = torch.randn(2, 5, 3)
    out_old = old(x_old)[0]
    d_old = torch.randn_like(out_old)
    generator = torch.Generator().manual_seed(77)
    new = lesson05.reference_layer(torch.nn.GRU, 4, "cpu", generator, 3, 4, batch_first=True)
    lesson05.uniform_init(new, 4, generator, scratch=True)
    x_new = lesson05.randn(generator, "cpu", 2, 5, 3)
    d_new = lesson05.randn_like(generator, new(x_new)[0])
    assert all(torch.equal(a, b) for a, b in zip(old.parameters(), new.parameters()))
    assert torch.equal(x_old, x_new) and torch.equal(d_old, d_new)


class _Connected:
    def __init__(self, namespace):
        kernel_end, self.checker_end = socket.socketpair()
        side = server.KernelSide(namespace)
        side.peer = wire.Peer(kernel_end, side.serve, side.encoder, side.decoder)

        def serve():
            try:
                while True:
                    side.peer.answer(*wire.receive(kernel_end))
            except (wire.ConnectionLost, OSError):
                pass
        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        self.kernel_end = kernel_end
        self.q = Question("probe", Kernel(lambda k: wire.Peer(self.checker_end, k.serve_callback, k.encoder,
                                                                   k.decoder)), points=1, seed=1)

    def close(self):
        self.checker_end.close()
        self.thread.join(5)
        self.kernel_end.close()


def test_cuda_parts_only_when_the_students_kernel_has_cuda(monkeypatch):
    """The sandbox may hide the GPU from the kernel while the checker sees it: the kernel is asked."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)    # the checker "has" a GPU
    for kernel_has, expected in ((False, False), (True, True)):
        fake_torch = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda value=kernel_has: value))
        connection = _Connected({"torch": fake_torch})
        try:
            assert lesson05.kernel_has_cuda(connection.q) is expected
        finally:
            connection.close()
    connection = _Connected({})                                     # no torch in the notebook: no CUDA parts
    try:
        assert lesson05.kernel_has_cuda(connection.q) is False
    finally:
        connection.close()


def test_the_sampler_is_graded_when_the_notebook_renamed_numpy(capsys):
    source = reference_path("06_applications").read_text().replace("import numpy as np", "import numpy as onp")
    namespace = {"__name__": "student"}
    exec(compile(source.replace("np.", "onp."), "renamed", "exec"), namespace)
    assert "np" not in namespace and "numpy" not in namespace
    assert report("sample_with_temperature", namespace, capsys)[0] == 10
