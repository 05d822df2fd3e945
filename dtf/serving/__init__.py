"""`dtf.serving`: serve exported models over gRPC (`dtf serve`) and call them.

`ModelServer` serves the signatures of a model saved with `dtf.saved_model.save` or
`model.export` as the gRPC service ``dtf.serving.Predictor`` (``Predict`` and ``Health``,
messages in :mod:`dtf.serving.messages`: msgpack with tensors in the parameter-server
transport's format); `serve` runs one until SIGINT/SIGTERM; `PredictClient` calls it.

Example:
    >>> model.export("mnist_mlp")  # doctest: +SKIP
    >>> with ModelServer("mnist_mlp", token="s3cret") as server:  # doctest: +SKIP
    ...     client = PredictClient(server.address, token="s3cret")
    ...     client.predict(images)["output_0"].shape
    (64, 10)
"""

from dtf.serving.client import (
    AuthenticationError,
    InvalidRequestError,
    PredictClient,
    ServingError,
)
from dtf.serving.server import ModelServer, serve

__all__ = [
    "AuthenticationError",
    "InvalidRequestError",
    "ModelServer",
    "PredictClient",
    "ServingError",
    "serve",
]
