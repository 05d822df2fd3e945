"""Random ops with TensorFlow's global and op seed rules (`dtf.random`).

Seeds, as `tf.random.set_seed` documents them:

1. neither a global nor an op seed: fresh randomness on every call;
2. a global seed, no op seed: every call takes the next op seed from a sequence fixed by the
   global seed, so re-running `set_seed(s)` and then the same program gives the same numbers;
3. an op seed, no global seed: the global seed defaults to `DEFAULT_GRAPH_SEED` (87654321);
4. both: deterministic. Eager calls with the same seeds still give different numbers on every
   call: TensorFlow keeps a counter per kernel, that is per (op kind, dtypes, global seed, op
   seed), so `uniform(seed=1)` and `normal(seed=1)` count separately. `set_seed` resets every
   counter and the sequence of case 2.

Every call becomes an entropy tuple (global seed, op seed, counter) that seeds a NumPy
`Generator`; `_generator` is the one place where that happens, and picks the generator for the
array module of the device (a GPU backend registers its own with `register_generator`; without
one, numbers are drawn on the host and copied over, so they are the same on every device).

What is and is not in the op table:

- `normal`, `uniform`, `truncated_normal` take no tensor inputs, so eagerly they are creation
  functions like `zeros`, not primitives: they draw an array and wrap it. Inside a traced
  function, or for a shape given by symbolic values, they become the stateful `random_draw`
  primitive instead (its shape an int vector input). When `mean`/`stddev` (`minval`/`maxval`)
  are tensors, they are applied with dtf ops, so gradients flow to them as in TensorFlow (the
  reparameterisation trick), not to the random numbers.
- `shuffle` and `categorical` take a tensor, and must also work on symbolic tensors (Keras
  inputs, traced functions), so they are primitives (`random_shuffle`, `categorical`), declared
  non-differentiable as in TensorFlow (no gradient through a shuffle or a sample).

The implementations of these primitives read the seed state when they run, not when they are
traced, so a traced graph draws fresh numbers on every execution; they are therefore stateful:
graph passes must neither merge (CSE) nor constant-fold them: they are registered with
`stateful=True` (as is `dropout` of `dtf.nn`), and `Primitive.stateful` is what passes check.
A node's first draw is the one its trace reserved where it met the op (`reserve`), so a traced
function's calls give the numbers the same eager calls would, under the same `set_seed`. (Both
branches of a traced `dtf.cond` reserve one: the branch not taken keeps its reservation for the
first time it runs.)
"""

from __future__ import annotations

import itertools
import os
import threading

import numpy as np

from dtf import backend as _backend
from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops import registry
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ops.registry import Spec, primitive, run
from dtf.tensor import Tensor

__all__ = [
    "categorical",
    "normal",
    "set_seed",
    "shuffle",
    "stateless_normal",
    "stateless_truncated_normal",
    "stateless_uniform",
    "truncated_normal",
    "uniform",
]

DEFAULT_GRAPH_SEED = 87654321  # TensorFlow's default global seed when only an op seed is given
_MAXINT32 = 2**31 - 1


# -- seed state -------------------------------------------------------------------------------
class _SeedState:
    def __init__(self):
        self.lock = threading.Lock()
        self.global_seed: int | None = None
        self.auto_count = 0  # case 2: calls without an op seed since set_seed
        self.kernel_counts: dict[tuple, int] = {}  # case 3/4: per (kind, dtypes, seeds)


_state = _SeedState()


def set_seed(seed):
    """Sets the global random seed, and resets the sequences that depend on it.

    With a global seed, random ops without an op seed draw from a sequence fixed by it; ops with
    an op seed give a sequence fixed by both. Calling `set_seed` again with the same value
    restarts both, so the same program then gives the same numbers. `None` clears the seed.

    Example:
        >>> dtf.random.set_seed(1234)
        >>> a = dtf.random.uniform([2]); b = dtf.random.uniform([2], seed=1)
        >>> dtf.random.set_seed(1234)
        >>> bool(dtf.reduce_all(dtf.random.uniform([2]) == a))
        True
    """
    if seed is not None:
        seed = _seed_int(seed, "set_seed")
    with _state.lock:
        _state.global_seed = seed
        _state.auto_count = 0
        _state.kernel_counts.clear()


