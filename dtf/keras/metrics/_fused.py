"""A fused primitive for the hottest metric: sparse categorical accuracy.

`SparseCategoricalAccuracy.update_state(labels, logits)` runs in every step of the seeds'
training loops. Composed of ops it is a label cast, an argmax, a comparison and a cast to
float, then a sum. Promoted to one non-differentiable primitive, for speed:

`sparse_categorical_matches(scores, labels, dtype, reduce)`: 1.0 where argmax(scores, -1) (the
first maximum) equals the label, else 0.0, in `dtype`; with `reduce`, their sum (a scalar).
Labels may be of any integer or float dtype (a float label matches when it equals the index),
of shape scores.shape[:-1].
"""

from __future__ import annotations

from dtf import dtypes
from dtf.ops.registry import Spec, primitive, run

__all__ = ["sparse_categorical_matches"]


def _matches_rule(scores, labels, dtype, reduce):
    if reduce:
        return Spec((), dtype)
    if labels.shape is not None:
        return Spec(labels.shape, dtype)
    return Spec(None if scores.shape is None else scores.shape[:-1], dtype)


@primitive("sparse_categorical_matches", shape=_matches_rule, differentiable=False)
def _sparse_categorical_matches(xp, scores, labels, dtype, reduce):
    hits = scores.argmax(axis=-1) == labels
    if reduce:
        return dtype.as_numpy_dtype(hits.sum())
    return hits.astype(dtype.as_numpy_dtype)


def sparse_categorical_matches(scores, labels, dtype=dtypes.float32, reduce=False):
    """1.0 where argmax(scores, -1) equals the label, else 0.0 (their sum with `reduce`).

    Shapes are the caller's to check: `labels` must have shape scores.shape[:-1].

    Example:
        >>> sparse_categorical_matches(dtf.constant([[0.1, 0.9], [0.8, 0.2]]),
        ...                            dtf.constant([1, 1])).numpy()
        array([1., 0.], dtype=float32)
    """
    return run(_sparse_categorical_matches, (scores, labels), dtype=dtypes.as_dtype(dtype),
               reduce=bool(reduce))
