"""keras.initializers: distributions (statistics over large draws), fans, seeds, dtypes,
configs and get() (reference configs and fans recorded from Keras 3 in
fixtures/basics_reference.json)."""

import json
import math
import pathlib

import numpy as np
import pytest

import dtf
from dtf.keras import initializers

REFERENCE = json.loads((pathlib.Path(__file__).parent / "fixtures" /
                        "basics_reference.json").read_text())["initializers"]

RANDOM_CLASSES = ["RandomNormal", "RandomUniform", "TruncatedNormal", "GlorotUniform",
                  "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform",
                  "VarianceScaling", "Orthogonal"]
SHAPE = (400, 600)  # fan_in 400, fan_out 600, fan_avg 500


def draw(init, shape=SHAPE, dtype=None):
    return init(shape, dtype=dtype).numpy().astype(np.float64)


@pytest.mark.parametrize("shape", [(), (5,), (3, 7), (3, 3, 4, 8), (2, 5, 6), (2, 2, 2, 3, 4)])
def test_fans_as_keras(shape):
    assert list(initializers.compute_fans(shape)) == REFERENCE["fans"][str(shape)]


def test_fans_with_explicit_axes():
    assert initializers.compute_fans((2, 3, 4), input_axes=[0, 1], output_axes=[2]) == (6, 4)


@pytest.mark.parametrize("name", sorted(REFERENCE["configs"]))
def test_default_configs_as_keras(name):
    expected = dict(REFERENCE["configs"][name])
    if name == "Identity":
        expected["gain"] = 1.0  # Keras 3 drops `gain` from the config; dtf keeps it
    assert getattr(initializers, name)().get_config() == expected


@pytest.mark.parametrize("name", sorted(REFERENCE["serialized"]))
def test_serialized_as_keras(name):
    reference = REFERENCE["serialized"][name]
    obj = initializers.deserialize(reference)
    assert initializers.serialize(obj) == reference


@pytest.mark.parametrize("name,init,std,limit", [
    ("glorot_uniform", initializers.GlorotUniform(), math.sqrt(2 / 1000), math.sqrt(6 / 1000)),
    ("he_uniform", initializers.HeUniform(), math.sqrt(2 / 400), math.sqrt(6 / 400)),
    ("lecun_uniform", initializers.LecunUniform(), math.sqrt(1 / 400), math.sqrt(3 / 400)),
    ("random_uniform", initializers.RandomUniform(-0.2, 0.4), 0.6 / math.sqrt(12), None),
])
def test_uniform_statistics(name, init, std, limit):
    w = draw(init)
    assert abs(w.std() - std) < 0.02 * std
    if limit is not None:
        assert abs(w.mean()) < 0.02 * std
        bound = limit * (1 + 1e-6)  # the limit is rounded to float32
        assert w.max() <= bound and w.min() >= -bound
        assert w.max() > 0.99 * limit and w.min() < -0.99 * limit
    else:
        assert abs(w.mean() - 0.1) < 0.002 and w.min() >= -0.2 and w.max() < 0.4


@pytest.mark.parametrize("name,init,std", [
    ("glorot_normal", initializers.GlorotNormal(), math.sqrt(2 / 1000)),
    ("he_normal", initializers.HeNormal(), math.sqrt(2 / 400)),
    ("lecun_normal", initializers.LecunNormal(), math.sqrt(1 / 400)),
])
def test_truncated_variance_scaling_statistics(name, init, std):
    """The truncated draws are rescaled so that their variance is scale / fan."""
    w = draw(init)
    assert abs(w.std() - std) < 0.02 * std
    assert abs(w.mean()) < 0.02 * std
    # truncated at 2 stddev of the untruncated normal (std / 0.8796...)
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-6


def test_random_normal_and_truncated_normal_statistics():
    w = draw(initializers.RandomNormal(mean=1.0, stddev=0.5))
    assert abs(w.mean() - 1.0) < 0.005 and abs(w.std() - 0.5) < 0.005
    assert np.abs(w - 1.0).max() > 1.5  # untruncated: beyond 3 stddev happens in 240000 draws
    t = draw(initializers.TruncatedNormal(mean=-1.0, stddev=0.5))
    assert np.abs(t + 1.0).max() <= 1.0
    assert abs(t.std() - 0.5 * 0.87962566103423978) < 0.005