def _seed_int(seed, op):
    if isinstance(seed, Tensor) or getattr(seed, "_is_dtf_variable", False):
        seed = seed.numpy()
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        if isinstance(seed, (float, np.floating)) and float(seed).is_integer():
            return int(seed)
        raise TypeError(f"{op}: a seed must be an integer, got {seed!r} "
                        f"({type(seed).__name__}).")
    return int(seed)


def _truncate(seed):
    return seed % _MAXINT32  # TensorFlow keeps seeds in 31 bits


def _entropy(kind: tuple, op_seed):
    """The entropy of this call's random stream, or None for fresh randomness (TF's rules)."""
    with _state.lock:
        global_seed = _state.global_seed
        if global_seed is None and op_seed is None:
            return None  # case 1
        if op_seed is None:  # case 2: the next seed of the global sequence
            n = _state.auto_count
            _state.auto_count = n + 1
            return (_truncate(global_seed), 0, n)
        if global_seed is None:  # case 3
            global_seed = DEFAULT_GRAPH_SEED
        key = kind + (_truncate(global_seed), _truncate(op_seed))
        n = _state.kernel_counts.get(key, 0)
        _state.kernel_counts[key] = n + 1
        return (_truncate(global_seed), 1, _truncate(op_seed), n)  # cases 3 and 4


# -- draws reserved while tracing --------------------------------------------------------------
# A random node of a traced function takes its first numbers from the place in the seed
# sequences where the trace met it, and later ones from the sequences as they run on: so a
# traced function gives, call after call, the numbers the same calls would give eagerly, even
# when the trace also runs eager draws (a Keras layer building its weights between two random
# ops). The token is a plain int attribute of the node, so graphs stay plain data.
_reserved: dict = {}
_tokens = itertools.count(1)
_NOT_RESERVED = object()


def reserve(kind: tuple, op_seed):
    """Inside a trace: takes this draw's entropy now and returns the token its node carries
    (None outside a trace, where ops draw when called)."""
    if not registry.is_tracing():
        return None
    token = next(_tokens)
    _reserved[token] = _entropy(kind, op_seed)
    return token


def entropy_for(kind: tuple, op_seed, token):
    """The entropy a random node draws with: the one reserved by its trace, the first time it
    runs, and the next of its sequence after that."""
    if token is not None:
        entropy = _reserved.pop(token, _NOT_RESERVED)
        if entropy is not _NOT_RESERVED:
            return entropy
    return _entropy(kind, op_seed)


# -- generators: the device seam --------------------------------------------------------------
_generator_factories: dict = {}
_fresh: dict = {}


def register_generator(xp, factory) -> None:
    """Lets a backend draw on its device: `factory(entropy)` returns a generator with NumPy's
    `Generator` methods (`random`, `standard_normal`, `integers`, `permutation`) returning
    arrays of module `xp`; `entropy` is a tuple of non-negative ints, or None for fresh
    randomness."""
    _generator_factories[xp] = factory


def _numpy_generator(entropy):
    if entropy is None:
        gen = _fresh.get(np)
        if gen is None:
            gen = _fresh[np] = np.random.default_rng()
        return gen
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def _reseed_after_fork():
    _fresh.clear()  # a forked child must not repeat its parent's "fresh" numbers


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed_after_fork)


def _generator(xp, entropy):
    """(module the generator draws with, generator) for arrays of module `xp`."""
    factory = _generator_factories.get(xp)
    if factory is None and xp is not np:
        from dtf.backend import cupy_backend

        factory = cupy_backend.generator_factory(xp)  # cuRAND on the GPU, same seed rules
        if factory is not None:
            register_generator(xp, factory)
    if factory is not None:
        return xp, factory(entropy)
    return np, _numpy_generator(entropy)


def _to_module(xp, array):
    """Moves a host array drawn by the fallback generator to module `xp` (no-op for NumPy)."""
    if xp is np or isinstance(array, xp.ndarray):
        return array
    return xp.asarray(array)


def _to_generator_module(gp, array):
    """An input array as the generator's module sees it (host copy for the NumPy fallback)."""
    if gp is np:
        return _backend.backend_of(array).to_host(array)
    return array


def _wrap(xp, array):
    array = _to_module(xp, array)
    if type(array) is np.ndarray and array.ndim == 0:
        array = array[()]  # NumPy scalars for rank 0, as convert_to_tensor makes them
    return Tensor(_backend.place(array))


