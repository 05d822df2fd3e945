"""cluster.checkpoint: atomic parameter-server checkpoints, with real files and crash cases."""

import json
import os

import numpy as np
import pytest
from dtf.cluster import checkpoint as ckpt
from dtf.cluster.checkpoint import (
    CheckpointError,
    available_steps,
    common_step,
    latest_step,
    read_checkpoint,
    write_checkpoint,
)

_DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
           "float16", "float32", "float64", "complex64", "complex128", ">f4", ">i8"]


def _arrays():
    rng = np.random.default_rng(0)
    out = {}
    for dtype in _DTYPES:
        out[f"dense/{dtype}:0"] = (rng.standard_normal((3, 4)) * 100).astype(dtype)
    out["scalar"] = np.array(3.5, np.float64)
    out["int scalar"] = np.array(-7, np.int64)
    out["empty"] = np.zeros((0, 5), np.float32)
    out["empty 1d"] = np.zeros((0,), np.int32)
    out["deep/name/with:colons:1"] = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    out["non-contiguous"] = rng.standard_normal((6, 6))[::2, ::3]
    out["fortran"] = np.asfortranarray(rng.standard_normal((3, 5)))
    out["nan/inf"] = np.array([np.nan, np.inf, -np.inf, -0.0], np.float32)
    out["text"] = np.array(["a", "bc"])
    out[""] = np.arange(3)
    return out


def test_round_trip_every_dtype_shape_and_name(tmp_path):
    arrays = _arrays()
    meta = {"step": 5, "optimizer": {"iterations": 5, "lr": 0.1}, "names": ["a", "b"]}
    write_checkpoint(tmp_path, 5, arrays, meta)
    got, got_meta = read_checkpoint(tmp_path)
    assert got_meta == meta
    assert list(got) == list(arrays)
    for name, value in arrays.items():
        assert got[name].dtype == value.dtype, name
        assert got[name].shape == value.shape, name
        np.testing.assert_array_equal(got[name], value)
        assert got[name].tobytes() == np.ascontiguousarray(value).tobytes(), name


def test_files_latest_and_step_selection(tmp_path):
    assert latest_step(tmp_path) is None and available_steps(tmp_path) == []
    assert latest_step(tmp_path / "missing") is None
    for step in (1, 2, 3):
        write_checkpoint(tmp_path, step, {"w": np.full(2, step, np.float32)}, {"s": step})
    assert sorted(os.listdir(tmp_path)) == ["ckpt-1.npz", "ckpt-2.npz", "ckpt-3.npz", "latest"]
    assert (tmp_path / "latest").read_text() == "3\n"
    assert latest_step(tmp_path) == 3 and available_steps(tmp_path) == [1, 2, 3]
    arrays, meta = read_checkpoint(tmp_path, step=2)
    assert meta == {"s": 2} and arrays["w"].tolist() == [2.0, 2.0]
    assert read_checkpoint(tmp_path)[1] == {"s": 3}
    assert read_checkpoint(str(tmp_path), None)[1] == {"s": 3}


def test_keep_prunes_oldest(tmp_path):
    for step in range(0, 60, 10):
        write_checkpoint(tmp_path, step, {"w": np.zeros(1)}, keep=2)
    assert available_steps(tmp_path) == [40, 50]
    write_checkpoint(tmp_path, 60, {"w": np.zeros(1)}, keep=None)
    write_checkpoint(tmp_path, 70, {"w": np.zeros(1)}, keep=None)
    assert available_steps(tmp_path) == [40, 50, 60, 70]
    write_checkpoint(tmp_path, 80, {"w": np.zeros(1)})  # default keep=3
    assert available_steps(tmp_path) == [60, 70, 80]


def test_rolled_back_run_removes_newer_steps(tmp_path):
    for step in (10, 20, 30):
        write_checkpoint(tmp_path, step, {"w": np.zeros(1)}, {"run": 1})
    # restored from 20 and continued: 30 belongs to the abandoned run
    write_checkpoint(tmp_path, 25, {"w": np.ones(1)}, {"run": 2}, keep=1)
    assert available_steps(tmp_path) == [25]
    assert latest_step(tmp_path) == 25 and read_checkpoint(tmp_path)[1] == {"run": 2}


def test_leftover_temp_file_is_ignored_then_removed(tmp_path):
    write_checkpoint(tmp_path, 1, {"w": np.arange(3.0)})
    # a writer killed mid-write leaves its temporary file (half a checkpoint) behind
    (tmp_path / ".tmp-abc123-ckpt-2.npz").write_bytes(b"PK\x03\x04 half a zip")
    (tmp_path / ".tmp-def456-latest").write_bytes(b"2")
    assert available_steps(tmp_path) == [1] and latest_step(tmp_path) == 1
    np.testing.assert_array_equal(read_checkpoint(tmp_path)[0]["w"], np.arange(3.0))
    write_checkpoint(tmp_path, 2, {"w": np.arange(4.0)})
    assert sorted(os.listdir(tmp_path)) == ["ckpt-1.npz", "ckpt-2.npz", "latest"]


