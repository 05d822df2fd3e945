"""dtf.compile.export and dtf.saved_model: the portable file round-trips every op of the table
(with its gradient graph), every kind of attribute, functions, modules and Keras models, and
loaded callables give the original outputs without the code that made them."""

import json
import math
import os
import subprocess
import sys
import textwrap

import msgpack
import numpy as np
import numpy.testing as npt
import pytest

import dtf
from dtf import keras, nest, saved_model
from dtf.compile import context, export
from dtf.compile.export import ExportedFunction, ExportFormatError, OutputSlot, Program
from dtf.compile.graph import Graph
from dtf.compile.symbolic import OpNode, SymbolicTensor, placeholder
from dtf.ops import registry
from dtf.saved_model import reader
from dtf.testing.op_cases import all_cases

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _round_trip(program):
    return export.program_from_bytes(export.program_to_bytes(program))


def _function(graph, specs=None, outputs=None, name="f"):
    specs = specs if specs is not None else [dtf.TensorSpec(t.shape, t.dtype, t.name)
                                             for t in graph.inputs]
    outputs = outputs if outputs is not None else [OutputSlot(i)
                                                   for i in range(len(graph.outputs))]
    return ExportedFunction(name, graph, (tuple(specs), {}), outputs,
                            [s.name or f"arg_{i}" for i, s in enumerate(specs)])


# -- attribute values ----------------------------------------------------------------------------
VALUES = [
    None, True, False, 0, -7, 2 ** 63 - 1, -(2 ** 63), 2 ** 64 - 1, 1.5, -0.0, math.inf, -math.inf,
    "text", "", b"\x00\xff", (), [], (1, 2), [1, 2], ((1,), [2, (3, None)]), {"a": 1, 3: (4,)},
    dtf.float32, dtf.int64, dtf.bool, dtf.complex128, np.float32(1.25), np.int64(-3),
    np.bool_(True), 1 + 2j, slice(None, 5, 2), slice(-1, None, None), Ellipsis,
    dtf.TensorShape([None, 3]), dtf.TensorShape(None),
    np.arange(6, dtype=np.float16).reshape(2, 3), np.array([True, False]),
    np.array([[1 + 1j]], dtype=np.complex64), np.zeros((0, 4), np.int32),
    np.array(3.5, dtype=np.float64), np.arange(4, dtype=">i4"),
]


