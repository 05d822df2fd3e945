"""Neural-network ops (`dtf.nn`): activations, softmax, losses, dropout, normalisation helpers.

Most are composites of math primitives. Promoted to primitives, and why:

- `relu` (+ `relu_grad`): speed: it is the hottest activation, and `maximum(x, 0)` would sum a
  broadcast gradient for the constant on every backward pass;
- `softplus`, `softmax`, `log_softmax`, `sparse_softmax_cross_entropy_with_logits`: numerical
  stability (max-shifted exponentials; float16 computed in float32), with VJPs in dtf ops;
- `dropout`: one op that draws the mask with `dtf.random`'s seed rules when it runs, so it works
  on symbolic tensors too; it returns the mask as a second output for its VJP. It is stateful
  (registered `stateful=True`, see `dtf.ops.random_ops`).
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops import shape_rules as rules
from dtf.ops.creation_ops import cast, convert_to_tensor, zeros_like
from dtf.ops.math_ops import (
    add,
    equal,
    erf,
    exp,
    expm1,
    greater,
    greater_equal,
    less,
    log1p,
    maximum,
    multiply,
    negative,
    rsqrt,
    sigmoid,
    square,
    subtract,
    tanh,
    where,
)
from dtf.ops.reduce_ops import reduce_sum
from dtf.ops.registry import Spec, primitive, run
from dtf.tensor import Tensor

__all__ = [
    "bias_add",
    "dropout",
    "elu",
    "embedding_lookup",
    "gelu",
    "l2_loss",
    "l2_normalize",
    "leaky_relu",
    "log_softmax",
    "moments",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "sigmoid_cross_entropy_with_logits",
    "silu",
    "softmax",
    "softmax_cross_entropy_with_logits",
    "softplus",
    "softsign",
    "sparse_softmax_cross_entropy_with_logits",
    "stop_gradient",
    "swish",
    "tanh",
]


# -- helpers ----------------------------------------------------------------------------------
def _tensor(x):
    return x if type(x) is Tensor else convert_to_tensor(x)


def _require(x, kinds, op, allowed):
    if x.dtype._kind not in kinds:
        raise InvalidArgumentError(
            f"{op}: Value for attr 'T' of {x.dtype.name} is not in the list of allowed values: "
            f"{allowed} (input shape {x.shape}). Use dtf.cast(x, dtf.float32) first. [Op:{op}]")


def _require_float(x, op):
    _require(x, "f", op, "half, float, double")


def _second_operand(x, like, op):
    """Converts a companion input (labels, bias): Python data takes `like`'s dtype; tensors
    must already have it."""
    if isinstance(x, Tensor) or getattr(x, "_is_dtf_variable", False) or \
            getattr(x, "_is_symbolic", False):
        x = convert_to_tensor(x)
    else:
        try:
            x = convert_to_tensor(x, dtype=like.dtype)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{op}: cannot convert {x!r} to {like.dtype.name}: {e}") from None
    if x.dtype != like.dtype:
        raise InvalidArgumentError(
            f"{op}: cannot compute {op} as input #1(zero-based) was expected to be a "
            f"{like.dtype.name} tensor but is a {x.dtype.name} tensor (shapes {like.shape} and "
            f"{x.shape}). Use dtf.cast to give both the same dtype. [Op:{op}]")
    return x


def _static_shape(x):
    """The shape as a tuple (None for unknown dims), or None for unknown rank."""
    shape = x.shape
    return None if shape.rank is None else tuple(shape.as_list())


def _work_dtype(xp, x):
    """float16 is computed in float32 (exp/log/sums lose too much in half precision)."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


# -- relu -------------------------------------------------------------------------------------
@primitive("relu", shape=rules.same_shape)
def _relu(xp, x):
    return xp.maximum(x, x.dtype.type(0))


@_relu.def_vjp
def _(g, out, x):
    return (run(_relu_grad, (g, out)),)


@primitive("relu_grad", shape=rules.broadcast_rule)
def _relu_grad(xp, g, out):
    return g * (out > 0)  # TensorFlow's ReluGrad kernel (NaN/inf gradients pass as TF's do)


