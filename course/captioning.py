"""Lesson 6's image captioning data: small pictures of two coloured shapes and their captions.

Every picture is drawn here with NumPy, deterministically from a seed (nothing is downloaded): two
objects, each a circle, square or triangle in red, green or blue, either side by side or one above the
other, on a light, slightly noisy canvas of 32 x 32 pixels. Its caption says what is where, in English
or in Vietnamese:

    "a red circle left of a blue square"      "hình tròn đỏ bên trái hình vuông xanh dương"
    "a green triangle above a red circle"     "tam giác xanh lá phía trên hình tròn đỏ"

The caption always names the left (or upper) object first, so each picture has exactly one right caption.
`SmallCNN` is the fixed-architecture feature extractor the lesson trains with its decoder. This module holds
no solution code: the decoder and greedy decoding are the lesson's exercises.
"""
import numpy as np

SHAPES = ("circle", "square", "triangle")
COLOURS = {"red": (0.86, 0.12, 0.12), "green": (0.12, 0.62, 0.18), "blue": (0.14, 0.3, 0.88)}
RELATIONS = ("left of", "above")
WORDS_VI = {"circle": "hình tròn", "square": "hình vuông", "triangle": "tam giác", "red": "đỏ",
            "green": "xanh lá", "blue": "xanh dương", "left of": "bên trái", "above": "phía trên"}
SIZE = 32


def caption(scene, language="en"):
    """The caption of a scene (shape1, colour1, relation, shape2, colour2) as a list of words."""
    shape1, colour1, relation, shape2, colour2 = scene
    if language == "vi":   # Vietnamese: noun, then colour ("hình tròn đỏ"), relation between the two
        text = " ".join(WORDS_VI[w] for w in (shape1, colour1, relation, shape2, colour2))
    else:
        text = f"a {colour1} {shape1} {relation} a {colour2} {shape2}"
    return text.split()


def all_scenes():
    """Every caption the data can have: 9 objects x 8 other objects x 2 relations = 144."""
    objects = [(s, c) for s in SHAPES for c in COLOURS]
    return [(s1, c1, r, s2, c2) for (s1, c1) in objects for (s2, c2) in objects if (s1, c1) != (s2, c2)
            for r in RELATIONS]


def _draw(image, shape, colour, cx, cy, r):
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    if shape == "circle":
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r ** 2
    elif shape == "square":
        inside = (np.abs(xx - cx) <= r * 0.85) & (np.abs(yy - cy) <= r * 0.85)
    else:  # triangle, apex up
        top, bottom = cy - r, cy + r * 0.8
        half = (yy - top) / (bottom - top) * r
        inside = (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half)
    image[:, inside] = np.asarray(COLOURS[colour], dtype=np.float32)[:, None]


def make_scenes(n, seed=0):
    """n random pictures (n, 3, 32, 32) float32 in [0, 1] and their scenes, deterministic from `seed`."""
    rng = np.random.default_rng(seed)
    catalogue = all_scenes()
    images = np.empty((n, 3, SIZE, SIZE), dtype=np.float32)
    scenes = []
    for k in range(n):
        scene = catalogue[rng.integers(len(catalogue))]
        shape1, colour1, relation, shape2, colour2 = scene
        image = np.full((3, SIZE, SIZE), 0.94, dtype=np.float32)
        r1, r2 = rng.uniform(4.0, 6.0, size=2)
        along1, along2 = rng.uniform(6.5, 11.5), rng.uniform(20.5, 25.5)      # first object: left / top half
        across1, across2 = rng.uniform(7.0, 25.0, size=2)
        for shape, colour, along, across, r in ((shape1, colour1, along1, across1, r1),
                                                (shape2, colour2, along2, across2, r2)):
            cx, cy = (along, across) if relation == "left of" else (across, along)
            _draw(image, shape, colour, cx, cy, r)
        image += rng.normal(0.0, 0.03, size=image.shape).astype(np.float32)
        images[k] = np.clip(image, 0.0, 1.0)
        scenes.append(scene)
    return images, scenes


def show_scenes(images, captions, ncols=4, title=None):
    """A grid of pictures with a caption under each (captions: lists of words, or strings)."""
    import matplotlib.pyplot as plt

    n = len(images)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.9 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, text in zip(axes.ravel(), images, captions):
        ax.imshow(np.transpose(image, (1, 2, 0)), interpolation="nearest")
        words = text if isinstance(text, str) else " ".join(text)
        half = words.split()
        cut = (len(half) + 1) // 2
        ax.set_title(" ".join(half[:cut]) + "\n" + " ".join(half[cut:]), fontsize=8.5)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def small_cnn(feature_size=64):
    """The feature extractor: two strided convolutions and a linear layer, (N, 3, 32, 32) -> (N, feature_size).

    Small enough to train with the decoder on a CPU in about a minute; a real captioner would start from a
    CNN pretrained on ImageNet instead (nothing is downloaded here)."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),      # 16 x 16
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),     # 8 x 8
        nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(),     # 4 x 4
        nn.Flatten(), nn.Linear(32 * 4 * 4, feature_size), nn.ReLU())
