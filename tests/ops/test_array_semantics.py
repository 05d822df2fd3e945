"""Array ops: what the op table's cases cannot express: indexing rules, error messages,
TensorFlow's documented results, Variable scatter updates, gradients of index ops."""

import numpy as np
import pytest

import dtf
from dtf.errors import InvalidArgumentError
from dtf.ops import indexing_ops, sort_ops
from dtf.ops.registry import Spec, get


def _np(t):
    return np.asarray(t.numpy())


@pytest.fixture(autouse=True)
def _fresh_variable_names():
    """Variables made here must not shift the default names (`Variable:0`) other tests print."""
    yield
    dtf.variables.reset_default_names()


# -- Tensor indexing ------------------------------------------------------------------------------
T = np.arange(24, dtype=np.float32).reshape(2, 3, 4)


@pytest.mark.parametrize("key", [
    1, -1, (0, 2), (-1, -2, -3), (slice(None), 1), (slice(1, None), slice(None, None, 2)),
    (slice(None, None, -1), slice(2, 0, -1)), (Ellipsis, 1), (1, Ellipsis), (None, 0),
    (Ellipsis, None), (0, None, slice(None), None), (slice(-2, None),), (slice(0, 0),),
    (slice(None, 10),),
], ids=repr)
def test_basic_indexing_matches_numpy(key):
    t = dtf.constant(T)
    out = t[key]
    np.testing.assert_array_equal(_np(out), T[key])
    assert out.shape == T[key].shape
    assert out.dtype == dtf.float32


def test_scalar_int_tensors_as_indices():
    t = dtf.constant(T)
    i = dtf.constant(1)
    j = dtf.constant(-1, dtype=dtf.int64)
    np.testing.assert_array_equal(_np(t[i, j]), T[1, -1])
    np.testing.assert_array_equal(_np(t[i:, :j]), T[1:, :-1])


def test_list_and_int_tensor_gather_along_axis0():
    t = dtf.constant(T)
    np.testing.assert_array_equal(_np(t[[1, 0, 1]]), T[[1, 0, 1]])
    np.testing.assert_array_equal(_np(t[dtf.constant([1, 1])]), T[[1, 1]])


def test_bool_mask_index():
    t = dtf.constant(T)
    mask = T[:, :, 0] > 5
    np.testing.assert_array_equal(_np(t[dtf.constant(mask)]), T[mask])


def test_scalar_tensor_item_and_int_tensor_element():
    t = dtf.constant([[5, 2], [1, 3]])
    assert t[0, 1] == 2
    assert int(t[1, 0]) == 1
    assert t[0, 1].shape == ()


def test_out_of_range_index_names_the_op():
    t = dtf.constant([[1, 2, 3]])
    with pytest.raises(InvalidArgumentError, match=r"strided_slice.*index 5 of dimension 1"):
        t[0, 5]
    with pytest.raises(InvalidArgumentError, match=r"strided_slice.*\[1, 3\]"):
        t[-2]
    with pytest.raises(InvalidArgumentError, match=r"gather.*indices\[1\] = 3 is not in \[0, 1\)"):
        t[[0, 3]]


def test_too_many_indices_and_bad_index_types():
    t = dtf.constant([1, 2])
    with pytest.raises(IndexError, match="Too many indices"):
        t[0, 0]
    with pytest.raises(TypeError, match="valid indices"):
        t[1.5]
    with pytest.raises(TypeError, match="integer scalar tensors"):
        t[dtf.constant(1.0)]
    with pytest.raises(ValueError, match="single ellipsis"):
        t[..., ...]


def test_item_assignment_on_tensor_raises_type_error():
    t = dtf.constant([1, 2, 3])
    with pytest.raises(TypeError, match="does not support item assignment"):
        t[0] = 5


def test_variable_slice_assign():
    v = dtf.Variable([[1., 2., 3.], [4., 5., 6.]])
    v[0, 1].assign(42)
    v[1, :].assign([7., 8., 9.])
    np.testing.assert_array_equal(v.numpy(), [[1, 42, 3], [7, 8, 9]])


def test_gradient_through_strided_slice():
    x = dtf.constant(np.arange(12, dtype=np.float64).reshape(3, 4))
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = dtf.reduce_sum(x[1:, ::2] * x[1:, ::2])
    g = tape.gradient(y, x)
    expected = np.zeros((3, 4))
    expected[1:, ::2] = 2 * np.arange(12.0).reshape(3, 4)[1:, ::2]
    np.testing.assert_allclose(_np(g), expected)