@_relu_grad.def_vjp
def _(gg, result, g, out):
    # linear in g; piecewise constant in out (its derivative is 0 almost everywhere)
    return run(_relu_grad, (gg, out)), None


def relu(features, name=None):
    """max(features, 0) elementwise.

    Example:
        >>> dtf.nn.relu([-1.0, 2.0]).numpy()
        array([0., 2.], dtype=float32)
    """
    x = _tensor(features)
    _require(x, "iuf", "relu", "float, double, half, int8, int16, int32, int64, uint8, uint16, "
             "uint32, uint64")
    return run(_relu, (x,))


def relu6(features, name=None):
    """min(max(features, 0), 6) elementwise (the gradient is 0 at 0 and at 6, as TensorFlow's).
    """
    x = _tensor(features)
    _require(x, "iuf", "relu6", "float, double, half, int8, int16, int32, int64, uint8, "
             "uint16, uint32, uint64")
    return where(less(x, 6), run(_relu, (x,)), 6)


# -- exponential-linear family ----------------------------------------------------------------
def _negative_part(x):
    """min(x, 0) through a select, so that exp of the positive side is never computed (it would
    overflow, and 0 * inf in the unused branch's gradient is nan)."""
    return where(greater(x, 0), zeros_like(x), x)


def elu(features, name=None):
    """x if x > 0 else exp(x) - 1."""
    x = _tensor(features)
    _require_float(x, "elu")
    return where(greater(x, 0), x, expm1(_negative_part(x)))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(features, name=None):
    """scale * (x if x > 0 else alpha * (exp(x) - 1)), with Klambauer et al.'s constants."""
    x = _tensor(features)
    _require_float(x, "selu")
    return _SELU_SCALE * where(greater(x, 0), x, _SELU_ALPHA * expm1(_negative_part(x)))


def gelu(features, approximate=False, name=None):
    """Gaussian error linear unit: x * P(X <= x) for a standard normal X.

    `approximate=False` uses erf; `approximate=True` the tanh approximation
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    """
    x = _tensor(features)
    if not x.dtype.is_floating:
        raise ValueError(f"gelu: `features.dtype` must be a floating point tensor. Received: "
                         f"features.dtype={x.dtype} (shape {x.shape}).")
    if approximate:
        inner = 0.7978845608028654 * (x + 0.044715 * (x * x * x))
        return 0.5 * x * (1.0 + tanh(inner))
    return 0.5 * x * (1.0 + erf(x * 0.7071067811865476))


# -- softplus, softsign, silu, leaky_relu -----------------------------------------------------
@primitive("softplus", shape=rules.same_shape)
def _softplus(xp, x):
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): exp never overflows
    w = _work_dtype(xp, x)
    return (xp.maximum(w, 0) + xp.log1p(xp.exp(-xp.abs(w)))).astype(x.dtype, copy=False)


@_softplus.def_vjp
def _(g, out, x):
    return (g * sigmoid(x),)


def softplus(features, name=None):
    """log(exp(features) + 1), computed without overflow."""
    x = _tensor(features)
    _require_float(x, "softplus")
    return run(_softplus, (x,))


def softsign(features, name=None):
    """features / (abs(features) + 1)."""
    from dtf.ops.math_ops import abs as _abs

    x = _tensor(features)
    _require_float(x, "softsign")
    return x / (_abs(x) + 1.0)


def silu(features, beta=1.0):
    """features * sigmoid(beta * features) (also `swish`)."""
    x = _tensor(features)
    if not isinstance(beta, Tensor) and beta == 1.0:
        return x * sigmoid(x)
    return x * sigmoid(beta * x)


swish = silu


def leaky_relu(features, alpha=0.2, name=None):
    """x if x > 0 else alpha * x; integer inputs are computed in float32, as TensorFlow."""
    x = _tensor(features)
    if x.dtype.is_integer:
        x = cast(x, dtypes.float32)
    _require_float(x, "leaky_relu")
    if isinstance(alpha, np.ndarray):
        alpha = alpha.item()
    return where(greater(x, 0), x, alpha * x)


