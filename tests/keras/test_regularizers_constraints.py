"""keras.regularizers and keras.constraints: values against Keras 3 (recorded in
fixtures/basics_reference.json), Keras' formulas, configs, get()."""

import json
import pathlib

import numpy as np
import pytest

import dtf
from dtf.keras import constraints, regularizers
from dtf.testing.gradcheck import check_gradients

DATA = json.loads((pathlib.Path(__file__).parent / "fixtures" /
                   "basics_reference.json").read_text())
REFERENCE = DATA["regularizers_constraints"]
W = np.array(DATA["W"], dtype=np.float32)

REGULARIZERS = {
    "L1": lambda: regularizers.L1(0.1), "L2": lambda: regularizers.L2(0.1),
    "L1L2": lambda: regularizers.L1L2(0.1, 0.2), "l1_l2_default": lambda: regularizers.l1_l2(),
    "l2_default": lambda: regularizers.l2(),
    "orthogonal_rows": lambda: regularizers.OrthogonalRegularizer(0.1),
    "orthogonal_columns": lambda: regularizers.OrthogonalRegularizer(0.2, "columns"),
}
CONSTRAINTS = {
    "MaxNorm": lambda: constraints.MaxNorm(2.0),
    "MaxNorm_axis1": lambda: constraints.MaxNorm(1.5, 1),
    "NonNeg": lambda: constraints.NonNeg(), "UnitNorm": lambda: constraints.UnitNorm(),
    "UnitNorm_axis1": lambda: constraints.UnitNorm(axis=1),
    "MinMaxNorm": lambda: constraints.MinMaxNorm(1.0, 2.5, rate=0.7),
    "MinMaxNorm_axis01": lambda: constraints.MinMaxNorm(0.5, 1.0, axis=[0, 1]),
}


@pytest.mark.parametrize("key", sorted(REGULARIZERS))
def test_regularizer_values_and_configs_as_keras(key):
    reg = REGULARIZERS[key]()
    value = reg(dtf.constant(W))
    assert value.shape == () and value.dtype == dtf.float32
    np.testing.assert_allclose(float(value), REFERENCE[key]["value"], rtol=1e-6)
    expected = REFERENCE[key]["config"]
    assert reg.get_config().keys() == expected.keys()
    for name, v in expected.items():  # Keras stores some factors as float32 tensors
        assert reg.get_config()[name] == (pytest.approx(v, rel=1e-6)
                                          if isinstance(v, float) else v)


def test_keras_formulas():
    x = dtf.constant([[1.0, -2.0], [3.0, 0.5]])
    assert float(regularizers.L2(0.5)(x)) == pytest.approx(0.5 * (1 + 4 + 9 + 0.25))  # no 1/2
    assert float(regularizers.L1(0.5)(x)) == pytest.approx(0.5 * 6.5)
    assert float(regularizers.L1L2(l2=0.1)(x)) == pytest.approx(0.1 * 14.25)
    assert float(regularizers.L1L2()(x)) == 0.0
    assert regularizers.L1L2()(x).dtype == dtf.float32


def test_regularizers_take_variables_float64_and_numpy():
    v = dtf.Variable(W)
    assert float(regularizers.L2(0.1)(v)) == pytest.approx(REFERENCE["L2"]["value"], rel=1e-6)
    assert regularizers.L1(0.1)(W.astype(np.float64)).dtype == dtf.float64


def test_regularizer_gradients():
    w = np.array([[0.3, -1.2, 0.7], [1.1, 0.4, -0.9]])
    check_gradients(regularizers.L1L2(0.1, 0.3), [w])
    check_gradients(regularizers.OrthogonalRegularizer(0.5), [w])
    check_gradients(regularizers.OrthogonalRegularizer(0.5, "columns"), [w])


def test_regularizer_errors():
    with pytest.raises(ValueError, match="l2.*non-negative"):
        regularizers.L2(-1.0)
    with pytest.raises(ValueError, match="l1.*non-negative"):
        regularizers.L1(float("nan"))
    with pytest.raises(ValueError, match="mode"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match="rank 2"):
        regularizers.OrthogonalRegularizer()(dtf.ones((2, 2, 2)))
    with pytest.raises(NotImplementedError, match="get_config"):
        regularizers.Regularizer().get_config()