def test_gradient_through_variable_slice():
    v = dtf.Variable([[1., 2.], [3., 4.]])
    with dtf.GradientTape() as tape:
        y = v[0, 1] * 3.0
    np.testing.assert_allclose(_np(tape.gradient(y, v)), [[0, 3], [0, 0]])


# -- Variable scatter updates ---------------------------------------------------------------------
def test_variable_scatter_nd_update_seed_example():
    v = dtf.Variable([[2., 42., 6.], [8., 10., 12.]])
    v.scatter_nd_update(indices=[[0, 0], [1, 2]], updates=[100., 200.])
    np.testing.assert_array_equal(v.numpy(), [[100, 42, 6], [8, 10, 200]])


def test_variable_scatter_nd_add_sub_accumulate_and_rows():
    v = dtf.Variable(np.zeros((3, 2), np.float32))
    v.scatter_nd_add([[1], [1]], [[1., 2.], [3., 4.]])
    v.scatter_nd_sub([[0, 1]], [5.])
    np.testing.assert_array_equal(v.numpy(), [[0, -5], [4, 6], [0, 0]])


def test_variable_scatter_errors_leave_value_unchanged():
    v = dtf.Variable([[1., 2.], [3., 4.]])
    with pytest.raises(InvalidArgumentError, match=r"scatter_nd_update.*\[1, 2\].*\[2, 2\]"):
        v.scatter_nd_update([[0, 0], [1, 2]], [9., 9.])
    with pytest.raises(InvalidArgumentError, match=r"scatter_nd_update.*updates.*\[2\].*\[3\]"):
        v.scatter_nd_update([[0, 0], [1, 1]], [9., 9., 9.])
    with pytest.raises(InvalidArgumentError, match=r"scatter_nd_add.*-1"):
        v.scatter_nd_add([[-1, 0]], [1.])
    np.testing.assert_array_equal(v.numpy(), [[1, 2], [3, 4]])


def test_scatter_nd_key_returns_numpy_index():
    key = indexing_ops.scatter_nd_key(np.array([[0, 1], [1, 0]]), (2, 3), (2,), "op")
    a = np.zeros((2, 3))
    a[key] = [1, 2]
    np.testing.assert_array_equal(a, [[0, 1, 0], [2, 0, 0]])
    key = indexing_ops.scatter_nd_key(np.array([[1]]), (2, 3), (1, 3), "op")
    a[key] = [[7, 8, 9]]
    np.testing.assert_array_equal(a[1], [7, 8, 9])


# -- TensorFlow's documented results --------------------------------------------------------------
def test_top_k_is_named_tuple_with_int32_indices_and_ties_in_index_order():
    out = sort_ops.top_k(dtf.constant([1., 3., 2., 3.]), k=2)
    assert type(out).__name__ == "TopKV2"
    values, indices = out
    np.testing.assert_array_equal(_np(out.values), [3, 3])
    np.testing.assert_array_equal(_np(indices), [1, 3])
    assert indices.dtype == dtf.int32
    assert values.dtype == dtf.float32
    assert sort_ops.top_k([5, 1], k=1, index_type=dtf.int64).indices.dtype == dtf.int64


def test_shape_size_rank_return_tensors():
    x = dtf.zeros([2, 3])
    s = dtf.shape(x)
    assert isinstance(s, dtf.Tensor) and s.dtype == dtf.int32
    np.testing.assert_array_equal(_np(s), [2, 3])
    assert int(dtf.shape(x)[0]) == 2
    assert dtf.shape(x, out_type=dtf.int64).dtype == dtf.int64
    assert int(dtf.size(x)) == 6 and dtf.size(x).dtype == dtf.int32
    assert int(dtf.rank(x)) == 2 and dtf.rank(x).shape == ()
    assert [list(_np(t)) for t in dtf.shape_n([x, dtf.zeros([4])])] == [[2, 3], [4]]
    v = dtf.Variable([[1.0]])
    np.testing.assert_array_equal(_np(dtf.shape(v)), [1, 1])


def test_one_hot_documented_examples():
    np.testing.assert_array_equal(_np(dtf.one_hot([0, 1, 2], 3)), np.eye(3))
    out = dtf.one_hot([0, 2, -1, 1], 3, on_value=5.0, off_value=0.0, axis=-1)
    np.testing.assert_array_equal(_np(out), [[5, 0, 0], [0, 0, 5], [0, 0, 0], [0, 5, 0]])
    out = dtf.one_hot([[0, 2], [1, -1]], 3, on_value=1.0, off_value=0.0, axis=-1)
    assert out.shape == (2, 2, 3)
    assert dtf.one_hot([1], 2, on_value=3).dtype == dtf.int32
    with pytest.raises(TypeError, match="on_value"):
        dtf.one_hot([1], 2, on_value=dtf.constant(1), dtype=dtf.float32)


