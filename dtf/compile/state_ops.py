"""Graph ops that change state: Variable assignments, optimizer steps, printing.

Inside a traced function these run where the program put them, every time the graph runs; the
Variables they write sit in their attributes, so that graph passes order reads around them
(`Graph.eliminate_common_subexpressions` versions a Variable by the stateful nodes naming it).

- `assign_variable(value, variable=, op=)`: `variable.assign(value)` (`op="assign"`),
  `assign_add` (`"add"`) or `assign_sub` (`"sub"`), or the first-run-only `"initialize"` of a
  Variable created in the function from its inputs; its output is the new value.
- `optimizer_apply(*gradients, optimizer=, variables=)`: one `apply_gradients` call of a Keras
  optimizer on arrays (`optimizer._apply_arrays`: clipping, weight decay, the update rule of
  `keras/optimizers/updates.py`, moving averages, constraints, `iterations += 1`), the way a
  fused kernel such as TensorFlow's `ResourceApplyAdam` runs a whole update as one op. On the
  GPU the optimizer computes its step-dependent scalars from the device `iterations`
  (`keras/optimizers/device_step.py`), so the node never waits for the device and a CUDA
  graph capturing it replays each step's own bias correction and learning rate.
- `print(*values, template=, stream=)`: `dtf.print`.

Example:
    >>> v = dtf.Variable(1.0)
    >>> f = dtf.function(lambda: v.assign_add(2.0))
    >>> float(f()), float(f())
    (3.0, 5.0)
"""

from __future__ import annotations

import sys

import numpy as np

from dtf import dtypes
from dtf.ops.registry import Spec, primitive
from dtf.tensor import Tensor

__all__ = ["assign_variable", "optimizer_apply", "print_values", "tf_print"]

_ASSIGN_OPS = ("assign", "add", "sub", "initialize")


def _assign_rule(value, variable, op):
    if op not in _ASSIGN_OPS:
        raise ValueError(f"op must be one of {_ASSIGN_OPS}, got {op!r}")
    if value.dtype != variable.dtype:
        raise TypeError(f"cannot {op} a {value.dtype.name} value to variable "
                        f"'{variable.name}' of dtype {variable.dtype.name}")
    var_dims = variable.shape.dims
    if value.shape is not None and var_dims is not None and (
            len(value.shape) != len(var_dims) or any(
                a is not None and b is not None and a != b for a, b in zip(value.shape, var_dims))):
        raise ValueError(f"cannot {op} a value of shape {list(value.shape)} to variable "
                             f"'{variable.name}' of shape {variable.shape}")
    return Spec(None if var_dims is None else tuple(var_dims), variable.dtype)


@primitive("assign_variable", shape=_assign_rule, differentiable=False, stateful=True)
def assign_variable(xp, value, variable, op):
    """Writes `value` into `variable` (or adds/subtracts it); returns the new array.
    `op="initialize"` writes only on the node's first run: the initial value of a Variable
    created in a traced function from the function's inputs (TensorFlow lifts such
    initializers the same way)."""
    if op == "initialize":
        if getattr(variable, "_initialized_in_graph", False):
            return variable._value
        variable._initialized_in_graph = True
        new = value
    elif op == "assign":
        new = value
    elif op == "add":
        new = variable._value + value
    else:
        new = variable._value - value
    if new.shape != variable._value.shape and not variable.shape.is_compatible_with(new.shape):
        raise ValueError(f"Cannot {op} to variable '{variable.name}': shape mismatch. The "
                         f"variable shape {variable.shape}, and the assigned value shape "
                         f"{tuple(new.shape)} are incompatible.")
    variable._value = new
    return new


def _optimizer_rule(*grads, optimizer, variables, writes):
    return Spec((), dtypes.int64)


@primitive("optimizer_apply", shape=_optimizer_rule, num_outputs=1, differentiable=False,
           stateful=True)
def optimizer_apply(xp, *grads, optimizer, variables, writes):
    """One `optimizer.apply_gradients` on arrays; returns the new `iterations` (a device array
    when it lives on the GPU: no host copy). `writes`: every Variable the step changes (slots,
    `iterations`), for the graph passes and the CUDA graph's write-back."""
    optimizer._apply_arrays(list(grads), list(variables))
    return xp.asarray(optimizer._iterations._value, dtype=xp.int64)


def _print_rule(*values, template, stream, end, summarize):
    return Spec((), dtypes.bool)


@primitive("print", host_only=True, shape=_print_rule, differentiable=False, stateful=True)
def print_values(xp, *values, template, stream, end, summarize):
    """`dtf.print`: `template` has one `{}` per value; `stream` is "stdout" or "stderr"."""
    texts = [_text(v, summarize) for v in values]
    text = template.format(*texts)
    if stream.startswith("file://"):
        with open(stream[len("file://"):], "a", encoding="utf-8") as f:
            print(text, end=end, file=f)
    else:
        print(text, end=end, file=sys.stdout if stream == "stdout" else sys.stderr)
    return np.asarray(True)


def _text(value, summarize):
    """An array as `tf.print` shows it: the values only, numbers unpadded, strings quoted,
    `summarize` items at each end of long dimensions (-1: all)."""
    from dtf.ops.string_ops import summarize as summarize_array

    if type(value) is not np.ndarray:  # a device array, or a NumPy scalar
        value = Tensor(value).numpy() if not isinstance(value, np.generic) else np.asarray(value)
    n = 3 if summarize is None else (-1 if summarize < 0 else summarize)
    return summarize_array(value, n)


def tf_print(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None):
    """Prints tensors (and Python values) when it runs: every call of a traced function, not
    once per trace as Python's `print` (TensorFlow's `tf.print`).

    Args:
        *inputs: tensors and Python values, joined by `sep`.
        output_stream: `sys.stderr` (the default, as TensorFlow), `sys.stdout`, or a
            `"file://path"` to append to.
        summarize: items shown at each end of long dimensions (-1: all).

    Example:
        >>> dtf.print("x:", dtf.constant([1, 2]), output_stream=sys.stdout)
        x: [1 2]
    """
    from dtf.ops import registry

    if output_stream is None:
        output_stream = sys.stderr
    if isinstance(output_stream, str):
        stream = output_stream if output_stream.startswith("file://") else {
            "stdout": "stdout", "stderr": "stderr"}.get(output_stream.split(".")[-1], None)
    else:
        stream = "stdout" if output_stream is sys.stdout else \
            "stderr" if output_stream is sys.stderr else None
    if stream is None:
        raise ValueError(f"dtf.print: output_stream must be sys.stdout, sys.stderr or a "
                         f"'file://path' string, got {output_stream!r}.")
    parts, tensors = [], []
    for x in inputs:
        if isinstance(x, (str, int, float, bool)) or x is None:
            parts.append(str(x).replace("{", "{{").replace("}", "}}"))
        else:
            if getattr(x, "_is_dtf_variable", False) and not registry.is_tracing():
                x = x.read_value()
            if not (isinstance(x, Tensor) or getattr(x, "_is_symbolic", False)
                    or getattr(x, "_is_dtf_variable", False)):
                from dtf.ops.creation_ops import convert_to_tensor

                x = convert_to_tensor(x)
            parts.append("{}")
            tensors.append(x)
    return registry.run(print_values, tuple(tensors), template=sep.join(parts), stream=stream,
                        end=end, summarize=summarize)
