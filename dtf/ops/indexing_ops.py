"""Indexing ops: `tensor[key]` (strided slice), slice, strided_slice, gather, gather_nd,
scatter_nd, tensor_scatter_nd_*, boolean_mask, one_hot.

Index-taking primitives check their indices' range in the impl (as TensorFlow's CPU kernels
do) and raise `InvalidArgumentError` naming the op, the shapes and the dtypes.
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.array_ops import reshape
from dtf.ops.array_utils import (
    _axis,
    _check_nd_range,
    _check_range,
    _describe,
    _dims,
    _index_tensor,
    _int_scalar,
    _prod,
    _scalar,
    _scatter_add,
    _tensor,
)
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.dynamic_shapes import (
    fully_known,
    host_ints,
    runtime_shape,
    shape_arg,
    shape_of,
    static_dims,
)
from dtf.ops.registry import Spec, primitive, run
from dtf.ops.slicing_ops import (  # noqa: F401  (re-exported: indexing's public names)
    _strided_slice,
    _strided_slice_grad,
    decode_key,
    encode_key,
    getitem,
    slice,
    strided_slice,
)
from dtf.tensor import Tensor

__all__ = [
    "boolean_mask",
    "gather",
    "gather_nd",
    "one_hot",
    "scatter_nd",
    "slice",
    "strided_slice",
    "tensor_scatter_nd_add",
    "tensor_scatter_nd_sub",
    "tensor_scatter_nd_update",
]

# -- gather and its adjoint ---------------------------------------------------------------------
def _gather_rule(params, indices, axis, batch_dims):
    if params.shape is None or indices.shape is None:
        return Spec(None, params.dtype)
    return Spec(params.shape[:axis] + indices.shape[batch_dims:] + params.shape[axis + 1:],
                params.dtype)


def _gather_layout(shape, axis, batch_dims):
    b = _prod(shape[:batch_dims])
    pre = _prod(shape[batch_dims:axis])
    return b, pre


@primitive("gather", shape=_gather_rule)
def _gather(xp, params, indices, axis, batch_dims):
    n = params.shape[axis]
    _check_range(xp, indices, n, "gather", "GatherV2", params)
    if batch_dims == 0:
        return _scalar(xp.take(params, indices, axis=axis))
    b, pre = _gather_layout(params.shape, axis, batch_dims)
    post = params.shape[axis + 1:]
    ishape = indices.shape[batch_dims:]
    p = params.reshape((b, pre, n, _prod(post)))
    i = indices.reshape((b, 1, _prod(ishape)))
    out = p[xp.arange(b)[:, None, None], xp.arange(pre)[None, :, None], i]
    return out.reshape(params.shape[:axis] + ishape + post)


@_gather.def_vjp
def _(g, out, params, indices, axis, batch_dims):
    return gather_grad(g, indices, params, axis, batch_dims), None


def gather_grad(g, indices, params, axis, batch_dims):
    """The adjoint of `gather(params, indices)`: `params`' dim `axis` is read at run time when
    it is unknown now."""
    dims = static_dims(params)
    dim = None if dims is None else dims[axis]
    if dim is not None:
        return run(_gather_grad, (g, indices), axis=axis, batch_dims=batch_dims, dim=dim)
    return run(_gather_grad, (g, indices, shape_of(params)), axis=axis, batch_dims=batch_dims,
               dim=None)


def _gather_grad_rule(g, indices, *runtime, axis, batch_dims, dim):
    if g.shape is None or indices.shape is None:
        return Spec(None, g.dtype)
    ni = len(indices.shape) - batch_dims
    return Spec(g.shape[:axis] + (dim,) + g.shape[axis + ni:], g.dtype)


@primitive("gather_grad", shape=_gather_grad_rule)
def _gather_grad(xp, g, indices, *runtime, axis, batch_dims, dim):
    # The adjoint of gather: sums the slices of `g` into the rows `indices` picked (an
    # unsorted-segment-sum); repeated indices accumulate. Without a static `dim`, the params'
    # shape vector comes as an extra input.
    if runtime:
        dim = host_ints(runtime[0])[axis]
    ni = indices.ndim - batch_dims
    out_shape = g.shape[:axis] + (dim,) + g.shape[axis + ni:]
    b, pre = _gather_layout(out_shape, axis, batch_dims)
    post = _prod(out_shape[axis + 1:])
    k = _prod(indices.shape[batch_dims:])
    out = xp.zeros((b, pre, dim, post), dtype=g.dtype)
    gv = g.reshape((b, pre, k, post))
    if b == 1 and pre == 1:
        _scatter_add(xp, out[0, 0], indices.reshape(-1), gv[0, 0])
    else:
        key = (xp.arange(b)[:, None, None], xp.arange(pre)[None, :, None],
               indices.reshape((b, 1, k)))
        _scatter_add(xp, out, key, gv)
    return out.reshape(out_shape)


@_gather_grad.def_vjp
def _(gg, out, g, indices, *runtime, axis, batch_dims, dim):
    return (run(_gather, (gg, indices), axis=axis, batch_dims=batch_dims), None) + \
        (None,) * len(runtime)


def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """Gathers slices of `params` along `axis` at `indices`.

    The result has shape `params.shape[:axis] + indices.shape[batch_dims:] +
    params.shape[axis + 1:]`; the first `batch_dims` dims of params and indices are batch dims,
    gathered element by element. Indices must be in [0, params.shape[axis]).

    Example:
        >>> dtf.gather(dtf.constant([10, 20, 30]), [2, 0]).numpy()
        array([30, 10], dtype=int32)
    """
    p = _tensor(params)
    idx = _index_tensor(indices, "gather")
    pd, idims = _dims(p), _dims(idx)
    ir = len(idims)
    bd = _int_scalar(batch_dims, "gather", "batch_dims")
    if bd < 0:
        bd += ir
    if not 0 <= bd <= ir:
        raise ValueError(f"gather: batch_dims={batch_dims} must be in [{-ir}, {ir}] for indices "
                         f"of rank {ir}.")
    if not pd:
        raise InvalidArgumentError(f"gather: params must be at least 1 dimensional, got a "
                                   f"{_describe(p)}. [Op:GatherV2]")
    axis = bd if axis is None else _axis(axis, len(pd), "gather")
    if bd > axis:
        raise ValueError(f"gather: batch_dims ({bd}) must be less than or equal to axis "
                         f"({axis}).")
    for i in range(bd):
        if pd[i] is not None and idims[i] is not None and pd[i] != idims[i]:
            raise InvalidArgumentError(
                f"gather: params.shape[{i}] = {pd[i]} should equal indices.shape[{i}] = "
                f"{idims[i]} (batch_dims={bd}; params {_describe(p)}, indices {_describe(idx)})."
                " [Op:GatherV2]")
    return run(_gather, (p, idx), axis=axis, batch_dims=bd)


# -- gather_nd / scatter_nd ---------------------------------------------------------------------
def _nd_key(xp, indices, batch_dims, b):
    """The advanced-index tuple that picks, in params reshaped to (b,) + params.shape[b_dims:],
    the element or slice each index vector names."""
    k = indices.shape[-1]
    m = _prod(indices.shape[batch_dims:-1])
    idx = indices.reshape((b, m, k))
    lead = xp.broadcast_to(xp.arange(b)[:, None], (b, m))
    return (lead,) + tuple(idx[..., j] for j in range(k))


def _gather_nd_rule(params, indices, batch_dims):
    if params.shape is None or indices.shape is None or indices.shape[-1] is None:
        return Spec(None, params.dtype)
    k = indices.shape[-1]
    return Spec(indices.shape[:-1] + params.shape[batch_dims + k:], params.dtype)


@primitive("gather_nd", shape=_gather_nd_rule)
def _gather_nd(xp, params, indices, batch_dims):
    k = indices.shape[-1]
    _check_nd_range(xp, indices, params.shape[batch_dims:batch_dims + k], "gather_nd",
                    "GatherNd", "param", ("params", params), ("indices", indices))
    rest = params.shape[batch_dims + k:]
    if batch_dims == 0 and k:
        return _scalar(params[tuple(xp.moveaxis(indices, -1, 0))])
    b = _prod(params.shape[:batch_dims])
    p = params.reshape((b,) + params.shape[batch_dims:])
    out = p[_nd_key(xp, indices, batch_dims, b)]
    return _scalar(out.reshape(indices.shape[:-1] + rest))


@_gather_nd.def_vjp
def _(g, out, params, indices, batch_dims):
    dims = static_dims(params)
    if fully_known(dims):
        return run(_scatter_nd, (indices, g), shape=tuple(dims), batch_dims=batch_dims), None
    return run(_scatter_nd, (indices, g, shape_of(params)), shape=dims,
               batch_dims=batch_dims), None


def _scatter_nd_rule(indices, updates, *runtime, shape, batch_dims):
    if shape is None:
        n = runtime[0].shape[0] if runtime[0].shape is not None else None
        return Spec(None if n is None else (None,) * n, updates.dtype)
    return Spec(tuple(shape), updates.dtype)


@primitive("scatter_nd", shape=_scatter_nd_rule)
def _scatter_nd(xp, indices, updates, *runtime, shape, batch_dims):
    shape = runtime_shape(shape, runtime)  # dims None in the attribute come from the input
    k = indices.shape[-1]
    _check_nd_range(xp, indices, shape[batch_dims:batch_dims + k], "scatter_nd", "ScatterNd",
                    "output", ("indices", indices), ("updates", updates))
    b = _prod(shape[:batch_dims])
    out = xp.zeros((b,) + tuple(shape[batch_dims:]), dtype=updates.dtype)
    m = _prod(indices.shape[batch_dims:-1])
    upd = updates.reshape((b, m) + tuple(shape[batch_dims + k:]))
    _scatter_add(xp, out, _nd_key(xp, indices, batch_dims, b), upd)
    return _scalar(out.reshape(shape))


@_scatter_nd.def_vjp
def _(g, out, indices, updates, *runtime, shape, batch_dims):
    return (None, run(_gather_nd, (g, indices), batch_dims=batch_dims)) + (None,) * len(runtime)


def gather_nd(params, indices, batch_dims=0, name=None, bad_indices_policy=""):
    """Gathers slices of `params` named by the index vectors in the last axis of `indices`.

    The result has shape `indices.shape[:-1] + params.shape[batch_dims + indices.shape[-1]:]`.

    Example:
        >>> dtf.gather_nd(dtf.constant([[1, 2], [3, 4]]), [[0, 1], [1, 0]]).numpy()
        array([2, 3], dtype=int32)
    """
    p = _tensor(params)
    idx = _index_tensor(indices, "gather_nd")
    pd, idims = _dims(p), _dims(idx)
    bd = _int_scalar(batch_dims, "gather_nd", "batch_dims")
    if not idims:
        raise InvalidArgumentError(f"gather_nd: indices must be at least rank 1 (index vectors "
                                   f"in the last axis), got {_describe(idx)}. [Op:GatherNd]")
    if bd < 0 or bd >= len(idims):
        raise ValueError(f"gather_nd: batch_dims={bd} must be in [0, {len(idims) - 1}) for "
                         f"indices of rank {len(idims)}.")
    k = idims[-1]
    if k is not None and bd + k > len(pd):
        raise InvalidArgumentError(
            f"gather_nd: index innermost dimension length must be <= params rank; saw: {k} vs. "
            f"{len(pd) - bd} (params {_describe(p)}, indices {_describe(idx)}, batch_dims={bd})"
            " [Op:GatherNd]")
    _check_batch("gather_nd", pd, idims, bd, "params", "indices")
    return run(_gather_nd, (p, idx), batch_dims=bd)


def _check_batch(op, a, b, bd, an, bn):
    for i in range(bd):
        if a[i] is not None and b[i] is not None and a[i] != b[i]:
            raise InvalidArgumentError(f"{op}: batch dimension {i} differs: {an}.shape = "
                                       f"{list(a)}, {bn}.shape = {list(b)} (batch_dims={bd}).")


def _check_updates(op, tf_op, idims, shape, udims):
    """TensorFlow's rule: updates.shape == indices.shape[:-1] + shape[indices.shape[-1]:]."""
    if not idims:
        raise InvalidArgumentError(f"{op}: indices must be at least rank 1 (index vectors in the "
                                   f"last axis), got shape {list(idims)}. [Op:{tf_op}]")
    k = idims[-1]
    if k is not None and k > len(shape):
        raise InvalidArgumentError(
            f"{op}: the index depth indices.shape[-1] = {k} is larger than the rank of the "
            f"output shape {list(shape)} (indices shape {list(idims)}). [Op:{tf_op}]")
    if k is None:
        return
    expected = tuple(idims[:-1]) + tuple(shape[k:])
    if len(expected) != len(udims) or any(
            e is not None and u is not None and e != u for e, u in zip(expected, udims)):
        raise InvalidArgumentError(
            f"{op}: updates must have shape indices.shape[:-1] + shape[indices.shape[-1]:] = "
            f"{list(expected)}, got updates shape {list(udims)} (indices shape {list(idims)}, "
            f"output shape {list(shape)}). [Op:{tf_op}]")


