"""Data and figures of lesson 6 (applications). No solution code lives here.

- `sentiment_data()`: a small English + Vietnamese sentiment set generated from templates, where negation
  and word order decide the label ("not good", "không tệ"). Written for this course, CC0.
- `number_to_english(n)`, `number_to_vietnamese(n)`, `number_pairs()`: a generated translation task,
  numbers 0..9999 written out in English words -> Vietnamese words.
- `Vocab`: a word or character vocabulary with padding, start and end symbols.
- `draw_stacked_bidirectional()`: the figure of a two-layer bidirectional RNN.
- `load_co2()`: monthly mean atmospheric CO2 at Mauna Loa, March 1958 to December 2001 (a real series, public
  domain; see course/data/README.md).
"""
import numpy as np

# ----------------------------------------------------------------------------- vocabularies
PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"


class Vocab:
    """Maps tokens <-> ids. Ids 0..3 are <pad>, <s>, </s>, <unk>; the rest in order of first appearance."""

    def __init__(self, sequences):
        self.itos = [PAD, BOS, EOS, UNK]
        seen = set(self.itos)
        for sequence in sequences:
            for token in sequence:
                if token not in seen:
                    seen.add(token)
                    self.itos.append(token)
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        self.pad, self.bos, self.eos, self.unk = 0, 1, 2, 3

    def __len__(self):
        return len(self.itos)

    def encode(self, tokens, add_bos=False, add_eos=False):
        ids = [self.stoi.get(token, self.unk) for token in tokens]
        return ([self.bos] if add_bos else []) + ids + ([self.eos] if add_eos else [])

    def decode(self, ids, strip=True):
        tokens = [self.itos[i] for i in ids]
        if strip:
            tokens = [t for t in tokens if t not in (PAD, BOS)]
            if EOS in tokens:
                tokens = tokens[:tokens.index(EOS)]
        return tokens

    def batch(self, sequences, **kwargs):
        """Right-padded id array (N, T) and its mask (N, T) of 0/1 from a list of token lists."""
        encoded = [self.encode(s, **kwargs) for s in sequences]
        T = max(len(e) for e in encoded)
        ids = np.full((len(encoded), T), self.pad, dtype=np.int64)
        for n, e in enumerate(encoded):
            ids[n, :len(e)] = e
        return ids, (ids != self.pad).astype(np.float64)


# ----------------------------------------------------------------------------- sentiment data
_EN = dict(
    subjects=["the film", "the food", "this phone", "the hotel", "the service", "the book", "the song",
              "this laptop", "the teacher", "the game", "the coffee", "the room"],
    positive=["good", "great", "nice", "excellent", "tasty", "fun", "friendly", "clean"],
    negative=["bad", "awful", "boring", "terrible", "dirty", "slow", "rude", "bland"],
    negations=["not", "never", "hardly"],
    intensifiers=["", "very", "really", "quite"],
    templates=["{s} was {a}", "{s} is {a}", "i think {s} is {a}", "honestly {s} was {a}"],
    contrast="{s} was {a}, not {b}",
)
_VI = dict(
    subjects=["bộ phim", "món ăn", "điện thoại", "khách sạn", "dịch vụ", "cuốn sách", "bài hát",
              "máy tính", "thầy giáo", "trò chơi", "cà phê", "căn phòng"],
    positive=["tốt", "hay", "ngon", "tuyệt", "đẹp", "vui", "sạch", "thân thiện"],
    negative=["tệ", "dở", "chán", "kém", "bẩn", "chậm", "nhạt", "khó chịu"],
    negations=["không", "chẳng", "chả"],
    intensifiers=["", "rất", "khá", "thật"],
    templates=["{s} {a}", "{s} này {a}", "tôi thấy {s} {a}", "nói thật {s} {a}"],
    contrast="{s} {a}, không {b}",
)


def pool_mistakes(h, mask, mode):
    """The classic masked-pooling mistakes as (candidate, text) pairs for course.check_close(mistakes=...)
    and the hidden checks (the same words in both): each candidate computes what the wrong pooling gives
    on h (N, T, H) with mask (N, T). Wrong answers only: none of them is the correct pooling."""
    h, mask = np.asarray(h, dtype=np.float64), np.asarray(mask, dtype=np.float64)
    m = mask[:, :, None]
    T = h.shape[1]
    return {
        "sum": [(lambda: h.sum(1), "the padded positions were summed too: multiply by the mask first")],
        "mean": [(lambda: (h * m).sum(1) / T, "divided by T: divide by each sequence's length mask.sum(axis=1)"),
                 (lambda: h.mean(1), "the padded positions were averaged too: use the mask")],
        "max": [(lambda: (h * m).max(1), "the max of h * mask lets a padded 0 win over negative real states: "
                                         "set padded positions to -inf"),
                (lambda: h.max(1), "the max was taken over the padded positions too")],
        "last": [(lambda: h[:, -1], "h[:, -1] is padding for short sequences: the last real state is at "
                                    "mask.sum(axis=1) - 1"),
                 (lambda: h[np.arange(len(h)), mask.sum(1).astype(int) % T],
                  "off by one: the last real position is mask.sum(axis=1) - 1")],
    }[mode]


