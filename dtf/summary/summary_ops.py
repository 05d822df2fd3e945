"""`dtf.summary.scalar`, `histogram`, `image`, `text` and `write`: TensorFlow 2's summaries,
encoded as TensorFlow encodes them (a tensor plus the plugin that displays it)."""

from __future__ import annotations

import struct
import time
import zlib

import numpy as np

from dtf.summary import writer as _writer
from dtf.summary._proto import encode_event, encode_summary_value, encode_tensor

__all__ = ["histogram", "image", "scalar", "text", "write"]

DEFAULT_BUCKET_COUNT = 30


def _array(data):
    if hasattr(data, "numpy"):
        data = data.numpy()
    return np.asarray(data)


def _emit(tag, tensor_proto, plugin_name, step, description=None):
    """Writes one value to the default writer (the caller checked that it records: the
    `record_if` condition is called once per summary)."""
    step = _writer.resolve_step(step)
    value = encode_summary_value(tag, tensor_proto, plugin_name, description=description or "")
    _writer.default_writer().write_event(encode_event(time.time(), step, [value]))
    return True


def scalar(name, data, step=None, description=None):
    """Writes a scalar (as float32) for TensorBoard's Scalars dashboard.

    Args:
        name: the tag.
        data: a real number or a scalar tensor.
        step: the step; defaults to the writer's default step.
        description: a longer description (Markdown).

    Returns:
        True if written, False when there is no default writer or `record_if` says no.

    Example:
        >>> import dtf, tempfile
        >>> with dtf.summary.create_file_writer(tempfile.mkdtemp()).as_default():
        ...     dtf.summary.scalar("loss", 0.5, step=3)
        True
    """
    if not _writer.should_record_summaries():
        return False
    value = _array(data)
    if value.ndim != 0:
        raise ValueError(f"dtf.summary.scalar({name!r}): data must be a scalar; got shape "
                         f"{value.shape}. Reduce it first (dtf.reduce_mean) or use "
                         "dtf.summary.histogram.")
    if value.dtype.kind not in "biuf":
        raise TypeError(f"dtf.summary.scalar({name!r}): data must be a real number; got dtype "
                        f"{value.dtype}.")
    return _emit(name, encode_tensor(value.astype(np.float32)), "scalars", step, description)


def histogram_buckets(data, bucket_count=DEFAULT_BUCKET_COUNT):
    """`[bucket_count, 3]` rows of `[left_edge, right_edge, count]` over `data`'s values, as
    TensorBoard's histogram summary computes them."""
    data = _array(data).astype(np.float64).ravel()
    if bucket_count <= 0 or data.size == 0:
        return np.zeros((max(bucket_count, 0), 3))
    low, high = data.min(), data.max()
    if high == low:
        edges = np.full(bucket_count, high)
        counts = np.zeros(bucket_count)
        counts[-1] = data.size
        return np.stack([edges, edges, counts], axis=1)
    width = (high - low) / bucket_count
    indices = np.minimum(np.floor((data - low) / width).astype(np.int64), bucket_count - 1)
    counts = np.bincount(indices, minlength=bucket_count).astype(np.float64)
    edges = np.linspace(low, high, bucket_count + 1)
    edges[-1] = high
    return np.stack([edges[:-1], edges[1:], counts], axis=1)


def histogram(name, data, step=None, buckets=None, description=None):
    """Writes a histogram of `data`'s values (for the Histograms and Distributions
    dashboards).

    Args:
        name: the tag.
        data: a tensor of any shape, castable to float64.
        step: the step; defaults to the writer's default step.
        buckets: the number of buckets (30).
        description: a longer description (Markdown).

    Returns:
        True if written, False when nothing is recorded.

    Example:
        >>> import dtf, tempfile
        >>> with dtf.summary.create_file_writer(tempfile.mkdtemp()).as_default(step=0):
        ...     dtf.summary.histogram("weights", dtf.random.normal([100]))
        True
    """
    if not _writer.should_record_summaries():
        return False
    table = histogram_buckets(data, DEFAULT_BUCKET_COUNT if buckets is None else int(buckets))
    return _emit(name, encode_tensor(table), "histograms", step, description)


def _png(image):
    """A PNG of an `[h, w, c]` uint8 array (c = 1, 3 or 4), no filtering, zlib level 6."""
    height, width, channels = image.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, -1)], axis=1)

    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + chunk(b"IEND", b""))


def _to_uint8(images):
    if images.dtype == np.uint8:
        return images
    if images.dtype.kind == "f":
        # TensorFlow's convert_image_dtype: [0, 1] scaled by 255.5 and truncated, saturating
        return np.clip(images * 255.5, 0, 255).astype(np.uint8)
    if images.dtype.kind in "iu":
        return np.clip(images, 0, 255).astype(np.uint8)
    raise TypeError(f"Image summaries take float images in [0, 1] or uint8 ones; got dtype "
                    f"{images.dtype}.")


def image(name, data, step=None, max_outputs=3, description=None):
    """Writes up to `max_outputs` images from a `[k, h, w, c]` batch (c = 1, 3 or 4; floats in
    [0, 1] or uint8) for the Images dashboard.

    Returns:
        True if written, False when nothing is recorded.

    Example:
        >>> import dtf, numpy as np, tempfile
        >>> with dtf.summary.create_file_writer(tempfile.mkdtemp()).as_default(step=0):
        ...     dtf.summary.image("digits", np.zeros((2, 28, 28, 1), np.float32))
        True
    """
    if not _writer.should_record_summaries():
        return False
    images = _array(data)
    if images.ndim != 4 or images.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"dtf.summary.image({name!r}): data must be a [k, h, w, c] batch with "
                         f"c in 1, 2, 3 or 4; got shape {images.shape}.")
    images = _to_uint8(images[:max(int(max_outputs), 0)])
    height, width = images.shape[1], images.shape[2]
    values = [str(width).encode(), str(height).encode()] + [_png(img) for img in images]
    tensor = encode_tensor(np.array(values, dtype=object))
    return _emit(name, tensor, "images", step, description)


def text(name, data, step=None, description=None):
    """Writes text (a string or a tensor of strings; Markdown) for the Text dashboard.

    Returns:
        True if written, False when nothing is recorded.

    Example:
        >>> import dtf, tempfile
        >>> with dtf.summary.create_file_writer(tempfile.mkdtemp()).as_default(step=0):
        ...     dtf.summary.text("notes", "learning rate halved")
        True
    """
    if not _writer.should_record_summaries():
        return False
    values = _array(data)
    if values.dtype.kind not in "SUO":
        raise TypeError(f"dtf.summary.text({name!r}): data must be strings; got dtype "
                        f"{values.dtype}.")
    return _emit(name, encode_tensor(values.astype(object)), "text", step, description)


def write(tag, tensor, step=None, metadata=None, name=None):
    """Writes any tensor under `tag`; `metadata` names the plugin that displays it (a plugin
    name string, or a dict `{"plugin_name": ..., "description": ...}`).

    Returns:
        True if written, False when nothing is recorded.
    """
    if not _writer.should_record_summaries():
        return False
    if isinstance(metadata, dict):
        plugin, description = metadata.get("plugin_name", ""), metadata.get("description")
    else:
        plugin, description = metadata or "", None
    value = _array(tensor)
    if value.dtype.kind == "U":
        value = value.astype(object)
    return _emit(tag, encode_tensor(value), plugin, step, description)
