"""Hidden checks of lesson 6's image captioning exercise (section 6.1): CaptionDecoder and greedy_caption.

- CaptionDecoder: the student's module runs in the kernel (a RemoteObject) with weights loaded from a
  module built here; the oracle is the same computation written out with nn.LSTMCell, one step at a
  time, float64: h_0 = tanh(picture_to_h(v)), c_0 = 0, the step input [embed(y); v]. Parts: the logits from
  state None, the state returned, a sequence continued from a given state.
- greedy_caption: the decoder is a function of the checker (it reaches the kernel as a stub that calls
  back here): its next word depends only on the row's class v[:, 0] and the word it is fed, through a
  random table, so the greedy captions are known by construction. It counts its calls and refuses
  calls with a token that is not (N, 1).
Random sizes and tables come from q.rng; the checker's torch RNG is never touched.
"""
import numpy as np
import torch
from torch import nn

from autograder.checks import question
from autograder.checks.core import Mismatch, expect_close
from autograder.in_kernel.wire import RemoteError


def _reference_decoder(g, F, V, E, H):
    """A module with CaptionDecoder's parameters (names and shapes), random weights from generator g."""
    state = torch.random.get_rng_state()
    try:
        module = nn.Module()
        module.picture_to_h = nn.Linear(F, H)
        module.word_vectors = nn.Embedding(V, E)
        module.lstm = nn.LSTM(E + F, H, batch_first=True)
        module.to_logits = nn.Linear(H, V)
    finally:
        torch.random.set_rng_state(state)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return module.double()


def _oracle(ref, v, tokens, h, c, v_first=False):
    """The decoder written out: nn.LSTMCell with the LSTM's weights, step input [embed(y_t); v]."""
    cell = nn.LSTMCell(ref.lstm.input_size, ref.lstm.hidden_size).double()
    cell.load_state_dict({k[:-3]: w for k, w in ref.lstm.state_dict().items()})
    out = []
    with torch.no_grad():
        for t in range(tokens.shape[1]):
            words = ref.word_vectors(tokens[:, t])
            h, c = cell(torch.cat([v, words] if v_first else [words, v], dim=1), (h, c))
            out.append(ref.to_logits(h))
    return torch.stack(out, dim=1), h, c


def _forward_result(result):
    if not (isinstance(result, (tuple, list)) and len(result) == 2 and isinstance(result[1], (tuple, list))
            and len(result[1]) == 2):
        raise Mismatch("CaptionDecoder.forward should return (logits, (h, c))")
    return result[0], result[1][0], result[1][1]


