"""Transposed, depthwise and separable convolutions: the public functions of `dtf.nn` built
on the `conv` primitives of conv_ops (re-exported there), with TensorFlow's argument checks.
A transposed convolution's `output_shape` may hold values known only when a traced graph runs
(`dtf.shape(x)[0]` for the batch); a depthwise filter's dims may be unknown until then.
"""

from __future__ import annotations

import numpy as np

from dtf.errors import InvalidArgumentError
from dtf.ops.array_ops import reshape
from dtf.ops.array_utils import _dims, _tensor
from dtf.ops.conv_ops import (
    _check_specs,
    _conv,
    _conv_backprop_input,
    _operands,
    channels_first,
    conv2d,
    padding_arg,
    resolve,
    spatial_arg,
    to_channels_first,
    to_channels_last,
)
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.dynamic_shapes import fully_known, shape_arg, shape_of
from dtf.ops.registry import run
from dtf.tensor import Tensor

__all__ = ["conv1d_transpose", "conv2d_transpose", "conv3d_transpose", "conv_transpose",
           "depthwise_conv2d", "separable_conv2d"]


# -- transposed convolutions --------------------------------------------------------------------
def _output_shape_arg(output_shape, rank, op):
    """(dims, runtime vector or None): `output_shape` may hold values known only when a traced
    graph runs (`dtf.shape(x)[0]` for the batch)."""
    if getattr(output_shape, "_is_symbolic", False) or (
            isinstance(output_shape, (list, tuple)) and
            any(getattr(d, "_is_symbolic", False) for d in output_shape)):
        dims, runtime = shape_arg(output_shape, op)
        if dims is None or len(dims) != rank + 2:
            raise ValueError(f"{op}: output_shape must have length {rank + 2} (batch, {rank} "
                             f"spatial dims, channels), got {output_shape!r}.")
        return list(dims), runtime
    return _static_output_shape(output_shape, rank, op), None


def _static_output_shape(output_shape, rank, op):
    if isinstance(output_shape, Tensor) or getattr(output_shape, "_is_dtf_variable", False):
        output_shape = np.asarray(output_shape.numpy()).tolist()
    if hasattr(output_shape, "as_list"):
        output_shape = output_shape.as_list()
    try:
        dims = [None if d is None else int(d) for d in output_shape]
    except (TypeError, ValueError):
        raise TypeError(f"{op}: output_shape must be a list of {rank + 2} ints (or a 1-D int "
                        f"tensor), got {output_shape!r}.") from None
    if len(dims) != rank + 2:
        raise ValueError(f"{op}: output_shape must have length {rank + 2} (batch, {rank} "
                         f"spatial dims, channels), got {dims}.")
    return dims


def conv_transpose(input, filters, output_shape, strides, padding="SAME", data_format=None,
                   dilations=None, name=None):
    """The transpose (gradient) of `convolution`: maps `input` (batch, *spatial, in_channels)
    to `output_shape` with `filters` (*kernel, out_channels, in_channels).

    `output_shape` must be a shape whose convolution by `filters` with these strides and
    padding gives `input`'s spatial shape (with strides > 1 several do: it picks one).

    Example:
        >>> y = dtf.nn.conv_transpose(dtf.ones((1, 3, 3, 2)), dtf.ones((3, 3, 4, 2)),
        ...                           [1, 6, 6, 4], strides=2)
        >>> y.shape
        TensorShape([1, 6, 6, 4])
    """
    w_dims = _dims(_tensor(filters))
    if w_dims is None:
        raise ValueError("conv_transpose: the filters' rank must be known.")
    return _conv_transpose_nd("conv_transpose", input, filters, output_shape, len(w_dims) - 2,
                              strides, padding, data_format, dilations)


