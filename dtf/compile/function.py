"""`dtf.function`: trace a Python function of tensors into a graph, optimise it, run it fast.

Calling a `Function` looks up a `ConcreteFunction` by the call's signature (the shape and dtype
of every tensor argument; other Python arguments by value) and traces a new one on a miss: the
Python function runs once on symbolic placeholders while a `GraphBuilder` collects every op it
makes, in program order (Variable reads and assignments, random draws and optimizer steps
included, see `dtf.compile.context`). The graph then goes through the passes (constant folding,
common subexpressions, dead code, then the executor's simplification, fusion and buffer reuse)
and is lowered to a plan of generated code that calls the backend's kernels directly.

Python side effects of the function (`print`, appending to a list) happen while it is traced,
once per trace; `dtf.print` and Variable updates happen on every call, as in TensorFlow.

Example:
    >>> @dtf.function
    ... def f(x):
    ...     return x * x + 1.0
    >>> f(dtf.constant([1.0, 2.0])).numpy()
    array([2., 5.], dtype=float32)
    >>> f.experimental_get_tracing_count()
    1
"""

from __future__ import annotations

import collections
import functools
import logging
import weakref

import numpy as np

from dtf import dtypes
from dtf.autodiff import state as _tape_state
from dtf.compile import context, cuda_graph, symbolic, tracing
from dtf.compile import graph as _graph
from dtf.tensor import Tensor
from dtf.tensor_spec import TensorSpec

__all__ = ["ConcreteFunction", "Function", "function"]

_logger = logging.getLogger("dtf")


def function(func=None, input_signature=None, autograph=True, jit_compile=None,
             reduce_retracing=False, experimental_relax_shapes=None, name=None, **unused):
    """Compiles `func` into a graph function, as `tf.function` (usable as a decorator).

    Args:
        func: the Python function (or method) to compile.
        input_signature: a list of `dtf.TensorSpec` (nested structures allowed), one per
            positional argument: the function is traced once, for every call matching it (None
            dims match any size).
        autograph: accepted for TensorFlow compatibility. Python `if`/`while` on a symbolic
            tensor raise an error that names `dtf.cond` / `dtf.while_loop`.
        jit_compile: accepted for compatibility; every dtf.function is compiled.
        reduce_retracing: trace once more with relaxed shapes (None where calls differ)
            instead of once per new shape.
        experimental_relax_shapes: the old name of `reduce_retracing`.
        name: the function's name in graphs, errors and exports.

    Example:
        >>> @dtf.function(input_signature=[dtf.TensorSpec([None], dtf.float32)])
        ... def double(x):
        ...     return 2.0 * x
        >>> double(dtf.constant([1.0, 2.0])).numpy()
        array([2., 4.], dtype=float32)
    """
    if experimental_relax_shapes is not None:
        reduce_retracing = reduce_retracing or bool(experimental_relax_shapes)

    def decorate(f):
        if isinstance(f, Function):
            return f
        return functools.update_wrapper(
            Function(f, name=name, input_signature=input_signature,
                     reduce_retracing=reduce_retracing, jit_compile=jit_compile,
                     autograph=autograph), f, updated=())

    return decorate if func is None else decorate(func)


# -- call signatures ------------------------------------------------------------------------------
class _Leaf:
    """A tensor argument's place in the call structure (a spec, without the value)."""

    __slots__ = ("spec",)

    def __init__(self, spec):
        self.spec = spec