def test_regularizer_get_and_round_trip():
    assert regularizers.get(None) is None
    assert type(regularizers.get("l2")) is regularizers.L2
    assert regularizers.get("l2").l2 == 0.01
    assert type(regularizers.get("L1L2")) is regularizers.L1L2
    assert type(regularizers.get("l1_l2")) is regularizers.L1L2
    assert regularizers.get({"class_name": "L1", "config": {"l1": 0.3}}).l1 == 0.3
    assert isinstance(regularizers.get(regularizers.L2), regularizers.L2)
    for reg in (regularizers.L1(0.2), regularizers.L1L2(0.1, 0.4),
                regularizers.OrthogonalRegularizer(0.3, "columns")):
        back = regularizers.deserialize(regularizers.serialize(reg))
        assert type(back) is type(reg) and back.get_config() == reg.get_config()

    def penalty(x):
        return dtf.reduce_sum(x)

    assert regularizers.get(penalty) is penalty
    with pytest.raises(ValueError, match="Unknown regularizer: 'l3'"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="Could not interpret regularizer"):
        regularizers.get(0.1)


def test_aliases_are_the_classes():
    assert regularizers.l1 is regularizers.L1
    assert regularizers.l2 is regularizers.L2
    assert regularizers.l1_l2 is regularizers.L1L2
    assert constraints.max_norm is constraints.MaxNorm
    assert constraints.non_neg is constraints.NonNeg
    assert constraints.unit_norm is constraints.UnitNorm
    assert constraints.min_max_norm is constraints.MinMaxNorm


@pytest.mark.parametrize("key", sorted(CONSTRAINTS))
def test_constraint_values_and_configs_as_keras(key):
    con = CONSTRAINTS[key]()
    out = con(dtf.constant(W))
    assert out.shape == W.shape and out.dtype == dtf.float32
    np.testing.assert_allclose(out.numpy(), REFERENCE[key]["value"], rtol=1e-5, atol=1e-6)
    assert con.get_config() == REFERENCE[key]["config"]


def test_constraint_properties():
    w = dtf.constant(np.random.default_rng(0).normal(size=(5, 4)) * 3, dtype=dtf.float32)
    norms = np.linalg.norm(constraints.MaxNorm(1.0)(w).numpy(), axis=0)
    assert np.all(norms <= 1.0 + 1e-5)
    np.testing.assert_allclose(np.linalg.norm(constraints.UnitNorm()(w).numpy(), axis=0), 1.0,
                               rtol=1e-5)
    norms = np.linalg.norm(constraints.MinMaxNorm(2.0, 3.0)(w).numpy(), axis=0)
    assert np.all((norms >= 2.0 - 1e-4) & (norms <= 3.0 + 1e-4))
    assert np.all(constraints.NonNeg()(w).numpy() >= 0)
    v = dtf.Variable(W)
    assert constraints.NonNeg()(v).numpy().min() == 0.0
    assert constraints.Constraint()(v) is v


def test_constraint_get_and_round_trip():
    assert constraints.get(None) is None
    assert type(constraints.get("max_norm")) is constraints.MaxNorm
    assert type(constraints.get("NonNeg")) is constraints.NonNeg
    assert constraints.get({"class_name": "MaxNorm", "config": {"max_value": 4}}).max_value == 4
    assert isinstance(constraints.get(constraints.UnitNorm), constraints.UnitNorm)
    for con in (constraints.MaxNorm(3, 1), constraints.MinMaxNorm(0.1, 0.9, 0.5, [0, 1]),
                constraints.NonNeg(), constraints.UnitNorm(-1)):
        back = constraints.deserialize(constraints.serialize(con))
        assert type(back) is type(con) and back.get_config() == con.get_config()
    with pytest.raises(ValueError, match="Unknown constraint: 'max_nrom'"):
        constraints.get("max_nrom")
    with pytest.raises(ValueError, match="Could not interpret constraint"):
        constraints.get(2)