def _current_xp():
    return _backend.backend_for(_backend.current_device()).xp


# -- samplers (over the generator's module `gp`) ----------------------------------------------
def _unit_uniform(gp, gen, shape, dtype):
    """Uniform floats in [0, 1) of `dtype`, exactly representable (never rounds up to 1)."""
    if dtype in (dtypes.float32, dtypes.float64):
        return gen.random(shape, dtype=dtype._np)
    bits = np.finfo(dtype._np).nmant + 1  # float16: 11 significant bits
    return (gen.integers(0, 2**bits, size=shape, dtype=np.int32) * (2.0 ** -bits)).astype(
        dtype._np)


def _standard_normal(gp, gen, shape, dtype):
    if dtype in (dtypes.float32, dtypes.float64):
        return gen.standard_normal(shape, dtype=dtype._np)
    return gen.standard_normal(shape, dtype=np.float32).astype(dtype._np)


def _truncated_standard_normal(gp, gen, shape, dtype):
    """Standard normal values, each redrawn until it lies within 2 standard deviations."""
    z = gen.standard_normal(shape, dtype=np.float64).reshape(-1)
    bad = gp.flatnonzero(gp.abs(z) > 2.0)
    while bad.size:
        z[bad] = gen.standard_normal(bad.size, dtype=np.float64)
        bad = bad[gp.abs(z[bad]) > 2.0]
    return z.reshape(shape).astype(dtype._np)


def _draw(kind, op_seed, sampler, shape, dtype, *args):
    """Draws a creation op's array on the current device with TensorFlow's seed rules."""
    xp = _current_xp()
    gp, gen = _generator(xp, _entropy(kind, op_seed))
    return _wrap(xp, sampler(gp, gen, shape, dtype, *args))


# -- argument handling ------------------------------------------------------------------------
_FLOATS = (dtypes.float16, dtypes.float32, dtypes.float64)
_UNIFORM_DTYPES = _FLOATS + (dtypes.int32, dtypes.int64)


def _shape_arg(shape, op) -> tuple:
    if isinstance(shape, Tensor) or getattr(shape, "_is_dtf_variable", False):
        if shape.ndim != 1 or not shape.dtype.is_integer:
            raise InvalidArgumentError(
                f"{op}: shape must be a vector of int32 or int64, got a {shape.dtype.name} "
                f"tensor of shape {shape.shape}. [Op:{op}]")
        shape = shape.numpy().tolist()
    if hasattr(shape, "as_list"):
        if shape.rank is None or None in shape.as_list():
            raise ValueError(f"{op}: shape {shape} is not fully defined; random ops need every "
                             "dimension.")
        shape = shape.as_list()
    if not isinstance(shape, (list, tuple)):
        raise InvalidArgumentError(
            f"{op}: shape must be a vector of ints, got {shape!r} (a scalar). Write "
            f"[{shape!r}] for a vector of that length. [Op:{op}]")
    dims = []
    for d in shape:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            if isinstance(d, Tensor) and d.ndim == 0 and d.dtype.is_integer:
                d = int(d)
            else:
                raise InvalidArgumentError(f"{op}: shape must be a vector of ints, got "
                                           f"{list(shape)!r}. [Op:{op}]")
        if d < 0:
            raise InvalidArgumentError(f"{op}: Dimension {int(d)} must be >= 0 in shape "
                                       f"{list(shape)}. [Op:{op}]")
        dims.append(int(d))
    return tuple(dims)


def _dtype_arg(dtype, allowed, op):
    dtype = dtypes.as_dtype(dtype)
    if dtype not in allowed:
        names = ", ".join(repr(d) for d in allowed)
        raise ValueError(f"{op}: Argument `dtype` got invalid value {dtype!r}. Accepted dtypes "
                         f"are ({names}).")
    return dtype


def _float_dtype_arg(dtype, op):
    dtype = dtypes.as_dtype(dtype)
    if dtype.is_floating:
        return dtype
    if dtype.is_integer or dtype.is_bool:
        raise TypeError(f"{op}: dtype {dtype.name} is not a floating point type; {op} makes "
                        "float16, float32 or float64 values. For random integers use "
                        "dtf.random.uniform(shape, minval, maxval, dtype=dtf.int32).")
    raise InvalidArgumentError(f"{op}: dtype {dtype.name} is not supported; use float16, "
                               f"float32 or float64. [Op:{op}]")


