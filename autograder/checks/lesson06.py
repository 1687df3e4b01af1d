"""Hidden checks of lesson 6 (applications).

Oracles
- birnn_forward: torch.nn.RNN(bidirectional=True) in float64 loaded with the same weights.
- DeepBiLSTM: torch.nn.LSTM(num_layers=L, bidirectional=True) loaded with the same state_dict, forward and
  backward (float32, CPU; CUDA with TF32 off when present).
- masked_pool / masked_pool_backward / masked_pool_torch: the reference (generated from the solution notebook)
  AND an independent torch re-implementation below (its autograd gives the gradients).
- sample_with_temperature: torch.softmax for the probabilities; the documented inverse-transform rule with the
  same generator for the ids; empirical frequencies for any sampler.
- beam_search: the reference, an exhaustive search over every sequence on tiny vocabularies (a beam as large as
  all sequences must find the best one), and greedy decoding (beam_size=1).

What crosses to the student's kernel (the checks run in the checker process, autograder/checker/)
- arrays, tensors, numbers, strings, tuples: data, copied both ways (changes made in place come back).
- DeepBiLSTM: a kernel object (RemoteObject); its forward and backward run there (q.kernel.grad_call), the
  nn.LSTM oracle runs here. Inputs come from a torch.Generator of the question's, not torch.manual_seed
  (which would not seed the kernel); CUDA parts only when the kernel itself has a GPU.
- masked_pool_torch: called on tensors that require grad; its gradient by grad_call in the kernel.
- sample_with_temperature's rng: a kernel object, numpy.random.default_rng(seed) built by the notebook's
  numpy with the seed chosen here; the expected ids use u drawn here from the same seed.
- beam_search's step_fn: a function of the checker; the student's code calls it back as a stub and sees
  only the data it returns (log-probabilities, states); the call counter stays here.
"""
import itertools

import numpy as np
import torch

from autograder.checks import question
from autograder.checks.core import expect_close, expect_tuple, kernel_has_cuda, Mismatch, to_numpy, with_exact_float32
from autograder.checks.lesson05 import randn, randn_like, reference_layer, uniform_init
from autograder.in_kernel.wire import RemoteError
from course.applications import pool_mistakes

NUMPY_TOL = 1e-7
TORCH_ATOL = 1e-5
MODES = ("sum", "mean", "max", "last")


def _ref():
    from autograder.references import l06_applications
    return l06_applications


def _copies(*arrays):
    return [np.array(a, copy=True) for a in arrays]


# ----------------------------------------------------------------------------------------------
# birnn_forward (3 points)
# ----------------------------------------------------------------------------------------------
def _np_rnn(x, h0, Wx, Wh, b):
    h, out = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        out.append(h)
    return np.stack(out, axis=1)


def _birnn_oracle(x, h0_f, h0_b, pf, pb):
    D, H = pf[0].shape
    rnn = torch.nn.RNN(D, H, bidirectional=True, batch_first=True).double()
    state = {}
    for suffix, (Wx, Wh, b) in (("", pf), ("_reverse", pb)):
        state[f"weight_ih_l0{suffix}"] = torch.tensor(Wx.T.copy())
        state[f"weight_hh_l0{suffix}"] = torch.tensor(Wh.T.copy())
        state[f"bias_ih_l0{suffix}"] = torch.tensor(b.copy())
        state[f"bias_hh_l0{suffix}"] = torch.zeros(H, dtype=torch.float64)
    rnn.load_state_dict(state)
    with torch.no_grad():
        return rnn(torch.tensor(x), torch.tensor(np.stack([h0_f, h0_b])))[0].numpy()


