"""Fused recurrences: whole-sequence LSTM, GRU and simple-RNN primitives.

Why primitives: a recurrent layer's loop over time is Python. Written in dtf ops, one LSTM step
is ~15 ops forward and ~30 VJP ops backward, each a dispatch and a tape record; over 50 steps
that overhead dwarfs the arithmetic. Each primitive here runs the whole loop over NumPy arrays
(one dispatch, one tape record), keeping what its backward pass needs (gate activations, cell
states) in a `cache` output. Its VJP is one more primitive, `<name>_grad`, that walks the
sequence backwards, again in NumPy: this is what cuDNN's RNN kernels do on a GPU.

Second-order gradients: `<name>_grad` is exactly the VJP of the composite recurrence
(`lstm_sequence_composite`, ..., written in dtf ops). So its own VJP differentiates that
composite's VJP, by two nested GradientTapes over the composite: slow, but only higher-order
derivatives (gradient checks, Hessian-vector products) take that path. `cache` and the state
sequence enter `<name>_grad` only as saved values, functions of the other inputs, so their
cotangents are None.

Layouts (Keras 3's): inputs are batch-major; `xw` is the input projection `x @ kernel + bias`
for every step at once, (batch, time, gates * units), with gate blocks in Keras' order (LSTM
i, f, c, o; GRU z, r, h); `recurrent_kernel` is (units, gates * units). A `mask` (batch, time)
bool freezes the states of a sample at its masked steps.

Example:
    >>> xw = dtf.zeros((2, 5, 12)); h0 = c0 = dtf.zeros((2, 3))
    >>> hs, h, c = lstm_sequence(xw, h0, c0, dtf.zeros((3, 12)))
    >>> hs.shape, h.shape
    (TensorShape([2, 5, 3]), TensorShape([2, 3]))
"""

from __future__ import annotations

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops.registry import Spec, primitive, run

__all__ = [
    "FUSED_SIMPLE_RNN_ACTIVATIONS",
    "gru_sequence",
    "gru_sequence_composite",
    "lstm_sequence",
    "lstm_sequence_composite",
    "simple_rnn_sequence",
    "simple_rnn_sequence_composite",
]

FUSED_SIMPLE_RNN_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


# -- array helpers (xp: numpy or cupy) --------------------------------------------------------
def _sigmoid_into(xp, z, out):
    """out = sigmoid(z) as 0.5 * tanh(z / 2) + 0.5: one transcendental, never overflows."""
    xp.multiply(z, z.dtype.type(0.5), out=out)
    xp.tanh(out, out=out)
    out *= out.dtype.type(0.5)
    out += out.dtype.type(0.5)
    return out


def _activate_into(xp, name, z, out):
    if name == "tanh":
        return xp.tanh(z, out=out)
    if name == "sigmoid":
        return _sigmoid_into(xp, z, out)
    if name == "relu":
        return xp.maximum(z, z.dtype.type(0), out=out)
    out[...] = z
    return out


def _derivative_from_output(xp, name, y):
    """d activation / dz, written in terms of the activation's output y."""
    one = y.dtype.type(1)
    if name == "tanh":
        return one - y * y
    if name == "sigmoid":
        return y * (one - y)
    if name == "relu":
        return (y > 0).astype(y.dtype)
    return xp.ones_like(y)


def _step_mask(mask, t):
    """(batch, 1) bool column of step t, or None."""
    return None if mask is None else mask[:, t, None]


def _previous_states(xp, h0, hs):
    """(batch, time, units): the state before each step (h0, hs[:, 0], ..., hs[:, -2])."""
    if hs.shape[1] == 0:
        return hs
    return xp.concatenate([h0[:, None, :], hs[:, :-1, :]], axis=1)


# -- shape rules ------------------------------------------------------------------------------
def _check_float(op, specs):
    dtype = specs[0].dtype
    if not dtype.is_floating:
        raise InvalidArgumentError(f"{op}: inputs must be floating point, got {dtype.name}.")
    for s in specs[1:]:
        if s.dtype != dtype:
            raise InvalidArgumentError(
                f"{op}: all inputs must have one dtype, got {dtype.name} and {s.dtype.name} "
                f"(shapes {specs[0].shape} and {s.shape}). Cast them with dtf.cast first.")
    return dtype


def _dim(spec, i):
    return None if spec.shape is None else spec.shape[i]


