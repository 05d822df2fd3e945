"""The Kubernetes manifests in k8s/, validated offline: KubeRay kinds against the CRD schemas
kept in k8s/schemas/ (strictly: unknown fields are errors, as with `kubectl apply
--validate=strict`), the pod templates and core kinds against Kubernetes' own schemas
(kubernetes-validate), the kustomization rendered by `kubectl kustomize` where kubectl is
installed; and the facts that make the cluster work: one Ray version everywhere, GPU requests
equal to limits, the RayJob's cluster equal to the RayCluster, images built as the manifests
name them."""

import copy
import os
import re
import shutil
import subprocess
import sys

import jsonschema
import pytest
import ray
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K8S = os.path.join(ROOT, "k8s")
MANIFESTS = ["raycluster.yaml", "rayjob.yaml", "namespace.yaml"]
CRDS = {"RayCluster": "ray.io_rayclusters.yaml", "RayJob": "ray.io_rayjobs.yaml"}
# The oldest and newest Kubernetes whose schemas kubernetes-validate ships, within reason.
K8S_VERSIONS = ["1.28.0", "1.37.0"]

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="pip install kubernetes-validate (in dtf's dev extra)")


def load(name):
    with open(os.path.join(K8S, name)) as f:
        return yaml.safe_load(f)


def read(name):
    with open(os.path.join(K8S, name)) as f:
        return f.read()


def crd_schema(kind):
    crd = load(os.path.join("schemas", CRDS[kind]))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    assert version["storage"] and version["served"]
    return crd["spec"]["names"]["kind"], version["schema"]["openAPIV3Schema"]


def strict(schema):
    """A JSON schema from a CRD's structural schema that refuses unknown fields (Kubernetes
    prunes or, with strict field validation, rejects them)."""
    schema = copy.deepcopy(schema)

    def visit(node):
        if not isinstance(node, dict):
            return
        if "properties" in node and "additionalProperties" not in node and \
                not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
        for key in ("properties",):
            for child in node.get(key, {}).values():
                visit(child)
        for key in ("items", "additionalProperties"):
            visit(node.get(key))
        if node.get("nullable"):
            node["type"] = [node["type"], "null"]

    visit(schema)
    return schema


def elided_parts(schema, data, path="$"):
    """(path, what, value) for every part of `data` under a subtree elided from the kept CRD
    schema (marked `x-dtf-elided`, see k8s/schemas/README.md)."""
    if "x-dtf-elided" in schema:
        yield path, schema["x-dtf-elided"], data
        return
    if isinstance(data, dict):
        for key, value in data.items():
            child = schema.get("properties", {}).get(key)
            if child is None and isinstance(schema.get("additionalProperties"), dict):
                child = schema["additionalProperties"]
            if child is not None:
                yield from elided_parts(child, value, f"{path}.{key}")
    elif isinstance(data, list) and "items" in schema:
        for i, value in enumerate(data):
            yield from elided_parts(schema["items"], value, f"{path}[{i}]")


def validate_core(resource, version):
    kubernetes_validate.validate(resource, version, strict=True)


CORE_WRAPPERS = {
    # PodTemplate (core/v1) holds exactly a PodTemplateSpec under `template`.
    "io.k8s.api.core.v1.PodTemplateSpec": lambda value: {
        "apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "template"},
        "template": value},
    "io.k8s.api.core.v1.Service": lambda value: {"apiVersion": "v1", "kind": "Service", **value},
}


def validate_manifest(doc, version=K8S_VERSIONS[-1]):
    """Validates one manifest offline; raises on any error."""
    if doc["apiVersion"] != "ray.io/v1":
        validate_core(doc, version)
        return
    kind, schema = crd_schema(doc["kind"])
    assert doc["kind"] == kind
    jsonschema.validate(doc, strict(schema))
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
    for path, what, value in elided_parts(schema, doc):
        if what not in CORE_WRAPPERS:
            raise AssertionError(f"{doc['kind']} sets {path}, a field left out of the kept "
                                 f"schema ({what}): keep its schema in k8s/schemas to use it")
        try:
            validate_core(CORE_WRAPPERS[what](value), version)
        except kubernetes_validate.ValidationError as error:
            raise AssertionError(f"{doc['kind']} {path}: {error}") from error