@question("birnn_forward")
def birnn_forward(q):
    student = q.student("birnn_forward")
    ref = _ref()

    def case(N, T, D, H, zero_h0=False):
        def run():
            x = q.randn(N, T, D)
            h0_f, h0_b = (np.zeros((N, H)), np.zeros((N, H))) if zero_h0 else (q.randn(N, H), q.randn(N, H))
            pf = (q.randn(D, H, scale=0.5), q.randn(H, H, scale=0.5), q.randn(H, scale=0.5))
            pb = (q.randn(D, H, scale=0.5), q.randn(H, H, scale=0.5), q.randn(H, scale=0.5))
            with q.using(rnn_layer_forward=ref.rnn_layer_forward):
                h = student(*_copies(x, h0_f, h0_b), tuple(_copies(*pf)), tuple(_copies(*pb)))
            expected = _birnn_oracle(x, h0_f, h0_b, pf, pb)
            fwd = _np_rnn(x, h0_f, *pf)
            bwd_reading_order = _np_rnn(x[:, ::-1], h0_b, *pb)
            variants = [
                (lambda: np.concatenate([fwd, bwd_reading_order], axis=2),
                 "the backward states are in reading order (position T-1 first): reverse them back along time "
                 "([:, ::-1]) before concatenating"),
                (lambda: np.concatenate([expected[:, :, H:], expected[:, :, :H]], axis=2),
                 "the halves are swapped: h[:, t, :H] is the forward chain, h[:, t, H:] the backward one"),
                (lambda: np.concatenate([fwd, _np_rnn(x, h0_b, *pb)], axis=2),
                 "the backward chain read x left to right: feed it x[:, ::-1]"),
                (lambda: np.concatenate([fwd, _np_rnn(x[:, ::-1], h0_b, *pf)[:, ::-1]], axis=2),
                 "the backward chain used the forward weights: it has its own params_b"),
            ]
            expect_close("h", h, expected, mistakes=variants)
        return run

    q.part("h, random batch (N=3, T=5, D=4, H=6), against nn.RNN(bidirectional=True)", case(3, 5, 4, 6), weight=2)
    q.part("h, a single time step (T=1)", case(2, 1, 3, 4))
    q.part("h, one example and zero initial states (N=1)", case(1, 4, 2, 3, zero_h0=True))


