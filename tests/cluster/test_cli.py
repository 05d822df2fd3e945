"""The `dtf` command, run for real: as a subprocess (`python -m dtf.cluster.cli`, and the
installed console script), training programs run locally and as Ray jobs on a real local Ray
cluster with a job server, `dtf serve` answering a real client, and `dtf cluster` handing the
right command lines to the `ray` CLI."""

import importlib.util
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from dtf.cluster import cli

import dtf
from dtf import keras

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUBCOMMANDS = ["train", "cluster", "serve", "info"]


def run_dtf(*args, env=None, cwd=None, timeout=120):
    """`dtf ARGS...` in a fresh interpreter; the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "dtf.cluster.cli", *args], env=env, cwd=cwd,
                          check=False, capture_output=True, text=True, timeout=timeout)


def write_script(directory, name="program.py"):
    """A tiny training program: prints its arguments, one env var and data.txt of its working
    directory, computes one dtf gradient, and exits with the status in $EXIT_WITH."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(textwrap.dedent("""\
            import json, os, sys
            import dtf
            w = dtf.Variable(1.0)
            with dtf.GradientTape() as tape:
                loss = (w * 3.0 - 1.0) ** 2
            grad = tape.gradient(loss, w)
            data = open("data.txt").read().strip() if os.path.exists("data.txt") else None
            print("program ran", json.dumps({"argv": sys.argv[1:], "data": data,
                  "greeting": os.environ.get("GREETING"), "grad": float(grad.numpy())}))
            sys.exit(int(os.environ.get("EXIT_WITH", "0")))
            """))
    return path


# ---------------------------------------------------------------- help and info


@pytest.mark.parametrize("subcommand", [None, *SUBCOMMANDS])
def test_help_of_every_subcommand(subcommand):
    result = run_dtf(*([subcommand] if subcommand else []), "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: dtf {subcommand or ''}".rstrip())
    if subcommand is None:
        for name in SUBCOMMANDS:
            assert re.search(rf"^\s+{name}\s+\S", result.stdout, re.MULTILINE), name
    else:
        assert "examples:" in result.stdout or "example:" in result.stdout or \
            subcommand == "info"


def test_help_lists_every_option_with_its_meaning():
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    assert sorted(subparsers) == sorted(SUBCOMMANDS)
    for name, subparser in subparsers.items():
        for action in subparser._actions:
            assert action.help, f"dtf {name}: {action.option_strings or action.dest} has no help"


def test_console_script_is_installed():
    script = os.path.join(os.path.dirname(sys.executable), "dtf")
    if not os.path.exists(script):
        pytest.skip("the dtf console script is not installed in this environment (pip install "
                    "-e . installs it)")
    result = subprocess.run([script, "--version"], check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"dtf {dtf.__version__}"


def test_info_prints_versions_devices_and_no_cluster():
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = run_dtf("info", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"dtf      {dtf.__version__}" in out
    assert f"numpy    {np.__version__}" in out
    import grpc
    import ray

    assert f"ray      {ray.__version__}" in out
    assert f"grpc     {grpc.__version__}" in out
    for device in dtf.config.list_physical_devices():
        assert device.name in out
    assert "ray cluster: none" in out


def test_info_reports_an_unreachable_cluster():
    address = f"127.0.0.1:{_free_ports(1)[0]}"  # nothing listens there
    start = time.perf_counter()
    lines, status = cli.info_lines(address=address)
    assert status == 1
    assert lines[-1].startswith(f"ray cluster at {address}: unreachable (ConnectionRefusedError")
    assert time.perf_counter() - start < 10  # not Ray's minutes of retries


# ---------------------------------------------------------------- dtf train, locally


def test_train_runs_the_script_locally_with_its_args_and_exit_status(tmp_path):
    script = write_script(str(tmp_path))
    result = run_dtf("train", "--env", "GREETING=hi", script, "--epochs", "3", "--flag",
                     cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert 'program ran {"argv": ["--epochs", "3", "--flag"], "data": null, "greeting": "hi", ' \
        '"grad": 12.0}' in result.stdout

    failing = run_dtf("train", "--env", "EXIT_WITH=3", script, cwd=str(tmp_path))
    assert failing.returncode == 3
    assert "program ran" in failing.stdout


def test_train_errors_say_what_to_fix(tmp_path, capsys):
    assert cli.main(["train", str(tmp_path / "missing.py")]) == cli.EXIT_USAGE
    assert "no such script" in capsys.readouterr().err
    script = write_script(str(tmp_path))
    assert cli.main(["train", "--pip", "pandas", script]) == cli.EXIT_USAGE
    assert "--pip only apply to a Ray job: add --address" in capsys.readouterr().err
    assert cli.main(["train", "--env", "NOEQUALS", script]) == cli.EXIT_USAGE
    assert "--env takes NAME=VALUE" in capsys.readouterr().err
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    code = cli.main(["train", "--address", "127.0.0.1:1", "--working-dir", str(outside), script])
    assert code == cli.EXIT_USAGE
    assert "outside the working directory" in capsys.readouterr().err


# ---------------------------------------------------------------- dtf train on a Ray cluster


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def ray_head():
    """A real Ray cluster with its dashboard (the job server) and token authentication, started
    by `ray start --head --block` on free ports (other tests' Ray clusters may run beside it) in
    a process group of its own, which the teardown ends."""
    missing = [m for m in ("aiohttp", "ray.dashboard") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"Ray's job server needs ray[default] (missing {', '.join(missing)}): "
                    "pip install \"ray[default]\" to run the Ray job tests")
    ray_cli = cli.find_ray_cli()
    if ray_cli is None:
        pytest.skip("the `ray` command is not installed")
    ports = dict(zip(["port", "dashboard-port", "dashboard-agent-listen-port",
                      "dashboard-agent-grpc-port", "ray-client-server-port",
                      "runtime-env-agent-port", "metrics-export-port", "node-manager-port",
                      "object-manager-port"], _free_ports(9)))
    venv_bin = os.path.dirname(sys.executable)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
           # The job's `python` is the one on the head's PATH: this interpreter, with dtf.
           "PATH": venv_bin + os.pathsep + os.environ.get("PATH", "")}
    env.pop("RAY_ADDRESS", None)
    command = [ray_cli, "start", "--head", "--block", "--num-cpus=2", "--include-dashboard=true",
               "--dashboard-host=127.0.0.1", "--disable-usage-stats",
               f"--temp-dir={tempfile_short()}",
               *(f"--{name}={port}" for name, port in ports.items())]
    temp_dir = command[8].split("=", 1)[1]
    head = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, start_new_session=True)
    try:
        output = []
        for line in head.stdout:
            output.append(line)
            match = re.search(r"ray start --address='([^']+)'", line)
            if match:
                gcs_address = match.group(1)
            if "will now block forever" in line:
                break
        else:
            pytest.fail("`ray start --head` did not start:\n" + "".join(output))
        yield {"job_address": f"127.0.0.1:{ports['dashboard-port']}",
               "gcs_address": gcs_address, "env": env}
    finally:
        # `ray start --block` drains for up to 30 s on SIGTERM; its processes are all in its
        # own process group, so they end together.
        head.terminate()
        try:
            head.wait(5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        head.wait()
        for _ in range(10):  # a Ray process may still be writing its last files there
            shutil.rmtree(temp_dir, ignore_errors=True)
            if not os.path.exists(temp_dir):
                break
            time.sleep(0.5)


def tempfile_short():
    # Ray puts Unix sockets under its temp dir: the path must stay short (107-byte limit).
    import tempfile

    return tempfile.mkdtemp(prefix="dtfray", dir="/tmp")


def test_train_submits_a_ray_job_streams_its_logs_and_returns_its_status(ray_head, tmp_path):
    script = write_script(str(tmp_path), "remote_program.py")
    (tmp_path / "data.txt").write_text("uploaded with the working directory\n")
    result = run_dtf("train", "--address", ray_head["job_address"], "--env", "GREETING=remote",
                     "--env", "EXIT_WITH=3", script, "--epochs", "2",
                     env=ray_head["env"], cwd=str(tmp_path), timeout=300)
    # The program ran on the cluster in the uploaded working directory, with its arguments and
    # environment; its output streamed here and its exit status came back.
    assert 'program ran {"argv": ["--epochs", "2"], "data": "uploaded with the working ' \
        'directory", "greeting": "remote", "grad": 12.0}' in result.stdout, \
        result.stdout + result.stderr
    assert "python remote_program.py --epochs 2" in result.stderr
    assert re.search(r"job \S+ FAILED \(Job entrypoint command failed with exit code 3\)",
                     result.stderr), result.stderr
    assert result.returncode == 3

    ok = run_dtf("train", "--address", ray_head["job_address"], "--submission-id",
                 "dtf-test-ok", script, env=ray_head["env"], cwd=str(tmp_path), timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "job dtf-test-ok SUCCEEDED" in ok.stderr

    # A refused submission (the id is taken) is an error message, not a traceback.
    taken = run_dtf("train", "--address", ray_head["job_address"], "--submission-id",
                    "dtf-test-ok", script, env=ray_head["env"], cwd=str(tmp_path))
    assert taken.returncode == cli.EXIT_JOB_FAILED
    assert re.search(r"refused the job: .*dtf-test-ok", taken.stderr), taken.stderr
    assert "Traceback" not in taken.stderr


NO_AIOHTTP = """\
import importlib.util, sys
real_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name == "aiohttp" else real_find_spec(name, *a)
from dtf.cluster.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_train_streams_by_polling_without_aiohttp(ray_head, tmp_path):
    # Where the websocket client (aiohttp) is missing, the logs are polled: the same output.
    write_script(str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", NO_AIOHTTP, "train", "--address", ray_head["job_address"],
         "--env", "GREETING=polled", "program.py", "x"], check=False, capture_output=True,
        text=True, env=ray_head["env"], cwd=str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'program ran {"argv": ["x"], "data": null, "greeting": "polled"' in result.stdout
    assert result.stdout.count("program ran") == 1  # each line printed once
    assert re.search(r"job \S+ SUCCEEDED", result.stderr)


def test_train_without_the_token_is_refused_clearly(ray_head, tmp_path):
    script = write_script(str(tmp_path))
    env = {**ray_head["env"], "RAY_AUTH_TOKEN": "wrong"}
    result = run_dtf("train", "--address", ray_head["job_address"], script, env=env,
                     cwd=str(tmp_path))
    assert result.returncode == cli.EXIT_JOB_FAILED
    assert "cannot reach the Ray job server" in result.stderr
    assert "token" in result.stderr


def test_info_describes_the_cluster_at_ray_address(ray_head):
    env = {**ray_head["env"], "RAY_ADDRESS": ray_head["gcs_address"]}
    result = run_dtf("info", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ray cluster at {ray_head['gcs_address']}: 1 node(s) alive" in result.stdout
    assert re.search(r"CPU +\d+ free of 2", result.stdout)


# ---------------------------------------------------------------- dtf cluster


def test_cluster_commands_are_the_ray_launchers():
    # `ray up` itself would start cloud machines or ssh to hosts, so the test checks the exact
    # command dtf hands to the real `ray` CLI (found next to this Python)
    ray_cli = cli.find_ray_cli()
    assert ray_cli is not None and os.path.basename(ray_cli) == "ray"
    local = os.path.join(cli.CONFIGS_DIR, "local.yaml")
    cases = [
        (("up", local), {"yes": True}, ["up", local, "--yes"]),
        (("down", local), {"yes": True, "cluster_name": "lab"},
         ["down", local, "--yes", "--cluster-name", "lab"]),
        (("status", local), {}, ["exec", local, "ray status"]),
        (("status", local), {"head_ip": True}, ["get-head-ip", local]),
    ]
    for (action, config), kwargs, expected in cases:
        assert cli.cluster_command(ray_cli, action, config, **kwargs) == [ray_cli, *expected]


def test_the_ray_launcher_dtf_calls_accepts_those_commands():
    ray_cli = cli.find_ray_cli()
    for action in ("up", "down", "exec", "get-head-ip"):
        result = subprocess.run([ray_cli, action, "--help"], check=False, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    assert "--cluster-name" in result.stdout


def test_cluster_says_when_the_ray_cli_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(cli, "find_ray_cli", lambda: None)
    assert cli.main(["cluster", "up", "aws-cpu"]) == cli.EXIT_MISSING_TOOL
    assert "the `ray` command is not installed" in capsys.readouterr().err


def test_cluster_unknown_config_lists_the_shipped_ones(capsys):
    assert cli.main(["cluster", "up", "no-such-config"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "no cluster config 'no-such-config'" in err
    assert "aws-cpu, aws-gpu, local" in err


# ---------------------------------------------------------------- dtf serve


def test_serve_is_unavailable_without_the_serving_module(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "_load_serve", lambda: None)
    assert cli.main(["serve", str(tmp_path)]) == cli.EXIT_MISSING_TOOL
    assert "serving is unavailable" in capsys.readouterr().err


def test_serve_answers_predict_like_the_model_in_process(tmp_path):
    if cli._load_serve() is None:
        pytest.skip("this dtf has no dtf.serving.server.serve")
    from dtf.serving import PredictClient

    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,), name="features")
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    path = str(tmp_path / "model")
    model.export(path, verbose=False)
    token = secrets.token_hex(8)
    server = subprocess.Popen(
        [sys.executable, "-m", "dtf.cluster.cli", "serve", path, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "DTF_SERVE_TOKEN": token})
    try:
        line = server.stdout.readline()
        match = re.search(r" on (\S+), token auth", line)
        assert match, line + server.stdout.read() if server.poll() is not None else line
        x = np.random.default_rng(0).random((5, 4), dtype=np.float32)
        with PredictClient(match.group(1), token=token) as client:
            outputs = client.predict({"features": x})
        expected = dtf.saved_model.load(path).signatures["serving_default"](
            features=dtf.constant(x))
        (name,) = expected
        np.testing.assert_allclose(outputs[name], expected[name].numpy(), rtol=1e-6)
    finally:
        server.send_signal(signal.SIGINT)
        status = server.wait(30)
    assert status == 0
    assert "stopping (1 predictions served)" in server.stdout.read()


def test_serve_rejects_a_missing_model(capsys):
    if cli._load_serve() is None:
        pytest.skip("this dtf has no dtf.serving.server.serve")
    assert cli.main(["serve", "/no/such/model"]) == cli.EXIT_USAGE
    assert "no exported model at '/no/such/model'" in capsys.readouterr().err


def test_module_runs_as_main_quickly():
    start = time.perf_counter()
    result = run_dtf("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"dtf {dtf.__version__}"
    assert time.perf_counter() - start < 30