def _encode(value, leaves, relaxed=None):
    """A hashable key for `value`'s structure and Python values; its tensors (Tensors and NumPy
    arrays) are appended to `leaves`, their (shape, dtype) in the key. When `relaxed` is a list,
    it gets one entry per leaf: the TensorSpec a composite gives that component (its lengths
    that vary with the data are None, so the key and the trace serve them all), or None."""
    t = type(value)
    if t is Tensor or isinstance(value, Tensor):
        leaves.append(value)
        if relaxed is not None:
            relaxed.append(None)
        return ("T", value._value.shape, value._value.dtype.str)
    if t is np.ndarray:
        leaves.append(value)
        if relaxed is not None:
            relaxed.append(None)
        return ("T", value.shape, value.dtype.str)
    if t is tuple or t is list:
        return (t.__name__,) + tuple(_encode(v, leaves, relaxed) for v in value)
    if t is dict or isinstance(value, dict):
        return ("dict",) + tuple((k, _encode(value[k], leaves, relaxed))
                                 for k in _sorted_keys(value))
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (t,) + tuple(_encode(v, leaves, relaxed) for v in value)
    if value is None or t in (bool, int, float, str, bytes, complex):
        return (t.__name__, value)
    if hasattr(value, "_dtf_components"):  # RaggedTensor, SparseTensor: tensors + type spec
        components = value._dtf_components()
        specs = (value._dtf_component_specs() if hasattr(value, "_dtf_component_specs")
                 else [None] * len(components))
        parts = []
        for c, spec in zip(components, specs):
            parts.append(_encode(c, leaves, relaxed))
            if spec is not None:  # keyed by the spec, not by this value's lengths
                parts[-1] = ("T", tuple(spec.shape.as_list()), parts[-1][2])
                if relaxed is not None:
                    relaxed[-1] = spec
        return ("composite", value._dtf_type_spec()) + tuple(parts)
    if getattr(value, "_is_symbolic", False):
        raise TypeError(
            f"A dtf.function was called with the symbolic tensor {value.name} (shape "
            f"{value.shape}). Symbolic tensors (keras.Input) have no value to run on; call the "
            "function with Tensors or NumPy arrays, or call it inside another dtf.function.")
    if isinstance(value, TensorSpec):
        return ("spec", value)
    if isinstance(value, np.generic):
        return ("np", value.dtype.str, value.item())
    if isinstance(value, (dtypes.DType,)):
        return ("dtype", value.name)
    # any other object (a Variable, a layer, a callable): by identity, as TensorFlow does
    return ("object", id(value))


def _sorted_keys(d):
    try:
        return sorted(d)
    except TypeError:
        return list(d)


def _spec_of_leaf(x, name=None):
    if isinstance(x, Tensor):
        return TensorSpec(x._value.shape, x.dtype, name)
    return TensorSpec(x.shape, dtypes.as_dtype(x.dtype), name)