def scatter_nd(indices, updates, shape, bad_indices_policy="", name=None):
    """A zero tensor of `shape` with `updates` added at `indices` (repeats are summed).

    Example:
        >>> dtf.scatter_nd([[1], [3]], [9., 10.], [5]).numpy()
        array([ 0.,  9.,  0., 10.,  0.], dtype=float32)
    """
    idx = _index_tensor(indices, "scatter_nd")
    upd = _tensor(updates)
    dims, runtime = shape_arg(shape, "scatter_nd")
    if dims is None:
        return run(_scatter_nd, (idx, upd, runtime), shape=None, batch_dims=0)
    if any(d is not None and d < 0 for d in dims):
        raise InvalidArgumentError(f"scatter_nd: shape {list(dims)} must be non-negative.")
    _check_updates("scatter_nd", "ScatterNd", _dims(idx), dims, _dims(upd))
    if runtime is not None:
        return run(_scatter_nd, (idx, upd, runtime), shape=dims, batch_dims=0)
    return run(_scatter_nd, (idx, upd), shape=dims, batch_dims=0)


def _tensor_scatter_rule(tensor, indices, updates):
    return Spec(tensor.shape, tensor.dtype)


def _check_tensor_scatter(xp, tensor, indices, updates, op, tf_op):
    _check_nd_range(xp, indices, tensor.shape[:indices.shape[-1]], op, tf_op, "tensor",
                    ("tensor", tensor), ("indices", indices), ("updates", updates))
    return tuple(xp.moveaxis(indices, -1, 0))


