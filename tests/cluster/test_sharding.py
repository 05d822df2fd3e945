"""cluster.sharding: the placement of variables and their row blocks over parameter servers."""

import json

import numpy as np
import pytest
from dtf.cluster.sharding import Placement, plan_placement

import dtf
from dtf.distribute.partitioners import (
    FixedShardsPartitioner,
    MaxSizePartitioner,
    MinSizePartitioner,
)

F32 = np.dtype("float32")


def _specs(**shapes):
    return {k: (shape, F32) for k, shape in shapes.items()}


def _assert_consistent(plan):
    """Invariants every plan holds: loads add up, parts on distinct servers, keys_on agrees."""
    listed = [pk for ps in range(plan.num_ps) for pk in plan.keys_on(ps)]
    assert len(listed) == len(set(listed))
    for ps in range(plan.num_ps):
        total = 0
        for pk in plan.keys_on(ps):
            assert plan.server_of(pk) == ps
            shape, dtype = plan.spec_of(pk)
            total += int(np.prod(shape)) * dtype.itemsize
        assert plan.bytes_on(ps) == total
    for key in plan:
        servers = [plan.server_of(pk) for pk, _ in plan.parts(key)]
        assert len(set(servers)) == len(servers)
        assert {pk for pk, _ in plan.parts(key)} <= set(listed)


def test_no_partitioner_balances_whole_variables_by_bytes():
    plan = plan_placement(_specs(a=(10,), b=(40,), c=(30,), d=(20,), e=(5,)), num_ps=2)
    # largest first onto the least loaded: b->0, c->1, d->1, a->0, e->0 (tie 50/50 -> 0).
    assert [plan.server_of(k) for k in "abcde"] == [0, 0, 1, 1, 0]
    assert plan.keys_on(0) == ["a", "b", "e"]  # in the order the specs were given
    assert plan.keys_on(1) == ["c", "d"]
    assert (plan.bytes_on(0), plan.bytes_on(1)) == (220, 200)
    assert all(plan.parts(k) == [(k, slice(None))] for k in "abcde")
    assert not plan.is_partitioned("a")
    _assert_consistent(plan)


def test_ties_go_to_lowest_index_and_plan_is_deterministic():
    specs = _specs(x=(4,), y=(4,), z=(4,), w=(4,))
    plan = plan_placement(specs, num_ps=3)
    assert [plan.server_of(k) for k in "xyzw"] == [0, 1, 2, 0]
    again = plan_placement(dict(specs), num_ps=3)
    assert again == plan and again.to_dict() == plan.to_dict()


@pytest.mark.parametrize(("rows", "k"), [(10, 3), (7, 2), (9, 4), (4, 4), (5, 5)])
def test_tensorflow_row_split(rows, k):
    plan = plan_placement(_specs(w=(rows, 3)), num_ps=k, partitioner=FixedShardsPartitioner(k))
    parts = plan.parts("w")
    assert [pk for pk, _ in parts] == [f"w/part_{j}" for j in range(k)]
    sizes = [s.stop - s.start for _, s in parts]
    assert sizes == [rows // k + (1 if j < rows % k else 0) for j in range(k)]
    assert parts[0][1].start == 0 and parts[-1][1].stop == rows
    assert sorted(plan.server_of(pk) for pk, _ in parts) == list(range(k))
    assert plan.spec_of("w/part_0") == ((sizes[0], 3), F32)
    assert plan.variable_spec("w") == ((rows, 3), F32)
    _assert_consistent(plan)


def test_partitions_capped_by_num_ps_and_rows():
    plan = plan_placement(_specs(w=(10, 2), b=(2,), s=()), num_ps=3,
                          partitioner=FixedShardsPartitioner(8))
    assert len(plan.parts("w")) == 3  # capped by num_ps
    assert len(plan.parts("b")) == 2  # capped by its 2 rows
    assert plan.parts("s") == [("s", slice(None))]  # scalars are never split
    one_ps = plan_placement(_specs(w=(10, 2)), num_ps=1, partitioner=FixedShardsPartitioner(8))
    assert not one_ps.is_partitioned("w")
    empty = plan_placement(_specs(e=(0, 4)), num_ps=2, partitioner=FixedShardsPartitioner(2))
    assert empty.parts("e") == [("e", slice(None))]
    _assert_consistent(plan)


def test_min_size_partitioner_splits_only_large_variables():
    part = MinSizePartitioner(min_shard_bytes=1024, max_shards=4)
    specs = {"emb": ((1000, 16), F32), "dense": ((16, 8), F32), "bias": ((8,), F32)}
    plan = plan_placement(specs, num_ps=4, partitioner=part)
    assert plan.is_partitioned("emb") and len(plan.parts("emb")) == 4
    assert not plan.is_partitioned("dense") and not plan.is_partitioned("bias")
    loads = [plan.bytes_on(ps) for ps in range(4)]
    assert sum(loads) == (1000 * 16 + 16 * 8 + 8) * 4
    assert max(loads) - min(loads) <= 16 * 8 * 4 + 8 * 4 + 16 * 4  # within the small ones
    _assert_consistent(plan)


def test_partitioner_is_called_with_shape_dtype_axis():
    calls = []

    def partitioner(shape, dtype, axis=0):
        calls.append((shape, dtype, axis))
        return [2] + [1] * (len(shape) - 1)

    plan_placement({"w": ((6, 3), np.float64)}, num_ps=2, partitioner=partitioner)
    assert calls == [((6, 3), np.dtype("float64"), 0)]


@pytest.mark.parametrize(
    ("answer", "match"),
    [([2, 2], "axis 0 only"), ([2], "one per axis"), ([-1, 1], "non-negative"),
     (["2", 1], "non-negative")],
)
def test_bad_partitioner_answers(answer, match):
    with pytest.raises(ValueError, match=match):
        plan_placement(_specs(w=(6, 3)), num_ps=2, partitioner=lambda s, d, axis=0: answer)


def test_partitioner_errors_name_the_variable():
    def broken(shape, dtype, axis=0):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="'w'.*boom"):
        plan_placement(_specs(w=(6, 3)), num_ps=2, partitioner=broken)