@pytest.mark.parametrize("mode,fan", [("fan_in", 400), ("fan_out", 600), ("fan_avg", 500)])
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform"])
def test_variance_scaling(mode, fan, distribution):
    w = draw(initializers.VarianceScaling(3.0, mode, distribution))
    assert abs(w.std() - math.sqrt(3.0 / fan)) < 0.02 * math.sqrt(3.0 / fan)


def test_variance_scaling_convolution_kernel_uses_receptive_field():
    w = draw(initializers.HeNormal(), shape=(3, 3, 64, 128))  # fan_in = 9 * 64
    assert abs(w.std() - math.sqrt(2 / 576)) < 0.02 * math.sqrt(2 / 576)


def test_variance_scaling_normal_alias_and_bad_arguments():
    assert initializers.VarianceScaling(distribution="normal").distribution == \
        "truncated_normal"
    with pytest.raises(ValueError, match="scale"):
        initializers.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="distribution"):
        initializers.VarianceScaling(distribution="cauchy")


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 3, 2, 5), (5, 5)])
def test_orthogonal(shape):
    w = initializers.Orthogonal(gain=2.0, seed=7)(shape).numpy().astype(np.float64)
    assert w.shape == shape
    flat = w.reshape(-1, shape[-1])
    if flat.shape[0] >= flat.shape[1]:
        gram = flat.T @ flat  # orthonormal columns
    else:
        gram = flat @ flat.T  # orthonormal rows
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-4)


def test_orthogonal_needs_two_dimensions():
    with pytest.raises(ValueError, match="two-dimensional"):
        initializers.Orthogonal()((5,))


def test_identity_and_constants():
    np.testing.assert_array_equal(initializers.Identity(gain=3.0)((2, 3)).numpy(),
                                  3.0 * np.eye(2, 3))
    with pytest.raises(ValueError, match="2D"):
        initializers.Identity()((2, 2, 2))
    np.testing.assert_array_equal(initializers.Zeros()((2, 3)).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.Ones()((2,)).numpy(), np.ones(2))
    np.testing.assert_array_equal(initializers.Constant(7)((2, 2)).numpy(), np.full((2, 2), 7))
    # TensorFlow's constant_initializer reshapes a value with as many elements
    np.testing.assert_array_equal(initializers.Constant([1, 2, 3, 4])((2, 2)).numpy(),
                                  [[1, 2], [3, 4]])
    np.testing.assert_array_equal(initializers.Constant([1, 2])((3, 2)).numpy(),
                                  [[1, 2]] * 3)
    with pytest.raises(ValueError, match=r"shape \(3,\) cannot fill a weight of shape \(2, 2\)"):
        initializers.Constant([1, 2, 3])((2, 2))


def test_dtypes():
    assert initializers.GlorotUniform()((2, 2)).dtype == dtf.float32
    for dtype in ("float16", dtf.float64):
        assert initializers.HeNormal()((3, 2), dtype=dtype).dtype == dtf.as_dtype(dtype)
        assert initializers.Orthogonal()((3, 2), dtype=dtype).dtype == dtf.as_dtype(dtype)
    assert initializers.Zeros()((2,), dtype="int32").dtype == dtf.int32
    assert initializers.Ones()((2,), dtype="bool").numpy().tolist() == [True, True]
    assert initializers.Constant(3)((2,), dtype=dtf.int64).numpy().tolist() == [3, 3]
    for name in RANDOM_CLASSES:
        with pytest.raises(ValueError, match=f"{name}.*int32.*Zeros, Ones or Constant"):
            getattr(initializers, name)()((2, 2), dtype="int32")


def test_floatx_is_the_default_dtype():
    from dtf.keras import backend

    backend.set_floatx("float64")
    try:
        assert initializers.RandomNormal()((2,)).dtype == dtf.float64
        assert initializers.Zeros()((2,)).dtype == dtf.float64
    finally:
        backend.set_floatx("float32")


@pytest.mark.parametrize("name", RANDOM_CLASSES)
def test_seeded_instances_repeat_unseeded_draw_fresh(name):
    cls = getattr(initializers, name)
    seeded = cls(seed=42)
    a, b = seeded((4, 4)).numpy(), seeded((4, 4)).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(cls(seed=42)((4, 4)).numpy(), a)  # same seed, same values
    assert not np.array_equal(cls(seed=43)((4, 4)).numpy(), a)
    unseeded = cls()
    assert not np.array_equal(unseeded((4, 4)).numpy(), unseeded((4, 4)).numpy())


