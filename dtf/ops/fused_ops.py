"""Fused primitives: composites promoted to one op for speed.

`fused_dense(x, kernel, bias, activation)` is `activation(x @ kernel + bias)`, what a Keras
`Dense` layer computes on every step. As three primitives it costs three dispatches and three
tape records forward, and three VJP calls backward; fused, it costs one of each, and its VJP
computes the three gradients from one pre-activation gradient (skipping the data's gradient
when nothing needs it). The activations fused are those whose derivative follows from the
output alone: linear, relu, sigmoid, tanh. The GPU backend may replace the forward by one
kernel (bias + activation), as TensorFlow's `_FusedMatMul` does.

Example:
    >>> y = fused_dense(dtf.ones((2, 3)), dtf.ones((3, 4)), dtf.zeros(4), "relu")
    >>> y.shape
    TensorShape([2, 4])
"""

from __future__ import annotations

from dtf.errors import InvalidArgumentError
from dtf.ops import nn_ops
from dtf.ops.linalg_ops import matmul
from dtf.ops.math_ops import _sigmoid_impl, multiply, subtract
from dtf.ops.reduce_ops import reduce_sum
from dtf.ops.registry import Spec, primitive, run

__all__ = ["FUSED_ACTIVATIONS", "fused_dense"]

FUSED_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")


def _dense_rule(x, kernel, bias, activation):
    if activation not in FUSED_ACTIVATIONS:
        raise ValueError(f"fused_dense: activation must be one of {FUSED_ACTIVATIONS}, got "
                         f"{activation!r}")
    if x.dtype != kernel.dtype or x.dtype != bias.dtype:
        raise InvalidArgumentError(f"fused_dense: dtypes differ: x {x.dtype.name}, kernel "
                                   f"{kernel.dtype.name}, bias {bias.dtype.name}")
    for name, spec, rank in (("x", x, 2), ("kernel", kernel, 2), ("bias", bias, 1)):
        if spec.shape is not None and len(spec.shape) != rank:
            raise InvalidArgumentError(f"fused_dense: {name} must have rank {rank}, got shape "
                                       f"{spec.shape}")
    k_x = None if x.shape is None else x.shape[1]
    k_w = None if kernel.shape is None else kernel.shape[0]
    if k_x is not None and k_w is not None and k_x != k_w:
        raise InvalidArgumentError(f"fused_dense: x has {k_x} features but the kernel expects "
                                   f"{k_w} (shapes {x.shape} and {kernel.shape})")
    n = None if kernel.shape is None else kernel.shape[1]
    if n is None and bias.shape is not None:
        n = bias.shape[0]
    batch = None if x.shape is None else x.shape[0]
    return Spec((batch, n), x.dtype)


@primitive("fused_dense", shape=_dense_rule)
def _fused_dense(xp, x, kernel, bias, activation):
    z = xp.matmul(x, kernel)
    z += bias  # z is a fresh array: adding in place saves one allocation
    if activation == "relu":
        return xp.maximum(z, z.dtype.type(0), out=z)
    if activation == "sigmoid":
        return _sigmoid_impl(xp, z)
    if activation == "tanh":
        return xp.tanh(z, out=z)
    return z


@_fused_dense.def_vjp(takes_needed=True)
def _(g, out, x, kernel, bias, activation, needed=(True, True, True)):
    if activation == "relu":
        g = run(nn_ops._relu_grad, (g, out))
    elif activation == "sigmoid":
        g = multiply(g, multiply(out, subtract(1.0, out)))
    elif activation == "tanh":
        g = multiply(g, subtract(1.0, multiply(out, out)))
    gx = matmul(g, kernel, transpose_b=True) if needed[0] else None
    gk = matmul(x, g, transpose_a=True) if needed[1] else None
    gb = reduce_sum(g, axis=0) if needed[2] else None
    return gx, gk, gb


def fused_dense(x, kernel, bias, activation="linear"):
    """`activation(x @ kernel + bias)` as one op (x: (batch, in), kernel: (in, out),
    bias: (out,)); `activation` is "linear", "relu", "sigmoid" or "tanh"."""
    return run(_fused_dense, (x, kernel, bias), activation=activation)
