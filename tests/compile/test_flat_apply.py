"""Optimizer steps on flat arrays (dtf.compile.flat_apply): bit for bit what
`optimizer.apply_gradients` computes variable by variable, for every built-in elementwise
optimizer; options that act per variable keep the per-variable path."""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pytest

import dtf
from dtf import keras
from dtf.compile import context
from dtf.compile.codegen import lower
from dtf.compile.flat_apply import CHUNK_SIZE, FlatStep
from dtf.compile.graph import Graph
from dtf.compile.symbolic import placeholder

SHAPES = [(5, 3), (3,), (3, 2), (2,)]

OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(0.1),
    "sgd_momentum": lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "adam": lambda: keras.optimizers.Adam(0.01),
    "amsgrad": lambda: keras.optimizers.Adam(0.01, amsgrad=True),
    "adam_schedule": lambda: keras.optimizers.Adam(
        keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5)),
    "rmsprop": lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: keras.optimizers.Adagrad(0.1),
    "adadelta": lambda: keras.optimizers.Adadelta(1.0),
    "nadam": lambda: keras.optimizers.Nadam(0.01),
    "adamax": lambda: keras.optimizers.Adamax(0.01),
    "ftrl": lambda: keras.optimizers.Ftrl(0.1, l1_regularization_strength=0.01),
}


def _variables(seed=0):
    rng = np.random.default_rng(seed)
    return [dtf.Variable(rng.normal(size=s).astype(np.float32)) for s in SHAPES]


def _grads(step):
    rng = np.random.default_rng(100 + step)
    return [rng.normal(size=s).astype(np.float32) for s in SHAPES]


def _flat(grads):
    return np.concatenate([g.reshape(-1) for g in grads])


@pytest.mark.parametrize("chunk_size", [CHUNK_SIZE, 9, 1])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_flat_step_equals_apply_gradients_bit_for_bit(name, chunk_size):
    eager_vars, flat_vars = _variables(), _variables()
    eager_opt, flat_opt = OPTIMIZERS[name](), OPTIMIZERS[name]()
    eager_opt.build(eager_vars)
    flat_opt.build(flat_vars)
    step = FlatStep.for_optimizer(flat_opt, flat_vars, chunk_size=chunk_size)
    assert step is not None and step.total == sum(int(np.prod(s)) for s in SHAPES)
    expected_chunks = {CHUNK_SIZE: 1, 9: 3, 1: 4}[chunk_size]  # sizes 15, 3, 6, 2
    assert len(step.chunks) == expected_chunks
    for k in range(4):
        grads = _grads(k)
        eager_opt.apply_gradients(zip([dtf.constant(g) for g in grads], eager_vars))
        iterations = step(np, _flat(grads))
        assert int(iterations) == k + 1
    for a, b in zip(eager_vars, flat_vars):
        npt.assert_array_equal(a.numpy(), b.numpy())
        assert b._value.shape == a._value.shape
    for a, b in zip(eager_opt.variables, flat_opt.variables):
        npt.assert_array_equal(a.numpy(), b.numpy())


def test_values_assigned_between_steps_are_gathered_again():
    variables = _variables()
    optimizer = keras.optimizers.Adam(0.01)
    optimizer.build(variables)
    reference_vars = _variables()
    reference = keras.optimizers.Adam(0.01)
    reference.build(reference_vars)
    step = FlatStep.for_optimizer(optimizer, variables)
    step(np, _flat(_grads(0)))
    reference.apply_gradients(zip(map(dtf.constant, _grads(0)), reference_vars))
    for v, r in zip(variables, reference_vars):  # someone assigns: the views are stale
        v.assign(np.ones(v.shape, np.float32))
        r.assign(np.ones(r.shape, np.float32))
    optimizer.apply_gradients(zip(map(dtf.constant, _grads(1)), variables))  # eager, between
    reference.apply_gradients(zip(map(dtf.constant, _grads(1)), reference_vars))
    step(np, _flat(_grads(2)))
    reference.apply_gradients(zip(map(dtf.constant, _grads(2)), reference_vars))
    for v, r in zip(variables, reference_vars):
        npt.assert_array_equal(v.numpy(), r.numpy())


def test_options_changed_after_planning_take_the_per_variable_path():
    variables, reference_vars = _variables(), _variables()
    optimizer, reference = keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1)
    optimizer.build(variables)
    reference.build(reference_vars)
    step = FlatStep.for_optimizer(optimizer, variables)
    optimizer.clipnorm = reference.clipnorm = 0.5  # clips each gradient by its own norm
    step(np, _flat(_grads(0)))
    reference.apply_gradients(zip(map(dtf.constant, _grads(0)), reference_vars))
    for v, r in zip(variables, reference_vars):
        npt.assert_array_equal(v.numpy(), r.numpy())


