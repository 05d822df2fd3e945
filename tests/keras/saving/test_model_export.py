"""Model.export writes the portable serving file that dtf.saved_model.load serves from."""

import numpy as np
import pytest

import dtf
from dtf import keras


def test_model_export_serves_the_same_predictions(tmp_path, capsys):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(2)])
    x = np.random.default_rng(0).random((5, 4)).astype("float32")
    path = str(tmp_path / "mlp.dtf")
    model.export(path)
    assert "Endpoint 'serve'" in capsys.readouterr().out
    loaded = dtf.saved_model.load(path)
    np.testing.assert_allclose(loaded.serve(x).numpy(), model.predict(x, verbose=0), rtol=1e-6)
    out = loaded.signatures["serving_default"](dtf.constant(x))
    np.testing.assert_allclose(out["output_0"].numpy(), model(x).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="Unrecognized format"):
        model.export(path, format="onnx")
