"""Linear algebra: matmul, tensordot, einsum, norm, normalize, global_norm, cross. The matrix
functions of `dtf.linalg` (inv, det, solve, cholesky, eigh, diagonals, ...) are in matrix_ops.

`einsum` is the workhorse: its gradient is an einsum of the output gradient with the other
operands, so transposes, diagonals and traces built on it differentiate to any order. A
repeated index within one operand (a diagonal) gets its gradient through an identity-matrix
operand; an index that only one operand has (summed away) gets it by broadcasting.

"""

from __future__ import annotations

import functools
import string

import numpy as np

from dtf.errors import InvalidArgumentError
from dtf.ops import shape_rules as rules
from dtf.ops.array_ops import broadcast_like, broadcast_to, expand_dims, reshape, stack
from dtf.ops.creation_ops import cast, convert_to_tensor, eye
from dtf.ops.dynamic_shapes import dim_of, fully_known, static_dims
from dtf.ops.math_ops import abs as abs_
from dtf.ops.math_ops import add_n, binary_args, conj, real, sqrt, unbroadcast
from dtf.ops.math_ops import pow as pow_
from dtf.ops.reduce_ops import reduce_max, reduce_sum
from dtf.ops.registry import Spec, primitive, run
from dtf.tensor import Tensor

# Top-level names, as TensorFlow has them (`tf.matmul`, `tf.einsum`, ...); the matrix
# functions are in `dtf.linalg` only (dtf/linalg.py).
__all__ = ["einsum", "matmul", "norm", "tensordot"]


def _is_tensor_like(x):
    return isinstance(x, Tensor) or getattr(x, "_is_dtf_variable", False)


def _tensor(x):
    return x if type(x) is Tensor else convert_to_tensor(x)


def _shape_text(x):
    return str(x.shape)


# -- matmul ---------------------------------------------------------------------------------------
def _matmul_rule(a, b, transpose_a=False, transpose_b=False):
    if a.shape is None or b.shape is None:
        return Spec(None, a.dtype)
    m, ka = (a.shape[-1], a.shape[-2]) if transpose_a else (a.shape[-2], a.shape[-1])
    kb, n = (b.shape[-1], b.shape[-2]) if transpose_b else (b.shape[-2], b.shape[-1])
    if ka is not None and kb is not None and ka != kb:
        raise InvalidArgumentError(f"matmul: inner dimensions differ: {a.shape} and {b.shape}")
    batch = rules.broadcast_dims(a.shape[:-2], b.shape[:-2], "matmul")
    return Spec(batch + (m, n), a.dtype)


def _t(xp, x):
    return xp.swapaxes(x, -1, -2)


@primitive("matmul", shape=_matmul_rule)
def _matmul(xp, a, b, transpose_a=False, transpose_b=False):
    if transpose_a:
        a = _t(xp, a)
    if transpose_b:
        b = _t(xp, b)
    return xp.matmul(a, b)