def test_gather_documented_batch_dims_example():
    params = dtf.constant([[0, 1.0, 2.0], [10.0, 11.0, 12.0], [20.0, 21.0, 22.0],
                           [30.0, 31.0, 32.0]])
    np.testing.assert_array_equal(_np(dtf.gather(params, [3, 1])), [[30, 31, 32], [10, 11, 12]])
    np.testing.assert_array_equal(_np(dtf.gather(params, [2, 0], axis=1)),
                                  [[2, 0], [12, 10], [22, 20], [32, 30]])
    p = dtf.constant([[1, 2, 3], [4, 5, 6]])
    idx = dtf.constant([[2, 0], [1, 1]])
    np.testing.assert_array_equal(_np(dtf.gather(p, idx, batch_dims=1)), [[3, 1], [5, 5]])


def test_gather_nd_and_scatter_nd_documented_examples():
    np.testing.assert_array_equal(_np(dtf.gather_nd([[0, 1], [2, 3]], [[0, 0], [1, 1]])),
                                  [0, 3])
    np.testing.assert_array_equal(_np(dtf.gather_nd([[0, 1], [2, 3]], [[1], [0]])),
                                  [[2, 3], [0, 1]])
    out = dtf.scatter_nd([[4], [3], [1], [7]], [9, 10, 11, 12], [8])
    np.testing.assert_array_equal(_np(out), [0, 11, 0, 10, 9, 0, 0, 12])
    out = dtf.tensor_scatter_nd_update([1, 2, 3, 4, 5, 6, 7, 8], [[4], [3], [1], [7]],
                                       [9, 10, 11, 12])
    np.testing.assert_array_equal(_np(out), [1, 11, 3, 10, 9, 6, 7, 12])
    out = dtf.tensor_scatter_nd_add([1, 2, 3, 4, 5, 6, 7, 8], [[4], [3], [1], [7]],
                                    [9, 10, 11, 12])
    np.testing.assert_array_equal(_np(out), [1, 13, 3, 14, 14, 6, 7, 20])


def test_pad_documented_examples():
    t = dtf.constant([[1, 2, 3], [4, 5, 6]])
    paddings = [[1, 1], [2, 2]]
    np.testing.assert_array_equal(_np(dtf.pad(t, paddings, "REFLECT")),
                                  [[6, 5, 4, 5, 6, 5, 4], [3, 2, 1, 2, 3, 2, 1],
                                   [6, 5, 4, 5, 6, 5, 4], [3, 2, 1, 2, 3, 2, 1]])
    np.testing.assert_array_equal(_np(dtf.pad(t, paddings, "SYMMETRIC")),
                                  [[2, 1, 1, 2, 3, 3, 2], [2, 1, 1, 2, 3, 3, 2],
                                   [5, 4, 4, 5, 6, 6, 5], [5, 4, 4, 5, 6, 6, 5]])
    assert dtf.pad(dtf.constant([1.5]), [[1, 0]], constant_values=2).numpy().tolist() == [2, 1.5]


def test_split_boolean_mask_meshgrid_repeat_documented_examples():
    x = dtf.zeros([5, 30])
    assert [t.shape for t in dtf.split(x, [4, 15, 11], 1)] == [(5, 4), (5, 15), (5, 11)]
    assert [t.shape for t in dtf.split(x, 3, 1)] == [(5, 10)] * 3
    np.testing.assert_array_equal(
        _np(dtf.boolean_mask([[1, 2], [3, 4], [5, 6]], [True, False, True])), [[1, 2], [5, 6]])
    X, Y = dtf.meshgrid([1, 2, 3], [4, 5, 6, 7])
    assert X.shape == (4, 3) and Y.shape == (4, 3)
    np.testing.assert_array_equal(_np(dtf.repeat([[1, 2], [3, 4]], repeats=2)),
                                  [1, 1, 2, 2, 3, 3, 4, 4])
    np.testing.assert_array_equal(_np(dtf.repeat([[1, 2], [3, 4]], repeats=[2, 3], axis=1)),
                                  [[1, 1, 2, 2, 2], [3, 3, 4, 4, 4]])


