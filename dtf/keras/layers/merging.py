"""Merging layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot, and
their functional forms (`add([a, b])`, `concatenate([a, b], axis=1)`, ...).

Each takes a list of tensors. The elementwise ones broadcast (inputs of lower rank get axes
inserted after the batch axis, as Keras does); masks combine as Keras 3's.

Example:
    >>> a, b = dtf.ones((2, 3)), dtf.ones((2, 3))
    >>> keras.layers.Add()([a, b]).numpy()[0]
    array([2., 2., 2.], dtype=float32)
"""

from __future__ import annotations

import string

from dtf.keras.layers.layer import Layer
from dtf.keras.layers.rnn_masking import MaskPropagation
from dtf.ops import array_ops, creation_ops, linalg_ops, math_ops, reduce_ops

__all__ = ["Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract",
           "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply",
           "subtract"]


def _shape_text(shapes):
    return [tuple(s) if s is not None else None for s in shapes]


class Merge(MaskPropagation, Layer):
    """The base of the elementwise merging layers: subclasses define `_merge_function`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self._reshape_required = False

    def _check_list(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(  # noqa: TRY004 (Keras raises ValueError)
                f'Layer "{self.name}": a merge layer should be called on a list of '
                             f"inputs. Received: inputs={inputs!r} (not a list of tensors)")

    @staticmethod
    def _broadcast_shape(shape1, shape2):
        if shape1 is None or shape2 is None:
            return None
        if len(shape1) < len(shape2):
            shape1, shape2 = shape2, shape1
        if not shape2:
            return tuple(shape1)
        out = list(shape1[:-len(shape2)])
        for i, j in zip(shape1[-len(shape2):], shape2):
            if i is None or j is None:
                out.append(None)
            elif i == 1:
                out.append(j)
            elif j == 1 or i == j:
                out.append(i)
            else:
                raise ValueError(f"Inputs have incompatible shapes. Received shapes "
                                 f"{tuple(shape1)} and {tuple(shape2)}")
        return tuple(out)

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not all(isinstance(s, (list, tuple)) or hasattr(s, "as_list")
                        for s in input_shape):
            raise ValueError(
                f'Layer "{self.name}": a merge layer should be called on a list of '
                             f"inputs. Received: input_shape={input_shape} (not a list of "
                             "shapes)")
        shapes = [tuple(s) for s in input_shape]
        batch_sizes = {s[0] for s in shapes if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(f'Layer "{self.name}": cannot merge tensors with different batch '
                             f"sizes. Received tensors with shapes {_shape_text(shapes)}")
        out = shapes[0][1:]
        for s in shapes[1:]:
            out = self._broadcast_shape(out, s[1:])
        self._reshape_required = len({len(s) for s in shapes}) != 1
        self.built = True

    def call(self, inputs, mask=None):
        self._check_list(inputs)
        if self._reshape_required:
            max_rank = max(x.shape.rank for x in inputs)
            reshaped = []
            for x in inputs:
                for _ in range(max_rank - x.shape.rank):
                    x = array_ops.expand_dims(x, 1)
                reshaped.append(x)
            inputs = reshaped
        masks = list(mask) if isinstance(mask, (list, tuple)) else [None] * len(inputs)
        return self._merge_function(list(inputs), masks)

    def _merge_function(self, inputs, masks):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        out = shapes[0][1:]
        for s in shapes[1:]:
            out = self._broadcast_shape(out, s[1:])
        batch_sizes = {s[0] for s in shapes} - {None}
        return ((batch_sizes.pop() if len(batch_sizes) == 1 else None),) + tuple(out)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise ValueError(f'Layer "{self.name}": `mask` should be a list with one entry per '
                             f"input. Received: mask={mask!r}")
        if any(m is None for m in mask):
            return None
        out = mask[0]
        for m in mask[1:]:
            out = math_ops.logical_or(out, m)
        return out

    @staticmethod
    def _expanded(mask, x):
        return array_ops.broadcast_to(array_ops.expand_dims(mask, -1), array_ops.shape(x))

    def _masked_reduce(self, op, inputs, masks):
        """Keras' rule for Maximum/Minimum: a masked-out entry takes the other input's value."""
        output = output_mask = None
        for x, mask in zip(inputs, masks):
            if mask is not None:
                mask = self._expanded(mask, x)
            if output is None:
                output, output_mask = x, mask
                continue
            if mask is not None:
                x = math_ops.where(mask, x, output)
            if output_mask is not None:
                output = math_ops.where(output_mask, output, x)
            output_mask = math_ops.logical_or(output_mask, mask) if \
                mask is not None and output_mask is not None else None
            output = op(output, x)
        return output


class Add(Merge):
    """Sums a list of tensors of the same (broadcastable) shape.

    Example:
        >>> keras.layers.Add()([dtf.ones((2, 3)), dtf.ones((2, 3))]).shape
        TensorShape([2, 3])
    """

    def _merge_function(self, inputs, masks):
        output = inputs[0]
        for x in inputs[1:]:
            output = math_ops.add(output, x)
        return output


class Subtract(Merge):
    """`inputs[0] - inputs[1]` (exactly two inputs)."""

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f'Layer "{self.name}": a `Subtract` layer should be called on '
                             f"exactly 2 inputs. Received: input_shape={input_shape}")

    def _merge_function(self, inputs, masks):
        if len(inputs) != 2:
            raise ValueError(f'Layer "{self.name}": a `Subtract` layer should be called on '
                             f"exactly 2 inputs. Received {len(inputs)} inputs.")
        return math_ops.subtract(inputs[0], inputs[1])


class Multiply(Merge):
    """Elementwise product of a list of tensors (masked entries count as 1; where every input
    is masked the product is 0)."""

    def _merge_function(self, inputs, masks):
        has_output_mask = all(m is not None for m in masks)
        output = output_mask = None
        for x, mask in zip(inputs, masks):
            if mask is not None:
                mask = self._expanded(mask, x)
                x = math_ops.where(mask, x, creation_ops.ones_like(x))
                if has_output_mask:
                    output_mask = mask if output_mask is None else \
                        math_ops.logical_or(output_mask, mask)
            output = x if output is None else math_ops.multiply(output, x)
        if has_output_mask:
            output = math_ops.where(output_mask, output, creation_ops.zeros_like(output))
        return output


class Average(Merge):
    """Elementwise mean of a list of tensors."""

    def _merge_function(self, inputs, masks):
        output = inputs[0]
        for x in inputs[1:]:
            output = math_ops.add(output, x)
        return output / float(len(inputs))


class Maximum(Merge):
    """Elementwise maximum of a list of tensors."""

    def _merge_function(self, inputs, masks):
        return self._masked_reduce(math_ops.maximum, inputs, masks)


class Minimum(Merge):
    """Elementwise minimum of a list of tensors."""

    def _merge_function(self, inputs, masks):
        return self._masked_reduce(math_ops.minimum, inputs, masks)


class Concatenate(Merge):
    """Concatenates a list of tensors along `axis` (default -1); all other dims must match.

    Example:
        >>> keras.layers.Concatenate()([dtf.ones((2, 3)), dtf.zeros((2, 1))]).shape
        TensorShape([2, 4])
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not all(isinstance(s, (list, tuple)) or hasattr(s, "as_list")
                        for s in input_shape):
            raise ValueError(f'Layer "{self.name}": a `Concatenate` layer should be called on a '
                             f"list of at least 1 input. Received: input_shape={input_shape}")
        shapes = [list(s) for s in input_shape]
        ranks = {len(s) for s in shapes}
        message = (f'Layer "{self.name}": a `Concatenate` layer requires inputs with matching '
                   f"shapes except for the concatenation axis. Received: input_shape="
                   f"{_shape_text(shapes)}")
        if len(ranks) != 1:
            raise ValueError(message)
        rank = ranks.pop()
        axis = self.axis % rank
        for i in range(rank):
            if i == axis:
                continue
            dims = {s[i] for s in shapes} - {None}
            if len(dims) > 1:
                raise ValueError(message)
        self.built = True

    def call(self, inputs, mask=None):
        self._check_list(inputs)
        return array_ops.concat(list(inputs), axis=self.axis)

    def compute_output_shape(self, input_shape):
        shapes = [list(s) for s in input_shape]
        out = list(shapes[0])
        for s in shapes[1:]:
            if out[self.axis] is None or s[self.axis] is None:
                out[self.axis] = None
                break
            out[self.axis] += s[self.axis]
        return tuple(out)

    def compute_mask(self, inputs, mask=None):
        if mask is None or all(m is None for m in mask):
            return None
        masks = []
        for x, m in zip(inputs, mask):
            if m is None:
                masks.append(creation_ops.ones_like(x, dtype="bool"))
            elif m.shape.rank < x.shape.rank:
                masks.append(self._expanded(m, x))
            else:
                masks.append(m)
        return reduce_ops.reduce_any(array_ops.concat(masks, axis=self.axis), axis=-1)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


