"""dtf.sets inside dtf.function: the set kernels are graph nodes, so dense inputs of unknown
shape and SparseTensors with symbolic indices give the eager results, traced once."""

import numpy as np
import numpy.testing as npt
import pytest

import dtf
from dtf.errors import InvalidArgumentError
from dtf.sparse import SparseTensor


def _assert_same_sparse(got, want):
    assert isinstance(got, SparseTensor)
    npt.assert_array_equal(got.indices.numpy(), want.indices.numpy())
    npt.assert_array_equal(got.values.numpy(), want.values.numpy())
    npt.assert_array_equal(got.dense_shape.numpy(), want.dense_shape.numpy())
    assert got.dtype == want.dtype


def _random_sets(rng, rows, width, high=6):
    return rng.integers(0, high, (rows, width)).astype(np.int32)


OPS = {
    "union": lambda a, b: dtf.sets.union(a, b),
    "intersection": lambda a, b: dtf.sets.intersection(a, b),
    "a_minus_b": lambda a, b: dtf.sets.difference(a, b),
    "b_minus_a": lambda a, b: dtf.sets.difference(a, b, aminusb=False),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_dense_sets_traced_once(name):
    op = OPS[name]
    f = dtf.function(op, input_signature=[dtf.TensorSpec([None, None], dtf.int32)] * 2)
    rng = np.random.default_rng(0)
    for rows, wa, wb in ((2, 3, 4), (5, 1, 6), (3, 4, 4)):
        a = dtf.constant(_random_sets(rng, rows, wa))
        b = dtf.constant(_random_sets(rng, rows, wb))
        _assert_same_sparse(f(a, b), op(a, b))
    assert f.experimental_get_tracing_count() == 1


def _sparse_sets(rng, rows, width):
    dense = _random_sets(rng, rows, width, high=5)
    keep = rng.random((rows, width)) < 0.6
    idx = np.argwhere(keep).astype(np.int64)
    return SparseTensor(idx, dense[keep].astype(np.int64), [rows, width])


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("sparse_a", [False, True], ids=["dense_a", "sparse_a"])
def test_sparse_sets_with_symbolic_indices_traced_once(name, sparse_a):
    op = OPS[name]
    component_specs = [dtf.TensorSpec([None, 2], dtf.int64), dtf.TensorSpec([None], dtf.int64),
                       dtf.TensorSpec([2], dtf.int64)]
    dense_spec = [dtf.TensorSpec([None, None], dtf.int64)]

    def run(*args):
        if sparse_a:
            a, b = SparseTensor(*args[:3]), SparseTensor(*args[3:])
        else:
            a, b = args[0], SparseTensor(*args[1:])
        return op(a, b)

    f = dtf.function(run, input_signature=(component_specs if sparse_a else dense_spec)
                     + component_specs)
    rng = np.random.default_rng(1)
    for rows, width in ((3, 4), (1, 6), (4, 2)):
        b = _sparse_sets(rng, rows, width)
        if sparse_a:
            a = _sparse_sets(rng, rows, width + 1)
            got = f(*a._dtf_components(), *b._dtf_components())
        else:
            a = dtf.constant(_random_sets(rng, rows, 3).astype(np.int64))
            got = f(a, *b._dtf_components())
        _assert_same_sparse(got, op(a, b))
    assert f.experimental_get_tracing_count() == 1


def test_size_traced_once_and_result_shape():
    @dtf.function(input_signature=[dtf.TensorSpec([None, 3], dtf.int64),
                                   dtf.TensorSpec([None], dtf.int32),
                                   dtf.TensorSpec([3], dtf.int64)])
    def f(indices, values, dense_shape):
        return dtf.sets.size(SparseTensor(indices, values, dense_shape))

    for idx, vals, shape in (([[0, 0, 0], [0, 0, 1], [1, 2, 0]], [4, 4, 1], [2, 3, 5]),
                             ([[0, 1, 2]], [7], [1, 2, 3]), ([], [], [2, 2, 2])):
        sp = SparseTensor(np.array(idx, np.int64).reshape(-1, 3), np.array(vals, np.int32),
                          shape)
        got = f(*sp._dtf_components())
        want = dtf.sets.size(sp)
        assert got.dtype == dtf.int32
        npt.assert_array_equal(got.numpy(), want.numpy())
    assert f.experimental_get_tracing_count() == 1
    assert f.get_concrete_function().structured_outputs.shape.as_list() == [None, None]


def test_union_then_size_in_a_trace():
    f = dtf.function(lambda a, b: dtf.sets.size(dtf.sets.union(a, b)),
                     input_signature=[dtf.TensorSpec([None, None, None], dtf.int32)] * 2)
    a = dtf.constant([[[1, 2, 3], [4, 4, 4]], [[0, 0, 1], [9, 8, 7]]])
    b = dtf.constant([[[3, 5], [4, 6]], [[1, 2], [7, 7]]])
    assert f(a, b).numpy().tolist() == [[4, 2], [3, 3]]


def test_errors_are_raised_when_the_graph_runs():
    f = dtf.function(lambda i, v, s: dtf.sets.size(SparseTensor(i, v, s)),
                     input_signature=[dtf.TensorSpec([None, 2], dtf.int64),
                                      dtf.TensorSpec([None], dtf.int32),
                                      dtf.TensorSpec([2], dtf.int64)])
    with pytest.raises(InvalidArgumentError, match="dtf.sparse.reorder"):
        f(dtf.constant(np.array([[0, 1], [0, 0]], np.int64)), dtf.constant([1, 2]),
          dtf.constant(np.array([3, 5], np.int64)))
    g = dtf.function(lambda a, b: dtf.sets.union(a, b),
                     input_signature=[dtf.TensorSpec([None, None], dtf.int32)] * 2)
    with pytest.raises(InvalidArgumentError, match=r"a has shape \[1, 2\], b has shape \[2, 2\]"):
        g(dtf.constant([[1, 2]]), dtf.constant([[2, 3], [3, 4]]))
