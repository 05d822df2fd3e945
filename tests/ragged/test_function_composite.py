"""RaggedTensor and SparseTensor as dtf.function arguments and results: traced once per type
spec (row partition / indices), the values placeholders, results equal to eager.

Partitions with another number of values are tested in test_symbolic_splits.py."""

import numpy.testing as npt

import dtf


def _rt(rows):
    return dtf.ragged.constant(rows, dtype=dtf.float32)


def test_ragged_argument_traces_once_for_every_partition_of_its_spec():
    # The row splits are tensor arguments, not part of the signature: another partition of
    # as many values reuses the trace.
    f = dtf.function(lambda rt: dtf.reduce_sum(rt, axis=1))
    a, b, c = _rt([[1, 2], [3]]), _rt([[5, 6], [7]]), _rt([[5], [6, 7]])
    for rt in (a, b, c, a):
        npt.assert_allclose(f(rt).numpy(), dtf.reduce_sum(rt, axis=1).numpy())
    assert f.experimental_get_tracing_count() == 1


def test_ragged_result_is_rebuilt_from_graph_outputs():
    g = dtf.function(lambda rt: dtf.ragged.map_flat_values(dtf.math.square, rt) * 2.0)
    a, b = _rt([[1, 2], [3]]), _rt([[4, 5], [6]])
    for rt in (a, b):
        out = g(rt)
        assert isinstance(out, dtf.RaggedTensor)
        assert out.to_list() == (dtf.ragged.map_flat_values(dtf.math.square, rt) * 2.0).to_list()
    assert g.experimental_get_tracing_count() == 1


def test_sparse_argument_and_result():
    h = dtf.function(lambda sp, x: (dtf.sparse.sparse_dense_matmul(sp, x), sp * 3.0))
    x = dtf.ones([3, 2])
    for values in ([1.0, 2.0], [5.0, 6.0]):
        sp = dtf.SparseTensor([[0, 0], [1, 2]], values, [2, 3])
        prod, scaled = h(sp, x)
        npt.assert_allclose(prod.numpy(), dtf.sparse.sparse_dense_matmul(sp, x).numpy())
        assert isinstance(scaled, dtf.SparseTensor)
        npt.assert_allclose(scaled.values.numpy(), [3 * v for v in values])
    assert h.experimental_get_tracing_count() == 1


def test_gradient_through_a_function_of_ragged():
    v = dtf.Variable([1.0, 2.0, 3.0])

    @dtf.function
    def loss(rt):
        return dtf.reduce_sum(dtf.ragged.map_flat_values(lambda fv: fv * v, rt))

    rt = _rt([[1, 2], [3]])
    with dtf.GradientTape() as tape:
        y = loss(rt)
    npt.assert_allclose(tape.gradient(y, v).numpy(), [1.0, 2.0, 3.0])
    loss(_rt([[4, 5], [6]]))
    assert loss.experimental_get_tracing_count() == 1