@_matmul.def_vjp(takes_needed=True)
def _(g, out, a, b, transpose_a=False, transpose_b=False, needed=(True, True)):
    ga = gb = None
    if needed[0]:
        bc = conj(b)
        if not transpose_a:
            ga = matmul(g, bc, transpose_b=not transpose_b)
        elif not transpose_b:
            ga = matmul(bc, g, transpose_b=True)
        else:
            ga = matmul(bc, g, transpose_a=True, transpose_b=True)
        ga = unbroadcast(ga, a)
    if needed[1]:
        ac = conj(a)
        if not transpose_b:
            gb = matmul(ac, g, transpose_a=not transpose_a)
        elif not transpose_a:
            gb = matmul(g, ac, transpose_a=True)
        else:
            gb = matmul(g, ac, transpose_a=True, transpose_b=True)
        gb = unbroadcast(gb, b)
    return ga, gb


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, output_type=None, name=None):
    """Matrix product of the last two dims, batched (and broadcast) over leading dims.

    Example:
        >>> dtf.matmul(dtf.ones((2, 3)), dtf.ones((3, 4))).shape
        TensorShape([2, 4])
    """
    if type(a) is Tensor and type(b) is Tensor and not (adjoint_a or adjoint_b):
        # The eager fast path: plain tensors, checks on the arrays' own shapes.
        av, bv = a._value, b._value
        if av.dtype == bv.dtype and av.ndim >= 2 and bv.ndim >= 2 and \
                (av.shape[-2] if transpose_a else av.shape[-1]) == \
                (bv.shape[-1] if transpose_b else bv.shape[-2]):
            return run(_matmul, (a, b), transpose_a=bool(transpose_a),
                       transpose_b=bool(transpose_b))

    if not (type(a) is Tensor and type(b) is Tensor and a._value.dtype == b._value.dtype):
        a, b = binary_args("matmul", a, b)
    if a.ndim < 2 or b.ndim < 2:
        raise InvalidArgumentError(
            f"matmul: In[0] and In[1] must be at least rank 2 (matrices), got shapes {a.shape} "
            f"and {b.shape} ({a.dtype.name}). Use dtf.tensordot or reshape vectors to [1, n].")
    if (transpose_a and adjoint_a) or (transpose_b and adjoint_b):
        raise ValueError("matmul: only one of transpose_a and adjoint_a (transpose_b and "
                         "adjoint_b) may be True.")
    if adjoint_a:
        a, transpose_a = conj(a), not transpose_a
    if adjoint_b:
        b, transpose_b = conj(b), not transpose_b
    ka = a.shape[-2] if transpose_a else a.shape[-1]
    kb = b.shape[-1] if transpose_b else b.shape[-2]
    if ka is not None and kb is not None and ka != kb:
        raise InvalidArgumentError(
            f"Matrix size-incompatible: In[0]: {a.shape}, In[1]: {b.shape} (transpose_a="
            f"{transpose_a}, transpose_b={transpose_b}, dtype {a.dtype.name}) [Op:MatMul]")
    return run(_matmul, (a, b), transpose_a=bool(transpose_a), transpose_b=bool(transpose_b))


# -- einsum ---------------------------------------------------------------------------------------
# The primitive takes a canonical equation: explicit output, no ellipsis, no spaces. The public
# wrapper expands `...` into letters the equation does not use.
_LETTERS = string.ascii_letters


def _split_equation(equation):
    lhs, rhs = equation.split("->")
    return tuple(lhs.split(",")), rhs


@functools.lru_cache(maxsize=512)
def _canonical_equation(equation, ranks):
    """Expands `equation` for operands of these ranks.

    Returns (canonical equation, input label strings, output labels, ellipsis labels).
    Raises ValueError for malformed equations.
    """
    eq = equation.replace(" ", "")
    if eq.count("->") > 1:
        raise ValueError(f'einsum: equation "{equation}" has more than one "->".')
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ValueError(f'einsum: Got {len(ranks)} inputs for equation "{equation}", '
                         f"expecting {len(terms)}.")
    for term in terms + ([rhs] if arrow else []):
        rest = term.replace("...", "", 1)
        bad = [c for c in rest if c not in _LETTERS]
        if bad:
            raise ValueError(f'einsum: invalid subscript {bad[0]!r} in equation "{equation}": '
                             "use letters a-z, A-Z and at most one '...' per term.")
    used = {c for c in eq if c in _LETTERS}
    fresh = [c for c in _LETTERS if c not in used]
    ell_ranks = []
    for i, (term, rank) in enumerate(zip(terms, ranks)):
        n_labels = len(term.replace("...", ""))
        if "..." in term:
            if rank < n_labels:
                raise InvalidArgumentError(
                    f'einsum: Expected input {i} to have rank at least {n_labels} for '
                    f'subscripts "{term}" but got: {rank}.')
            ell_ranks.append(rank - n_labels)
        else:
            if rank != n_labels:
                raise InvalidArgumentError(
                    f'einsum: Expected input {i} to have rank {n_labels} for subscripts "{term}" '
                    f"but got: {rank}.")
            ell_ranks.append(0)
    n_ell = max(ell_ranks, default=0)
    if n_ell > len(fresh):
        raise ValueError(f'einsum: equation "{equation}" leaves too few unused letters to '
                         "expand '...'.")
    ell = "".join(fresh[:n_ell])
    ins = tuple(term.replace("...", ell[n_ell - r:]) for term, r in zip(terms, ell_ranks))
    if arrow:
        if "..." in rhs:
            out = rhs.replace("...", ell)
        elif n_ell:
            raise InvalidArgumentError(
                f'einsum: Output contains {n_ell} broadcasting dimension(s) but no ellipsis '
                f'(...) was found in the output subscripts of "{equation}".')
        else:
            out = rhs
    else:  # implicit output: '...' first, then the labels seen once, in alphabetical order
        counts = {}
        for term in terms:
            for c in term.replace("...", ""):
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    for c in out:
        if out.count(c) > 1:
            raise ValueError(f"einsum: Output subscripts contain a label appearing more than "
                             f'once: "{equation}".')
        if not any(c in term for term in ins):
            raise ValueError(f"einsum: Output subscripts contain the label {c} not present in "
                             f'the input subscripts of "{equation}".')
    return ",".join(ins) + "->" + out, ins, out, ell