# -- softmax ----------------------------------------------------------------------------------
def _softmax_impl(xp, x, axis):
    if x.size == 0:
        return xp.empty_like(x)
    w = _work_dtype(xp, x)
    e = xp.exp(w - xp.max(w, axis=axis, keepdims=True))
    return (e / xp.sum(e, axis=axis, keepdims=True)).astype(x.dtype, copy=False)


def _log_softmax_impl(xp, x, axis):
    if x.size == 0:
        return xp.empty_like(x)
    w = _work_dtype(xp, x)
    shifted = w - xp.max(w, axis=axis, keepdims=True)
    out = shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
    return out.astype(x.dtype, copy=False)


_softmax = primitive("softmax", shape=rules.same_shape)(_softmax_impl)
_log_softmax = primitive("log_softmax", shape=rules.same_shape)(_log_softmax_impl)


@_softmax.def_vjp
def _(g, out, x, axis):
    go = g * out
    return (go - out * reduce_sum(go, axis=axis, keepdims=True),)


@_log_softmax.def_vjp
def _(g, out, x, axis):
    return (g - exp(out) * reduce_sum(g, axis=axis, keepdims=True),)


def _softmax_axis(x, axis, op):
    rank = x.shape.rank
    if rank is None:
        raise ValueError(f"{op}: the input's rank must be known.")
    if rank == 0:
        raise InvalidArgumentError(f"{op}: logits must have at least one dimension, got a "
                                   f"scalar ({x.dtype.name}). [Op:{op}]")
    axis = -1 if axis is None else int(axis)
    if not -rank <= axis < rank:
        raise InvalidArgumentError(f"{op}: `dim` must be in the range [{-rank}, {rank}) where "
                                   f"{rank} is the number of dimensions in the input (shape "
                                   f"{x.shape}). Received: dim={axis}")
    return axis % rank


def softmax(logits, axis=None, name=None):
    """exp(logits) / sum(exp(logits), axis), computed stably (axis defaults to -1).

    Example:
        >>> dtf.nn.softmax([[1.0, 1.0]]).numpy()
        array([[0.5, 0.5]], dtype=float32)
    """
    x = _tensor(logits)
    _require_float(x, "softmax")
    return run(_softmax, (x,), axis=_softmax_axis(x, axis, "softmax"))


def log_softmax(logits, axis=None, name=None):
    """logits - log(sum(exp(logits), axis)), computed stably (axis defaults to -1)."""
    x = _tensor(logits)
    _require_float(x, "log_softmax")
    return run(_log_softmax, (x,), axis=_softmax_axis(x, axis, "log_softmax"))


