"""dtf.distribute partitioners against TensorFlow's answers (fixtures/partitioners_reference.json,
made by fixtures/make_partitioners_reference.py) and their argument checks."""

import json
import pathlib

import numpy as np
import pytest

import dtf
from dtf.distribute.partitioners import (
    FixedShardsPartitioner,
    MaxSizePartitioner,
    MinSizePartitioner,
    Partitioner,
)

_CLASSES = {
    "FixedShardsPartitioner": FixedShardsPartitioner,
    "MinSizePartitioner": MinSizePartitioner,
    "MaxSizePartitioner": MaxSizePartitioner,
}
_REFERENCE = json.loads(
    (pathlib.Path(__file__).parent / "fixtures" / "partitioners_reference.json").read_text()
)["rows"]


def test_reference_table_matches_tensorflow():
    mismatches = []
    for name, kwargs, shape, dtype, axis, expected in _REFERENCE:
        got = _CLASSES[name](**kwargs)(tuple(shape), dtype, axis=axis)
        if got != expected:
            mismatches.append((name, kwargs, shape, dtype, axis, expected, got))
    assert len(_REFERENCE) > 1000
    assert not mismatches, mismatches[:5]


@pytest.mark.parametrize(
    ("partitioner", "expected"),
    [
        (FixedShardsPartitioner(num_shards=2), [2, 1]),
        (MinSizePartitioner(min_shard_bytes=4, max_shards=2), [2, 1]),
        (MinSizePartitioner(min_shard_bytes=4, max_shards=10), [6, 1]),
        (MaxSizePartitioner(max_shard_bytes=4), [6, 1]),
        (MaxSizePartitioner(max_shard_bytes=4, max_shards=2), [2, 1]),
        (MaxSizePartitioner(max_shard_bytes=1024), [1, 1]),
    ],
)
def test_documented_examples(partitioner, expected):
    assert partitioner((6, 1), "float32") == expected


@pytest.mark.parametrize(
    "spelling",
    [dtf.float32, np.float32, np.dtype("float32"), "float32"],
)
def test_shape_and_dtype_spellings(spelling):
    part = MinSizePartitioner(min_shard_bytes=8, max_shards=100)
    for shape in [(10, 3), [10, 3], dtf.TensorShape([10, 3])]:
        assert part(shape, spelling) == [10, 1]


def test_strings_use_bytes_per_string():
    part = MinSizePartitioner(min_shard_bytes=10, max_shards=100, bytes_per_string=5)
    for spelling in [dtf.string, "string", str, bytes, np.object_, np.dtype("U3")]:
        assert part((8,), spelling) == [4]


def test_negative_axis_and_default_min_size():
    assert FixedShardsPartitioner(3)((4, 5), "float32", axis=-1) == [1, 3]
    # 1024 x 1024 float32 = 4 MiB = 16 x 256 KiB (TensorFlow's docstring example).
    assert MinSizePartitioner(max_shards=32)((1024, 1024), "float32") == [16, 1]
    assert MinSizePartitioner(max_shards=8)((1024, 1024), "float32") == [8, 1]


def test_empty_variables():
    # TensorFlow's answers for FixedShards and MinSize; MaxSize divides by zero there.
    assert FixedShardsPartitioner(3)((0, 3), "float32") == [0, 1]
    assert MinSizePartitioner(4, 3)((0, 3), "float32") == [1, 1]
    assert MaxSizePartitioner(4)((0, 3), "float32") == [1, 1]
    assert MaxSizePartitioner(4)((3, 0), "float32") == [1, 1]


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: FixedShardsPartitioner(0), "num_shards"),
        (lambda: FixedShardsPartitioner(2.5), "num_shards"),
        (lambda: FixedShardsPartitioner(True), "num_shards"),
        (lambda: MinSizePartitioner(min_shard_bytes=0), "min_shard_bytes"),
        (lambda: MinSizePartitioner(max_shards=0), "max_shards"),
        (lambda: MinSizePartitioner(bytes_per_string=-1), "bytes_per_string"),
        (lambda: MaxSizePartitioner(0), "max_shard_bytes"),
        (lambda: MaxSizePartitioner(4, max_shards=0), "max_shards=None"),
        (lambda: MaxSizePartitioner(4, bytes_per_string=0), "bytes_per_string"),
    ],
)
def test_bad_arguments(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


@pytest.mark.parametrize(
    "partitioner", [FixedShardsPartitioner(2), MinSizePartitioner(4, 2), MaxSizePartitioner(4)]
)
def test_bad_calls(partitioner):
    with pytest.raises(ValueError, match="scalar"):
        partitioner((), "float32")
    with pytest.raises(ValueError, match="axis 2"):
        partitioner((4, 2), "float32", axis=2)
    with pytest.raises(ValueError, match="axis -3"):
        partitioner((4, 2), "float32", axis=-3)
    with pytest.raises(ValueError, match="fully defined"):
        partitioner((None, 2), "float32")
    with pytest.raises(ValueError, match="known rank"):
        partitioner(dtf.TensorShape(None), "float32")
    with pytest.raises(ValueError, match="axis"):
        partitioner((4, 2), "float32", axis=0.5)


def test_bad_dtype_names_the_dtype():
    with pytest.raises(ValueError, match="not-a-dtype"):
        MinSizePartitioner()((4, 2), "not-a-dtype")


def test_base_class_and_repr():
    with pytest.raises(NotImplementedError, match="Partitioner"):
        Partitioner()((2,), "float32")
    assert repr(FixedShardsPartitioner(3)) == "FixedShardsPartitioner(num_shards=3)"
    assert "max_shards=None" in repr(MaxSizePartitioner(8))
    assert "min_shard_bytes=262144" in repr(MinSizePartitioner())