def _einsum_rule(*operands, equation):
    ins, out = _split_equation(equation)
    sizes = {}
    for labels, spec in zip(ins, operands):
        if spec.shape is None:
            continue
        for c, d in zip(labels, spec.shape):
            known = sizes.get(c)
            if d is None or known == d:
                continue
            if known is None or known == 1:
                sizes[c] = d
            elif d != 1:
                raise InvalidArgumentError(f'einsum "{equation}": label {c} has size {known} '
                                           f"in one input and {d} in another.")
    return Spec(tuple(sizes.get(c) for c in out), operands[0].dtype)


@functools.lru_cache(maxsize=512)
def _einsum_sizes_plan(equation):
    ins, out = _split_equation(equation)
    return ins, out, tuple(sorted(set("".join(ins))))


def _einsum_impl(xp, *operands, equation):
    # NumPy's plain einsum loops in C without BLAS; with `optimize` it contracts through
    # tensordot (BLAS) at the price of ~15us of path search. Worth it past ~32k multiply-adds.
    ins, _, _ = _einsum_sizes_plan(equation)
    work = 1
    sizes = {}
    for labels, x in zip(ins, operands):
        for c, d in zip(labels, x.shape):
            sizes[c] = d
    for d in sizes.values():
        work *= d
    if len(operands) > 1 and work > 32768:
        out = xp.einsum(equation, *operands, optimize=True)
    else:
        out = xp.einsum(equation, *operands)
    dtype = operands[0].dtype
    return out.astype(dtype, copy=False) if out.dtype != dtype else out


_einsum_prim = primitive("einsum", shape=_einsum_rule)(_einsum_impl)


@functools.lru_cache(maxsize=1024)
def _einsum_grad_plan(equation, k):
    """How to compute d/d(operand k) of `equation` as another einsum.

    Returns (gradient equation over (g, other operands..., eye per repeated label), the repeated
    labels as (label, fresh label) pairs, the gradient's labels, and the labels the gradient
    einsum can produce: the others are broadcast afterwards).
    """
    ins, out = _split_equation(equation)
    used = set(equation) - set(",->")
    fresh = iter(c for c in _LETTERS if c not in used)
    seen, labels, eyes = set(), [], []
    for c in ins[k]:
        if c in seen:
            try:
                f = next(fresh)
            except StopIteration:
                raise ValueError(f'einsum "{equation}": too many labels to differentiate a '
                                 "repeated index.") from None
            eyes.append((c, f))
            labels.append(f)
        else:
            seen.add(c)
            labels.append(c)
    sources = [out] + [ins[j] for j in range(len(ins)) if j != k] + [c + f for c, f in eyes]
    available = set("".join(sources))
    kept = "".join(c for c in labels if c in available)
    return ",".join(sources) + "->" + kept, tuple(eyes), "".join(labels), kept


