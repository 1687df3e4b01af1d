"""Lesson 6's image captioning (section 6.1): the pictures, and the visible and hidden checks of
CaptionDecoder and greedy_caption on the reference and on the classic mistakes (each caught by the
visible check, each costing points in the hidden one)."""
import re

import nbformat
import numpy as np
import pytest

import course
from autograder.in_kernel import grade
from autograder.lessons import SOLUTIONS
from course import captioning as capt
from tests.test_hidden_checks import fresh_reference_namespace

LESSON = "06_applications"


def cell_source(cell_id):
    notebook = nbformat.read(str(SOLUTIONS / f"{LESSON}.ipynb"), as_version=4)
    return next(c.source for c in notebook.cells if c.id == cell_id)


def solution(cell_id):
    return "\n".join(line for line in cell_source(cell_id).splitlines() if "### " not in line)


def namespace_with(cell_id=None, pattern=None, replacement=None):
    namespace = fresh_reference_namespace(LESSON)
    namespace["course"] = course
    if cell_id:
        source, count = re.subn(pattern, replacement, solution(cell_id), count=1)
        assert count == 1, pattern
        exec(compile(source, "<buggy>", "exec"), namespace)
    return namespace


def visible_check_passes(cell_id, namespace):
    try:
        exec(compile(cell_source(cell_id), "<visible check>", "exec"), namespace)
    except AssertionError:
        return False
    return True


def hidden_score(question, namespace):
    return grade(question, namespace, points=3, seed=11)


def test_pictures_are_deterministic_and_captions_unique_in_both_languages():
    a, scenes_a = capt.make_scenes(20, seed=3)
    b, scenes_b = capt.make_scenes(20, seed=3)
    assert np.array_equal(a, b) and scenes_a == scenes_b and a.shape == (20, 3, 32, 32)
    assert 0.0 <= a.min() and a.max() <= 1.0
    scenes = capt.all_scenes()
    assert len(scenes) == 144
    for language in ("en", "vi"):
        assert len({" ".join(capt.caption(s, language)) for s in scenes}) == 144
    assert " ".join(capt.caption(("circle", "red", "left of", "square", "blue"), "en")) == "a red circle left of a blue square"
    assert " ".join(capt.caption(("circle", "red", "left of", "square", "blue"), "vi")) == "hình tròn đỏ bên trái hình vuông xanh dương"


def test_the_first_object_is_left_of_or_above_the_second():
    images, scenes = capt.make_scenes(30, seed=5)
    for image, (s1, c1, relation, s2, c2) in zip(images, scenes):
        colours = np.array([capt.COLOURS[c1], capt.COLOURS[c2]])
        if c1 == c2:
            continue
        where = [np.argwhere(np.abs(image - colour[:, None, None]).max(axis=0) < 0.15) for colour in colours]
        axis = 1 if relation == "left of" else 0
        assert where[0][:, axis].mean() < where[1][:, axis].mean()


def test_the_reference_passes_both_checks_and_earns_full_marks():
    namespace = namespace_with()
    assert visible_check_passes("cap6-c2", namespace) and visible_check_passes("cap6-c3", namespace)
    assert hidden_score("caption_decoder", namespace) == 3 and hidden_score("greedy_caption", namespace) == 3


MISTAKES = [
    ("caption_decoder", "cap6-a1", "cap6-c2", r"torch\.tanh\(self\.picture_to_h\(v\)\)", "self.picture_to_h(v)", "no tanh on h_0"),
    ("caption_decoder", "cap6-a1", "cap6-c2", r"\(self\.word_vectors\(tokens\), picture\)", "(picture, self.word_vectors(tokens))", "v before the word"),
    ("caption_decoder", "cap6-a1", "cap6-c2", r"torch\.zeros_like\(h_start\)", "h_start", "c_0 from v"),
    ("caption_decoder", "cap6-a1", "cap6-c2", r"if state is None:\n", "if True:\n", "a given state ignored"),
    ("greedy_caption", "cap6-a2", "cap6-c3", r"ended\[n\] = True\n", "ended[n] = True; words[n].append(int(word))\n",
     "eos kept in the caption"),
    ("greedy_caption", "cap6-a2", "cap6-c3", r"if all\(ended\):\n\s+break", "pass", "no early stop"),
    ("greedy_caption", "cap6-a2", "cap6-c3", r"token = logits\[:, -1\]\.argmax\(dim=1, keepdim=True\)",
     "token = torch.full((N, 1), bos, dtype=torch.long); words_now = logits[:, -1].argmax(dim=1, keepdim=True)", "bos fed at every step"),
]


@pytest.mark.parametrize("question,cell,check,pattern,replacement,what", MISTAKES, ids=[m[-1] for m in MISTAKES])
def test_each_classic_mistake_fails_the_visible_check_and_costs_points(question, cell, check, pattern, replacement, what):
    if what == "bos fed at every step":
        replacement = replacement.replace("words_now", "token_now")
        namespace = namespace_with(cell, pattern, replacement)
        # the loop then appends token_now's words: rewrite the append to use it
        source = re.sub(pattern, replacement, solution(cell), count=1).replace("token[:, 0].tolist()", "token_now[:, 0].tolist()")
        exec(compile(source, "<buggy>", "exec"), namespace)
    else:
        namespace = namespace_with(cell, pattern, replacement)
    assert not visible_check_passes(check, namespace), what
    assert hidden_score(question, namespace) < 3, what


@pytest.mark.parametrize("pattern,replacement,named", [
    (r"torch\.tanh\(self\.picture_to_h\(v\)\)", "self.picture_to_h(v)", "the tanh is missing"),
    (r"\(self\.word_vectors\(tokens\), picture\)", "(picture, self.word_vectors(tokens))", "v came first"),
    (r"torch\.zeros_like\(h_start\)", "h_start", "c_0 should be zero"),
])
def test_the_hidden_check_names_the_decoders_mistake(pattern, replacement, named, capsys):
    namespace = namespace_with("cap6-a1", pattern, replacement)
    hidden_score("caption_decoder", namespace)
    assert named in capsys.readouterr().out


@pytest.mark.parametrize("pattern,replacement,named", [
    (r"ended\[n\] = True\n", "ended[n] = True; words[n].append(int(word))\n", "it goes on after eos"),
    (r"if all\(ended\):\n\s+break", "pass", "one call per step for the whole batch, and stop when every row has ended"),
])
def test_the_hidden_check_names_the_greedy_mistake(pattern, replacement, named, capsys):
    namespace = namespace_with("cap6-a2", pattern, replacement)
    hidden_score("greedy_caption", namespace)
    assert named in capsys.readouterr().out
