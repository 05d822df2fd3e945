"""Cases for the fused recurrences of `dtf.ops.rnn_ops` (lstm/gru/simple_rnn sequences and
their `_grad` primitives, which the gradient checks run): forward values against a NumPy loop,
first- and second-order gradients against central differences."""

from __future__ import annotations

import numpy as np

from dtf.ops import rnn_ops
from dtf.testing.op_cases import OpCase, rand

_B, _T, _U = 2, 3, 2
_MASK = np.array([[True, False, True], [False, True, True]])


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _lstm_ref(xw, h0, c0, rk, mask=None):
    u = h0.shape[-1]
    h, c, hs = h0, c0, []
    for t in range(xw.shape[1]):
        z = xw[:, t] + h @ rk
        i, f, g, o = (_sigmoid(z[:, :u]), _sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]),
                      _sigmoid(z[:, 3 * u:]))
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        if mask is not None:
            h_new = np.where(mask[:, t, None], h_new, h)
            c_new = np.where(mask[:, t, None], c_new, c)
        h, c = h_new, c_new
        hs.append(h)
    return np.stack(hs, 1), h, c


def _gru_ref(xw, h0, rk, rb, mask=None, reset_after=True):
    u = h0.shape[-1]
    h, hs = h0, []
    for t in range(xw.shape[1]):
        x = xw[:, t]
        if reset_after:
            rec = h @ rk + rb
            z, r = _sigmoid(x[:, :u] + rec[:, :u]), _sigmoid(x[:, u:2 * u] + rec[:, u:2 * u])
            hh = np.tanh(x[:, 2 * u:] + r * rec[:, 2 * u:])
        else:
            rec = h @ rk[:, :2 * u]
            z, r = _sigmoid(x[:, :u] + rec[:, :u]), _sigmoid(x[:, u:2 * u] + rec[:, u:])
            hh = np.tanh(x[:, 2 * u:] + (r * h) @ rk[:, 2 * u:])
        h_new = z * h + (1 - z) * hh
        if mask is not None:
            h_new = np.where(mask[:, t, None], h_new, h)
        h = h_new
        hs.append(h)
    return np.stack(hs, 1), h


_ACTS = {"tanh": np.tanh, "sigmoid": _sigmoid, "relu": lambda z: np.maximum(z, 0),
         "linear": lambda z: z}


def _simple_ref(xw, h0, rk, mask=None, activation="tanh"):
    h, hs = h0, []
    for t in range(xw.shape[1]):
        h_new = _ACTS[activation](xw[:, t] + h @ rk)
        if mask is not None:
            h_new = np.where(mask[:, t, None], h_new, h)
        h = h_new
        hs.append(h)
    return np.stack(hs, 1), h


_H0 = rand(_B, _U, seed=301)
_C0 = rand(_B, _U, seed=302)
_XW4 = rand(_B, _T, 4 * _U, low=-2, high=2, seed=303)
_RK4 = rand(_U, 4 * _U, seed=304)
_XW3 = rand(_B, _T, 3 * _U, low=-2, high=2, seed=305)
_RK3 = rand(_U, 3 * _U, seed=306)
_RB3 = rand(3 * _U, seed=307)
_XW1 = rand(_B, _T, _U, low=-2, high=2, seed=308)
_RK1 = rand(_U, _U, seed=309)

CASES = [
    OpCase("lstm_sequence", lambda x, h, c, k: rnn_ops.lstm_sequence(x, h, c, k),
           [_XW4, _H0, _C0, _RK4], _lstm_ref),
    OpCase("lstm_sequence/masked", lambda x, h, c, k, m: rnn_ops.lstm_sequence(x, h, c, k, m),
           [_XW4, _H0, _C0, _RK4, _MASK], _lstm_ref),
    OpCase("lstm_sequence/float32", lambda x, h, c, k: rnn_ops.lstm_sequence(x, h, c, k),
           [a.astype(np.float32) for a in (_XW4, _H0, _C0, _RK4)], _lstm_ref, grad=False,
           atol=1e-5, rtol=1e-5),
    OpCase("gru_sequence", lambda x, h, k, b: rnn_ops.gru_sequence(x, h, k, b),
           [_XW3, _H0, _RK3, _RB3], _gru_ref),
    OpCase("gru_sequence/masked", lambda x, h, k, b, m: rnn_ops.gru_sequence(x, h, k, b, m),
           [_XW3, _H0, _RK3, _RB3, _MASK], _gru_ref),
    OpCase("gru_sequence/reset_before",
           lambda x, h, k, b: rnn_ops.gru_sequence(x, h, k, b, reset_after=False),
           [_XW3, _H0, _RK3, _RB3],
           lambda x, h, k, b: _gru_ref(x, h, k, b, reset_after=False), grad_inputs=(0, 1, 2)),
    OpCase("gru_sequence/reset_before_masked",
           lambda x, h, k, b, m: rnn_ops.gru_sequence(x, h, k, b, m, reset_after=False),
           [_XW3, _H0, _RK3, _RB3, _MASK],
           lambda x, h, k, b, m: _gru_ref(x, h, k, b, m, reset_after=False),
           grad_inputs=(0, 1, 2)),
]
for _act in rnn_ops.FUSED_SIMPLE_RNN_ACTIVATIONS:
    CASES.append(OpCase(
        f"simple_rnn_sequence/{_act}",
        lambda x, h, k, _a=_act: rnn_ops.simple_rnn_sequence(x, h, k, activation=_a),
        [_XW1, _H0, _RK1], lambda x, h, k, _a=_act: _simple_ref(x, h, k, activation=_a)))
CASES.append(OpCase(
    "simple_rnn_sequence/masked",
    lambda x, h, k, m: rnn_ops.simple_rnn_sequence(x, h, k, m),
    [_XW1, _H0, _RK1, _MASK], _simple_ref))
