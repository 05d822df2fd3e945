"""Keras training steps captured as CUDA graphs: the optimizers compute their step-dependent
scalars on the device (`dtf.keras.optimizers.device_step`), so a compiled train step is
captured once and replayed, and each replay applies its own step's bias correction and
learning rate.

The `gpu` tests need CuPy and a CUDA device (skipped elsewhere, never faked). The first test
runs everywhere: it reads the source of the optimizer step's device path and checks that no
host synchronisation is written there.
"""

import ast
import inspect
import textwrap

import numpy as np
import pytest
from gpu_helpers import HAS_GPU, assert_close

import dtf
from dtf import keras
from dtf.compile import flat_apply, state_ops
from dtf.keras.optimizers import adam, base_optimizer, device_step, nadam, rmsprop, sgd, updates
from dtf.keras.optimizers.schedules import learning_rate_schedule

gpu = pytest.mark.skipif(not HAS_GPU, reason="needs CuPy and a CUDA device")

# -- the device path's source: no host synchronisation (runs on the CPU) ----------------------

# Calls that copy a device value to the host (and so wait for the device).
_SYNC_BUILTINS = {"int", "float", "bool", "complex"}
_SYNC_METHODS = {"item", "numpy", "tolist", "asnumpy", "__float__", "__int__", "__bool__"}
_HOST_READS = {"_current_step", "_learning_rate_scalar", "_as_lr_scalar"}
# Names the step's code gives to values that live on the device on a GPU.
_STEP_VALUES = {"lr", "lr_v", "step", "alpha", "value", "u_product", "iterations",
                "learning_rate", "local_step", "current"}
_HOST_ATTRS = {("np", "asarray"), ("np", "array"), ("numpy", "asarray"), ("cupy", "asnumpy")}


def _is_xp_ndarray(node):
    return isinstance(node, ast.Attribute) and node.attr == "ndarray" and \
        isinstance(node.value, ast.Name) and node.value.id == "xp"


def _names_host_types(node):
    """Whether an isinstance() type argument names host types only (Python numbers, NumPy)."""
    if isinstance(node, ast.Name):
        return node.id in {"int", "float", "_HOST_TYPES"}
    if isinstance(node, ast.Attribute):
        return isinstance(node.value, ast.Name) and node.value.id in {"np", "numpy"}
    if isinstance(node, ast.Tuple):
        return all(_names_host_types(e) for e in node.elts)
    return False