def _is_tensor_like(v):
    return isinstance(v, Tensor) or getattr(v, "_is_dtf_variable", False) or \
        getattr(v, "_is_symbolic", False) or isinstance(v, (list, tuple, np.ndarray))


def _scale_shift(rnd, scale, shift, dtype, op):
    """rnd * scale + shift: on arrays for Python numbers, with dtf ops (so gradients reach them)
    when either is a tensor."""
    if not (_is_tensor_like(scale) or _is_tensor_like(shift)):
        if scale == 1 and shift == 0:
            return rnd
        if getattr(rnd, "_is_symbolic", False):
            return rnd * scale + shift
        v = rnd._value
        return Tensor(v * dtype._np.type(scale) + dtype._np.type(shift))
    from dtf.ops.math_ops import add, multiply

    scale = convert_to_tensor(scale, dtype=dtype)
    shift = convert_to_tensor(shift, dtype=dtype)
    _check_broadcast(rnd, scale, op)
    _check_broadcast(rnd, shift, op)
    return add(multiply(rnd, scale), shift)


def _check_broadcast(a, b, op):
    try:
        np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{op}: Incompatible shapes: {a.shape} (the random values) "
                                   f"vs. {b.shape} (a parameter); parameters must broadcast "
                                   f"to the shape. [Op:{op}]") from None


# -- draws inside traced graphs, and of shapes known only when they run ------------------------
def _uniform_int(gp, gen, shape, dtype, lo, hi):
    return gen.integers(lo, hi, size=shape, dtype=dtype._np)


_SAMPLERS = {"normal": _standard_normal, "truncated_normal": _truncated_standard_normal,
             "uniform": _unit_uniform, "uniform_int": _uniform_int}


def _random_draw_rule(shape, kind, dtype, seed, dims=None, bounds=(), reservation=None):
    if dims is not None:
        return Spec(tuple(dims), dtypes.as_dtype(dtype))
    n = None if shape.shape is None else shape.shape[0]
    return Spec(None if n is None else (None,) * n, dtypes.as_dtype(dtype))


@primitive("random_draw", shape=_random_draw_rule, differentiable=False,
           data_dependent_shape=True, stateful=True)
def _random_draw(xp, shape, kind, dtype, seed, dims=None, bounds=(), reservation=None):
    """Standard normal / truncated normal / unit uniform / uniform integer (`bounds` = (lo,
    hi)) values of a shape given as a tensor. The creation ops inside a traced function (and on
    symbolic shapes, `dtf.shape(x)[0]` in a Keras layer) become this stateful node, which draws
    fresh values each time it runs, reading the seed state then (`dims`: what is known of the
    shape statically; `reservation`: see `reserve`)."""
    dtype = dtypes.as_dtype(dtype)
    shape_dims = tuple(int(d) for d in _backend.backend_of(shape).to_host(shape).reshape(-1))
    if any(d < 0 for d in shape_dims):
        raise InvalidArgumentError(f"random_draw: Dimension must be >= 0 in shape "
                                   f"{list(shape_dims)}. [Op:{kind}]")
    gp, gen = _generator(xp, entropy_for((kind, dtype.name), seed, reservation))
    return _to_module(xp, _SAMPLERS[kind](gp, gen, shape_dims, dtype, *bounds))


def _symbolic_shape(shape):
    """Whether a shape argument involves values known only when a graph runs."""
    return getattr(shape, "_is_symbolic", False) or (
        isinstance(shape, (list, tuple)) and any(getattr(d, "_is_symbolic", False)
                                                 for d in shape))


def _draw_node(kind, seed, shape, dtype, op, bounds=()):
    """A `random_draw` node: for a shape known only when the graph runs, or for any draw inside
    a traced function (which must give new numbers on every call, not one constant)."""
    if _symbolic_shape(shape):
        from dtf.ops.dynamic_shapes import shape_arg

        dims, runtime = shape_arg(shape, op)
        if dims is not None and any(d is not None and d < 0 for d in dims):
            raise InvalidArgumentError(f"{op}: Dimension must be >= 0 in shape {list(dims)}. "
                                       f"[Op:{op}]")
    else:
        dims, runtime = _shape_arg(shape, op), None
    if runtime is None:
        runtime = convert_to_tensor(np.asarray(dims, dtype=np.int32).reshape(-1))
    return run(_random_draw, (runtime,), kind=kind, dtype=dtype.name, seed=seed,
               dims=None if dims is None else tuple(dims), bounds=tuple(bounds),
               reservation=reserve((kind, dtype.name), seed))


