"""dtf.summary: the events match TensorFlow's bytes (recorded fixture), the files are valid
TFRecords that TensorBoard's own reader loads, and the writer/step/record_if semantics."""

import base64
import glob
import io
import json
import os
import struct

import numpy as np
import numpy.testing as npt
import pytest
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow as tb_crc
from tensorboard.util import tensor_util

import dtf
from dtf import summary
from dtf.summary._event_file import crc32c, masked_crc32c

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "fixtures", "summary_reference.json")) as _f:
    REFERENCE = json.load(_f)


def _records(path):
    """The records of a TFRecord file, checking both CRCs of each."""
    with open(path, "rb") as f:
        data = f.read()
    out, i = [], 0
    while i < len(data):
        header = data[i:i + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[i + 8:i + 12])
        assert header_crc == masked_crc32c(header)
        record = data[i + 12:i + 12 + length]
        (record_crc,) = struct.unpack("<I", data[i + 12 + length:i + 16 + length])
        assert record_crc == masked_crc32c(record)
        out.append(record)
        i += 16 + length
    assert i == len(data)
    return out


def _event_file(logdir):
    (path,) = glob.glob(os.path.join(logdir, "events.out.tfevents.*"))
    return path


def _write_case(case):
    kind, tag, step = case["kind"], case["tag"], case["step"]
    if kind == "scalar":
        return summary.scalar(tag, case["data"], step=step)
    if kind == "text":
        return summary.text(tag, case["data"], step=step)
    data = np.asarray(case["data"], dtype=case["dtype"])
    if kind == "histogram":
        return summary.histogram(tag, data, step=step)
    if kind == "histogram_buckets":
        return summary.histogram(tag, data, step=step, buckets=5)
    return summary.image(tag, data, step=step)


@pytest.fixture
def written(tmp_path):
    writer = summary.create_file_writer(tmp_path)
    with writer.as_default():
        for case in REFERENCE["cases"]:
            assert _write_case(case) is True
    writer.close()
    return _records(_event_file(tmp_path))


def test_the_file_starts_with_the_version_header(written):
    header = event_pb2.Event.FromString(written[0])
    assert header.file_version == "brain.Event:2" and header.step == 0
    assert header.source_metadata.writer == "dtf.summary"


@pytest.mark.parametrize("index", range(len(REFERENCE["cases"])))
def test_events_match_tensorflow(written, index):
    case = REFERENCE["cases"][index]
    mine = written[1 + index]
    expected = base64.b64decode(case["event_after_wall_time"])
    assert mine[:1] == b"\t"  # the wall time, a double, first as TensorFlow writes it
    if case["kind"] != "image":
        assert mine[9:] == expected
        return
    # PNG compression settings differ; everything else, and the pixels, match
    event, reference = event_pb2.Event.FromString(mine), event_pb2.Event()
    reference.ParseFromString(b"\t" + bytes(8) + expected)
    value, ref_value = event.summary.value[0], reference.summary.value[0]
    assert event.step == reference.step and value.tag == ref_value.tag
    assert value.metadata == ref_value.metadata
    assert value.tensor.tensor_shape == ref_value.tensor.tensor_shape
    assert value.tensor.string_val[:2] == ref_value.tensor.string_val[:2]
    for png, pixels in zip(value.tensor.string_val[2:], case["pixels"]):
        decoded = np.asarray(Image.open(io.BytesIO(png)))
        npt.assert_array_equal(decoded.reshape(np.shape(pixels)), pixels)


def test_crc32c_matches_known_values_and_tensorboard():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(b"") == 0
    for data in (b"a", b"hello world", bytes(range(256)) * 3):
        assert crc32c(data) == tb_crc.crc32c(data)
        assert masked_crc32c(data) == tb_crc.masked_crc32c(data)


def test_tensorboard_reader_loads_the_values(tmp_path):
    writer = summary.create_file_writer(tmp_path / "run")
    with writer.as_default(step=0):
        for step in range(5):
            summary.scalar("loss", 1.0 / (step + 1), step=step)
        summary.histogram("weights", np.arange(10.0), step=4)
        summary.text("note", "done", step=4)
    writer.close()
    accumulator = ea.EventAccumulator(str(tmp_path / "run"), size_guidance={ea.TENSORS: 0})
    accumulator.Reload()
    assert set(accumulator.Tags()["tensors"]) == {"loss", "weights", "note"}
    losses = accumulator.Tensors("loss")
    assert [e.step for e in losses] == list(range(5))
    npt.assert_allclose([tensor_util.make_ndarray(e.tensor_proto) for e in losses],
                        [1.0, 0.5, 1 / 3, 0.25, 0.2], rtol=1e-6)
    histogram = tensor_util.make_ndarray(accumulator.Tensors("weights")[0].tensor_proto)
    assert histogram.shape == (30, 3) and histogram[:, 2].sum() == 10
    assert accumulator.SummaryMetadata("weights").plugin_data.plugin_name == "histograms"


def test_histogram_buckets():
    table = summary.summary_ops.histogram_buckets([0.0, 1.0, 1.0, 4.0], 4)
    npt.assert_array_equal(table, [[0, 1, 1], [1, 2, 2], [2, 3, 0], [3, 4, 1]])
    npt.assert_array_equal(summary.summary_ops.histogram_buckets([2.0, 2.0], 3),
                           [[2, 2, 0], [2, 2, 0], [2, 2, 2]])
    assert summary.summary_ops.histogram_buckets([], 30).shape == (30, 3)
    assert summary.summary_ops.histogram_buckets([1.0], 0).shape == (0, 3)


