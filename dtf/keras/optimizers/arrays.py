"""What `Optimizer` makes of its inputs: gradients as arrays of their variables' dtype and
shape (checked before anything changes), learning rates as NumPy scalars.

Example:
    >>> _as_lr_scalar(0.1)
    np.float64(0.1)
"""

from __future__ import annotations

import numpy as np

from dtf import backend as _backend
from dtf.tensor import Tensor

_backend_of = _backend.backend_of


def _variable_label(variable) -> str:
    return getattr(variable, "path", None) or variable.name


def _gradient_array(grad, variable, optimizer_name):
    """The gradient as an array of the variable's dtype and shape; raises (changing nothing)
    when it cannot be one."""
    value = variable._value
    if type(grad) is Tensor or isinstance(grad, Tensor):
        if getattr(grad, "_is_symbolic", False):
            raise TypeError(
                f"{optimizer_name}: the gradient for variable '{_variable_label(variable)}' is "
                "a symbolic tensor; optimizers apply concrete gradients (Tensors, Variables or "
                "NumPy arrays) computed with a GradientTape.")
        array = grad._value
    elif type(grad) is np.ndarray:
        array = grad
    elif getattr(grad, "_is_dtf_variable", False):
        array = grad._value
    elif hasattr(grad, "indices") and hasattr(grad, "values") and hasattr(grad, "dense_shape"):
        array = _densify(grad, value)
    else:
        try:
            array = _backend_of(value).xp.asarray(grad, dtype=value.dtype)
        except (TypeError, ValueError) as e:
            raise TypeError(
                f"{optimizer_name}: cannot use {grad!r} ({type(grad).__name__}) as the gradient "
                f"for variable '{_variable_label(variable)}': {e}. Pass a Tensor or a NumPy "
                "array.") from None
    if array.dtype != value.dtype:
        array = array.astype(value.dtype)  # Keras casts gradients to the variable's dtype
    if array.shape != value.shape:
        raise ValueError(
            f"{optimizer_name}: the gradient for variable '{_variable_label(variable)}' has "
            f"shape {list(array.shape)}, but the variable has shape {list(value.shape)}. Each "
            "gradient must have exactly its variable's shape (compute it with "
            "tape.gradient(loss, variables)); no variable was updated.")
    return array


def _densify(slices, value):
    """An IndexedSlices-like gradient (`values`, `indices`, `dense_shape`) as a dense array."""
    xp = _backend_of(value).xp
    values = xp.asarray(np.asarray(slices.values), dtype=value.dtype)
    indices = xp.asarray(np.asarray(slices.indices))
    dense = xp.zeros(tuple(int(d) for d in np.asarray(slices.dense_shape)), dtype=value.dtype)
    xp.add.at(dense, indices, values)  # repeated indices add up, as tf.convert_to_tensor does
    return dense


def _as_lr_scalar(value):
    """A learning rate (Python number, Tensor, Variable, array) as a NumPy scalar."""
    if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
        value = value._value
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype.type(value)
    # Python numbers stay exact until cast to each variable's dtype (as Keras casts them)
    return np.float64(value)