@primitive("tensor_scatter_nd_update", shape=_tensor_scatter_rule)
def _tensor_scatter_nd_update(xp, tensor, indices, updates):
    key = _check_tensor_scatter(xp, tensor, indices, updates, "tensor_scatter_nd_update",
                                "TensorScatterUpdate")
    out = xp.array(tensor, copy=True)
    out[key] = updates
    return out


@_tensor_scatter_nd_update.def_vjp
def _(g, out, tensor, indices, updates):
    from dtf.ops.creation_ops import zeros_like

    gt = run(_tensor_scatter_nd_update, (g, indices, zeros_like(updates)))
    return gt, None, run(_gather_nd, (g, indices), batch_dims=0)


@primitive("tensor_scatter_nd_add", shape=_tensor_scatter_rule)
def _tensor_scatter_nd_add(xp, tensor, indices, updates):
    key = _check_tensor_scatter(xp, tensor, indices, updates, "tensor_scatter_nd_add",
                                "TensorScatterAdd")
    out = xp.array(tensor, copy=True)
    _scatter_add(xp, out, key, updates)
    return out


@_tensor_scatter_nd_add.def_vjp
def _(g, out, tensor, indices, updates):
    return g, None, run(_gather_nd, (g, indices), batch_dims=0)


def _tensor_scatter_args(op, tf_op, tensor, indices, updates):
    t = _tensor(tensor)
    idx = _index_tensor(indices, op)
    upd = convert_to_tensor(updates, dtype_hint=t.dtype) if not isinstance(updates, Tensor) \
        else updates
    if upd.dtype != t.dtype:
        raise InvalidArgumentError(f"{op}: updates have dtype {upd.dtype.name} but the tensor "
                                   f"has {t.dtype.name}; cast one of them. [Op:{tf_op}]")
    dims = _dims(t)
    _check_updates(op, tf_op, _dims(idx), dims, _dims(upd))
    return t, idx, upd