def _sentences(lang, rng, count):
    spec = _EN if lang == "en" else _VI
    rows = []
    for _ in range(count):
        s = rng.choice(spec["subjects"])
        polarity = int(rng.integers(2))                       # 1 = the adjective is positive
        adjective = rng.choice(spec["positive"] if polarity else spec["negative"])
        kind = str(rng.choice(["plain", "negated", "contrast"], p=[0.6, 0.25, 0.15]))
        if kind == "contrast":   # "the food was good, not bad": the same words in both orders, opposite labels
            other = rng.choice(spec["negative"] if polarity else spec["positive"])
            text, label = spec["contrast"].format(s=s, a=adjective, b=other), polarity
        else:
            intens = rng.choice(spec["intensifiers"])
            phrase = f"{intens} {adjective}".strip()
            if kind == "negated":   # "not (very) good", "không ngon (lắm)"
                strength = rng.choice(["", "very"]) if lang == "en" else ""
                phrase = f"{rng.choice(spec['negations'])} {strength} {adjective}".replace("  ", " ")
                if lang == "vi" and rng.random() < 0.4:
                    phrase += " lắm"
                label = 1 - polarity
            else:
                label = polarity
            text = rng.choice(spec["templates"]).format(s=s, a=phrase)
        rows.append((text.replace(",", " ,"), int(label), lang, kind))
    return rows


def sentiment_data(n_per_language=600, seed=0, test_fraction=0.25):
    """A generated sentiment set: {"train": rows, "test": rows}, rows (text, label, lang, kind).

    label 1 = positive, 0 = negative. kind is "plain" ("the food was tasty"), "negated"
    ("the food was not tasty", "món ăn không ngon") or "contrast" ("the food was tasty, not bland",
    whose reverse "the food was bland, not tasty" has the same bag of words and the opposite label).
    Sentences are made from templates (English and Vietnamese), deduplicated, and split so that no
    sentence is in both parts. Generated for this course; public domain (CC0).
    """
    rng = np.random.default_rng(seed)
    rows, seen = [], set()
    for lang in ("en", "vi"):
        for row in _sentences(lang, rng, 3 * n_per_language):
            if row[0] not in seen and sum(r[2] == lang for r in rows) < n_per_language:
                seen.add(row[0])
                rows.append(row)
    order = rng.permutation(len(rows))
    rows = [rows[i] for i in order]
    cut = int(len(rows) * (1 - test_fraction))
    return {"train": rows[:cut], "test": rows[cut:]}


# ----------------------------------------------------------------------------- numbers in words
_EN_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
             "sixteen seventeen eighteen nineteen").split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_VI_UNITS = "không một hai ba bốn năm sáu bảy tám chín".split()


def _en_below_100(n):
    if n < 20:
        return [_EN_UNITS[n]]
    tens, unit = divmod(n, 10)
    return [_EN_TENS[tens]] + ([_EN_UNITS[unit]] if unit else [])


def number_to_english(n):
    """0 <= n <= 9999 in British English words, as a list of tokens ("twenty-one" -> "twenty", "one")."""
    if not 0 <= n <= 9999:
        raise ValueError("n must be in 0..9999")
    thousands, rest = divmod(n, 1000)
    hundreds, below = divmod(rest, 100)
    words = []
    if thousands:
        words += [_EN_UNITS[thousands], "thousand"]
    if hundreds:
        words += [_EN_UNITS[hundreds], "hundred"]
    if below or not words:
        if words:
            words.append("and")
        words += _en_below_100(below)
    return words


def _vi_below_100(n):
    if n < 10:
        return [_VI_UNITS[n]]
    tens, unit = divmod(n, 10)
    words = ["mười"] if tens == 1 else [_VI_UNITS[tens], "mươi"]
    if unit == 0:
        return words
    if unit == 1:
        return words + ["mốt" if tens >= 2 else "một"]      # hai mươi mốt, but mười một
    if unit == 4:
        return words + ["tư" if tens >= 2 else "bốn"]       # hai mươi tư, but mười bốn
    if unit == 5:
        return words + ["lăm"]                              # mười lăm, hai mươi lăm
    return words + [_VI_UNITS[unit]]