def _same(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype.newbyteorder("=") == b.dtype.newbyteorder("=") and a.shape == b.shape
        npt.assert_array_equal(a, b)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    elif isinstance(a, dtf.TensorShape):
        assert a.as_list() == b.as_list() if a.rank is not None else b.rank is None
    else:
        assert a == b and (not isinstance(a, float) or math.copysign(1, a) == math.copysign(1, b))


@pytest.mark.parametrize("value", VALUES + [math.nan], ids=lambda v: type(v).__name__)
def test_attribute_values_round_trip_with_their_types(value):
    writer = export._Writer()
    data = msgpack.unpackb(msgpack.packb(writer.value(value, "v", export._ATTR_TAGS),
                                         use_bin_type=True), raw=False)
    _same(value, reader._Reader([], []).value(data, "v", export._ATTR_TAGS))


def test_variables_and_tensors_in_attributes_become_references():
    v = dtf.Variable([1.0, 2.0], name="kept")
    t = dtf.constant([3, 4])
    writer = export._Writer()
    encoded = writer.value({"v": v, "t": (t, v)}, "attrs", export._ATTR_TAGS)
    assert len(writer.variables) == 1 and len(writer.constants) == 1
    r = reader._Reader([dtf.constant([3, 4])], [v])
    decoded = r.value(msgpack.unpackb(msgpack.packb(encoded, use_bin_type=True), raw=False),
                      "attrs", export._ATTR_TAGS)
    assert decoded["v"] is v and decoded["t"][1] is v
    npt.assert_array_equal(decoded["t"][0].numpy(), [3, 4])


@pytest.mark.parametrize("value,what", [
    (object(), "builtins.object"), (lambda x: x, "function"), ({1, 2}, "set"),
    (2 ** 64, "64 bits"), (dtf.keras.optimizers.SGD(), "SGD")])
def test_values_a_file_cannot_hold_name_their_type(value, what):
    with pytest.raises(ValueError, match=what):
        export._Writer().value(value, "node 3 (op) attribute 'x'", export._ATTR_TAGS)


# -- every op of the table, with its gradient graph -------------------------------------------
def _trace_case(case):
    """The case's op (and, for differentiable cases, its gradient) traced into a Graph on
    placeholders of the inputs' shapes; None when it cannot run symbolically."""
    builder = context.GraphBuilder(case.name)
    positions = [i for i, a in enumerate(case.inputs) if isinstance(a, np.ndarray)]
    symbols = {i: placeholder(case.inputs[i].shape, dtf.as_dtype(case.inputs[i].dtype),
                              name=f"in{i}") for i in positions}
    args = [symbols.get(i, a) for i, a in enumerate(case.inputs)]
    try:
        with context.building(builder):
            with dtf.GradientTape(persistent=True) as tape:
                for s in symbols.values():
                    if s.dtype.is_floating:
                        tape.watch(s)
                out = case.fn(*args)
            outs = [o for o in nest.flatten(out) if getattr(o, "_is_symbolic", False)]
            floats = [o for o in outs if o.dtype.is_floating]
            wrt = [symbols[i] for i in positions if case.inputs[i].dtype.kind == "f"]
            if case.grad and floats and wrt:
                grads = tape.gradient(floats, wrt)
                outs += [g for g in grads if getattr(g, "_is_symbolic", False)]
    except Exception:  # noqa: BLE001 - ops that need values (boolean masks...) skip
        return None, None
    if not outs:
        return None, None
    return Graph([symbols[i] for i in positions], outs, nodes=builder.nodes), \
        [case.inputs[i] for i in positions]


CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_op_case_round_trips_and_computes_the_same(case):
    graph, arrays = _trace_case(case)
    if graph is None:
        pytest.skip("does not run on symbolic inputs")
    unexportable = [n.prim.name for n in graph.nodes
                    if n.prim.name in export.UNEXPORTABLE_PRIMS]
    if unexportable:
        with pytest.raises(ValueError, match=f"{unexportable[0]}.*cannot be exported"):
            export.program_to_bytes(Program([_function(graph)]))
        return
    loaded = _round_trip(Program([_function(graph)])).functions[0].graph
    assert [n.prim.name for n in loaded.nodes] == [n.prim.name for n in graph.nodes]
    if any(n.prim.stateful for n in graph.nodes):
        return  # random draws differ from run to run
    want = graph.run(*[dtf.constant(a) for a in arrays])
    got = loaded.run(*[dtf.constant(a) for a in arrays])
    for w, g in zip(want, got):
        npt.assert_array_equal(g.numpy(), w.numpy())
        assert g.dtype == w.dtype


def test_the_op_cases_cover_almost_every_primitive():
    """The graphs above hold all but a few primitives (those that fold to constants on known
    shapes, such as `shape` and `rank`)."""
    traced = set()
    for case in CASES:
        graph, _ = _trace_case(case)
        if graph is not None:
            traced.update(n.prim.name for n in graph.nodes)
    missing = set(registry.all_primitives()) - traced
    assert len(missing) <= 0.06 * len(registry.all_primitives()), sorted(missing)


# -- saving functions, modules, models ----------------------------------------------------------
def test_function_with_signature_round_trips(tmp_path):
    f = dtf.function(lambda x, y: {"sum": x + y, "prod": x * y, "k": 3},
                     input_signature=[dtf.TensorSpec([None, 2], dtf.float32, name="x"),
                                      dtf.TensorSpec([2], dtf.float32, name="y")])
    saved_model.save(f, str(tmp_path / "f"))
    assert os.path.isfile(tmp_path / "f" / "saved_model.dtf")
    loaded = saved_model.load(str(tmp_path / "f"))
    x, y = np.random.rand(3, 2).astype("float32"), np.array([1.0, 2.0], "float32")
    out = loaded(x, y)
    assert out["k"] == 3
    npt.assert_allclose(out["sum"].numpy(), x + y)
    npt.assert_allclose(loaded(x, y=y)["prod"].numpy(), x * y)
    sig = loaded.signatures["serving_default"]
    npt.assert_allclose(sig(x=x, y=y)["prod"].numpy(), x * y)
    assert sorted(sig(x, y)) == ["prod", "sum"]


def test_every_traced_signature_is_kept_and_dispatched(tmp_path):
    @dtf.function
    def f(x, scale=2.0):
        return x * scale

    f(dtf.constant([1.0, 2.0]))
    f(dtf.constant([[1, 2]]), scale=3)
    saved_model.save(f, str(tmp_path / "poly.dtf"))
    loaded = saved_model.load(str(tmp_path / "poly.dtf"))
    assert len(loaded.__call__.concrete_functions) == 2
    npt.assert_array_equal(loaded(dtf.constant([3.0, 4.0])).numpy(), [6.0, 8.0])
    npt.assert_array_equal(loaded(dtf.constant([[5, 6]]), scale=3).numpy(), [[15, 18]])
    with pytest.raises(TypeError, match=r"(?s)'f'.*\(int32\[3\]\).*Option 1.*Option 2"):
        loaded(dtf.constant([1, 2, 3]))


class _Scaler:
    def __init__(self):
        self.w = dtf.Variable([[1.0, -1.0], [0.5, 2.0]], name="w")
        self.count = dtf.Variable(0, trainable=False, name="count")
        self.inner = _Inner(self.w)

    @dtf.function(input_signature=[dtf.TensorSpec([None, 2], dtf.float32)])
    def __call__(self, x):
        self.count.assign_add(1)
        return dtf.matmul(x, self.w)

    @dtf.function(input_signature=[dtf.TensorSpec([None, 2], dtf.float32)])
    def norm(self, x):
        return dtf.reduce_sum(dtf.square(dtf.matmul(x, self.w)), axis=1)


class _Inner:
    def __init__(self, w):
        self.w = w

    @dtf.function(input_signature=[dtf.TensorSpec([2], dtf.float32)])
    def shift(self, x):
        return self.w[0] + x


def test_module_functions_share_their_variables(tmp_path):
    m = _Scaler()
    saved_model.save(m, str(tmp_path / "m"))
    loaded = saved_model.load(str(tmp_path / "m"))
    assert [v.name for v in loaded.variables] == ["w:0", "count:0"]
    assert [v.name for v in loaded.trainable_variables] == ["w:0"]
    x = np.array([[1.0, 2.0]], "float32")
    npt.assert_allclose(loaded(x).numpy(), x @ m.w.numpy())
    npt.assert_allclose(loaded.norm(x).numpy(), ((x @ m.w.numpy()) ** 2).sum(1))
    npt.assert_allclose(loaded.inner.shift(np.ones(2, "float32")).numpy(), [2.0, 0.0])
    assert int(loaded.count.numpy()) == 1  # the assignment runs on the loaded Variable
    loaded.w.assign(np.eye(2, dtype="float32"))  # one Variable behind every function
    npt.assert_allclose(loaded(x).numpy(), x)
    npt.assert_allclose(loaded.norm(x).numpy(), [5.0])
    npt.assert_allclose(loaded.inner.shift(np.zeros(2, "float32")).numpy(), [1.0, 0.0])
    assert m.count.numpy() == 0  # the original is untouched


def test_gradients_flow_through_a_loaded_function(tmp_path):
    m = _Scaler()
    saved_model.save(m, str(tmp_path / "m"))
    loaded = saved_model.load(str(tmp_path / "m"))
    x = dtf.constant([[1.0, 2.0], [3.0, -1.0]])
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y = dtf.reduce_sum(loaded.norm(x))
    gx, gw = tape.gradient(y, [x, loaded.w])
    with dtf.GradientTape() as tape:
        tape.watch(x)
        y0 = dtf.reduce_sum(m.norm(x))
    wx, ww = tape.gradient(y0, [x, m.w])
    npt.assert_allclose(gx.numpy(), wx.numpy(), rtol=1e-6)
    npt.assert_allclose(gw.numpy(), ww.numpy(), rtol=1e-6)


def test_loaded_calls_check_their_inputs(tmp_path):
    saved_model.save(_Scaler(), str(tmp_path / "m"))
    loaded = saved_model.load(str(tmp_path / "m"))
    with pytest.raises(TypeError, match=r"norm: argument 'x' expected .*\(None, 2\).*float32.*"
                                        r"received .*\(1, 3\)"):
        loaded.norm(dtf.ones((1, 3)))
    with pytest.raises(TypeError, match=r"norm: argument 'x' expected .*float32.*received.*"
                                        r"float64"):
        loaded.norm(dtf.ones((1, 2), dtf.float64))
    with pytest.raises(TypeError, match="norm"):
        loaded.norm()
    npt.assert_allclose(loaded.norm(np.ones((1, 2))).numpy(), [3.25])  # float64 converted


def _mlp():
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(32, activation="relu"),
                             keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)])