def test_crash_before_latest_update_falls_back_to_newest_file(tmp_path):
    write_checkpoint(tmp_path, 1, {"w": np.zeros(1)})
    write_checkpoint(tmp_path, 2, {"w": np.ones(1)})
    (tmp_path / "latest").write_text("1\n")  # the crash: ckpt-2 placed, latest not yet updated
    assert latest_step(tmp_path) == 1
    (tmp_path / "latest").unlink()
    assert latest_step(tmp_path) == 2
    (tmp_path / "latest").write_text("garbage")
    assert latest_step(tmp_path) == 2
    (tmp_path / "latest").write_text("7\n")  # names a step whose file is gone
    assert latest_step(tmp_path) == 2


def test_failed_write_leaves_directory_unchanged(tmp_path, monkeypatch):
    write_checkpoint(tmp_path, 1, {"w": np.zeros(2)})

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        write_checkpoint(tmp_path, 2, {"w": np.ones(2)})
    assert sorted(os.listdir(tmp_path)) == ["ckpt-1.npz", "latest"]
    assert latest_step(tmp_path) == 1


def test_truncated_file_is_a_checkpoint_error(tmp_path):
    write_checkpoint(tmp_path, 3, {"w": np.arange(1000.0)})
    path = tmp_path / "ckpt-3.npz"
    data = path.read_bytes()
    for cut in (0, 10, len(data) // 2, len(data) - 10):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="ckpt-3.npz.*truncated or damaged"):
            read_checkpoint(tmp_path)


def test_damaged_array_bytes_are_caught_by_crc(tmp_path):
    values = np.arange(1000.0)
    write_checkpoint(tmp_path, 3, {"w": values})
    path = tmp_path / "ckpt-3.npz"
    data = bytearray(path.read_bytes())
    at = data.find(values[500:501].tobytes())
    assert at > 0
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="ckpt-3.npz"):
        read_checkpoint(tmp_path)


def test_not_a_checkpoint(tmp_path):
    np.savez(tmp_path / "ckpt-4.npz", x=np.zeros(2))  # an npz without our header
    with pytest.raises(CheckpointError, match="ckpt-4.npz"):
        read_checkpoint(tmp_path, 4)
    np.save(tmp_path / "plain.npy", np.zeros(2))
    os.replace(tmp_path / "plain.npy", tmp_path / "ckpt-5.npz")  # a bare .npy
    with pytest.raises(CheckpointError, match="ckpt-5.npz"):
        read_checkpoint(tmp_path, 5)
    (tmp_path / "ckpt-6.npz").write_bytes(b"\x80\x04pickled?")  # never unpickled
    with pytest.raises(CheckpointError, match="ckpt-6.npz"):
        read_checkpoint(tmp_path, 6)


def test_renamed_file_is_detected(tmp_path):
    write_checkpoint(tmp_path, 1, {"w": np.zeros(1)})
    os.replace(tmp_path / "ckpt-1.npz", tmp_path / "ckpt-9.npz")
    with pytest.raises(CheckpointError, match="holds step 1, not 9"):
        read_checkpoint(tmp_path, 9)


def test_missing_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint in"):
        read_checkpoint(tmp_path)
    write_checkpoint(tmp_path, 1, {"w": np.zeros(1)})
    with pytest.raises(CheckpointError, match=r"ckpt-2.npz.*steps available: \[1\]"):
        read_checkpoint(tmp_path, 2)


def test_common_step(tmp_path):
    dirs = [tmp_path / f"ps{i}" for i in range(3)]
    for step in (10, 20, 30):
        for d in dirs:
            write_checkpoint(d, step, {"w": np.zeros(1)}, keep=None)
    write_checkpoint(dirs[0], 40, {"w": np.zeros(1)}, keep=None)  # ps1, ps2 died before 40
    os.unlink(dirs[2] / "ckpt-30.npz")
    assert common_step(dirs) == 20
    assert common_step(dirs[:2]) == 30
    assert common_step([dirs[0]]) == 40
    assert common_step([dirs[0], tmp_path / "empty"]) is None
    with pytest.raises(ValueError, match="at least one"):
        common_step([])


@pytest.mark.parametrize("step", [-1, 1.5, True, "3", None])
def test_bad_steps(tmp_path, step):
    with pytest.raises(ValueError, match="step"):
        write_checkpoint(tmp_path, step, {})


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="keep"):
        write_checkpoint(tmp_path, 1, {}, keep=0)
    with pytest.raises(ValueError, match="'o'.*pickle"):
        write_checkpoint(tmp_path, 1, {"o": np.array([object()])})
    with pytest.raises(ValueError, match="JSON"):
        write_checkpoint(tmp_path, 1, {}, {"bad": object()})
    with pytest.raises(TypeError, match="strings"):
        write_checkpoint(tmp_path, 1, {3: np.zeros(1)})
    assert os.listdir(tmp_path) == []


def test_no_arrays_and_meta_none(tmp_path):
    write_checkpoint(tmp_path / "new" / "dir", 0, {}, None)
    assert read_checkpoint(tmp_path / "new" / "dir") == ({}, {})
    assert latest_step(tmp_path / "new" / "dir") == 0


def test_file_is_a_plain_npz_without_pickle(tmp_path):
    write_checkpoint(tmp_path, 1, {"a/b:0": np.ones(2)}, {"k": 1})
    with np.load(tmp_path / "ckpt-1.npz", allow_pickle=False) as archive:
        header = json.loads(bytes(archive["header"]).decode())
    assert header["names"] == ["a/b:0"] and header["meta"] == {"k": 1}