# ----------------------------------------------------------------------------------------------
# DeepBiLSTM (5 points)
# ----------------------------------------------------------------------------------------------
def _lstm_names(L):
    return {f"{kind}_l{k}{suffix}" for k in range(L) for suffix in ("", "_reverse")
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def _build_lstm(q, student_cls, D, H, L, device):
    """(student's model in the kernel, nn.LSTM oracle here, the case's torch.Generator)."""
    generator = torch.Generator().manual_seed(int(q.rng.integers(2 ** 31)))
    reference = reference_layer(torch.nn.LSTM, H, device, generator, D, H, num_layers=L, bidirectional=True,
                                batch_first=True)
    try:
        model = student_cls(D, H, L)
    except RemoteError as error:
        if error.type_name != "TypeError":
            raise
        raise Mismatch(f"DeepBiLSTM(input_size, hidden_size, num_layers) failed: {error.message}") from None
    # the student's initialisation ran in the kernel (load_state_dict replaces it); drawing as much as
    # nn.LSTM's keeps the inputs those the in-kernel checks used
    uniform_init(reference, H, generator, scratch=True)
    try:
        model.load_state_dict(reference.state_dict())
    except RemoteError as error:
        if error.type_name != "RuntimeError":
            raise
        first = (error.message.splitlines() or [""])[0]
        raise Mismatch("load_state_dict from nn.LSTM(num_layers, bidirectional=True) failed: DeepBiLSTM needs "
                       "weight_ih_l{k}{suffix}, weight_hh_l{k}{suffix}, bias_ih_l{k}{suffix}, bias_hh_l{k}{suffix} "
                       f"for every layer k and suffix '' / '_reverse' ({first})") from None
    return model.to(device), reference, generator


def _lstm_forward_part(q, student_cls, N=3, T=5, D=4, H=5, L=2, with_state=True, device="cpu"):
    def run():
        model, reference, generator = _build_lstm(q, student_cls, D, H, L, device)
        x = randn(generator, device, N, T, D)
        state = (randn(generator, device, 2 * L, N, H), randn(generator, device, 2 * L, N, H)) if with_state else None
        result = model(x, state) if with_state else model(x)
        if not isinstance(result, tuple) or len(result) != 2 or not isinstance(result[1], tuple) or len(result[1]) != 2:
            raise Mismatch("forward should return (output, (h_n, c_n)) like nn.LSTM")
        output, (h_n, c_n) = result
        with torch.no_grad():
            expected, (expected_h, expected_c) = reference(x, state) if with_state else reference(x)
        if tuple(output.shape) == tuple(expected.shape) and \
                (output[..., :H] - expected[..., :H]).abs().max().item() <= TORCH_ATOL and \
                (output - expected).abs().max().item() > TORCH_ATOL:
            raise Mismatch("output: the forward half matches nn.LSTM, the backward half does not. Run the _reverse "
                           "weights from t = T-1 down to 0 and store each state at its own position t.")
        expect_close("output", output, expected, atol=TORCH_ATOL)
        expect_close("h_n", h_n, expected_h, atol=TORCH_ATOL)
        expect_close("c_n", c_n, expected_c, atol=TORCH_ATOL)
    return run


def _lstm_backward_part(q, student_cls, N=3, T=4, D=3, H=4, L=2, device="cpu"):
    def run():
        model, reference, generator = _build_lstm(q, student_cls, D, H, L, device)
        tensors = [randn(generator, device, N, T, D), randn(generator, device, 2 * L, N, H),
                   randn(generator, device, 2 * L, N, H)]
        theirs = [t.clone().requires_grad_() for t in tensors]
        out_r, (h_r, c_r) = reference(theirs[0], (theirs[1], theirs[2]))
        douts = [randn_like(generator, t) for t in (out_r, h_r, c_r)]
        out, (h_n, c_n) = model(tensors[0], (tensors[1], tensors[2]))
        try:
            expect_close("output", out, out_r, atol=TORCH_ATOL)
        except Mismatch:
            raise Mismatch("the output already differs from nn.LSTM's, so the gradients do too: fix the forward "
                           "pass first (see the forward parts)") from None
        # forward and backward of sum(out * dout) + ... run in the kernel; x, h0, c0 are the leaves there
        mine = [t.clone().requires_grad_() for t in tensors]
        try:
            grads = q.kernel.grad_call(model, mine[0], (mine[1], mine[2]), grad_outputs=tuple(douts))
        except RemoteError as error:
            if error.type_name == "ValueError" and error.message.startswith("no output depends"):
                raise Mismatch("no gradient reached x: is the output computed from it with torch operations?") from None
            raise
        sum((a * d).sum() for a, d in zip((out_r, h_r, c_r), douts)).backward()
        for name, grad, b in zip(("x", "h0", "c0"), grads.input_grads, theirs):
            if grad is None:
                raise Mismatch(f"no gradient reached {name}: is the output computed from it with torch operations?")
            expect_close(f"{name}.grad", grad, b.grad, atol=TORCH_ATOL)
        params = grads.param_grads or {}
        for name in sorted(_lstm_names(L)):
            if params[name] is None:
                raise Mismatch(f"{name}.grad is None: the forward pass does not use {name}")
            expect_close(f"{name}.grad", params[name], getattr(reference, name).grad, atol=TORCH_ATOL)
    return run


@question("deep_bilstm")
def deep_bilstm(q):
    student_cls = q.student("DeepBiLSTM")

    def parameters():
        for L in (1, 3):
            model, _, _ = _build_lstm(q, student_cls, 3, 4, L, "cpu")
            extra = {n for n, _ in model.named_parameters()} - _lstm_names(L)
            if extra:
                raise Mismatch(f"unexpected parameters {sorted(extra)}: nn.LSTM(num_layers={L}, bidirectional=True) "
                               "has only weight_ih/weight_hh/bias_ih/bias_hh per layer and direction")
    q.part("parameters named and shaped like nn.LSTM(num_layers=1 and 3, bidirectional=True)", parameters)
    q.part("forward on CPU, 2 layers: output, h_n, c_n match nn.LSTM", _lstm_forward_part(q, student_cls), weight=2)
    q.part("forward on CPU, 3 layers, no initial state, N=1, T=1",
           _lstm_forward_part(q, student_cls, N=1, T=1, D=2, H=3, L=3, with_state=False))
    q.part("backward on CPU, 2 layers: gradients of x, h0, c0 and all parameters match nn.LSTM",
           _lstm_backward_part(q, student_cls), weight=2)
    if kernel_has_cuda(q):
        q.part("forward on CUDA (TF32 off)", with_exact_float32(_lstm_forward_part(q, student_cls, device="cuda")))
        q.part("backward on CUDA (TF32 off)", with_exact_float32(_lstm_backward_part(q, student_cls, device="cuda")))


# ----------------------------------------------------------------------------------------------
# masked pooling: an independent torch implementation (float64) for outputs and autograd gradients
# ----------------------------------------------------------------------------------------------
def torch_pool(h, mask, mode):
    lengths = mask.sum(dim=1).long()
    rows = []
    for n in range(h.shape[0]):
        real = h[n, :lengths[n]]                       # (length, H): the real positions only
        rows.append({"sum": lambda: real.sum(0), "mean": lambda: real.mean(0),
                     "max": lambda: real.max(0).values, "last": lambda: real[-1]}[mode]())
    return torch.stack(rows)


def _random_mask(q, N, T, full_first=True):
    lengths = q.rng.integers(1, T + 1, size=N)
    if full_first:
        lengths[0] = T
    return (np.arange(T)[None, :] < lengths[:, None]).astype(np.float64)


def _pool_case(q, N, T, H):
    h = q.randn(N, T, H)
    h[:, :, 0] = -np.abs(h[:, :, 0]) - 0.1       # one unit all negative: a padded 0 must not win the max
    return h, _random_mask(q, N, T)


@question("masked_pool")
def masked_pool(q):
    student = q.student("masked_pool")

    def case(mode, N=4, T=6, H=5):
        def run():
            h, mask = _pool_case(q, N, T, H)
            result = student(*_copies(h, mask), mode)
            out, cache = expect_tuple(result, "masked_pool", ["out", "cache"])
            expected = torch_pool(torch.tensor(h), torch.tensor(mask), mode).numpy()
            expect_close(f"out ({mode})", out, expected, mistakes=pool_mistakes(h, mask, mode))
            expect_close(f"out ({mode}) against the reference", out, _ref().masked_pool(h, mask, mode)[0])
        return run

    for mode in MODES:
        q.part(f"mode {mode!r}, padded batch (N=4, T=6, H=5)", case(mode))

    def edge():
        for mode in MODES:
            case(mode, N=1, T=1, H=3)()
            h, mask = _pool_case(q, 3, 4, 2)
            _, cache = student(*_copies(h, mask), mode)
            if not isinstance(cache, tuple) or len(cache) != 3 or cache[2] != mode:
                raise Mismatch("cache should be the tuple (h, mask, mode) documented in the docstring "
                               "(masked_pool_backward is graded with a cache in that format)")
            expect_close("cache[0] (h)", cache[0], h)
            expect_close("cache[1] (mask)", cache[1], mask)
    q.part("all modes with N=1, T=1; cache = (h, mask, mode)", edge)


@question("masked_pool_backward")
def masked_pool_backward(q):
    student = q.student("masked_pool_backward")
    ref = _ref()

    def case(mode, N=4, T=6, H=5):
        def run():
            h, mask = _pool_case(q, N, T, H)
            _, cache = ref.masked_pool(h, mask, mode)
            dout = q.randn(N, H)
            saved = _copies(dout, h, mask)
            dh = student(dout, cache)
            for name, before, after in zip(("dout", "h", "mask"), saved, (dout, h, mask)):
                if not np.array_equal(before, after):
                    raise Mismatch(f"your function changed its input `{name}` in place; use `a = a + b`, not `a += b`")
            h_t = torch.tensor(h, requires_grad=True)
            (torch_pool(h_t, torch.tensor(mask), mode) * torch.tensor(dout)).sum().backward()
            m = mask[:, :, None]
            variants = [
                (lambda: np.broadcast_to(dout[:, None, :], h.shape), "padded positions received gradient: they must "
                                                                     "get exactly 0 (multiply by the mask)"),
                (lambda: dout[:, None, :] * m / T, "divided by T: divide by each sequence's length"),
            ]
            if mode == "max":
                winner = (h * m).argmax(1)
                wrong = np.zeros_like(h)
                np.put_along_axis(wrong, winner[:, None, :], dout[:, None, :], axis=1)
                variants.append((lambda: wrong, "the winner was taken from h * mask, where a padded 0 can win: "
                                                "use the -inf-masked states"))
            if mode == "last":
                wrong = np.zeros_like(h)
                wrong[:, -1] = dout
                variants.append((lambda: wrong, "the gradient went to h[:, -1]; it belongs at mask.sum(1) - 1"))
            expect_close(f"dh ({mode})", dh, h_t.grad.numpy(), mistakes=variants)
        return run

    for mode in MODES:
        q.part(f"dh, mode {mode!r}, padded batch, cache from the reference forward", case(mode))

    def edge():
        for mode in MODES:
            case(mode, N=1, T=1, H=3)()
            case(mode, N=2, T=3, H=1)()
    q.part("all modes with N=1, T=1 and with H=1", edge)


@question("masked_pool_torch")
def masked_pool_torch(q):
    student = q.student("masked_pool_torch")

    def case(modes, N=4, T=6, H=5, dtype=torch.float64):
        def run():
            for mode in modes:
                h, mask = _pool_case(q, N, T, H)
                h_o = torch.tensor(h, dtype=dtype, requires_grad=True)
                mask_t = torch.tensor(mask, dtype=dtype)
                out = student(torch.tensor(h, dtype=dtype, requires_grad=True), mask_t, mode)
                expected = torch_pool(h_o, mask_t, mode)
                tol = dict(tol=NUMPY_TOL) if dtype == torch.float64 else dict(atol=TORCH_ATOL)
                expect_close(f"out ({mode})", out, expected.detach(), mistakes=pool_mistakes(h, mask, mode), **tol)
                if not isinstance(out, torch.Tensor) or not out.requires_grad:
                    raise Mismatch(f"out ({mode}) is not connected to h's graph: use torch operations on h")
                dout = torch.tensor(q.randn(N, H), dtype=dtype)
                # the student's autograd runs in the kernel: forward again there, backward of sum(out * dout)
                h_grad = q.kernel.grad_call(student, torch.tensor(h, dtype=dtype, requires_grad=True), mask_t, mode,
                                            grad_outputs=(dout,)).input_grads[0]
                (expected * dout).sum().backward()
                expect_close(f"h.grad ({mode}) by autograd", h_grad, h_o.grad, **tol)
        return run

    q.part("sum and mean, float64, output and autograd gradient", case(("sum", "mean")))
    q.part("max and last, float64, output and autograd gradient", case(("max", "last")))
    q.part("all modes, float32, N=1", case(MODES, N=1, T=3, H=2, dtype=torch.float32))


# ----------------------------------------------------------------------------------------------
# sample_with_temperature (3 points)
# ----------------------------------------------------------------------------------------------
def kernel_rngs(q):
    """seed -> numpy.random.default_rng(seed) made in the student's kernel (a RemoteObject).

    The student's sampler must call rng.random(N) on a real numpy Generator, and a Generator is not data:
    it is built where the sampler runs, by the notebook's numpy, with the seed the checker chose. The
    checker draws the same u = default_rng(seed).random(N) with its own numpy to compute the expected ids,
    so whatever the kernel's generator does, only a correct sampler matches them."""
    made = {}

    def numpy_of_the_kernel():
        for name in ("np", "numpy"):              # the notebook's own import (the released first cell)
            try:
                yield q.kernel.getattr(name, "random")
            except (RemoteError, AttributeError):
                pass
        try:                                      # a notebook that renamed it: import it through the builtins
            builtins = q.kernel.getattr("sample_with_temperature", "__builtins__")
            yield builtins["__import__"]("numpy.random", {}, {}, ["default_rng"])
        except (RemoteError, AttributeError, KeyError, TypeError):
            pass

    def make(seed):
        if "default_rng" not in made:
            for random in numpy_of_the_kernel():
                try:
                    made["default_rng"] = random.default_rng
                    break
                except (RemoteError, AttributeError):
                    continue
            else:
                raise Mismatch("the grader builds the rng argument with the notebook's numpy: keep "
                               "`import numpy as np` in the first code cell")
        return made["default_rng"](seed)
    return make


@question("sample_with_temperature")
def sample_with_temperature(q):
    student = q.student("sample_with_temperature")
    rng_in_kernel = kernel_rngs(q)

    def probs_part():
        for tau in (0.5, 1.0, 2.5):
            logits = q.randn(4, 7, scale=3.0)
            _, probs = student(logits.copy(), tau, rng_in_kernel(0))
            expected = torch.softmax(torch.tensor(logits) / tau, dim=1).numpy()
            expect_close(f"probs (temperature {tau})", probs, expected, mistakes=[
                (lambda: torch.softmax(torch.tensor(logits) * tau, 1).numpy(), "multiplied by the temperature; "
                                                                                "divide: softmax(logits / temperature)"),
                (lambda: torch.softmax(torch.tensor(logits), 1).numpy(), "the temperature is not used"),
                (lambda: torch.softmax(torch.tensor(logits) / tau, 0).numpy(), "normalised over the batch axis: "
                                                                                "each ROW must sum to 1"),
            ])
        big = np.array([[1000.0, 999.0, -1000.0]])
        _, probs = student(big, 1.0, rng_in_kernel(0))
        expect_close("probs for logits of size 1000 (subtract the row maximum before exp)", probs,
                     torch.softmax(torch.tensor(big), 1).numpy())

    def ids_part():
        for tau in (0.7, 1.0, 3.0):
            logits = q.randn(50, 6, scale=2.0)
            seed = int(q.rng.integers(2 ** 31))
            ids, _ = student(logits.copy(), tau, rng_in_kernel(seed))
            probs = torch.softmax(torch.tensor(logits) / tau, dim=1).numpy()
            u = np.random.default_rng(seed).random(50)
            expected = np.array([min(int(np.sum(np.cumsum(p) <= v)), 5) for p, v in zip(probs, u)])
            ids = to_numpy(ids)
            if ids.shape != (50,):
                raise Mismatch(f"ids: shape {ids.shape}, expected (50,)")
            if not np.array_equal(ids.astype(np.int64), expected):
                raise Mismatch(f"ids: {int(np.sum(ids != expected))} of 50 differ from inverse-transform sampling "
                               "with u = rng.random(N) drawn once (the first index whose cumulative probability "
                               "exceeds u)")

    def frequencies_part():
        logits = q.randn(1, 5)
        tau = 1.5
        draws = np.concatenate([to_numpy(student(np.tile(logits, (4000, 1)), tau,
                                                 rng_in_kernel(int(q.rng.integers(2 ** 31))))[0])
                                for _ in range(5)]).astype(np.int64)
        freq = np.bincount(draws, minlength=5)[:5] / len(draws)
        probs = torch.softmax(torch.tensor(logits[0]) / tau, 0).numpy()
        worst = float(np.max(np.abs(freq - probs) / np.sqrt(probs * (1 - probs) / len(draws) + 1e-12)))
        if worst > 5:
            raise Mismatch(f"the frequencies of 20,000 draws are off from softmax(logits / temperature) "
                           f"by {worst:.1f} standard errors (tolerance 5)")

    def greedy_part():
        logits = q.randn(6, 8)
        ids, probs = student(logits.copy(), 0, None)
        if not np.array_equal(to_numpy(ids).astype(np.int64), logits.argmax(axis=1)):
            raise Mismatch("temperature 0 should return the argmax of each row (without using rng)")
        expect_close("probs at temperature 0 (one-hot at the argmax)", probs, np.eye(8)[logits.argmax(axis=1)])

    q.part("probs = softmax(logits / temperature), against torch.softmax", probs_part)
    q.part("ids by inverse-transform sampling with u = rng.random(N)", ids_part)
    q.part("empirical frequencies of many draws match the probabilities", frequencies_part)
    q.part("temperature 0: greedy (argmax), one-hot probs", greedy_part)


# ----------------------------------------------------------------------------------------------
# beam_search (5 points)
# ----------------------------------------------------------------------------------------------
def toy_decoder(q, V, H=3, calls=None):
    """A random recurrent "decoder": step(token, h) -> (log_probs (V,), new h); counts its calls.

    It runs in the checker: passed to the student's beam_search, it reaches the kernel as a stub that
    calls back here, so the student's code sees only the data it returns. A complaint about a call
    (`step_fn.problems`) is raised again by `call_decoding` when the student's function fails."""
    E, Wh, Wo = q.randn(V, H), q.randn(H, H), q.randn(H, V, scale=2.0)

    def step_fn(token, h):
        if calls is not None:
            calls.append(int(token))
        if not 0 <= int(token) < V:
            step_fn.problems.append(f"step_fn was called with token {token}, outside the vocabulary 0..{V - 1}")
            raise Mismatch(step_fn.problems[-1])
        h = np.tanh(E[int(token)] + np.asarray(h) @ Wh)
        z = h @ Wo
        z = z - z.max()
        return z - np.log(np.exp(z).sum()), h
    step_fn.problems = []
    return step_fn


def call_decoding(student, step_fn, *args):
    """The student's beam_search(step_fn, ...); when it fails because step_fn refused a call (the refusal
    reached the kernel as an exception inside the student's code), the part fails with step_fn's message."""
    try:
        return student(step_fn, *args)
    except RemoteError:
        if step_fn.problems:
            raise Mismatch(step_fn.problems[0]) from None
        raise


def exhaustive(step_fn, start, bos, eos, V, max_len):
    """The best complete sequence (ending with eos, or of length max_len) by enumerating all of them."""
    best_tokens, best_score = None, -np.inf
    for length in range(1, max_len + 1):
        for body in itertools.product([v for v in range(V) if v != eos], repeat=length - 1):
            for last in range(V):
                tokens = list(body) + [last]
                if last != eos and length < max_len:
                    continue
                state, score, previous = start, 0.0, bos
                for token in tokens:
                    log_probs, state = step_fn(previous, state)
                    score += log_probs[token]
                    previous = token
                if score > best_score:
                    best_tokens, best_score = tokens, score
    return best_tokens, best_score


def _check_result(result, tokens, score, what):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Mismatch(f"{what}: beam_search should return a pair (tokens, score)")
    got_tokens, got_score = result
    try:
        got_tokens = [int(t) for t in got_tokens]
    except Exception:
        raise Mismatch(f"{what}: tokens should be a list of int ids") from None
    if got_tokens != [int(t) for t in tokens]:
        raise Mismatch(f"{what}: a different sequence than expected (length {len(got_tokens)}, expected length "
                       f"{len(tokens)}); check the procedure: keep the beam_size best extensions of ALL alive "
                       "hypotheses, ranked by their TOTAL score (the sum of log-probabilities, not the last token's), set "
                       "aside those ending in eos, return the best finished one")
    if not np.isfinite(float(got_score)) or abs(float(got_score) - float(score)) > 1e-9 * max(1.0, abs(score)):
        raise Mismatch(f"{what}: the right tokens but the score differs by {abs(float(got_score) - score):.1e}: the "
                       "score is the sum of log_probs[token] over all generated tokens (eos included)")


@question("beam_search")
def beam_search(q):
    student = q.student("beam_search")
    ref = _ref()

    def exhaustive_part(V, max_len):
        def run():
            step_fn = toy_decoder(q, V)
            start, bos, eos = q.randn(3), 0, int(q.rng.integers(1, V))
            tokens, score = exhaustive(step_fn, start, bos, eos, V, max_len)
            result = call_decoding(student, step_fn, start, bos, eos, V ** max_len, max_len)
            _check_result(result, tokens, score, f"beam as large as all sequences (V={V}, max_len={max_len}) "
                                                 "against an exhaustive search")
        return run

    def greedy_part():
        V, max_len = 6, 7
        step_fn = toy_decoder(q, V)
        start, bos, eos = q.randn(3), 0, 1
        state, previous, tokens, score = start, bos, [], 0.0
        for _ in range(max_len):
            log_probs, state = step_fn(previous, state)
            previous = int(np.argmax(log_probs))
            tokens.append(previous)
            score += log_probs[previous]
            if previous == eos:
                break
        _check_result(call_decoding(student, step_fn, start, bos, eos, 1, max_len), tokens, score,
                      "beam_size=1 against greedy decoding")

    def reference_part(V, beam_size, max_len):
        def run():
            for _ in range(3):
                step_fn = toy_decoder(q, V)
                start, bos, eos = q.randn(3), 0, 1
                tokens, score = ref.beam_search(step_fn, start, bos, eos, beam_size, max_len)
                _check_result(call_decoding(student, step_fn, start, bos, eos, beam_size, max_len), tokens, score,
                              f"beam_size={beam_size}, V={V}, max_len={max_len}")
        return run

    def calls_part():
        V, max_len = 5, 4
        calls, expected_calls = [], []
        step_fn = toy_decoder(q, V)
        start = q.randn(3)
        counted = toy_decoder_like(step_fn, calls)
        counted.problems = step_fn.problems
        call_decoding(student, counted, start, 0, 1, 2, max_len)
        ref.beam_search(toy_decoder_like(step_fn, expected_calls), start, 0, 1, 2, max_len)
        if len(calls) > len(expected_calls):
            raise Mismatch(f"step_fn was called {len(calls)} times, expected at most {len(expected_calls)}: call it "
                           "once per alive hypothesis per step (not once per candidate token)")
        if not calls or calls[0] != 0:
            raise Mismatch("the first call of step_fn should read the bos token")

    q.part("full beam = exhaustive search (V=3, max_len=4)", exhaustive_part(3, 4))
    q.part("full beam = exhaustive search (V=4, max_len=3)", exhaustive_part(4, 3))
    q.part("beam_size=1 = greedy decoding", greedy_part)
    q.part("beam_size=3 (V=6, max_len=6) against the reference", reference_part(6, 3, 6), weight=2)
    q.part("beam_size=2, max_len=1 against the reference", reference_part(5, 2, 1))
    q.part("step_fn starts from bos, once per alive hypothesis per step", calls_part)


def toy_decoder_like(step_fn, calls):
    def counted(token, state):
        calls.append(int(token))
        return step_fn(token, state)
    return counted
