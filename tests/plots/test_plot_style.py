"""Figures that do not contradict themselves: class colours, markers, ticks, smoke titles, run colours."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_hex

from dlab.plots import (
    SMOKE_MARK,
    decision_boundary,
    learning_curves,
    mark_smoke,
    metric_comparison,
    run_colors,
)


def _scatter(figure, label):
    axes = figure.axes[0]
    return next(c for c in axes.collections if c.get_label() == label)


def test_binary_decision_boundary_points_take_the_colour_maps_class_colour():
    x = np.array([[-1.0, -1.0], [-0.8, -0.9], [1.0, 1.0], [0.9, 0.8]], dtype=np.float32)
    y = np.array([0, 0, 1, 1])
    figure = decision_boundary(
        lambda points: 1 / (1 + np.exp(-4 * points.sum(axis=1))), x, y, "b", x_test=x, y_test=y
    )
    axes = figure.axes[0]
    filled = next(c for c in axes.collections if hasattr(c, "levels") and len(c.levels) > 2)
    for label in (0, 1):
        expected = to_hex(filled.get_cmap()(filled.norm(label)))
        assert to_hex(_scatter(figure, f"train {label}").get_facecolor()[0]) == expected
        assert to_hex(_scatter(figure, f"test {label}").get_edgecolor()[0]) == expected
    assert to_hex(_scatter(figure, "train 0").get_facecolor()[0]) != to_hex(
        _scatter(figure, "train 1").get_facecolor()[0]
    )
    legend = axes.get_legend()
    figure.canvas.draw()
    box, data = legend.get_window_extent(), axes.get_window_extent()
    assert box.y1 <= data.y0 + 1  # under the axes, never over a data point


def test_playground_labels_minus_one_and_one_match_their_regions():
    x = np.array([[-1.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    y = np.array([-1.0, 1.0])
    figure = decision_boundary(lambda points: np.tanh(3 * points[:, 0]), x, y, "p", boundary=0.0)
    filled = next(c for c in figure.axes[0].collections if hasattr(c, "levels") and len(c.levels) > 2)
    for label in (-1.0, 1.0):
        expected = to_hex(filled.get_cmap()(filled.norm(label)))
        assert to_hex(_scatter(figure, f"train {label}").get_facecolor()[0]) == expected


def test_multiclass_regions_and_points_share_the_class_colour():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float32)
    y = np.array([0, 1, 2, 3])

    def predict(points):
        index = (points[:, 0] > 0.5).astype(int) + 2 * (points[:, 1] > 0.5).astype(int)
        return np.eye(4)[index]

    figure = decision_boundary(predict, x, y, "softmax")
    regions = next(c for c in figure.axes[0].collections if hasattr(c, "levels"))
    for label in range(4):
        region = to_hex(regions.get_cmap()(regions.norm(label)))
        assert to_hex(_scatter(figure, f"train {label}").get_facecolor()[0]) == region


def test_long_curves_have_no_markers_and_epoch_ticks_are_integers():
    long = learning_curves([("", {"loss": list(np.linspace(1, 0, 2000))})], "loss")
    assert long.axes[0].lines[0].get_marker() in (None, "None", "")
    short = learning_curves([("", {"loss": [1.0, 0.5, 0.3]})], "loss")
    assert short.axes[0].lines[0].get_marker() == "o"
    one = learning_curves([("", {"loss": [0.7], "val_loss": [0.8]})], "loss")
    assert list(one.axes[0].get_xticks()) == [1]
    ticks = long.axes[0].get_xticks()
    assert all(float(t).is_integer() for t in ticks)


def test_a_run_keeps_its_colour_across_figures_and_legends_sit_outside():
    colors = run_colors(["a", "b", "c"])
    curves = learning_curves([("c", {"loss": [1, 0.5]}), ("a", {"loss": [1, 0.4]})], "loss", colors=colors)
    drawn = {line.get_label().split()[0]: to_hex(line.get_color()) for line in curves.axes[0].lines}
    assert drawn == {"c": colors["c"], "a": colors["a"]}
    bars = metric_comparison(
        ["a", "c"], [0.2, 0.1], [0.0, (0.01, 0.02)], "test_loss", threshold=0.177, colors=colors
    )
    patches = bars.axes[0].patches
    assert {to_hex(p.get_facecolor()) for p in patches} == {colors["a"], colors["c"]}
    bars.canvas.draw()
    assert bars.axes[0].get_legend().get_window_extent().x0 >= bars.axes[0].get_window_extent().x1
    assert len(set(run_colors([str(i) for i in range(15)]).values())) == 15


def test_smoke_figures_say_so_in_their_title():
    figure = learning_curves([("", {"loss": [1.0]})], "loss", title="cnn-cifar10: accuracy 1.000")
    mark_smoke(figure)
    mark_smoke(figure)  # once only
    assert figure.axes[0].get_title() == f"cnn-cifar10: accuracy 1.000\n{SMOKE_MARK}"


def test_a_smoke_runs_saved_figures_are_marked(tmp_path):
    from dlab.run.directory import RunDir

    run_dir = RunDir(tmp_path)
    run_dir.plots_dir.mkdir()
    run_dir.write_config("data: {source: synthetic}\n")
    figure = learning_curves([("", {"loss": [1.0, 0.5]})], "loss", title="loss")
    run_dir.save_figure(figure, "loss")
    assert SMOKE_MARK in figure.axes[0].get_title() and (tmp_path / "plots" / "loss.png").is_file()
    real = RunDir(tmp_path / "real")
    real.plots_dir.mkdir(parents=True)
    real.write_config("data: {source: keras}\n")
    other = learning_curves([("", {"loss": [1.0, 0.5]})], "loss", title="loss")
    real.save_figure(other, "loss")
    assert other.axes[0].get_title() == "loss"


def test_dlabs_figures_are_drawn_once_at_their_size_and_a_users_figure_is_never_clipped(tmp_path):
    """dlab's figures carry a tight layout engine: saved without bbox_inches="tight" (a second
    draw), at exactly their size, the smoke line laid out with them. A figure without an engine
    (a user's own experiment) still gets bbox_inches="tight", so text past its edge is kept."""
    import matplotlib.pyplot as plt
    from matplotlib.image import imread

    from dlab.run.directory import RunDir

    run_dir = RunDir(tmp_path)
    run_dir.plots_dir.mkdir()
    run_dir.write_config("data: {source: synthetic}\n")
    ours = learning_curves([("", {"loss": [1.0, 0.5]})], "loss", title="loss")
    assert ours.get_layout_engine() is not None
    width, height = ours.get_size_inches() * 110
    assert imread(run_dir.save_figure(ours, "loss")).shape[:2] == (round(height), round(width))
    theirs, axes = plt.subplots(figsize=(3, 2))
    axes.plot([0, 1], [0, 1])
    theirs.text(0.1, 1.3, "a note above the axes, outside the figure")
    saved = imread(run_dir.save_figure(theirs, "mine")).shape[:2]
    assert saved[0] > 2 * 110  # taller than the figure: the note is in the image, not cut off
