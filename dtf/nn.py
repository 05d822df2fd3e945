"""`dtf.nn`: activations, softmax, losses, dropout, normalisation (re-exports)."""

from dtf.ops.conv_ops import *  # conv1d/2d/3d, convolution, conv*_transpose, depthwise, separable
from dtf.ops.nn_ops import *
from dtf.ops.pool_ops import *  # max_pool*, avg_pool*, pool
from dtf.ops.sort_ops import top_k  # noqa: F401
