"""dtf: TensorFlow's and Keras' API on NumPy and CuPy, with parameter-server training on Ray.

This module is the `tf`-like namespace: it re-exports, it holds no logic.

Example:
    >>> import dtf as tf
    >>> tf.constant([[5, 2], [1, 3]]).shape
    TensorShape([2, 2])
"""

__version__ = "0.1.0"

from dtf import (  # noqa: F401  # noqa: F401
    bitwise,
    config,
    distribute,
    dtypes,
    errors,
    linalg,
    math,
    nest,
    nn,
    random,
)
from dtf.autodiff.tape import GradientTape, UnconnectedGradients, custom_gradient  # noqa: F401
from dtf.backend import device  # noqa: F401
from dtf.compile.context import executing_eagerly, init_scope  # noqa: F401
from dtf.compile.function import function  # noqa: F401
from dtf.compile.state_ops import tf_print as print  # noqa: F401
from dtf.dtypes import *
from dtf.dtypes import DType, as_dtype  # noqa: F401
from dtf.module import Module  # noqa: F401
from dtf.ops import fused_ops as _fused_ops  # noqa: F401  (registers the fused primitives)
from dtf.ops import operators as _operators
from dtf.ops.array_ops import *
from dtf.ops.control_flow import case, cond, switch_case, while_loop  # noqa: F401
from dtf.ops.creation_ops import *
from dtf.ops.indexing_ops import *
from dtf.ops.linalg_ops import *
from dtf.ops.math_ops import *
from dtf.ops.nn_ops import stop_gradient  # noqa: F401
from dtf.ops.py_func_ops import numpy_function, py_function  # noqa: F401
from dtf.ops.reduce_ops import *
from dtf.ops.sort_ops import *
from dtf.sparse.sparse_tensor import SparseTensor  # noqa: F401
from dtf.tensor import Tensor, is_tensor  # noqa: F401
from dtf.tensor_array import TensorArray  # noqa: F401
from dtf.tensor_shape import TensorShape  # noqa: F401
from dtf.tensor_spec import TensorSpec  # noqa: F401
from dtf.variables import Variable, VariableAggregation, VariableSynchronization  # noqa: F401

_operators.install_all()

newaxis = None

# Keras, the data pipeline and the TF-style initializer aliases import on first use, so that
# `import dtf` stays light; `from dtf import keras` imports the package directly.
_LAZY_MODULES = ("keras", "data", "summary", "train", "queue", "sparse", "sets", "ragged",
                 "saved_model", "strings", "serving")
_INITIALIZER_ALIASES = {
    "constant_initializer": "Constant",
    "ones_initializer": "Ones",
    "random_normal_initializer": "RandomNormal",
    "random_uniform_initializer": "RandomUniform",
    "truncated_normal_initializer": "TruncatedNormal",
    "zeros_initializer": "Zeros",
}


def __getattr__(name):
    import importlib

    if name == "RaggedTensorSpec":
        from dtf.ragged import RaggedTensorSpec

        globals()[name] = RaggedTensorSpec
        return RaggedTensorSpec
    if name == "SparseTensorSpec":
        from dtf.sparse import SparseTensorSpec

        globals()[name] = SparseTensorSpec
        return SparseTensorSpec
    if name == "RaggedTensor":
        from dtf.ragged import RaggedTensor

        globals()[name] = RaggedTensor
        return RaggedTensor
    if name in _LAZY_MODULES:
        module = importlib.import_module(f"dtf.{name}")
        globals()[name] = module
        return module
    if name in _INITIALIZER_ALIASES:
        from dtf.keras import initializers

        cls = getattr(initializers, _INITIALIZER_ALIASES[name])
        globals()[name] = cls
        return cls
    raise AttributeError(f"module 'dtf' has no attribute {name!r}")