def _draw_any(kind, seed, shape, dtype, op):
    """`_draw` eagerly; a `random_draw` node in a traced function or for symbolic shapes."""
    if registry.is_tracing() or _symbolic_shape(shape):
        return _draw_node(kind, seed, shape, dtype, op)
    return _draw((kind, dtype.name), seed, _SAMPLERS[kind], _shape_arg(shape, op), dtype)


# -- creation ops -----------------------------------------------------------------------------
def normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Values from a normal distribution.

    Args:
        shape: a list of ints (or a 1-D int tensor).
        mean, stddev: numbers, or tensors broadcastable to `shape` (gradients flow to them).
        dtype: float16, float32 or float64.
        seed: the op seed (see `dtf.random.set_seed` for how it combines with the global one).

    Example:
        >>> dtf.random.normal(shape=(2, 2), mean=0.0, stddev=1.0).shape
        TensorShape([2, 2])
    """
    dtype = _float_dtype_arg(dtype, "normal")
    seed = None if seed is None else _seed_int(seed, "normal")
    rnd = _draw_any("normal", seed, shape, dtype, "normal")
    return _scale_shift(rnd, stddev, mean, dtype, "normal")


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Values from a normal distribution truncated to 2 standard deviations around `mean`:
    values beyond are dropped and drawn again.

    Example:
        >>> x = dtf.random.truncated_normal([1000], stddev=0.5)
        >>> bool(dtf.reduce_max(dtf.abs(x)) <= 1.0)
        True
    """
    dtype = _float_dtype_arg(dtype, "truncated_normal")
    seed = None if seed is None else _seed_int(seed, "truncated_normal")
    rnd = _draw_any("truncated_normal", seed, shape, dtype, "truncated_normal")
    return _scale_shift(rnd, stddev, mean, dtype, "truncated_normal")


def uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None):
    """Values from a uniform distribution on [minval, maxval).

    Floats: `maxval` defaults to 1, and `minval`/`maxval` may be tensors broadcastable to
    `shape`. Integers (int32, int64): `maxval` is required, both bounds are scalars and
    `minval < maxval`.

    Example:
        >>> x = dtf.random.uniform(shape=(2, 2), minval=0, maxval=10, dtype="int32")
        >>> x.dtype
        dtf.int32
    """
    dtype = _dtype_arg(dtype, _UNIFORM_DTYPES, "uniform")
    seed = None if seed is None else _seed_int(seed, "uniform")
    if dtype.is_integer:
        if maxval is None:
            raise ValueError(f"uniform: Must specify maxval for integer dtype {dtype!r}.")
        lo = convert_to_tensor(minval, dtype=dtype)
        hi = convert_to_tensor(maxval, dtype=dtype)
        for what, v in (("minval", lo), ("maxval", hi)):
            if v.ndim != 0:
                raise InvalidArgumentError(f"uniform: {what} must be 0-D for integer dtypes, "
                                           f"got shape {v.shape}. [Op:RandomUniformInt]")
        lo, hi = int(lo.numpy()), int(hi.numpy())
        if lo >= hi:
            raise InvalidArgumentError(f"uniform: Need minval < maxval, got {lo} >= {hi} "
                                       "[Op:RandomUniformInt]")
        if registry.is_tracing() or _symbolic_shape(shape):
            return _draw_node("uniform_int", seed, shape, dtype, "uniform", bounds=(lo, hi))
        return _draw(("uniform_int", dtype.name), seed, _uniform_int,
                     _shape_arg(shape, "uniform"), dtype, lo, hi)
    if maxval is None:
        maxval = 1
    rnd = _draw_any("uniform", seed, shape, dtype, "uniform")
    if _is_tensor_like(minval) or _is_tensor_like(maxval):
        from dtf.ops.math_ops import subtract

        lo = convert_to_tensor(minval, dtype=dtype)
        hi = convert_to_tensor(maxval, dtype=dtype)
        return _scale_shift(rnd, subtract(hi, lo), lo, dtype, "uniform")
    return _scale_shift(rnd, maxval - minval, minval, dtype, "uniform")


