"""A real local Ray cluster, started once per test process by the tests that need it."""

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False,
                 namespace="dtf-tests")
    yield ray
    ray.shutdown()