@question("caption_decoder")
def caption_decoder(q):
    Decoder = q.student("CaptionDecoder")
    F, V, E, H = (int(x) for x in q.rng.integers(3, 8, size=4))
    N, T = int(q.rng.integers(2, 5)), int(q.rng.integers(2, 6))
    g = torch.Generator().manual_seed(int(q.rng.integers(2 ** 31)))
    ref = _reference_decoder(g, F, V, E, H)
    v = torch.randn(N, F, generator=g, dtype=torch.float64)
    tokens = torch.from_numpy(q.rng.integers(0, V, size=(N, T)))
    h0 = torch.tanh(ref.picture_to_h(v)).detach()
    expected = _oracle(ref, v, tokens, h0, torch.zeros_like(h0))
    model = {}

    def build():
        m = Decoder(F, V, E, H)
        m = m.to(torch.float64)
        m.load_state_dict(ref.state_dict())
        model["m"] = m
        return m

    def fresh():
        logits, h, c = _forward_result(build()(v, tokens))
        raw = ref.picture_to_h(v).detach()
        zeros = torch.zeros_like(h0)
        for wrong, message in ((_oracle(ref, v, tokens, h0, h0)[0], "logits: c_0 should be zero; only h_0 comes from v"),
                               (_oracle(ref, v, tokens, raw, zeros)[0], "logits: h_0 = tanh(picture_to_h(v)): the tanh is missing"),
                               (_oracle(ref, v, tokens, h0, zeros, v_first=True)[0],
                                "logits: the step input is [word_vectors(y); v], the word first: v came first")):
            actual = torch.as_tensor(logits).double()
            if actual.shape == wrong.shape and torch.allclose(actual, wrong, rtol=1e-6, atol=1e-9):
                raise Mismatch(message)
        expect_close("logits (N, T, V) from state=None", logits, expected[0], tol=1e-6)
        model["state"] = (h, c)

    def state():
        if "state" not in model:
            raise Mismatch("the forward pass from state=None failed, so its state cannot be checked")
        h, c = model["state"]
        expect_close("h returned, shape (1, N, H)", h, expected[1].unsqueeze(0), tol=1e-6)
        expect_close("c returned, shape (1, N, H)", c, expected[2].unsqueeze(0), tol=1e-6)

    def continued():
        m = model.get("m") or build()
        cut = max(1, T // 2)
        h_mid = torch.randn(N, H, generator=g, dtype=torch.float64)
        c_mid = torch.randn(N, H, generator=g, dtype=torch.float64)
        logits, _, _ = _forward_result(m(v, tokens[:, cut:], (h_mid.unsqueeze(0), c_mid.unsqueeze(0))))
        expect_close("logits continued from a given state (h, c)", logits,
                     _oracle(ref, v, tokens[:, cut:], h_mid, c_mid)[0], tol=1e-6)

    q.part("forward from state=None: h_0 = tanh(picture_to_h(v)), c_0 = 0, input [word_vectors; v]", fresh, weight=2)
    q.part("the state (h, c) returned", state)
    q.part("a given state is continued", continued)


def _chain_decoder(table, V):
    """decoder(v, token, state) whose logits' argmax is table[class of the row, word fed]; counts calls."""
    def decoder(v, token, state):
        decoder.calls += 1
        token = torch.as_tensor(token)
        v = torch.as_tensor(v)
        if tuple(token.shape) != (v.shape[0], 1):
            decoder.problems.append(f"greedy_caption called the decoder with token of shape {tuple(token.shape)}, "
                                    f"expected (N, 1) = ({v.shape[0]}, 1)")
            raise Mismatch(decoder.problems[-1])
        if decoder.calls == 1 and state is not None:
            decoder.problems.append("greedy_caption: the first decoder call has no state (state=None)")
            raise Mismatch(decoder.problems[-1])
        logits = torch.from_numpy(decoder.noise[: v.shape[0]].copy())
        for n in range(v.shape[0]):
            word = int(token[n, 0])
            if not 0 <= word < V:
                decoder.problems.append(f"greedy_caption fed the decoder the word {word}, outside 0..{V - 1}")
                raise Mismatch(decoder.problems[-1])
            logits[n, table[int(v[n, 0]), word]] += 4.0
        return logits.unsqueeze(1), torch.tensor([float(decoder.calls)])
    decoder.calls, decoder.problems = 0, []
    return decoder


def _expected(table, classes, bos, eos, max_len):
    captions, longest = [], 0
    for k in classes:
        words, word = [], bos
        for step in range(max_len):
            word = int(table[k, word])
            if word == eos:
                break
            words.append(word)
        captions.append(words)
        longest = max(longest, min(max_len, len(words) + 1))
    return captions, longest


def _greedy(q, student, table, V, classes, bos, eos, max_len):
    decoder = _chain_decoder(table, V)
    decoder.noise = q.rng.uniform(-1, 1, size=(len(classes), V))
    v = torch.tensor([[float(k), 0.5] for k in classes])
    try:
        words = student(decoder, v, bos, eos, max_len)
    except RemoteError:
        if decoder.problems:
            raise Mismatch(decoder.problems[0]) from None
        raise
    if not isinstance(words, (list, tuple)) or len(words) != len(classes) or \
            not all(isinstance(w, (list, tuple)) for w in words):
        raise Mismatch(f"greedy_caption should return a list of N = {len(classes)} lists of ids")
    return [[int(x) for x in w] for w in words], decoder.calls


@question("greedy_caption")
def greedy_caption(q):
    student = q.student("greedy_caption")
    V, bos, eos = 9, 1, 2
    classes = 4
    table = q.rng.integers(3, V, size=(classes, V))
    table[0, bos] = eos                        # class 0: says eos at once -> []
    table[1, :] = table[1, bos]                # class 1: repeats one word for ever -> cut at max_len
    table[1, bos] = table[1, 3] = 3
    for k in (2, 3):                           # classes 2, 3: a few words, then eos
        word = bos
        for _ in range(int(q.rng.integers(1, 4))):
            word = table[k, word]
        table[k, word] = eos

    def batch():
        rows = [int(k) for k in q.rng.permutation(np.arange(6) % classes)]
        max_len = 7
        words, calls = _greedy(q, student, table, V, rows, bos, eos, max_len)
        expected, _ = _expected(table, rows, bos, eos, max_len)
        for n, (got, want) in enumerate(zip(words, expected)):
            if got != want and got[:len(want)] == want and len(got) > len(want):
                raise Mismatch(f"row {n}: not the greedy caption: it goes on after eos (eos ends the row and is "
                               "not part of its caption)")
            if got != want and len(want) == max_len:
                raise Mismatch(f"row {n}: not the greedy caption: a row that never says eos has max_len words")
            if got != want:
                raise Mismatch(f"row {n}: not the greedy caption: feed back each row's argmax word with the "
                               "returned state")

    def calls():
        rows, max_len = [2, 3, 0, 2], 9
        _, made = _greedy(q, student, table, V, rows, bos, eos, max_len)
        _, needed = _expected(table, rows, bos, eos, max_len)
        if made > needed:
            raise Mismatch(f"{made} decoder calls where {needed} are enough: one call per step for the whole batch, "
                           "and stop when every row has ended")
        if made < needed:
            raise Mismatch(f"{made} decoder calls: too few to finish every row")

    def edges():
        words, made = _greedy(q, student, table, V, [0], bos, eos, 5)
        if words != [[]]:
            raise Mismatch("a row whose first word is eos has the caption [] (eos is not part of it)")
        words, made = _greedy(q, student, table, V, [1, 1], bos, eos, 4)
        if words != [[3, 3, 3, 3]] * 2 or made != 4:
            raise Mismatch("rows that never say eos: max_len words each, in max_len decoder calls")

    q.part("a batch of 6 rows, max_len=7, against captions known by construction", batch, weight=2)
    q.part("decoder calls: one per step for the batch, early stop", calls)
    q.part("edge cases: eos first, no eos before max_len", edges)
