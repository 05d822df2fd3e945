"""The composite protocol of RaggedTensor and SparseTensor (`_dtf_components`,
`_dtf_type_spec`, `_dtf_from_components`): what dtf.function flattens them by. Rebuilt over
symbolic components, ops on them build graph nodes whose run equals the eager result."""

import numpy as np
import numpy.testing as npt
import pytest

import dtf
from dtf.compile.graph import Graph
from dtf.compile.symbolic import placeholder


def _rebuild_symbolic(value):
    """(placeholders, value rebuilt over them) as a tracer would make them."""
    comps = value._dtf_components()
    symbols = [placeholder([None] * c.shape.rank, c.dtype) for c in comps]
    return symbols, type(value)._dtf_from_components(symbols, value._dtf_type_spec())


def _flat(x):
    if isinstance(x, dtf.RaggedTensor):
        return x._dtf_components()  # flat values and every level's row splits
    if isinstance(x, dtf.SparseTensor):
        return [x.values]
    return [x]


RAGGED_FNS = {
    "reduce_sum_axis1": lambda rt: dtf.reduce_sum(rt, axis=1),
    "reduce_mean_axis1": lambda rt: dtf.ragged.reduce_mean(rt, axis=1),
    "reduce_max_axis1": lambda rt: dtf.ragged.reduce_max(rt, axis=1),
    "reduce_sum_all": lambda rt: dtf.reduce_sum(rt),
    "times_two": lambda rt: rt * 2.0,
    "map_flat_values": lambda rt: dtf.ragged.map_flat_values(dtf.math.square, rt),
    "to_tensor": lambda rt: rt.to_tensor(default_value=-1.0),
    "concat": lambda rt: dtf.concat([rt, rt], axis=0),
    "row_slice": lambda rt: rt[1:],
}


# The mean of an empty row is 0 / 0 = NaN, as TensorFlow's; NumPy warns of it.
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide")
@pytest.mark.parametrize("name", sorted(RAGGED_FNS))
@pytest.mark.parametrize("nested", [False, True], ids=["rank1", "rank2"])
def test_ragged_ops_on_symbolic_components_equal_eager(name, nested):
    if nested:
        rt = dtf.ragged.constant([[[1.0, 2.0], [3.0]], [], [[4.0], [], [5.0, 6.0]]])
    else:
        rt = dtf.ragged.constant([[1.0, 2.0], [], [3.0, 4.0, 5.0], [6.0]])
    fn = RAGGED_FNS[name]
    eager = fn(rt)
    symbols, symbolic = _rebuild_symbolic(rt)
    out = fn(symbolic)
    assert isinstance(out, dtf.RaggedTensor) == isinstance(eager, dtf.RaggedTensor)
    got = Graph(symbols, _flat(out)).run(*rt._dtf_components())
    for g, e in zip(got, _flat(eager)):
        npt.assert_allclose(g.numpy(), e.numpy())
    if isinstance(eager, dtf.RaggedTensor):
        # The placeholders have unknown lengths, so the symbolic spec is the relaxed one.
        assert out._dtf_type_spec()[1].is_compatible_with(eager._dtf_type_spec()[1])
        assert out.ragged_rank == eager.ragged_rank


SPARSE_FNS = {
    "to_dense": lambda sp: dtf.sparse.to_dense(sp),
    "reduce_sum_axis1": lambda sp: dtf.sparse.reduce_sum(sp, axis=1),
    "times_dense": lambda sp: sp * dtf.ones([3, 4]),
    "matmul": lambda sp: dtf.sparse.sparse_dense_matmul(sp, dtf.ones([4, 2])),
    "add_dense": lambda sp: dtf.sparse.add(sp, dtf.ones([3, 4])),
    "transpose": lambda sp: dtf.sparse.transpose(sp),
}


@pytest.mark.parametrize("name", sorted(SPARSE_FNS))
def test_sparse_ops_on_symbolic_components_equal_eager(name):
    sp = dtf.SparseTensor([[0, 0], [1, 2], [2, 3]], [1.0, 2.0, 3.0], [3, 4])
    fn = SPARSE_FNS[name]
    eager = fn(sp)
    symbols, symbolic = _rebuild_symbolic(sp)
    out = fn(symbolic)
    got = Graph(symbols, _flat(out)).run(*sp._dtf_components())
    for g, e in zip(got, _flat(eager)):
        npt.assert_allclose(g.numpy(), e.numpy())


def test_type_specs_are_hashable_and_hold_no_partition():
    # As TensorFlow's RaggedTensorSpec: dtype, ragged_rank, static shape (nrows included) and
    # row splits dtype; the row lengths are data (component tensors), not part of the spec.
    a = dtf.ragged.constant([[1.0, 2.0], [3.0]])
    b = dtf.ragged.constant([[5.0, 6.0], [7.0]])
    c = dtf.ragged.constant([[1.0], [2.0, 3.0]])
    d = dtf.ragged.constant([[1.0], [2.0], [3.0]])
    assert a._dtf_type_spec() == b._dtf_type_spec() == c._dtf_type_spec()
    assert hash(a._dtf_type_spec()) == hash(c._dtf_type_spec())
    assert a._dtf_type_spec() != d._dtf_type_spec()
    _, spec = a._dtf_type_spec()
    assert spec == dtf.ragged.RaggedTensorSpec([2, None], dtf.float32, 1)
    s1 = dtf.SparseTensor([[0, 1]], [1.0], [2, 2])
    s2 = dtf.SparseTensor([[0, 1]], [9.0], [2, 2])
    s3 = dtf.SparseTensor([[1, 1]], [1.0], [2, 2])
    assert s1._dtf_type_spec() == s2._dtf_type_spec()
    assert hash(s3._dtf_type_spec()) is not None


def test_eager_round_trip():
    rt = dtf.ragged.constant([[[1, 2]], [[3], [4, 5]]])
    back = dtf.RaggedTensor._dtf_from_components(rt._dtf_components(), rt._dtf_type_spec())
    assert back.to_list() == rt.to_list() and back.ragged_rank == 2
    sp = dtf.SparseTensor([[0, 1], [1, 0]], [1.0, 2.0], [2, 3])
    back = dtf.SparseTensor._dtf_from_components(sp._dtf_components(), sp._dtf_type_spec())
    npt.assert_array_equal(dtf.sparse.to_dense(back).numpy(), dtf.sparse.to_dense(sp).numpy())


def test_components_of_the_wrong_size_are_refused_at_run():
    rt = dtf.ragged.constant([[1.0, 2.0], [3.0]])
    symbols, symbolic = _rebuild_symbolic(rt)
    graph = Graph(symbols, [dtf.reduce_sum(symbolic, axis=1)])
    with pytest.raises(Exception, match="3"):
        graph.run(dtf.constant(np.ones(4, np.float32)), rt.row_splits)
