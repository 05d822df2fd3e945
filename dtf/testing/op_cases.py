"""The op test table: one `OpCase` per behaviour to check, for every op of the table.

Each case names a public dtf function, the inputs to call it with (NumPy arrays, or Python
values passed through as they are) and a NumPy reference. `tests/ops/test_op_table.py` runs every
case four ways:

1. forward: values, shape and dtype against the reference;
2. shape rules: every primitive the call ran is re-inferred from its input Specs (also with all
   dims unknown) and must agree with the eager result;
3. gradients (when `grad` is true): first and second order against central differences in
   float64, for the float inputs;
4. completeness: every registered primitive is run by at least one case.

Cases live in `dtf/testing/cases/<family>.py`, each defining `CASES = [OpCase(...), ...]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class OpCase:
    """One check of one op.

    Attributes:
        name: unique id shown by pytest, e.g. "add/broadcast".
        fn: calls dtf, e.g. `lambda x, y: dtf.add(x, y)`; gets the inputs converted to Tensors
            (arrays) or as given (other Python values).
        inputs: the arguments: NumPy arrays become `dtf.constant`s; anything else is passed as is.
        reference: NumPy function of the same inputs (arrays as arrays) giving the expected
            output (an array, or a tuple/list of arrays for several outputs). None to skip the
            forward check (random ops check properties in their own tests instead).
        grad: whether to gradient-check (first and second order) w.r.t. the float inputs.
        grad_inputs: indices of the inputs to differentiate (default: every float64 array).
        second_order: also check second-order gradients.
        atol, rtol: forward tolerances; grad_atol, grad_rtol for gradients.
        check_dtype: compare the result's dtype to the reference's.
    """

    name: str
    fn: Callable
    inputs: list
    reference: Callable | None = None
    grad: bool = True
    grad_inputs: tuple | None = None
    second_order: bool = True
    atol: float = 1e-6
    rtol: float = 1e-6
    grad_atol: float = 1e-5
    grad_rtol: float = 1e-4
    check_dtype: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self):
        return f"OpCase({self.name})"


def rand(*shape, dtype=np.float64, low=-1.0, high=1.0, seed=None):
    """A deterministic random array for test inputs (seeded by shape unless `seed` is given)."""
    rng = np.random.default_rng(seed if seed is not None else (hash(shape) & 0xFFFF))
    return rng.uniform(low, high, size=shape).astype(dtype)


def positive(*shape, dtype=np.float64, low=0.5, high=2.0, seed=None):
    """Like `rand`, in [low, high): inputs of log, sqrt, pow, division."""
    return rand(*shape, dtype=dtype, low=low, high=high, seed=seed)


def all_cases() -> list[OpCase]:
    """Every case of every family module in `dtf.testing.cases`."""
    import importlib
    import pkgutil

    from dtf.testing import cases

    out = []
    for mod in pkgutil.iter_modules(cases.__path__):
        module = importlib.import_module(f"dtf.testing.cases.{mod.name}")
        out.extend(module.CASES)
    names = [c.name for c in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"Duplicate op case names: {sorted(dup)}")
    return out