@pytest.mark.parametrize("num_ps", [0, -1, 1.5, True, "2"])
def test_bad_num_ps(num_ps):
    with pytest.raises(ValueError, match="num_ps"):
        plan_placement(_specs(a=(2,)), num_ps=num_ps)


def test_bad_specs():
    with pytest.raises(ValueError, match="'a'"):
        plan_placement({"a": (2,)}, num_ps=1)
    with pytest.raises(ValueError, match="'a'"):
        plan_placement({"a": ((2,), "no-such-dtype")}, num_ps=1)
    with pytest.raises(ValueError, match="negative"):
        plan_placement({"a": ((-2,), F32)}, num_ps=1)
    with pytest.raises(ValueError, match="mapping"):
        plan_placement([("a", ((2,), F32))], num_ps=1)
    with pytest.raises(TypeError, match="strings"):
        plan_placement({3: ((2,), F32)}, num_ps=1)


def test_part_key_collision_is_an_error():
    specs = {"w/part_0": ((1,), F32), "w": ((6, 2), F32)}
    with pytest.raises(ValueError, match="collides"):
        plan_placement(specs, num_ps=2, partitioner=FixedShardsPartitioner(2))


def test_dtf_dtypes_and_mixed_dtypes():
    plan = plan_placement({"a": ((4,), dtf.float64), "b": ((4,), np.int8)}, num_ps=2)
    assert plan.spec_of("a") == ((4,), np.dtype("float64"))
    assert (plan.bytes_on(0), plan.bytes_on(1)) == (32, 4)


def _plan_and_arrays():
    specs = {"w": ((7, 3), F32), "b": ((3,), F32), "emb": ((5, 2), np.dtype("float64")),
             "s": ((), F32)}
    plan = plan_placement(specs, num_ps=3, partitioner=MaxSizePartitioner(max_shard_bytes=30))
    rng = np.random.default_rng(0)
    arrays = {k: rng.standard_normal(shape).astype(dt) for k, (shape, dt) in specs.items()}
    return plan, arrays


def test_split_gives_views_and_merge_round_trips():
    plan, arrays = _plan_and_arrays()
    assert plan.is_partitioned("w") and plan.is_partitioned("emb")
    per_ps = plan.split(arrays)
    assert len(per_ps) == 3
    for ps, d in enumerate(per_ps):
        assert sorted(d) == sorted(plan.keys_on(ps))
        for pk, value in d.items():
            assert value.shape == plan.spec_of(pk)[0]
            assert value.dtype == plan.spec_of(pk)[1]
    for key, rows in plan.parts("w"):
        part = per_ps[plan.server_of(key)][key]
        assert np.shares_memory(part, arrays["w"])
        np.testing.assert_array_equal(part, arrays["w"][rows])
    assert per_ps[plan.server_of("b")]["b"] is arrays["b"]
    merged = plan.merge(per_ps)
    assert list(merged) == ["w", "b", "emb", "s"]
    for key, value in arrays.items():
        np.testing.assert_array_equal(merged[key], value)
        assert merged[key].dtype == value.dtype
    assert merged["b"] is arrays["b"]


def test_merge_into_buffers():
    plan, arrays = _plan_and_arrays()
    buffers = {"w": np.empty((7, 3), np.float32)}
    merged = plan.merge(plan.split(arrays), out=buffers)
    assert merged["w"] is buffers["w"]
    np.testing.assert_array_equal(buffers["w"], arrays["w"])
    np.testing.assert_array_equal(merged["emb"], arrays["emb"])  # no buffer: a new array


