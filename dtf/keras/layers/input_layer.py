"""`keras.Input` and `InputLayer`: the symbolic tensors a Functional model starts from.

Example:
    >>> inputs = keras.Input(shape=(16,), dtype="float32")
    >>> inputs.shape
    TensorShape([None, 16])
"""

from __future__ import annotations

from dtf import dtypes
from dtf.compile.symbolic import SymbolicTensor
from dtf.keras.layers.layer import Layer, LayerNode, floatx

__all__ = ["Input", "InputLayer"]


class InputLayer(Layer):
    """The layer that owns a model input; calling it is an error (it has no computation).

    Args:
        shape: the shape of one sample (no batch dim).
        batch_size: a fixed batch size, or None.
        dtype: the input's dtype (default float32).
        batch_shape: the full shape, batch dim included (instead of `shape`).
        input_tensor: an existing symbolic tensor to use as the input.
        name: the layer's name (default `input_layer`, `input_layer_1`, ...).
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, name=None, input_shape=None, batch_input_shape=None,
                 ragged=None, optional=False, **kwargs):
        if optional:
            raise ValueError("Optional inputs (InputLayer(optional=True)) are not supported: "
                             "pass every input.")
        if input_shape is not None and shape is None:
            shape = input_shape
        if batch_input_shape is not None and batch_shape is None:
            batch_shape = batch_input_shape
        super().__init__(name=name, dtype=dtype, **kwargs)
        if sparse or ragged:
            raise ValueError("Sparse and ragged inputs are not supported by dtf's Keras yet; "
                             "use a dense input.")
        if shape is not None and batch_shape is not None:
            raise ValueError("Give either `shape` or `batch_shape` to an Input, not both.")
        if input_tensor is not None:
            batch_shape = tuple(input_tensor.shape.dims)
        elif batch_shape is None:
            if shape is None:
                raise ValueError("An Input needs its `shape` (of one sample, without the batch "
                                 "dim), e.g. keras.Input(shape=(784,)).")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        self._batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self._input_dtype = dtypes.as_dtype(dtype or floatx()).name
        self.built = True
        tensor = input_tensor if input_tensor is not None else SymbolicTensor(
            self._batch_shape, self._input_dtype, name=self.name)
        node = LayerNode(self, (), {}, tensor)
        tensor._keras_history = (node, 0)
        self._inbound_nodes.append(node)
        self._tensor = tensor

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def output(self):
        return self._tensor

    @property
    def dtype(self):
        return self._input_dtype

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {"batch_shape": self._batch_shape, "dtype": self._input_dtype,
                "sparse": False, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, ragged=None):
    """A symbolic input tensor for the Functional API (`keras.Input`).

    Args:
        shape: the shape of one sample, without the batch dim: `(784,)`.
        batch_size: an optional fixed batch size.
        dtype: the data type (default float32).
        batch_shape: the full shape instead of `shape`.
        name: the input's name (unique in a model).
        tensor: an existing symbolic tensor to wrap.
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, input_tensor=tensor, name=name, ragged=ragged)
    return layer.output
