"""dtf.sets against TensorFlow 2.21's results.

`fixtures/sets_cases.json` holds TensorFlow's output (or error) for each case; it was made by
`fixtures/make_sets_cases.py` with the reference TensorFlow. Further tests check properties
against Python sets on larger random inputs, and the public surface.
"""

import doctest
import importlib
import json
import pathlib

import numpy as np
import pytest

import dtf
from dtf.autodiff.tape import GradientTape
from dtf.errors import InvalidArgumentError
from dtf.sparse import SparseTensor

sets = importlib.import_module("dtf.sets")
set_ops = importlib.import_module("dtf.sets.set_ops")

_FIXTURE = json.loads((pathlib.Path(__file__).parent / "fixtures" / "sets_cases.json").read_text())
_CASES = _FIXTURE["cases"]
_ERRORS = {"InvalidArgumentError": InvalidArgumentError, "TypeError": TypeError}


def _build(spec):
    dtype = np.dtype(spec["dtype"])
    if "dense" in spec:
        return dtf.constant(np.array(spec["dense"], dtype=dtype).reshape(spec["shape"]))
    s = spec["sparse"]
    indices = np.array(s["indices"], np.int64).reshape(-1, len(s["dense_shape"]))
    return SparseTensor(indices, dtf.constant(np.array(s["values"], dtype=dtype)),
                        s["dense_shape"])


def _call(case):
    fn = getattr(sets, case["op"])
    a = _build(case["a"])
    if case["op"] == "size":
        return fn(a, **case["kwargs"])
    return fn(a, _build(case["b"]), **case["kwargs"])


def _st(sp):
    return (sp.indices.numpy().tolist(), sp.values.numpy().tolist(),
            sp.dense_shape.numpy().tolist())


@pytest.mark.parametrize("case", [c for c in _CASES if "error" not in c], ids=lambda c: c["name"])
def test_matches_tensorflow(case):
    result = _call(case)
    expected = case["expected"]
    if case["op"] == "size":
        assert result.dtype == dtf.int32
        assert result.numpy().tolist() == expected["values"]
        return
    assert isinstance(result, SparseTensor)
    assert result.indices.dtype == dtf.int64 and result.dense_shape.dtype == dtf.int64
    assert result.dtype.name == expected["dtype"]
    assert _st(result) == (expected["indices"], expected["values"], expected["dense_shape"])


@pytest.mark.parametrize("case", [c for c in _CASES if "error" in c], ids=lambda c: c["name"])
def test_errors_match_tensorflow(case):
    with pytest.raises(_ERRORS[case["error"]]) as info:
        _call(case)
    if "message" in case:  # the kernel's words, as TensorFlow says them
        assert case["message"] in str(info.value)


def test_error_messages_say_what_to_do():
    with pytest.raises(TypeError, match=r"int32 vs int64.*dtf.cast"):
        sets.union(dtf.constant([[1]]), dtf.constant([[1]], dtype=dtf.int64))
    with pytest.raises(TypeError, match=r"float32.*integer dtypes"):
        sets.intersection(dtf.constant([[1.0]]), dtf.constant([[1.0]]))
    with pytest.raises(TypeError, match=r"Expected `SparseTensor`.*from_dense"):
        sets.size(dtf.constant([[1, 2]]))
    with pytest.raises(InvalidArgumentError, match=r"rank >= 2.*expand_dims"):
        sets.union(dtf.constant([1]), dtf.constant([2]))
    with pytest.raises(InvalidArgumentError, match=r"a has shape \[1, 2\], b has shape \[2, 2\]"):
        sets.union(dtf.constant([[1, 2]]), dtf.constant([[2, 3], [3, 4]]))
    with pytest.raises(InvalidArgumentError, match="dtf.sparse.reorder"):
        sets.size(SparseTensor([[0, 1], [0, 0]], [1, 2], [3, 5]))


def test_unvalidated_out_of_bounds_group_is_an_error_not_a_crash():
    bad = SparseTensor([[5, 0]], [1], [2, 3])
    with pytest.raises(InvalidArgumentError, match=r"indices\[0\] = \[5,0\] is out of bounds"):
        sets.size(bad, validate_indices=False)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("sparse_a, sparse_b", [(False, False), (False, True), (True, False),
                                                (True, True)])
def test_against_python_sets(seed, sparse_a, sparse_b):
    rng = np.random.default_rng(seed)
    rows = 50

    def make(sparse):
        dense = rng.integers(-20, 20, size=(rows, int(rng.integers(0, 30))))
        if not sparse:
            return dtf.constant(dense), [set(r.tolist()) for r in dense]
        mask = rng.random(dense.shape) < 0.6
        indices = np.argwhere(mask)
        values = dense[mask]
        py = [set() for _ in range(rows)]
        for (r, _), v in zip(indices, values):
            py[r].add(int(v))
        return SparseTensor(indices, dtf.constant(values), list(dense.shape)), py

    (a, pa), (b, pb) = make(sparse_a), make(sparse_b)
    expected = {
        "intersection": [x & y for x, y in zip(pa, pb)],
        "union": [x | y for x, y in zip(pa, pb)],
        "a-b": [x - y for x, y in zip(pa, pb)],
        "b-a": [y - x for x, y in zip(pa, pb)],
    }
    results = {
        "intersection": sets.intersection(a, b),
        "union": sets.union(a, b),
        "a-b": sets.difference(a, b),
        "b-a": sets.difference(a, b, aminusb=False),
    }
    for name, result in results.items():
        indices, values, shape = _st(result)
        got = [[] for _ in range(rows)]
        for (r, col), v in zip(indices, values):
            assert col == len(got[r])  # positions 0, 1, 2, ... within each set
            got[r].append(v)
        assert got == [sorted(s) for s in expected[name]], name
        assert shape == [rows, max((len(s) for s in expected[name]), default=0)]
        assert result.dtype == dtf.int64
    if sparse_a:
        assert sets.size(a).numpy().tolist() == [len(s) for s in pa]


def test_size_of_a_union_counts_its_sets():
    a = dtf.constant([[[1, 2, 3], [4, 4, 4]], [[0, 0, 1], [9, 8, 7]]])
    b = dtf.constant([[[3, 5], [4, 6]], [[1, 2], [7, 7]]])
    assert sets.size(sets.union(a, b)).numpy().tolist() == [[4, 2], [3, 3]]


def test_accepts_variables_and_python_lists():
    a = dtf.Variable([[1, 2, 3]])
    result = sets.intersection(a, [[3, 1]])
    assert _st(result) == ([[0, 0], [0, 1]], [1, 3], [1, 2])


def test_not_differentiable():
    a = dtf.Variable([[1, 2, 3]])
    with GradientTape() as tape:
        result = sets.union(a, dtf.constant([[4]]))
        total = dtf.reduce_sum(result.values)
    assert tape.gradient(total, a) is None


def test_aliases_and_namespace():
    assert sets.set_intersection is sets.intersection
    assert sets.set_union is sets.union
    assert sets.set_difference is sets.difference
    assert sets.set_size is sets.size
    assert set(sets.__all__) == {"difference", "intersection", "size", "union", "set_difference",
                                 "set_intersection", "set_size", "set_union"}


@pytest.mark.parametrize("module", [sets, set_ops], ids=["dtf.sets", "dtf.sets.set_ops"])
def test_doctests(module, monkeypatch):
    monkeypatch.setattr(dtf, "sets", sets, raising=False)  # until dtf exports it lazily
    result = doctest.testmod(module, extraglobs={"dtf": dtf}, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
