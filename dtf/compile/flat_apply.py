"""One optimizer step over all variables at once, on flat arrays (a "multi-tensor apply").

The built-in optimizers' update rules (`keras/optimizers/updates.py`) are elementwise: Adam on
six variables is twelve NumPy calls per variable, seventy-two per step, each on a small array.
On the concatenation of the variables (and of their gradients and slots) the same twelve calls
compute the same numbers, once. A compiled training step whose optimizer node qualifies runs
`FlatStep` in its place:

- the gradients arrive in one flat buffer (the plan's gradient ops write into views of it);
- the variables' and slots' values are flat arrays from the previous step: each Variable holds
  a view of one (as long as nothing else assigned it since; otherwise they are gathered again);
- the optimizer's own scalars (learning rate, step, bias corrections, Nadam's momentum cache)
  are computed as its `_apply_arrays` computes them (`Optimizer._step_scalars`: on the host
  for NumPy arrays, from the device `iterations` for device arrays), once per step;
  `iterations` counts, in the memory it lives in.

An optimizer qualifies when it is one of the built-in classes (not a subclass) and uses nothing
that is not elementwise or not the same for every variable: no clipping, weight decay, moving
averages, gradient accumulation or loss scale, no variable constraints, one dtype. The options
are checked again on every call: a changed option sends the step back to `_apply_arrays`.

Example:
    >>> variables = [dtf.Variable(np.ones((2, 3), np.float32)), dtf.Variable(np.zeros(3, np.float32))]
    >>> optimizer = keras.optimizers.SGD(learning_rate=0.5)
    >>> optimizer.build(variables)
    >>> step = FlatStep.for_optimizer(optimizer, variables)  # None when it does not qualify
    >>> step.total, step.offsets
    (9, [0, 6])
    >>> int(step(np, np.ones(9, np.float32)))  # the gradients, flat; returns iterations
    1
    >>> variables[1].numpy()
    array([-0.5, -0.5, -0.5], dtype=float32)
"""

from __future__ import annotations

import numpy as np

__all__ = ["CHUNK_SIZE", "FlatStep"]

# Variables are packed into flat chunks of up to this many elements: past it, a call's overhead
# is small beside its work, and bigger chunks would only make bigger temporaries.
CHUNK_SIZE = 1 << 16


def _elementwise_classes():
    from dtf.keras import optimizers

    return (optimizers.SGD, optimizers.Adam, optimizers.RMSprop, optimizers.Adagrad,
            optimizers.Adadelta, optimizers.Nadam, optimizers.Adamax, optimizers.Ftrl)


def _plain(optimizer) -> bool:
    """No option that acts per variable or outside the update rule."""
    return not (optimizer.weight_decay or optimizer.clipnorm or optimizer.clipvalue
                or optimizer.global_clipnorm or optimizer.use_ema
                or optimizer.loss_scale_factor is not None
                or optimizer.gradient_accumulation_steps or optimizer._custom_update_step)


