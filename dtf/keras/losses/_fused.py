"""A fused primitive for the hottest loss: mean sparse categorical cross-entropy from logits.

`SparseCategoricalCrossentropy(from_logits=True)(labels, logits)` runs in every step of the
seeds' training loops. Composed of `sparse_softmax_cross_entropy_with_logits`, a label cast, a
sum and a division, it costs four ops forward and about ten backward (the one-hot, softmax and
broadcasts of their VJPs). Promoted to one primitive, for speed:

- `sparse_xent_reduce(logits, labels, divisor)`: sum(-log_softmax(logits)[labels]) / divisor,
  computed exactly as the unfused ops compute it (max-shifted logsumexp per row in float32, or
  float32 for float16, summed, divided), so the value is bit-identical; labels of any integer
  dtype, of shape logits.shape[:-1] (or with a trailing 1);
- its VJP `sparse_xent_reduce_grad(g, logits, labels, divisor)`:
  (softmax(logits) - one_hot(labels)) * g / divisor in one pass; that primitive's own VJP is
  written in dtf ops, so second-order gradients work.
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops import nn_ops
from dtf.ops.creation_ops import cast
from dtf.ops.indexing_ops import one_hot
from dtf.ops.reduce_ops import reduce_sum
from dtf.ops.registry import Spec, primitive, run

__all__ = ["sparse_xent_reduce"]


def _rows(xp, logits, labels):
    """(logits as [rows, classes], in float32 for float16; labels as [rows] int64), labels
    checked to lie in [0, classes)."""
    classes = logits.shape[-1]
    flat = labels.reshape(-1)
    if flat.size:
        # one reduction checks both bounds: negatives viewed as unsigned are huge
        as_unsigned = flat if flat.dtype.kind == "u" else flat.view(flat.dtype.str.replace("i", "u"))
        if as_unsigned.max() >= classes:
            bad = flat[(flat < 0) | (flat >= classes)][0]
            shown = " ".join(str(v) for v in flat[:10].tolist())
            raise InvalidArgumentError(
                f"sparse_categorical_crossentropy: Received a label value of {bad} which is "
                f"outside the valid range of [0, {classes}).  Label values: {shown} (logits "
                f"shape {list(logits.shape)}). [Op:SparseSoftmaxCrossEntropyWithLogits]")
    w = logits.astype(np.float32) if logits.dtype == np.float16 else logits
    return w.reshape(-1, classes), flat


def _reduce_rule(logits, labels, divisor):
    return Spec((), logits.dtype)


@primitive("sparse_xent_reduce", shape=_reduce_rule)
def _sparse_xent_reduce(xp, logits, labels, divisor):
    w, idx = _rows(xp, logits, labels)
    if w.shape[0] == 0:
        return xp.asarray(0.0, dtype=logits.dtype)[()]
    # the same operations, in the same order, as `sparse_softmax_cross_entropy_with_logits`
    shifted = w - w.max(axis=-1, keepdims=True)
    log_sum = xp.log(xp.exp(shifted).sum(axis=-1))
    picked = shifted[xp.arange(w.shape[0]), idx]
    per_row = (log_sum - picked).astype(logits.dtype, copy=False)
    return per_row.sum() / logits.dtype.type(divisor)


@_sparse_xent_reduce.def_vjp
def _(g, out, logits, labels, divisor):
    return run(_sparse_xent_reduce_grad, (g, logits, labels), divisor=divisor), None


def _grad_rule(g, logits, labels, divisor):
    return Spec(logits.shape, logits.dtype)


@primitive("sparse_xent_reduce_grad", shape=_grad_rule)
def _sparse_xent_reduce_grad(xp, g, logits, labels, divisor):
    w, idx = _rows(xp, logits, labels)
    shifted = w - w.max(axis=-1, keepdims=True)
    e = xp.exp(shifted)
    probs = e / e.sum(axis=-1, keepdims=True)
    probs[xp.arange(w.shape[0]), idx] -= 1.0
    scale = (g / logits.dtype.type(divisor)).astype(probs.dtype)
    return (probs * scale).astype(logits.dtype, copy=False).reshape(logits.shape)


@_sparse_xent_reduce_grad.def_vjp
def _(gg, out, g, logits, labels, divisor):
    # out = c * (softmax(x) - one_hot), c = g / divisor
    classes = logits.shape[-1]
    if tuple(labels.shape) != tuple(logits.shape[:-1]):
        labels = labels[..., 0]
    if labels.dtype not in (dtypes.int32, dtypes.int64):
        labels = cast(labels, dtypes.int64)
    probs = nn_ops.softmax(logits)
    target = one_hot(labels, classes, dtype=logits.dtype)
    grad_g = reduce_sum(gg * (probs - target)) / float(divisor)
    weighted = gg * probs
    grad_logits = (g / float(divisor)) * (weighted - probs * reduce_sum(weighted, axis=-1,
                                                                         keepdims=True))
    return grad_g, grad_logits, None


def sparse_xent_reduce(logits, labels, divisor):
    """sum over all rows of -log(softmax(logits)[label]), divided by `divisor` (a positive
    float): the mean (divisor = number of labels) or the sum (divisor = 1.0).

    `logits` is a float Tensor [..., classes], `labels` an integer Tensor of shape
    logits.shape[:-1] (or with a trailing 1); shapes are checked by the caller.

    Example:
        >>> float(sparse_xent_reduce(dtf.zeros([2, 2]), dtf.constant([0, 1]), 2.0))
        0.6931471...
    """
    return run(_sparse_xent_reduce, (logits, labels), divisor=float(divisor))
