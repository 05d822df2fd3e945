"""Op cases for the array family (dtf/ops/array_ops.py): shapes, joins, indexing, gather and
scatter, padding, sorting, shape queries."""

from __future__ import annotations

import numpy as np

import dtf
from dtf.ops import array_ops, indexing_ops, sort_ops
from dtf.ops.registry import run
from dtf.testing.op_cases import OpCase, rand

i32 = np.int32
i64 = np.int64


def _arr(values, dtype):
    return np.array(values, dtype=dtype)


def _np_gather(p, idx, axis, batch_dims=0):
    if batch_dims == 0:
        return np.take(p, idx, axis=axis)
    return np.stack([_np_gather(p[b], idx[b], axis - 1, batch_dims - 1) for b in range(len(p))])


def _np_gather_nd(p, idx):
    return p[tuple(np.moveaxis(idx, -1, 0))]


def _np_scatter_nd(idx, upd, shape):
    out = np.zeros(shape, dtype=upd.dtype)
    np.add.at(out, tuple(np.moveaxis(idx, -1, 0)), upd)
    return out


def _np_mirror_pad_grad(g, paddings, mode):
    # the adjoint of mirror-pad, by brute force: pad an index map, then sum g per source index
    shape = tuple(d - lo - hi for d, (lo, hi) in zip(g.shape, paddings))
    ids = np.arange(int(np.prod(shape))).reshape(shape)
    padded = np.pad(ids, paddings, mode=mode.lower())
    return np.bincount(padded.ravel(), weights=g.ravel(), minlength=ids.size).reshape(shape)


def _np_top_k(x, k):
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k].astype(i32)
    return np.take_along_axis(x, idx, axis=-1), idx


def _np_one_hot(idx, depth, on=1.0, off=0.0, axis=-1, dtype=np.float32):
    out = np.where(idx[..., None] == np.arange(depth), on, off).astype(dtype)
    return np.moveaxis(out, -1, axis)


_M = rand(3, 4)
_T = rand(2, 3, 4)
_INTS = np.arange(12, dtype=i32).reshape(3, 4)
_GI = _arr([2, 0, 2, 1], i32)  # repeated indices: gather's gradient must accumulate

