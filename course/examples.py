"""Seeded example inputs, so that every student sees the same numbers in the visible checks."""
import numpy as np


def rng(seed=0):
    """A NumPy random generator with a fixed seed."""
    return np.random.default_rng(seed)


def example_inputs(seed=0, scale=1.0, **shapes):
    """Float64 arrays drawn from N(0, scale^2), one per keyword: example_inputs(x=(2, 4), h=(2, 3)).

    The same seed and shapes always give the same arrays (in keyword order).
    """
    generator = rng(seed)
    return {name: scale * generator.standard_normal(shape) for name, shape in shapes.items()}