def _arg_names(python_function, n):
    import inspect

    try:
        params = list(inspect.signature(python_function).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [names[i] if i < len(names) else f"arg_{i}" for i in range(n)]


# -- running functions eagerly (debugging) ----------------------------------------------------
_run_eagerly = [False]


def run_functions_eagerly(run_eagerly: bool) -> None:
    """Makes every `dtf.function` call its Python function directly (for debugging with
    breakpoints and prints), as `tf.config.run_functions_eagerly`."""
    _run_eagerly[0] = bool(run_eagerly)


def functions_run_eagerly() -> bool:
    return _run_eagerly[0]


# -- frequent retracing ------------------------------------------------------------------------
_TRACE_WARNING_THRESHOLD = 5
_CALL_HISTORY = 10
_trace_history: dict = {}  # id(python function) -> deque of "this call traced" flags
_warned: set = set()


def _note_call(python_function, traced, name):
    """Warns as TensorFlow does when most of a function's recent calls retraced."""
    key = id(getattr(python_function, "__func__", python_function))
    history = _trace_history.get(key)
    if history is None:
        if not traced:
            return
        history = _trace_history[key] = collections.deque(maxlen=_CALL_HISTORY)
    history.append(traced)
    traces = sum(history)
    if traced and traces >= _TRACE_WARNING_THRESHOLD and key not in _warned:
        _warned.add(key)
        _logger.warning(
            "%d out of the last %d calls to %s triggered dtf.function retracing. Tracing is "
            "expensive and the excessive number of tracings could be due to (1) creating "
            "@dtf.function repeatedly in a loop, (2) passing tensors with different shapes, (3) "
            "passing Python objects instead of tensors. For (1), please define your "
            "@dtf.function outside of the loop. For (2), @dtf.function has "
            "reduce_retracing=True option that can avoid unnecessary retracing. For (3), pass "
            "numbers that change as dtf.constant(...) so that they do not enter the signature.",
            traces, len(history), name)


# -- the polymorphic function ------------------------------------------------------------------
class Function:
    """A Python function compiled into graphs, one per input signature (see `dtf.function`)."""

    def __init__(self, python_function, name=None, input_signature=None,
                 reduce_retracing=False, jit_compile=None, autograph=True):
        if not callable(python_function):
            raise TypeError(f"dtf.function expects a callable, got {python_function!r}")
        self._python_function = python_function
        self._name = name or getattr(python_function, "__name__", "function")
        self._reduce_retracing = bool(reduce_retracing)
        self._jit_compile = jit_compile
        self._autograph = autograph
        self._input_signature = None
        if input_signature is not None:
            self._input_signature = _check_signature(input_signature, self._name)
        self._concrete = {}  # call key -> ConcreteFunction
        self._fast = {}  # ((shape, dtype str), ...) of positional Tensors -> ConcreteFunction
        self._relaxed = []  # (structure key, ConcreteFunction) traced with relaxed shapes
        self._tracing_count = 0
        self._bound = None  # per-instance Functions of a method: {id(instance): Function}

    # -- attributes --------------------------------------------------------------------------
    @property
    def python_function(self):
        return self._python_function

    @property
    def input_signature(self):
        return self._input_signature

    @property
    def name(self):
        return self._name

    def experimental_get_tracing_count(self) -> int:
        """How many times the Python function was traced."""
        return self._tracing_count

    def __repr__(self):
        return f"<dtf.function {self._name}>"

    # -- methods -----------------------------------------------------------------------------
    def __get__(self, instance, owner):
        """`@dtf.function` on a method: one Function (and trace cache) per instance."""
        if instance is None:
            return self
        if self._bound is None:
            self._bound = weakref.WeakKeyDictionary() if _weakrefable(instance) else {}
        try:
            bound = self._bound.get(instance)
        except TypeError:  # unhashable instance
            bound = None
        if bound is None:
            method = self._python_function.__get__(instance, owner)
            bound = Function(method, name=self._name, reduce_retracing=self._reduce_retracing,
                             jit_compile=self._jit_compile, autograph=self._autograph)
            bound._input_signature = self._input_signature
            functools.update_wrapper(bound, method, updated=())
            try:
                self._bound[instance] = bound
            except TypeError:
                pass
        return bound

    # -- calling ------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if not kwargs:  # the common case: positional Tensors whose signature was seen before
            key = []
            for a in args:
                if type(a) is not Tensor:
                    break
                v = a._value
                key.append((v.shape, v.dtype))
            else:
                concrete = self._fast.get(tuple(key))
                if concrete is not None and not _run_eagerly[0]:
                    _note_call(self._python_function, False, self._name)
                    return concrete._call_flat(args)
        return self._call(args, kwargs)

    def _call(self, args, kwargs):
        if _run_eagerly[0]:
            return self._python_function(*args, **kwargs)
        if context.is_tracing():
            # called from another function being traced: its ops join that graph (inlined)
            return self._python_function(*args, **kwargs)
        if self._input_signature is not None:
            concrete, flat = self._signature_call(args, kwargs)
            _note_call(self._python_function, False, self._name)
            return concrete._call_flat(flat)
        leaves, relaxed = [], []
        key = _encode((args, kwargs), leaves, relaxed)
        concrete = self._concrete.get(key)
        traced = False
        if concrete is None:
            concrete = self._find_relaxed(key, leaves)
            if concrete is None:
                specs = [r if r is not None else _spec_of_leaf(x)
                         for x, r in zip(leaves, relaxed)]
                relaxed = self._maybe_relax(key, specs)
                concrete = self._trace(args, kwargs, relaxed)
                if relaxed is not specs:
                    self._relaxed.append((_structure_key(key), concrete))
                traced = True
            self._concrete[key] = concrete
            if not kwargs and all(type(a) is Tensor for a in args) and \
                    concrete._accepts_exactly(leaves):
                self._fast[tuple((a._value.shape, a._value.dtype) for a in args)] = concrete
        _note_call(self._python_function, traced, self._name)
        return concrete._call_flat(leaves)

    def _signature_call(self, args, kwargs):
        if kwargs:
            args = _bind_kwargs(self._python_function, args, kwargs, self._name)
        signature = self._input_signature
        if len(args) != len(signature):
            raise TypeError(
                f"dtf.function {self._name!r} has an input_signature of {len(signature)} "
                f"argument(s) but was called with {len(args)}: {signature}.")
        concrete = self._concrete.get("signature")
        if concrete is None:
            concrete = self._trace_specs(signature)
            self._concrete["signature"] = concrete
        return concrete, concrete._flatten_call(args)

    def _trace_specs(self, specs_structure, kwargs_specs=None):
        """Traces for a structure of TensorSpecs (input_signature, get_concrete_function);
        a composite's spec (RaggedTensorSpec) stands for its components' TensorSpecs."""
        flat = _component_specs(_flatten_specs(specs_structure))
        return self._trace(specs_structure, kwargs_specs or {}, flat, from_specs=True)

    def _find_relaxed(self, key, leaves):
        if not self._relaxed:
            return None
        structure = _structure_key(key)
        for other_structure, concrete in self._relaxed:
            if other_structure == structure and concrete._accepts(leaves):
                return concrete
        return None

    def _maybe_relax(self, key, specs):
        """With reduce_retracing, the specs relaxed against an earlier trace of the same
        structure (dims that differ become None)."""
        if not self._reduce_retracing:
            return specs
        structure = _structure_key(key)
        for other_key, concrete in self._concrete.items():
            if other_key == "signature" or _structure_key(other_key) != structure:
                continue
            old = concrete._input_specs
            if len(old) != len(specs) or any(a.dtype != b.dtype for a, b in zip(old, specs)):
                continue
            return [a.most_specific_compatible_type(b) for a, b in zip(old, specs)]
        return specs

    def _trace(self, args, kwargs, specs, from_specs=False):
        first = self._tracing_count == 0
        self._tracing_count += 1
        return tracing.trace(self._python_function, self._name, args, kwargs, specs,
                             allow_variable_creation=first, from_specs=from_specs)

    def get_concrete_function(self, *args, **kwargs):
        """The ConcreteFunction for these arguments (Tensors, arrays or `dtf.TensorSpec`s),
        traced now if needed; with an input_signature and no arguments, that signature's."""
        if self._input_signature is not None:
            if args or kwargs:
                self._signature_call(args, kwargs)  # checks they match
            concrete = self._concrete.get("signature")
            if concrete is None:
                concrete = self._concrete["signature"] = self._trace_specs(
                    self._input_signature)
            return concrete
        if any(isinstance(x, TensorSpec) or _is_composite_spec(x)
               for x in _flatten_specs((args, kwargs))):
            key = ("specs", _spec_key((args, kwargs)))
            concrete = self._concrete.get(key)
            if concrete is None:
                concrete = self._concrete[key] = self._trace(
                    args, kwargs, [s for s in _component_specs(_flatten_specs((args, kwargs)))
                                   if isinstance(s, TensorSpec)], from_specs=True)
            return concrete
        leaves, relaxed = [], []
        key = _encode((args, kwargs), leaves, relaxed)
        concrete = self._concrete.get(key)
        if concrete is None:
            concrete = self._concrete[key] = self._trace(
                args, kwargs, [r if r is not None else _spec_of_leaf(x)
                               for x, r in zip(leaves, relaxed)])
        return concrete

    def _list_all_concrete_functions(self):
        seen = []
        for c in self._concrete.values():
            if not any(c is s for s in seen):
                seen.append(c)
        return seen


def _weakrefable(obj):
    try:
        weakref.ref(obj)
        hash(obj)
        return True
    except TypeError:
        return False


def _structure_key(key):
    """A call key with tensor shapes blanked out: calls that differ only in shapes share it."""
    if isinstance(key, tuple):
        if len(key) == 3 and key[0] == "T":
            return ("T", len(key[1]), key[2])
        return tuple(_structure_key(k) for k in key)
    return key


def _flatten_specs(structure):
    from dtf import nest

    return nest.flatten(structure)


def _is_composite_spec(x):
    """A RaggedTensorSpec (or another composite's spec): it lists its components' TensorSpecs."""
    return hasattr(x, "_dtf_component_specs") and not hasattr(x, "_dtf_components")


def _component_specs(flat):
    """`flat` specs with each composite spec replaced by its components' TensorSpecs."""
    out = []
    for s in flat:
        out.extend(s._dtf_component_specs() if _is_composite_spec(s) else [s])
    return out


def _spec_key(structure):
    out = []
    for leaf in _flatten_specs(structure):
        if _is_composite_spec(leaf):
            out.append(("composite_spec", leaf._dtf_type_spec()))
        elif isinstance(leaf, TensorSpec):
            out.append(("spec", tuple(leaf.shape.dims) if leaf.shape.dims is not None else None,
                        leaf.dtype.name))
        else:
            out.append(_encode(leaf, []))
    return tuple(out)


def _check_signature(signature, name):
    from dtf import nest

    if not isinstance(signature, (list, tuple)):
        raise TypeError(f"dtf.function {name!r}: input_signature must be a list or tuple of "
                        f"dtf.TensorSpec, got {signature!r}.")
    for spec in nest.flatten(list(signature)):
        if not isinstance(spec, TensorSpec) and not _is_composite_spec(spec):
            raise TypeError(f"dtf.function {name!r}: every entry of input_signature must be a "
                            f"dtf.TensorSpec, got {spec!r}.")
    return tuple(signature)


def _bind_kwargs(python_function, args, kwargs, name):
    import inspect

    try:
        bound = inspect.signature(python_function).bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"dtf.function {name!r}: {e}") from None
    return tuple(bound.args)


