"""Diagrams of the cells and architectures the lessons build, drawn by code (matplotlib, nothing downloaded).

Functions (each draws on `ax`, or on a new figure when `ax` is None, and returns the figure):

- `lstm_cell(ax=None)`: the LSTM cell of lesson 4 as the lecture writes it (slides 36-41): the cell
  state c as a conveyor belt along the top, the forget gate f, input gate i, candidate g and output
  gate o, each reading [x_t; h_{t-1}] (x first, the lecture's order), and the path of the gradient
  along the belt, dc_t/dc_{t-1} = f_t.
- `gru_cell(ax=None)`: the GRU cell of lesson 5 as the lecture writes it (slides 43-47): reset gate r,
  update gate z, candidate h~ = tanh(W [x_t; r * h_{t-1}]), h_t = (1 - z) * h_{t-1} + z * h~, and the
  gradient's direct path along h, diag(1 - z_t).
- `encoder_decoder(ax=None, source=None, target=None)`: sequence to sequence (lesson 6, lecture
  slide 57): an encoder RNN reads the source, its last state starts the decoder, which writes the
  target one word at a time from START to STOP, each output fed back as the next input.
- `captioning(ax=None, caption=None)`: image captioning, one-to-many (lesson 6, lecture slides 12
  and 55): image -> CNN (fixed feature extractor) -> feature vector v -> h_0 -> RNN decoder -> words.
- `DIAGRAMS`: {name: function} for the four, in that order (for slides and tests).

Every word is drawn through matplotlib's Text.set_text, so in the Vietnamese edition the labels are
translated like every other figure (course/i18n.py; strings in course/locale/vi/course_diagrams.json).
The example sentences (encoder_decoder's source and target, captioning's caption) are chosen by the
kernel's language: English -> Vietnamese for the translation example, and a caption in the
student's language.
"""
import matplotlib.patheffects as path_effects
import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyBboxPatch, Polygon, Rectangle

from course import i18n

BELT = "#1f3b57"        # the cell state / the state carried along the top
GATE = "#f6c85f"        # sigmoid gates
TANH = "#9fd3c7"        # tanh layers
NODE = "#ffffff"        # pointwise operations
GRAD = "#c0392b"        # the gradient path
CELL_FILL = "#eef3f8"
WIRE = "#333333"


# ------------------------------------------------------------------------------------------ helpers
def _canvas(ax, width, height, size):
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax.figure, ax


def _wire(ax, points, color=WIRE, lw=1.6, arrow=True, zorder=2, dashed=False):
    """A polyline through `points`, an arrow head at the end; drawn over a white halo so crossings read as bridges."""
    xs, ys = zip(*points)
    line, = ax.plot(xs[:-1] + (xs[-1],), ys, color=color, lw=lw, zorder=zorder, solid_capstyle="butt",
                    linestyle=(0, (5, 3)) if dashed else "-")
    line.set_path_effects([path_effects.Stroke(linewidth=lw + 4, foreground="white"), path_effects.Normal()])
    if arrow:
        ax.annotate("", xy=points[-1], xytext=points[-2], zorder=zorder + 0.5,
                    arrowprops=dict(arrowstyle="-|>", color=color, lw=lw, shrinkA=0, shrinkB=0,
                                    mutation_scale=12))


def _box(ax, x, y, text, color, w=0.9, h=0.7, fontsize=10):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                facecolor=color, edgecolor=WIRE, lw=1.2, zorder=4))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=5)


def _node(ax, x, y, text, r=0.26, fontsize=11, color=NODE):
    ax.add_patch(Circle((x, y), r, facecolor=color, edgecolor=WIRE, lw=1.2, zorder=4))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=5)


def _label(ax, x, y, text, ha="center", va="center", fontsize=8.5, color="#222222", backdrop=None, **kwargs):
    if backdrop:
        kwargs["bbox"] = dict(boxstyle="round,pad=0.1", facecolor=backdrop, edgecolor="none")
    return ax.text(x, y, text, ha=ha, va=va, fontsize=fontsize, color=color, zorder=6, **kwargs)


def _gradient_arrow(ax, x_from, x_to, y, text, text_y):
    ax.annotate("", xy=(x_to, y), xytext=(x_from, y), zorder=7,
                arrowprops=dict(arrowstyle="-|>", color=GRAD, lw=2.0, linestyle=(0, (4, 2)), mutation_scale=14))
    _label(ax, (x_from + x_to) / 2, text_y, text, color=GRAD, fontsize=8.5)