def _guard(test):
    """'host' when the test is true only for host values (its body handles the host case),
    'device' when it is true only for device values (its else-branch is the host case), else
    None."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _guard(test.operand)
        return {"host": "device", "device": "host"}.get(inner)
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and \
            isinstance(test.left, ast.Name) and test.left.id == "xp" and \
            isinstance(test.comparators[0], ast.Name) and test.comparators[0].id == "np":
        return "host" if isinstance(test.ops[0], ast.Is) else "device"
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Name):
        if test.func.id == "isinstance" and len(test.args) == 2:
            if _is_xp_ndarray(test.args[1]):
                return "device"
            if _names_host_types(test.args[1]):
                return "host"
        if test.func.id == "hasattr" and len(test.args) == 2 and \
                isinstance(test.args[1], ast.Constant) and test.args[1].value == "astype":
            return "device"
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or) and \
            all(_guard(v) == "host" for v in test.values):
        return "host"
    return None


def _array_names(statements):
    """Names assigned an array computed with `xp` (`l2sum = xp.sum(...)`): testing one in an
    `if` would copy it to the host."""
    names = set()
    for node in ast.walk(ast.Module(body=list(statements), type_ignores=[])):
        if isinstance(node, ast.Assign) and any(
                isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
                and isinstance(c.func.value, ast.Name) and c.func.value.id == "xp"
                for c in ast.walk(node.value)):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _tests_an_array(test, arrays):
    return any(isinstance(n, ast.Name) and n.id in arrays for n in ast.walk(test))


def _sync_calls(statements, where, arrays=None):
    """The host-synchronising calls in `statements` (and `if` tests of device arrays),
    leaving out the branches that only host values reach."""
    if arrays is None:
        arrays = _array_names(statements)
    found = []
    for statement in statements:
        if isinstance(statement, (ast.If, ast.While)):
            kind = _guard(statement.test)
            if kind == "host":
                found += _sync_calls(statement.orelse, where, arrays)
                continue
            if kind == "device":
                found += _sync_calls(statement.body, where, arrays)
                if statement.body and isinstance(statement.body[-1], ast.Return):
                    break  # what follows runs for host values only
                continue
            if _tests_an_array(statement.test, arrays):
                found.append(f"{where}: `if` on a device array at line {statement.lineno}")
            found += _expression_syncs(statement.test, where, arrays)
            found += _sync_calls(statement.body, where, arrays)
            found += _sync_calls(statement.orelse, where, arrays)
            continue
        for child in ast.iter_child_nodes(statement):
            if isinstance(child, ast.stmt):
                found += _sync_calls([child], where, arrays)
            else:
                found += _expression_syncs(child, where, arrays)
    return found


def _expression_syncs(node, where, arrays=frozenset()):
    found = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.IfExp):
            if _guard(sub.test) == "host":
                # `host_value if isinstance(step, int) else device_value`: only the else
                # reaches the device
                return found + _expression_syncs(sub.orelse, where, arrays)
            if _tests_an_array(sub.test, arrays):
                found.append(f"{where}: `if` on a device array at line {sub.lineno}")
        if not isinstance(sub, ast.Call):
            continue
        func = sub.func
        if len(sub.args) == 1 and isinstance(sub.args[0], ast.Name) and \
                (sub.args[0].id in arrays or sub.args[0].id in _STEP_VALUES) and (
                (isinstance(func, ast.Name) and func.id == "dtype")
                or (isinstance(func, ast.Attribute) and func.attr == "type")):
            # a NumPy scalar type called on a value that may be a device array
            found.append(f"{where}: scalar cast {ast.unparse(sub)} at line {sub.lineno}")
        if isinstance(func, ast.Name) and func.id in _SYNC_BUILTINS | _HOST_READS:
            found.append(f"{where}: {func.id}() at line {sub.lineno}")
        elif isinstance(func, ast.Attribute):
            if func.attr in _SYNC_METHODS and not sub.args:
                found.append(f"{where}: .{func.attr}() at line {sub.lineno}")
            elif func.attr == "get" and not sub.args:  # CuPy's device-to-host copy
                found.append(f"{where}: .get() at line {sub.lineno}")
            elif func.attr in _HOST_READS:
                found.append(f"{where}: {func.attr}() at line {sub.lineno}")
            elif isinstance(func.value, ast.Name) and (func.value.id, func.attr) in _HOST_ATTRS:
                found.append(f"{where}: {func.value.id}.{func.attr}() at line {sub.lineno}")
    return found


# The functions an optimizer step runs on the GPU (eager `apply_gradients`, the compiled
# `optimizer_apply` node, `FlatStep`), with the step scalars' and schedules' helpers.
_DEVICE_PATH = [
    *(getattr(device_step, name) for name in device_step.__all__ if name[0].islower()),
    device_step._step_dependent_variables,
    base_optimizer.Optimizer._apply_arrays, base_optimizer.Optimizer._update,
    base_optimizer.Optimizer._step_scalars, base_optimizer.Optimizer._step_module,
    base_optimizer.Optimizer._apply_weight_decay, base_optimizer.Optimizer._clip_gradients,
    adam.Adam._update_arrays, nadam.Nadam._prepare_step, nadam.Nadam._update_arrays,
    nadam.Adamax._update_arrays, sgd.SGD._update_arrays, rmsprop.RMSprop._update_arrays,
    updates.adam_step_size, updates.nadam_u_product, updates.nadam_coefficients,
    updates.adamax_bias_correction, updates._module_of, updates._as_dtype,
    updates.sgd_update, updates.adam_update, updates.rmsprop_update, updates.adagrad_update,
    updates.adadelta_update, updates.nadam_update, updates.adamax_update, updates.ftrl_update,
    updates.clip_by_norm, updates.clip_by_global_norm,
    flat_apply.FlatStep.__call__, state_ops.optimizer_apply.impl,
    learning_rate_schedule._step_array, learning_rate_schedule._module,
    learning_rate_schedule._cast, learning_rate_schedule._result,
    learning_rate_schedule._cosine_decay, learning_rate_schedule._StepDecay._progress,
    *(cls.__call__ for cls in (
        learning_rate_schedule.ExponentialDecay, learning_rate_schedule.PiecewiseConstantDecay,
        learning_rate_schedule.PolynomialDecay, learning_rate_schedule.InverseTimeDecay,
        learning_rate_schedule.CosineDecay, learning_rate_schedule.CosineDecayRestarts)),
]


def test_the_device_path_has_no_host_synchronisation():
    found = []
    scanned = 0
    for function in _DEVICE_PATH:
        source = textwrap.dedent(inspect.getsource(function))
        tree = ast.parse(source).body[0]
        found += _sync_calls(tree.body, function.__qualname__)
        scanned += 1
    assert scanned >= 40
    assert not found, "host synchronisation on the optimizer's device path:\n" + \
        "\n".join(found)


def test_the_scan_finds_host_synchronisation():
    """The scan itself: each kind of host read is found outside host-only branches, and
    ignored inside them."""
    source = textwrap.dedent('''
        def step(optimizer, xp, value):
            a = int(optimizer._iterations._value)
            b = value.item()
            c = value.get()
            d = np.asarray(value)
            e = optimizer._current_step() + 1
            if float(value) > 0:
                pass
            if xp is np:
                f = int(value)
            if not isinstance(value, xp.ndarray):
                g = float(value)
            h = value.numpy()[()] if isinstance(value, int) else value
            norm = xp.sum(value)
            if norm > 0:
                pass
            i = value.dtype.type(norm)
            return optimizer.table.get("key")
    ''')
    found = _sync_calls(ast.parse(source).body[0].body, "step")
    assert [f.split(": ")[1].split(" at")[0] for f in found] == [
        "int()", ".item()", ".get()", "np.asarray()", "_current_step()", "float()",
        "`if` on a device array", "scalar cast value.dtype.type(norm)"]


# -- captured steps on a GPU ------------------------------------------------------------------
def _model():
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, "tanh"),
                             keras.layers.Dense(3)])


def _optimizers():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)
    return {
        "adam": lambda: keras.optimizers.Adam(0.01),
        "sgd_momentum": lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        "rmsprop": lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
        "adamw_amsgrad": lambda: keras.optimizers.AdamW(0.01, weight_decay=0.1, amsgrad=True),
        "nadam": lambda: keras.optimizers.Nadam(0.01),
        "adamax": lambda: keras.optimizers.Adamax(0.01),
        "adam_schedule": lambda: keras.optimizers.Adam(schedule),
        "adam_accumulate_ema": lambda: keras.optimizers.Adam(
            0.01, gradient_accumulation_steps=2, use_ema=True, ema_overwrite_frequency=3),
        "sgd_clipnorm": lambda: keras.optimizers.SGD(0.05, clipnorm=0.1),
    }


def _batches(steps=5):
    rng = np.random.default_rng(7)
    return [(rng.normal(size=(16, 6)).astype(np.float32), rng.integers(0, 3, size=16))
            for _ in range(steps)]


def _train(device, make_optimizer, graphs, weights):
    """Five compiled train steps on `device`; per step the model's weights, the optimizer's
    variables and the loss, and the plan's stats."""
    dtf.config.set_cuda_graphs(graphs)
    try:
        with dtf.device(device):
            model = _model()
            model.set_weights(weights)
            optimizer = make_optimizer()
            loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

            @dtf.function
            def train_step(x, y):
                with dtf.GradientTape() as tape:
                    loss = loss_fn(y, model(x, training=True))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))
                return loss

            history = []
            for x, y in _batches():
                x, y = dtf.constant(x), dtf.constant(y)
                loss = train_step(x, y)
                history.append((float(loss), [np.asarray(w) for w in model.get_weights()],
                                [np.asarray(w) for w in optimizer.get_weights()]))
            plan = train_step.get_concrete_function(x, y)._plan
            return history, getattr(plan, "stats", None), optimizer
    finally:
        dtf.config.set_cuda_graphs(True)


