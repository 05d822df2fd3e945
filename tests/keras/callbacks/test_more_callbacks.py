"""SwapEMAWeights and RemoteMonitor."""

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import numpy.testing as npt
import pytest
from _callbacks_loop import regression_data, small_model

from dtf import keras
from dtf.keras.callbacks import RemoteMonitor, SwapEMAWeights


# -- SwapEMAWeights -----------------------------------------------------------------------------
def _ema_model():
    model = small_model()
    model.compile(keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5), "mse")
    return model


def _averages(model):
    return [a.numpy() for a in model.optimizer._model_variables_moving_average]


def test_evaluate_and_predict_use_the_averages_then_put_the_weights_back():
    x, y = regression_data()
    model = _ema_model()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    trained, averages = model.get_weights(), _averages(model)
    assert not np.allclose(trained[0], averages[0])
    twin = small_model()
    twin.compile("sgd", "mse")
    twin.set_weights(averages)
    swap = SwapEMAWeights()
    npt.assert_allclose(model.evaluate(x, y, verbose=0, callbacks=[swap]),
                        twin.evaluate(x, y, verbose=0), rtol=1e-6)
    npt.assert_allclose(model.predict(x, verbose=0, callbacks=[swap]),
                        twin.predict(x, verbose=0), rtol=1e-6)
    for now, before in zip(model.get_weights(), trained):
        npt.assert_array_equal(now, before)
    for now, before in zip(_averages(model), averages):
        npt.assert_array_equal(now, before)


def test_swap_on_epoch_leaves_the_averages_in_the_model():
    x, y = regression_data()
    model = _ema_model()
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(model.get_weights()[0]))
    model.fit(x, y, batch_size=16, epochs=3, verbose=0,
              callbacks=[SwapEMAWeights(swap_on_epoch=True), record])
    averages = _averages(model)
    for weight, average in zip(model.get_weights(), averages):
        npt.assert_array_equal(weight, average)  # finalized after the last epoch
    assert len(seen) == 3


def test_swap_needs_an_ema_optimizer():
    model = small_model()
    model.compile("sgd", "mse")
    x, y = regression_data()
    with pytest.raises(ValueError, match=r"^Callback SwapEMAWeights.on_test_begin raised: "
                                         r"SwapEMAWeights must be used when `use_ema=True`"):
        model.evaluate(x, y, verbose=0, callbacks=[SwapEMAWeights()])


# -- RemoteMonitor ------------------------------------------------------------------------------
@pytest.fixture
def server():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append((self.path, self.headers["Content-Type"],
                             self.headers.get("X-Run"), self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", received
    httpd.shutdown()
    httpd.server_close()


def test_remote_monitor_posts_each_epoch(server):
    root, received = server
    monitor = RemoteMonitor(root=root, headers={"X-Run": "7"})
    monitor.on_epoch_end(0, {"loss": 0.5, "acc": np.float32(0.25)})
    path, content_type, run, body = received[0]
    assert (path, content_type, run) == ("/publish/epoch/end/",
                                         "application/x-www-form-urlencoded", "7")
    form = urllib.parse.parse_qs(body.decode())
    assert json.loads(form["data"][0]) == {"epoch": 0, "loss": 0.5, "acc": 0.25}
    as_json = RemoteMonitor(root=root, path="/p", send_as_json=True)
    as_json.on_epoch_end(3, {"loss": 1.5})
    path, content_type, _, body = received[1]
    assert (path, content_type) == ("/p", "application/json")
    assert json.loads(body) == {"epoch": 3, "loss": 1.5}


def test_remote_monitor_through_fit(server):
    root, received = server
    x, y = regression_data()
    model = small_model()
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[RemoteMonitor(root=root)])
    epochs = [json.loads(urllib.parse.parse_qs(r[3].decode())["data"][0])["epoch"]
              for r in received]
    assert epochs == [0, 1]


def test_remote_monitor_unreachable_server_warns():
    monitor = RemoteMonitor(root="http://127.0.0.1:9", timeout=2.0)  # the discard port
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor root server"):
        monitor.on_epoch_end(0, {"loss": 1.0})