# -- writers, steps, record_if ------------------------------------------------------------------
def test_file_name_and_one_file_per_writer(tmp_path):
    first = summary.create_file_writer(tmp_path)
    second = summary.create_file_writer(tmp_path, filename_suffix=".x")
    names = sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "*")))
    assert len(names) == 2 and all(n.startswith("events.out.tfevents.") for n in names)
    assert first.path.endswith(".v2") and second.path.endswith(".x")
    first.close()
    second.close()


def test_step_comes_from_the_argument_the_writer_or_set_step(tmp_path):
    writer = summary.create_file_writer(tmp_path)
    step = dtf.Variable(7, dtype="int64")
    with writer.as_default(step=step):
        summary.scalar("a", 1.0)
        step.assign(8)
        summary.scalar("a", 2.0)  # the Variable is read at each write
        summary.scalar("a", 3.0, step=100)
    assert summary.experimental.get_step() is None  # the block's step is gone
    summary.experimental.set_step(11)
    try:
        with writer.as_default():
            summary.scalar("a", 4.0)
    finally:
        summary.experimental.set_step(None)
    with writer.as_default(), pytest.raises(ValueError, match="No step set"):
        summary.scalar("a", 5.0)
    writer.close()
    steps = [event_pb2.Event.FromString(r).step for r in _records(writer.path)[1:]]
    assert steps == [7, 8, 100, 11]


def test_nothing_is_recorded_without_a_writer_or_when_record_if_says_no(tmp_path):
    assert summary.scalar("a", 1.0, step=0) is False
    assert not summary.should_record_summaries()
    writer = summary.create_file_writer(tmp_path)
    with writer.as_default(step=0):
        assert summary.should_record_summaries()
        with summary.record_if(False):
            assert summary.scalar("a", 1.0) is False
        calls = []
        with summary.record_if(lambda: calls.append(1) or len(calls) % 2 == 0):
            results = [summary.scalar("b", float(i), step=i) for i in range(4)]
        assert results == [False, True, False, True]
    with summary.create_noop_writer().as_default(step=0):
        assert summary.scalar("a", 1.0) is False
    writer.close()
    tags_steps = [(v.tag, e.step) for e in map(event_pb2.Event.FromString,
                                                _records(writer.path)[1:])
                  for v in e.summary.value]
    assert tags_steps == [("b", 1), ("b", 3)]


def test_set_as_default_and_flush(tmp_path):
    writer = summary.create_file_writer(tmp_path, max_queue=100, flush_millis=10 ** 9)
    writer.set_as_default(step=1)
    try:
        summary.scalar("a", 1.0)
        assert len(_records(writer.path)) == 1  # still queued
        summary.flush()
        assert len(_records(writer.path)) == 2
    finally:
        writer.close()
    assert summary.scalar("a", 1.0, step=1) is False  # closing unset the default


def test_queue_limit_flushes(tmp_path):
    writer = summary.create_file_writer(tmp_path, max_queue=3, flush_millis=10 ** 9)
    with writer.as_default(step=0):
        for _ in range(3):
            summary.scalar("a", 1.0)
        assert len(_records(writer.path)) == 4
    writer.close()


def test_closed_writer_refuses_writes(tmp_path):
    writer = summary.create_file_writer(tmp_path)
    writer.close()
    writer.close()  # twice is fine
    with pytest.raises(ValueError, match="is closed"):
        writer.write_event(b"")


def test_bad_data_is_explained(tmp_path):
    with summary.create_file_writer(tmp_path).as_default(step=0):
        with pytest.raises(ValueError, match=r"scalar\('loss'\): data must be a scalar; got "
                                             r"shape \(2,\)"):
            summary.scalar("loss", [1.0, 2.0])
        with pytest.raises(TypeError, match="must be a real number"):
            summary.scalar("loss", "high")
        with pytest.raises(ValueError, match=r"\[k, h, w, c\] batch"):
            summary.image("img", np.zeros((4, 4)))
        with pytest.raises(TypeError, match="must be strings"):
            summary.text("t", 3.0)
        with pytest.raises(ValueError, match="scalar integer"):
            summary.scalar("loss", 1.0, step=1.5)


def test_write_any_tensor(tmp_path):
    writer = summary.create_file_writer(tmp_path)
    with writer.as_default(step=2):
        assert summary.write("raw", dtf.constant([[1, 2]], dtype="int64"),
                             metadata={"plugin_name": "custom", "description": "d"})
    writer.close()
    value = event_pb2.Event.FromString(_records(writer.path)[1]).summary.value[0]
    npt.assert_array_equal(tensor_util.make_ndarray(value.tensor), [[1, 2]])
    assert value.metadata.plugin_data.plugin_name == "custom"
    assert value.metadata.summary_description == "d"


def test_docstring_examples():
    import doctest
    import importlib

    for name in ("dtf.summary", "dtf.summary.writer", "dtf.summary.summary_ops",
                 "dtf.summary.experimental"):
        module = importlib.import_module(name)
        result = doctest.testmod(module, extraglobs={"dtf": dtf})
        assert result.failed == 0, name
