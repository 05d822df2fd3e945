"""dtf.sparse inside dtf.function with indices known only at run time.

Each op runs in a function traced once for a signature of [None, rank] indices, [None] values
and a [rank] dense shape, and must give the eager result for several index sets (numbers of
entries, orders, repeats) without retracing. Gradients taken inside a trace equal eager ones.

The tests that pass SparseTensors themselves as arguments (one trace per SparseTensorSpec) need
dtf/compile/function.py and tracing.py to key composites by their component specs
(/work/briefs/ragged_symbolic.patch, then /work/briefs/sparse_symbolic.patch for the signature's
spec checks); until those are applied they are strict xfails, found out by trying.
"""

import numpy as np
import numpy.testing as npt
import pytest

import dtf
from dtf.compile import tracing
from dtf.errors import InvalidArgumentError
from dtf.sparse import SparseTensor


def _one_trace_for_all_indices() -> bool:
    f = dtf.function(lambda sp: sp.values)
    f(SparseTensor([[0, 0]], [1.0], [2, 2]))
    f(SparseTensor([[0, 0], [1, 1]], [1.0, 2.0], [2, 2]))
    return f.experimental_get_tracing_count() == 1


def _signatures_take_sparse_specs() -> bool:
    try:
        dtf.function(lambda sp: sp, input_signature=[dtf.sparse.SparseTensorSpec([None, 2])])
    except TypeError:
        return False
    return True


needs_composite_keys = pytest.mark.xfail(
    not _one_trace_for_all_indices(), strict=True,
    reason="needs /work/briefs/ragged_symbolic.patch (composites keyed by component specs)")
needs_composite_signatures = pytest.mark.xfail(
    not _signatures_take_sparse_specs(), strict=True,
    reason="needs /work/briefs/ragged_symbolic.patch (composite specs in input_signature)")
needs_spec_checks = pytest.mark.xfail(
    not hasattr(tracing, "CompositeLeaves"), strict=True,
    reason="needs /work/briefs/sparse_symbolic.patch (signatures check and show the spec)")

SHAPE = [3, 4]
# Index sets of one dense shape: sorted, unsorted, a single entry, none, a full row.
INDEX_SETS = [
    [[0, 1], [1, 0], [2, 3]],
    [[2, 2], [0, 3], [1, 1], [0, 0]],
    [[1, 2]],
    [],
    [[2, 0], [2, 1], [2, 2], [2, 3], [0, 2]],
]


def _sp(indices, shape=SHAPE, seed=0, dtype=np.float32):
    n = len(indices)
    values = np.random.default_rng(seed + n).uniform(-2, 2, n).astype(dtype)
    return SparseTensor(np.array(indices, np.int64).reshape(n, len(shape)), values, shape)


def _sorted(sp):
    return dtf.sparse.reorder(sp)


def _components_function(fn, rank=2, dtype=dtf.float32, extra=()):
    """`fn(sp, *extra)` traced once for SparseTensors given as their three components (and
    tensors of the `extra` specs)."""
    signature = [dtf.TensorSpec([None, rank], dtf.int64), dtf.TensorSpec([None], dtype),
                 dtf.TensorSpec([rank], dtf.int64), *extra]

    def from_components(indices, values, dense_shape, *rest):
        return fn(SparseTensor(indices, values, dense_shape), *rest)

    return dtf.function(from_components, input_signature=signature)


def _call(f, sp, *rest):
    return f(sp.indices, sp.values, sp.dense_shape, *rest)


def _assert_same(got, want):
    if isinstance(want, SparseTensor):
        assert isinstance(got, SparseTensor), f"got {type(got).__name__}"
        npt.assert_array_equal(got.indices.numpy(), want.indices.numpy())
        npt.assert_allclose(got.values.numpy(), want.values.numpy(), rtol=1e-6)
        npt.assert_array_equal(got.dense_shape.numpy(), want.dense_shape.numpy())
        assert got.shape == want.shape
    elif isinstance(want, (tuple, list)):
        for g, w in zip(got, want):
            _assert_same(g, w)
    else:
        assert got.dtype == want.dtype and got.shape == want.shape
        npt.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)