def test_missing_and_none_keys_are_absent():
    plan, arrays = _plan_and_arrays()
    per_ps = plan.split({"w": arrays["w"], "b": None})
    assert sorted(k for d in per_ps for k in d) == [pk for pk, _ in plan.parts("w")]
    assert list(plan.merge(per_ps)) == ["w"]
    # a variable with one part missing is left out of merge
    full = plan.split(arrays)
    first_part = plan.parts("emb")[0][0]
    del full[plan.server_of(first_part)][first_part]
    assert "emb" not in plan.merge(full) and "w" in plan.merge(full)


def test_split_and_merge_errors():
    plan, _ = _plan_and_arrays()
    with pytest.raises(KeyError, match="nope"):
        plan.split({"nope": np.zeros(2)})
    with pytest.raises(ValueError, match="'w' has 7 rows"):
        plan.split({"w": np.zeros((6, 3), np.float32)})
    with pytest.raises(ValueError, match="one dict per parameter server"):
        plan.merge([{}])


def test_query_errors():
    plan, _ = _plan_and_arrays()
    with pytest.raises(KeyError, match="is partitioned; its parts are"):
        plan.server_of("w")
    with pytest.raises(KeyError, match="not in the placement"):
        plan.parts("zzz")
    with pytest.raises(KeyError, match="not in the placement"):
        plan.spec_of("zzz")
    with pytest.raises(ValueError, match="out of range"):
        plan.keys_on(3)
    with pytest.raises(ValueError, match="out of range"):
        plan.bytes_on(-1)
    assert "w" in plan and len(plan) == 4 and "num_ps=3" in repr(plan)
    assert list(plan) == plan.keys() == ["w", "b", "emb", "s"]


def test_extend_keeps_old_placement_and_balances_new():
    plan = plan_placement(_specs(big=(100,)), num_ps=3, partitioner=FixedShardsPartitioner(2))
    before = {pk: plan.server_of(pk) for ps in range(3) for pk in plan.keys_on(ps)}
    assert sorted(before.values()) == [0, 1]  # big/part_0 (200 B) and big/part_1 (200 B)
    plan.extend(_specs(small=(10,), mid=(60,)))
    assert {pk: plan.server_of(pk) for pk in before} == before
    # mid (240 B) is split in two blocks of 120 B; the first goes to the idle server 2
    assert plan.server_of(plan.parts("mid")[0][0]) == 2
    assert plan.keys() == ["big", "small", "mid"]
    _assert_consistent(plan)
    with pytest.raises(ValueError, match="already placed"):
        plan.extend(_specs(small=(3,)))
    with pytest.raises(ValueError, match="collides"):
        plan.extend({"big/part_0": ((1,), F32)})
    # a failed extend leaves the plan unchanged
    assert plan.keys() == ["big", "small", "mid"]


def test_extend_without_partitioner_fills_least_loaded():
    plan = plan_placement(_specs(a=(100,)), num_ps=2)
    plan.extend(_specs(b=(10,), c=(10,)))
    assert [plan.server_of(k) for k in "abc"] == [0, 1, 1]


def test_to_dict_from_dict_round_trip_through_json():
    plan, arrays = _plan_and_arrays()
    data = json.loads(json.dumps(plan.to_dict()))
    again = Placement.from_dict(data)
    assert again == plan
    for ps in range(3):
        assert again.keys_on(ps) == plan.keys_on(ps)
        assert again.bytes_on(ps) == plan.bytes_on(ps)
    for key in plan:
        assert again.parts(key) == plan.parts(key)
    merged = again.merge(again.split(arrays))
    for key, value in arrays.items():
        np.testing.assert_array_equal(merged[key], value)
    again.extend(_specs(later=(3,)))  # a restored plan can grow
    assert "later" in again


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda d: d.update(format="other"),
        lambda d: d.update(version=99),
        lambda d: d.pop("variables"),
        lambda d: d["variables"][0].update(dtype="bogus"),
        lambda d: d["variables"][0]["parts"][0].update(stop=1),
        lambda d: d["variables"][0]["parts"][1].update(server=d["variables"][0]["parts"][0]
                                                      ["server"]),
        lambda d: d["variables"][1]["parts"][0].update(server=7),
        lambda d: d["variables"][1]["parts"][0].update(key="other"),
        lambda d: d["variables"].append(d["variables"][0]),
    ],
)
def test_from_dict_rejects_bad_descriptions(corrupt):
    plan, _ = _plan_and_arrays()
    data = json.loads(json.dumps(plan.to_dict()))
    corrupt(data)
    with pytest.raises(ValueError, match="Cannot read the placement"):
        Placement.from_dict(data)
