"""dtf.sparse's reshape, expand_dims, fill_empty_rows, to_indicator and segment reductions
against TensorFlow 2.21 (`fixtures/layout_cases.json`, made by `fixtures/make_layout_cases.py`),
eagerly and inside dtf.function on symbolic indices (one trace for every case of an op), and
their gradients."""

import json
import pathlib

import numpy as np
import numpy.testing as npt
import pytest

import dtf
from dtf.errors import InvalidArgumentError
from dtf.sparse import SparseTensor

_FIXTURE = json.loads((pathlib.Path(__file__).parent / "fixtures" /
                       "layout_cases.json").read_text())
_DATA = np.array(_FIXTURE["data"], np.float32)
_CASES = _FIXTURE["cases"]


def _sparse_parts(case):
    spec = case["sp"]
    rank = len(spec["dense_shape"])
    dtype = np.int64 if case["op"] == "to_indicator" else np.float32
    return (np.array(spec["indices"], np.int64).reshape(-1, rank),
            np.array(spec["values"], dtype), np.array(spec["dense_shape"], np.int64))


def _run(case, traced):
    op = getattr(dtf.sparse, case["op"])
    kwargs = case["kwargs"]
    if case["op"].startswith("segment"):
        args = [dtf.constant(_DATA), dtf.constant(np.array(kwargs["indices"], np.int64)),
                dtf.constant(np.array(kwargs["segment_ids"], np.int64))]
        extra = {k: v for k, v in kwargs.items() if k == "num_segments"}
        fn = (lambda d, i, s: op(d, i, s, **extra))
        if traced:
            fn = dtf.function(fn, input_signature=[
                dtf.TensorSpec([None, None], dtf.float32), dtf.TensorSpec([None], dtf.int64),
                dtf.TensorSpec([None], dtf.int64)])
        return fn(*args)
    parts = [dtf.constant(p) for p in _sparse_parts(case)]

    def fn(indices, values, dense_shape):
        return op(SparseTensor(indices, values, dense_shape), **kwargs)

    if traced:
        fn = dtf.function(fn, input_signature=[
            dtf.TensorSpec([None, len(case["sp"]["dense_shape"])], dtf.int64),
            dtf.TensorSpec([None], parts[1].dtype), dtf.TensorSpec([None], dtf.int64)])
    return fn(*parts)


def _check(out, expected):
    if isinstance(expected, list):
        assert isinstance(out, tuple) and len(out) == len(expected)
        for o, e in zip(out, expected):
            _check(o, e)
        return
    if "indices" in expected:
        assert isinstance(out, SparseTensor)
        assert out.indices.numpy().tolist() == expected["indices"]
        npt.assert_allclose(out.values.numpy(), expected["values"], rtol=1e-6)
        assert out.dense_shape.numpy().tolist() == expected["dense_shape"]
        assert out.shape.is_compatible_with(expected["dense_shape"])
        return
    assert out.dtype.name == expected["dtype"]
    npt.assert_allclose(out.numpy(), expected["dense"], rtol=1e-6)


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
@pytest.mark.parametrize("case", [c for c in _CASES if "error" not in c],
                         ids=lambda c: c["name"])
def test_matches_tensorflow(case, traced):
    _check(_run(case, traced), case["expected"])


@pytest.mark.parametrize("case", [c for c in _CASES if "error" in c], ids=lambda c: c["name"])
def test_errors_match_tensorflow(case):
    with pytest.raises(InvalidArgumentError) as info:
        _run(case, traced=False)
    assert case["message"] in str(info.value)
    if case["name"] != "segment_sum_unsorted":  # a trace sums unsorted ids, as unsorted_*
        with pytest.raises(InvalidArgumentError) as info:
            _run(case, traced=True)
        assert case["message"] in str(info.value)