def _einsum_vjp(g, out, *operands, equation):
    ins, _ = _split_equation(equation)
    grads = []
    for k, x in enumerate(operands):
        if not x.dtype.is_differentiable:
            grads.append(None)
            continue
        grad_eq, eyes, labels, kept = _einsum_grad_plan(equation, k)
        shape = static_dims(x)
        known = fully_known(shape)
        size = dict(zip(ins[k], shape))
        others = [conj(operands[j]) for j in range(len(operands)) if j != k]
        # a repeated label's identity matrix; its size read at run time when unknown now
        eye_ops = [eye(size[c] if size[c] is not None else dim_of(x, ins[k].index(c)),
                       dtype=x.dtype) for c, _ in eyes]
        if not others and not eye_ops and grad_eq.split("->")[0] == kept:
            gk = g  # the gradient einsum would be the identity
        else:
            gk = run(_einsum_prim, (g, *others, *eye_ops), equation=grad_eq)
        if len(kept) != len(labels):  # labels summed away: broadcast back along them
            if known:
                gk = reshape(gk, tuple(d if c in kept else 1 for c, d in zip(labels, shape)))
                gk = broadcast_to(gk, shape)
            else:
                for axis, c in enumerate(labels):
                    if c not in kept:
                        gk = expand_dims(gk, axis)
                gk = broadcast_like(gk, x)
        if not known:
            # A dim of size 1 broadcast against the other operands (an ellipsis dim) shows only
            # at run time: sum the gradient back to the operand's shape then.
            gk = unbroadcast(gk, x)
        grads.append(gk)
    return tuple(grads)


_einsum_prim.def_vjp(_einsum_vjp)


def _einsum_canonical(equation, operands):
    """Checks operand sizes against the canonical equation, broadcasting the '...' dims of
    operands that have size 1 there (so the primitive sees consistent sizes)."""

    ranks = tuple(x.ndim for x in operands)
    canonical, ins, _out, ell = _canonical_equation(equation, ranks)
    sizes = {}
    for i, (labels, x) in enumerate(zip(ins, operands)):
        for axis, (c, d) in enumerate(zip(labels, x.shape)):
            if d is None:
                continue
            known = sizes.get(c)
            if known is None or (known == 1 and c in ell):
                sizes[c] = d
            elif d != known and not (d == 1 and c in ell):
                raise InvalidArgumentError(
                    f'einsum: Expected dimension {known} at axis {axis} of input {i} shaped '
                    f'{x.shape} but got dimension {d} (label {c!r} of equation "{equation}"; '
                    f"input shapes {[_shape_text(o) for o in operands]}). [Op:Einsum]")
    if ell:
        fixed = []
        for labels, x in zip(ins, operands):
            target = tuple(sizes.get(c) if c in ell else d for c, d in zip(labels, x.shape))
            if target != tuple(x.shape) and None not in target:
                x = broadcast_to(x, target)
            fixed.append(x)
        operands = fixed
    return canonical, tuple(operands)


def einsum(equation, *inputs, **kwargs):
    """Einstein summation: `einsum("ij,jk->ik", a, b)` is a matmul.

    Supports implicit output (`"ij,jk"`), `...` broadcasting and repeated indices within an
    operand (diagonals, traces); every operand must have the same dtype.

    Example:
        >>> dtf.einsum("ii->", dtf.constant([[1., 2.], [3., 4.]]))
        <dtf.Tensor: shape=(), dtype=float32, numpy=5.0>
    """

    unknown = set(kwargs) - {"name", "optimize"}
    if unknown:
        raise TypeError(f"einsum: unexpected keyword arguments {sorted(unknown)}.")
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {equation!r}.")
    if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
        inputs = tuple(inputs[0])
    if not inputs:
        raise ValueError(f'einsum: equation "{equation}" got no input tensors.')
    operands = [_tensor(inputs[0])]
    for x in inputs[1:]:
        operands.append(binary_args("einsum", operands[0], x)[1])
    if operands[0].dtype._kind == "b":
        raise InvalidArgumentError(f"einsum: bool tensors are not supported (inputs "
                                   f"{[_shape_text(o) for o in operands]}); cast them to a "
                                   "numeric dtype. [Op:Einsum]")
    canonical, operands = _einsum_canonical(equation, operands)
    return run(_einsum_prim, operands, equation=canonical)


