"""Hidden checks of lesson 1 (sequence problems: vocabulary, one-hot, padding, embedding, bigram, perplexity).

Oracles: torch where it has the operation (F.one_hot, nn.utils.rnn.pad_sequence, nn.Embedding,
torch.bincount for bigram counts, F.nll_loss for perplexity, F.cross_entropy(ignore_index=...) for the
masked loss); the reference module for the vocabulary functions, which torch does not have. Inputs
are fresh at every grading run (q.rng); every check repeats ids, because text always does.
Messages say what is wrong and where to look, never the expected values.
"""
import numpy as np
import torch
import torch.nn.functional as F

from autograder.checks import question
from autograder.checks.core import expect_tuple, Mismatch, expect_close
from autograder.in_kernel.wire import RemoteError
from autograder.references import l01_sequences as ref

ADD_AT_HINT = ("ids repeat, and `a[idx] += v` counts a repeated index only once; "
               "use np.add.at(a, idx, v).")
# Characters of English and Vietnamese (NFC), plus a few multi-character word tokens.
ALPHABET = list("abcdefghiklmnopqrstuvxyABCDĐ ,.!?") + list("ăâêôơưđáàảãạấầẩẫậếềểễệốồổỗộớờởỡợứừửữựíìỉĩị") \
    + ["Việt", "Nam", "yêu", "the", "food"]


def _grad_call(q, not_connected, target, *args, **kwargs):
    """q.kernel.grad_call; when no output of the student's code depends on the inputs (the kernel's
    ValueError), the part fails with the Mismatch message `not_connected` instead."""
    try:
        return q.kernel.grad_call(target, *args, **kwargs)
    except RemoteError as error:
        if error.type_name == "ValueError" and error.message.startswith("no output depends on"):
            raise Mismatch(not_connected) from None
        raise


def _tokens(q, n, alphabet_size=None):
    alphabet = ALPHABET if alphabet_size is None else ALPHABET[:alphabet_size]
    return [alphabet[i] for i in q.rng.integers(0, len(alphabet), size=n)]


def _expect_int_array(what, value, shape):
    value = np.asarray(value)
    if value.shape != tuple(shape):
        raise Mismatch(f"{what}: shape {value.shape}, expected {tuple(shape)}")
    if not np.issubdtype(value.dtype, np.integer):
        raise Mismatch(f"{what}: dtype {value.dtype}, expected an integer array (ids are indices)")
    return value


# ----------------------------------------------------------------------------- build_vocab
@question("build_vocab")
def build_vocab(q):
    student = q.student("build_vocab")

    def compare(tokens, min_count):
        itos, stoi = student(list(tokens), min_count=min_count)
        exp_itos, _ = ref.build_vocab(list(tokens), min_count=min_count)
        if not isinstance(itos, list) or not isinstance(stoi, dict):
            raise Mismatch("should return (itos, stoi): a list and a dict")
        if itos[:4] != list(ref.SPECIALS):
            raise Mismatch(f"itos must start with {list(ref.SPECIALS)} (ids 0, 1, 2, 3)")
        if len(itos) != len(exp_itos):
            raise Mismatch(f"itos has too {'many' if len(itos) > len(exp_itos) else 'few'} entries: each distinct "
                           "token seen at least min_count times appears once (count with >=), specials not repeated")
        if set(itos) != set(exp_itos):
            raise Mismatch("itos holds the wrong tokens: keep exactly those counted at least min_count times")
        if itos != exp_itos:
            raise Mismatch("the tokens after the specials are not in sorted() order")
        if len(stoi) != len(itos) or any(stoi.get(token) != i for i, token in enumerate(itos)):
            raise Mismatch("stoi is not the inverse of itos (stoi[itos[i]] == i for every i)")

    q.part("characters, English and Vietnamese (min_count=1)", lambda: compare(_tokens(q, 200), 1), weight=2)
    q.part("min_count=3 drops rare tokens", lambda: compare(_tokens(q, 60), 3), weight=2)
    q.part("a token equal to a special string is not added twice",
           lambda: compare(_tokens(q, 20) + ["<unk>", "<pad>", "<unk>"], 1))
    q.part("a single token", lambda: compare(["x"], 1))


# ----------------------------------------------------------------------------- encode
@question("encode")
def encode(q):
    student = q.student("encode")

    def run(n_vocab_tokens, n_tokens):
        _, stoi = ref.build_vocab(_tokens(q, n_vocab_tokens, alphabet_size=25))
        tokens = _tokens(q, n_tokens)            # drawn from the full alphabet: some are unknown
        ids = _expect_int_array("ids", student(tokens, stoi), (len(tokens),))
        expected = ref.encode(tokens, stoi)
        unknown = expected == ref.UNK
        if not np.array_equal(ids[~unknown], expected[~unknown]):
            raise Mismatch("ids of tokens in the vocabulary are wrong: ids[t] = stoi[tokens[t]]")
        if not np.array_equal(ids[unknown], expected[unknown]):
            raise Mismatch(f"tokens missing from stoi must get UNK = {ref.UNK} (stoi.get(token, UNK))")

    q.part("known and unknown tokens", lambda: run(80, 60), weight=3)
    q.part("a single token", lambda: run(80, 1))
    q.part("empty input gives an empty int array",
           lambda: _expect_int_array("ids", student([], ref.build_vocab(list("ab"))[1]), (0,)))


