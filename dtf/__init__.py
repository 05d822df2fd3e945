"""dtf: TensorFlow's and Keras' API on NumPy and CuPy, with parameter-server training on Ray.

This module is the `tf`-like namespace: it re-exports, it holds no logic.

Example:
    >>> import dtf as tf
    >>> tf.constant([[5, 2], [1, 3]]).shape
    TensorShape([2, 2])
"""

__version__ = "0.1.0"

from dtf import dtypes, errors, nest  # noqa: F401
from dtf.dtypes import *  # noqa: F401,F403
from dtf.dtypes import DType, as_dtype  # noqa: F401
from dtf.tensor import Tensor, is_tensor  # noqa: F401
from dtf.tensor_shape import TensorShape  # noqa: F401
from dtf.ops.creation_ops import *  # noqa: F401,F403
from dtf.ops.math_ops import *  # noqa: F401,F403
from dtf.ops.reduce_ops import *  # noqa: F401,F403
from dtf.ops.array_ops import *  # noqa: F401,F403
from dtf.ops.linalg_ops import *  # noqa: F401,F403
from dtf.ops.nn_ops import stop_gradient  # noqa: F401
from dtf.variables import Variable, VariableAggregation, VariableSynchronization  # noqa: F401
from dtf.autodiff.tape import GradientTape, UnconnectedGradients, custom_gradient  # noqa: F401
from dtf.backend import device  # noqa: F401
from dtf import config  # noqa: F401
from dtf import bitwise, linalg, math, nn, random  # noqa: F401

from dtf.ops import operators as _operators

_operators.install_all()

newaxis = None