DENSE = dtf.constant(np.arange(12, dtype=np.float32).reshape(3, 4) / 7.0 + 0.5)
UNARY_OPS = {
    "to_dense": lambda sp: dtf.sparse.to_dense(_sorted(sp), default_value=-1.0),
    "to_dense_unvalidated": lambda sp: dtf.sparse.to_dense(sp, validate_indices=False),
    "reorder": lambda sp: dtf.sparse.reorder(sp),
    "transpose": lambda sp: dtf.sparse.transpose(sp),
    "reduce_sum_all": lambda sp: dtf.sparse.reduce_sum(sp),
    "reduce_sum_axis0": lambda sp: dtf.sparse.reduce_sum(sp, axis=0),
    "reduce_sum_axis1_keepdims": lambda sp: dtf.sparse.reduce_sum(sp, axis=1, keepdims=True),
    "reduce_sum_sparse": lambda sp: dtf.sparse.reduce_sum(sp, axis=0, output_is_sparse=True),
    "reduce_sum_sparse_keepdims": lambda sp: dtf.sparse.reduce_sum(
        sp, axis=[1], keepdims=True, output_is_sparse=True),
    "reduce_sum_sparse_all": lambda sp: dtf.sparse.reduce_sum(sp, output_is_sparse=True),
    "add_dense": lambda sp: dtf.sparse.add(sp, DENSE),
    "add_self": lambda sp: dtf.sparse.add(sp, sp),
    "add_transposed_twice": lambda sp: dtf.sparse.add(
        sp, dtf.sparse.transpose(dtf.sparse.transpose(sp)) * -1.0, threshold=1e-3),
    "times_dense": lambda sp: sp * DENSE,
    "times_row": lambda sp: sp * dtf.constant([1.0, 2.0, 3.0, 4.0]),
    "times_column": lambda sp: sp * dtf.constant([[1.0], [2.0], [3.0]]),
    "times_scalar": lambda sp: sp * 3.0,
    "divide_dense": lambda sp: sp / DENSE,
    "matmul": lambda sp: dtf.sparse.sparse_dense_matmul(sp, dtf.transpose(DENSE)),
    "matmul_adjoint_a": lambda sp: dtf.sparse.sparse_dense_matmul(sp, DENSE, adjoint_a=True),
    "dense_matmul_sparse": lambda sp: dtf.sparse.sparse_dense_matmul(DENSE, sp, adjoint_b=True),
    "slice": lambda sp: dtf.sparse.slice(sp, [1, 1], [5, 2]),
    "concat_axis0": lambda sp: dtf.sparse.concat(0, [sp, sp]),
    "concat_axis1": lambda sp: dtf.sparse.concat(1, [sp, dtf.sparse.transpose(
        dtf.sparse.transpose(sp))]),
    "retain_positive": lambda sp: dtf.sparse.retain(sp, sp.values > 0.0),
    "map_values": lambda sp: dtf.sparse.map_values(dtf.math.square, sp),
    "with_values": lambda sp: sp.with_values(sp.values + 1.0),
    "from_to_dense": lambda sp: dtf.sparse.from_dense(dtf.sparse.to_dense(_sorted(sp))),
}


@pytest.mark.parametrize("name", sorted(UNARY_OPS))
def test_op_traced_once_equals_eager(name):
    fn = UNARY_OPS[name]
    f = _components_function(fn)
    for i, indices in enumerate(INDEX_SETS):
        sp = _sp(indices, seed=i)
        if name == "add_self" or name.startswith("to_dense_unvalidated"):
            sp = _sorted(sp)
        _assert_same(_call(f, sp), fn(sp))
    assert f.experimental_get_tracing_count() == 1


def test_rank3_ops_traced_once():
    def fn(sp):
        return (dtf.sparse.reduce_sum(sp, axis=[0, 2]), dtf.sparse.transpose(sp, [2, 0, 1]),
                dtf.sparse.to_dense(dtf.sparse.reorder(sp)), sp * dtf.ones([3, 1]))

    f = _components_function(fn, rank=3)
    for i, indices in enumerate([[[0, 1, 0], [1, 0, 3]], [[1, 2, 3]], [], [[0, 0, 0]]]):
        sp = _sp(indices, shape=[2, 3, 4], seed=i)
        _assert_same(_call(f, sp), fn(sp))
    assert f.experimental_get_tracing_count() == 1


def test_ops_with_traced_dense_arguments():
    """from_dense of a traced tensor, retain with a traced mask, slice with a traced start."""
    @dtf.function(input_signature=[dtf.TensorSpec([None, None], dtf.float32),
                                   dtf.TensorSpec([2], dtf.int64)])
    def f(x, start):
        sp = dtf.sparse.from_dense(x)
        kept = dtf.sparse.retain(sp, dtf.greater(sp.values, 1.0))
        return sp, kept, dtf.sparse.slice(sp, start, [2, 2])

    for x, start in (([[0.0, 2.0], [3.0, 0.0]], [0, 1]), ([[1.0, 0.0, 0.5]], [0, 0]),
                     (np.zeros((2, 3)), [1, 1])):
        x = dtf.constant(np.asarray(x, np.float32))
        start = dtf.constant(np.array(start, np.int64))
        sp = dtf.sparse.from_dense(x)
        want = (sp, dtf.sparse.retain(sp, dtf.greater(sp.values, 1.0)),
                dtf.sparse.slice(sp, start, [2, 2]))
        _assert_same(f(x, start), want)
    assert f.experimental_get_tracing_count() == 1
    out = f.get_concrete_function().structured_outputs[0]
    assert out.shape.as_list() == [None, None]