def _seq_rule(op, gates, xw, h0, rk, mask):
    dtype = _check_float(op, [xw, h0, rk])
    if mask and mask[0].dtype != dtypes.bool:
        raise InvalidArgumentError(f"{op}: mask must be bool, got {mask[0].dtype.name}.")
    if xw.shape is not None and len(xw.shape) != 3:
        raise InvalidArgumentError(f"{op}: the projected inputs must be (batch, time, "
                                   f"{gates} * units), got shape {xw.shape}.")
    batch, time = _dim(xw, 0), _dim(xw, 1)
    units = _dim(rk, 0) if rk.shape is not None else _dim(h0, 1)
    g = _dim(xw, 2)
    if units is not None and g is not None and g != gates * units:
        raise InvalidArgumentError(f"{op}: the projected inputs have {g} features, expected "
                                   f"{gates} * units = {gates * units} (shapes {xw.shape}, "
                                   f"recurrent kernel {rk.shape}).")
    return dtype, batch, time, units


# -- LSTM -------------------------------------------------------------------------------------
def _lstm_rule(xw, h0, c0, rk, *mask):
    dtype, batch, time, units = _seq_rule("lstm_sequence", 4, xw, h0, rk, mask)
    state = Spec((batch, units), dtype)
    cache_units = None if units is None else 6 * units
    return (Spec((batch, time, units), dtype), state, state,
            Spec((time, batch, cache_units), dtype))


@primitive("lstm_sequence", shape=_lstm_rule, num_outputs=4)
def _lstm(xp, xw, h0, c0, rk, *mask):
    mask = mask[0] if mask else None
    batch, time, gates = xw.shape
    u = gates // 4
    dtype = xw.dtype
    hs = xp.empty((batch, time, u), dtype)
    # cache[t] = [i f g o | c_t (carried) | tanh(c_t candidate)]
    cache = xp.empty((time, batch, 6 * u), dtype)
    h, c = h0, c0
    for t in range(time):
        z = xp.matmul(h, rk)
        z += xw[:, t]
        a = cache[t]
        _sigmoid_into(xp, z[:, :2 * u], a[:, :2 * u])
        xp.tanh(z[:, 2 * u:3 * u], out=a[:, 2 * u:3 * u])
        _sigmoid_into(xp, z[:, 3 * u:], a[:, 3 * u:4 * u])
        c_new = a[:, u:2 * u] * c
        c_new += a[:, :u] * a[:, 2 * u:3 * u]
        tc = xp.tanh(c_new, out=a[:, 5 * u:])
        h_new = a[:, 3 * u:4 * u] * tc
        m = _step_mask(mask, t)
        if m is not None:
            h_new = xp.where(m, h_new, h)
            c_new = xp.where(m, c_new, c)
        a[:, 4 * u:5 * u] = c_new
        hs[:, t] = h_new
        h, c = h_new, c_new
    return hs, xp.array(h, copy=True), xp.array(c, copy=True), cache


def _lstm_grad_rule(ghs, gh, gc, xw, h0, c0, rk, hs, cache, *mask):
    return (Spec(xw.shape, xw.dtype), Spec(h0.shape, h0.dtype), Spec(c0.shape, c0.dtype),
            Spec(rk.shape, rk.dtype))


@primitive("lstm_sequence_grad", shape=_lstm_grad_rule, num_outputs=4)
def _lstm_grad(xp, ghs, gh_last, gc_last, xw, h0, c0, rk, hs, cache, *mask):
    mask = mask[0] if mask else None
    batch, time, gates = xw.shape
    u = gates // 4
    one = xw.dtype.type(1)
    dxw = xp.empty_like(xw)
    dh = xp.array(gh_last, copy=True)
    dc = xp.array(gc_last, copy=True)
    rk_t = rk.T
    for t in range(time - 1, -1, -1):
        gh = ghs[:, t] + dh
        a = cache[t]
        i, f, g, o = a[:, :u], a[:, u:2 * u], a[:, 2 * u:3 * u], a[:, 3 * u:4 * u]
        tc = a[:, 5 * u:]
        c_prev = cache[t - 1][:, 4 * u:5 * u] if t > 0 else c0
        m = _step_mask(mask, t)
        if m is not None:
            pass_h, pass_c = xp.where(m, 0, gh), xp.where(m, 0, dc)
            gh, dc = xp.where(m, gh, 0), xp.where(m, dc, 0)
        dct = gh * o * (one - tc * tc)
        dct += dc
        dz = dxw[:, t]
        dz[:, :u] = dct * g * i * (one - i)
        dz[:, u:2 * u] = dct * c_prev * f * (one - f)
        dz[:, 2 * u:3 * u] = dct * i * (one - g * g)
        dz[:, 3 * u:] = gh * tc * o * (one - o)
        dh = xp.matmul(dz, rk_t)
        dc = dct * f
        if m is not None:
            dh += pass_h
            dc += pass_c
    h_prev = _previous_states(xp, h0, hs).reshape(batch * time, u)
    drk = xp.matmul(h_prev.T, dxw.reshape(batch * time, gates))
    return dxw, dh, dc, drk