def _conv_transpose_nd(op, input, filters, output_shape, rank, strides, padding, data_format,
                       dilations):
    x, w = _operands(op, input, filters)
    first = channels_first(data_format, rank, op)
    strides = spatial_arg(strides, rank, op, "strides", first)
    dilations = spatial_arg(dilations, rank, op, "dilations", first)
    padding = padding_arg(padding, rank, op, first)
    out_dims, runtime = _output_shape_arg(output_shape, rank, op)
    if first:
        x = to_channels_last(x, rank)
        out_dims = [out_dims[0]] + out_dims[2:] + [out_dims[1]]
        if runtime is not None:
            from dtf.ops.indexing_ops import gather

            runtime = gather(runtime, np.array([0] + list(range(2, rank + 2)) + [1]))
    xs, ws = _dims(x), _dims(w)
    if x.dtype != w.dtype:
        _check_specs(op, xs, ws, x.dtype, w.dtype, rank)
    for what, dims in (("input", xs), ("filters", ws)):
        if dims is not None and len(dims) != rank + 2:
            raise InvalidArgumentError(f"{op}: {what} must have rank {rank + 2}, got shape "
                                       f"{list(dims)}.")
    if ws is not None:
        if xs is not None and None not in (xs[-1], ws[-1]) and xs[-1] != ws[-1]:
            raise InvalidArgumentError(
                f"{op}: input depth {xs[-1]} does not match the filters' in-channel dim (their "
                f"last) {ws[-1]} (input shape {list(xs)}, filters shape {list(ws)}; transposed "
                "filters are (*kernel, out_channels, in_channels)).")
        if None not in (out_dims[-1], ws[-2]) and out_dims[-1] != ws[-2]:
            raise InvalidArgumentError(
                f"{op}: output_shape's depth {out_dims[-1]} does not match the filters' "
                f"out-channel dim (second to last) {ws[-2]} (filters shape {list(ws)}).")
    if xs is not None and None not in (xs[0], out_dims[0]) and xs[0] != out_dims[0]:
        raise InvalidArgumentError(f"{op}: output_shape's batch {out_dims[0]} differs from the "
                                   f"input's {xs[0]} (input shape {list(xs)}).")
    input_shape = tuple(out_dims[1:])
    if xs is not None and ws is not None and None not in input_shape:
        outs, _ = resolve(op, input_shape[:-1], ws[:rank], strides, dilations, padding)
        if any(a is not None and a != b for a, b in zip(xs[1:-1], outs)):
            raise InvalidArgumentError(
                f"{op}: output_shape {out_dims} is not compatible with the input's spatial "
                f"shape {list(xs[1:-1])}: a convolution of that shape with these filters "
                f"{list(ws)}, strides {list(strides)} and padding {padding} gives {list(outs)}.")
    extra = () if runtime is None else (runtime,)
    y = run(_conv_backprop_input, (x, w) + extra, input_shape=input_shape, strides=strides,
            padding=padding, dilations=dilations)
    return to_channels_first(y, rank) if first else y


def conv1d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NWC",
                     dilations=None, name=None):
    """The transpose of `conv1d`; `filters` is (width, out_channels, in_channels)."""
    return _conv_transpose_nd("conv1d_transpose", input, filters, output_shape, 1, strides,
                              padding, data_format, dilations)


def conv2d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NHWC",
                     dilations=None, name=None):
    """The transpose of `conv2d` (sometimes called deconvolution); `filters` is (height, width,
    out_channels, in_channels) and `output_shape` the (batch, height, width, out_channels) to
    produce.

    Example:
        >>> y = dtf.nn.conv2d_transpose(dtf.ones((1, 2, 2, 1)), dtf.ones((2, 2, 1, 1)),
        ...                             [1, 4, 4, 1], strides=2, padding="VALID")
        >>> y.numpy()[0, :, :, 0]
        array([[1., 1., 1., 1.],
               [1., 1., 1., 1.],
               [1., 1., 1., 1.],
               [1., 1., 1., 1.]], dtype=float32)
    """
    return _conv_transpose_nd("conv2d_transpose", input, filters, output_shape, 2, strides,
                              padding, data_format, dilations)


def conv3d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NDHWC",
                     dilations=None, name=None):
    """The transpose of `conv3d`; `filters` is (depth, height, width, out_channels,
    in_channels)."""
    return _conv_transpose_nd("conv3d_transpose", input, filters, output_shape, 3, strides,
                              padding, data_format, dilations)