CASES = [
    # -- reshape / broadcast_to -----------------------------------------------------------------
    OpCase("reshape/2d", lambda x: dtf.reshape(x, [4, 3]), [_M], lambda x: x.reshape(4, 3)),
    OpCase("reshape/infer", lambda x: dtf.reshape(x, [-1, 2]), [_T], lambda x: x.reshape(-1, 2)),
    OpCase("reshape/to_scalar", lambda x: dtf.reshape(x, []), [rand(1, 1)],
           lambda x: x.reshape(())),
    OpCase("reshape/int", lambda x: dtf.reshape(x, [2, 6]), [_INTS], lambda x: x.reshape(2, 6),
           grad=False),
    OpCase("broadcast_like", array_ops.broadcast_like, [rand(1, 3), rand(2, 3)],
           lambda x, y: np.broadcast_to(x, y.shape), grad_inputs=(0,)),
    OpCase("broadcast_like/rank_up", array_ops.broadcast_like, [rand(4), rand(2, 3, 4)],
           lambda x, y: np.broadcast_to(x, y.shape), grad_inputs=(0,)),
    OpCase("broadcast_to/3d", lambda x: dtf.broadcast_to(x, [2, 3, 4]), [rand(3, 1)],
           lambda x: np.broadcast_to(x, (2, 3, 4))),
    OpCase("broadcast_to/scalar", lambda x: dtf.broadcast_to(x, [2, 2]), [rand()],
           lambda x: np.broadcast_to(x, (2, 2))),
    # -- transpose ------------------------------------------------------------------------------
    OpCase("transpose/default", lambda x: dtf.transpose(x), [_M], lambda x: x.T),
    OpCase("transpose/perm", lambda x: dtf.transpose(x, perm=[1, 2, 0]), [_T],
           lambda x: np.transpose(x, (1, 2, 0))),
    OpCase("transpose/negative_perm", lambda x: dtf.transpose(x, perm=[0, -1, -2]), [_T],
           lambda x: np.transpose(x, (0, 2, 1))),
    OpCase("transpose/int", lambda x: dtf.transpose(x), [_INTS], lambda x: x.T, grad=False),
    OpCase("transpose/conjugate",
           lambda x: dtf.transpose(x, conjugate=True),
           [(_M + 1j * rand(3, 4, seed=7)).astype(np.complex128)], lambda x: np.conj(x.T),
           grad=False),
    # -- expand_dims / squeeze ------------------------------------------------------------------
    OpCase("expand_dims/0", lambda x: dtf.expand_dims(x, 0), [_M], lambda x: x[None]),
    OpCase("expand_dims/-1", lambda x: dtf.expand_dims(x, -1), [_M], lambda x: x[..., None]),
    OpCase("expand_dims/scalar", lambda x: dtf.expand_dims(x, 0), [rand()], lambda x: x[None]),
    OpCase("squeeze/all", lambda x: dtf.squeeze(x), [rand(1, 3, 1, 2)],
           lambda x: np.squeeze(x)),
    OpCase("squeeze/axis", lambda x: dtf.squeeze(x, axis=[-1]), [rand(1, 3, 1)],
           lambda x: np.squeeze(x, axis=-1)),
    OpCase("squeeze/to_scalar", lambda x: dtf.squeeze(x), [rand(1, 1)],
           lambda x: np.squeeze(x)),
    OpCase("squeeze/bool", lambda x: dtf.squeeze(x, 0), [np.array([[True, False]])],
           lambda x: x[0], grad=False),
    # -- stack / unstack ------------------------------------------------------------------------
    OpCase("stack/axis0", lambda x, y: dtf.stack([x, y]), [_M, rand(3, 4, seed=1)],
           lambda x, y: np.stack([x, y])),
    OpCase("stack/axis_last", lambda x, y, z: dtf.stack([x, y, z], axis=-1),
           [rand(2, 3), rand(2, 3, seed=1), rand(2, 3, seed=2)],
           lambda x, y, z: np.stack([x, y, z], axis=-1)),
    OpCase("stack/int_and_python", lambda x: dtf.stack([x, [7, 8]], axis=1),
           [_arr([1, 2], i32)], lambda x: np.stack([x, _arr([7, 8], i32)], axis=1),
           grad=False),
    OpCase("unstack/axis0", lambda x: dtf.unstack(x), [_M], lambda x: list(x)),
    OpCase("unstack/axis1", lambda x: dtf.unstack(x, axis=1), [_T],
           lambda x: [x[:, i] for i in range(3)]),
    OpCase("unstack/one_used", lambda x: dtf.unstack(x, axis=-1)[2], [_M],
           lambda x: x[:, 2]),
    # -- concat / split -------------------------------------------------------------------------
    OpCase("concat/axis0", lambda x, y: dtf.concat([x, y], 0), [rand(2, 3), rand(1, 3)],
           lambda x, y: np.concatenate([x, y], 0)),
    OpCase("concat/axis_neg", lambda x, y, z: dtf.concat([x, y, z], axis=-1),
           [rand(2, 1), rand(2, 3), rand(2, 2)],
           lambda x, y, z: np.concatenate([x, y, z], -1)),
    OpCase("concat/int", lambda x, y: dtf.concat([x, y], 1), [_INTS, _INTS[:, :1]],
           lambda x, y: np.concatenate([x, y], 1), grad=False),
    OpCase("concat/empty_part", lambda x, y: dtf.concat([x, y], 0), [rand(0, 3), rand(2, 3)],
           lambda x, y: np.concatenate([x, y], 0)),
    OpCase("split/num", lambda x: dtf.split(x, 2, axis=1), [_M],
           lambda x: np.split(x, 2, axis=1)),
    OpCase("split/sizes", lambda x: dtf.split(x, [1, -1, 1], axis=-1), [_M],
           lambda x: np.split(x, [1, 3], axis=-1)),
    OpCase("split/one_used", lambda x: dtf.split(x, [2, 1])[1], [_M], lambda x: x[2:]),
    OpCase("split/int", lambda x: dtf.split(x, 3), [_INTS], lambda x: np.split(x, 3),
           grad=False),
    # -- tile -----------------------------------------------------------------------------------
    OpCase("tile/2d", lambda x: dtf.tile(x, [2, 3]), [rand(2, 2)], lambda x: np.tile(x, (2, 3))),
    OpCase("tile/ones", lambda x: dtf.tile(x, [1, 2, 1]), [rand(2, 1, 3)],
           lambda x: np.tile(x, (1, 2, 1))),
    OpCase("tile/int", lambda x: dtf.tile(x, [2]), [_arr([1, 2], i32)],
           lambda x: np.tile(x, 2), grad=False),
    # -- pad ------------------------------------------------------------------------------------
    OpCase("pad/constant", lambda x: dtf.pad(x, [[1, 0], [2, 1]]), [_M],
           lambda x: np.pad(x, [(1, 0), (2, 1)])),
    OpCase("pad/constant_value", lambda x: dtf.pad(x, [[0, 1], [1, 1]], constant_values=7),
           [_INTS], lambda x: np.pad(x, [(0, 1), (1, 1)], constant_values=7), grad=False),
    OpCase("pad/reflect", lambda x: dtf.pad(x, [[2, 1], [1, 3]], "REFLECT"), [_M],
           lambda x: np.pad(x, [(2, 1), (1, 3)], mode="reflect")),
    OpCase("pad/symmetric", lambda x: dtf.pad(x, [[3, 1], [0, 4]], mode="symmetric"), [_M],
           lambda x: np.pad(x, [(3, 1), (0, 4)], mode="symmetric")),
    OpCase("pad/mirror_pad_grad",
           lambda g: run(array_ops._mirror_pad_grad, (g,), paddings=((2, 1), (1, 3)),
                         mode="REFLECT"),
           [rand(6, 8)], lambda g: _np_mirror_pad_grad(g, ((2, 1), (1, 3)), "REFLECT")),
    OpCase("pad/mirror_pad_grad_symmetric",
           lambda g: run(array_ops._mirror_pad_grad, (g,), paddings=((3, 1), (0, 4)),
                         mode="SYMMETRIC"),
           [rand(7, 8)], lambda g: _np_mirror_pad_grad(g, ((3, 1), (0, 4)), "SYMMETRIC")),
    # -- gather ---------------------------------------------------------------------------------
    OpCase("gather/axis0_repeated", lambda p, i: dtf.gather(p, i), [_M, _GI],
           lambda p, i: np.take(p, i, axis=0)),
    OpCase("gather/axis1_2d_indices", lambda p, i: dtf.gather(p, i, axis=1),
           [_T, _arr([[0, 2], [2, 2]], i64)], lambda p, i: np.take(p, i, axis=1)),
    OpCase("gather/scalar_index", lambda p, i: dtf.gather(p, i, axis=-1), [_M, _arr(2, i32)],
           lambda p, i: np.take(p, i, axis=-1)),
    OpCase("gather/batch_dims", lambda p, i: dtf.gather(p, i, axis=2, batch_dims=1),
           [_T, _arr([[0, 0, 3], [2, 1, 1]], i32)],
           lambda p, i: _np_gather(p, i, 2, 1)),
    OpCase("gather/batch_dims_neg", lambda p, i: dtf.gather(p, i, batch_dims=-1),
           [_M, _arr([[1, 1], [0, 3], [2, 2]], i32)],
           lambda p, i: _np_gather(p, i, 1, 1)),
    OpCase("gather/int_params", lambda p, i: dtf.gather(p, i), [_INTS, _arr([2, 0], i32)],
           lambda p, i: p[i], grad=False),
    OpCase("gather/empty_indices", lambda p, i: dtf.gather(p, i), [_M, np.zeros(0, i32)],
           lambda p, i: p[i]),
    OpCase("gather/gather_grad",
           lambda g, i: run(indexing_ops._gather_grad, (g, i), axis=0, batch_dims=0, dim=4),
           [rand(5, 3), _arr([1, 3, 1, 0, 1], i32)],
           lambda g, i: _np_scatter_nd(i[:, None], g, (4, 3))),
    # -- gather_nd / scatter_nd -----------------------------------------------------------------
    OpCase("gather_nd/elements", lambda p, i: dtf.gather_nd(p, i),
           [_M, _arr([[0, 1], [2, 3], [0, 1]], i32)], _np_gather_nd),
    OpCase("gather_nd/slices", lambda p, i: dtf.gather_nd(p, i),
           [_T, _arr([[[1], [0]], [[1], [1]]], i64)], _np_gather_nd),
    OpCase("gather_nd/batch_dims", lambda p, i: dtf.gather_nd(p, i, batch_dims=1),
           [_T, _arr([[[1, 0], [2, 3]], [[0, 0], [0, 0]]], i32)],
           lambda p, i: np.stack([_np_gather_nd(p[b], i[b]) for b in range(2)])),
    OpCase("gather_nd/int", lambda p, i: dtf.gather_nd(p, i), [_INTS, _arr([[2, 1]], i32)],
           _np_gather_nd, grad=False),
    OpCase("scatter_nd/duplicates", lambda i, u: dtf.scatter_nd(i, u, [5]),
           [_arr([[1], [3], [1]], i32), rand(3)], lambda i, u: _np_scatter_nd(i, u, (5,))),
    OpCase("scatter_nd/slices", lambda i, u: dtf.scatter_nd(i, u, [4, 3]),
           [_arr([[0], [2]], i64), rand(2, 3)], lambda i, u: _np_scatter_nd(i, u, (4, 3))),
    OpCase("scatter_nd/int", lambda i, u: dtf.scatter_nd(i, u, [2, 2]),
           [_arr([[0, 1], [1, 0]], i32), _arr([5, 6], i32)],
           lambda i, u: _np_scatter_nd(i, u, (2, 2)), grad=False),
    OpCase("tensor_scatter_nd_update/elements",
           lambda t, i, u: dtf.tensor_scatter_nd_update(t, i, u),
           [_M, _arr([[0, 1], [2, 2]], i32), rand(2)],
           lambda t, i, u: _np_update(t, i, u)),
    OpCase("tensor_scatter_nd_update/rows",
           lambda t, i, u: dtf.tensor_scatter_nd_update(t, i, u),
           [_M, _arr([[2]], i32), rand(1, 4)], lambda t, i, u: _np_update(t, i, u)),
    OpCase("tensor_scatter_nd_add/duplicates",
           lambda t, i, u: dtf.tensor_scatter_nd_add(t, i, u),
           [_M, _arr([[0, 1], [0, 1], [1, 2]], i32), rand(3)],
           lambda t, i, u: t + _np_scatter_nd(i, u, t.shape)),
    OpCase("tensor_scatter_nd_sub/rows", lambda t, i, u: dtf.tensor_scatter_nd_sub(t, i, u),
           [_M, _arr([[1], [1]], i32), rand(2, 4)],
           lambda t, i, u: t - _np_scatter_nd(i, u, t.shape)),
    OpCase("tensor_scatter_nd_update/int",
           lambda t, i, u: dtf.tensor_scatter_nd_update(t, i, u),
           [_INTS, _arr([[1, 1]], i32), _arr([-5], i32)], lambda t, i, u: _np_update(t, i, u),
           grad=False),
    # -- boolean_mask ---------------------------------------------------------------------------
    OpCase("boolean_mask/1d", lambda t, m: dtf.boolean_mask(t, m),
           [_M, np.array([True, False, True])], lambda t, m: t[m]),
    OpCase("boolean_mask/2d_mask", lambda t, m: dtf.boolean_mask(t, m),
           [_T, np.array([[True, False, True], [False, False, True]])], lambda t, m: t[m]),
    OpCase("boolean_mask/axis1", lambda t, m: dtf.boolean_mask(t, m, axis=1),
           [_T, np.array([False, True, True])], lambda t, m: t[:, m]),
    OpCase("boolean_mask/none_true", lambda t, m: dtf.boolean_mask(t, m),
           [_M, np.zeros(3, bool)], lambda t, m: t[m]),
    # -- one_hot --------------------------------------------------------------------------------
    OpCase("one_hot/default", lambda i: dtf.one_hot(i, 4), [_arr([0, 3, -1, 5], i32)],
           lambda i: _np_one_hot(i, 4), grad=False),
    OpCase("one_hot/axis0_int64", lambda i: dtf.one_hot(i, 3, axis=0, dtype=dtf.int64),
           [_arr([[0, 2], [1, 1]], i64)], lambda i: _np_one_hot(i, 3, 1, 0, 0, i64),
           grad=False),
    OpCase("one_hot/on_off", lambda i: dtf.one_hot(i, 3, on_value=5, off_value=-1),
           [_arr([2, 0], i32)], lambda i: _np_one_hot(i, 3, 5, -1, -1, i32), grad=False),
    # -- shape queries --------------------------------------------------------------------------
    OpCase("shape/int32", lambda x: dtf.shape(x), [_T], lambda x: _arr(x.shape, i32),
           grad=False),
    OpCase("shape/int64_scalar", lambda x: dtf.shape(x, out_type=dtf.int64), [rand()],
           lambda x: np.zeros(0, i64), grad=False),
    OpCase("size/default", lambda x: dtf.size(x), [_T], lambda x: np.int32(x.size), grad=False),
    OpCase("size/int64", lambda x: dtf.size(x, out_type="int64"), [rand(0, 3)],
           lambda x: np.int64(0), grad=False),
    OpCase("rank/3", lambda x: dtf.rank(x), [_T], lambda x: np.int32(3), grad=False),
    OpCase("shape_n/two", lambda x, y: dtf.shape_n([x, y]), [_M, _T],
           lambda x, y: [_arr(x.shape, i32), _arr(y.shape, i32)], grad=False),
    OpCase("ensure_shape/partial", lambda x: dtf.ensure_shape(x, [None, 4]), [_M], lambda x: x),
    # -- reverse --------------------------------------------------------------------------------
    OpCase("reverse/one", lambda x: dtf.reverse(x, [1]), [_M], lambda x: x[:, ::-1]),
    OpCase("reverse/two_neg", lambda x: dtf.reverse(x, [0, -1]), [_T],
           lambda x: x[::-1, :, ::-1]),
    OpCase("reverse/int", lambda x: dtf.reverse(x, [0]), [_INTS], lambda x: x[::-1],
           grad=False),
    # -- sort / argsort / top_k -----------------------------------------------------------------
    OpCase("sort/ascending", lambda x: dtf.sort(x), [_M], lambda x: np.sort(x, -1)),
    OpCase("sort/descending_axis0", lambda x: dtf.sort(x, axis=0, direction="DESCENDING"),
           [_T], lambda x: -np.sort(-x, axis=0)),
    OpCase("sort/int", lambda x: dtf.sort(x, direction="DESCENDING"),
           [_arr([3, 1, 2, 3], i32)], lambda x: _arr([3, 3, 2, 1], i32), grad=False),
    OpCase("argsort/ascending", lambda x: dtf.argsort(x), [_M],
           lambda x: np.argsort(x, -1).astype(i32), grad=False),
    OpCase("argsort/descending_ties", lambda x: dtf.argsort(x, direction="DESCENDING"),
           [_arr([1, 3, 2, 3, 1], i32)], lambda x: _arr([1, 3, 2, 0, 4], i32), grad=False),
    OpCase("argsort/axis0_uint8", lambda x: dtf.argsort(x, axis=0),
           [_arr([[3, 0], [1, 255], [2, 7]], np.uint8)],
           lambda x: np.argsort(x, axis=0, kind="stable").astype(i32), grad=False),
    OpCase("top_k/k2", lambda x: tuple(sort_ops.top_k(x, k=2)), [_T],
           lambda x: _np_top_k(x, 2)),
    OpCase("top_k/default_k", lambda x: tuple(sort_ops.top_k(x)), [rand(5)],
           lambda x: _np_top_k(x, 1)),
    OpCase("top_k/ties_int", lambda x: tuple(sort_ops.top_k(x, 3)),
           [_arr([[1, 3, 2, 3], [0, 0, 0, 1]], i32)],
           lambda x: (_arr([[3, 3, 2], [1, 0, 0]], i32), _arr([[1, 3, 2], [3, 0, 1]], i32)),
           grad=False),
    # -- meshgrid, slice, strided_slice, repeat, roll -------------------------------------------
    OpCase("meshgrid/xy", lambda x, y: dtf.meshgrid(x, y), [rand(3), rand(2, seed=3)],
           lambda x, y: np.meshgrid(x, y)),
    OpCase("meshgrid/ij3", lambda x, y, z: dtf.meshgrid(x, y, z, indexing="ij"),
           [rand(2), rand(3, seed=3), rand(2, seed=4)],
           lambda x, y, z: np.meshgrid(x, y, z, indexing="ij")),
    OpCase("slice/basic", lambda x: dtf.slice(x, [1, 0, 1], [1, -1, 2]), [_T],
           lambda x: x[1:2, :, 1:3]),
    OpCase("strided_slice/masks",
           lambda x: dtf.strided_slice(x, [1, 0, 3], [2, 9, 0], [1, 2, -1], begin_mask=2,
                                       shrink_axis_mask=1), [_T], lambda x: x[1, 0:9:2, 3:0:-1]),
    OpCase("strided_slice/ellipsis_newaxis",
           lambda x: dtf.strided_slice(x, [0, 0, 1], [0, 0, 3], ellipsis_mask=1,
                                       new_axis_mask=2), [_T], lambda x: x[..., None, 1:3]),
    OpCase("repeat/axis", lambda x: dtf.repeat(x, [2, 0, 1], axis=0), [_M],
           lambda x: np.repeat(x, [2, 0, 1], axis=0)),
    OpCase("repeat/flat", lambda x: dtf.repeat(x, 2), [rand(2, 2)], lambda x: np.repeat(x, 2)),
    OpCase("roll/two_axes", lambda x: dtf.roll(x, [1, -2], [0, 2]), [_T],
           lambda x: np.roll(x, (1, -2), (0, 2))),
    OpCase("roll/int", lambda x: dtf.roll(x, 5, 1), [_INTS], lambda x: np.roll(x, 5, 1),
           grad=False),
    # -- indexing -------------------------------------------------------------------------------
    OpCase("getitem/int", lambda x: x[1], [_M], lambda x: x[1]),
    OpCase("getitem/negative_int_pair", lambda x: x[-1, -2], [_M], lambda x: x[-1, -2]),
    OpCase("getitem/steps", lambda x: x[1:, ::2], [_M], lambda x: x[1:, ::2]),
    OpCase("getitem/negative_step", lambda x: x[::-2, 3:0:-1], [_M], lambda x: x[::-2, 3:0:-1]),
    OpCase("getitem/ellipsis_newaxis", lambda x: x[..., None, 1], [_T],
           lambda x: x[..., None, 1]),
    OpCase("getitem/tensor_index", lambda x: x[dtf.constant(2), 1:], [_M],
           lambda x: x[2, 1:]),
    OpCase("getitem/list", lambda x: x[[2, 0, 2]], [_M], lambda x: x[[2, 0, 2]]),
    OpCase("getitem/bool_mask", lambda x, m: x[m], [_M, np.array([True, False, True])],
           lambda x, m: x[m]),
    OpCase("getitem/int_tensor", lambda x: x[1:, ::2], [_INTS], lambda x: x[1:, ::2],
           grad=False),
    OpCase("getitem/strided_slice_grad",
           lambda g: run(indexing_ops._strided_slice_grad, (g,), shape=(3, 4),
                         key=indexing_ops.encode_key((slice(1, None), slice(None, None, 2)))),
           [rand(2, 2)], lambda g: _np_slice_grad(g)),
]


def _np_update(t, i, u):
    out = t.copy()
    out[tuple(np.moveaxis(i, -1, 0))] = u
    return out


def _np_slice_grad(g):
    out = np.zeros((3, 4), g.dtype)
    out[1:, ::2] = g
    return out