@_lstm.def_vjp
def _(g, out, xw, h0, c0, rk, *mask):
    ghs, gh_last, gc_last, _ = g
    hs, _, _, cache = out
    grads = run(_lstm_grad, (ghs, gh_last, gc_last, xw, h0, c0, rk, hs, cache) + mask)
    return tuple(grads) + (None,) * len(mask)


@_lstm_grad.def_vjp
def _(g, out, ghs, gh_last, gc_last, xw, h0, c0, rk, hs, cache, *mask):
    def composite(xw, h0, c0, rk):
        return lstm_sequence_composite(xw, h0, c0, rk, mask[0] if mask else None)

    grads = _second_order(composite, (ghs, gh_last, gc_last), (xw, h0, c0, rk), g)
    return grads + (None, None) + (None,) * len(mask)


def lstm_sequence(xw, h0, c0, recurrent_kernel, mask=None):
    """The LSTM recurrence over a whole sequence (Keras gate order i, f, c, o; sigmoid gates,
    tanh cell activation).

    Args:
        xw: (batch, time, 4 * units): `inputs @ kernel + bias` for every step.
        h0, c0: (batch, units) initial states.
        recurrent_kernel: (units, 4 * units).
        mask: optional (batch, time) bool; a sample's states do not change at masked steps.

    Returns:
        (hs, h, c): the hidden state after each step (batch, time, units) and the final states.
    """
    inputs = (xw, h0, c0, recurrent_kernel) + (() if mask is None else (mask,))
    hs, h, c, _ = run(_lstm, inputs)
    return hs, h, c


def lstm_sequence_composite(xw, h0, c0, recurrent_kernel, mask=None):
    """`lstm_sequence` written step by step in dtf ops: the reference its primitive's
    gradients are checked against, and what second-order gradients differentiate."""
    from dtf.ops import math_ops as m
    from dtf.ops.array_ops import stack
    from dtf.ops.linalg_ops import matmul

    u = h0.shape[-1]
    h, c = h0, c0
    hs = []
    for t in range(xw.shape[1]):
        z = xw[:, t] + matmul(h, recurrent_kernel)
        i, f = m.sigmoid(z[:, :u]), m.sigmoid(z[:, u:2 * u])
        g, o = m.tanh(z[:, 2 * u:3 * u]), m.sigmoid(z[:, 3 * u:])
        c_new = f * c + i * g
        h_new = o * m.tanh(c_new)
        if mask is not None:
            keep = mask[:, t:t + 1]
            h_new, c_new = m.where(keep, h_new, h), m.where(keep, c_new, c)
        h, c = h_new, c_new
        hs.append(h)
    return stack(hs, axis=1), h, c


# -- GRU --------------------------------------------------------------------------------------
def _gru_rule(xw, h0, rk, rb, *mask, reset_after=True):
    dtype, batch, time, units = _seq_rule("gru_sequence", 3, xw, h0, rk, mask)
    cache_units = None if units is None else 4 * units
    return (Spec((batch, time, units), dtype), Spec((batch, units), dtype),
            Spec((time, batch, cache_units), dtype))