# -- losses -----------------------------------------------------------------------------------
def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Elementwise logistic loss: labels * -log(sigmoid(logits)) +
    (1 - labels) * -log(1 - sigmoid(logits)), computed as
    max(x, 0) - x * z + log(1 + exp(-|x|)) so that it never overflows.
    """
    if labels is None or logits is None:
        raise ValueError("sigmoid_cross_entropy_with_logits: both labels and logits must be "
                         "provided.")
    x = _tensor(logits)
    z = _second_operand(labels, x, "sigmoid_cross_entropy_with_logits")
    _require_float(x, "sigmoid_cross_entropy_with_logits")
    xs, zs = _static_shape(x), _static_shape(z)
    if xs is not None and zs is not None and not _same_shape(xs, zs):
        raise ValueError(f"sigmoid_cross_entropy_with_logits: `logits` and `labels` must have "
                         f"the same shape, received ({_fmt(xs)} vs {_fmt(zs)}).")
    # TensorFlow's form: selects rather than relu/abs, so the gradient at x == 0 is exact.
    positive = greater_equal(x, 0)
    zeros = zeros_like(x)
    relu_logits = where(positive, x, zeros)
    neg_abs_logits = where(positive, negative(x), x)
    return add(subtract(relu_logits, multiply(x, z)), log1p(exp(neg_abs_logits)))


def _same_shape(a, b):
    return len(a) == len(b) and all(p is None or q is None or p == q for p, q in zip(a, b))


def _fmt(shape):
    return str(tuple(shape)) if shape is not None else "<unknown>"


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """Cross entropy between `labels` (a distribution along `axis`) and softmax(logits):
    -sum(labels * log_softmax(logits), axis). Gradients flow into both arguments.

    Example:
        >>> float(dtf.nn.softmax_cross_entropy_with_logits([0.0, 1.0], [0.0, 0.0]))
        0.6931471...
    """
    op = "softmax_cross_entropy_with_logits"
    x = _tensor(logits)
    z = _second_operand(labels, x, op)
    _require_float(x, op)
    xs, zs = _static_shape(x), _static_shape(z)
    if xs is not None and zs is not None:
        if len(xs) != len(zs):
            raise ValueError(f"{op}: labels and logits must have the same rank, got shapes "
                             f"{_fmt(zs)} and {_fmt(xs)}.")
        if any(p is not None and q is not None and p != q and p != 1 and q != 1
               for p, q in zip(xs, zs)):
            raise InvalidArgumentError(f"{op}: logits and labels must be broadcastable: "
                                       f"logits_size={list(xs)} labels_size={list(zs)} "
                                       f"[Op:SoftmaxCrossEntropyWithLogits]")
    axis = _softmax_axis(x, axis, op)
    return negative(reduce_sum(multiply(z, log_softmax(x, axis=axis)), axis=axis))


def _sparse_xent_rule(logits, labels):
    if labels.shape is not None:
        return Spec(labels.shape, logits.dtype)
    return Spec(None if logits.shape is None else logits.shape[:-1], logits.dtype)


@primitive("sparse_softmax_cross_entropy_with_logits", shape=_sparse_xent_rule)
def _sparse_xent(xp, logits, labels):
    labels = xp.asarray(labels)
    classes = logits.shape[-1]
    bad = (labels < 0) | (labels >= classes)
    if xp.any(bad):
        first = labels[bad].reshape(-1)[0]
        shown = " ".join(str(v) for v in labels.reshape(-1)[:10].tolist())
        raise InvalidArgumentError(
            f"sparse_softmax_cross_entropy_with_logits: Received a label value of {first} which "
            f"is outside the valid range of [0, {classes}).  Label values: {shown} (logits "
            f"shape {list(logits.shape)}). [Op:SparseSoftmaxCrossEntropyWithLogits]")
    if logits.size == 0:
        return xp.zeros(labels.shape, dtype=logits.dtype)
    w = _work_dtype(xp, logits)
    shifted = w - xp.max(w, axis=-1, keepdims=True)
    log_sum = xp.log(xp.sum(xp.exp(shifted), axis=-1))
    picked = xp.take_along_axis(shifted, labels[..., None].astype(np.int64), axis=-1)[..., 0]
    return (log_sum - picked).astype(logits.dtype, copy=False)


@_sparse_xent.def_vjp
def _(g, out, logits, labels):
    from dtf.ops.creation_ops import range as _range
    from dtf.ops.dynamic_shapes import dim_of

    classes = logits.shape[-1]
    if classes is None:  # known only when the graph runs
        classes = dim_of(logits, -1, labels.dtype)
    one_hot = cast(equal(labels[..., None], _range(classes, dtype=labels.dtype)), logits.dtype)
    return g[..., None] * (softmax(logits) - one_hot), None


def sparse_softmax_cross_entropy_with_logits(labels, logits, name=None):
    """Cross entropy between integer class `labels` (shape [d0, ..., dn-1]) and
    softmax(logits) (shape [d0, ..., dn-1, num_classes]); a label outside
    [0, num_classes) raises InvalidArgumentError.

    Example:
        >>> dtf.nn.sparse_softmax_cross_entropy_with_logits([1], [[0.0, 0.0]]).numpy()
        array([0.6931472], dtype=float32)
    """
    op = "sparse_softmax_cross_entropy_with_logits"
    x = _tensor(logits)
    z = _tensor(labels)
    if z.dtype not in (dtypes.int32, dtypes.int64):
        raise InvalidArgumentError(f"{op}: labels must be int32 or int64 class indices, got "
                                   f"{z.dtype.name} (shape {z.shape}). For one-hot or soft "
                                   "labels use softmax_cross_entropy_with_logits. "
                                   "[Op:SparseSoftmaxCrossEntropyWithLogits]")
    _require_float(x, op)
    xs, zs = _static_shape(x), _static_shape(z)
    if xs is not None and len(xs) == 0:
        raise ValueError(f"{op}: Logits cannot be scalars - received shape {_fmt(xs)}.")
    if xs is not None and zs is not None and not _same_shape(xs[:-1], zs):
        raise ValueError(f"{op}: `labels.shape` must equal `logits.shape` except for the last "
                         f"dimension. Received: labels.shape={_fmt(zs)} and "
                         f"logits.shape={_fmt(xs)}")
    return run(_sparse_xent, (x, z))


# -- bias_add, l2_normalize, moments ----------------------------------------------------------
def bias_add(value, bias, data_format=None, name=None):
    """Adds the 1-D `bias` along the channel dimension of `value`: the last one for
    data_format None or "N...C" (NHWC, NWC, ...), the second for "NC..." (NCHW, ...).
    """
    op = "bias_add"
    x = _tensor(value)
    b = _second_operand(bias, x, op)
    channels_first = False
    if data_format is not None:
        if data_format.startswith("NC"):
            channels_first = True
        elif not (data_format.startswith("N") and data_format.endswith("C")):
            raise ValueError(f"{op}: `data_format` must be of the form `N...C` or `NC...`. "
                             f"Received: data_format={data_format}")
    xs, bs = _static_shape(x), _static_shape(b)
    if bs is not None and len(bs) != 1:
        raise InvalidArgumentError(f"{op}: Biases must be 1D: {list(bs)} [Op:BiasAdd]")
    if xs is not None:
        if len(xs) < 2:
            raise InvalidArgumentError(f"{op}: Input tensor must be at least 2D: {list(xs)} "
                                       "[Op:BiasAdd]")
        channel = xs[1] if channels_first else xs[-1]
        if bs is not None and None not in (channel, bs[0]) and channel != bs[0]:
            raise InvalidArgumentError(
                f"{op}: Must provide as many biases as the {'second' if channels_first else 'last'}"
                f" dimension of the input tensor: {list(bs)} vs. {list(xs)} [Op:BiasAdd]")
    if channels_first:
        from dtf.ops.array_ops import reshape

        if xs is None:
            raise ValueError(f"{op}: data_format {data_format!r} needs an input of known rank.")
        b = reshape(b, (-1,) + (1,) * (len(xs) - 2))
    return add(x, b)


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x ** 2, axis), epsilon)) (all axes when `axis` is None)."""
    if dim is not None:
        if axis is not None:
            raise ValueError("l2_normalize: give `axis` or its deprecated name `dim`, not both.")
        axis = dim
    x = _tensor(x)
    if not (x.dtype.is_floating or x.dtype.is_complex):
        raise TypeError(f"l2_normalize: Cannot convert {epsilon} to EagerTensor of dtype "
                        f"{x.dtype.name}: x must be a floating point (or complex) tensor, got "
                        f"{x.dtype.name} (shape {x.shape}). Use dtf.cast(x, dtf.float32).")
    axis = _axes_arg(x, axis, "l2_normalize")
    if x.dtype.is_complex:
        from dtf.ops.math_ops import conj, real

        square_sum = reduce_sum(real(x * conj(x)), axis=axis, keepdims=True)
        return x * cast(rsqrt(maximum(square_sum, epsilon)), x.dtype)
    square_sum = reduce_sum(square(x), axis=axis, keepdims=True)
    return x * rsqrt(maximum(square_sum, epsilon))


