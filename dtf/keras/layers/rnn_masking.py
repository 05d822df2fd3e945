"""Keras masks carried from layer to layer, for the layers of this package that make or use
them (Embedding with `mask_zero`, the recurrent layers and their wrappers, merging, attention,
normalization).

Keras attaches the mask a layer computes (`compute_mask`) to its output tensor, and the next
layer whose `call` takes `mask=` receives it without being told. dtf Tensors have no slot for
it yet, so `MaskPropagation.__call__` keeps the masks in a small table keyed by the output
tensor's identity (holding the tensor, so an id is never reused while its entry lives). When
Tensors gain a `_keras_mask` slot (see the proposed change to `layer.py`), `set_mask` writes
it there and the table stays empty.

Example:
    >>> emb = Embedding(10, 4, mask_zero=True)
    >>> x = emb(dtf.constant([[1, 2, 0]]))
    >>> get_mask(x).numpy()
    array([[ True,  True, False]])
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from dtf import nest

__all__ = ["MaskPropagation", "get_mask", "set_mask"]

# Masks live as long as the tensors they describe are likely to be passed on: the most recent
# outputs of mask-producing layers.
_TABLE_LIMIT = 512
_table: OrderedDict = OrderedDict()


def get_mask(tensor):
    """The Keras mask attached to `tensor`, or None."""
    mask = getattr(tensor, "_keras_mask", None)
    if mask is not None:
        return mask
    entry = _table.get(id(tensor))
    if entry is not None and entry[0] is tensor:
        return entry[1]
    return None


def set_mask(tensor, mask):
    """Attaches `mask` (or None, to clear it) to `tensor`."""
    try:
        tensor._keras_mask = mask
        return
    except AttributeError:
        pass
    key = id(tensor)
    if mask is None:
        entry = _table.get(key)
        if entry is not None and entry[0] is tensor:
            del _table[key]
        return
    _table[key] = (tensor, mask)
    _table.move_to_end(key)
    while len(_table) > _TABLE_LIMIT:
        _table.popitem(last=False)


def _input_masks(inputs):
    if isinstance(inputs, (list, tuple)):
        masks = [get_mask(x) for x in inputs]
        return None if all(m is None for m in masks) else masks
    return get_mask(inputs)


def _as_tensors(mask):
    """Masks given as NumPy arrays or lists (of bools) become Tensors."""
    if mask is None or hasattr(mask, "dtype") and hasattr(mask, "shape") and \
            not isinstance(mask, np.ndarray):
        return mask
    if isinstance(mask, (list, tuple)) and any(m is None or hasattr(m, "shape")
                                               for m in mask):
        return type(mask)(_as_tensors(m) for m in mask)
    from dtf.ops.creation_ops import convert_to_tensor

    return convert_to_tensor(mask)


class MaskPropagation:
    """Mixin (first base, before Layer): hands a layer the masks attached to its inputs and
    attaches its `compute_mask` result to its outputs."""

    def __call__(self, *args, **kwargs):
        inputs = args[0] if args else kwargs.get("inputs")
        if "mask" in kwargs:
            mask = kwargs["mask"] = _as_tensors(kwargs["mask"])
        else:
            mask = _input_masks(inputs)
            if mask is not None and self._call_has_mask:
                kwargs["mask"] = mask
        outputs = super().__call__(*args, **kwargs)
        if mask is None and not self._makes_masks:
            return outputs
        out_mask = self.compute_mask(inputs, mask)
        flat_outputs = nest.flatten(outputs)
        if isinstance(out_mask, (list, tuple)):
            for out, m in zip(flat_outputs, out_mask):
                set_mask(out, m)
        elif flat_outputs:
            set_mask(flat_outputs[0], out_mask)
        return outputs

    # Layers whose masks come from their inputs' values, not from input masks (Embedding).
    _makes_masks = False
