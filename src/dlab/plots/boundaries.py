"""Figures of 2-D and 1-D models over their input space: decision boundaries, fitted lines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

History = dict[str, list[float]]


def decision_boundary(
    predict,
    x,
    y,
    title: str,
    boundary: float = 0.5,
    class_names: Sequence[str] | None = None,
    x_test=None,
    y_test=None,
) -> Figure:
    """A 2-D model's output over the plane, its decision line, and the data on top.

    Args:
        predict: maps an (N, 2) array to scores (N,) (binary: the line is drawn at
            ``boundary``) or class probabilities (N, K) (the regions are the argmax).
        x, y: the training points and their labels, drawn as filled markers.
        x_test, y_test: optional test points, drawn as hollow markers.
    """
    import numpy as np
    from matplotlib.figure import Figure

    points = x if x_test is None else np.concatenate([x, x_test])
    low, high = points.min(axis=0), points.max(axis=0)
    pad = 0.15 * np.maximum(high - low, 1e-6)
    grid_x, grid_y = np.meshgrid(
        np.linspace(low[0] - pad[0], high[0] + pad[0], 200),
        np.linspace(low[1] - pad[1], high[1] + pad[1], 200),
    )
    scores = np.asarray(predict(np.c_[grid_x.ravel(), grid_y.ravel()].astype(np.float32)))

    figure = Figure(figsize=(5.8, 6.0))
    axes = figure.add_subplot()
    labels = np.unique(y)
    colour_of = _region_colours(axes, figure, grid_x, grid_y, scores, labels, boundary)
    for index, label in enumerate(labels):
        name = class_names[int(index)] if class_names and len(class_names) == len(labels) else label
        color = colour_of(label, index)
        mask = y == label
        axes.scatter(x[mask, 0], x[mask, 1], color=color, edgecolor="black", s=30, label=f"train {name}")
        if x_test is not None and y_test is not None:
            mask = y_test == label
            axes.scatter(
                x_test[mask, 0],
                x_test[mask, 1],
                facecolor="none",
                edgecolor=color,
                linewidths=1.2,
                s=30,
                label=f"test {name}",
            )
    axes.set_xlabel("x1")
    axes.set_ylabel("x2")
    axes.set_title(title)
    # under the axes, never over the data (the colour bar holds the right side)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=4, fontsize="small", frameon=False)
    figure.set_layout_engine("tight")
    return figure


def _region_colours(axes, figure, grid_x, grid_y, scores, labels, boundary: float):
    """Fill the plane with the model's output and return ``colour_of(label, index)`` for the points.

    The points of a class take the colour the fill gives that class, so a point on
    the right side of the line sits on its own colour: in a binary plot, the colour
    map's colour at the class's label value (RdBu: 0 red, 1 blue); with K classes,
    region k and class k share tab10's k-th colour.
    """
    import numpy as np
    from matplotlib.colors import ListedColormap, Normalize, to_hex

    if scores.ndim == 2 and scores.shape[1] > 1:
        classes = scores.shape[1]
        palette = [to_hex(f"C{k % 10}") for k in range(classes)]
        regions = scores.argmax(axis=1).reshape(grid_x.shape)
        axes.contourf(
            grid_x,
            grid_y,
            regions,
            levels=np.arange(classes + 1) - 0.5,
            cmap=ListedColormap(palette),
            alpha=0.3,
        )
        return lambda label, index: (
            palette[int(label) % classes] if 0 <= int(label) < classes else palette[index]
        )
    surface = scores.reshape(grid_x.shape)
    low, high = float(min(labels.min(), 0)), float(labels.max())
    if high <= low:
        high = low + 1.0
    norm = Normalize(vmin=low, vmax=high)
    filled = axes.contourf(
        grid_x,
        grid_y,
        np.clip(surface, low, high),
        levels=np.linspace(low, high, 21),
        cmap="RdBu",
        norm=norm,
        alpha=0.6,
    )
    figure.colorbar(filled, ax=axes, label="model output")
    if surface.min() < boundary < surface.max():
        axes.contour(grid_x, grid_y, surface, levels=[boundary], colors="black", linewidths=1.5)
    cmap = filled.get_cmap()
    return lambda label, index: to_hex(cmap(norm(float(label))))


def fitted_line(x, y, predict, title: str, x_test=None, y_test=None) -> Figure:
    """One-feature regression: the data as points and the model's prediction as a line."""
    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.add_subplot()
    axes.scatter(x[:, 0], y, s=12, alpha=0.7, label="train")
    if x_test is not None:
        axes.scatter(x_test[:, 0], y_test, s=12, alpha=0.7, marker="x", label="test")
    line = np.linspace(x[:, 0].min(), x[:, 0].max(), 100).reshape(-1, 1)
    axes.plot(line[:, 0], predict(line), color="C3", linewidth=2, label="fitted line")
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.set_layout_engine("tight")
    return figure
