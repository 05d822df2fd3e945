"""Python operators on RaggedTensor: elementwise on flat_values, as TensorFlow's.

A RaggedTensor combines with a scalar (Python number or rank-0 Tensor) or with a RaggedTensor
of the same nested row partition; the result is a RaggedTensor with that partition.
"""

from __future__ import annotations

from dtf.errors import InvalidArgumentError
from dtf.ops import math_ops
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ragged.ragged_ops import map_flat_values
from dtf.ragged.ragged_tensor import RaggedTensor

_BINARY = {
    "add": math_ops.add,
    "sub": math_ops.subtract,
    "mul": math_ops.multiply,
    "truediv": math_ops.truediv,
    "floordiv": math_ops.floordiv,
    "mod": math_ops.floormod,
    "pow": math_ops.pow,
    "lt": math_ops.less,
    "le": math_ops.less_equal,
    "gt": math_ops.greater,
    "ge": math_ops.greater_equal,
    "eq": math_ops.equal,
    "ne": math_ops.not_equal,
    "and": math_ops.logical_and,
    "or": math_ops.logical_or,
    "xor": math_ops.logical_xor,
}
_REFLECTED = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and", "or", "xor")


def _operand(rt, other, name):
    if isinstance(other, RaggedTensor):
        return other
    if isinstance(other, (bool, int, float, complex)):
        return other  # the dense op gives a Python scalar the tensor's dtype
    tensor = convert_to_tensor(other)
    if tensor.shape.rank != 0:
        raise InvalidArgumentError(
            f"RaggedTensor {name}: the other operand must be a scalar or a RaggedTensor with "
            f"the same row lengths, got a dense tensor of shape {tensor.shape}. Convert it "
            "with dtf.RaggedTensor.from_tensor(x, lengths=rt.row_lengths()) first.")
    return tensor


def _binary(name, fn):
    def forward(self, other):
        return map_flat_values(fn, self, _operand(self, other, name))

    def reflected(self, other):
        return map_flat_values(fn, _operand(self, other, name), self)

    return forward, reflected


def install():
    """Puts the operators on RaggedTensor (called once by `dtf.ragged`)."""
    for name, fn in _BINARY.items():
        forward, reflected = _binary(name, fn)
        setattr(RaggedTensor, f"__{name}__", forward)
        if name in _REFLECTED:
            setattr(RaggedTensor, f"__r{name}__", reflected)
    RaggedTensor.__neg__ = lambda self: map_flat_values(math_ops.negative, self)
    RaggedTensor.__abs__ = lambda self: map_flat_values(math_ops.abs, self)
    RaggedTensor.__invert__ = lambda self: map_flat_values(math_ops.logical_not, self)
    RaggedTensor.__hash__ = lambda self: id(self)