@primitive("gru_sequence", shape=_gru_rule, num_outputs=3)
def _gru(xp, xw, h0, rk, rb, *mask, reset_after=True):
    mask = mask[0] if mask else None
    batch, time, gates = xw.shape
    u = gates // 3
    dtype = xw.dtype
    hs = xp.empty((batch, time, u), dtype)
    # cache[t] = [z r hh | rec_h] (reset_after) or [z r hh | r * h_prev]
    cache = xp.empty((time, batch, 4 * u), dtype)
    h = h0
    rk_zr, rk_h = rk[:, :2 * u], rk[:, 2 * u:]
    for t in range(time):
        x = xw[:, t]
        a = cache[t]
        if reset_after:
            rec = xp.matmul(h, rk)
            rec += rb
            zr = rec[:, :2 * u] + x[:, :2 * u]
            _sigmoid_into(xp, zr, a[:, :2 * u])
            a[:, 3 * u:] = rec[:, 2 * u:]
            pre_h = a[:, u:2 * u] * rec[:, 2 * u:]
        else:
            zr = xp.matmul(h, rk_zr)
            zr += x[:, :2 * u]
            _sigmoid_into(xp, zr, a[:, :2 * u])
            rh = xp.multiply(a[:, u:2 * u], h, out=a[:, 3 * u:])
            pre_h = xp.matmul(rh, rk_h)
        pre_h += x[:, 2 * u:]
        hh = xp.tanh(pre_h, out=a[:, 2 * u:3 * u])
        z = a[:, :u]
        h_new = h - hh
        h_new *= z
        h_new += hh
        m = _step_mask(mask, t)
        if m is not None:
            h_new = xp.where(m, h_new, h)
        hs[:, t] = h_new
        h = h_new
    return hs, xp.array(h, copy=True), cache


def _gru_grad_rule(ghs, gh, xw, h0, rk, rb, hs, cache, *mask, reset_after=True):
    return (Spec(xw.shape, xw.dtype), Spec(h0.shape, h0.dtype), Spec(rk.shape, rk.dtype),
            Spec(rb.shape, rb.dtype))


@primitive("gru_sequence_grad", shape=_gru_grad_rule, num_outputs=4)
def _gru_grad(xp, ghs, gh_last, xw, h0, rk, rb, hs, cache, *mask, reset_after=True):
    mask = mask[0] if mask else None
    batch, time, gates = xw.shape
    u = gates // 3
    one = xw.dtype.type(1)
    dxw = xp.empty_like(xw)
    # reset_after: the recurrent pre-activations' gradients; else [dz dr | d(r * h_prev)]
    drec = xp.empty_like(xw)
    dh = xp.array(gh_last, copy=True)
    rk_t = rk.T
    rk_zr_t, rk_h_t = rk[:, :2 * u].T, rk[:, 2 * u:].T
    for t in range(time - 1, -1, -1):
        gh = ghs[:, t] + dh
        a = cache[t]
        z, r, hh, extra = a[:, :u], a[:, u:2 * u], a[:, 2 * u:3 * u], a[:, 3 * u:]
        h_prev = hs[:, t - 1] if t > 0 else h0
        m = _step_mask(mask, t)
        if m is not None:
            pass_h = xp.where(m, 0, gh)
            gh = xp.where(m, gh, 0)
        dpre_h = gh * (one - z) * (one - hh * hh)
        dx = dxw[:, t]
        dx[:, :u] = gh * (h_prev - hh) * z * (one - z)
        dx[:, 2 * u:] = dpre_h
        d = drec[:, t]
        if reset_after:
            dx[:, u:2 * u] = dpre_h * extra * r * (one - r)
            d[:, :2 * u] = dx[:, :2 * u]
            d[:, 2 * u:] = dpre_h * r
            dh = xp.matmul(d, rk_t)
        else:
            d_rh = xp.matmul(dpre_h, rk_h_t)
            dx[:, u:2 * u] = d_rh * h_prev * r * (one - r)
            dh = xp.matmul(dx[:, :2 * u], rk_zr_t)
            dh += d_rh * r
        dh += gh * z
        if m is not None:
            dh += pass_h
    h_prev_all = _previous_states(xp, h0, hs).reshape(batch * time, u)
    if reset_after:
        flat = drec.reshape(batch * time, gates)
        drk = xp.matmul(h_prev_all.T, flat)
        drb = flat.sum(axis=0)
    else:
        flat = dxw.reshape(batch * time, gates)
        rh_all = xp.transpose(cache[:, :, 3 * u:], (1, 0, 2)).reshape(batch * time, u)
        drk = xp.concatenate([xp.matmul(h_prev_all.T, flat[:, :2 * u]),
                              xp.matmul(rh_all.T, flat[:, 2 * u:])], axis=1)
        drb = xp.zeros_like(rb)
    return dxw, dh, drk, drb


