"""Fusion of a forward op with its gradient op when both are in one graph.

A traced training step computes a loss and, a few nodes later, the loss's gradient from the same
inputs. Run separately, the gradient recomputes what the forward pass had: for the mean sparse
cross-entropy from logits (`sparse_xent_reduce`, every step of the seeds' training loops) that
is the label check, the row maxima, the shifted logits and their exponentials: about ten NumPy
calls on every step. When a graph holds both nodes, on the same logits, labels and divisor, the
plan runs `xent_forward` (the loss, keeping the exponentials and the label rows) in place of the
forward node and `xent_backward` (from the kept arrays) in place of the gradient node. Both
compute exactly what the primitives compute, operation for operation, so the results are equal
bit for bit.

Example:
    >>> from dtf.keras.losses._fused import sparse_xent_reduce
    >>> logits, labels = placeholder((4, 3)), placeholder((4,), dtf.int64)
    >>> builder = context.GraphBuilder("loss")
    >>> with context.building(builder):
    ...     with dtf.GradientTape() as tape:
    ...         tape.watch(logits)
    ...         loss = sparse_xent_reduce(logits, labels, 4.0)
    ...     grad = tape.gradient(loss, logits)
    >>> graph = Graph([logits, labels], [loss, grad], nodes=builder.nodes)
    >>> [n.prim.name for n in graph.nodes]
    ['sparse_xent_reduce', 'ones_like', 'sparse_xent_reduce_grad']
    >>> sparse_xent_pairs(graph.nodes, graph._resolve)  # {forward index: gradient index}
    {0: 2}
"""

from __future__ import annotations

from dtf.keras.losses._fused import _rows

__all__ = ["sparse_xent_pairs", "xent_backward", "xent_forward"]


def _is_symbolic(x):
    return getattr(x, "_is_symbolic", False)


def _stable(x):
    """An input whose value cannot change between two nodes: a symbolic value or a constant
    (a Variable could be assigned in between)."""
    return not getattr(x, "_is_dtf_variable", False)


def sparse_xent_pairs(nodes, resolve) -> dict:
    """{index of a `sparse_xent_reduce` node: index of the first later
    `sparse_xent_reduce_grad` node on the same logits, labels and divisor}."""
    pending = {}
    pairs = {}
    for i, node in enumerate(nodes):
        name = node.prim.name
        if name == "sparse_xent_reduce":
            logits, labels = (resolve(t) for t in node.inputs)
            if _stable(logits) and _stable(labels):
                key = (id(logits), id(labels), node.attrs.get("divisor"))
                pending.setdefault(key, i)
        elif name == "sparse_xent_reduce_grad":
            _, logits, labels = (resolve(t) for t in node.inputs)
            key = (id(logits), id(labels), node.attrs.get("divisor"))
            forward = pending.pop(key, None)
            if forward is not None:
                pairs[forward] = i
    return pairs


def xent_forward(xp, logits, labels, divisor):
    """`sparse_xent_reduce(logits, labels, divisor)`, and what its gradient will need:
    (loss, saved)."""
    w, idx = _rows(xp, logits, labels)
    if w.shape[0] == 0:
        return xp.asarray(0.0, dtype=logits.dtype)[()], None
    shifted = w - w.max(axis=-1, keepdims=True)
    e = xp.exp(shifted)
    total = e.sum(axis=-1, keepdims=True)
    log_sum = xp.log(total.reshape(-1))
    rows = xp.arange(w.shape[0])
    picked = shifted[rows, idx]
    per_row = (log_sum - picked).astype(logits.dtype, copy=False)
    return per_row.sum() / logits.dtype.type(divisor), (e, total, rows, idx)


def xent_backward(xp, saved, g, logits, labels, divisor, grad_impl):
    """`sparse_xent_reduce_grad(g, logits, labels, divisor)` from `xent_forward`'s saved
    arrays (`grad_impl`, the primitive's own impl, when there are none: no rows)."""
    if saved is None:
        return grad_impl(xp, g, logits, labels, divisor=divisor)
    e, total, rows, idx = saved
    probs = e  # the forward's own temporary: dividing in place is safe
    probs /= total
    probs[rows, idx] -= 1.0
    scale = (g / logits.dtype.type(divisor)).astype(probs.dtype)
    probs *= scale
    return probs.astype(logits.dtype, copy=False).reshape(logits.shape)