def test_one_trace_serves_every_index_set():
    @dtf.function(input_signature=[dtf.TensorSpec([None, 2], dtf.int64),
                                   dtf.TensorSpec([None], dtf.float32),
                                   dtf.TensorSpec([2], dtf.int64)])
    def f(indices, values, dense_shape):
        sp = SparseTensor(indices, values, dense_shape)
        filled, empty = dtf.sparse.fill_empty_rows(sp, 9.0)
        return dtf.sparse.reshape(sp, [-1]), dtf.sparse.expand_dims(sp, 0), filled, empty

    for idx, shape in (([[0, 1], [2, 3]], [3, 4]), ([[1, 0]], [2, 2]), ([], [4, 1])):
        sp = SparseTensor(np.array(idx, np.int64).reshape(-1, 2),
                          np.arange(len(idx), dtype=np.float32) + 1.0, shape)
        got = f(*sp._dtf_components())
        filled, empty = dtf.sparse.fill_empty_rows(sp, 9.0)
        want = (dtf.sparse.reshape(sp, [-1]), dtf.sparse.expand_dims(sp, 0), filled, empty)
        for g, w in zip(got, want):
            if isinstance(w, SparseTensor):
                for a, b in zip(g._dtf_components(), w._dtf_components()):
                    npt.assert_array_equal(a.numpy(), b.numpy())
            else:
                npt.assert_array_equal(g.numpy(), w.numpy())
    assert f.experimental_get_tracing_count() == 1
    reshaped = f.get_concrete_function().structured_outputs[0]
    assert reshaped.shape.as_list() == [None]


def test_static_shapes():
    sp = SparseTensor([[0, 1]], [1.0], [3, 4])
    assert dtf.sparse.reshape(sp, [2, -1, 3]).shape == dtf.TensorShape([2, 2, 3])
    assert dtf.sparse.expand_dims(sp, -1).shape == dtf.TensorShape([3, 4, 1])
    assert dtf.sparse.to_indicator(
        SparseTensor([[0, 0]], np.array([1], np.int32), [2, 1]), 3).shape == [2, 3]
    with pytest.raises(InvalidArgumentError, match="axis 3 is out of range"):
        dtf.sparse.expand_dims(sp, 3)
    with pytest.raises(TypeError, match="integer ids"):
        dtf.sparse.to_indicator(sp, 4)


def test_gradients():
    values = dtf.constant([1.0, 2.0, 3.0])
    default = dtf.constant(-1.0)
    data = dtf.constant(_DATA)
    with dtf.GradientTape(persistent=True) as tape:
        tape.watch([values, default, data])
        sp = SparseTensor([[1, 2], [3, 0], [1, 0]], values, [5, 4])
        filled, _ = dtf.sparse.fill_empty_rows(sp, default)
        fill_loss = dtf.reduce_sum(filled.values * dtf.constant([1., 2., 3., 4., 5., 6.]))
        reshape_loss = dtf.reduce_sum(dtf.sparse.to_dense(dtf.sparse.reorder(
            dtf.sparse.reshape(sp, [2, 10]))) ** 2)
        mean = dtf.sparse.segment_mean(data, [0, 2, 1, 1], [0, 0, 0, 1])
        mean_loss = dtf.reduce_sum(mean * dtf.constant([[1.0, 2.0], [3.0, 4.0]]))
    # filled entries: [0,0]<-default, [1,2]<-v0, [1,0]<-v2, [2,0]<-default, [3,0]<-v1, [4,0]<-d
    npt.assert_allclose(tape.gradient(fill_loss, values).numpy(), [2.0, 5.0, 3.0])
    npt.assert_allclose(tape.gradient(fill_loss, default).numpy(), 1.0 + 4.0 + 6.0)
    npt.assert_allclose(tape.gradient(reshape_loss, values).numpy(), [2.0, 4.0, 6.0])
    npt.assert_allclose(tape.gradient(mean_loss, data).numpy(),
                        [[1 / 3, 2 / 3], [3.0 + 1 / 3, 4.0 + 2 / 3], [1 / 3, 2 / 3]], rtol=1e-6)