# ----------------------------------------------------------------------------- decode
@question("decode")
def decode(q):
    student = q.student("decode")

    def run(as_list):
        itos, _ = ref.build_vocab(_tokens(q, 100))
        ids = q.rng.integers(0, len(itos), size=30)
        tokens = student(ids.tolist() if as_list else ids, itos)
        if not isinstance(tokens, list):
            raise Mismatch(f"should return a list of str, got {type(tokens).__name__}")
        if tokens != ref.decode(ids, itos):
            raise Mismatch("tokens[t] should be itos[ids[t]]")

    q.part("ids as a NumPy array", lambda: run(False), weight=2)
    q.part("ids as a list", lambda: run(True))


# ----------------------------------------------------------------------------- one_hot
@question("one_hot")
def one_hot(q):
    student = q.student("one_hot")

    def run(shape, V):
        ids = q.rng.integers(0, V, size=shape)
        out = np.asarray(student(ids.copy(), V))
        expected = F.one_hot(torch.from_numpy(ids), V).double().numpy()
        expect_close("one_hot", out, expected)
        if out.dtype != np.float64:
            raise Mismatch(f"one_hot: dtype {out.dtype}, expected float64")

    q.part("ids of shape (N, T)", lambda: run((4, 6), 9), weight=2)
    q.part("ids of shape (T,)", lambda: run((7,), 5))
    q.part("V = 1 and a single id", lambda: run((1, 1), 1))


# ----------------------------------------------------------------------------- pad_batch
@question("pad_batch")
def pad_batch(q):
    student = q.student("pad_batch")

    def run(lengths, pad_id, as_lists=False, what_ids="ids"):
        seqs = [q.rng.integers(4, 40, size=int(L)) for L in lengths]
        given = [s.tolist() for s in seqs] if as_lists else [s.copy() for s in seqs]
        result = student(given, pad_id=pad_id)
        ids, mask = expect_tuple(result, "pad_batch", ["ids", "mask"])
        T = max(lengths)
        ids = _expect_int_array(what_ids, ids, (len(seqs), T))
        expected = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(s) for s in seqs], batch_first=True,
                                                   padding_value=pad_id).numpy()
        if not np.array_equal(ids, expected):
            raise Mismatch(f"{what_ids}: wrong values; sequence n fills ids[n, :T_n], pad_id fills the rest")
        mask = np.asarray(mask)
        if mask.dtype != bool:
            raise Mismatch(f"mask: dtype {mask.dtype}, expected bool")
        if mask.shape != ids.shape or not np.array_equal(mask, np.arange(T)[None, :] < np.array(lengths)[:, None]):
            raise Mismatch("mask: wrong; mask[n, t] must be True exactly when t < T_n")

    q.part("random lengths, pad_id=0", lambda: run(q.rng.integers(1, 9, size=5), 0), weight=2)
    q.part("pad_id other than 0", lambda: run([3, 1, 4, 2], 3))
    q.part("sequences given as Python lists", lambda: run([2, 5, 1], 0, as_lists=True))
    q.part("N=1, and equal lengths (no padding)", lambda: (run([4], 0), run([3, 3, 3], 0)))


# ----------------------------------------------------------------------------- embedding_forward
def _embedding_module(W):
    """nn.Embedding holding W (built without drawing from torch's global random generator, and not on
    the meta device: a meta Embedding's initialisation imports torch's compiler, ~2.5 s per worker)."""
    return torch.nn.Embedding.from_pretrained(torch.as_tensor(W).detach().clone(), freeze=False)


@question("embedding_forward")
def embedding_forward(q):
    student = q.student("embedding_forward")

    def run(shape, V, D, check_cache=False):
        ids, W = q.rng.integers(0, V, size=shape), q.randn(V, D)
        result = student(ids.copy(), W.copy())
        out, cache = expect_tuple(result, "embedding_forward", ["out", "cache"])
        with torch.no_grad():
            expected = _embedding_module(W)(torch.from_numpy(ids)).numpy()
        expect_close("out", out, expected)
        if check_cache:
            if not (isinstance(cache, tuple) and len(cache) == 2 and np.array_equal(cache[0], ids)
                    and np.array_equal(cache[1], W)):
                raise Mismatch("cache should be the tuple (ids, W), the documented format")

    q.part("ids (N, T) with repeats", lambda: run((5, 7), 6, 4), weight=2)
    q.part("ids (T,), N=1, T=1", lambda: (run((9,), 4, 3), run((1, 1), 3, 2)))
    q.part("cache is (ids, W)", lambda: run((2, 3), 5, 2, check_cache=True))


