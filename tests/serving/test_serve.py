"""`dtf.serving.serve`, the blocking entry point of `dtf serve`: a real process that serves
until SIGINT or SIGTERM and then returns cleanly."""

import os
import re
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

from dtf.serving import PredictClient, serve
from tests.serving.conftest import images

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROGRAM = """
import sys
from dtf.serving import serve
serve(sys.argv[1], port=0, token=sys.argv[2] if len(sys.argv) > 2 else None, max_batch=16)
print("serve returned", flush=True)
"""


def start(path, *token):
    process = subprocess.Popen([sys.executable, "-c", PROGRAM, path, *token], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    match = re.search(r"on (127\.0\.0\.1:\d+)", line)
    if match is None:
        process.kill()
        raise AssertionError(f"no start line: {line!r} {process.stderr.read()}")
    return process, line, match.group(1)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_until_signal(mlp_path, mlp_signature, signum):
    process, line, address = start(mlp_path, "tok")
    try:
        assert "signatures: serving_default; default serving_default" in line
        assert "token auth" in line and "max_batch 16" in line
        x = images(4, seed=3)
        with PredictClient(address, token="tok") as client:
            np.testing.assert_array_equal(client.predict(x)["output_0"],
                                          mlp_signature(x)["output_0"].numpy())
            assert client.health()["max_batch"] == 16
        process.send_signal(signum)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "dtf serve: stopping (1 predictions served)" in out
    assert "serve returned" in out
    assert "Traceback" not in err


def test_serve_with_a_stop_event_off_the_main_thread(mlp_path, capsys):
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(mlp_path,),
                              kwargs={"port": 0, "stop_event": stop})
    thread.start()
    try:
        for _ in range(200):
            started = re.search(r"on (127\.0\.0\.1:\d+)", capsys.readouterr().out)
            if started:
                break
            thread.join(0.05)
        assert started
        with PredictClient(started.group(1)) as client:
            assert client.health()["status"] == "SERVING"
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()


def test_serve_reports_a_missing_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="No dtf saved model"):
        serve(str(tmp_path / "nothing"), port=0)
