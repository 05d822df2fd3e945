"""`dtf serve` end to end: a real ModelServer on loopback, real PredictClients, no mocks.
Served predictions must equal the loaded signature called in-process, bit for bit."""

import threading

import numpy as np
import pytest

import dtf
from dtf.serving import (
    AuthenticationError,
    InvalidRequestError,
    ModelServer,
    PredictClient,
    ServingError,
    messages,
)
from tests.serving.conftest import TOKEN, images


def expected(signature, *arrays):
    return {name: value.numpy() for name, value in signature(*arrays).items()}


@pytest.mark.parametrize("batch", [1, 7, 64, 256])
def test_predict_equals_in_process(server, mlp_signature, batch):
    x = images(batch, seed=batch)
    with PredictClient(server.address, token=TOKEN) as client:
        served = client.predict(x)
    reference = expected(mlp_signature, x)
    assert served.keys() == reference.keys() == {"output_0"}
    assert served["output_0"].dtype == np.float32
    np.testing.assert_array_equal(served["output_0"], reference["output_0"])


def test_predict_forms_of_inputs(server, mlp_signature):
    x = images(3, seed=5)
    reference = expected(mlp_signature, x)["output_0"]
    with PredictClient(server.address, token=TOKEN) as client:
        by_name = client.predict({"images": x}, signature="serving_default")
        as_tensor = client.predict(dtf.constant(x))
        # float64 is cast to the signature's float32, as the in-process call converts it.
        as_float64 = client.predict(x.astype(np.float64))
        as_list = client.predict(x.tolist())
        empty = client.predict(np.zeros((0, 784), np.float32))
    for served in (by_name, as_tensor, as_float64, as_list):
        np.testing.assert_array_equal(served["output_0"], reference)
    assert empty["output_0"].shape == (0, 10)


def test_health(server):
    with PredictClient(server.address, token=TOKEN) as client:
        health = client.health()
    assert health == {
        "status": "SERVING",
        "default_signature": "serving_default",
        "max_batch": 256,
        "model": "Functional",
        "dtf_version": dtf.__version__,
        "signatures": {"serving_default": {
            "inputs": {"images": ("float32", (None, 784))},
            "outputs": {"output_0": ("float32", (None, 10))},
        }},
    }


def test_token_auth(server):
    x = images(1, seed=0)
    for token in (None, "wrong-token", TOKEN + "x"):
        with PredictClient(server.address, token=token) as client:
            before = server.stats["unauthenticated"]
            with pytest.raises(AuthenticationError, match="dtf-token"):
                client.health()
            with pytest.raises(AuthenticationError):
                client._call(client._predict, b"anything", "predict")
            assert server.stats["unauthenticated"] == before + 2
    with PredictClient(server.address, token=TOKEN) as client:
        assert client.predict(x)["output_0"].shape == (1, 10)


def test_server_without_token_accepts_any_call(two_input_server):
    running, _ = two_input_server
    with PredictClient(running.address, token="ignored") as client:
        assert client.health()["status"] == "SERVING"


@pytest.mark.parametrize("inputs, reason", [
    ({"pixels": np.zeros((1, 784), np.float32)},
     (r"unknown input\(s\) \['pixels'\] and missing input\(s\) \['images'\].*"
     r"it takes images: float32\[None, 784\]")),
    ({"images": np.zeros((1, 783), np.float32)},
     r"has shape \[1, 783\], which does not fit images: float32\[None, 784\]"),
    ({"images": np.zeros((784,), np.float32)}, r"has shape \[784\]"),
    ({"images": np.zeros((1, 784), np.int32)}, "is int32 but must be float32"),
    ({"images": np.zeros((257, 784), np.float32)},
     "batch of 257 examples is over this server's max_batch of 256"),
])
def test_bad_requests_are_invalid_argument(server, mlp_signature, inputs, reason):
    with PredictClient(server.address, token=TOKEN) as client:
        # Sent as they are: the client's own conversions would fix the dtype.
        request = messages.encode_predict(1, inputs)
        with pytest.raises(InvalidRequestError, match=reason) as info:
            client._call(client._predict, request, "predict")
        assert info.value.code == "INVALID_ARGUMENT"
        x = images(2, seed=1)  # the server goes on serving
        np.testing.assert_array_equal(client.predict(x)["output_0"],
                                      expected(mlp_signature, x)["output_0"])


