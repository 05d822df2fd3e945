"""`keras.layers.Embedding`: integer indices to dense vectors.

Example:
    >>> emb = keras.layers.Embedding(1000, 64, mask_zero=True)
    >>> emb(dtf.constant([[4, 20, 0]])).shape
    TensorShape([1, 3, 64])
"""

from __future__ import annotations

from dtf import dtypes
from dtf.keras.layers.layer import Layer
from dtf.keras.layers.rnn_masking import MaskPropagation
from dtf.ops import creation_ops, math_ops, nn_ops

__all__ = ["Embedding"]


def _serialize(obj):
    from dtf.keras.saving import serialization

    return serialization.serialize_keras_object(obj)


class Embedding(MaskPropagation, Layer):
    """Turns indices into rows of a trainable `(input_dim, output_dim)` table: `[[4], [20]]` ->
    `[[0.25, 0.1], [0.6, -0.2]]`.

    Args:
        input_dim: the vocabulary size (largest index + 1).
        output_dim: the size of each vector.
        embeddings_initializer: default "uniform" (RandomUniform(-0.05, 0.05)).
        embeddings_regularizer, embeddings_constraint, activity_regularizer: as Dense's.
        mask_zero: index 0 is padding: the layer's output mask is `inputs != 0`, which the
            recurrent layers after it skip (then index 0 cannot be a real token:
            `input_dim` should be the vocabulary size + 1).
        weights: optional initial table (a list of one array), as Keras 2.
        input_length: Keras 2's fixed sequence length; gives the input shape.

    Input: integer indices of any shape (floats are cast to int32). Output: the input's shape
    plus `(output_dim,)`.
    """

    _makes_masks = True

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, input_length=None, activity_regularizer=None, **kwargs):
        from dtf.keras import constraints, initializers, regularizers

        kwargs.pop("sparse", None)
        kwargs.pop("lora_rank", None)
        if input_length is not None and "input_shape" not in kwargs and \
                "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Both `input_dim` and `output_dim` should be positive, "
                                 f"Received {arg}={value!r}")
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.input_length = input_length
        self._initial_weights = weights
        self._autocast = False  # indices stay integers

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          name="embeddings",
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None
        self.built = True

    def call(self, inputs):
        if inputs.dtype not in (dtypes.int32, dtypes.int64):
            inputs = math_ops.cast(inputs, dtypes.int32)
        outputs = nn_ops.embedding_lookup(self.embeddings, inputs)
        if outputs.dtype.name != self.dtype:
            outputs = math_ops.cast(outputs, self.dtype)
        return outputs

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        if not getattr(inputs, "_is_symbolic", False):
            inputs = creation_ops.convert_to_tensor(inputs)
        return math_ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": _serialize(self.embeddings_initializer),
            "embeddings_regularizer": _serialize(self.embeddings_regularizer),
            "activity_regularizer": _serialize(self.activity_regularizer),
            "embeddings_constraint": _serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
        })
        return config