def _functional():
    a = keras.Input((6,), name="features")
    b = keras.Input((3,), name="extra")
    h = keras.layers.Dense(8, activation="tanh")(a)
    h = keras.layers.Dropout(0.5)(h)
    h = keras.layers.BatchNormalization()(h)
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.Concatenate()([h, b]))
    return keras.Model([a, b], out)


def _conv():
    return keras.Sequential([
        keras.Input((12, 12, 3)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2), keras.layers.Conv2D(6, 3),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(5)])


@pytest.mark.parametrize("make,inputs", [
    (_mlp, lambda rng: rng.random((5, 784), dtype=np.float32)),
    (_functional, lambda rng: [rng.random((4, 6), dtype=np.float32),
                               rng.random((4, 3), dtype=np.float32)]),
    (_conv, lambda rng: rng.random((2, 12, 12, 3), dtype=np.float32)),
], ids=["seed_mlp", "functional", "conv"])
def test_keras_models_serve_the_same_predictions(tmp_path, make, inputs):
    dtf.random.set_seed(1)
    model = make()
    x = inputs(np.random.default_rng(0))
    want = model(x, training=False).numpy()
    saved_model.save(model, str(tmp_path / "model"))
    loaded = saved_model.load(str(tmp_path / "model"))
    npt.assert_allclose(loaded.serve(x).numpy(), want, rtol=1e-5, atol=1e-6)
    npt.assert_allclose(loaded(x).numpy(), want, rtol=1e-5, atol=1e-6)
    served = loaded.signatures["serving_default"](*(x if isinstance(x, list) else [x]))
    npt.assert_allclose(served["output_0"].numpy(), want, rtol=1e-5, atol=1e-6)
    assert len(loaded.variables) == len(model.variables)
    assert len(loaded.trainable_variables) == len(model.trainable_variables)


