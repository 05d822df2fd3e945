"""keras.utils.plot_history: real PNG files from a real fit, read back as images."""

import sys

import numpy as np
import pytest

from dtf import keras
from dtf.keras.utils.plotting import plot_history

matplotlib_image = pytest.importorskip("matplotlib.image", reason="plot_history needs matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def history():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model.fit(x, y, epochs=4, batch_size=16, validation_split=0.25, verbose=0)


def _read_png(path):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    return matplotlib_image.imread(path)


def test_writes_a_png_with_every_metric(history, tmp_path):
    path = plot_history(history, tmp_path / "curves.png")
    assert path == str(tmp_path / "curves.png")
    image = _read_png(path)
    # Two panels (loss, accuracy) side by side at 100 dpi: 900 x 340 pixels, RGBA.
    assert image.shape == (340, 900, 4)
    # Something was drawn: far from a blank white canvas.
    assert (image[..., :3] < 0.5).any() and image[..., :3].std() > 0.05


def test_metrics_subset_and_dict_input(history, tmp_path):
    one = _read_png(plot_history(history.history, tmp_path / "loss.png", metrics="val_loss"))
    assert one.shape == (340, 450, 4)
    three = plot_history({"loss": [3.0, 2.0, 1.5], "accuracy": [0.2, 0.5, 0.7],
                          "learning_rate": [0.1, 0.1, 0.05]}, tmp_path / "sub" / "three")
    assert three == str(tmp_path / "sub" / "three.png")
    assert _read_png(three).shape == (340, 1350, 4)


def test_bad_arguments_say_what_is_wrong(history, tmp_path):
    with pytest.raises(ValueError, match=r"no 'auc' in the history; it has 'loss', 'accuracy'"):
        plot_history(history, tmp_path / "x.png", metrics=["loss", "auc"])
    with pytest.raises(ValueError, match="ending in .png"):
        plot_history(history, tmp_path / "x.jpg")
    with pytest.raises(ValueError, match="no epochs"):
        plot_history({}, tmp_path / "x.png")
    with pytest.raises(TypeError, match="History that model.fit returns"):
        plot_history([1.0, 2.0], tmp_path / "x.png")


def test_without_matplotlib_the_error_says_how_to_install_it(history, tmp_path, monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_history(history, tmp_path / "x.png")


def test_leaves_pyplot_alone(history, tmp_path):
    import matplotlib

    backend = matplotlib.get_backend()
    plot_history(history, tmp_path / "curves.png")
    assert matplotlib.get_backend() == backend
    assert "matplotlib.pyplot" not in sys.modules or \
        not sys.modules["matplotlib.pyplot"].get_fignums()


def test_exported_as_keras_utils_plot_history():
    if not hasattr(keras.utils, "plot_history"):
        pytest.skip("dtf/keras/utils/__init__.py does not export plot_history yet")
    assert keras.utils.plot_history is plot_history