# ---------------------------------------------------------------- schemas


@pytest.mark.parametrize("name", MANIFESTS)
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifest_validates_offline(name, version):
    validate_manifest(load(name), version)


def test_every_pod_template_is_checked_against_kubernetes_schema():
    for name, count in (("raycluster.yaml", 3), ("rayjob.yaml", 3)):
        doc = load(name)
        _, schema = crd_schema(doc["kind"])
        parts = [p for p, what, _ in elided_parts(schema, doc)
                 if what == "io.k8s.api.core.v1.PodTemplateSpec"]
        assert len(parts) == count, parts


@pytest.mark.parametrize("mutate, error", [
    (lambda d: d["spec"].update(rayVersoin="2.0"), "rayVersoin"),
    (lambda d: d["spec"]["workerGroupSpecs"][0].pop("groupName"), "groupName"),
    (lambda d: d["spec"]["workerGroupSpecs"][0].update(replicas="two"), "two"),
    (lambda d: d["spec"]["headGroupSpec"]["rayStartParams"].update({"num-cpus": 0}),
     "0 is not of type 'string'"),
    (lambda d: d["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0].update(
        imagePullPolicy=None, imagee="x"), "imagee"),
    (lambda d: d["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0].pop("name"),
     "name"),
    (lambda d: d["spec"].update(autoscalerOptions={"idleTimeoutSeconds": 60}),
     "autoscalerOptions"),
])
def test_validation_catches_mistakes(mutate, error):
    doc = load("raycluster.yaml")
    mutate(doc)
    with pytest.raises((jsonschema.ValidationError, AssertionError), match=re.escape(error)):
        validate_manifest(doc)


def test_rayjob_schema_catches_a_missing_entrypoint():
    doc = load("rayjob.yaml")
    del doc["spec"]["entrypoint"]
    with pytest.raises(jsonschema.ValidationError, match="entrypoint"):
        validate_manifest(doc)


# ---------------------------------------------------------------- what makes the cluster work


def _ray_pin(dockerfile):
    (pin,) = re.findall(r"^ARG RAY_VERSION=(\S+)$", read(dockerfile), re.MULTILINE)
    return pin


def _major_minor(version):
    return tuple(int(p) for p in version.split(".")[:2])


def test_one_ray_version_everywhere():
    cluster, job = load("raycluster.yaml"), load("rayjob.yaml")
    ray_version = cluster["spec"]["rayVersion"]
    assert job["spec"]["rayClusterSpec"]["rayVersion"] == ray_version
    for dockerfile in ("Dockerfile.cpu", "Dockerfile.cuda"):
        assert _ray_pin(dockerfile) == ray_version, dockerfile
        assert '"ray[default]==${RAY_VERSION}"' in read(dockerfile)
    # The driver that submits jobs (`dtf train --address`) runs the installed Ray: same
    # major.minor as the cluster's (Ray's client/server compatibility rule).
    assert _major_minor(ray.__version__) == _major_minor(ray_version), (
        f"the installed Ray {ray.__version__} differs from k8s rayVersion {ray_version}: "
        "update k8s/*.yaml, the Dockerfiles' RAY_VERSION and cluster/configs together")


def _containers(cluster_spec):
    groups = [("head", cluster_spec["headGroupSpec"])] + [
        (g["groupName"], g) for g in cluster_spec["workerGroupSpecs"]]
    for name, group in groups:
        for container in group["template"]["spec"]["containers"]:
            yield name, container


def test_gpu_requests_equal_limits():
    gpu_groups = set()
    for doc, spec in ((load("raycluster.yaml"), None), (load("rayjob.yaml"), "rayClusterSpec")):
        cluster_spec = doc["spec"][spec] if spec else doc["spec"]
        for group, container in _containers(cluster_spec):
            resources = container.get("resources", {})
            requests, limits = resources.get("requests", {}), resources.get("limits", {})
            for key in set(requests) | set(limits):
                if "/" in key:  # extended resources (nvidia.com/gpu): no overcommit
                    assert requests.get(key) == limits.get(key), (group, key)
            if "nvidia.com/gpu" in limits:
                gpu_groups.add(group)
                assert int(limits["nvidia.com/gpu"]) >= 1
    assert gpu_groups == {"gpu"}


def test_images_match_their_dockerfiles():
    cluster = load("raycluster.yaml")
    ray_version = cluster["spec"]["rayVersion"]
    for group, container in _containers(cluster["spec"]):
        image = container["image"]
        flavour = "cuda12" if group == "gpu" else "cpu"
        assert image == f"dtf-ray:0.1.0-ray{ray_version}-{flavour}", (group, image)
        dockerfile = "Dockerfile.cuda" if flavour == "cuda12" else "Dockerfile.cpu"
        assert f"-t {image} ." in read(dockerfile)


def test_rayjob_runs_the_mnist_training_on_the_same_cluster():
    job = load("rayjob.yaml")
    assert job["spec"]["entrypoint"] == \
        "python scripts/examples/mnist_parameter_server.py --epochs 3"
    assert job["spec"]["rayClusterSpec"] == load("raycluster.yaml")["spec"]
    assert job["spec"]["shutdownAfterJobFinishes"] is True
    yaml.safe_load(job["spec"]["runtimeEnvYAML"])  # KubeRay parses it as YAML
    # The entrypoint's script is in the image (WORKDIR /opt/dtf, scripts/ copied) and takes
    # the flag the entrypoint passes.
    script = os.path.join(ROOT, "scripts", "examples", "mnist_parameter_server.py")
    result = subprocess.run([sys.executable, script, "--help"], check=False, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "--epochs" in result.stdout, result.stderr


@pytest.mark.parametrize("dockerfile", ["Dockerfile.cpu", "Dockerfile.cuda"])
def test_dockerfile_installs_dtf_from_the_checkout(dockerfile):
    text = read(dockerfile)
    assert re.search(r"^FROM \S+", text, re.MULTILINE)
    assert re.search(r"^WORKDIR /opt/dtf$", text, re.MULTILINE)
    for source in re.findall(r"^COPY (.+) \S+$", text, re.MULTILINE):
        for path in source.split():
            assert os.path.exists(os.path.join(ROOT, path.rstrip("/"))), (dockerfile, path)
    for needed in ("dtf/", "cluster/", "kernels/", "scripts/", "pyproject.toml", "setup.py"):
        assert re.search(rf"^COPY .*\b{re.escape(needed)}", text, re.MULTILINE), needed
    assert "wget" in text  # KubeRay's probes
    assert os.path.exists(os.path.join(K8S, f"{dockerfile}.dockerignore"))


def test_cuda_image_installs_the_cupy_extra_and_both_share_python():
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    cuda = read("Dockerfile.cuda")
    (extra,) = re.findall(r'pip install --no-cache-dir "\.\[(\w+)\]"', cuda)
    assert extra in extras and any(d.startswith("cupy") for d in extras[extra])
    assert re.search(r"^FROM nvidia/cuda:12\.\S+-ubuntu24\.04$", cuda, re.MULTILINE)
    # Ubuntu 24.04's python3 is 3.12: the CPU image must be on 3.12 too (one Python per cluster).
    assert re.search(r"^FROM python:3\.12-", read("Dockerfile.cpu"), re.MULTILINE)


# ---------------------------------------------------------------- kustomization


def test_kustomization_lists_existing_files_that_validate():
    kustomization = load("kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["resources"]
    for resource in kustomization["resources"]:
        path = os.path.join(K8S, resource)
        assert os.path.isfile(path), resource
        for doc in yaml.safe_load_all(read(resource)):
            validate_manifest(doc)
    images = {i["name"] for i in kustomization.get("images", [])}
    for _, container in _containers(load("raycluster.yaml")["spec"]):
        assert container["image"].split(":")[0] in images


def test_kustomization_renders_with_kubectl():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the kustomization is checked above without it")
    result = subprocess.run([kubectl, "kustomize", K8S], check=False, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert sorted(d["kind"] for d in docs) == ["Namespace", "RayJob"]
    for doc in docs:
        validate_manifest(doc)
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "dtf"
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "dtf"
