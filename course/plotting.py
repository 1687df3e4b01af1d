"""Figures used across the lessons (matplotlib, drawn by code, nothing downloaded)."""
import matplotlib.pyplot as plt
import numpy as np


def new_axes(ncols=1, width=5.0, height=3.4, **kwargs):
    """A row of `ncols` axes; returns (fig, axes) with axes a list."""
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False, **kwargs)
    return fig, list(axes[0])


def learning_curves(curves, title="Learning curve", xlabel="step", ylabel="loss", logy=False, ax=None,
                    smooth=1):
    """Plot {label: list of values}; `smooth` > 1 draws a moving average over that many points."""
    if ax is None:
        _, (ax,) = new_axes()
    for label, values in curves.items():
        values = np.asarray(values, dtype=float)
        if smooth > 1 and len(values) >= smooth:
            values = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
        ax.plot(np.arange(len(values)), values, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return ax


def heatmap(matrix, title="", xlabel="", ylabel="", ax=None, cmap="viridis", colorbar=True):
    """Show a 2-D array as an image with a colour bar."""
    if ax is None:
        _, (ax,) = new_axes()
    image = ax.imshow(np.asarray(matrix), aspect="auto", cmap=cmap)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if colorbar:
        ax.figure.colorbar(image, ax=ax)
    return ax
