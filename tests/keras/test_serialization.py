"""keras.saving: registration, custom object scopes, and serialize/deserialize of Keras 3
configs, Keras 2 configs and names (reference configs recorded from Keras 3 in
fixtures/basics_reference.json by fixtures/make_basics_reference.py)."""

import json
import pathlib
import warnings

import numpy as np
import pytest

import dtf
from dtf.keras import activations, constraints, initializers, regularizers, saving, utils
from dtf.keras.saving import (
    custom_object_scope,
    deserialize_keras_object,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    serialize_keras_object,
)

REFERENCE = json.loads((pathlib.Path(__file__).parent / "fixtures" /
                        "basics_reference.json").read_text())["serialization"]


@pytest.fixture
def clean_registry():
    before = dict(get_custom_objects())
    from dtf.keras.saving import serialization

    names_before = dict(serialization._GLOBAL_CUSTOM_NAMES)
    yield
    get_custom_objects().clear()
    get_custom_objects().update(before)
    serialization._GLOBAL_CUSTOM_NAMES.clear()
    serialization._GLOBAL_CUSTOM_NAMES.update(names_before)


class Scale:
    def __init__(self, factor=1.0):
        self.factor = factor

    def __call__(self, x):
        return x * self.factor

    def get_config(self):
        return {"factor": self.factor}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def test_public_api_exports():
    for module in (saving, utils):
        for name in ("register_keras_serializable", "get_registered_object",
                     "get_registered_name", "custom_object_scope", "CustomObjectScope",
                     "serialize_keras_object", "deserialize_keras_object"):
            assert callable(getattr(module, name)), (module, name)


def test_plain_values_pass_through():
    for value in (None, "x", 3, 2.5, True):
        assert serialize_keras_object(value) == value
        assert deserialize_keras_object(value) == value
    assert serialize_keras_object((1, [2, 3])) == (1, [2, 3])
    assert serialize_keras_object(np.float32(1.5)) == REFERENCE["numpy_scalar"]
    assert type(serialize_keras_object(np.int64(4))) is int


def test_builtin_objects_match_keras_configs():
    assert serialize_keras_object(activations.relu) == REFERENCE["relu"]
    assert serialize_keras_object(constraints.MaxNorm(3)) == REFERENCE["max_norm"]
    nested = serialize_keras_object({"a": [1, 2.5, "x", None], "b": regularizers.L2(0.1)})
    assert nested == REFERENCE["nested"]


def test_arrays_tensors_dtypes_shapes():
    assert serialize_keras_object(np.arange(3, dtype=np.int32)) == REFERENCE["numpy_array"]
    back = deserialize_keras_object(REFERENCE["numpy_array"])
    assert back.dtype == np.int32 and back.tolist() == [0, 1, 2]
    config = serialize_keras_object(dtf.constant([[1.0, 2.0]]))
    assert config == {"class_name": "__tensor__",
                      "config": {"value": [[1.0, 2.0]], "dtype": "float32"}}
    t = deserialize_keras_object(config)
    assert isinstance(t, dtf.Tensor) and t.dtype == dtf.float32
    assert serialize_keras_object(dtf.float16) == "float16"
    assert serialize_keras_object(dtf.TensorShape([None, 3])) == [None, 3]
    for value in (b"abc", slice(1, 5, 2), Ellipsis):
        assert deserialize_keras_object(serialize_keras_object(value)) == value


def test_round_trip_of_builtin_objects():
    for obj in (initializers.GlorotUniform(seed=3), initializers.Constant(2.0),
                regularizers.L1L2(0.1, 0.2), constraints.MinMaxNorm(0.5, 2.0, 0.5, 1)):
        config = serialize_keras_object(obj)
        assert config["module"].startswith("keras.")
        assert config["registered_name"] is None
        back = deserialize_keras_object(config)
        assert type(back) is type(obj)
        assert back.get_config() == obj.get_config()


def test_functions_round_trip_by_name():
    assert deserialize_keras_object(serialize_keras_object(activations.tanh)) is \
        activations.tanh
    assert deserialize_keras_object({"module": "builtins", "class_name": "function",
                                     "config": "softmax", "registered_name": "function"}) is \
        activations.softmax


def test_register_class_and_round_trip(clean_registry):
    Registered = register_keras_serializable(package="my_pkg")(
        type("RegScale", (Scale,), {}))
    assert get_registered_name(Registered) == "my_pkg>RegScale"
    assert get_registered_object("my_pkg>RegScale") is Registered
    config = serialize_keras_object(Registered(3.0))
    assert config["registered_name"] == "my_pkg>RegScale"
    assert config["class_name"] == "RegScale"
    assert config["config"] == {"factor": 3.0}
    back = deserialize_keras_object(config)
    assert type(back) is Registered and back.factor == 3.0
    # Keras 2 form: the registered name as class_name
    assert deserialize_keras_object({"class_name": "my_pkg>RegScale",
                                     "config": {"factor": 2.0}}).factor == 2.0