def tensor_scatter_nd_update(tensor, indices, updates, name=None):
    """A copy of `tensor` with `updates` written at `indices` (index vectors, last axis).

    Example:
        >>> dtf.tensor_scatter_nd_update([1, 2, 3], [[0], [2]], [9, 8]).numpy()
        array([9, 2, 8], dtype=int32)
    """
    args = _tensor_scatter_args("tensor_scatter_nd_update", "TensorScatterUpdate", tensor,
                                indices, updates)
    return run(_tensor_scatter_nd_update, args)


def tensor_scatter_nd_add(tensor, indices, updates, bad_indices_policy="", name=None):
    """A copy of `tensor` with `updates` added at `indices` (repeats accumulate)."""
    args = _tensor_scatter_args("tensor_scatter_nd_add", "TensorScatterAdd", tensor, indices,
                                updates)
    return run(_tensor_scatter_nd_add, args)


def tensor_scatter_nd_sub(tensor, indices, updates, bad_indices_policy="", name=None):
    """A copy of `tensor` with `updates` subtracted at `indices` (repeats accumulate)."""
    from dtf.ops.math_ops import negative

    t, idx, upd = _tensor_scatter_args("tensor_scatter_nd_sub", "TensorScatterSub", tensor,
                                       indices, updates)
    return run(_tensor_scatter_nd_add, (t, idx, negative(upd)))


