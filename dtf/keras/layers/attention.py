"""Attention layers: Attention (dot-product, Luong), AdditiveAttention (Bahdanau) and
MultiHeadAttention (Vaswani et al.), with Keras 3's weights, masks and options.

Example:
    >>> mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = dtf.ones((3, 5, 8))
    >>> mha(x, x).shape
    TensorShape([3, 5, 8])
"""

from __future__ import annotations

import math
import string

from dtf import dtypes
from dtf.keras.layers.layer import Layer
from dtf.keras.layers.rnn_masking import MaskPropagation, get_mask
from dtf.ops import (
    array_ops,
    creation_ops,
    linalg_ops,
    math_ops,
    nn_ops,
    reduce_ops,
)
from dtf.tensor import Tensor

__all__ = ["AdditiveAttention", "Attention", "MultiHeadAttention"]


def _serialize(obj):
    from dtf.keras.saving import serialization

    return serialization.serialize_keras_object(obj)


def _bool(mask):
    if mask is None:
        return None
    if not getattr(mask, "_is_symbolic", False) and not isinstance(mask, Tensor):
        mask = creation_ops.convert_to_tensor(mask)
    return mask if mask.dtype == dtypes.bool else math_ops.cast(mask, dtypes.bool)


def _causal_mask(q_len, v_len):
    """(1, q_len, v_len) bool: query position i sees key positions j <= i."""
    rows = math_ops.cast(array_ops.reshape(creation_ops.range(q_len), (1, q_len, 1)), "int32")
    cols = math_ops.cast(array_ops.reshape(creation_ops.range(v_len), (1, 1, v_len)), "int32")
    return math_ops.greater_equal(rows, cols)