def test_transpose_expand_squeeze_concat_stack_unstack():
    x = dtf.constant([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(_np(dtf.transpose(x)), [[1, 4], [2, 5], [3, 6]])
    c = dtf.constant([[1 + 1j, 2 - 2j]])
    np.testing.assert_array_equal(_np(dtf.transpose(c, conjugate=True)), [[1 - 1j], [2 + 2j]])
    assert dtf.expand_dims(x, 1).shape == (2, 1, 3)
    assert dtf.squeeze(dtf.zeros([1, 2, 1, 3, 1, 1]), [2, 4]).shape == (1, 2, 3, 1)
    assert dtf.concat([x, x], -1).shape == (2, 6)
    assert dtf.concat([[1, 2]], 0).shape == (2,)
    assert dtf.stack([x, x], axis=1).shape == (2, 2, 3)
    assert [list(_np(t)) for t in dtf.unstack(x)] == [[1, 2, 3], [4, 5, 6]]
    assert [list(_np(t)) for t in x] == [[1, 2, 3], [4, 5, 6]]


def test_sort_argsort_reverse_ensure_shape():
    a = [1, 10, 26.9, 2.8, 166.32, 62.3]
    np.testing.assert_allclose(_np(dtf.sort(a)), sorted(a))
    np.testing.assert_allclose(_np(dtf.sort(a, direction="DESCENDING")), sorted(a)[::-1])
    np.testing.assert_array_equal(_np(dtf.argsort([1, 10, 26.9, 2.8, 166.32, 62.3])),
                                  [0, 3, 1, 2, 5, 4])
    np.testing.assert_array_equal(_np(dtf.reverse([[1, 2], [3, 4]], [0, 1])), [[4, 3], [2, 1]])
    x = dtf.constant([1.0, 2.0])
    np.testing.assert_array_equal(_np(dtf.ensure_shape(x, [2])), [1, 2])
    assert dtf.ensure_shape(x, [None]).shape == (2,)
    assert dtf.ensure_shape(x, None).shape == (2,)


# -- errors name the op, shapes and dtypes --------------------------------------------------------
@pytest.mark.parametrize("call, error, pattern", [
    (lambda: dtf.gather([1, 2, 3], [5]), InvalidArgumentError,
     r"gather: indices\[0\] = 5 is not in \[0, 3\).*int32\[3\]"),
    (lambda: dtf.gather([1, 2, 3], [-1]), InvalidArgumentError, r"gather.*-1 is not in"),
    (lambda: dtf.gather([1, 2], [0.5]), TypeError, r"gather: indices must be int32"),
    (lambda: dtf.gather(dtf.zeros([2, 3]), dtf.zeros([3, 1], dtf.int32), batch_dims=1),
     InvalidArgumentError, r"gather: params.shape\[0\] = 2 should equal indices.shape\[0\] = 3"),
    (lambda: dtf.gather_nd([[1, 2], [3, 4]], [[0, 5]]), InvalidArgumentError,
     r"gather_nd: indices\[0\] = \[0, 5\] does not index into param shape \[2, 2\]"),
    (lambda: dtf.gather_nd([1, 2], [[0, 0]]), InvalidArgumentError,
     r"gather_nd: index innermost dimension length must be <= params rank"),
    (lambda: dtf.scatter_nd([[5]], [1.], [3]), InvalidArgumentError,
     r"scatter_nd: indices\[0\] = \[5\] does not index into output shape \[3\]"),
    (lambda: dtf.scatter_nd([[1]], [1., 2.], [3]), InvalidArgumentError,
     r"scatter_nd: updates must have shape .* \[1\], got updates shape \[2\]"),
    (lambda: dtf.tensor_scatter_nd_update([1., 2.], [[0]], dtf.constant([1])),
     InvalidArgumentError,
     r"tensor_scatter_nd_update: updates have dtype int32 but the tensor has float32"),
    (lambda: dtf.tensor_scatter_nd_add([1., 2.], [[2]], [1.]), InvalidArgumentError,
     r"tensor_scatter_nd_add: indices\[0\] = \[2\] does not index into tensor shape \[2\]"),
    (lambda: dtf.concat([dtf.zeros([2, 3]), dtf.zeros([2, 4])], 0), InvalidArgumentError,
     r"concat: Dimension 1 in both shapes must be equal: shape\[0\] = \[2, 3\] vs. shape\[1\]"),
    (lambda: dtf.concat([dtf.zeros([2]), dtf.zeros([2], dtf.int32)], 0), InvalidArgumentError,
     r"concat.*float32.*int32"),
    (lambda: dtf.concat([dtf.zeros([2])], 1), InvalidArgumentError, r"concat: axis 1 is out"),
    (lambda: dtf.stack([dtf.zeros([2]), dtf.zeros([3])]), InvalidArgumentError,
     r"stack: Shapes of all inputs must match: values\[0\].shape = \[2\] != values\[1\]"),
    (lambda: dtf.split(dtf.zeros([5]), 2), InvalidArgumentError,
     r"split: Number of ways to split should evenly divide.*size = 5.*num_split 2"),
    (lambda: dtf.split(dtf.zeros([5]), [2, 2]), InvalidArgumentError, r"split:.*Got: 4"),
    (lambda: dtf.split(dtf.zeros([5]), [-1, -1]), InvalidArgumentError, r"split:.*one -1"),
    (lambda: dtf.tile([1, 2], [2, 2]), InvalidArgumentError,
     r"tile: Expected multiples argument to be a vector of length 1 but got length 2"),
    (lambda: dtf.pad([[1, 2]], [[1, 1]]), InvalidArgumentError, r"pad: paddings must be .*\[2, 2\]"),
    (lambda: dtf.pad([[1, 2]], [[0, 0], [2, 0]], "REFLECT"), InvalidArgumentError,
     r"pad: paddings must be less than the dimension size in REFLECT mode"),
    (lambda: dtf.pad([[1, 2]], [[0, 0], [3, 0]], "SYMMETRIC"), InvalidArgumentError,
     r"pad: paddings must be no greater than the dimension size"),
    (lambda: dtf.pad([1], [[-1, 0]]), InvalidArgumentError, r"pad: paddings must be non-neg"),
    (lambda: dtf.pad([1], [[1, 0]], mode="WRAP"), ValueError, r"mode"),
    (lambda: dtf.transpose([[1, 2]], [0, 0]), InvalidArgumentError, r"transpose: 1 is missing"),
    (lambda: dtf.transpose([[1, 2]], [0]), InvalidArgumentError, r"transpose: perm has 1"),
    (lambda: dtf.expand_dims([1, 2], 3), InvalidArgumentError,
     r"expand_dims: Tried to expand dim index 3 for tensor with 1 dimensions"),
    (lambda: dtf.squeeze(dtf.zeros([2, 3]), 0), InvalidArgumentError,
     r"squeeze: Can not squeeze dim\[0\], expected a dimension of 1, got 2"),
    (lambda: dtf.reshape(dtf.zeros([2, 3]), [4]), InvalidArgumentError,
     r"reshape: Input to reshape is a tensor with 6 values"),
    (lambda: dtf.reverse([1, 2], [1]), InvalidArgumentError, r"reverse: 'axis' = 1 is out"),
    (lambda: dtf.reverse([[1, 2]], [0, -2]), InvalidArgumentError, r"reverse: .*more than once"),
    (lambda: sort_ops.top_k([1., 2., 3.], k=5), InvalidArgumentError,
     r"top_k: input must have at least k columns. Had 3, needed 5"),
    (lambda: dtf.sort([3, 1], direction="desc"), ValueError,
     r"sort: Argument `direction` should be one of ASCENDING, DESCENDING"),
    (lambda: dtf.argsort(dtf.constant(1.0)), InvalidArgumentError, r"argsort: input must be"),
    (lambda: dtf.boolean_mask([1, 2], [1, 0]), TypeError, r"boolean_mask: mask must be a bool"),
    (lambda: dtf.boolean_mask([[1, 2]], [True, False, True]), ValueError,
     r"boolean_mask: Shapes \(1,\) and \(3,\) are incompatible"),
    (lambda: dtf.boolean_mask([1, 2], True), ValueError, r"mask cannot be scalar"),
    (lambda: dtf.ensure_shape([1, 2], [3]), InvalidArgumentError,
     r"ensure_shape: Shape of tensor x \[2\] is not compatible with expected shape \[3\]"),
    (lambda: dtf.slice([1, 2, 3], [2], [2]), InvalidArgumentError, r"slice: Expected size\[0\]"),
    (lambda: dtf.one_hot([0.5], 2), TypeError, r"one_hot: indices must be int"),
    (lambda: dtf.unstack(dtf.constant(1.0)), ValueError, r"unstack: cannot unstack"),
    (lambda: dtf.roll([1, 2], [1, 1], [0]), InvalidArgumentError, r"roll: shift and axis"),
])
def test_errors_name_the_op(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# -- gradients ------------------------------------------------------------------------------------
def _grad(f, *xs):
    ts = [dtf.constant(np.asarray(x, dtype=np.float64)) for x in xs]
    with dtf.GradientTape() as tape:
        for t in ts:
            tape.watch(t)
        y = f(*ts)
    return [_np(g) if g is not None else None for g in tape.gradient(y, ts)]


def test_gather_gradient_accumulates_repeated_indices():
    (g,) = _grad(lambda x: dtf.reduce_sum(dtf.gather(x, [0, 0, 2, 0])), [1., 2., 3.])
    np.testing.assert_array_equal(g, [3, 0, 1])


def test_gather_second_order_goes_through_its_adjoint():
    x = dtf.constant([1., 2., 3.], dtype=dtf.float64)
    with dtf.GradientTape() as outer:
        outer.watch(x)
        with dtf.GradientTape() as inner:
            inner.watch(x)
            y = dtf.reduce_sum(dtf.square(dtf.gather(x, [0, 0, 2])))
        g = inner.gradient(y, x)  # [4 x0, 0, 2 x2]
        z = dtf.reduce_sum(g * g)
    np.testing.assert_allclose(_np(g), [4, 0, 6])
    np.testing.assert_allclose(_np(outer.gradient(z, x)), [32, 0, 8 * 3])


def test_sort_and_top_k_gradients_go_to_the_source_positions():
    (g,) = _grad(lambda x: dtf.reduce_sum(dtf.sort(x) * [1., 10., 100.]), [3., 1., 2.])
    np.testing.assert_array_equal(g, [100, 1, 10])
    (g,) = _grad(lambda x: dtf.reduce_sum(sort_ops.top_k(x, 2).values * [1., 10.]),
                 [3., 1., 5.])
    np.testing.assert_array_equal(g, [10, 0, 1])


def test_boolean_mask_and_scatter_gradients():
    (g,) = _grad(lambda x: dtf.reduce_sum(dtf.boolean_mask(x, [True, False, True]) * 2.),
                 [1., 2., 3.])
    np.testing.assert_array_equal(g, [2, 0, 2])
    g_t, g_u = _grad(lambda t, u: dtf.reduce_sum(
        dtf.tensor_scatter_nd_update(t, [[1]], u) * [1., 2., 3.]), [0., 0., 0.], [5.])
    np.testing.assert_array_equal(g_t, [1, 0, 3])
    np.testing.assert_array_equal(g_u, [2])


def test_unused_split_outputs_get_zero_gradient():
    (g,) = _grad(lambda x: dtf.reduce_sum(dtf.split(x, 3)[1]), [1., 2., 3.])
    np.testing.assert_array_equal(g, [0, 1, 0])


def test_integer_outputs_are_not_differentiated():
    x = dtf.constant([3., 1., 2.])
    with dtf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        idx = dtf.argsort(x)
        s = dtf.cast(dtf.shape(x), dtf.float32)
    assert tape.gradient(idx, x) is None
    assert tape.gradient(s, x) is None


# -- shape rules with unknown dims ----------------------------------------------------------------
def test_shape_rules_handle_unknown_dims():
    f32, i32 = dtf.float32, dtf.int32
    assert get("gather").infer(Spec((None, 5), f32), Spec((None,), i32), axis=1,
                               batch_dims=0) == Spec((None, None), f32)
    assert get("concat").infer(Spec((None, 2), f32), Spec((None, 3), f32),
                               axis=1) == Spec((None, 5), f32)
    assert get("concat").infer(Spec((4, 2), f32), Spec((None, 3), f32),
                               axis=0) == Spec((None, 2), f32)
    assert get("shape").infer(Spec(None, f32), out_type=i32) == Spec((None,), i32)
    assert get("one_hot").infer(Spec((None,), i32), depth=10, on_value=1.0, off_value=0.0,
                                axis=1, dtype=f32) == Spec((None, 10), f32)
    outs = get("split").infer(Spec((None, 6), f32), sizes=(2, -1), num_split=None, axis=1)
    assert [o.shape for o in outs] == [(None, 2), (None, 4)]
    assert get("transpose").infer(Spec(None, f32), perm=(1, 0)).shape == (None, None)
    assert get("tile").infer(Spec((None, 2), f32), multiples=(3, 2)).shape == (None, 4)
    assert get("top_k_indices").infer(Spec((None, 7), f32), k=3,
                                      index_type=i32) == Spec((None, 3), i32)