def test_register_function_with_custom_name(clean_registry):
    @register_keras_serializable("acts", name="double")
    def twice(x):
        return 2 * x

    assert get_registered_name(twice) == "acts>double"
    config = serialize_keras_object(twice)
    assert config["config"] == "acts>double"
    assert deserialize_keras_object(config) is twice
    assert activations.get(config) is twice
    assert activations.serialize(twice)["config"] == "acts>double"


def test_register_class_without_get_config_is_refused():
    with pytest.raises(ValueError, match="get_config"):
        register_keras_serializable()(type("NoConfig", (), {}))


def test_unregistered_name_is_its_python_name():
    assert get_registered_name(Scale) == "Scale"
    assert get_registered_object("Scale") is None
    assert get_registered_object("Scale", custom_objects={"Scale": Scale}) is Scale
    assert get_registered_object("Scale", module_objects={"Scale": Scale}) is Scale


def test_custom_objects_argument_and_scope():
    config = serialize_keras_object(Scale(4.0))
    assert config["module"] == __name__ and config["registered_name"] == "Scale"
    with pytest.raises(ValueError, match="custom_objects"):
        deserialize_keras_object({"class_name": "Scale", "config": {"factor": 1.0}})
    back = deserialize_keras_object(config, custom_objects={"Scale": Scale})
    assert back.factor == 4.0
    with custom_object_scope({"Scale": Scale}):
        assert deserialize_keras_object(config).factor == 4.0
        assert get_registered_object("Scale") is Scale
        with saving.CustomObjectScope({"Other": Scale}):
            assert get_registered_object("Scale") is Scale  # outer scope still visible
            assert get_registered_object("Other") is Scale
        assert get_registered_object("Other") is None
    assert get_registered_object("Scale") is None


def test_scope_applies_inside_from_config():
    """A custom activation named inside a config resolves while from_config runs."""

    def my_act(x):
        return x

    class Holder:
        def __init__(self, activation):
            self.activation = activations.get(activation)

        def get_config(self):
            return {"activation": activations.serialize(self.activation)}

        @classmethod
        def from_config(cls, config):
            return cls(**config)

    config = serialize_keras_object(Holder(my_act))
    back = deserialize_keras_object(config, custom_objects={"Holder": Holder,
                                                            "my_act": my_act})
    assert back.activation is my_act


def test_unknown_names_raise_value_error_naming_them():
    with pytest.raises(ValueError, match=r"Unknown initializer: 'nope'.*custom_objects.*"
                                         r"register_keras_serializable"):
        initializers.deserialize("nope")
    with pytest.raises(ValueError, match="Unknown object: 'Missing'"):
        deserialize_keras_object({"module": "keras.layers", "class_name": "Missing",
                                  "config": {}, "registered_name": None})
    with pytest.raises(ValueError, match="'pkg>Gone'"):
        deserialize_keras_object({"module": None, "class_name": "Gone", "config": {},
                                  "registered_name": "pkg>Gone"})
    with pytest.raises(ValueError, match="Unknown activation function: 'no_such_fn'"):
        activations.get("no_such_fn")


def test_objects_without_get_config_cannot_be_serialized():
    with pytest.raises(TypeError, match="get_config"):
        serialize_keras_object(object())


def test_module_objects_names_give_instances():
    init = deserialize_keras_object("glorot_uniform", module_objects={
        "glorot_uniform": initializers.GlorotUniform}, printable_module_name="initializer")
    assert isinstance(init, initializers.GlorotUniform)
    assert deserialize_keras_object("relu", module_objects={"relu": activations.relu}) is \
        activations.relu


def test_strings_without_module_objects_are_data():
    assert deserialize_keras_object({"padding": "same", "dtype": "float32"}) == \
        {"padding": "same", "dtype": "float32"}


def test_lambdas_need_unsafe_mode():
    offset = 3.0
    fn = lambda x, scale=2.0: x * scale + offset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = serialize_keras_object(fn)
    assert config["class_name"] == "__lambda__"
    with pytest.raises(ValueError, match="safe_mode=False"):
        deserialize_keras_object(config)
    loaded = deserialize_keras_object(config, safe_mode=False)
    assert loaded(1.0) == 5.0
    assert json.loads(json.dumps(config))  # the config is plain JSON data


def test_build_config_is_saved_and_replayed():
    class Built(Scale):
        built = False

        def get_build_config(self):
            return {"input_shape": [None, 4]} if self.built else None

        def build_from_config(self, config):
            self.built = True
            self.seen = config

    obj = Built(2.0)
    assert "build_config" not in serialize_keras_object(obj)
    obj.built = True
    config = serialize_keras_object(obj)
    assert config["build_config"] == {"input_shape": [None, 4]}
    back = deserialize_keras_object(config, custom_objects={"Built": Built})
    assert back.built and back.seen == {"input_shape": [None, 4]}


def test_get_custom_objects_is_the_registry(clean_registry):
    get_custom_objects()["my_scale"] = Scale
    assert deserialize_keras_object({"class_name": "my_scale", "config": {"factor": 5.0}}) \
        .factor == 5.0