@_gru.def_vjp
def _(g, out, xw, h0, rk, rb, *mask, reset_after=True):
    ghs, gh_last, _ = g
    hs, _, cache = out
    dxw, dh0, drk, drb = run(_gru_grad, (ghs, gh_last, xw, h0, rk, rb, hs, cache) + mask,
                             reset_after=reset_after)
    return (dxw, dh0, drk, drb if reset_after else None) + (None,) * len(mask)


@_gru_grad.def_vjp
def _(g, out, ghs, gh_last, xw, h0, rk, rb, hs, cache, *mask, reset_after=True):
    def composite(xw, h0, rk, rb):
        return gru_sequence_composite(xw, h0, rk, rb, mask[0] if mask else None,
                                      reset_after=reset_after)

    grads = _second_order(composite, (ghs, gh_last), (xw, h0, rk, rb), g)
    return grads + (None, None) + (None,) * len(mask)


def gru_sequence(xw, h0, recurrent_kernel, recurrent_bias, mask=None, reset_after=True):
    """The GRU recurrence over a whole sequence (Keras gate order z, r, h; sigmoid gates, tanh
    candidate; `h = z * h_prev + (1 - z) * candidate`).

    Args:
        xw: (batch, time, 3 * units): `inputs @ kernel + input_bias` for every step.
        h0: (batch, units).
        recurrent_kernel: (units, 3 * units).
        recurrent_bias: (3 * units,), added to `h @ recurrent_kernel` (reset_after only; pass
            zeros otherwise).
        mask: optional (batch, time) bool.
        reset_after: apply the reset gate after the recurrent matmul (Keras 3's default, cuDNN
            compatible) or before it.

    Returns:
        (hs, h): the state after each step (batch, time, units) and the final state.
    """
    inputs = (xw, h0, recurrent_kernel, recurrent_bias) + (() if mask is None else (mask,))
    hs, h, _ = run(_gru, inputs, reset_after=bool(reset_after))
    return hs, h


def gru_sequence_composite(xw, h0, recurrent_kernel, recurrent_bias, mask=None,
                           reset_after=True):
    """`gru_sequence` step by step in dtf ops (see `lstm_sequence_composite`)."""
    from dtf.ops import math_ops as m
    from dtf.ops.array_ops import stack
    from dtf.ops.linalg_ops import matmul

    u = h0.shape[-1]
    h = h0
    hs = []
    for t in range(xw.shape[1]):
        x = xw[:, t]
        if reset_after:
            rec = matmul(h, recurrent_kernel) + recurrent_bias
            z = m.sigmoid(x[:, :u] + rec[:, :u])
            r = m.sigmoid(x[:, u:2 * u] + rec[:, u:2 * u])
            hh = m.tanh(x[:, 2 * u:] + r * rec[:, 2 * u:])
        else:
            rec = matmul(h, recurrent_kernel[:, :2 * u])
            z = m.sigmoid(x[:, :u] + rec[:, :u])
            r = m.sigmoid(x[:, u:2 * u] + rec[:, u:])
            hh = m.tanh(x[:, 2 * u:] + matmul(r * h, recurrent_kernel[:, 2 * u:]))
        h_new = z * h + (1.0 - z) * hh
        if mask is not None:
            h_new = m.where(mask[:, t:t + 1], h_new, h)
        h = h_new
        hs.append(h)
    return stack(hs, axis=1), h


# -- simple RNN -------------------------------------------------------------------------------
def _simple_rule(xw, h0, rk, *mask, activation="tanh"):
    if activation not in FUSED_SIMPLE_RNN_ACTIVATIONS:
        raise ValueError(f"simple_rnn_sequence: activation must be one of "
                         f"{FUSED_SIMPLE_RNN_ACTIVATIONS}, got {activation!r}.")
    dtype, batch, time, units = _seq_rule("simple_rnn_sequence", 1, xw, h0, rk, mask)
    return Spec((batch, time, units), dtype), Spec((batch, units), dtype)


@primitive("simple_rnn_sequence", shape=_simple_rule, num_outputs=2)
def _simple(xp, xw, h0, rk, *mask, activation="tanh"):
    mask = mask[0] if mask else None
    batch, time, u = xw.shape
    hs = xp.empty((batch, time, u), xw.dtype)
    h = h0
    for t in range(time):
        z = xp.matmul(h, rk)
        z += xw[:, t]
        h_new = _activate_into(xp, activation, z, z)
        m = _step_mask(mask, t)
        if m is not None:
            h_new = xp.where(m, h_new, h)
        hs[:, t] = h_new
        h = h_new
    return hs, xp.array(h, copy=True)