@gpu
@pytest.mark.gpu
@pytest.mark.parametrize("name", list(_optimizers()))
def test_compiled_keras_step_is_captured_and_replays_equal_plain_execution(name):
    make = _optimizers()[name]
    weights = _model().get_weights()
    replayed, stats, optimizer = _train("/GPU:0", make, True, weights)
    plain, plain_stats, _ = _train("/GPU:0", make, False, weights)
    host, _, _ = _train("/CPU:0", make, False, weights)
    # one warm-up call, one capture, three replays: the whole step is one graph
    assert stats == {"plain": 1, "captured": 1, "replayed": 3, "fallbacks": 0}, stats
    assert plain_stats["captured"] == 0
    assert int(optimizer.iterations.numpy()) == (2 if "accumulate" in name else 5)
    assert type(optimizer._iterations._value).__module__.startswith("cupy")
    for step, (r, p, h) in enumerate(zip(replayed, plain, host)):
        # replays = plain execution on the same device (the same kernels, in the same order)
        assert r[0] == pytest.approx(p[0], rel=1e-6), f"{name} step {step}: loss"
        for a, b in zip(r[1] + r[2], p[1] + p[2]):
            assert_close(a, b, rtol=1e-6, atol=1e-7, what=f"{name} step {step} (plain)")
        # and follow the CPU's steps: a bias correction or schedule frozen at the captured
        # step would drift from these within a step or two
        for a, b in zip(r[1] + r[2], h[1] + h[2]):
            assert_close(a, b, rtol=2e-4, atol=2e-6, what=f"{name} step {step} (CPU)")