# ----------------------------------------------------------------------------- embedding_backward
@question("embedding_backward")
def embedding_backward(q):
    student = q.student("embedding_backward")

    def run(ids, V, D):
        W = q.randn(V, D)
        _, cache = ref.embedding_forward(ids.copy(), W.copy())
        dout = q.randn(*ids.shape, D)
        dout_before = dout.copy()
        dW = student(dout, cache)
        emb = _embedding_module(W)
        (emb(torch.from_numpy(ids)) * torch.from_numpy(dout_before)).sum().backward()
        trap = np.zeros_like(W)
        trap[ids] += dout_before                 # what the buffered `+=` gives
        expect_close("dW", dW, emb.weight.grad.numpy(), mistakes=[(trap, ADD_AT_HINT)],
                     hint="dW[v] is the sum of dout[n, t] over the positions where ids[n, t] == v; "
                          "rows never used stay 0.")
        if not np.array_equal(dout, dout_before):
            raise Mismatch("dW is right but your function changed dout in place; make a new array instead")

    def distinct():
        V = 30
        run(q.rng.permutation(V)[:12].reshape(3, 4), V, 5)

    def repeated():
        ids = q.rng.integers(0, 4, size=(4, 6))
        ids[0, :3] = ids[1, 0]                   # at least one id four times
        run(ids, 6, 3)

    def unused_rows():
        ids = np.array([[1, 1, 1]])              # rows 0, 2, 3 unused: their gradient is zero
        run(ids, 4, 2)

    q.part("distinct ids", distinct)
    q.part("repeated ids accumulate", repeated, weight=2)
    q.part("one id three times, unused rows get zero", unused_rows)


# ----------------------------------------------------------------------------- bigram_probabilities
def _bigram_oracle(ids, V, alpha, once=False):
    t = torch.from_numpy(ids)
    counts = torch.bincount(t[:-1] * V + t[1:], minlength=V * V).reshape(V, V).double()
    if once:                                     # what the buffered `counts[a, b] += 1` gives
        counts = (counts > 0).double()
    return ((counts + alpha) / (counts.sum(dim=1, keepdim=True) + alpha * V)).numpy()


@question("bigram_probabilities")
def bigram_probabilities(q):
    student = q.student("bigram_probabilities")

    def run(ids, V, alpha):
        P = student(ids.copy(), V, alpha=alpha)
        expected = _bigram_oracle(ids, V, alpha)
        expect_close("P", P, expected, mistakes=[
            (lambda: _bigram_oracle(ids, V, alpha, once=True), ADD_AT_HINT),
            (expected.T, "P is transposed; rows are the current token, columns the next: P[ids[t], ids[t+1]]."),
        ], hint="P[i, j] = (c_ij + alpha) / (sum_k c_ik + alpha * V), the same formula for every row.")

    def rows_sum_to_one():
        V, ids = 8, q.rng.integers(0, 8, size=200)
        P = np.asarray(student(ids.copy(), V, alpha=0.5))
        if P.shape != (V, V):
            raise Mismatch(f"P: shape {P.shape}, expected {(V, V)}")
        expect_close("row sums of P", P.sum(axis=1), np.ones(V))

    q.part("rows sum to 1", rows_sum_to_one)
    q.part("random text, alpha=1 (repeated pairs)", lambda: run(q.rng.integers(0, 10, size=300), 10, 1.0), weight=2)
    q.part("small alpha=0.01", lambda: run(q.rng.integers(0, 5, size=100), 5, 0.01))
    q.part("tokens never seen give uniform rows", lambda: run(q.rng.integers(0, 3, size=40), 7, 2.0))


# ----------------------------------------------------------------------------- perplexity
@question("perplexity")
def perplexity(q):
    student = q.student("perplexity")

    def run(T, V, uniform=False):
        logits = np.zeros((T, V)) if uniform else q.randn(T, V, scale=2.0)
        probs = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
        targets = q.rng.integers(0, V, size=T)
        pp = student(probs.copy(), targets.copy())
        expected = torch.exp(F.nll_loss(torch.log(torch.from_numpy(probs)), torch.from_numpy(targets))).item()
        if np.ndim(pp) != 0:
            raise Mismatch(f"should return one number, got shape {np.shape(pp)}")
        picked = np.log(probs[np.arange(T), targets])
        expect_close("perplexity", float(pp), expected, mistakes=[
            (np.exp(-picked.sum()), "exp of the SUM of log-probabilities; use the MEAN over the T positions."),
            (np.exp(picked.mean()), "check the sign: perplexity = exp(MINUS the mean log-probability)."),
        ], hint="perplexity = exp(-mean_t log probs[t, targets[t]]); check the sign and the indexing.")

    q.part("random distributions", lambda: run(50, 12), weight=2)
    q.part("a uniform model over V tokens has perplexity V", lambda: run(20, 17, uniform=True))
    q.part("T=1", lambda: run(1, 6))


