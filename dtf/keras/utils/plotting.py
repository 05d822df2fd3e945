"""`keras.utils.plot_history`: a training run's loss and metric curves, saved as a PNG.

Matplotlib is optional (dtf's `dev` extra has it; `pip install matplotlib` otherwise). The
figure is drawn on matplotlib's Agg canvas directly, without pyplot: it neither needs a display
nor changes the backend or the current figure of a program that uses pyplot itself.
"""

from __future__ import annotations

import math
import os

__all__ = ["plot_history"]

_VAL = "val_"


def _logs_of(history) -> tuple[dict, list]:
    """`(logs, epochs)` from a History (what `fit` returns) or a `{name: [values]}` dict."""
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise TypeError("plot_history takes the History that model.fit returns, or a dict "
                        f"{{name: [value per epoch]}}; got {type(history).__name__}.")
    logs = {name: list(values) for name, values in logs.items()}
    if not logs or not any(logs.values()):
        raise ValueError("plot_history: the history has no epochs to plot (did fit run for at "
                         "least one epoch?).")
    count = max(len(values) for values in logs.values())
    epochs = list(getattr(history, "epoch", None) or range(count))
    if len(epochs) != count:  # a History reused by several fit calls: number them afresh
        epochs = list(range(count))
    return logs, epochs


def _metric_names(logs, metrics) -> list[str]:
    available = [name for name in logs if not name.startswith(_VAL)]
    # Validation-only entries (no training counterpart) still get a panel of their own.
    available += [name[len(_VAL):] for name in logs
                  if name.startswith(_VAL) and name[len(_VAL):] not in logs]
    if metrics is None:
        return sorted(available, key=lambda name: (name != "loss", available.index(name)))
    if isinstance(metrics, str):
        metrics = [metrics]
    names = [name.removeprefix(_VAL) for name in metrics]
    unknown = [name for name in names if name not in available]
    if unknown:
        raise ValueError(f"plot_history: no {', '.join(map(repr, unknown))} in the history; "
                         f"it has {', '.join(map(repr, available))}.")
    return list(dict.fromkeys(names))


def plot_history(history, path, metrics=None):
    """Saves the loss and metric curves of a training run as a PNG image.

    One panel per metric, with the training values and, when the run had validation data,
    the validation values (`val_<name>`) against the epoch number.

    Args:
        history: the `History` returned by `model.fit`, or its `history` dict
            (`{name: [value per epoch]}`).
        path: where to write the image; it must end in `.png` (or have no extension, then
            `.png` is added). Missing folders are created.
        metrics: names to plot (`"loss"`, `"accuracy"`, ...; a `val_` prefix is ignored:
            both curves are drawn); None: every metric in the history, the loss first.

    Returns:
        The path written.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: an empty history, a metric it does not have, or a path not ending in .png.

    Example:
        >>> import numpy as np
        >>> from dtf import keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> history = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=3, verbose=0,
        ...                     validation_split=0.25)
        >>> keras.utils.plot_history(history, "curves.png")  # doctest: +SKIP
        'curves.png'
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("keras.utils.plot_history needs matplotlib, which is not installed: "
                          "pip install matplotlib") from error

    path = os.fspath(path)
    root, extension = os.path.splitext(path)
    if not extension:
        path = root + ".png"
    elif extension.lower() != ".png":
        raise ValueError(f"plot_history writes PNG images: give a path ending in .png, got "
                         f"{path!r}.")
    logs, epochs = _logs_of(history)
    names = _metric_names(logs, metrics)

    columns = min(len(names), 3)
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(4.5 * columns, 3.4 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        for key, label, style in ((name, "train", "-o"), (_VAL + name, "validation", "--s")):
            values = logs.get(key)
            if values:
                ax.plot([e + 1 for e in epochs[:len(values)]], [float(v) for v in values],
                        style, markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend()
        # Epochs are whole numbers: no 1.5 ticks on short runs.
        ax.xaxis.get_major_locator().set_params(integer=True)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)
    return path