class FlatStep:
    """`optimizer._apply_arrays(grads, variables)` on flat arrays (see the module docstring).

    Small variables are packed together into chunks of at most `chunk_size` elements (a
    variable larger than that is a chunk of its own): the update rule runs once per chunk, so
    the calls saved are those on small arrays, where a call's overhead outweighs its work, and
    the update's temporaries never grow beyond the largest chunk.

    Attributes:
        shapes: the variables' shapes; `offsets[i]:offsets[i] + sizes[i]` is variable i's
            range in the flat gradient buffer.
        total: the flat gradient buffer's length.
        dtype: the NumPy dtype of every array.
        chunks: (start, end, variable indices) of each chunk, in order.
    """

    def __init__(self, optimizer, variables, slot_groups, chunk_size=CHUNK_SIZE):
        self.optimizer = optimizer
        self.variables = tuple(variables)
        self.slot_groups = slot_groups  # per slot kind: a tuple of Variables, or None
        self.shapes = [tuple(v._value.shape) for v in self.variables]
        self.sizes = [int(np.prod(s, dtype=np.int64)) for s in self.shapes]
        self.offsets = [int(o) for o in np.cumsum([0] + self.sizes[:-1])]
        self.total = int(sum(self.sizes))
        self.dtype = self.variables[0]._value.dtype
        self.chunks = []
        for i, (offset, size) in enumerate(zip(self.offsets, self.sizes)):
            last = self.chunks[-1] if self.chunks else None
            if last is not None and last[1] - last[0] + size <= chunk_size:
                self.chunks[-1] = (last[0], offset + size, last[2] + (i,))
            else:
                self.chunks.append((offset, offset + size, (i,)))
        # per variable: its slice of its chunk's arrays, and its shape when it needs a reshape
        self._layout = []
        for start, _, members in self.chunks:
            for i in members:
                o = self.offsets[i] - start
                shape = self.shapes[i]
                self._layout.append((slice(o, o + self.sizes[i]),
                                     None if len(shape) == 1 else shape))
        self._flats: dict = {}  # (group, chunk) -> (flat array, the views its Variables got)

    @classmethod
    def for_optimizer(cls, optimizer, variables, chunk_size=CHUNK_SIZE):
        """A FlatStep for this optimizer node, or None when the optimizer does not qualify."""
        variables = tuple(variables)
        if not variables or type(optimizer) not in _elementwise_classes() or \
                not optimizer.built or not _plain(optimizer):
            return None
        index = optimizer._index
        if any(id(v) not in index for v in variables):
            return None
        dtype = variables[0]._value.dtype
        for v in variables:
            value = v._value
            if type(value) is not np.ndarray or value.dtype != dtype or \
                    getattr(v, "constraint", None) is not None:
                return None
        slots = [optimizer._slot_table[index[id(v)]] for v in variables]
        kinds = {len(s) for s in slots}
        if len(kinds) != 1:
            return None
        groups = []
        for kind in range(kinds.pop()):
            group = tuple(s[kind] for s in slots)
            if all(g is None for g in group):
                groups.append(None)
                continue
            for slot, v in zip(group, variables):
                if slot is None or type(slot._value) is not np.ndarray or \
                        slot._value.dtype != dtype or slot._value.shape != v._value.shape:
                    return None
            groups.append(group)
        return cls(optimizer, variables, groups, chunk_size)

    # -- flat values ------------------------------------------------------------------------
    def _gather(self, xp, key, variables):
        """The flat array of a chunk's `variables`: last step's, if they still hold its
        views."""
        cached = self._flats.get(key)
        if cached is not None:
            flat, views = cached
            for variable, view in zip(variables, views):
                if variable._value is not view:
                    break
            else:
                return flat
        if len(variables) == 1:
            return variables[0]._value.reshape(-1)
        return xp.concatenate([v._value.reshape(-1) for v in variables])

    def _scatter(self, key, variables, layout, flat):
        """Each Variable gets its view of `flat` (never written again: the next step makes
        new arrays)."""
        views = []
        for variable, (part, shape) in zip(variables, layout):
            view = flat[part] if shape is None else flat[part].reshape(shape)
            variable._value = view
            views.append(view)
        self._flats[key] = (flat, views)

    def grad_views(self, flat_grad):
        """Per variable, its gradient as a view of `flat_grad`."""
        return [flat_grad[o:o + n].reshape(s) for o, n, s in
                zip(self.offsets, self.sizes, self.shapes)]

    # -- the step ------------------------------------------------------------------------------
    def __call__(self, xp, flat_grad):
        """One step with the gradients in `flat_grad`; returns `iterations` (as the
        optimizer_apply op does)."""
        optimizer = self.optimizer
        if not _plain(optimizer):  # an option changed since the plan was made
            optimizer._apply_arrays(self.grad_views(flat_grad), list(self.variables))
            return xp.asarray(optimizer._iterations._value, dtype=xp.int64)
        # what Optimizer._update and _apply_arrays do around the update rule, once
        optimizer._step_cache = {}
        # host scalars on NumPy; on the GPU device scalars from the device `iterations` (no
        # host synchronisation: the step stays capturable as a CUDA graph)
        lr, step = optimizer._step_scalars(
            np if xp is np else optimizer._step_module(self.variables))
        optimizer._prepare_step(step)
        dtype = self.dtype
        lr_v = lr if lr.dtype == dtype else optimizer._cast_rate(lr, dtype)
        update = optimizer._update_arrays
        variables, groups, layout = self.variables, self.slot_groups, self._layout
        for c, (start, end, members) in enumerate(self.chunks):
            first, stop = members[0], members[-1] + 1
            chunk_vars = variables[first:stop]
            value = self._gather(xp, (0, c), chunk_vars)
            slots = [None if group is None else self._gather(xp, (k + 1, c), group[first:stop])
                     for k, group in enumerate(groups)]
            new_value, new_slots = update(xp, value, flat_grad[start:end], slots, lr_v, step)
            parts = layout[first:stop]
            self._scatter((0, c), chunk_vars, parts, new_value)
            for k, (group, array) in enumerate(zip(groups, new_slots)):
                if group is not None:
                    self._scatter((k + 1, c), group[first:stop], parts, array)
        optimizer._iterations._value = optimizer._iterations._value + 1
        return xp.asarray(optimizer._iterations._value, dtype=xp.int64)