# ------------------------------------------------------------------------------------------ LSTM
def lstm_cell(ax=None):
    """The LSTM cell: conveyor belt c_t on top, gates f, i, o and candidate g below, gradient along the belt."""
    fig, ax = _canvas(ax, 13.0, 8.2, (10.5, 6.6))
    ax.set_ylim(-0.5, 8.2)
    belt_y, gate_y, bus_y = 6.0, 3.1, 1.5
    xf, xi, xg, xo, xout = 3.2, 5.0, 6.8, 8.6, 10.4
    ax.add_patch(FancyBboxPatch((1.3, 0.95), 10.5, 5.75, boxstyle="round,pad=0.05,rounding_size=0.3",
                                facecolor=CELL_FILL, edgecolor="#8aa2b8", lw=1.2, zorder=0))
    _label(ax, 1.5, 6.55, "LSTM cell", ha="left", va="top", fontsize=9, color="#4a6377")

    # the conveyor belt
    _wire(ax, [(0.2, belt_y), (xf - 0.26, belt_y)], color=BELT, lw=3.2)
    _wire(ax, [(xf + 0.26, belt_y), (xg - 0.26, belt_y)], color=BELT, lw=3.2)
    _wire(ax, [(xg + 0.26, belt_y), (12.8, belt_y)], color=BELT, lw=3.2)
    _node(ax, xf, belt_y, r"$\times$")
    _node(ax, xg, belt_y, r"$+$")
    _label(ax, 0.2, belt_y + 0.3, r"$c_{t-1}$", ha="left", va="bottom", fontsize=11)
    _label(ax, 12.8, belt_y + 0.3, r"$c_t$", ha="right", va="bottom", fontsize=11)
    _label(ax, 5.3, belt_y + 0.32, "cell state: the conveyor belt", va="bottom", fontsize=9, color=BELT,
           fontweight="bold")

    # inputs: h_{t-1} from the left, x_t from below, joined into [x_t; h_{t-1}]
    _wire(ax, [(0.2, bus_y), (1.9, bus_y)], arrow=False)
    _wire(ax, [(1.9, 0.2), (1.9, bus_y)], arrow=False)
    _wire(ax, [(1.9, bus_y), (xo, bus_y)], arrow=False, lw=2.2)
    _label(ax, 0.2, bus_y + 0.18, r"$h_{t-1}$", ha="left", va="bottom", fontsize=11)
    _label(ax, 2.1, 0.25, r"$x_t$", ha="left", va="bottom", fontsize=11)
    _label(ax, 2.3, bus_y - 0.18, r"$[x_t;\, h_{t-1}]$ (x first, as in the lecture)", ha="left", va="top",
           fontsize=8.5)

    for x, sym, color, name in ((xf, r"$\sigma$", GATE, "forget gate $f_t$"), (xi, r"$\sigma$", GATE, "input gate $i_t$"),
                                (xg, r"$\tanh$", TANH, "candidate $g_t$"), (xo, r"$\sigma$", GATE, "output gate $o_t$")):
        _wire(ax, [(x, bus_y), (x, gate_y - 0.35)])
        _box(ax, x, gate_y, sym, color)
        _label(ax, x, gate_y - 0.62, name, va="top", fontsize=8, backdrop=CELL_FILL)

    # forget: f_t * c_{t-1}
    _wire(ax, [(xf, gate_y + 0.35), (xf, belt_y - 0.26)])
    # write: i_t * g_t, then added to the belt
    _node(ax, xg, 4.65, r"$\times$")
    _wire(ax, [(xi, gate_y + 0.35), (xi, 4.65), (xg - 0.26, 4.65)])
    _wire(ax, [(xg, gate_y + 0.35), (xg, 4.65 - 0.26)])
    _wire(ax, [(xg, 4.65 + 0.26), (xg, belt_y - 0.26)])
    # read: h_t = o_t * tanh(c_t)
    _box(ax, xout, 4.65, r"$\tanh$", TANH, w=0.95, h=0.6)
    _wire(ax, [(xout, belt_y), (xout, 4.65 + 0.3)])
    _node(ax, xout, gate_y, r"$\times$")
    _wire(ax, [(xout, 4.65 - 0.3), (xout, gate_y + 0.26)])
    _wire(ax, [(xo + 0.45, gate_y), (xout - 0.26, gate_y)])
    _wire(ax, [(xout + 0.26, gate_y), (11.3, gate_y), (11.3, bus_y), (12.8, bus_y)])
    _label(ax, 12.8, bus_y + 0.18, r"$h_t$", ha="right", va="bottom", fontsize=11)
    _label(ax, 12.8, bus_y - 0.2, "output, and the next step's input", ha="right", va="top", fontsize=7.5)

    # the gradient's path
    _gradient_arrow(ax, 12.6, 0.4, belt_y + 1.25,
                    r"gradient along the belt: $\partial c_t / \partial c_{t-1} = \mathrm{diag}(f_t)$"
                    "  (no weight matrix, no tanh')", belt_y + 1.55)
    _label(ax, 0.2, -0.45, r"$f_t, i_t, o_t = \sigma(W_{f,i,o}\,[x_t;\, h_{t-1}] + b)$,   "
           r"$g_t = \tanh(W_g\,[x_t;\, h_{t-1}] + b_g)$,   $c_t = f_t \odot c_{t-1} + i_t \odot g_t$,   "
           r"$h_t = o_t \odot \tanh(c_t)$", ha="left", va="bottom", fontsize=7.5, color="#444444")
    ax.set_title("An LSTM cell", fontsize=11)
    return fig