def test_unknown_dense_shape_uses_runtime_shape():
    """A signature with None dense dims: shapes come from the dense_shape component."""
    f = _components_function(lambda sp: (dtf.sparse.to_dense(sp),
                                         dtf.sparse.sparse_dense_matmul(sp, dtf.ones([4, 2])),
                                         dtf.sparse.reduce_sum(sp, axis=0)))
    for shape, indices in (([2, 4], [[0, 1], [1, 3]]), ([5, 4], [[4, 0]])):
        sp = _sp(indices, shape=shape)
        got = _call(f, sp)
        want = (dtf.sparse.to_dense(sp), dtf.sparse.sparse_dense_matmul(sp, dtf.ones([4, 2])),
                dtf.sparse.reduce_sum(sp, axis=0))
        _assert_same(got, want)
    assert f.experimental_get_tracing_count() == 1


def test_invalid_indices_are_reported_when_the_graph_runs():
    f = _components_function(lambda sp: dtf.sparse.to_dense(sp))
    _assert_same(_call(f, _sp([[0, 0], [1, 1]])), dtf.sparse.to_dense(_sp([[0, 0], [1, 1]])))
    with pytest.raises(InvalidArgumentError, match=r"indices\[1\] = \[0,0\] is out of order"):
        _call(f, _sp([[1, 0], [0, 0]]))
    with pytest.raises(InvalidArgumentError, match=r"indices\[1\] = \[1,1\] is repeated"):
        _call(f, _sp([[1, 1], [1, 1]]))
    with pytest.raises(InvalidArgumentError, match=r"\[5,0\] is out of bounds"):
        _call(f, _sp([[0, 0], [5, 0]]))
    assert f.experimental_get_tracing_count() == 1


def _grads(fn, sp, dense):
    with dtf.GradientTape() as tape:
        tape.watch([sp.values, dense])
        y = fn(sp, dense)
    return tape.gradient(y, [sp.values, dense])


GRAD_FNS = {
    "matmul": lambda sp, d: dtf.reduce_sum(dtf.square(dtf.sparse.sparse_dense_matmul(sp, d))),
    "matmul_adjoint": lambda sp, d: dtf.reduce_sum(dtf.sparse.sparse_dense_matmul(
        sp, d, adjoint_a=True, adjoint_b=True) * 2.0),
    "to_dense": lambda sp, d: dtf.reduce_sum(dtf.sparse.to_dense(_sorted(sp)) * d[:3, :4]),
    "reduce_sum": lambda sp, d: dtf.reduce_sum(dtf.sparse.reduce_sum(sp, axis=1) * d[:3, 0]),
    "add_dense": lambda sp, d: dtf.reduce_sum(dtf.square(dtf.sparse.add(sp, d[:3, :4]))),
    "times_dense": lambda sp, d: dtf.reduce_sum((sp * d[:3, :4]).values ** 2),
}


@pytest.mark.parametrize("name", sorted(GRAD_FNS))
def test_gradients_in_a_trace_equal_eager(name):
    fn = GRAD_FNS[name]
    dense = dtf.constant(np.linspace(-1, 1, 20, dtype=np.float32).reshape(4, 5))
    f = _components_function(lambda sp, d: _grads(fn, sp, d),
                             extra=[dtf.TensorSpec([None, None], dtf.float32)])
    for i, indices in enumerate(INDEX_SETS[:3] + INDEX_SETS[4:]):
        sp = _sp(indices, seed=i)
        d = dense[:, :4] if name in ("matmul", "matmul_adjoint") else dense
        if name == "matmul_adjoint":
            d = dense[:2, :3]
        got, want = _call(f, sp, d), _grads(fn, sp, d)
        for g, w in zip(got, want):
            npt.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-6)
    assert f.experimental_get_tracing_count() == 1


def test_sparse_result_of_a_traced_function():
    f = _components_function(lambda sp: dtf.sparse.transpose(sp * 2.0))
    for i, indices in enumerate(INDEX_SETS):
        sp = _sp(indices, seed=i)
        out = _call(f, sp)
        assert isinstance(out, SparseTensor) and out.shape == dtf.TensorShape([4, 3])
        _assert_same(out, dtf.sparse.transpose(sp * 2.0))


