"""Special functions over an array module (NumPy has no erf)."""

from __future__ import annotations

import math

import numpy as np


def erf(xp, x):
    """The error function, elementwise, to float64 accuracy.

    W. J. Cody's rational Chebyshev approximations (Math. Comp. 1969), as used by Cephes:
    erf(x) = x P(x^2)/Q(x^2) for |x| < 0.5, else 1 - erfc(|x|) with erfc from two ranges.
    On CuPy, `cupyx.scipy.special.erf` (one elementwise kernel; the ranges below would need a
    host synchronisation per call to test `xp.any`, which a CUDA-graph capture refuses).
    """
    dtype = x.dtype
    if xp is not np:
        from cupyx.scipy import special

        compute = np.float32 if dtype == np.float16 else dtype
        return special.erf(x.astype(compute, copy=False)).astype(dtype, copy=False)
    z = x.astype(np.float64)
    a = xp.abs(z)
    out = xp.empty_like(z)
    small = a < 0.5
    if xp.any(small):
        zs = z[small]
        t = zs * zs
        p = ((((_P0[0] * t + _P0[1]) * t + _P0[2]) * t + _P0[3]) * t + _P0[4])
        q = ((((t + _Q0[0]) * t + _Q0[1]) * t + _Q0[2]) * t + _Q0[3])
        out[small] = zs * p / q
    big = ~small
    if xp.any(big):
        ab = a[big]
        out[big] = xp.sign(z[big]) * (1.0 - _erfc_pos(xp, ab))
    return out.astype(dtype, copy=False)


def _erfc_pos(xp, a):
    out = xp.empty_like(a)
    mid = a < 4.0
    if xp.any(mid):
        y = a[mid]
        p = _poly(xp, y, _P1)
        q = _poly(xp, y, _Q1)
        out[mid] = xp.exp(-y * y) * p / q
    far = ~mid
    if xp.any(far):
        y = a[far]
        z = 1.0 / (y * y)
        p = _poly(xp, z, _P2)
        q = _poly(xp, z, _Q2)
        r = z * p / q
        out[far] = xp.exp(-y * y) / y * (1.0 / math.sqrt(math.pi) - r)
    return out


def _poly(xp, x, coefs):
    acc = xp.full_like(x, coefs[0])
    for c in coefs[1:]:
        acc = acc * x + c
    return acc


# Cody's coefficients (erf on |x| < 0.5).
_P0 = (1.857777061846031526730e-1, 3.161123743870565596947e0, 1.138641541510501556495e2,
       3.774852376853020208137e2, 3.209377589138469472562e3)
_Q0 = (2.360129095234412093499e1, 2.440246379344441733056e2, 1.282616526077372275645e3,
       2.844236833439170622273e3)
# erfc on 0.5 <= x < 4
_P1 = (2.15311535474403846343e-8, 5.64188496988670089180e-1, 8.88314979438837594118e0,
       6.61191906371416294775e1, 2.98635138197400131132e2, 8.81952221241769090411e2,
       1.71204761263407058314e3, 2.05107837782607146532e3, 1.23033935479799725272e3)
_Q1 = (1.0, 1.57449261107098347253e1, 1.17693950891312499305e2, 5.37181101862009857509e2,
       1.62138957456669018874e3, 3.29079923573345962678e3, 4.36261909014324715820e3,
       3.43936767414372163696e3, 1.23033935480374942043e3)
# erfc on x >= 4 (asymptotic form in 1/x^2)
_P2 = (1.63153871373020978498e-2, 3.05326634961232344035e-1, 3.60344899949804439429e-1,
       1.25781726111229246204e-1, 1.60837851487422766278e-2, 6.58749161529837803157e-4)
_Q2 = (1.0, 2.56852019228982242072e0, 1.87295284992346725209e0, 5.27905102951428412248e-1,
       6.05183413124413191178e-2, 2.33520497626869185443e-3)
