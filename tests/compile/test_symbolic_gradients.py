"""Every differentiable op case of the op table, on symbolic inputs: a GradientTape over the
op builds the gradient graph, and running that graph gives the eager gradients.

Shapes are fully known here. With unknown dims, some forward wrappers and VJPs still read static
shapes (150 of the 334 cases when this was written); making them dynamic is part of the
dtf.function issue, which will extend this test to unknown dims.
"""

import numpy as np
import numpy.testing as npt
import pytest

import dtf
from dtf import nest
from dtf.compile.graph import Graph
from dtf.compile.symbolic import placeholder
from dtf.testing.op_cases import all_cases

CASES = [c for c in all_cases() if c.grad]


def _grad_indices(case):
    if case.grad_inputs is not None:
        return list(case.grad_inputs)
    return [i for i, a in enumerate(case.inputs)
            if isinstance(a, np.ndarray) and a.dtype == np.float64]


def _differentiable(result):
    return [o for o in nest.flatten(result)
            if o is not None and (o.dtype.is_floating or o.dtype.is_complex)]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gradient_graph_equals_eager_gradients(case):
    indices = _grad_indices(case)
    array_positions = [i for i, a in enumerate(case.inputs) if isinstance(a, np.ndarray)]
    symbols = {i: placeholder(case.inputs[i].shape, dtf.as_dtype(case.inputs[i].dtype))
               for i in array_positions}
    args = [symbols.get(i, a) for i, a in enumerate(case.inputs)]
    with dtf.GradientTape() as tape:
        tape.watch([symbols[i] for i in indices])
        outputs = _differentiable(case.fn(*args))
    grads = [g for g in tape.gradient(outputs, [symbols[i] for i in indices]) if g is not None]
    graph = Graph([symbols[i] for i in array_positions], grads)
    got = graph.run(*[dtf.constant(case.inputs[i]) for i in array_positions])

    constants = [dtf.constant(a) if isinstance(a, np.ndarray) else a for a in case.inputs]
    with dtf.GradientTape() as eager:
        eager.watch([constants[i] for i in indices])
        eager_outputs = _differentiable(case.fn(*constants))
    expected = [g for g in eager.gradient(eager_outputs, [constants[i] for i in indices])
                if g is not None]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        npt.assert_allclose(g.numpy(), e.numpy(), rtol=1e-6, atol=1e-9)