# -- SparseTensors as arguments (needs the function.py/tracing.py patch) -----------------------
@needs_composite_keys
def test_sparse_argument_traces_once_per_spec():
    f = dtf.function(lambda sp, x: (dtf.sparse.sparse_dense_matmul(sp, x),
                                    dtf.sparse.reorder(sp) * 3.0))
    x = dtf.ones([4, 2])
    for i, indices in enumerate(INDEX_SETS):
        sp = _sp(indices, seed=i)
        _assert_same(f(sp, x), (dtf.sparse.sparse_dense_matmul(sp, x),
                                dtf.sparse.reorder(sp) * 3.0))
    assert f.experimental_get_tracing_count() == 1
    f(_sp([[0, 0]], shape=[5, 4]), x)  # another dense shape: another spec, as TensorFlow
    assert f.experimental_get_tracing_count() == 2


def _row_sums_and_double():
    @dtf.function(input_signature=[dtf.sparse.SparseTensorSpec([None, 4], dtf.float32)])
    def f(sp):
        return dtf.sparse.reduce_sum(sp, axis=1), dtf.sparse.add(sp, sp)

    return f


@needs_composite_signatures
def test_input_signature_with_sparse_tensor_spec():
    f = _row_sums_and_double()
    for shape in ([3, 4], [1, 4], [6, 4]):
        for i, indices in enumerate(([[0, 1]], [[0, 0], [0, 3]], [])):
            sp = _sp(indices, shape=shape, seed=i)
            _assert_same(f(sp), (dtf.sparse.reduce_sum(sp, axis=1), dtf.sparse.add(sp, sp)))
    assert f.experimental_get_tracing_count() == 1
    concrete = dtf.function(lambda sp: dtf.sparse.to_dense(sp)).get_concrete_function(
        dtf.sparse.SparseTensorSpec([None, 3], dtf.int32))
    sp = SparseTensor([[0, 2], [1, 0]], np.array([5, 6], np.int32), [2, 3])
    _assert_same(concrete(sp), dtf.sparse.to_dense(sp))


@needs_spec_checks
def test_input_signature_checks_and_shows_the_sparse_spec():
    f = _row_sums_and_double()
    f(_sp([[0, 1]]))
    (spec,), _ = f.get_concrete_function().structured_input_signature
    assert spec == dtf.sparse.SparseTensorSpec([None, 4], dtf.float32)
    with pytest.raises(TypeError, match="SparseTensorSpec"):
        f(_sp([[0, 0]], shape=[2, 5]))
    assert dtf.SparseTensorSpec is dtf.sparse.SparseTensorSpec


def test_sparse_tensor_spec():
    spec = dtf.sparse.SparseTensorSpec([None, 4], dtf.float32)
    assert repr(spec) == "SparseTensorSpec(TensorShape([None, 4]), dtf.float32)"
    assert spec.is_compatible_with(_sp([[0, 1]]))
    assert not spec.is_compatible_with(_sp([[0, 1]], shape=[3, 5]))
    assert not spec.is_compatible_with(_sp([[0, 1]], dtype=np.float64))
    assert spec.is_compatible_with(dtf.sparse.SparseTensorSpec([2, 4], dtf.float32))
    assert spec == dtf.sparse.SparseTensorSpec([None, 4]) and hash(spec) == hash(
        dtf.sparse.SparseTensorSpec([None, 4]))
    assert dtf.sparse.SparseTensorSpec([2, 4]).most_specific_compatible_type(
        dtf.sparse.SparseTensorSpec([3, 4])) == spec
    assert dtf.sparse.SparseTensorSpec.from_value(_sp([[0, 1]])) == \
        dtf.sparse.SparseTensorSpec([3, 4])
    assert spec.value_type is SparseTensor
    with pytest.raises(ValueError, match="rank"):
        dtf.sparse.SparseTensorSpec([2, 4]).most_specific_compatible_type(
            dtf.sparse.SparseTensorSpec([2, 4, 1]))


def test_type_spec_has_no_data():
    a, b = _sp([[0, 1]]), _sp([[2, 2], [1, 0]])
    assert a._dtf_type_spec() == b._dtf_type_spec() == ("SparseTensor", "float32", (3, 4))
    assert a._dtf_type_spec() != _sp([[0, 1]], shape=[3, 5])._dtf_type_spec()
    assert [c.shape.as_list() for c in a._dtf_component_specs()] == [[None, 2], [None], [2]]
    back = SparseTensor._dtf_from_components(b._dtf_components(), b._dtf_type_spec())
    _assert_same(back, b)


def test_symbolic_components_keep_static_shapes():
    from dtf.compile.symbolic import placeholder

    sp = SparseTensor._dtf_from_components(
        [placeholder([None, None], dtf.int64), placeholder([None], dtf.float32),
         placeholder([None], dtf.int64)], ("SparseTensor", "float32", (None, 4)))
    assert sp.shape.as_list() == [None, 4] and sp.indices.shape.as_list() == [None, 2]
    assert sp.dense_shape.shape.as_list() == [2]
    assert "shape=(None, 4)" in repr(sp)
    assert dtf.sparse.reduce_sum(sp, axis=0).shape.as_list() == [4]