def test_keras_export_prints_the_endpoint(tmp_path, capsys):
    model = _mlp()
    saved_model.export_keras_model(model, str(tmp_path / "exported"))
    text = capsys.readouterr().out
    assert "Endpoint 'serve'" in text and "shape=(None, 784)" in text and "(None, 10)" in text
    loaded = saved_model.load(str(tmp_path / "exported"))
    assert loaded.serve(np.zeros((1, 784), "float32")).shape == (1, 10)


def test_a_trained_keras_model_exports_its_trained_weights(tmp_path):
    dtf.random.set_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    x, y = np.random.rand(32, 4).astype("float32"), np.random.rand(32, 3).astype("float32")
    model.fit(x, y, epochs=2, verbose=0)
    saved_model.save(model, str(tmp_path / "trained"))
    loaded = saved_model.load(str(tmp_path / "trained"))
    npt.assert_allclose(loaded.serve(x).numpy(), model.predict(x, verbose=0), rtol=1e-5,
                        atol=1e-6)


_LOAD_IN_A_FRESH_PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import dtf.saved_model
    loaded = dtf.saved_model.load(sys.argv[1])
    x = np.array(json.loads(sys.argv[2]), dtype="float32")
    out = {"call": loaded(x).numpy().tolist(), "norm": loaded.norm(x).numpy().tolist(),
           "modules": sorted(m for m in sys.modules if m.startswith("tests") or "test_" in m)}
    print(json.dumps(out))