# -- shuffle ----------------------------------------------------------------------------------
def _same_rule(x, **attrs):
    return Spec(x.shape, x.dtype)


@primitive("random_shuffle", shape=_same_rule, differentiable=False, stateful=True)
def _random_shuffle(xp, x, seed=None, reservation=None):
    entropy = entropy_for(("shuffle", x.dtype.name), seed, reservation)
    if x.ndim == 0 or x.shape[0] <= 1:
        return x.copy()
    _, gen = _generator(xp, entropy)
    perm = _to_module(xp, gen.permutation(x.shape[0]))
    return x[perm]


def shuffle(value, seed=None, name=None):
    """Randomly shuffles a tensor along its first dimension (no gradient flows through it).

    Example:
        >>> x = dtf.random.shuffle(dtf.range(5))
        >>> sorted(x.numpy().tolist())
        [0, 1, 2, 3, 4]
    """
    x = convert_to_tensor(value)
    seed = None if seed is None else _seed_int(seed, "shuffle")
    return run(_random_shuffle, (x,), seed=seed,
               reservation=reserve(("shuffle", x.dtype.name), seed))


# -- categorical ------------------------------------------------------------------------------
def _categorical_rule(logits, num_samples, dtype, seed=None, reservation=None):
    batch = None if logits.shape is None else logits.shape[0]
    return Spec((batch, num_samples), dtype)


@primitive("categorical", shape=_categorical_rule, differentiable=False, stateful=True)
def _categorical(xp, logits, num_samples, dtype, seed=None, reservation=None):
    batch, classes = logits.shape
    if classes == 0:
        raise InvalidArgumentError(f"categorical: num_classes should be positive, got 0 (logits "
                                   f"shape [{batch}, 0]). [Op:Multinomial]")
    gp, gen = _generator(xp, entropy_for(("categorical", logits.dtype.name, dtype.name), seed,
                                         reservation))
    if batch == 0 or num_samples == 0:
        return xp.zeros((batch, num_samples), dtype=dtype._np)
    lg = _to_generator_module(gp, logits).astype(np.float64)
    top = gp.max(lg, axis=1, keepdims=True)
    top = gp.where(gp.isfinite(top), top, 0.0)  # a row of -inf: every class equally likely
    p = gp.exp(lg - top)
    p = gp.where(gp.sum(p, axis=1, keepdims=True) > 0, p, 1.0)
    cdf = gp.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]  # the last entry is exactly 1
    # One searchsorted for all rows: row i's CDF lives in [i, i + 1].
    offsets = gp.arange(batch, dtype=np.float64)[:, None]
    u = gen.random((batch, num_samples), dtype=np.float64)
    flat = gp.searchsorted((cdf + offsets).reshape(-1), (u + offsets).reshape(-1), side="right")
    idx = flat.reshape(batch, num_samples) - gp.arange(batch)[:, None] * classes
    out = gp.clip(idx, 0, classes - 1).astype(dtype._np)
    return _to_module(xp, out)


def categorical(logits, num_samples, dtype=None, seed=None, name=None):
    """Draws `num_samples` class indices per row of `logits` ([batch, num_classes]
    unnormalised log-probabilities); returns [batch, num_samples] int64 (or `dtype`).

    Example:
        >>> s = dtf.random.categorical(dtf.math.log([[0.5, 0.5]]), 5)
        >>> s.shape, s.dtype
        (TensorShape([1, 5]), dtf.int64)
    """
    logits = convert_to_tensor(logits)
    dtype = dtypes.int64 if dtype is None else _dtype_arg(dtype, (dtypes.int32, dtypes.int64),
                                                           "categorical")
    if not logits.dtype.is_floating:
        raise InvalidArgumentError(f"categorical: logits must be floating point, got "
                                   f"{logits.dtype.name} (shape {logits.shape}). Use "
                                   "dtf.cast(logits, dtf.float32). [Op:Multinomial]")
    if logits.shape.rank is not None and logits.shape.rank != 2:
        raise InvalidArgumentError(f"categorical: logits should be a matrix [batch, "
                                   f"num_classes], got shape {logits.shape}. [Op:Multinomial]")
    if isinstance(num_samples, Tensor):
        num_samples = num_samples.numpy()
    if isinstance(num_samples, (bool, np.bool_)) or not isinstance(
            num_samples, (int, np.integer)) and not (
            isinstance(num_samples, np.ndarray) and num_samples.ndim == 0
            and num_samples.dtype.kind in "iu"):
        raise TypeError(f"categorical: num_samples must be an integer, got {num_samples!r}.")
    num_samples = int(num_samples)
    if num_samples < 0:
        raise InvalidArgumentError(f"categorical: num_samples should be non-negative, got "
                                   f"{num_samples}. [Op:Multinomial]")
    seed = None if seed is None else _seed_int(seed, "categorical")
    return run(_categorical, (logits,), num_samples=num_samples, dtype=dtype, seed=seed,
               reservation=reserve(("categorical", logits.dtype.name, dtype.name), seed))