class Attention(MaskPropagation, Layer):
    """Dot-product attention: `softmax(query @ key^T) @ value`.

    Args:
        use_scale: learn a scalar that multiplies the scores.
        score_mode: "dot" (the product) or "concat" (`sum(tanh(query + key))`).
        dropout: fraction of the attention weights to drop in training.
        seed: of the dropout.

    Call arguments:
        inputs: `[query, value]` or `[query, value, key]` (key defaults to value), each
            (batch, steps, dim).
        mask: `[query_mask, value_mask]` (batch, steps) bools: masked values get no
            attention; masked query positions output zeros.
        return_attention_scores: also return the attention weights (batch, Tq, Tv).
        use_causal_mask: position i attends only to positions <= i.

    Example:
        >>> q, v = dtf.ones((2, 3, 4)), dtf.ones((2, 5, 4))
        >>> keras.layers.Attention()([q, v]).shape
        TensorShape([2, 3, 4])
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Invalid value for argument score_mode. Expected one of "
                             f"{{'dot', 'concat'}}. Received: score_mode={score_mode}")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        self.supports_masking = True
        self.scale = None
        self.concat_score_weight = None

    def build(self, input_shape):
        self._validate_inputs(input_shape)
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(name="concat_score_weight", shape=(),
                                                       initializer="ones")
        self.built = True

    def _calculate_scores(self, query, key):
        if self.score_mode == "dot":
            scores = linalg_ops.matmul(query, key, transpose_b=True)
            return scores * self.scale if self.scale is not None else scores
        q = array_ops.expand_dims(query, -2)
        k = array_ops.expand_dims(key, -3)
        inner = q + k
        if self.scale is not None:
            inner = self.scale * inner
        return self.concat_score_weight * reduce_ops.reduce_sum(math_ops.tanh(inner), axis=-1)

    def _apply_scores(self, scores, value, scores_mask=None, training=False):
        if scores_mask is not None:
            padding = math_ops.logical_not(scores_mask)
            if padding.shape.rank == 2:
                padding = array_ops.expand_dims(padding, -2)
            max_value = 65504.0 if scores.dtype == dtypes.float16 else 1e9
            scores = math_ops.where(padding, scores - max_value, scores)
        weights = nn_ops.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            weights = nn_ops.dropout(weights, rate=self.dropout, seed=self.seed)
        return linalg_ops.matmul(weights, value), weights

    def call(self, inputs, mask=None, training=False, return_attention_scores=False,
             use_causal_mask=False):
        self._validate_inputs(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask = _bool(mask[0]) if mask else None
        v_mask = _bool(mask[1]) if mask else None
        scores = self._calculate_scores(q, k)
        scores_mask = v_mask
        if use_causal_mask:
            shape = array_ops.shape(scores) if None in scores.shape.as_list()[-2:] else \
                scores.shape.as_list()
            causal = _causal_mask(shape[-2], shape[-1])
            scores_mask = causal if v_mask is None else \
                math_ops.logical_and(array_ops.expand_dims(v_mask, -2), causal)
        output, weights = self._apply_scores(scores, v, scores_mask, training)
        if q_mask is not None:
            output = math_ops.where(array_ops.expand_dims(q_mask, -1), output,
                                    creation_ops.zeros_like(output))
        if return_attention_scores:
            return output, weights
        return output

    def compute_mask(self, inputs, mask=None):
        if mask is None or mask[0] is None:
            return None
        return _bool(mask[0])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (input_shape[1][-1],)

    def _validate_inputs(self, inputs, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(  # noqa: TRY004 (Keras raises ValueError)
                f"{name} layer must be called on a list of inputs, namely [query, "
                             f"value] or [query, value, key]. Received: inputs={inputs}.")
        if not 2 <= len(inputs) <= 3:
            raise ValueError(f"{name} layer accepts inputs list of length 2 or 3, namely "
                             f"[query, value] or [query, value, key]. Received length: "
                             f"{len(inputs)}.")
        if mask is not None:
            if not isinstance(mask, (list, tuple)):
                raise ValueError(f"{name} layer mask must be a list, namely [query_mask, "
                                 f"value_mask]. Received: mask={mask}.")
            if not 2 <= len(mask) <= 3:
                raise ValueError(f"{name} layer accepts mask list of length 2 or 3. "
                                 f"Received: mask of length {len(mask)}.")

    def get_config(self):
        config = super().get_config()
        config.update({"use_scale": self.use_scale, "score_mode": self.score_mode,
                       "dropout": self.dropout, "seed": self.seed})
        return config


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention: scores `sum(scale * tanh(query + key), -1)`.

    Args:
        use_scale: learn a per-dimension `scale` vector (default True).
        dropout: fraction of the attention weights to drop in training.

    Example:
        >>> q, v = dtf.ones((2, 3, 4)), dtf.ones((2, 5, 4))
        >>> keras.layers.AdditiveAttention()([q, v]).shape
        TensorShape([2, 3, 4])
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._validate_inputs(input_shape)
        dim = input_shape[0][-1]
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(dim,),
                                         initializer="glorot_uniform")
        self.built = True

    def _calculate_scores(self, query, key):
        inner = math_ops.tanh(array_ops.expand_dims(query, -2) + array_ops.expand_dims(key, -3))
        if self.scale is not None:
            inner = self.scale * inner
        return reduce_ops.reduce_sum(inner, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config


# -- multi-head attention ---------------------------------------------------------------------
def _projection_equation(free_dims, bound_dims, output_dims):
    """Einsum equation, bias axes and output rank of a projection that contracts the last
    `bound_dims` input axes into `output_dims` new axes (Keras' `_build_proj_equation`)."""
    letters = iter(string.ascii_lowercase)
    free = "".join(next(letters) for _ in range(free_dims))
    bound = "".join(next(letters) for _ in range(bound_dims))
    out = "".join(next(letters) for _ in range(output_dims))
    return f"{free}{bound},{bound}{out}->{free}{out}", out, free_dims + output_dims


def _attention_equations(rank, attn_axes):
    """(scores equation, combine equation, scores rank) for projected tensors of `rank`
    (batch, attention axes..., heads, channels) (Keras' `_build_attention_equation`)."""
    letters = string.ascii_lowercase
    target = letters[:rank]
    batch_dims = [i for i in range(rank) if i not in attn_axes and i != rank - 1]
    source = list(target)
    offset = rank
    for i in attn_axes:
        source[i] = letters[offset]
        offset += 1
    source = "".join(source)
    product = "".join([target[i] for i in batch_dims] + [target[i] for i in attn_axes] +
                      [source[i] for i in attn_axes])
    return (f"{source},{target}->{product}", f"{product},{source}->{target}", len(product))


class _EinsumDense(Layer):
    """A projection `einsum(equation, inputs, kernel) + bias` (what Keras' EinsumDense does for
    MultiHeadAttention), with the kernel's shape given in full."""

    def __init__(self, equation, kernel_shape, bias_shape, activation=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.equation = equation
        self.kernel_shape = tuple(kernel_shape)
        self.bias_shape = None if bias_shape is None else tuple(bias_shape)
        self.activation = activation
        self._init = (kernel_initializer, bias_initializer, kernel_regularizer,
                      bias_regularizer, kernel_constraint, bias_constraint)

    def build(self, input_shape):
        k_init, b_init, k_reg, b_reg, k_con, b_con = self._init
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_shape,
                                      initializer=k_init, regularizer=k_reg, constraint=k_con)
        self.bias = None if self.bias_shape is None else self.add_weight(
            name="bias", shape=self.bias_shape, initializer=b_init, regularizer=b_reg,
            constraint=b_con)
        self.built = True

    def call(self, inputs):
        out = linalg_ops.einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            out = out + self.bias
        if self.activation is not None:
            out = self.activation(out)
        return out


class MultiHeadAttention(MaskPropagation, Layer):
    """Multi-head attention: `num_heads` dot-product attentions over learned projections of
    query, key and value, concatenated and projected back.

    Args:
        num_heads: number of heads.
        key_dim: size of each head's query and key projection.
        value_dim: size of each head's value projection (default key_dim).
        dropout: dropout on the attention weights, in training.
        use_bias: biases in the projections.
        output_shape: the output's last dims (default the query's last dim).
        attention_axes: axes attention runs over (default: all but batch, heads, features).
        use_gate: multiply the attention output by a sigmoid gate projected from the query.
        sliding_window: attend only to keys within this distance of the query position.
        kernel_initializer, bias_initializer, *_regularizer, *_constraint: of the projections.
        seed: of the dropout.

    Call arguments:
        query (batch, Tq, dim), value (batch, Tv, dim), key (default value).
        attention_mask: (batch, Tq, Tv) bool: which keys each query position may attend to;
            combined with the query/value/key masks (their Keras masks, or `*_mask=`).
        return_attention_scores: also return the weights (batch, heads, Tq, Tv).
        use_causal_mask: position i attends only to positions <= i.

    Weights (Keras 3's layout): query, key, value kernels (dim, heads, key_dim / value_dim)
    with biases (heads, key_dim); the output kernel (heads, value_dim, dim) with bias (dim,).

    Example:
        >>> mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=2)
        >>> target, source = dtf.ones((1, 8, 16)), dtf.ones((1, 4, 16))
        >>> out, scores = mha(target, source, return_attention_scores=True)
        >>> out.shape, scores.shape
        (TensorShape([1, 8, 16]), TensorShape([1, 2, 8, 4]))
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, sliding_window=None,
                 flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 use_gate=False, seed=None, **kwargs):
        from dtf.keras import constraints, initializers, regularizers

        for arg, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Received an invalid value for argument `{arg}`, expected a "
                                 f"positive integer. Received: {arg}={value!r}")
        if value_dim is not None and (not isinstance(value_dim, int) or value_dim <= 0):
            raise ValueError(f"Received an invalid value for argument `value_dim`, expected a "
                             f"positive integer or `None`. Received: value_dim={value_dim!r}")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.supports_masking = True
        self._num_heads = num_heads
        self._key_dim = key_dim
        self._value_dim = value_dim if value_dim else key_dim
        self._dropout = float(dropout)
        self._use_bias = bool(use_bias)
        self._use_gate = bool(use_gate)
        if output_shape:
            output_shape = (output_shape,) if isinstance(output_shape, int) else \
                tuple(output_shape)
        self._output_shape = output_shape or None
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(f"`attention_axes` must be an int, list, or tuple. Received: "
                             f"attention_axes={attention_axes}")
        self._attention_axes = None if attention_axes is None else tuple(attention_axes)
        if sliding_window is not None and (not isinstance(sliding_window, int) or
                                           sliding_window <= 0):
            raise ValueError(f"`sliding_window` must be `None` or a positive integer. "
                             f"Received: sliding_window={sliding_window}")
        self._sliding_window = sliding_window
        self._flash_attention = flash_attention
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        self._kernel_regularizer = regularizers.get(kernel_regularizer)
        self._bias_regularizer = regularizers.get(bias_regularizer)
        self._kernel_constraint = constraints.get(kernel_constraint)
        self._bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self._key_dim))

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)

    def _dense(self, equation, kernel_shape, bias_shape, name, activation=None):
        from dtf.keras import initializers

        # each projection gets its own initializer instance (as Keras clones them), so that
        # seeded initializers do not give the four kernels the same values
        k_init = initializers.get(_serialize(self._kernel_initializer))
        b_init = initializers.get(_serialize(self._bias_initializer))
        return _EinsumDense(equation, kernel_shape, bias_shape if self._use_bias else None,
                            activation=activation, kernel_initializer=k_init,
                            bias_initializer=b_init,
                            kernel_regularizer=self._kernel_regularizer,
                            bias_regularizer=self._bias_regularizer,
                            kernel_constraint=self._kernel_constraint,
                            bias_constraint=self._bias_constraint, name=name,
                            dtype=self.dtype)

    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None:
            value_shape = query_shape
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(f"All dimensions of `value` and `key`, except the last one, must "
                             f"be equal. Received: value_shape={value_shape} and "
                             f"key_shape={key_shape}")
        heads, kd, vd = self._num_heads, self._key_dim, self._value_dim
        for what, shape in (("query", query_shape), ("value", value_shape),
                            ("key", key_shape)):
            if shape[-1] is None:
                raise ValueError(f'Layer "{self.name}": the last dimension of the {what} must '
                                 f"be defined; got shape {shape}.")
        eq, _, rank = _projection_equation(len(query_shape) - 1, 1, 2)
        self._query_dense = self._dense(eq, (query_shape[-1], heads, kd), (heads, kd), "query")
        eq, _, _ = _projection_equation(len(key_shape) - 1, 1, 2)
        self._key_dense = self._dense(eq, (key_shape[-1], heads, kd), (heads, kd), "key")
        if self._use_gate:
            eq, _, _ = _projection_equation(len(query_shape) - 1, 1, 2)
            self._gate_dense = self._dense(eq, (query_shape[-1], heads, vd), (heads, vd),
                                           "gate", activation=math_ops.sigmoid)
        eq, _, rank = _projection_equation(len(value_shape) - 1, 1, 2)
        self._value_dense = self._dense(eq, (value_shape[-1], heads, vd), (heads, vd), "value")
        if self._attention_axes is None:
            self._attention_axes = tuple(range(1, rank - 2))
        else:
            self._attention_axes = tuple(a if a >= 0 else rank - 1 + a
                                         for a in self._attention_axes)
        self._dot_product_equation, self._combine_equation, scores_rank = \
            _attention_equations(rank, self._attention_axes)
        self._norm_axes = tuple(range(scores_rank - len(self._attention_axes), scores_rank))
        out_dims = self._output_shape or (query_shape[-1],)
        eq, _, _ = _projection_equation(len(query_shape) - 1, 2, len(out_dims))
        self._output_dense = self._dense(eq, (heads, vd) + tuple(out_dims), tuple(out_dims),
                                         "attention_output")
        for dense, shape in ((self._query_dense, query_shape), (self._key_dense, key_shape),
                             (self._value_dense, value_shape)):
            dense.build(shape)
        if self._use_gate:
            self._gate_dense.build(query_shape)
        self._output_dense.build(query_shape[:-1] + (heads, vd))
        self.built = True

    query_dense = property(lambda self: self._query_dense)
    key_dense = property(lambda self: self._key_dense)
    value_dense = property(lambda self: self._value_dense)
    output_dense = property(lambda self: self._output_dense)

    def __call__(self, query, value=None, key=None, **kwargs):
        if value is None:
            raise ValueError(f'Layer "{self.name}" needs both a query and a value: call it as '
                             "layer(query, value) (value may be the query itself).")
        if not self.built:
            self.build(_shape(query), _shape(value), None if key is None else _shape(key))
        for name, tensor in (("query_mask", query), ("value_mask", value), ("key_mask", key)):
            if kwargs.get(name) is None and tensor is not None:
                mask = get_mask(tensor)
                if mask is not None:
                    kwargs[name] = mask
        return super().__call__(query, value, key, **kwargs)

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        if key is None:
            key = value
        attention_mask = self._compute_attention_mask(
            query, value, query_mask=query_mask, value_mask=value_mask, key_mask=key_mask,
            attention_mask=attention_mask, use_causal_mask=use_causal_mask)
        gate = self._gate_dense(query) if self._use_gate else None
        q = self._query_dense(query)
        k = self._key_dense(key)
        v = self._value_dense(value)
        # Keras takes its fused dot_product_attention path (no zeroing of fully masked rows)
        # unless scores are returned, dropout is on, or the projections are not 4-D.
        zero_masked = self._dropout > 0.0 or return_attention_scores or q.shape.rank != 4
        output, scores = self._compute_attention(q, k, v, attention_mask, training,
                                                 zero_masked)
        if gate is not None:
            output = output * gate
        output = self._output_dense(output)
        if return_attention_scores:
            return output, scores
        return output

    def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                           zero_masked=True):
        query = query * self._inverse_sqrt_key_dim
        scores = linalg_ops.einsum(self._dot_product_equation, key, query)
        scores = self._masked_softmax(scores, attention_mask, zero_masked)
        weights = scores
        if training and self._dropout > 0.0:
            weights = nn_ops.dropout(scores, rate=self._dropout, seed=self.seed)
        return linalg_ops.einsum(self._combine_equation, weights, value), scores

    def _masked_softmax(self, scores, mask, zero_masked):
        if mask is not None:
            axis = -len(self._attention_axes) * 2 - 1
            for _ in range(scores.shape.rank - mask.shape.rank):
                mask = array_ops.expand_dims(mask, axis)
            negative = -3e4 if scores.dtype == dtypes.float16 else -1e9
            scores = math_ops.where(mask, scores, _full_like(scores, negative))
        if len(self._norm_axes) == 1:
            out = nn_ops.softmax(scores, axis=self._norm_axes[0])
        else:
            out = math_ops.exp(scores - reduce_ops.reduce_logsumexp(
                scores, axis=list(self._norm_axes), keepdims=True))
        if mask is not None and zero_masked:
            out = math_ops.where(mask, out, creation_ops.zeros_like(out))
        return out

    def _compute_attention_mask(self, query, value, query_mask=None, value_mask=None,
                                key_mask=None, attention_mask=None, use_causal_mask=False):
        auto = None
        if query_mask is not None:
            auto = array_ops.expand_dims(_bool(query_mask), -1)
        for m in (value_mask, key_mask):
            if m is not None:
                m = array_ops.expand_dims(_bool(m), -2)
                auto = m if auto is None else math_ops.logical_and(auto, m)
        if use_causal_mask or self._sliding_window is not None:
            q_len = query.shape[1] if query.shape[1] is not None else array_ops.shape(query)[1]
            v_len = value.shape[1] if value.shape[1] is not None else array_ops.shape(value)[1]
            if use_causal_mask:
                m = _causal_mask(q_len, v_len)
                auto = m if auto is None else math_ops.logical_and(auto, m)
            if self._sliding_window is not None:
                rows = array_ops.reshape(math_ops.cast(creation_ops.range(q_len), "int32"),
                                         (1, -1, 1))
                cols = array_ops.reshape(math_ops.cast(creation_ops.range(v_len), "int32"),
                                         (1, 1, -1))
                m = math_ops.less(math_ops.abs(rows - cols), self._sliding_window)
                auto = m if auto is None else math_ops.logical_and(auto, m)
        if attention_mask is not None:
            attention_mask = _bool(attention_mask)
        if auto is not None:
            attention_mask = auto if attention_mask is None else \
                math_ops.logical_and(attention_mask, auto)
        return attention_mask

    def compute_mask(self, inputs, mask=None):
        return mask  # the query's: each output position is a query position

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        if self._output_shape:
            return query_shape[:-1] + tuple(self._output_shape)
        return query_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self._num_heads, "key_dim": self._key_dim,
            "value_dim": self._value_dim, "dropout": self._dropout,
            "use_bias": self._use_bias, "use_gate": self._use_gate,
            "output_shape": self._output_shape, "attention_axes": self._attention_axes,
            "sliding_window": self._sliding_window,
            "kernel_initializer": _serialize(self._kernel_initializer),
            "bias_initializer": _serialize(self._bias_initializer),
            "kernel_regularizer": _serialize(self._kernel_regularizer),
            "bias_regularizer": _serialize(self._bias_regularizer),
            "activity_regularizer": _serialize(self.activity_regularizer),
            "kernel_constraint": _serialize(self._kernel_constraint),
            "bias_constraint": _serialize(self._bias_constraint),
            "seed": self.seed,
        })
        return config


def _full_like(x, value):
    return creation_ops.zeros_like(x) + value


def _shape(x):
    shape = getattr(x, "shape", None)
    if shape is None:
        shape = creation_ops.convert_to_tensor(x).shape
    return tuple(shape.as_list()) if hasattr(shape, "as_list") else tuple(shape)