def _axes_arg(x, axes, op):
    if axes is None:
        return None
    if isinstance(axes, Tensor) or getattr(axes, "_is_dtf_variable", False):
        axes = axes.numpy().tolist()
    return rules.normalize_axes(axes, x.ndim, op)


def moments(x, axes, shift=None, keepdims=False, name=None):
    """(mean, variance) of `x` over `axes` (`shift` is unused, as in TensorFlow 2).

    float16 inputs are computed in float32 and the results cast back. Unlike TensorFlow, the
    mean inside the variance is not wrapped in stop_gradient: the first derivative is the same
    (the mean's term is zero), and the second derivative is then the true one.

    Example:
        >>> mean, var = dtf.nn.moments(dtf.constant([1.0, 2.0, 3.0, 4.0]), axes=[0])
        >>> float(mean), float(var)
        (2.5, 1.25)
    """
    from dtf.ops.math_ops import squared_difference

    x = _tensor(x)
    if not x.dtype.is_numeric or x.dtype.is_complex:
        raise InvalidArgumentError(f"moments: x must be a real numeric tensor, got "
                                   f"{x.dtype.name} (shape {x.shape}).")
    axes = _axes_arg(x, axes, "moments")
    axes = tuple(range(x.ndim)) if axes is None else axes
    y = cast(x, dtypes.float32) if x.dtype == dtypes.float16 else x
    mean = _mean(y, axes)
    variance = _mean(squared_difference(y, mean), axes)
    if not keepdims:
        from dtf.ops.array_ops import reshape

        kept = tuple(d for i, d in enumerate(y.shape.as_list()) if i not in axes)
        mean, variance = reshape(mean, kept), reshape(variance, kept)
    if x.dtype == dtypes.float16:
        mean, variance = cast(mean, x.dtype), cast(variance, x.dtype)
    return mean, variance