def batch_dot(x, y, axes):
    """Per-sample dot products: contracts axis `axes[0]` of `x` with axis `axes[1]` of `y`,
    batch axis 0 shared; the result is `x`'s other axes then `y`'s, at least (batch, 1)."""
    rx, ry = x.shape.rank, y.shape.rank
    letters = iter(string.ascii_letters)
    batch = next(letters)
    contracted = next(letters)
    x_sub = [batch] + [contracted if i == axes[0] else next(letters) for i in range(1, rx)]
    y_sub = [batch] + [contracted if i == axes[1] else next(letters) for i in range(1, ry)]
    out = [batch] + [c for c in x_sub[1:] if c != contracted] + \
        [c for c in y_sub[1:] if c != contracted]
    result = linalg_ops.einsum(f"{''.join(x_sub)},{''.join(y_sub)}->{''.join(out)}", x, y)
    if len(out) == 1:
        result = array_ops.expand_dims(result, 1)
    return result


class Dot(Merge):
    """Dot products between the samples of two tensors, along `axes`.

    Args:
        axes: an int (the same axis of both) or a pair (one per input).
        normalize: L2-normalize both inputs along the axes first (the result is then the
            cosine similarity).

    Example:
        >>> keras.layers.Dot(axes=1)([dtf.ones((2, 3)), dtf.ones((2, 3))]).numpy()
        array([[3.],
               [3.]], dtype=float32)
    """

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)):
                raise TypeError(f"Invalid type for argument `axes`: it should be a list or an "
                                f"int. Received: axes={axes}")
            if len(axes) != 2:
                raise ValueError(f"Invalid format for argument `axes`: it should contain two "
                                 f"elements. Received: axes={axes}")
            if not all(isinstance(a, int) for a in axes):
                raise ValueError(f"Invalid format for argument `axes`: list elements should be "
                                 f"integers. Received: axes={axes}")
            axes = list(axes)
        self.axes = axes
        self.normalize = bool(normalize)

    def _resolve_axes(self, ranks):
        if isinstance(self.axes, int):
            return [self.axes % r if self.axes < 0 else self.axes for r in ranks]
        return [a % r if a < 0 else a for a, r in zip(self.axes, ranks)]

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(f'Layer "{self.name}": a `Dot` layer should be called on a list of '
                             f"2 inputs. Received: input_shape={input_shape}")
        s1, s2 = tuple(input_shape[0]), tuple(input_shape[1])
        a1, a2 = self._resolve_axes([len(s1), len(s2)])
        if 0 in (a1, a2):
            raise ValueError(f'Layer "{self.name}": cannot take dot products over the batch '
                             f"axis 0 (axes={self.axes}).")
        if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
            raise ValueError(f"Incompatible input shapes: axis values {s1[a1]} (at axis {a1}) "
                             f"!= {s2[a2]} (at axis {a2}). Full input shapes: {s1}, {s2}")
        self.built = True

    def call(self, inputs, mask=None):
        self._check_list(inputs)
        if len(inputs) != 2:
            raise ValueError(f'Layer "{self.name}": a `Dot` layer should be called on exactly 2 '
                             f"inputs. Received {len(inputs)} inputs.")
        x1, x2 = inputs
        axes = self._resolve_axes([x1.shape.rank, x2.shape.rank])
        if self.normalize:
            x1 = _l2_normalize(x1, axes[0])
            x2 = _l2_normalize(x2, axes[1])
        return batch_dot(x1, x2, axes)

    def compute_output_shape(self, input_shape):
        s1, s2 = list(input_shape[0]), list(input_shape[1])
        a1, a2 = self._resolve_axes([len(s1), len(s2)])
        s1.pop(a1)
        s2.pop(a2)
        s2.pop(0)
        out = s1 + s2
        return tuple(out + [1] if len(out) == 1 else out)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update({"axes": self.axes, "normalize": self.normalize})
        return config


def _l2_normalize(x, axis):
    from dtf.ops import nn_ops

    return nn_ops.l2_normalize(x, axis=axis)


# -- functional forms -------------------------------------------------------------------------
def add(inputs, **kwargs):
    """`keras.layers.Add(**kwargs)(inputs)`."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """`keras.layers.Subtract(**kwargs)(inputs)`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """`keras.layers.Multiply(**kwargs)(inputs)`."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """`keras.layers.Average(**kwargs)(inputs)`."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """`keras.layers.Maximum(**kwargs)(inputs)`."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """`keras.layers.Minimum(**kwargs)(inputs)`."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """`keras.layers.Concatenate(axis=axis, **kwargs)(inputs)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """`keras.layers.Dot(axes, normalize, **kwargs)(inputs)`."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