def _einsum_internal(equation, *operands):
    """einsum with an equation already canonical (explicit, no '...'): skips parsing."""
    return run(_einsum_prim, operands, equation=equation)


_BATCH_LETTERS = string.ascii_uppercase  # batch dims; matrix dims use lowercase letters


def _matrix_equation(rank, src, dst, extra=""):
    """An equation over the last axes, batched over the others: src 'ij', dst 'ji' is a
    transpose. `extra` is appended to the inputs (e.g. ',ij' for a second operand)."""
    batch = _BATCH_LETTERS[:rank - len(src)]
    return f"{batch}{src}{extra}->{batch}{dst}"


# -- tensordot ------------------------------------------------------------------------------------
def _tensordot_rule(a, b, axes):
    a_axes, b_axes = axes
    if a.shape is None or b.shape is None:
        return Spec(None, a.dtype)
    free_a = tuple(d for i, d in enumerate(a.shape) if i not in a_axes)
    free_b = tuple(d for i, d in enumerate(b.shape) if i not in b_axes)
    return Spec(free_a + free_b, a.dtype)


@functools.lru_cache(maxsize=512)
def _tensordot_equation(rank_a, rank_b, axes):
    a_axes, b_axes = axes
    letters = iter(_LETTERS)
    a_labels = [next(letters) for _ in range(rank_a)]
    b_labels = [None] * rank_b
    for i, j in zip(a_axes, b_axes):
        b_labels[j] = a_labels[i]
    b_labels = [c if c is not None else next(letters) for c in b_labels]
    out = [c for i, c in enumerate(a_labels) if i not in a_axes] + \
        [c for j, c in enumerate(b_labels) if j not in b_axes]
    return "".join(a_labels) + "," + "".join(b_labels) + "->" + "".join(out)


# A primitive of its own (not an einsum) for speed: NumPy's tensordot goes straight to BLAS.
@primitive("tensordot", shape=_tensordot_rule)
def _tensordot(xp, a, b, axes):
    return xp.tensordot(a, b, axes=axes)


@_tensordot.def_vjp
def _(g, out, a, b, axes):
    return _einsum_vjp(g, out, a, b, equation=_tensordot_equation(a.ndim, b.ndim, axes))


def _axes_list(value, rank, op, what):
    if _is_tensor_like(value):
        value = value.numpy().tolist()
    items = [value] if isinstance(value, (int, np.integer)) else list(value)
    out = []
    for v in items:
        try:
            v = int(v.__index__())
        except (AttributeError, TypeError):
            raise TypeError(f"{op}: {what} must hold ints, got {value!r}.") from None
        if not -rank <= v < rank:
            raise InvalidArgumentError(f"{op}: {what} {v} is out of range for a tensor of rank "
                                       f"{rank} (valid: [{-rank}, {rank})).")
        out.append(v % rank)
    return tuple(out)


