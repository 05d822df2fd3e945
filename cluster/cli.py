"""The `dtf` command: run training programs locally or on a Ray cluster, manage Ray clusters,
serve exported models, and print what this installation sees.

    dtf train SCRIPT [ARGS...]                    run SCRIPT here, with this Python
    dtf train --address http://HEAD:8265 SCRIPT   submit SCRIPT to a Ray cluster as a Ray job
    dtf cluster up|down|status CONFIG             Ray's cluster launcher (`ray up/down/exec`)
    dtf serve MODEL --port 8500                   serve a model saved by dtf.saved_model.save
    dtf info                                      versions, devices and the Ray cluster

Installed as a console script (`[project.scripts] dtf = "dtf.cluster.cli:main"`); also runs
as `python -m dtf.cluster.cli`. Every subcommand has a complete `--help`.

Example:
    >>> from dtf.cluster.cli import main
    >>> main(["train", "scripts/examples/mnist_parameter_server.py", "--epochs", "1"])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import time

__all__ = ["build_parser", "main"]

# The Ray configs shipped in cluster/configs/: `dtf cluster up aws-cpu` finds them by name.
CONFIGS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")

# Exit status of `dtf train --address` for a job that ended without a driver exit code of its
# own: stopped (by `ray job stop`, or Ctrl-C here) reads like a shell's interrupted command.
EXIT_JOB_FAILED = 1
EXIT_JOB_STOPPED = 130
EXIT_USAGE = 2
EXIT_MISSING_TOOL = 127

# Kept out of the uploaded working directory: version control and virtual environments are
# large and useless on the cluster (its nodes have their own Python).
DEFAULT_EXCLUDES = (".git", ".venv", "venv", "__pycache__", "*.pyc")

_TRAIN_EPILOG = """\
locally (no --address): runs `python SCRIPT ARGS...` with this interpreter in the current
directory; the exit status is the script's.

