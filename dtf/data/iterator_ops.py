"""`next(iterator)` inside `dtf.function`: a stateful graph op that reads the next element of a
dataset iterator each time the compiled function runs, as TensorFlow's `IteratorGetNext`.

Without it, `next()` in a traced function would run once, at trace time, and every call would
see that first element. The iterator (a Python object) is an attribute of the node; the op's
outputs are the element's flattened components, with the dataset's element spec as their
shapes and dtypes. At the end of the data the op raises `OutOfRangeError`, as in TensorFlow.

Example:
    >>> it = iter(dtf.data.Dataset.range(3))
    >>> step = dtf.function(lambda it: next(it))
    >>> [int(step(it)) for _ in range(3)]
    [0, 1, 2]
"""

from __future__ import annotations

from dtf.errors import OutOfRangeError
from dtf.ops.registry import primitive, run

__all__ = ["get_next_in_graph"]


def _next_rule(*inputs, iterator):
    from dtf.ops.registry import Spec

    return [Spec(tuple(s.shape.as_list()) if s.shape.rank is not None else None, s.dtype)
            for s in _flat_specs(iterator)]


def _flat_specs(iterator):
    from dtf.data import structure

    return structure.flatten(iterator.element_spec)


@primitive("iterator_get_next", host_only=True, shape=_next_rule, num_outputs=None,
           differentiable=False, stateful=True)
def iterator_get_next(xp, *inputs, iterator):
    """The next element's flat components (raises `OutOfRangeError` at the end)."""
    try:
        flat = next(iterator._flat)
    except StopIteration:
        raise OutOfRangeError("End of sequence") from None
    return tuple(flat)


def get_next_in_graph(iterator):
    """The element `next(iterator)` gives, as graph tensors of the function being traced."""
    from dtf.data import structure

    outputs = run(iterator_get_next, (), iterator=iterator)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    return structure.make_packer(iterator.element_spec, lambda t: t)(outputs)