def test_unknown_signature(server):
    with PredictClient(server.address, token=TOKEN) as client, pytest.raises(
            InvalidRequestError, match=r"unknown signature 'nope'; this server serves \['serving_"):
        client.predict({"images": images(1, 0)}, signature="nope")


def test_two_inputs(two_input_server):
    running, signature = two_input_server
    features = np.random.default_rng(0).random((5, 4), dtype=np.float32)
    tokens = np.arange(15, dtype=np.int32).reshape(5, 3) % 10
    with PredictClient(running.address) as client:
        assert client.health()["signatures"]["serving_default"]["inputs"] == {
            "features": ("float32", (None, 4)), "tokens": ("int32", (None, 3))}
        served = client.predict({"features": features, "tokens": tokens})
        np.testing.assert_array_equal(served["output_0"],
                                      expected(signature, features, tokens)["output_0"])
        with pytest.raises(InvalidRequestError, match="takes .*'features', 'tokens'.*pass a "
                                                      "dict"):
            client.predict(features)
        with pytest.raises(InvalidRequestError, match=r"same batch size .*'features': 5, "
                                                      r"'tokens': 4"):
            client.predict({"features": features, "tokens": tokens[:4]})
        # An error the inputs cause inside the model is the caller's too.
        with pytest.raises(InvalidRequestError, match=r"failed on this request.*indices"):
            client.predict({"features": features, "tokens": tokens + 10})
        assert client.predict({"features": features, "tokens": tokens})["output_0"].shape == \
            (5, 2)


def test_concurrent_clients_lose_nothing(server, mlp_signature):
    """8 clients x 200 requests of different sizes at once: every reply is its request's."""
    clients, per_client = 8, 200
    replies = [[None] * per_client for _ in range(clients)]
    errors = []
    start = threading.Barrier(clients)
    before = server.stats["predictions"]

    def run(k):
        try:
            with PredictClient(server.address, token=TOKEN) as client:
                start.wait()
                for i in range(per_client):
                    replies[k][i] = client.predict(images(1 + (k + i) % 5, seed=k * 1000 + i))
        except Exception as e:  # noqa: BLE001 - reported below with the thread's number
            errors.append((k, e))

    threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert server.stats["predictions"] - before == clients * per_client
    for k in range(clients):
        for i in range(per_client):
            x = images(1 + (k + i) % 5, seed=k * 1000 + i)
            np.testing.assert_array_equal(replies[k][i]["output_0"],
                                          expected(mlp_signature, x)["output_0"])


def test_client_errors_are_clear():
    with PredictClient("127.0.0.1:1", timeout_s=2) as client, \
            pytest.raises(ConnectionError, match="cannot be reached.*dtf serve"):
        client.health()
    with pytest.raises(ValueError, match="token must be a non-empty str"):
        PredictClient("127.0.0.1:1", token="")


def test_server_arguments(mlp_path, tmp_path):
    with pytest.raises(ValueError, match=r"no signature 'serve'.*\['serving_default'\]"):
        ModelServer(mlp_path, signature="serve")
    with pytest.raises(FileNotFoundError, match="No dtf saved model"):
        ModelServer(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="max_batch must be a positive int"):
        ModelServer(mlp_path, max_batch=0)
    loaded = dtf.saved_model.load(mlp_path)
    with ModelServer(loaded) as running, PredictClient(running.address) as client:
        assert client.predict(images(2, 0))["output_0"].shape == (2, 10)
    # A stopped server says so to nobody: calls fail to connect.
    with pytest.raises(ConnectionError):
        PredictClient(running.address, timeout_s=2).health()


def test_oversized_request_is_refused_and_server_keeps_serving(mlp_path):
    with ModelServer(mlp_path, max_message_bytes=256 * 1024) as small, \
            PredictClient(small.address) as client:
        with pytest.raises(ServingError, match="RESOURCE_EXHAUSTED|message size limit"):
            client.predict(images(200, 0))  # 627 KB
        assert client.predict(images(20, 0))["output_0"].shape == (20, 10)


def test_a_port_in_use_is_reported(server, mlp_path):
    with pytest.raises(OSError, match=f"could not bind the model server to 127.0.0.1:"
                                      f"{server.port}"):
        ModelServer(mlp_path, port=server.port)