on a Ray cluster (--address): submits `python SCRIPT ARGS...` as a Ray job through the
cluster's job server (the dashboard, port 8265 by default, which needs `pip install
"ray[default]"` on the head node), with the working directory uploaded (runtime_env
working_dir, less .git/.venv/__pycache__ and the --exclude patterns), --pip packages
installed for the job and --env variables set. SCRIPT must lie inside the working directory.
dtf itself must be installed on the cluster's nodes (the configs in cluster/configs/ and the
images in k8s/ do that). The job's logs are streamed here until it ends; Ctrl-C stops the job.
Exit status: 0 when the job SUCCEEDED, the driver's exit code (or 1) when it FAILED, 130 when
it was STOPPED. With --no-wait, prints the submission id and returns at once.

examples:
  dtf train scripts/examples/mnist_parameter_server.py --epochs 3
  dtf train --address http://10.0.0.5:8265 --pip pandas --env DTF_LOG=1 \\
      scripts/examples/mnist_parameter_server.py --epochs 3 --workers 4
"""

_CLUSTER_EPILOG = """\
CONFIG is a Ray cluster-launcher YAML file, or the name of one shipped with dtf in
cluster/configs/ (local, aws-cpu, aws-gpu). The `ray` command must be installed
(`pip install "ray[default]"`); it runs in the foreground and its output is shown.

  up      `ray up CONFIG`: starts or updates the head node and the workers
  down    `ray down CONFIG`: stops the cluster's nodes
  status  `ray exec CONFIG "ray status"`: the nodes, resources and pending demands as the
          head node sees them (with --head-ip only: `ray get-head-ip CONFIG`)

examples:
  dtf cluster up cluster/configs/aws-cpu.yaml --yes
  dtf cluster status aws-cpu
  dtf cluster down aws-cpu --yes
"""

_SERVE_EPILOG = """\
MODEL is a directory written by dtf.saved_model.save. The server answers gRPC Predict
requests (msgpack tensors) and a health check until interrupted (Ctrl-C). With a token
(--token, or the DTF_SERVE_TOKEN environment variable, which keeps it out of process
listings), every request must carry it.

example:
  DTF_SERVE_TOKEN=s3cret dtf serve exported/mnist --host 0.0.0.0 --port 8500
"""

_INFO_EPILOG = """\
Prints the versions of dtf, Python, NumPy, Ray, gRPC and CuPy (when installed), the devices
dtf can place ops on (dtf.config.list_physical_devices()), and the Ray cluster at --address or
RAY_ADDRESS (its nodes and resources), or that there is none. Exit status 1 when a Ray address
is given but the cluster cannot be reached.
"""


def build_parser() -> argparse.ArgumentParser:
    """The `dtf` argument parser, with one subparser per subcommand."""
    parser = argparse.ArgumentParser(
        prog="dtf",
        description="dtf: TensorFlow/Keras API on NumPy and CuPy, with parameter-server "
                    "training on Ray. Run training programs here or on a Ray cluster, manage "
                    "Ray clusters, serve exported models.",
        epilog="`dtf COMMAND --help` tells more about each command.")
    parser.add_argument("--version", action="version", version=f"dtf {_dtf_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train", help="run a training program locally or as a job on a Ray cluster",
        description="Run a training program (a Python script) locally, or submit it to a\n"
                    "Ray cluster as a Ray job and stream its logs until it ends.",
        epilog=_TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("script", metavar="SCRIPT", help="the Python training program to run")
    train.add_argument("script_args", metavar="ARGS", nargs=argparse.REMAINDER,
                       help="arguments passed to SCRIPT unchanged (everything after SCRIPT)")
    train.add_argument("--address", metavar="URL",
                       help="the Ray cluster's job server, e.g. http://HEAD:8265 (the "
                            "dashboard address); without it SCRIPT runs locally")
    train.add_argument("--working-dir", metavar="DIR", default=".",
                       help="with --address: the directory uploaded as the job's working "
                            "directory (default: the current one)")
    train.add_argument("--pip", metavar="REQUIREMENT", action="append", default=[],
                       help="with --address: a pip requirement installed for the job "
                            "(repeatable), e.g. --pip pandas --pip 'scipy>=1.11'")
    train.add_argument("--env", metavar="NAME=VALUE", action="append", default=[],
                       help="an environment variable for the program (repeatable); locally "
                            "too")
    train.add_argument("--python", metavar="COMMAND", default="python",
                       help="with --address: the Python command that runs SCRIPT on the "
                            "cluster (default: python, as found on the head node's PATH)")
    train.add_argument("--exclude", metavar="PATTERN", action="append", default=[],
                       help="with --address: a gitignore-style pattern left out of the "
                            "uploaded working directory (repeatable)")
    train.add_argument("--num-cpus", type=float, metavar="N",
                       help="with --address: CPUs reserved for the job's driver")
    train.add_argument("--num-gpus", type=float, metavar="N",
                       help="with --address: GPUs reserved for the job's driver")
    train.add_argument("--submission-id", metavar="ID",
                       help="with --address: the job's id (default: one Ray makes up)")
    train.add_argument("--no-wait", action="store_true",
                       help="with --address: print the submission id and return without "
                            "streaming the logs")
    train.set_defaults(handler=_cmd_train)

    cluster = commands.add_parser(
        "cluster", help="start, stop or inspect a Ray cluster (Ray's cluster launcher)",
        description="Wraps Ray's cluster launcher: `ray up`, `ray down`, `ray exec ... ray "
                    "status`.",
        epilog=_CLUSTER_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    cluster.add_argument("action", choices=["up", "down", "status"],
                         help="up: start or update; down: stop; status: show the nodes")
    cluster.add_argument("config", metavar="CONFIG",
                         help="a cluster YAML file, or local / aws-cpu / aws-gpu")
    cluster.add_argument("-y", "--yes", action="store_true",
                         help="up/down: do not ask for confirmation")
    cluster.add_argument("-n", "--cluster-name", metavar="NAME",
                         help="override the config's cluster_name")
    cluster.add_argument("--head-ip", action="store_true",
                         help="status: only print the head node's IP (`ray get-head-ip`)")
    cluster.set_defaults(handler=_cmd_cluster)

    serve = commands.add_parser(
        "serve", help="serve a model exported with dtf.saved_model.save over gRPC",
        description="Serve an exported model over gRPC: Predict and a health check.",
        epilog=_SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("model", metavar="MODEL", help="the exported model's directory")
    serve.add_argument("--host", default="127.0.0.1",
                       help="the address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    serve.add_argument("--port", type=int, default=8500, help="the port (default 8500; 0: any free port, named in the line printed at start)")
    serve.add_argument("--token", default=os.environ.get("DTF_SERVE_TOKEN"),
                       help="a token every request must carry (default: $DTF_SERVE_TOKEN; "
                            "none: no authentication)")
    serve.set_defaults(handler=_cmd_serve)

    info = commands.add_parser(
        "info", help="print versions, devices and the Ray cluster this installation sees",
        description="Print versions, devices and the Ray cluster.",
        epilog=_INFO_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    info.add_argument("--address", default=os.environ.get("RAY_ADDRESS"),
                      help="the Ray cluster to describe (default: $RAY_ADDRESS)")
    info.set_defaults(handler=_cmd_info)
    return parser


def main(argv=None) -> int:
    """Runs the `dtf` command with `argv` (default: sys.argv[1:]); returns its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except _UserError as error:
        print(f"dtf {args.command}: {error}", file=sys.stderr)
        return error.status


class _UserError(Exception):
    """A mistake the user can fix: printed without a traceback."""

    def __init__(self, message, status=EXIT_USAGE):
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------- dtf train


def _parse_env(pairs) -> dict:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise _UserError(f"--env takes NAME=VALUE, got {pair!r}.")
        env[name] = value
    return env


def _cmd_train(args) -> int:
    if not os.path.isfile(args.script):
        raise _UserError(f"no such script: {args.script!r} (looked in {os.getcwd()}).")
    env = _parse_env(args.env)
    if args.address:
        return _train_on_ray(args, env)
    remote_only = [flag for flag, value in (
        ("--pip", args.pip), ("--exclude", args.exclude), ("--num-cpus", args.num_cpus),
        ("--num-gpus", args.num_gpus), ("--submission-id", args.submission_id),
        ("--no-wait", args.no_wait), ("--python", args.python != "python"))
        if value not in (None, False, [])]
    if remote_only:
        raise _UserError(f"{', '.join(remote_only)} only apply to a Ray job: add --address "
                         "URL, or drop them to run locally.")
    command = [sys.executable, args.script, *args.script_args]
    try:
        return subprocess.call(command, env={**os.environ, **env})
    except KeyboardInterrupt:
        return EXIT_JOB_STOPPED


def _job_address(address: str) -> str:
    # JobSubmissionClient wants the dashboard's HTTP address; users often type host:port.
    if "://" not in address:
        return f"http://{address}"
    return address


def _train_on_ray(args, env) -> int:
    try:
        from ray.job_submission import JobStatus, JobSubmissionClient
    except ImportError as error:
        raise _UserError(f"submitting a Ray job needs Ray's job client ({error}); install it "
                         "with: pip install \"ray[default]\"", EXIT_MISSING_TOOL) from error

    working_dir = os.path.abspath(args.working_dir)
    if not os.path.isdir(working_dir):
        raise _UserError(f"--working-dir {args.working_dir!r} is not a directory.")
    script = os.path.abspath(args.script)
    relative = os.path.relpath(script, working_dir)
    if relative.startswith(os.pardir + os.sep) or os.path.isabs(relative):
        raise _UserError(f"{args.script!r} lies outside the working directory {working_dir} "
                         "that is uploaded to the cluster: run from the script's project, or "
                         "pass --working-dir.")
    runtime_env = {"working_dir": working_dir,
                   "excludes": [*DEFAULT_EXCLUDES, *args.exclude]}
    if args.pip:
        runtime_env["pip"] = list(args.pip)
    if env:
        runtime_env["env_vars"] = env
    entrypoint = shlex.join([args.python, relative.replace(os.sep, "/"), *args.script_args])

    address = _job_address(args.address)
    try:
        client = JobSubmissionClient(address)
    except Exception as error:  # ConnectionError, or Ray's RuntimeError for a bad address
        hint = ("" if "uthentication" in str(error) else
                " Is the cluster up, is this its dashboard address (port 8265 by default), and "
                "does the head node have ray[default]?")
        raise _UserError(f"cannot reach the Ray job server at {address}: {error}.{hint}",
                         EXIT_JOB_FAILED) from error
    submit = {"entrypoint": entrypoint, "runtime_env": runtime_env,
              "submission_id": args.submission_id}
    if args.num_cpus is not None:
        submit["entrypoint_num_cpus"] = args.num_cpus
    if args.num_gpus is not None:
        submit["entrypoint_num_gpus"] = args.num_gpus
    try:
        job_id = _submit_with_retry(client, submit)
    except RuntimeError as error:  # the job server's answer: a bad runtime_env, a taken id...
        raise _UserError(f"the Ray job server at {address} refused the job: "
                         f"{_server_reason(error)}", EXIT_JOB_FAILED) from error
    print(f"dtf train: submitted {entrypoint!r} to {address} as job {job_id}",
          file=sys.stderr, flush=True)
    if args.no_wait:
        print(job_id)
        return 0
    try:
        _stream_logs(client, job_id)
        while True:  # the log stream can close a moment before the status is final
            info = client.get_job_info(job_id)
            if info.status.is_terminal():
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        print(f"\ndtf train: stopping job {job_id}", file=sys.stderr, flush=True)
        client.stop_job(job_id)
        return EXIT_JOB_STOPPED
    # Ray appends the job's last logs to a failure message: they were streamed already.
    message = info.message.splitlines()[0].split(", last available logs")[0] if info.message else ""
    message = f" ({message})" if message else ""
    print(f"dtf train: job {job_id} {info.status.value}{message}", file=sys.stderr, flush=True)
    if info.status == JobStatus.SUCCEEDED:
        return 0
    if info.status == JobStatus.STOPPED:
        return EXIT_JOB_STOPPED
    return info.driver_exit_code or EXIT_JOB_FAILED


def _server_reason(error) -> str:
    """The reason in a job server's error: its last line when the server sent its traceback."""
    message = str(error)
    if "Traceback (most recent call last)" not in message:
        return message
    lines = [line.strip() for line in message.splitlines() if line.strip(" .")]
    return lines[-1] if lines else message


def _submit_with_retry(client, submit, timeout_s=60.0):
    """Submits the job; retries while the job server says no agent can take it yet (the
    minute after a head node starts, before its dashboard agent registered)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return client.submit_job(**submit)
        except RuntimeError as error:
            if "No available agent" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def _stream_logs(client, job_id) -> None:
    """Prints the job's logs as they come until it ends: over the job server's websocket when
    aiohttp is installed, else by polling (printing only what is new)."""
    if importlib.util.find_spec("aiohttp") is not None:
        import asyncio

        async def tail():
            async for chunk in client.tail_job_logs(job_id):
                sys.stdout.write(chunk)
                sys.stdout.flush()

        asyncio.run(tail())
        return
    printed = 0
    while True:
        status = client.get_job_status(job_id)
        logs = client.get_job_logs(job_id)
        sys.stdout.write(logs[printed:])
        sys.stdout.flush()
        printed = len(logs)
        if status.is_terminal():
            return
        time.sleep(1.0)


# ---------------------------------------------------------------- dtf cluster


def find_ray_cli():
    """The path of the `ray` command: on PATH, else beside this Python (a virtualenv's bin/
    need not be on PATH); None when Ray's CLI is not installed."""
    found = shutil.which("ray")
    if found:
        return found
    return shutil.which("ray", path=os.path.dirname(sys.executable))


def resolve_config(config: str) -> str:
    """`config` as a path: a file, or the name of a config shipped in cluster/configs/."""
    if os.path.isfile(config):
        return config
    for candidate in (config, f"{config}.yaml"):
        shipped = os.path.join(CONFIGS_DIR, candidate)
        if os.path.sep not in config and os.path.isfile(shipped):
            return shipped
    shipped_names = sorted(name[:-5] for name in os.listdir(CONFIGS_DIR)
                           if name.endswith(".yaml")) if os.path.isdir(CONFIGS_DIR) else []
    raise _UserError(f"no cluster config {config!r}: give a Ray cluster YAML file or one of "
                     f"the configs shipped with dtf: {', '.join(shipped_names) or 'none'}.")


def cluster_command(ray_cli, action, config, yes=False, cluster_name=None, head_ip=False):
    """The `ray` command line that `dtf cluster ACTION CONFIG` runs."""
    name = ["--cluster-name", cluster_name] if cluster_name else []
    if action == "up":
        return [ray_cli, "up", config, *(["--yes"] if yes else []), *name]
    if action == "down":
        return [ray_cli, "down", config, *(["--yes"] if yes else []), *name]
    if head_ip:
        return [ray_cli, "get-head-ip", config, *name]
    return [ray_cli, "exec", config, "ray status", *name]


def _cmd_cluster(args) -> int:
    if args.head_ip and args.action != "status":
        raise _UserError("--head-ip only applies to `dtf cluster status`.")
    config = resolve_config(args.config)
    ray_cli = find_ray_cli()
    if ray_cli is None:
        raise _UserError("the `ray` command is not installed (it is Ray's cluster launcher): "
                         "pip install \"ray[default]\", then run this again.", EXIT_MISSING_TOOL)
    command = cluster_command(ray_cli, args.action, config, yes=args.yes,
                              cluster_name=args.cluster_name, head_ip=args.head_ip)
    print("dtf cluster: " + shlex.join(command), file=sys.stderr, flush=True)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return EXIT_JOB_STOPPED


# ---------------------------------------------------------------- dtf serve


def _load_serve():
    """`dtf.serving.server.serve`, imported only when `dtf serve` runs; None where this dtf
    has no serving module."""
    try:
        module = importlib.import_module("dtf.serving.server")
    except ModuleNotFoundError as error:
        if error.name in ("dtf.serving", "dtf.serving.server"):
            return None
        raise  # a dependency of the server is missing: its own message says which
    return getattr(module, "serve", None)


def _cmd_serve(args) -> int:
    serve = _load_serve()
    if serve is None:
        raise _UserError("serving is unavailable in this dtf installation: it has no "
                         "dtf.serving.server.serve. Upgrade dtf to a version with model "
                         "serving.", EXIT_MISSING_TOOL)
    if not os.path.exists(args.model):
        raise _UserError(f"no exported model at {args.model!r}: give the directory written "
                         "by dtf.saved_model.save(model, DIR).")
    if not 0 <= args.port <= 65535:
        raise _UserError(f"--port must be in 0..65535, got {args.port}.")
    try:
        serve(args.model, args.host, args.port, args.token)
    except KeyboardInterrupt:
        pass
    return 0


# ---------------------------------------------------------------- dtf info


def _dtf_version() -> str:
    import dtf

    return getattr(dtf, "__version__", "unknown")


def _distribution_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def info_lines(address=None) -> tuple[list[str], int]:
    """The lines `dtf info` prints and its exit status."""
    import numpy

    import dtf

    lines = [f"dtf      {_dtf_version()} ({os.path.dirname(dtf.__file__)})",
             f"python   {platform.python_version()} ({sys.executable})",
             f"numpy    {numpy.__version__}"]
    for label, names in (("ray", ("ray",)), ("grpc", ("grpcio",)),
                         ("cupy", ("cupy", "cupy-cuda12x", "cupy-cuda13x", "cupy-cuda11x"))):
        version = next(filter(None, map(_distribution_version, names)), None)
        lines.append(f"{label:<8} {version or 'not installed'}")
    devices = dtf.config.list_physical_devices()
    lines.append("devices  " + (", ".join(d.name for d in devices) or "none"))
    if not address:
        lines.append("ray cluster: none (no --address and RAY_ADDRESS is not set)")
        return lines, 0
    try:
        lines.extend(_ray_cluster_lines(address))
    except Exception as error:  # noqa: BLE001 - any failure to connect is reported, not raised
        lines.append(f"ray cluster at {address}: unreachable ({type(error).__name__}: "
                     f"{error})")
        return lines, 1
    return lines, 0


def _check_reachable(address, timeout_s=5.0) -> None:
    """Fails fast on a host:port nothing listens on: `ray.init` would retry for minutes."""
    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return  # "auto", ray:// client addresses: left to Ray
    with socket.create_connection((host, int(port)), timeout=timeout_s):
        pass


def _ray_cluster_lines(address) -> list[str]:
    import logging

    import ray

    _check_reachable(address)
    ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False,
             namespace="dtf-info")
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        total = ray.cluster_resources()
        free = ray.available_resources()
        context = ray.get_runtime_context()
        lines = [f"ray cluster at {address}: {len(nodes)} node(s) alive, gcs "
                 + context.gcs_address]
        for key in ("CPU", "GPU", "memory"):
            if key in total:
                scale, unit = (2 ** 30, " GiB") if key == "memory" else (1, "")
                lines.append(f"  {key:<7}{free.get(key, 0) / scale:g}{unit} free of "
                             f"{total[key] / scale:g}{unit}")
        for node in nodes:
            lines.append(f"  node {node['NodeManagerAddress']}: "
                         f"{node['Resources'].get('CPU', 0):g} CPU, "
                         f"{node['Resources'].get('GPU', 0):g} GPU")
        return lines
    finally:
        ray.shutdown()


def _cmd_info(args) -> int:
    lines, status = info_lines(args.address)
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