# ------------------------------------------------------------------------------------------ GRU
def gru_cell(ax=None):
    """The GRU cell: one state h along the top, reset gate r, update gate z, candidate h~, gradient along h."""
    fig, ax = _canvas(ax, 13.0, 8.2, (10.5, 6.6))
    ax.set_ylim(-0.5, 8.2)
    top, gate_y, bus_y = 6.0, 2.5, 1.3
    xr, xz, xc = 2.2, 4.6, 9.4
    x_keep, x_add, y_rh, y_mix = 4.6, 9.4, 3.9, 4.9
    ax.add_patch(FancyBboxPatch((1.3, 0.8), 10.5, 5.9, boxstyle="round,pad=0.05,rounding_size=0.3",
                                facecolor=CELL_FILL, edgecolor="#8aa2b8", lw=1.2, zorder=0))
    _label(ax, 11.65, 1.0, "GRU cell", ha="right", va="bottom", fontsize=9, color="#4a6377")

    # the state along the top: h_t = (1 - z) * h_{t-1} + z * h~
    _wire(ax, [(0.2, top), (x_keep - 0.26, top)], color=BELT, lw=3.2)
    _wire(ax, [(x_keep + 0.26, top), (x_add - 0.26, top)], color=BELT, lw=3.2)
    _wire(ax, [(x_add + 0.26, top), (12.8, top)], color=BELT, lw=3.2)
    _node(ax, x_keep, top, r"$\times$")
    _node(ax, x_add, top, r"$+$")
    _label(ax, 0.2, top + 0.3, r"$h_{t-1}$", ha="left", va="bottom", fontsize=11)
    _label(ax, 12.8, top + 0.3, r"$h_t$", ha="right", va="bottom", fontsize=11)
    _label(ax, 7.0, top + 0.32, "hidden state: no separate cell state", va="bottom", fontsize=9, color=BELT,
           fontweight="bold")

    # inputs
    _wire(ax, [(0.9, top), (0.9, bus_y)], arrow=False)
    _wire(ax, [(1.5, 0.2), (1.5, bus_y)], arrow=False)
    _wire(ax, [(0.9, bus_y), (xz, bus_y)], arrow=False, lw=2.2)
    _wire(ax, [(1.5, 0.55), (xc, 0.55), (xc, gate_y - 0.35)])
    _label(ax, 1.7, 0.22, r"$x_t$", ha="left", va="bottom", fontsize=11)
    _label(ax, 6.4, 0.65, r"$x_t$", ha="left", va="bottom", fontsize=9)
    _label(ax, 2.6, bus_y + 0.12, r"$[x_t;\, h_{t-1}]$", ha="left", va="bottom", fontsize=8.5)

    for x, name in ((xr, "reset gate $r_t$"), (xz, "update gate $z_t$")):
        _wire(ax, [(x, bus_y), (x, gate_y - 0.35)])
        _box(ax, x, gate_y, r"$\sigma$", GATE)
        _label(ax, x + 0.55, gate_y - 0.05, name, ha="left", va="center", fontsize=8)
    _box(ax, xc, gate_y, r"$\tanh$", TANH)
    _label(ax, xc + 0.55, gate_y - 0.05, r"candidate $\tilde h_t$", ha="left", va="center", fontsize=8)

    # reset: r * h_{t-1}, into the candidate with x_t
    _node(ax, xr, y_rh, r"$\times$")
    _wire(ax, [(0.9, y_rh), (xr - 0.26, y_rh)])
    _wire(ax, [(xr, gate_y + 0.35), (xr, y_rh - 0.26)])
    _wire(ax, [(xr + 0.26, y_rh), (8.5, y_rh), (8.5, gate_y), (xc - 0.45, gate_y)], zorder=2)
    _label(ax, 6.2, y_rh + 0.1, r"$r_t \odot h_{t-1}$", ha="left", va="bottom", fontsize=9)
    # update: 1 - z keeps the old state, z writes the candidate
    _node(ax, x_keep, y_mix, r"$1-$", fontsize=9)
    _wire(ax, [(xz, gate_y + 0.35), (xz, y_mix - 0.26)], zorder=3)
    _wire(ax, [(x_keep, y_mix + 0.26), (x_keep, top - 0.26)])
    _node(ax, x_add, y_mix, r"$\times$")
    _wire(ax, [(xz, 4.4), (8.7, 4.4), (8.7, y_mix), (x_add - 0.26, y_mix)], zorder=3)
    _label(ax, 6.2, 4.5, r"$z_t$", ha="left", va="bottom", fontsize=9)
    _wire(ax, [(xc, gate_y + 0.35), (xc, y_mix - 0.26)])
    _wire(ax, [(x_add, y_mix + 0.26), (x_add, top - 0.26)])
    _label(ax, 12.8, top - 0.2, "output, and the next step's input", ha="right", va="top", fontsize=7.5)

    _gradient_arrow(ax, 12.6, 0.4, top + 1.25,
                    r"gradient along $h$: $\partial h_t / \partial h_{t-1} = \mathrm{diag}(1 - z_t) + \dots$ (the direct term, then the paths through the gates)",
                    top + 1.55)
    _label(ax, 0.2, -0.45, r"$r_t = \sigma(W_r [x_t;\, h_{t-1}] + b_r)$,  $z_t = \sigma(W_z [x_t;\, h_{t-1}] + b_z)$,  "
           r"$\tilde h_t = \tanh(W [x_t;\, r_t \odot h_{t-1}])$,  $h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t$",
           ha="left", va="bottom", fontsize=7.5, color="#444444")
    ax.set_title("A GRU cell", fontsize=11)
    return fig