def scatter_nd_key(indices: np.ndarray, shape: tuple, updates_shape: tuple, op: str) -> tuple:
    """The NumPy advanced index for `new[key] = updates` of a Variable's scatter_nd_* methods.

    Checks that `updates_shape == indices.shape[:-1] + shape[indices.shape[-1]:]` and that every
    index vector lies inside `shape`; raises InvalidArgumentError naming `op` otherwise.
    """
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise InvalidArgumentError(f"{op}: indices must be integers, got {indices.dtype.name} "
                                   f"{list(indices.shape)}.")
    shape = tuple(int(d) for d in shape)
    _check_updates(op, op, indices.shape, shape, tuple(updates_shape))
    _check_nd_range(np, indices, shape[:indices.shape[-1]], op, op, "variable",
                    ("indices", indices))
    return tuple(np.moveaxis(indices, -1, 0))


# -- boolean_mask -------------------------------------------------------------------------------
def _is_ragged(x) -> bool:
    return type(x).__name__ == "RaggedTensor" and hasattr(x, "_dtf_components")


def boolean_mask(tensor, mask, axis=None, name="boolean_mask"):
    """The slices of `tensor` where `mask` is true: `tensor.shape[axis:axis + mask.ndim]` must
    equal `mask.shape`; those dims become one, of length `count_nonzero(mask)`.

    Example:
        >>> dtf.boolean_mask(dtf.constant([1, 2, 3]), [True, False, True]).numpy()
        array([1, 3], dtype=int32)
    """
    from dtf.ops.math_ops import where

    if _is_ragged(tensor) or _is_ragged(mask):  # TensorFlow dispatches to tf.ragged's
        from dtf.ragged.ragged_mask import boolean_mask as ragged_boolean_mask

        if axis not in (None, 0):
            raise ValueError(f"boolean_mask: a RaggedTensor is masked from axis 0, got "
                             f"axis={axis}.")
        return ragged_boolean_mask(tensor, mask)
    t = _tensor(tensor)
    m = convert_to_tensor(mask)
    if m.dtype != dtypes.bool:
        raise TypeError(f"boolean_mask: mask must be a bool tensor, got {m.dtype.name}.")
    td, md = _dims(t), _dims(m)
    k = len(md)
    if k == 0:
        raise ValueError("boolean_mask: mask cannot be scalar.")
    axis = 0 if axis is None else _int_scalar(axis, "boolean_mask", "axis")
    if axis < 0:
        axis += len(td)
    if not 0 <= axis <= len(td) - k:
        raise ValueError(f"boolean_mask: mask of rank {k} at axis {axis} does not fit a tensor "
                         f"of shape {list(td)}.")
    part = td[axis:axis + k]
    if any(a is not None and b is not None and a != b for a, b in zip(part, md)):
        raise ValueError(f"boolean_mask: Shapes {tuple(part)} and {tuple(md)} are incompatible: "
                         f"the mask's shape must equal dims {axis}..{axis + k - 1} of the "
                         f"tensor's shape {list(td)}.")
    if k > 1:  # the masked dims become one
        outer = td[:axis] + td[axis + k:]
        if None in outer:  # the other dims are read at run time
            from dtf.ops.array_ops import concat

            dims = shape_of(t)
            merged = concat([dims[:axis], convert_to_tensor(np.array([-1], np.int32)),
                             dims[axis + k:]], 0)
            t = reshape(t, merged)
        else:
            t = reshape(t, td[:axis] + (-1,) + td[axis + k:])
        m = reshape(m, (-1,))
    idx = reshape(where(m), (-1,))
    return gather(t, idx, axis=axis)


