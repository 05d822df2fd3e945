"""The few protocol-buffer messages of a TensorBoard event file, encoded by hand.

Only the fields dtf writes are here, with the numbers of TensorFlow's `.proto` files:

    Event           wall_time=1 (double), step=2 (int64), file_version=3 (string),
                    summary=5 (Summary), source_metadata=10 (SourceMetadata: writer=1)
    Summary         value=1 (repeated Value)
    Summary.Value   tag=1, tensor=8 (TensorProto), metadata=9 (SummaryMetadata)
    SummaryMetadata plugin_data=1 (PluginData: plugin_name=1, content=2), display_name=2,
                    summary_description=3
    TensorProto     dtype=1 (enum), tensor_shape=2 (TensorShapeProto: dim=2 {size=1}),
                    tensor_content=4 (raw little-endian bytes), string_val=8 (repeated bytes)

Fields are written in field-number order, as the C++ serializer does, so the bytes match
TensorFlow's for the same message (checked against a recorded TensorFlow event file).
"""

from __future__ import annotations

import struct

import numpy as np

__all__ = ["encode_event", "encode_summary_value", "encode_tensor"]

# TensorFlow's DataType enum values for the dtypes summaries use
_DTYPE_ENUM = {
    np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3,
    np.dtype("uint8"): 4, np.dtype("int16"): 5, np.dtype("int8"): 6, np.dtype("int64"): 9,
    np.dtype("bool"): 10, np.dtype("uint16"): 17, np.dtype("float16"): 19,
    np.dtype("uint32"): 22, np.dtype("uint64"): 23,
}
_DT_STRING = 7


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 fields: two's complement in ten bytes
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint((field << 3) | wire_type)


def _bytes_field(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def _string_field(field: int, text) -> bytes:
    return _bytes_field(field, text.encode("utf-8") if isinstance(text, str) else bytes(text))


def _shape(shape) -> bytes:
    return b"".join(_bytes_field(2, _key(1, 0) + _varint(int(size))) for size in shape)


def encode_tensor(array) -> bytes:
    """A `TensorProto` of a NumPy array: numbers as raw `tensor_content`, strings (bytes or
    str) as `string_val`, as TensorFlow writes them."""
    array = np.asarray(array)
    if array.dtype.kind in "SUO":
        values = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in array.ravel()]
        return (_key(1, 0) + _varint(_DT_STRING) + _bytes_field(2, _shape(array.shape))
                + b"".join(_bytes_field(8, v) for v in values))
    dtype_enum = _DTYPE_ENUM.get(array.dtype)
    if dtype_enum is None:
        raise TypeError(f"Summaries cannot hold a tensor of dtype {array.dtype}; cast it to "
                        "float32, float64, an integer type or bool first.")
    content = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    out = _key(1, 0) + _varint(dtype_enum) + _bytes_field(2, _shape(array.shape))
    if content:
        out += _bytes_field(4, content)
    return out


def _metadata(plugin_name, content=b"", display_name="", description="") -> bytes:
    plugin = _string_field(1, plugin_name)
    if content:
        plugin += _bytes_field(2, content)
    out = _bytes_field(1, plugin)
    if display_name:
        out += _string_field(2, display_name)
    if description:
        out += _string_field(3, description)
    return out


def encode_summary_value(tag, tensor_proto: bytes, plugin_name, content=b"",
                         display_name="", description="") -> bytes:
    """A `Summary.Value` (the encoded bytes) holding a tensor for the named plugin."""
    return (_string_field(1, tag) + _bytes_field(8, tensor_proto)
            + _bytes_field(9, _metadata(plugin_name, content, display_name, description)))


def encode_event(wall_time, step=None, summary_values=(), file_version=None,
                 source_writer=None) -> bytes:
    """An `Event`: a file-version header (with `file_version`) or a `Summary` of the encoded
    values at `step`."""
    out = _key(1, 1) + struct.pack("<d", float(wall_time))
    if step:
        out += _key(2, 0) + _varint(int(step))
    if file_version is not None:
        out += _string_field(3, file_version)
    if summary_values:
        out += _bytes_field(5, b"".join(_bytes_field(1, value) for value in summary_values))
    if source_writer is not None:
        out += _bytes_field(10, _string_field(1, source_writer))
    return out
