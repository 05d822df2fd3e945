"""Corrupt, truncated, hostile and wrong-version saved models: the reader answers every one
with ExportFormatError (a ValueError naming the bad field), never another exception, never a
hang and never a giant allocation; it runs nothing from the file."""

import random
import sys
import time

import msgpack
import numpy as np
import pytest

import dtf
from dtf import keras
from dtf.compile import export
from dtf.compile.export import ExportFormatError
from dtf.saved_model import load_bytes


def _load(data):
    """load_bytes, which must either succeed or raise ExportFormatError, quickly."""
    start = time.perf_counter()
    try:
        load_bytes(data)
    except ExportFormatError as e:
        assert str(e).startswith("Invalid dtf saved model"), e
        return e
    finally:
        assert time.perf_counter() - start < 2.0, "the reader took too long"
    return None


@pytest.fixture(scope="module")
def small_file():
    """A module with a Variable, an assignment, a print to stdout, a slice, a split and a
    signature: every kind of field, in a few hundred bytes."""

    class Small:
        def __init__(self):
            self.v = dtf.Variable([[1.0, 2.0, 3.0]], name="v")
            self.n = dtf.Variable(0, trainable=False, name="n")

        @dtf.function(input_signature=[dtf.TensorSpec([None, 3], dtf.float32, name="x")])
        def __call__(self, x):
            self.n.assign_add(1)
            dtf.print("n", self.n, output_stream=sys.stdout)
            a, b = dtf.split(x * self.v, [1, 2], axis=1)
            return {"a": a[:, ::-1], "b": dtf.reduce_sum(b, axis=1), "k": 7}

    return _save_bytes(Small())


def _save_bytes(obj):
    from dtf.saved_model.save import build_program

    return export.program_to_bytes(build_program(obj))


@pytest.fixture(scope="module")
def model_file():
    dtf.random.set_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(2)])
    return _save_bytes(model)


def test_the_sample_files_load(small_file, model_file, capfd):
    loaded = load_bytes(small_file)
    out = loaded(np.ones((2, 3), "float32"))
    assert out["k"] == 7 and out["a"].shape == (2, 1)
    assert load_bytes(model_file).serve(np.ones((1, 8), "float32")).shape == (1, 2)