# -- stateless ops ----------------------------------------------------------------------------
def _stateless_seed(seed, op):
    s = convert_to_tensor(seed)
    if s.shape.as_list() != [2] or not s.dtype.is_integer:
        raise InvalidArgumentError(f"{op}: seed must be a shape [2] int32/int64 tensor, got "
                                   f"{s.dtype.name} of shape {s.shape}.")
    a, b = (int(v) for v in s.numpy())
    return (2, a % 2**64, b % 2**64)  # the 2 keeps these streams apart from the stateful ones


def _draw_stateless(seed, op, sampler, shape, dtype, *args):
    xp = _current_xp()
    gp, gen = _generator(xp, _stateless_seed(seed, op))
    return _wrap(xp, sampler(gp, gen, shape, dtype, *args))


def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None,
                     alg="auto_select"):
    """Normal values fully determined by `seed` (a pair of ints): the same seed, the same
    numbers, whatever `set_seed` says."""
    dtype = _float_dtype_arg(dtype, "stateless_normal")
    shape = _shape_arg(shape, "stateless_normal")
    rnd = _draw_stateless(seed, "stateless_normal", _standard_normal, shape, dtype)
    return _scale_shift(rnd, stddev, mean, dtype, "stateless_normal")


def stateless_truncated_normal(shape, seed, mean=0.0, stddev=1.0, dtype=dtypes.float32,
                               name=None, alg="auto_select"):
    """`truncated_normal` fully determined by `seed` (a pair of ints)."""
    dtype = _float_dtype_arg(dtype, "stateless_truncated_normal")
    shape = _shape_arg(shape, "stateless_truncated_normal")
    rnd = _draw_stateless(seed, "stateless_truncated_normal", _truncated_standard_normal,
                          shape, dtype)
    return _scale_shift(rnd, stddev, mean, dtype, "stateless_truncated_normal")


def stateless_uniform(shape, seed, minval=0, maxval=None, dtype=dtypes.float32, name=None,
                      alg="auto_select"):
    """`uniform` fully determined by `seed` (a pair of ints)."""
    dtype = _dtype_arg(dtype, _UNIFORM_DTYPES, "stateless_uniform")
    shape = _shape_arg(shape, "stateless_uniform")
    if dtype.is_integer:
        if maxval is None:
            if minval is not None:
                raise ValueError(f"stateless_uniform: Must specify maxval for integer dtype "
                                 f"{dtype!r}, or pass minval=None and maxval=None for the "
                                 "full range.")
            lo, hi = int(dtype.min), int(dtype.max) + 1
        else:
            lo = int(convert_to_tensor(minval, dtype=dtype).numpy())
            hi = int(convert_to_tensor(maxval, dtype=dtype).numpy())
        if lo >= hi:
            raise InvalidArgumentError(f"stateless_uniform: Need minval < maxval, got {lo} >= "
                                       f"{hi}.")
        return _draw_stateless(seed, "stateless_uniform", _uniform_int, shape, dtype, lo, hi)
    if maxval is None:
        maxval = 1
    rnd = _draw_stateless(seed, "stateless_uniform", _unit_uniform, shape, dtype)
    if _is_tensor_like(minval) or _is_tensor_like(maxval):
        from dtf.ops.math_ops import subtract

        lo = convert_to_tensor(minval, dtype=dtype)
        hi = convert_to_tensor(maxval, dtype=dtype)
        return _scale_shift(rnd, subtract(hi, lo), lo, dtype, "stateless_uniform")
    return _scale_shift(rnd, maxval - minval, minval, dtype, "stateless_uniform")