def tensordot(a, b, axes, name=None):
    """Sums the products of `a`'s and `b`'s elements over the given axes.

    `axes` is an int N (the last N axes of `a` with the first N of `b`) or a pair
    `[a_axes, b_axes]` of ints or lists of ints.

    Example:
        >>> dtf.tensordot(dtf.ones((2, 3)), dtf.ones((3, 4)), axes=1).shape
        TensorShape([2, 4])
    """

    a, b = binary_args("tensordot", a, b)
    ra, rb = a.ndim, b.ndim
    if _is_tensor_like(axes):
        axes = axes.numpy().tolist()
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0:
            raise ValueError(f"tensordot: `axes` must be at least 0, got {n}.")
        if n > ra or n > rb:
            raise ValueError(f"tensordot: `axes` must not be larger than the number of "
                             f"dimensions of tensor {a.shape if n > ra else b.shape}. Received "
                             f"{n}, vs tensor dimensions {ra if n > ra else rb}.")
        a_axes, b_axes = tuple(range(ra - n, ra)), tuple(range(n))
    else:
        try:
            pair = list(axes)
        except TypeError:
            raise TypeError(f"tensordot: `axes` must be an int or a pair of lists, got "
                            f"{axes!r}.") from None
        if len(pair) != 2:
            raise ValueError(f"tensordot: `axes` must be an integer or have length 2. Received "
                             f"{axes!r}.")
        a_axes = _axes_list(pair[0], ra, "tensordot", "axes[0]")
        b_axes = _axes_list(pair[1], rb, "tensordot", "axes[1]")
        if len(a_axes) != len(b_axes):
            raise InvalidArgumentError(f"tensordot: axes[0] {list(a_axes)} and axes[1] "
                                       f"{list(b_axes)} must have the same length.")
        if len(set(a_axes)) != len(a_axes) or len(set(b_axes)) != len(b_axes):
            raise InvalidArgumentError(f"tensordot: repeated axis in {axes!r}.")
    for i, j in zip(a_axes, b_axes):
        if a.shape[i] is not None and b.shape[j] is not None and a.shape[i] != b.shape[j]:
            raise InvalidArgumentError(
                f"tensordot: cannot contract axis {i} of a (shape {a.shape}) with axis {j} of b "
                f"(shape {b.shape}): sizes {a.shape[i]} and {b.shape[j]} differ (dtype "
                f"{a.dtype.name}).")
    return run(_tensordot, (a, b), axes=(a_axes, b_axes))


# -- norm -----------------------------------------------------------------------------------------
_MATRIX_ORDS = ("euclidean", "fro", 1, 2, np.inf)


def _is_number(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):
    """Vector and matrix norms, as `tf.norm`.

    `axis` None (the whole tensor as a vector), an int (vectors along it) or a pair of ints
    (matrices). Vector `ord`: 'euclidean', 1, 2, np.inf or any p > 0; matrix `ord`:
    'fro'/'euclidean', 1, 2 (largest singular value) or np.inf. The gradient of the euclidean
    norm at zero is NaN, as TensorFlow's.

    Example:
        >>> dtf.norm(dtf.constant([3., 4.]))
        <dtf.Tensor: shape=(), dtype=float32, numpy=5.0>
    """

    if _is_tensor_like(axis):
        axis = axis.numpy().tolist()
    is_matrix = isinstance(axis, (tuple, list)) and len(axis) == 2
    ord_text = ord if isinstance(ord, str) else repr(ord)
    if is_matrix:
        axis = tuple(axis)
        if not all(isinstance(a, (int, np.integer)) for a in axis) or axis[0] == axis[1]:
            raise ValueError(f"norm: 'axis' must be None, an integer, or a tuple of 2 unique "
                             f"integers, got {axis}")
        if not any(ord == o and type(ord) is type(o) or (_is_number(ord) and _is_number(o)
                                                        and ord == o) for o in _MATRIX_ORDS):
            raise ValueError(f"norm: 'ord' must be a supported matrix norm in ['euclidean', "
                             f"'fro', 1, 2, inf], got {ord_text}")
    else:
        if isinstance(axis, (tuple, list)) and len(axis) == 1:
            axis = axis[0]
        if not (axis is None or isinstance(axis, (int, np.integer))):
            raise ValueError(f"norm: 'axis' must be None, an integer, or a tuple of 2 unique "
                             f"integers, got {axis}")
        valid = ord == "euclidean" or (ord == "fro" and axis is None) or (
            _is_number(ord) and ord > 0)
        if not valid:
            raise ValueError(f"norm: 'ord' must be a supported vector norm, got {ord_text}")
    x = _tensor(tensor)
    if x.dtype._kind not in "fc":
        raise InvalidArgumentError(f"norm: needs a floating-point or complex tensor, got "
                                   f"{x.dtype.name} (shape {x.shape}); use dtf.cast. [Op:Norm]")
    keepdims = bool(keepdims)
    rank = x.ndim
    if is_matrix:
        a0, a1 = (int(rules.normalize_axes(a, rank, "norm")[0]) for a in axis)
        axes = (a0, a1)
    else:
        axes = None if axis is None else rules.normalize_axes(axis, rank, "norm")

    if ord in ("euclidean", "fro") or (_is_number(ord) and ord == 2 and not is_matrix):
        return sqrt(reduce_sum(x * conj(x), axis=axes, keepdims=keepdims))
    if is_matrix and ord == 2:
        # The largest singular value: sqrt of the largest eigenvalue of A^H A.
        batch = [i for i in range(rank) if i not in axes]
        letters = _LETTERS[:rank]
        moved = "".join(letters[i] for i in batch) + letters[a0] + letters[a1]
        matrices = _einsum_internal(f"{letters}->{moved}", x) if moved != letters else x
        from dtf.ops.matrix_ops import eigvalsh  # matrix_ops builds on this module

        gram = matmul(matrices, matrices, adjoint_a=True)
        if x.dtype.is_complex:
            top = reduce_max(eigvalsh(gram), axis=-1)
            result = sqrt(real(top))
        else:
            result = sqrt(reduce_max(eigvalsh(gram), axis=-1))
        if keepdims:
            for a in sorted(axes):
                result = expand_dims(result, a)
        return result
    magnitude = abs_(x)
    if ord == 1:
        if is_matrix:  # the largest column sum
            return reduce_max(reduce_sum(magnitude, axis=a0, keepdims=True), axis=axes,
                              keepdims=keepdims)
        return reduce_sum(magnitude, axis=axes, keepdims=keepdims)
    if ord == np.inf:
        if is_matrix:  # the largest row sum
            return reduce_max(reduce_sum(magnitude, axis=a1, keepdims=True), axis=axes,
                              keepdims=keepdims)
        return reduce_max(magnitude, axis=axes, keepdims=keepdims)
    p = float(ord)
    return pow_(reduce_sum(pow_(magnitude, p), axis=axes, keepdims=keepdims), 1.0 / p)