def test_every_truncation_is_rejected(small_file, model_file):
    for data in (small_file, model_file):
        offsets = sorted(set(range(min(len(data), 400))) |
                         set(range(0, len(data), max(1, len(data) // 300))))
        for k in offsets:
            assert _load(data[:k]) is not None, f"a file cut at {k} of {len(data)} bytes loaded"


def test_random_byte_flips_never_escape(small_file, model_file):
    rng = random.Random(1234)
    rejected = 0
    for data in (small_file, model_file):
        for _ in range(1500):
            corrupt = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(corrupt))
                corrupt[i] = rng.randrange(256) if rng.random() < 0.5 else corrupt[i] ^ (
                    1 << rng.randrange(8))
            rejected += _load(bytes(corrupt)) is not None
    assert rejected > 1000  # most flips break something; the rest changed only values


def _paths(x, path=()):
    """Every position in a decoded file (map values, list items), depth first."""
    yield path
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _paths(v, path + (k,))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _paths(v, path + (i,))


def _replace(x, path, value):
    if not path:
        return value
    x = list(x) if isinstance(x, list) else dict(x)
    x[path[0]] = _replace(x[path[0]], path[1:], value)
    return x


WRONG = [None, True, -1, 2 ** 63, 1.5, "x", b"\x00", [], {}]


TOP_FIELDS = ["format", "version", "constants", "variables", "signatures", "attributes",
              "variable_attributes", "metadata"]
_SHARDS = 3  # the functions' fields are most of a file: spread them over the workers


@pytest.mark.parametrize("field,shard", [(f, 0) for f in TOP_FIELDS] +
                         [("functions", k) for k in range(_SHARDS)])
def test_wrong_types_in_every_field_are_rejected(small_file, field, shard):
    top = msgpack.unpackb(small_file, raw=False)
    paths = [(field,) + p for p in _paths(top[field])]
    if field == "functions":
        paths = paths[shard::_SHARDS]
    outcomes = {"rejected": 0, "loaded": 0}
    for path in paths:
        for value in WRONG:
            data = msgpack.packb(_replace(top, path, value), use_bin_type=True)
            outcomes["rejected" if _load(data) is not None else "loaded"] += 1
    if field != "metadata":  # metadata holds any values: only never escaping counts there
        # values that stay valid (a name, a Python output value...) may load
        assert outcomes["rejected"] > 0.75 * (len(paths) * len(WRONG)), outcomes


def _file(**changes):
    """A minimal valid file, with top-level fields replaced."""
    x = {"format": "dtf.saved_model", "version": 1, "constants": [], "variables": [],
         "functions": [], "signatures": {}, "attributes": {}, "variable_attributes": {},
         "metadata": {}}
    x.update(changes)
    return msgpack.packb(x, use_bin_type=True)


def _graph(nodes, outputs, inputs=(("x", [2], "float32"),)):
    return {"name": "g", "inputs": [list(i) for i in inputs], "captures": [], "nodes": nodes,
            "outputs": outputs}


def _function(graph):
    return {"name": "f", "graph": graph, "arg_names": ["x"],
            "inputs": ["tuple", [["tuple", [["spec", ["x", [2], "float32"]]]], ["dict", []]]],
            "outputs": ["out", 0]}


def _node(op, inputs, attrs=None, outputs=(([2], "float32"),)):
    return {"op": op, "inputs": inputs, "attrs": attrs or {}, "outputs": [list(o)
                                                                           for o in outputs]}


def test_a_minimal_hand_written_file_loads():
    g = _graph([_node("multiply", [["in", 0], ["in", 0]])], [["node", 0, 0]])
    loaded = load_bytes(_file(functions=[_function(g)], attributes={"__call__": [0]}))
    np.testing.assert_array_equal(loaded(np.array([2.0, 3.0], "float32")).numpy(), [4.0, 9.0])


@pytest.mark.parametrize("nodes,outputs,message", [
    ([_node("multiply", [["node", 0, 0], ["in", 0]])], [["node", 0, 0]], "earlier node"),
    ([_node("multiply", [["node", 1, 0], ["in", 0]]), _node("negative", [["in", 0]])],
     [["node", 0, 0]], "earlier node index 1 is out of range"),
    ([_node("negative", [["in", 1]])], [["node", 0, 0]], "graph input index 1"),
    ([_node("negative", [["in", -1]])], [["node", 0, 0]], "out of range"),
    ([_node("negative", [["const", 0]])], [["node", 0, 0]], "constant index 0"),
    ([_node("negative", [["var", 3]])], [["node", 0, 0]], "variable index 3"),
    ([_node("negative", [["in", 0]])], [["node", 0, 1]], "node output index 1"),
    ([_node("negative", [["in", True]])], [["node", 0, 0]], "expected a graph input index"),
    ([_node("negative", [["eval", 0]])], [["node", 0, 0]], "unknown reference kind 'eval'"),
    ([_node("os.system", [["in", 0]])], [["node", 0, 0]], "unknown op 'os.system'"),
    ([_node("__import__", [["in", 0]])], [["node", 0, 0]], "unknown op"),
    ([_node("custom_gradient:clip", [["in", 0]])], [["node", 0, 0]], "not in dtf's op table"),
    ([_node("optimizer_apply", [["in", 0]])], [["node", 0, 0]], "cannot be loaded"),
    ([_node("negative", [["in", 0]], outputs=(([3], "float32"),))], [["node", 0, 0]],
     r"declared float32\[3\] but the op makes float32\[2\]"),
    ([_node("negative", [["in", 0]], outputs=(([2], "int32"),))], [["node", 0, 0]],
     "declared int32"),
    ([_node("negative", [["in", 0]], outputs=())], [["node", 0, 0]], "declares 0 outputs"),
    ([_node("negative", [["in", 0]], {"evil": 1})], [["node", 0, 0]], "unknown attributes"),
    ([_node("reduce_sum", [["in", 0]], {"axis": ["tuple", [5]], "keepdims": False},
            outputs=(([], "float32"),))], [["node", 0, 0]], "rejects its inputs or attributes"),
    ([_node("cast", [["in", 0]], {"dtype": ["dtype", "object"]})], [["node", 0, 0]],
     "unknown dtype 'object'"),
    ([_node("cast", [["in", 0]], {"dtype": ["pickle", "cos\\nsystem"]})], [["node", 0, 0]],
     "unknown or misplaced tag 'pickle'"),
    ([_node("cast", [["in", 0]], {"dtype": ["var", 0]})], [["node", 0, 0]], "variable index"),
    ([_node("unstack", [["in", 0]], {"num": 10 ** 12, "axis": 0},
            outputs=(([], "float32"),) * 2)], [["node", 0, 0]], "num=1000000000000"),
    ([_node("split", [["in", 0]], {"sizes": None, "num_split": 10 ** 12, "axis": 0},
            outputs=(([1], "float32"),) * 2)], [["node", 0, 0]], "does not match"),
    ([_node("print", [["in", 0]], {"template": "{}", "stream": "file:///etc/passwd",
                                   "end": "\n", "summarize": 3},
            outputs=(([], "bool"),))], [["in", 0]], "sys.stdout or sys.stderr"),
    ([_node("print", [["in", 0]], {"template": "{0.__class__}", "stream": "stdout",
                                   "end": "\n", "summarize": 3},
            outputs=(([], "bool"),))], [["in", 0]], "plain"),
    ([_node("print", [["in", 0]], {"template": "{} {}", "stream": "stderr", "end": "\n",
                                   "summarize": 3}, outputs=(([], "bool"),))], [["in", 0]],
     "exactly 1"),
])
def test_hostile_graphs_are_rejected(nodes, outputs, message):
    data = _file(functions=[_function(_graph(nodes, outputs))], attributes={"__call__": [0]})
    with pytest.raises(ExportFormatError, match=message):
        load_bytes(data)


@pytest.mark.parametrize("changes,message", [
    ({"version": 2}, "version 2 is not supported"),
    ({"version": "1"}, "version '1' is not supported"),
    ({"version": True}, "not supported"),
    ({"format": "pickle"}, "not a dtf saved model"),
    ({"extra": 1}, r"unknown \['extra'\]"),
    ({"constants": [["float32", [2 ** 40, 2 ** 20], b"\x00" * 8]]}, "needs .* bytes, found 8"),
    ({"constants": [["float32", [2 ** 62] * 3, b""]]}, "needs"),
    ({"constants": [["float32", [0, 2 ** 62, 2 ** 62], b""]]}, "not a valid array shape"),
    ({"constants": [["float32", [-1], b""]]}, "out of range"),
    ({"constants": [["float32", [1] * 65, b"\x00" * 4]]}, "rank 65"),
    ({"constants": [["bool", [2], b"\x00\x07"]]}, "other than 0 and 1"),
    ({"constants": [["float32", [2], "text"]]}, "expected bytes"),
    ({"variables": [{"name": "v", "dtype": "float32", "shape": [2], "trainable": True,
                     "value": ["float32", [3], b"\x00" * 12]}]}, "has shape"),
    ({"variables": [{"name": "v", "dtype": "int32", "shape": [1], "trainable": True,
                     "value": ["float32", [1], b"\x00" * 4]}]}, "is int32 but its value"),
    ({"variables": [{"name": "v", "dtype": "float32", "shape": [1], "trainable": 1,
                     "value": ["float32", [1], b"\x00" * 4]}]}, "expected a bool"),
    ({"signatures": {"serving_default": 0}}, "function index 0 is out of range"),
    ({"attributes": {"f": [5]}}, "function index 5"),
    ({"variable_attributes": {"v": 0}}, "variable index 0"),
    ({"metadata": {"k": ["set", []]}}, "unknown or misplaced tag"),
])
def test_hostile_top_levels_are_rejected(changes, message):
    with pytest.raises(ExportFormatError, match=message):
        load_bytes(_file(**changes))


def test_huge_declared_lengths_do_not_allocate():
    # a msgpack array or bin header claiming 4 GiB of items, with nothing behind it
    for header in (b"\xdd\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff"):
        assert _load(header) is not None
        assert _load(_file()[:-1] + b"\x81\xa1k" + header) is not None


def test_deep_nesting_is_rejected():
    assert _load(b"\x91" * 200_000) is not None  # msgpack's own stack limit
    value = 1
    for _ in range(200):
        value = ["tuple", [value]]
    e = _load(_file(metadata={"deep": value}))
    assert e is not None and "nest" in str(e)
    g = _graph([_node("negative", [["in", 0]])], [["node", 0, 0]])
    attr = ["graph", g]
    for _ in range(20):  # sub-graphs within sub-graphs
        attr = ["graph", _graph([_node("negative", [["in", 0]], {"x": attr})],
                                [["node", 0, 0]])]
    e = _load(_file(functions=[_function(attr[1])], attributes={"__call__": [0]}))
    assert e is not None and ("nest" in str(e) or "attributes" in str(e))


def test_not_bytes_at_all():
    with pytest.raises(ExportFormatError, match="expected bytes"):
        load_bytes("a string")
    for data in (b"", b"\xc1", b"\x00", msgpack.packb([1, 2]), b"\xd4\x05\x00"):
        assert _load(data) is not None
