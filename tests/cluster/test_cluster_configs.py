"""The Ray cluster-launcher configs in cluster/configs/ validate against the schema that the
installed Ray ships for `ray up` (ray/autoscaler/ray-schema.json), and pass Ray's own
`validate_config` after `prepare_config` fills them out as `ray up` does; their Ray pin, images
and setup commands agree with the installed Ray and the Kubernetes images."""

import copy
import json
import os
import re

import jsonschema
import pytest
import ray
import yaml
from dtf.cluster.cli import CONFIGS_DIR

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = ["local", "aws-cpu", "aws-gpu"]
SCHEMA_PATH = os.path.join(os.path.dirname(ray.__file__), "autoscaler", "ray-schema.json")


def load(name):
    with open(os.path.join(CONFIGS_DIR, f"{name}.yaml")) as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def schema():
    with open(SCHEMA_PATH) as f:
        return json.load(f)


def test_the_shipped_configs_are_these():
    assert sorted(n[:-5] for n in os.listdir(CONFIGS_DIR) if n.endswith(".yaml")) == \
        sorted(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_validates_against_rays_schema(name, schema):
    jsonschema.validate(load(name), schema)


def test_the_schema_catches_mistakes(schema):
    # The check above means something: the schema refuses unknown keys and bad types.
    config = load("aws-cpu")
    config["max_worker"] = 3
    with pytest.raises(jsonschema.ValidationError, match="max_worker"):
        jsonschema.validate(config, schema)
    config = load("local")
    config["provider"]["worker_ips"] = "192.0.2.11"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, schema)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_passes_rays_validate_config_once_prepared(name):
    util = pytest.importorskip("ray.autoscaler._private.util",
                               reason="this Ray does not expose validate_config")
    # What `ray up` does before launching anything: fill out defaults, then validate.
    prepared = util.prepare_config(copy.deepcopy(load(name)))
    util.validate_config(prepared)
    assert prepared["head_node_type"] in prepared["available_node_types"]


def _ray_pins(config):
    commands = " ".join(config.get("setup_commands", []))
    return re.findall(r"ray\[default\]==([0-9.]+)", commands)


def test_local_config_installs_the_installed_ray_and_dtf():
    config = load("local")
    assert config["provider"]["type"] == "local"
    assert config["provider"]["head_ip"] and config["provider"]["worker_ips"]
    assert _ray_pins(config) == [ray.__version__]
    assert any(c.endswith("install --quiet ~/dtf") for c in config["setup_commands"])
    assert config["file_mounts"] == {"~/dtf": "."}


def _k8s_images():
    with open(os.path.join(ROOT, "k8s", "raycluster.yaml")) as f:
        cluster = yaml.safe_load(f)
    images = {"head": cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
              ["image"]}
    for group in cluster["spec"]["workerGroupSpecs"]:
        images[group["groupName"]] = group["template"]["spec"]["containers"][0]["image"]
    return images


def test_aws_configs_run_the_kubernetes_images():
    images = _k8s_images()
    cpu, gpu = images["head"], next(v for k, v in images.items() if "gpu" in k)
    assert ray.__version__ in cpu and ray.__version__ in gpu
    assert load("aws-cpu")["docker"]["image"] == cpu
    config = load("aws-gpu")
    assert config["docker"]["image"] == cpu
    gpu_types = {name: t for name, t in config["available_node_types"].items()
                 if t.get("resources", {}).get("GPU")}
    assert gpu_types, "aws-gpu has no GPU node type"
    for node_type in gpu_types.values():
        assert node_type["docker"]["worker_image"] == gpu
        assert node_type["node_config"]["InstanceType"].startswith(("g", "p"))


@pytest.mark.parametrize("name", ["aws-cpu", "aws-gpu"])
def test_aws_configs_install_dtf_from_the_checkout(name):
    config = load(name)
    assert config["provider"]["type"] == "aws"
    assert config["file_mounts"] == {"~/dtf": "."}
    assert "pip install --quiet --no-deps --force-reinstall ~/dtf" in config["setup_commands"]
    starts = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-port=8265" in starts and "--dashboard-host=0.0.0.0" in starts