@pytest.mark.parametrize("make", [
    lambda: keras.optimizers.AdamW(0.01, weight_decay=0.1),
    lambda: keras.optimizers.Adam(0.01, clipnorm=1.0),
    lambda: keras.optimizers.Adam(0.01, global_clipnorm=1.0),
    lambda: keras.optimizers.SGD(0.1, use_ema=True),
    lambda: keras.optimizers.SGD(0.1, gradient_accumulation_steps=2),
    lambda: keras.optimizers.SGD(0.1, loss_scale_factor=4.0),
])
def test_optimizers_with_per_variable_options_do_not_qualify(make):
    variables = _variables()
    optimizer = make()
    optimizer.build(variables)
    assert FlatStep.for_optimizer(optimizer, variables) is None


def test_mixed_dtypes_and_unbuilt_optimizers_do_not_qualify():
    variables = _variables() + [dtf.Variable(np.zeros(2, np.float64))]
    optimizer = keras.optimizers.SGD(0.1)
    assert FlatStep.for_optimizer(optimizer, variables) is None  # not built
    optimizer.build(variables)
    assert FlatStep.for_optimizer(optimizer, variables) is None


def test_compiled_step_computes_gradients_into_the_flat_buffer():
    """A hand-traced step: every gradient is written into the flat buffer by the op that
    makes it, and the results equal the eager step's."""
    from dtf.compile import state_ops  # noqa: F401  (registers optimizer_apply)
    from dtf.ops import registry

    def make():
        variables = _variables(seed=3)
        optimizer = keras.optimizers.Adam(0.05)
        optimizer.build(variables)
        return variables, optimizer

    def forward(x, variables):
        w1, b1, w2, b2 = variables
        h = dtf.nn.relu(dtf.matmul(x, w1) + b1)
        return dtf.reduce_mean(dtf.square(dtf.matmul(h, w2) + b2))

    variables, optimizer = make()
    x = placeholder((4, 5))
    builder = context.GraphBuilder("train")
    with context.building(builder):
        with dtf.GradientTape() as tape:
            loss = forward(x, variables)
        grads = tape.gradient(loss, variables)
        registry.run(registry.get("optimizer_apply"), tuple(grads), optimizer=optimizer,
                     variables=tuple(variables),
                     writes=tuple(optimizer.variables))
    plan = lower(Graph([x], [loss], nodes=builder.nodes))
    report = plan.report["flat_optimizer_step"]
    assert report.count == 1 and "4 gradients computed into the flat buffer" in report.detail

    eager_vars, eager_opt = make()
    rng = np.random.default_rng(0)
    for _ in range(3):
        xv = rng.normal(size=(4, 5)).astype(np.float32)
        with dtf.GradientTape() as tape:
            expected = forward(dtf.constant(xv), eager_vars)
        eager_opt.apply_gradients(zip(tape.gradient(expected, eager_vars), eager_vars))
        npt.assert_allclose(plan(xv)[0], expected.numpy(), rtol=1e-6)
    for a, b in zip(variables, eager_vars):
        npt.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_gradients_the_step_returns_are_copied_into_the_buffer_not_computed_there():
    from dtf.compile import state_ops  # noqa: F401  (registers optimizer_apply)
    from dtf.ops import registry

    variables = _variables(seed=4)[:2]
    optimizer = keras.optimizers.SGD(0.1)
    optimizer.build(variables)
    x = placeholder((6, 5))
    builder = context.GraphBuilder("returns_grads")
    with context.building(builder):
        with dtf.GradientTape() as tape:
            loss = dtf.reduce_sum(dtf.square(dtf.matmul(x, variables[0]) + variables[1]))
        grads = tape.gradient(loss, variables)
        registry.run(registry.get("optimizer_apply"), tuple(grads), optimizer=optimizer,
                     variables=tuple(variables), writes=tuple(optimizer.variables))
    plan = lower(Graph([x], [loss, grads[0]], nodes=builder.nodes))
    detail = plan.report["flat_optimizer_step"].detail
    assert "1 gradients computed into the flat buffer, 1 copied" in detail
    xv = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    w, b = (v.numpy().copy() for v in variables)
    expected = xv.T @ (2 * (xv @ w + b))
    _, grad = plan(xv)
    npt.assert_allclose(grad, expected, rtol=1e-5)
    npt.assert_allclose(variables[0].numpy(), w - 0.1 * expected, rtol=1e-5)
    kept = grad.copy()
    plan(xv)  # the returned gradient is not the next step's buffer
    npt.assert_array_equal(grad, kept)