@pytest.mark.parametrize("name", RANDOM_CLASSES)
def test_global_seed_makes_unseeded_draws_reproducible(name):
    cls = getattr(initializers, name)
    try:
        dtf.random.set_seed(1234)
        first = [cls()((3, 3)).numpy() for _ in range(2)]
        dtf.random.set_seed(1234)
        second = [cls()((3, 3)).numpy() for _ in range(2)]
    finally:
        dtf.random.set_seed(None)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], first[1])


def test_seed_must_be_an_integer():
    with pytest.raises(TypeError, match="seed"):
        initializers.RandomNormal(seed=1.5)


def test_shapes_accept_tensor_shapes_and_lists():
    assert initializers.GlorotUniform()(dtf.TensorShape([2, 3])).shape == (2, 3)
    assert initializers.Zeros()([4]).shape == (4,)
    with pytest.raises(ValueError, match="every dimension must be known"):
        initializers.Zeros()(dtf.TensorShape([None, 3]))


def test_get():
    assert initializers.get(None) is None
    for name, cls in [("glorot_uniform", initializers.GlorotUniform),
                      ("GlorotUniform", initializers.GlorotUniform),
                      ("random_normal", initializers.RandomNormal),
                      ("zeros", initializers.Zeros), ("ones", initializers.Ones),
                      ("he_normal", initializers.HeNormal), ("orthogonal", initializers.Orthogonal),
                      ("variance_scaling", initializers.VarianceScaling),
                      ("normal", initializers.RandomNormal), ("uniform", initializers.RandomUniform),
                      ("zeros_initializer", initializers.Zeros)]:
        assert type(initializers.get(name)) is cls, name
    init = initializers.get({"class_name": "RandomNormal", "config": {"stddev": 2.0}})
    assert init.stddev == 2.0
    assert isinstance(initializers.get(initializers.HeUniform), initializers.HeUniform)
    instance = initializers.LecunNormal()
    assert initializers.get(instance) is instance

    def fn(shape, dtype=None):
        return dtf.ones(shape)

    assert initializers.get(fn) is fn
    value = np.arange(6.0).reshape(2, 3)
    from_value = initializers.get(value)
    np.testing.assert_array_equal(from_value((2, 3)).numpy(), value)
    with pytest.raises(ValueError, match=r"Expected `shape` to be \(2, 3\)"):
        from_value((3, 2))
    with pytest.raises(ValueError, match="Could not interpret initializer identifier"):
        initializers.get(3)


def test_lowercase_aliases_are_the_classes():
    assert initializers.glorot_uniform is initializers.GlorotUniform
    assert initializers.random_normal is initializers.RandomNormal
    assert initializers.zeros is initializers.Zeros
    assert initializers.constant is initializers.Constant
    assert initializers.orthogonal is initializers.Orthogonal


def test_tf_style_aliases_seed_004():
    w_init = dtf.random_normal_initializer()
    w = w_init(shape=(2, 4), dtype="float32")
    assert w.shape == (2, 4) and w.dtype == dtf.float32
    b = dtf.zeros_initializer()(shape=(4,), dtype="float32")
    np.testing.assert_array_equal(b.numpy(), np.zeros(4))
    assert dtf.ones_initializer()(shape=(1,)).numpy().tolist() == [1.0]
    assert dtf.constant_initializer(2.0)(shape=(1,)).numpy().tolist() == [2.0]
    u = dtf.random_uniform_initializer(minval=-1.0, maxval=1.0, seed=1)(shape=(100,))
    assert float(dtf.reduce_max(dtf.abs(u))) <= 1.0
    t = dtf.truncated_normal_initializer(stddev=1.0)(shape=(1000,))
    assert float(dtf.reduce_max(dtf.abs(t))) <= 2.0


def test_custom_initializer_subclass_round_trips():
    class Fill(initializers.Initializer):
        def __init__(self, value=1.0):
            self.value = value

        def __call__(self, shape, dtype=None):
            return dtf.fill(shape, dtf.constant(self.value, dtype=dtype or "float32"))

        def get_config(self):
            return {"value": self.value}

    config = initializers.serialize(Fill(5.0))
    clone = initializers.deserialize(config, custom_objects={"Fill": Fill})
    assert clone((2,)).numpy().tolist() == [5.0, 5.0]
    assert Fill(3.0).clone().value == 3.0
    with pytest.raises(NotImplementedError, match="__call__"):
        initializers.Initializer()((2,))