def _vi_below_1000(n, full):
    hundreds, below = divmod(n, 100)
    if not full and hundreds == 0:
        return _vi_below_100(below)
    words = [_VI_UNITS[hundreds], "trăm"]                    # "không trăm" inside a thousand: 1020
    if below == 0:
        return words
    if below < 10:
        return words + ["linh", _VI_UNITS[below]]           # một trăm linh năm (105)
    return words + _vi_below_100(below)


def number_to_vietnamese(n):
    """0 <= n <= 9999 in Vietnamese words (northern usage: nghìn, linh), as a list of tokens."""
    if not 0 <= n <= 9999:
        raise ValueError("n must be in 0..9999")
    thousands, rest = divmod(n, 1000)
    if not thousands:
        return _vi_below_1000(rest, full=False)
    words = [_VI_UNITS[thousands], "nghìn"]
    return words if rest == 0 else words + _vi_below_1000(rest, full=True)


def number_pairs(seed=0, held_out=1000):
    """(train, test): lists of (english tokens, vietnamese tokens, n) for n = 0..9999, a random split."""
    order = np.random.default_rng(seed).permutation(10000)
    pairs = [(number_to_english(int(n)), number_to_vietnamese(int(n)), int(n)) for n in order]
    return pairs[held_out:], pairs[:held_out]


# ----------------------------------------------------------------------------- a real time series
def load_co2():
    """Monthly mean CO2 at Mauna Loa, Hawaii (ppm), 1958-03 .. 2001-12: 526 months, no gaps.

    Returns (time, co2, interpolated): time (526,) in years (1958.167 = March 1958, the month's start),
    co2 (526,) float64 in ppm, interpolated (526,) bool, True for the 5 months without any measurement,
    filled by linear interpolation. Origin and license: course/data/README.md.
    """
    from pathlib import Path
    raw = np.loadtxt(Path(__file__).resolve().parent / "data" / "mauna_loa_co2_monthly.csv", delimiter=",",
                     skiprows=1)
    return raw[:, 0] + (raw[:, 1] - 1) / 12, raw[:, 2], raw[:, 3].astype(bool)


# ----------------------------------------------------------------------------- figures
def _box(ax, xy, text, color, w=0.62, h=0.42, fontsize=10):
    from matplotlib.patches import FancyBboxPatch

    x, y = xy
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03", fc=color, ec="0.3"))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, color="0.3", rad=0.0):
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color=color, lw=1.3, shrinkA=11,
                                                          shrinkB=11, connectionstyle=f"arc3,rad={rad}"))


def draw_stacked_bidirectional(T=4):
    """Left: a 2-layer (stacked) RNN. Right: a bidirectional layer (forward and backward chains, concatenated)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2))
    xc, h1c, h2c, fc, bc, yc = "#cfe2f3", "#d9ead3", "#b6d7a8", "#d9ead3", "#f4cccc", "#fce5cd"
    for t in range(T):
        _box(left, (t, 0), f"$x_{t + 1}$", xc)
        _box(left, (t, 1.3), f"$h^{{(1)}}_{t + 1}$", h1c)
        _box(left, (t, 2.6), f"$h^{{(2)}}_{t + 1}$", h2c)
        _arrow(left, (t, 0), (t, 1.3))
        _arrow(left, (t, 1.3), (t, 2.6))
        if t:
            _arrow(left, (t - 1, 1.3), (t, 1.3), "#2ca02c")
            _arrow(left, (t - 1, 2.6), (t, 2.6), "#38761d")
    left.set_title("stacked: layer 2 reads the states of layer 1", fontsize=11)
    for t in range(T):
        _box(right, (t, 0), f"$x_{t + 1}$", xc)
        _box(right, (t, 1.1), rf"$\overrightarrow{{h}}_{t + 1}$", fc)
        _box(right, (t, 2.0), rf"$\overleftarrow{{h}}_{t + 1}$", bc)
        _box(right, (t, 3.1), f"$[\\rightarrow;\\leftarrow]_{t + 1}$", yc, w=0.8, fontsize=9)
        _arrow(right, (t, 0), (t, 1.1))
        _arrow(right, (t - 0.25, 0), (t - 0.25, 2.0), "0.6", rad=0.25)
        _arrow(right, (t + 0.2, 2.0), (t + 0.2, 3.1), "0.3")
        if t:
            _arrow(right, (t - 1, 1.1), (t, 1.1), "#2ca02c")
            _arrow(right, (t, 2.0), (t - 1, 2.0), "#cc0000")
    right.set_title("bidirectional: a forward and a backward chain, states concatenated", fontsize=11)
    for ax in (left, right):
        ax.set_xlim(-0.7, T - 0.3)
        ax.set_ylim(-0.5, 3.5)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    return fig