@gpu
@pytest.mark.gpu
def test_adam_bias_correction_changes_on_every_replay():
    """With a constant gradient, Adam's steps shrink as `sqrt(1 - b2^t) / (1 - b1^t)` does:
    the replays' updates must follow it step by step."""
    with dtf.device("/GPU:0"):
        w = dtf.Variable(np.zeros(4, np.float32))
        optimizer = keras.optimizers.Adam(0.1)

        @dtf.function
        def step(g):
            optimizer.apply_gradients([(g, w)])
            return w.read_value() * 1.0

        g = dtf.constant(np.full(4, 0.5, np.float32))
        values = [step(g).numpy()[0] for _ in range(6)]
    stats = step.get_concrete_function(g)._plan.stats
    assert stats["captured"] == 1 and stats["replayed"] == 4, stats
    # with g constant, m_t / sqrt(v_t) = (1 - b1^t) / sqrt(1 - b2^t) (times sign(g)): each
    # step moves w by lr * (m_hat / (sqrt(v_hat) + eps)), about lr
    moves = -np.diff([0.0, *values])
    t = np.arange(1, 7)
    m = 0.5 * (1 - 0.9 ** t)
    v = 0.25 * (1 - 0.999 ** t)
    alpha = 0.1 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
    np.testing.assert_allclose(moves, alpha * m / (np.sqrt(v) + 1e-7), rtol=1e-4)


@gpu
@pytest.mark.gpu
def test_a_host_learning_rate_callable_falls_back_to_plain_execution():
    """A zero-argument callable returning a Python float would be frozen in a graph: the
    capture refuses it and the step runs plainly, reading the rate on every call."""
    rates = iter([0.1, 0.2, 0.3, 0.4, 0.5])
    current = {"lr": 0.0}

    def learning_rate():
        return current["lr"]

    with dtf.device("/GPU:0"):
        w = dtf.Variable(np.zeros(2, np.float32))
        optimizer = keras.optimizers.SGD(learning_rate)

        @dtf.function
        def step(g):
            optimizer.apply_gradients([(g, w)])
            return w.read_value() * 1.0

        g = dtf.constant(np.ones(2, np.float32))
        values = []
        for rate in rates:
            current["lr"] = rate
            values.append(step(g).numpy()[0])
    stats = step.get_concrete_function(g)._plan.stats
    assert stats["captured"] == 0 and stats["fallbacks"] == 1, stats
    np.testing.assert_allclose(values, -np.cumsum([0.1, 0.2, 0.3, 0.4, 0.5]), rtol=1e-6)


@gpu
@pytest.mark.gpu
def test_eager_apply_gradients_on_the_gpu_keeps_the_step_on_the_device():
    """Eager steps use the same device scalars: `iterations` stays a device array and the
    results match the CPU's."""
    results = {}
    for device in ("/CPU:0", "/GPU:0"):
        with dtf.device(device):
            w = dtf.Variable(np.linspace(-1, 1, 6).astype(np.float32))
            optimizer = keras.optimizers.Nadam(0.05)
            for k in range(4):
                optimizer.apply_gradients([(dtf.constant(np.full(6, 0.1 * (k + 1),
                                                                 np.float32)), w)])
            results[device] = (w.numpy(), optimizer._iterations._value)
    assert type(results["/GPU:0"][1]).__module__.startswith("cupy")
    assert_close(results["/GPU:0"][0], results["/CPU:0"][0], rtol=1e-5, atol=1e-6,
                 what="Nadam on the GPU")