# -- one traced graph ---------------------------------------------------------------------------
class ConcreteFunction:
    """One traced graph of a `Function`, for one input signature.

    Attributes:
        graph: the optimised `dtf.compile.graph.Graph` (print it to see its nodes).
        pass_report: what each graph pass and the executor's passes did.
        structured_input_signature: `(args, kwargs)` with a `dtf.TensorSpec` for each tensor.
        structured_outputs: the outputs as the Python function returned them (symbolic).
        variables / trainable_variables: the Variables the graph reads or writes.
    """

    def __init__(self, name, graph, input_specs, arg_structure, output_structure,
                 output_leaves, pass_report):
        self.name = name
        self.graph = graph
        self._input_specs = list(input_specs)
        self._arg_structure = arg_structure  # (args, kwargs) with _Leaf for each tensor
        self.structured_outputs = output_structure
        # flat outputs: ("graph", i), ("python", value) or ("composite", (cls, metadata,
        # [i, ...])) for a RaggedTensor/SparseTensor rebuilt from graph outputs i, ...
        self._output_leaves = output_leaves
        self.pass_report = pass_report
        self._plan = None
        self._single_output = (len(output_leaves) == 1 and output_leaves[0][0] == "graph"
                               and getattr(output_structure, "_is_symbolic", False))

    # -- description ------------------------------------------------------------------------
    @property
    def structured_input_signature(self):
        return _specs_structure(self._arg_structure)

    @property
    def inputs(self):
        return list(self.graph.inputs)

    @property
    def outputs(self):
        return [t for t in self.graph.outputs if getattr(t, "_is_symbolic", False)]

    @property
    def variables(self):
        return tracing.graph_variables(self.graph)

    @property
    def trainable_variables(self):
        return [v for v in self.variables if v.trainable]

    def pretty_printed_signature(self):
        args, kwargs = _specs_structure(self._arg_structure)
        parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
        return f"{self.name}({', '.join(parts)})"

    def __repr__(self):
        return f"<ConcreteFunction {self.pretty_printed_signature()}>"

    # -- calling -------------------------------------------------------------------------------
    def _accepts(self, leaves) -> bool:
        if len(leaves) != len(self._input_specs):
            return False
        for spec, x in zip(self._input_specs, leaves):
            v = x._value if isinstance(x, Tensor) else x
            if spec.dtype.as_numpy_dtype != v.dtype or not spec.shape.is_compatible_with(
                    v.shape):
                return False
        return True

    def _accepts_exactly(self, leaves) -> bool:
        return self._accepts(leaves) and all(s.shape.is_fully_defined()
                                             for s in self._input_specs)

    def _flatten_call(self, args, kwargs=None):
        """The tensor leaves of a call, checked against the signature (with clear errors)."""
        return tracing.match_arguments(self, args, kwargs or {})

    def __call__(self, *args, **kwargs):
        return self._call_flat(self._flatten_call(args, kwargs))

    def _call_flat(self, leaves):
        if _tape_state.active_tapes and _tape_state.current_thread_tapes():
            # an enclosing GradientTape: run op by op so that it records them (gradients
            # through a compiled function, of any order)
            values = self.graph.run(*[x if isinstance(x, Tensor) else Tensor(np.asarray(x))
                                      for x in leaves])
            return self._pack(values, wrap=False)
        plan = self._plan
        if plan is None:
            # on a GPU the plan replays as a CUDA graph (dtf.compile.cuda_graph); on the CPU
            # `wrap` returns it unchanged
            plan = self._plan = cuda_graph.wrap(tracing.lower(self.graph), self.graph)
            self.pass_report.update(getattr(plan, "report", {}) or {})
        arrays = [x._value if isinstance(x, Tensor) else x for x in leaves]
        out = plan(*arrays)
        if self._single_output:
            return Tensor(out[0])
        return self._pack(out, wrap=True)

    def _pack(self, values, wrap):
        from dtf import nest

        flat = []
        for kind, item in self._output_leaves:
            if kind == "graph":
                v = values[item]
                flat.append(Tensor(v) if wrap and not isinstance(v, Tensor) else v)
            elif kind == "composite":
                cls, metadata, positions = item
                parts = [values[i] for i in positions]
                if wrap:
                    parts = [p if isinstance(p, Tensor) else Tensor(p) for p in parts]
                flat.append(cls._dtf_from_components(parts, metadata))
            else:
                flat.append(item)
        if not nest.is_nested(self.structured_outputs):
            return flat[0] if flat else None
        return nest.pack_sequence_as(self.structured_outputs, flat)


def _specs_structure(arg_structure):
    def convert(x):
        if isinstance(x, _Leaf):
            return x.spec
        if isinstance(x, tracing.CompositeLeaves) and x.spec is not None:
            return x.spec  # a SparseTensorSpec of the signature, not its components
        if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
            return type(x)(convert(v) for v in x)
        if isinstance(x, dict):
            return {k: convert(v) for k, v in x.items()}
        return x

    args, kwargs = arg_structure
    return tuple(convert(a) for a in args), {k: convert(v) for k, v in kwargs.items()}


# keep the import of graph/symbolic/context for their side effects (the op table's handler)
_ = (_graph, symbolic, context)