# -- depthwise and separable ------------------------------------------------------------------
def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None,
                     name=None):
    """Convolves each input channel with its own `channel_multiplier` filters: `filter` is
    (height, width, in_channels, channel_multiplier) and the output has in_channels *
    channel_multiplier channels, channel `c * channel_multiplier + m` from input channel c.

    Args:
        strides: 4 ints (1, stride_h, stride_w, 1), or 1 or 2 ints.
        padding: "SAME", "VALID" or explicit pairs as `conv2d`.
        dilations: 1 or 2 ints (the atrous rate).

    Example:
        >>> dtf.nn.depthwise_conv2d(dtf.ones((1, 5, 5, 3)), dtf.ones((3, 3, 3, 2)),
        ...                         strides=[1, 1, 1, 1], padding="SAME").shape
        TensorShape([1, 5, 5, 6])
    """
    op = "depthwise_conv2d"
    x, w = _operands(op, input, filter)
    first = channels_first(data_format, 2, op)
    strides = spatial_arg(strides, 2, op, "strides", first)
    dilations = spatial_arg(dilations, 2, op, "dilations", first)
    padding = padding_arg(padding, 2, op, first)
    if first:
        x = to_channels_last(x, 2)
    xs, ws = _dims(x), _dims(w)
    if x.dtype != w.dtype:
        _check_specs(op, xs, ws, x.dtype, w.dtype, 2)
    if ws is None or len(ws) != 4:
        raise InvalidArgumentError(f"{op}: filter must be a rank-4 tensor (height, width, "
                                   f"in_channels, channel_multiplier), got shape {ws}.")
    if xs is not None and len(xs) != 4:
        raise InvalidArgumentError(f"{op}: input must be a rank-4 tensor (batch, height, width,"
                                   f" channels), got shape {list(xs)}.")
    if xs is not None and None not in (xs[-1], ws[2]) and xs[-1] != ws[2]:
        raise InvalidArgumentError(
            f"{op}: input depth {xs[-1]} must equal the filter's in_channels {ws[2]} (input "
            f"shape {list(xs)}, filter shape {list(ws)}).")
    if fully_known(ws):
        kernel = reshape(w, (ws[0], ws[1], 1, ws[2] * ws[3]))
    else:  # one group per input channel: (height, width, 1, in_channels * multiplier)
        from dtf.ops.array_ops import concat

        kernel = reshape(w, concat([shape_of(w)[:2], convert_to_tensor(
            np.array([1, -1], np.int32))], 0))
    if xs is not None:
        resolve(op, xs[1:-1], ws[:2], strides, dilations, padding)
    y = run(_conv, (x, kernel), strides=strides, padding=padding, dilations=dilations)
    return to_channels_first(y, 2) if first else y


def separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding,
                     data_format=None, dilations=None, name=None):
    """A depthwise convolution followed by a 1x1 (pointwise) convolution mixing channels:
    `depthwise_filter` is (height, width, in_channels, channel_multiplier), `pointwise_filter`
    (1, 1, in_channels * channel_multiplier, out_channels).

    Example:
        >>> dtf.nn.separable_conv2d(dtf.ones((1, 5, 5, 3)), dtf.ones((3, 3, 3, 2)),
        ...                         dtf.ones((1, 1, 6, 4)), [1, 1, 1, 1], "VALID").shape
        TensorShape([1, 3, 3, 4])
    """
    op = "separable_conv2d"
    ps = _dims(_tensor(pointwise_filter)) if not isinstance(pointwise_filter, np.ndarray) \
        else pointwise_filter.shape
    if ps is not None and (len(ps) != 4 or ps[0] not in (1, None) or ps[1] not in (1, None)):
        raise InvalidArgumentError(f"{op}: pointwise_filter must have shape (1, 1, "
                                   f"in_channels * channel_multiplier, out_channels), got "
                                   f"{list(ps)}.")
    depthwise = depthwise_conv2d(input, depthwise_filter, strides, padding, data_format,
                                 dilations)
    return conv2d(depthwise, pointwise_filter, 1, "VALID", data_format=data_format or "NHWC")