# ------------------------------------------------------------------------------------------ seq2seq
def _unrolled(ax, xs, y, inputs, outputs, color, name, feedback=False):
    for k, x in enumerate(xs):
        _box(ax, x, y, name, color, w=0.95, h=0.7, fontsize=9)
        _label(ax, x, y - 1.25, inputs[k], fontsize=9, va="top")
        _wire(ax, [(x, y - 1.2), (x, y - 0.35)])
        if outputs is not None:
            _wire(ax, [(x, y + 0.35), (x, y + 1.05)])
            _label(ax, x, y + 1.1, outputs[k], fontsize=9, va="bottom")
            if feedback and k + 1 < len(xs):
                _wire(ax, [(x + 0.55, y + 1.3), (xs[k + 1] - 0.55, y - 1.4)], color="#888888", lw=1.0,
                      dashed=True)
        if k + 1 < len(xs):
            _wire(ax, [(x + 0.475, y), (xs[k + 1] - 0.475, y)])


def _example(english, vietnamese):
    return vietnamese if i18n.language() == "vi" else english


def encoder_decoder(ax=None, source=None, target=None):
    """Sequence to sequence: the encoder's last state h_T starts the decoder, which writes until STOP."""
    source = source or ["twenty", "one"]        # lesson 6's task: English numbers -> Vietnamese words
    target = target or ["hai", "mươi", "mốt"]
    y = 2.7
    enc = [0.9 + 1.5 * k for k in range(len(source))]
    dec = [enc[-1] + 2.4 + 1.7 * k for k in range(len(target) + 1)]
    width = dec[-1] + 0.9
    fig, ax = _canvas(ax, width, 5.0, (0.8 * width, 4.0))
    ax.add_patch(Rectangle((0.3, 0.55), enc[-1] - 0.3 + 0.7, 4.0, facecolor="#eaf2ea", edgecolor="none", zorder=0))
    ax.add_patch(Rectangle((dec[0] - 0.65, 0.55), dec[-1] - dec[0] + 1.3, 4.0, facecolor="#f5ede3",
                           edgecolor="none", zorder=0))
    _label(ax, 0.4, 4.45, "encoder", ha="left", va="top", fontsize=10, fontweight="bold")
    _label(ax, dec[0] - 0.55, 4.45, "decoder", ha="left", va="top", fontsize=10, fontweight="bold")
    _unrolled(ax, enc, y, [f"“{w}”" for w in source], None, TANH, "RNN")
    _unrolled(ax, dec, y, ["START"] + [f"“{w}”" for w in target],
              [f"“{w}”" for w in target] + ["STOP"], GATE, "RNN", feedback=True)
    _wire(ax, [(enc[-1] + 0.475, y), (dec[0] - 0.475, y)], color=BELT, lw=2.6)
    _label(ax, (enc[-1] + dec[0]) / 2, y + 0.2, r"$h_T$", va="bottom", fontsize=10, color=BELT)
    _label(ax, (enc[-1] + dec[0]) / 2, y - 0.2, "context", va="top", fontsize=8, color=BELT)
    _label(ax, dec[-1] + 0.65, 0.3, "each output word is the next input (greedy decoding; beam search keeps k)",
           ha="right", va="bottom", fontsize=7.5, color="#666666")
    ax.set_title("Encoder-decoder (sequence to sequence)", fontsize=11)
    return fig