def _simple_grad_rule(ghs, gh, xw, h0, rk, hs, *mask, activation="tanh"):
    return Spec(xw.shape, xw.dtype), Spec(h0.shape, h0.dtype), Spec(rk.shape, rk.dtype)


@primitive("simple_rnn_sequence_grad", shape=_simple_grad_rule, num_outputs=3)
def _simple_grad(xp, ghs, gh_last, xw, h0, rk, hs, *mask, activation="tanh"):
    mask = mask[0] if mask else None
    batch, time, u = xw.shape
    dxw = xp.empty_like(xw)
    dh = xp.array(gh_last, copy=True)
    rk_t = rk.T
    for t in range(time - 1, -1, -1):
        gh = ghs[:, t] + dh
        m = _step_mask(mask, t)
        if m is not None:
            pass_h = xp.where(m, 0, gh)
            gh = xp.where(m, gh, 0)
        dz = dxw[:, t]
        dz[...] = gh * _derivative_from_output(xp, activation, hs[:, t])
        dh = xp.matmul(dz, rk_t)
        if m is not None:
            dh += pass_h
    h_prev = _previous_states(xp, h0, hs).reshape(batch * time, u)
    drk = xp.matmul(h_prev.T, dxw.reshape(batch * time, u))
    return dxw, dh, drk


@_simple.def_vjp
def _(g, out, xw, h0, rk, *mask, activation="tanh"):
    ghs, gh_last = g
    grads = run(_simple_grad, (ghs, gh_last, xw, h0, rk, out[0]) + mask, activation=activation)
    return tuple(grads) + (None,) * len(mask)


@_simple_grad.def_vjp
def _(g, out, ghs, gh_last, xw, h0, rk, hs, *mask, activation="tanh"):
    def composite(xw, h0, rk):
        return simple_rnn_sequence_composite(xw, h0, rk, mask[0] if mask else None,
                                             activation=activation)

    grads = _second_order(composite, (ghs, gh_last), (xw, h0, rk), g)
    return grads + (None,) + (None,) * len(mask)


def simple_rnn_sequence(xw, h0, recurrent_kernel, mask=None, activation="tanh"):
    """The simple RNN recurrence `h = activation(xw_t + h @ recurrent_kernel)` over a whole
    sequence; `activation` is "tanh", "relu", "sigmoid" or "linear".

    Returns:
        (hs, h): the state after each step (batch, time, units) and the final state.
    """
    inputs = (xw, h0, recurrent_kernel) + (() if mask is None else (mask,))
    return tuple(run(_simple, inputs, activation=activation))


def simple_rnn_sequence_composite(xw, h0, recurrent_kernel, mask=None, activation="tanh"):
    """`simple_rnn_sequence` step by step in dtf ops (see `lstm_sequence_composite`)."""
    from dtf.ops import math_ops as m
    from dtf.ops import nn_ops
    from dtf.ops.array_ops import stack
    from dtf.ops.linalg_ops import matmul

    act = {"tanh": m.tanh, "sigmoid": m.sigmoid, "relu": nn_ops.relu,
           "linear": lambda x: x}[activation]
    h = h0
    hs = []
    for t in range(xw.shape[1]):
        h_new = act(xw[:, t] + matmul(h, recurrent_kernel))
        if mask is not None:
            h_new = m.where(mask[:, t:t + 1], h_new, h)
        h = h_new
        hs.append(h)
    return stack(hs, axis=1), h


# -- second order -----------------------------------------------------------------------------
def _second_order(composite, cotangents, primals, g):
    """The VJP of `(cotangents, primals) -> VJP of composite at primals`, contracted with `g`:
    differentiates the composite's backward pass under two nested tapes."""
    from dtf.autodiff.tape import GradientTape

    sources = tuple(cotangents) + tuple(primals)
    with GradientTape() as outer:
        outer.watch(list(sources))
        with GradientTape() as inner:
            inner.watch(list(primals))
            outputs = composite(*primals)
        first = inner.gradient(list(outputs), list(primals),
                               output_gradients=list(cotangents),
                               unconnected_gradients="zero")
    grads = outer.gradient(first, list(sources), output_gradients=list(g),
                           unconnected_gradients="zero")
    return tuple(grads)