def _mean(y, axes):
    """reduce_mean over `axes` keeping dims (integers: TensorFlow's truncating division)."""
    dims = y.shape.as_list() if y.shape.rank is not None else None
    if y.dtype.is_integer or dims is None or any(dims[a] is None for a in axes):
        from dtf.ops.reduce_ops import reduce_mean

        return reduce_mean(y, axis=axes, keepdims=True)
    count = 1
    for a in axes:
        count *= dims[a]
    total = reduce_sum(y, axis=axes, keepdims=True)
    # an array, not a Python float, so that float64 gets the exact 1/count
    return total * convert_to_tensor(np.asarray(1.0 / count if count else np.nan,
                                                dtype=y.dtype.as_numpy_dtype))


def l2_loss(t, name=None):
    """sum(t ** 2) / 2, over every element (weight decay's penalty)."""
    x = _tensor(t)
    _require_float(x, "l2_loss")
    return reduce_sum(square(x)) * 0.5


def embedding_lookup(params, ids, max_norm=None, name=None):
    """Rows `ids` of the embedding table `params` (a gather along axis 0); with `max_norm`,
    each looked-up embedding whose L2 norm exceeds it is scaled down to it.

    Example:
        >>> table = dtf.constant([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
        >>> dtf.nn.embedding_lookup(table, [2, 0]).numpy().tolist()
        [[2.0, 2.0], [0.0, 0.0]]
    """
    from dtf.ops.indexing_ops import gather

    if isinstance(params, (list, tuple)):
        if len(params) != 1:
            raise NotImplementedError(
                "embedding_lookup: sharded params (a list of several tensors) are not "
                "supported; concatenate the shards into one table first.")
        params = params[0]
    table = _tensor(params)
    ids = _tensor(ids)
    if not ids.dtype.is_integer:
        raise InvalidArgumentError(f"embedding_lookup: ids must be int32 or int64, got "
                                   f"{ids.dtype.name} (shape {ids.shape}).")
    out = gather(table, ids, axis=0)
    if max_norm is None:
        return out
    from dtf.ops.math_ops import sqrt

    norms = sqrt(reduce_sum(square(out), axis=-1, keepdims=True))
    return out * max_norm / maximum(norms, max_norm)


# -- dropout ----------------------------------------------------------------------------------
def _noise_dims(x_shape, noise_shape):
    if noise_shape is None:
        return x_shape
    if x_shape is None:
        return tuple(noise_shape)
    return tuple(x_shape[i] if d is None else d for i, d in enumerate(noise_shape))


def _dropout_rule(x, rate, noise_shape, seed, reservation=None):
    return Spec(x.shape, x.dtype), Spec(_noise_dims(x.shape, noise_shape), x.dtype)


@primitive("dropout", shape=_dropout_rule, num_outputs=2, stateful=True)
def _dropout(xp, x, rate, noise_shape, seed, reservation=None):
    from dtf.ops import random_ops

    dtype = dtypes.from_numpy(x.dtype)
    shape = _noise_dims(x.shape, noise_shape)
    # TensorFlow draws dropout's mask with random_uniform: it shares uniform's seed counters.
    gp, gen = random_ops._generator(xp, random_ops.entropy_for(("uniform", dtype.name), seed,
                                                               reservation))
    keep = random_ops._to_module(xp, random_ops._unit_uniform(gp, gen, shape, dtype)) >= \
        x.dtype.type(rate)
    mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - rate))
    return x * mask, mask


