"""`dtf.distribute`: training across machines, as `tf.distribute`.

`ParameterServerStrategy` puts Variables on parameter-server actors and computes gradients on
worker actors (on Ray, or in one process with `cluster="local"`); `coordinator` holds
`ClusterCoordinator` for custom training loops; `experimental.partitioners` splits large
Variables across parameter servers. The runtime behind it is `dtf.cluster`.
"""

from types import SimpleNamespace as _Namespace

from dtf.distribute import coordinator, partitioners
from dtf.distribute.distribute_lib import (
    ReduceOp,
    get_strategy,
    has_strategy,
    in_cross_replica_context,
)
from dtf.distribute.parameter_server_strategy import ParameterServerStrategy

experimental = _Namespace(
    partitioners=partitioners,
    ParameterServerStrategy=ParameterServerStrategy,
    coordinator=coordinator,
)

__all__ = [
    "ParameterServerStrategy",
    "ReduceOp",
    "coordinator",
    "experimental",
    "get_strategy",
    "has_strategy",
    "in_cross_replica_context",
]