# ----------------------------------------------------------------------------- embedding_torch
@question("embedding_torch")
def embedding_torch(q):
    student = q.student("embedding_torch")

    def setup(shape, V, D):
        ids = torch.from_numpy(q.rng.integers(0, V, size=shape))
        W = torch.from_numpy(q.randn(V, D)).float()
        return ids, W.clone().requires_grad_(), _embedding_module(W)

    def forward():
        ids, W, emb = setup((4, 5), 6, 3)
        with torch.no_grad():
            expect_close("out", student(ids, W), emb(ids), atol=1e-5)

    def backward():
        ids, W, emb = setup((3, 8), 4, 5)       # 24 ids from 4 rows: many repeats
        dout = torch.from_numpy(q.randn(3, 8, 5)).float()
        out = student(ids, W)                    # W is sent with requires_grad: a leaf in the kernel
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            raise Mismatch("the output is not connected to W's autograd graph: index the tensor W, "
                           "do not go through NumPy")
        (W_grad,) = q.kernel.grad_call(student, ids, W, grad_outputs=(dout,)).input_grads
        (emb(ids) * dout).sum().backward()
        expect_close("W.grad", W_grad, emb.weight.grad, atol=1e-5)

    q.part("forward, float32, against nn.Embedding", forward)
    q.part("gradient of W with repeated ids, against nn.Embedding", backward)


# ----------------------------------------------------------------------------- masked_cross_entropy_torch
@question("masked_cross_entropy_torch")
def masked_cross_entropy_torch(q):
    student = q.student("masked_cross_entropy_torch")

    def case(N, T, V, pad_id, n_pad, dtype=torch.float64, offset=0.0):
        logits = torch.from_numpy(q.randn(N, T, V) + offset).to(dtype)
        targets = q.rng.integers(0, V, size=(N, T))
        targets[targets == pad_id] = (pad_id + 1) % V      # only the chosen positions are padding
        for n in range(N):
            if n_pad[n]:
                targets[n, T - n_pad[n]:] = pad_id
        return logits, torch.from_numpy(targets)

    def oracle(logits, targets, pad_id):
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad_id)

    def loss_mistakes(logits, targets, pad_id, grad=False):
        """The mistakes the visible check names too (course.sequences.cross_entropy_mistakes)."""
        from course.sequences import cross_entropy_mistakes
        return cross_entropy_mistakes(logits, targets, pad_id, grad=grad)

    def value(N, T, V, pad_id, n_pad, dtype=torch.float64, offset=0.0):
        logits, targets = case(N, T, V, pad_id, n_pad, dtype, offset)
        loss = student(logits.clone(), targets.clone(), pad_id)
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise Mismatch("should return a scalar tensor (0-dim)")
        expected = oracle(logits, targets, pad_id)
        expect_close("loss", loss, expected, **({} if dtype == torch.float64 else {"atol": 1e-5}),
                     mistakes=loss_mistakes(logits, targets, pad_id),
                     hint="exp overflowed; subtract each row's max logit before exp (stable log-softmax)."
                     if not torch.isfinite(loss) else
                     "per position, -(z[y] - log sum_k exp z[k]); then the masked mean.")

    def gradient():
        logits, targets = case(3, 6, 5, 0, [2, 0, 5])
        logits.requires_grad_()
        (grad,) = _grad_call(q, "the loss is not connected to the autograd graph of logits: compute it with torch "
                                "operations (no .detach(), NumPy or torch.no_grad())",
                             student, logits, targets, 0, grad_outputs=(torch.ones((), dtype=logits.dtype),)).input_grads
        (expected,) = torch.autograd.grad(oracle(logits, targets, 0), logits)
        expect_close("dL/dlogits", grad, expected, mistakes=loss_mistakes(logits, targets, 0, grad=True))

    q.part("value with padding, float64", lambda: value(4, 7, 6, 0, [0, 3, 6, 1]), weight=2)
    q.part("gradient with respect to logits", gradient, weight=2)
    q.part("pad_id other than 0", lambda: value(3, 5, 8, 5, [2, 0, 4]))
    q.part("no padding; N=1, T=1", lambda: (value(2, 4, 5, 0, [0, 0]), value(1, 1, 3, 0, [0])))
    q.part("logits around 500 in float32 (numerical stability)",
           lambda: value(3, 4, 7, 0, [1, 0, 2], dtype=torch.float32, offset=500.0))