@_dropout.def_vjp
def _(g, out, x, rate, noise_shape, seed, reservation=None):
    return (g[0] * out[1],)


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Sets each element of `x` to 0 with probability `rate` and scales the others by
    1 / (1 - rate), so the expected value is unchanged.

    Args:
        rate: the probability of dropping an element, in [0, 1).
        noise_shape: the shape of the keep/drop mask, broadcast to `x` (e.g. [batch, 1,
            channels] drops whole channels); None entries take `x`'s dimension.
        seed: the op seed, with `dtf.random.set_seed`'s rules.

    Example:
        >>> y = dtf.nn.dropout(dtf.ones([1000]), rate=0.5)
        >>> sorted(set(y.numpy().tolist()))
        [0.0, 2.0]
    """
    x = _tensor(x)
    if not x.dtype.is_floating:
        raise ValueError(f"dropout: `x.dtype` must be a floating point tensor as `x` will be "
                         f"scaled. Received: x_dtype={x.dtype} (shape {x.shape}).")
    if isinstance(rate, Tensor) or getattr(rate, "_is_dtf_variable", False) or \
            isinstance(rate, np.ndarray):
        if np.ndim(rate) != 0:
            raise ValueError(f"dropout: `rate` must be a scalar or scalar tensor. Received: "
                             f"rate={rate!r}")
        rate = float(np.asarray(rate.numpy() if hasattr(rate, "numpy") else rate))
    elif isinstance(rate, (list, tuple)):
        raise ValueError(f"dropout: `rate` must be a scalar or scalar tensor. Received: "
                         f"rate={rate!r}")
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
            or not 0 <= rate < 1:
        raise ValueError(f"dropout: `rate` must be a scalar tensor or a float in the range "
                         f"[0, 1). Received: rate={rate!r}")
    if seed is not None:
        from dtf.ops.random_ops import _seed_int

        seed = _seed_int(seed, "dropout")
    if noise_shape is not None:
        noise_shape = _noise_shape_arg(x, noise_shape)
    if rate == 0:
        return x
    from dtf.ops.random_ops import reserve

    return run(_dropout, (x,), rate=float(rate), noise_shape=noise_shape, seed=seed,
               reservation=reserve(("uniform", x.dtype.name), seed))[0]


def _noise_shape_arg(x, noise_shape):
    if isinstance(noise_shape, Tensor):
        noise_shape = noise_shape.numpy().tolist()
    if hasattr(noise_shape, "as_list"):
        noise_shape = noise_shape.as_list()
    noise_shape = tuple(None if d is None else int(d) for d in noise_shape)
    xs = _static_shape(x)
    if xs is None:
        return noise_shape
    if None in noise_shape and len(noise_shape) != len(xs):
        raise ValueError(f"dropout: noise_shape {list(noise_shape)} has None entries, so it "
                         f"must have the rank of x (shape {x.shape}).")
    resolved = _noise_dims(xs, noise_shape)
    n = max(len(resolved), len(xs))
    a = (1,) * (n - len(resolved)) + resolved
    b = (1,) * (n - len(xs)) + xs
    if len(resolved) > len(xs) or any(
            p is not None and q is not None and p != q and p != 1 for p, q in zip(a, b)):
        raise InvalidArgumentError(f"dropout: noise_shape {list(noise_shape)} does not "
                                   f"broadcast to the shape of x {x.shape}: each dimension "
                                   f"must be 1 or x's. [Op:dropout]")
    return noise_shape


# -- stop_gradient ----------------------------------------------------------------------------
@primitive("stop_gradient", shape=rules.same_shape, differentiable=False)
def _stop_gradient(xp, x):
    return x


def stop_gradient(input, name=None):
    """The same value, with no gradient flowing back through it."""
    return run(_stop_gradient, (convert_to_tensor(input),))