def normalize(tensor, ord="euclidean", axis=None, name=None):
    """(tensor / norm, norm), the norm taken with keepdims=True.

    Example:
        >>> unit, length = dtf.linalg.normalize(dtf.constant([3., 4.]))
    """

    x = _tensor(tensor)
    length = norm(x, ord=ord, axis=axis, keepdims=True)
    length = cast(length, x.dtype)
    return x / length, length


def global_norm(t_list, name=None):
    """sqrt(sum of the squared L2 norms) of a list of tensors (None entries are skipped).

    Example:
        >>> dtf.linalg.global_norm([dtf.ones((2,)), dtf.ones((2, 2))])
        <dtf.Tensor: shape=(), dtype=float32, numpy=2.4494898>
    """

    if isinstance(t_list, (str, bytes)) or not hasattr(t_list, "__iter__") \
            or _is_tensor_like(t_list):
        raise TypeError(f"global_norm: t_list must be a sequence of tensors, got {t_list!r}.")
    tensors = [_tensor(t) for t in t_list if t is not None]
    if not tensors:
        raise ValueError("global_norm: t_list holds no tensors.")
    return sqrt(add_n([reduce_sum(t * t) for t in tensors]))


def cross(a, b, name=None):
    """The cross product of 3-vectors along the last axis.

    Example:
        >>> dtf.linalg.cross(dtf.constant([1., 0., 0.]), dtf.constant([0., 1., 0.]))
        <dtf.Tensor: shape=(3,), dtype=float32, numpy=array([0., 0., 1.], dtype=float32)>
    """

    a, b = binary_args("cross", a, b)
    if a.ndim < 1 or a.shape[-1] not in (3, None) or b.ndim < 1 or b.shape[-1] not in (3, None):
        raise InvalidArgumentError(f"cross: both inputs need a last dimension of 3, got shapes "
                                   f"{a.shape} and {b.shape}.")
    if a.ndim != b.ndim or any(p is not None and q is not None and p != q
                               for p, q in zip(a.shape, b.shape)):
        raise InvalidArgumentError(f"cross: inputs must have the same shape, got {a.shape} and "
                                   f"{b.shape}.")
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