# -- one_hot ------------------------------------------------------------------------------------
def _one_hot_rule(indices, *runtime, depth, on_value, off_value, axis, dtype):
    if indices.shape is None:
        return Spec(None, dtype)
    out = list(indices.shape)
    out.insert(axis, depth)
    return Spec(tuple(out), dtype)


@primitive("one_hot", shape=_one_hot_rule, differentiable=False)
def _one_hot(xp, indices, *runtime, depth, on_value, off_value, axis, dtype):
    if runtime:  # a depth known only when the graph runs (None in the attribute)
        depth = int(runtime[0])
        if depth < 0:
            raise InvalidArgumentError(f"one_hot: depth must be non-negative, got {depth}. "
                                       "[Op:OneHot]")
    shape = [1] * (indices.ndim + 1)
    shape[axis] = depth
    hot = xp.expand_dims(indices, axis) == xp.arange(depth).reshape(shape)
    np_type = dtype._np.type
    return xp.where(hot, np_type(on_value), np_type(off_value)).astype(dtype._np, copy=False)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """One-hot vectors: `on_value` at each index, `off_value` elsewhere (an index outside
    [0, depth) gives a row of `off_value`). The new axis of size `depth` goes at `axis`.

    Example:
        >>> dtf.one_hot([0, 2], 3).numpy()
        array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    idx = _index_tensor(indices, "one_hot")
    runtime = ()
    if getattr(depth, "_is_symbolic", False):  # `dtf.shape(logits)[-1]` in a traced function
        from dtf.ops.dynamic_shapes import static_value

        if depth.shape.rank != 0 or not depth.dtype.is_integer:
            raise TypeError(f"one_hot: depth must be a scalar int, got {depth!r}.")
        known = static_value(depth)
        depth, runtime = (known, ()) if known is not None else (None, (depth,))
    else:
        depth = _int_scalar(depth, "one_hot", "depth")
    if depth is not None and depth < 0:
        raise InvalidArgumentError(f"one_hot: depth must be non-negative, got {depth}. "
                                   "[Op:OneHot]")
    given = [convert_to_tensor(v) for v in (on_value, off_value)
             if v is not None and (isinstance(v, Tensor) or getattr(v, "_is_dtf_variable", False)
                                   or isinstance(v, (np.ndarray, np.generic)))]
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
    elif given:
        dtype = given[0].dtype
    elif on_value is not None:
        dtype = convert_to_tensor(on_value).dtype
    elif off_value is not None:
        dtype = convert_to_tensor(off_value).dtype
    else:
        dtype = dtypes.float32
    values = []
    for what, v, default in (("on_value", on_value, 1), ("off_value", off_value, 0)):
        if v is None:
            values.append(default)
            continue
        if (isinstance(v, Tensor) or getattr(v, "_is_dtf_variable", False)) and v.dtype != dtype:
            raise TypeError(f"one_hot: dtype of {what} ({v.dtype.name}) must match dtype "
                            f"parameter ({dtype.name}).")
        t = convert_to_tensor(v, dtype=dtype)
        if t.ndim != 0:
            raise InvalidArgumentError(f"one_hot: {what} must be a scalar, got shape {t.shape}.")
        values.append(t.numpy().item())
    r = idx.ndim
    if axis is None or axis == -1:
        axis = r
    elif not 0 <= axis <= r:
        raise InvalidArgumentError(f"one_hot: Expected axis to be -1 or between [0, {r}). But "
                                   f"received: {axis} (indices {_describe(idx)}). [Op:OneHot]")
    return run(_one_hot, (idx,) + runtime, depth=depth, on_value=values[0],
               off_value=values[1], axis=int(axis), dtype=dtype)
