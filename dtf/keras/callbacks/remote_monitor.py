"""`keras.callbacks.RemoteMonitor`: posts each epoch's logs to an HTTP server."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np

from dtf.keras.callbacks.callback import Callback

__all__ = ["RemoteMonitor"]


class RemoteMonitor(Callback):
    """POSTs `{"epoch": ..., <logs>}` to `root + path` at the end of each epoch: as a form
    field `field` holding the JSON (the default), or as a JSON body with `send_as_json=True`.
    A server that cannot be reached gives a warning, not an error: training goes on.

    Args:
        root: the server's URL.
        path: the path the events are posted to.
        field: the form field holding the JSON.
        headers: extra HTTP headers (a dict).
        send_as_json: send the JSON as the request body (`application/json`).
        timeout: seconds to wait for the server (dtf's addition: training never hangs on it).

    Example:
        >>> from dtf import keras
        >>> monitor = keras.callbacks.RemoteMonitor(root="http://localhost:9000")
    """

    def __init__(self, root="http://localhost:9000", path="/publish/epoch/end/", field="data",
                 headers=None, send_as_json=False, timeout=10.0):
        super().__init__()
        self.root = root
        self.path = path
        self.field = field
        self.headers = headers
        self.send_as_json = send_as_json
        self.timeout = timeout

    def on_epoch_end(self, epoch, logs=None):
        send = {"epoch": epoch}
        for key, value in (logs or {}).items():
            send[key] = value.item() if isinstance(value, (np.ndarray, np.generic)) else value
        headers = dict(self.headers or {})
        if self.send_as_json:
            body = json.dumps(send).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(send)}).encode("ascii")
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = urllib.request.Request(self.root + self.path, data=body, headers=headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except (urllib.error.URLError, OSError):
            warnings.warn(f"Could not reach RemoteMonitor root server at {self.root}",
                          stacklevel=2)