# ------------------------------------------------------------------------------------------ captioning
def _picture(ax, x0, y0, size):
    ax.add_patch(Rectangle((x0, y0), size, size, facecolor="#fbfbf5", edgecolor=WIRE, lw=1.2, zorder=3))
    ax.add_patch(Circle((x0 + 0.32 * size, y0 + 0.64 * size), 0.2 * size, facecolor="#d9534f", edgecolor="none",
                        zorder=4))
    ax.add_patch(Polygon([(x0 + 0.5 * size, y0 + 0.12 * size), (x0 + 0.9 * size, y0 + 0.12 * size),
                          (x0 + 0.7 * size, y0 + 0.5 * size)], facecolor="#4a7fc1", edgecolor="none", zorder=4))


def captioning(ax=None, caption=None):
    """One-to-many: image -> CNN -> feature vector v -> h_0 -> RNN decoder writing the caption."""
    caption = caption or _example(["a", "red", "circle"], ["hình", "tròn", "đỏ"])
    y = 2.7
    dec = [7.0 + 1.7 * k for k in range(len(caption) + 1)]
    width = dec[-1] + 0.9
    fig, ax = _canvas(ax, width, 5.0, (0.8 * width, 4.0))
    _picture(ax, 0.2, y - 0.8, 1.6)
    _label(ax, 1.0, y - 1.05, "image", va="top", fontsize=9)
    _wire(ax, [(1.85, y), (2.35, y)])
    ax.add_patch(Polygon([(2.4, y - 0.9), (3.5, y - 0.45), (3.5, y + 0.45), (2.4, y + 0.9)], facecolor="#c9b3e6",
                         edgecolor=WIRE, lw=1.2, zorder=4))
    _label(ax, 2.95, y, "CNN", fontsize=9)
    _label(ax, 2.95, y - 1.05, "(fixed) feature\nextractor", va="top", fontsize=8)
    _wire(ax, [(3.5, y), (4.15, y)])
    for k in range(5):
        ax.add_patch(Rectangle((4.2, y - 0.75 + 0.3 * k), 0.3, 0.3, facecolor="#c9b3e6", edgecolor=WIRE, lw=0.8,
                               zorder=4))
    _label(ax, 4.35, y + 0.95, r"$v$", va="bottom", fontsize=11)
    _label(ax, 4.35, y - 1.05, "features", va="top", fontsize=8)
    _wire(ax, [(4.55, y), (dec[0] - 0.475, y)], color=BELT, lw=2.6)
    _label(ax, 5.75, y + 0.2, r"$h_0 = \tanh(W_v v + b_v)$", va="bottom", fontsize=8.5, color=BELT)
    ax.add_patch(Rectangle((dec[0] - 0.65, 0.55), dec[-1] - dec[0] + 1.3, 4.0, facecolor="#f5ede3",
                           edgecolor="none", zorder=0))
    _label(ax, dec[0] - 0.55, 4.45, "RNN decoder (language model)", ha="left", va="top", fontsize=10,
           fontweight="bold")
    _unrolled(ax, dec, y, ["START"] + [f"“{w}”" for w in caption], [f"“{w}”" for w in caption] + ["STOP"],
              GATE, "RNN", feedback=True)
    ax.set_title("Image captioning: image features start an RNN that writes words", fontsize=11)
    return fig


DIAGRAMS = {"lstm_cell": lstm_cell, "gru_cell": gru_cell, "encoder_decoder": encoder_decoder,
            "captioning": captioning}