""")


def test_a_fresh_process_loads_without_the_defining_code(tmp_path):
    m = _Scaler()
    saved_model.save(m, str(tmp_path / "m"))
    x = [[1.0, 2.0], [0.5, -3.0]]
    env = dict(os.environ, PYTHONPATH=REPO)
    result = subprocess.run([sys.executable, "-c", _LOAD_IN_A_FRESH_PROCESS,  # noqa: PLW1510
                             str(tmp_path / "m"), json.dumps(x)], capture_output=True,
                            text=True, cwd=str(tmp_path), env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["modules"] == []
    npt.assert_allclose(out["call"], np.array(x, "float32") @ m.w.numpy(), rtol=1e-6)
    npt.assert_allclose(out["norm"], m.norm(np.array(x, "float32")).numpy(), rtol=1e-6)


# -- what cannot be exported ---------------------------------------------------------------------
def test_a_training_step_cannot_be_exported(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.Adam()

    @dtf.function(input_signature=[dtf.TensorSpec([None, 3], dtf.float32)])
    def train_step(x):
        with dtf.GradientTape() as tape:
            loss = dtf.reduce_mean(dtf.square(model(x, training=True)))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                      model.trainable_variables))
        return loss

    with pytest.raises(ValueError, match=r"train_step.*optimizer_apply.*cannot be exported.*"
                                         r"does not train"):
        saved_model.save(train_step, str(tmp_path / "step"))
    assert not os.path.exists(tmp_path / "step" / "saved_model.dtf")


def test_ops_outside_the_table_and_file_prints_cannot_be_exported(tmp_path):
    x = placeholder((2,), dtf.float32, name="x")
    custom = registry.Primitive("custom_gradient:clip", lambda xp, a: a, lambda a: a)
    node = OpNode(custom, (x,), {})
    node.outputs = (SymbolicTensor((2,), dtf.float32, node, 0),)
    graph = Graph([x], list(node.outputs), nodes=[node])
    with pytest.raises(ValueError, match=r"node 0 \(custom_gradient:clip\).*not an op of "
                                         r"dtf's op table"):
        export.program_to_bytes(Program([_function(graph)]))

    logfile = tmp_path / "log.txt"

    def log(x):
        dtf.print(x, output_stream=f"file://{logfile}")
        return x * 2.0

    f = dtf.function(log, input_signature=[dtf.TensorSpec([2], dtf.float32)])
    with pytest.raises(ValueError, match=r"print.*sys.stdout or sys.stderr"):
        saved_model.save(f, str(tmp_path / "p"))


def test_prints_to_stdout_are_kept(tmp_path, capfd):
    def show(x):
        dtf.print("x is", x, output_stream=sys.stdout)
        return x + 1.0

    f = dtf.function(show, input_signature=[dtf.TensorSpec([2], dtf.float32)])
    saved_model.save(f, str(tmp_path / "p"))
    loaded = saved_model.load(str(tmp_path / "p"))
    capfd.readouterr()
    loaded(np.array([1.0, 2.0], "float32"))
    assert "x is [1 2]" in capfd.readouterr().out


def test_an_object_without_traced_functions_says_what_to_do(tmp_path):
    class Empty:
        @dtf.function
        def f(self, x):
            return x

    with pytest.raises(ValueError, match="input_signature"):
        saved_model.save(Empty(), str(tmp_path / "e"))


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="No dtf saved model"):
        saved_model.load(str(tmp_path / "nothing"))
    (tmp_path / "x.dtf").write_bytes(msgpack.packb({"format": "other", "version": 1}))
    with pytest.raises(ExportFormatError, match="not a dtf saved model"):
        saved_model.load(str(tmp_path / "x.dtf"))
    (tmp_path / "y.dtf").write_bytes(msgpack.packb({"format": "dtf.saved_model", "version": 9}))
    with pytest.raises(ExportFormatError, match=r"version 9 is not supported.*\[1\]"):
        saved_model.load(str(tmp_path / "y.dtf"))


# -- graphs with sub-graphs --------------------------------------------------------------------
def test_graph_attributes_are_saved_recursively():
    inner_x = placeholder((None, 2), dtf.float32, name="ix")
    inner = Graph([inner_x], [inner_x * 3.0], name="inner")
    writer = export._Writer()
    encoded = writer.value({"branch": inner}, "attrs", export._ATTR_TAGS)
    data = msgpack.unpackb(msgpack.packb(encoded, use_bin_type=True), raw=False)
    constants = [dtf.constant(reader._read_array(c, "c")) for c in writer.constants]
    decoded = reader._Reader(constants, []).value(data, "attrs", export._ATTR_TAGS)
    branch = decoded["branch"]
    assert isinstance(branch, Graph) and branch.name == "inner"
    npt.assert_allclose(branch.run(dtf.ones((1, 2)))[0].numpy(), [[3.0, 3.0]])


def test_a_dtf_module_exports_its_variables_and_functions(tmp_path):
    class Dense(dtf.Module):
        def __init__(self):
            super().__init__(name="dense")
            self.w = dtf.Variable(np.arange(6, dtype="float32").reshape(3, 2), name="w")
            self.b = dtf.Variable(np.ones(2, "float32"), name="b")
            self.unused = dtf.Variable(5, trainable=False, name="unused")

        @dtf.function(input_signature=[dtf.TensorSpec([None, 3], dtf.float32)])
        def __call__(self, x):
            return dtf.nn.relu(dtf.matmul(x, self.w) + self.b)

    m = Dense()
    saved_model.save(m, str(tmp_path / "dense"))
    loaded = saved_model.load(str(tmp_path / "dense"))
    assert [v.name for v in loaded.variables] == [v.name for v in m.variables]
    assert int(loaded.unused.numpy()) == 5  # stored although no graph reads it
    x = np.random.default_rng(0).random((4, 3), dtype=np.float32)
    npt.assert_allclose(loaded(x).numpy(), m(x).numpy(), rtol=1e-6)


DOC_MODULES = ["dtf.compile.export", "dtf.saved_model", "dtf.saved_model.save",
               "dtf.saved_model.load", "dtf.saved_model.reader"]


@pytest.mark.parametrize("name", DOC_MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    import doctest
    import importlib

    monkeypatch.chdir(tmp_path)  # the examples save into the working directory
    monkeypatch.setattr(dtf, "saved_model", saved_model, raising=False)  # until dtf exports it
    result = doctest.testmod(importlib.import_module(name), extraglobs={"dtf": dtf},
                             optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_subclassed_and_dict_input_models(tmp_path):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(4, activation="relu")
            self.out = keras.layers.Dense(2)

        def call(self, x, training=False):
            return self.out(self.hidden(x))

    net = Net()
    with pytest.raises(ValueError, match="input shape is unknown.*input_signature"):
        saved_model.save(net, str(tmp_path / "unbuilt"))
    x = np.random.default_rng(1).random((3, 5), dtype=np.float32)
    want = net(x).numpy()
    saved_model.save(net, str(tmp_path / "net"))
    npt.assert_allclose(saved_model.load(str(tmp_path / "net")).serve(x).numpy(), want,
                        rtol=1e-6)
    saved_model.export_keras_model(Net(), str(tmp_path / "given"), verbose=False,
                                   input_signature=[dtf.TensorSpec([None, 7], dtf.float32)])
    assert saved_model.load(str(tmp_path / "given")).serve(
        np.ones((2, 7), "float32")).shape == (2, 2)

    a, b = keras.Input((2,), name="a"), keras.Input((3,), name="b")
    model = keras.Model({"a": a, "b": b}, keras.layers.Dense(1)(keras.layers.Concatenate()([a, b])))
    xs = {"a": np.ones((2, 2), "float32"), "b": np.full((2, 3), 2.0, "float32")}
    saved_model.save(model, str(tmp_path / "dict"))
    loaded = saved_model.load(str(tmp_path / "dict"))
    npt.assert_allclose(loaded.serve(xs).numpy(), model(xs).numpy(), rtol=1e-6)
    npt.assert_allclose(loaded.signatures["serving_default"](**xs)["output_0"].numpy(),
                        model(xs).numpy(), rtol=1e-6)


def _control_flow():
    cond = getattr(dtf, "cond", None)
    if cond is None:
        pytest.skip("dtf.cond is not exported yet")
    return cond, getattr(dtf, "while_loop", None)


def test_functions_with_cond_and_while_loop_round_trip(tmp_path):
    cond, while_loop = _control_flow()
    w = dtf.Variable([1.0, -2.0, 3.0], name="w")
    hits = dtf.Variable(0, trainable=False, name="hits")

    def branchy(x):
        def positive():
            hits.assign_add(1)  # a stateful branch: runs only when taken
            return x * w

        y = cond(dtf.reduce_sum(x) > 0.0, positive, lambda: x - w)
        _, total = while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s + dtf.reduce_sum(y)),
                              (dtf.constant(0), dtf.constant(0.0)))
        return y, total

    f = dtf.function(branchy, input_signature=[dtf.TensorSpec([None, 3], dtf.float32)])
    saved_model.save(f, str(tmp_path / "cf"))
    hits.assign(0)
    loaded = saved_model.load(str(tmp_path / "cf"))
    for x in (np.ones((2, 3), "float32"), -np.ones((1, 3), "float32")):
        (y, total), (wy, wtotal) = loaded(x), f(x)
        npt.assert_allclose(y.numpy(), wy.numpy())
        npt.assert_allclose(total.numpy(), wtotal.numpy(), rtol=1e-6)
    loaded_hits = next(v for v in loaded.variables if v.name == "hits:0")
    assert int(loaded_hits.numpy()) == 1 and int(hits.numpy()) == 1
    x = dtf.constant(np.ones((2, 3), "float32"))
    loaded_w = next(v for v in loaded.variables if v.name == "w:0")
    with dtf.GradientTape() as tape:
        y, total = loaded(x)
    with dtf.GradientTape() as tape0:
        wy, wtotal = f(x)
    npt.assert_allclose(tape.gradient(total, loaded_w).numpy(),
                        tape0.gradient(wtotal, w).numpy(), rtol=1e-6)


def test_a_keras_model_with_a_cond_serves_the_same(tmp_path):
    cond, _ = _control_flow()

    class Gated(keras.Model):
        def __init__(self):
            super().__init__()
            self.a = keras.layers.Dense(3)
            self.b = keras.layers.Dense(3, activation="relu")

        def call(self, x, training=False):
            h = self.a(x)
            return cond(dtf.reduce_mean(h) > 0.0, lambda: self.b(h), lambda: -h)

    dtf.random.set_seed(5)
    model = Gated()
    x = np.random.default_rng(2).normal(size=(8, 4)).astype("float32")
    model(x)
    saved_model.save(model, str(tmp_path / "gated"))
    loaded = saved_model.load(str(tmp_path / "gated"))
    for sign in (1.0, -1.0, 3.0):
        npt.assert_allclose(loaded.serve(sign * x).numpy(), model(sign * x).numpy(), rtol=1e-5,
                            atol=1e-6)
