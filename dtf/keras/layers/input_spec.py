"""`InputSpec`: what a layer accepts (rank, dims, dtype), checked on every call.

Example:
    >>> spec = InputSpec(min_ndim=2, axes={-1: 784})
    >>> assert_input_compatibility(spec, dtf.ones((2, 16)), "dense")
    Traceback (most recent call last):
    ValueError: Input 0 of layer "dense" is incompatible with the layer: expected axis -1 of ...
"""

from __future__ import annotations

from dtf import dtypes, nest

__all__ = ["InputSpec", "assert_input_compatibility"]


class InputSpec:
    """The rank, dims and dtype a layer's input must have (`keras.layers.InputSpec`).

    Args:
        dtype: the expected dtype, or None for any.
        shape: the expected shape (None for any dim), or None.
        ndim, max_ndim, min_ndim: rank constraints.
        axes: `{axis: size}` for dims that must have a given size.
        allow_last_axis_squeeze: accept inputs whose last axis of size 1 is missing or extra.
        name: the input's name (for dict inputs).
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = None if dtype is None else dtypes.as_dtype(dtype).name
        self.shape = None if shape is None else tuple(shape)
        self.ndim = len(self.shape) if shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.name = name
        self.optional = optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        self.axes = {int(k): v for k, v in (axes or {}).items()}
        self._fast = None
        if self.axes and (self.ndim is not None or self.max_ndim is not None):
            max_dim = (self.ndim if self.ndim is not None else self.max_ndim) - 1
            if max(self.axes) > max_dim:
                raise ValueError(f"Axis {max(self.axes)} is greater than the maximum allowed "
                                 f"value: {max_dim}")

    def accepts(self, shape: tuple) -> bool:
        """A quick yes for the common case (an array's shape tuple that fits rank and axis
        constraints); False means "check fully", which raises with the reason if it does not
        fit."""
        fast = self._fast
        if fast is None:
            if self.dtype is not None or self.shape is not None or self.allow_last_axis_squeeze:
                fast = self._fast = False
            else:
                fast = self._fast = (self.ndim, self.min_ndim, self.max_ndim,
                                     tuple((a, v) for a, v in self.axes.items() if v is not None))
        if fast is False:
            return False
        ndim, min_ndim, max_ndim, axes = fast
        rank = len(shape)
        if (ndim is not None and rank != ndim) or (min_ndim is not None and rank < min_ndim) \
                or (max_ndim is not None and rank > max_ndim):
            return False
        for axis, value in axes:
            if not -rank <= axis < rank or shape[axis] != value:
                return False
        return True

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        if name != "_fast":
            object.__setattr__(self, "_fast", None)

    def __repr__(self):
        parts = [f"dtype={self.dtype}" if self.dtype else "",
                 f"shape={self.shape}" if self.shape else "",
                 f"ndim={self.ndim}" if self.ndim is not None else "",
                 f"max_ndim={self.max_ndim}" if self.max_ndim is not None else "",
                 f"min_ndim={self.min_ndim}" if self.min_ndim is not None else "",
                 f"axes={self.axes}" if self.axes else ""]
        return f"InputSpec({', '.join(p for p in parts if p)})"

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _shape_of(x):
    shape = getattr(x, "shape", None)
    if shape is None:
        return None
    dims = shape.dims if hasattr(shape, "dims") else list(shape)
    return None if dims is None else tuple(dims)


def assert_input_compatibility(input_spec, inputs, layer_name):
    """Raises ValueError (naming the layer, the expectation and the shape received) when
    `inputs` do not fit `input_spec` (one spec, or a list of one per input)."""
    if not input_spec:
        return
    specs = nest.flatten(input_spec)
    flat = nest.flatten(inputs)
    if len(flat) != len(specs):
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it received '
                         f"{len(flat)} input tensors. Inputs received: {flat}")
    for index, (x, spec) in enumerate(zip(flat, specs)):
        if spec is None:
            continue
        shape = _shape_of(x)
        head = f'Input {index} of layer "{layer_name}" is incompatible with the layer: '
        if shape is None:
            if spec.ndim is not None or spec.min_ndim is not None or spec.axes:
                raise ValueError(f"{head}its rank is undefined, but the layer requires a "
                                 "defined rank.")
            continue
        rank = len(shape)
        if spec.ndim is not None and not spec.allow_last_axis_squeeze and rank != spec.ndim:
            raise ValueError(f"{head}expected ndim={spec.ndim}, found ndim={rank}. Full shape "
                             f"received: {_text(shape)}")
        if spec.max_ndim is not None and rank > spec.max_ndim:
            raise ValueError(f"{head}expected max_ndim={spec.max_ndim}, found ndim={rank}. "
                             f"Full shape received: {_text(shape)}")
        if spec.min_ndim is not None and rank < spec.min_ndim:
            raise ValueError(f"{head}expected min_ndim={spec.min_ndim}, found ndim={rank}. "
                             f"Full shape received: {_text(shape)}")
        if spec.dtype is not None:
            dtype = getattr(x, "dtype", None)
            name = getattr(dtype, "name", dtype)
            if name != spec.dtype:
                raise ValueError(f"{head}expected dtype={spec.dtype}, found dtype={name}. "
                                 f"Full shape received: {_text(shape)}")
        for axis, value in spec.axes.items():
            if value is None or not -rank <= axis < rank:
                continue
            if shape[axis] not in (value, None):
                raise ValueError(
                    f"{head}expected axis {axis} of input shape to have value {value}, but "
                    f"received input with shape {_text(shape)}")
        if spec.shape is not None:
            expected = spec.shape
            got = shape
            if spec.allow_last_axis_squeeze:
                expected = expected[:-1] if expected and expected[-1] == 1 else expected
                got = got[:-1] if got and got[-1] == 1 else got
            if len(expected) == len(got):
                for e, g in zip(expected, got):
                    if e is not None and g is not None and e != g:
                        raise ValueError(f"{head}expected shape={_text(spec.shape)}, found "
                                         f"shape={_text(shape)}")


def _text(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"
