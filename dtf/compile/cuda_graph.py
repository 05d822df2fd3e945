"""Compiled functions on the GPU as CUDA graphs: captured once, then replayed in one launch.

A `dtf.function` lowers each traced graph to a plan (`dtf.compile.codegen`): straight-line
Python that calls CuPy op by op. On a GPU each of those calls is a kernel launch costing
microseconds of Python and driver time, which dominates a small training step. `wrap(plan,
graph)` (called by `ConcreteFunction` when a GPU backend is registered) returns a `GraphPlan`
that, per input signature (shapes, dtypes, device of the arrays):

1. first call: runs the plan as is (the warm-up: CuPy compiles and loads its kernels, the
   memory pool grows; none of that may happen during a capture);
2. second call: captures one run of the plan into a `cupy.cuda.Graph` (stream capture on a
   non-default stream, allocations from a memory pool private to the graph, so no other array
   can ever take memory the graph writes), then launches it;
3. later calls: copy the inputs into the graph's input buffers, `graph.launch(stream)`, and
   copy the outputs out.

Inputs, Variables and outputs. The graph reads private copies of its inputs and of every
Variable the function reads (`buffers`); each call copies the arguments in (device to
device), and a Variable's value only when it changed since the graph last saw it (someone
assigned it). The graph's last nodes copy the Variables' new values back into their read
buffers, so step after step the graph is self-contained. What a call returns, and the new
value of each Variable it wrote, is a *copy* of the graph's buffer (one device-to-device copy
each): the next replay overwrites those buffers, and dtf's Tensors are immutable, so handing
out the buffers themselves (aliasing) would let a later call change an earlier result.

Fallback. A plan is not captured, and runs plainly for that signature from then on, when:
- any input is not a CuPy array, or a Variable it touches is not on the GPU;
- its graph has a stateful node other than Variable assignments and optimizer steps: a random
  draw or dropout (a replay would repeat the captured numbers), `dtf.print`,
  `numpy_function`/`py_function`, a dataset iterator;
- the capture raises: a host synchronisation inside the plan (`int(x)` of a device value,
  `.get()`, a shape that depends on data such as `boolean_mask`, an optimizer whose learning
  rate comes from a callable or schedule returning host values:
  `keras/optimizers/device_step.py`), a host-to-device copy of an array (CuPy stages it in a pinned buffer it
  recycles, so a replay would read whatever that buffer holds later:
  `cupy_backend.capture_guard` makes it raise), or anything else CUDA refuses to capture. The
  Variables get back the values they had, and the plan runs plainly for this call and the
  later ones of this signature;
- the plan already holds `MAX_GRAPHS` graphs (each keeps the memory of a whole run of the plan
  in its private pool: a function called with many input shapes would fill the device).

Variables a stateful node writes (`assign_variable`, an optimizer step's slots and
`iterations`) get a fresh copy of their buffer after every replay, also when the step wrote
the buffer in place.

A known limit: Python state that a captured step read while it was captured (an optimizer's
plain-float hyperparameters, as opposed to those held in Variables) is frozen into the graph.
Keras optimizers keep the learning rate in a Variable (seen on every replay); changing
another hyperparameter attribute after the capture needs `dtf.config.set_cuda_graphs(False)`
or a new function.

Switch: `dtf.config.set_cuda_graphs(False)` turns capture off (calls then run plainly).

Example (on a machine with a GPU; the second call captures, the third replays):
    >>> @dtf.function
    ... def step(x):
    ...     return dtf.nn.relu(x @ w + b)
    >>> for _ in range(3):
    ...     y = step(x)  # doctest: +SKIP
    >>> step.get_concrete_function(x)._plan.stats  # doctest: +SKIP
    {'plain': 1, 'captured': 1, 'replayed': 1, 'fallbacks': 0}
"""

from __future__ import annotations

import logging

from dtf import backend as _backend

__all__ = ["MAX_GRAPHS", "UNCAPTURABLE", "GraphPlan", "wrap"]

_logger = logging.getLogger("dtf")

# Stateful primitives whose replay would not do what a run does (see the module docstring).
# Variable assignments and optimizer steps are capturable: they only change Variables, which
# the graph reads from and writes back to its buffers.
CAPTURABLE_STATEFUL = frozenset({"assign_variable", "optimizer_apply"})
# How many signatures of one plan may hold a captured graph (and its memory) at once.
MAX_GRAPHS = 8


def wrap(plan, graph):
    """`plan` as a `GraphPlan` when a GPU backend is registered, else `plan` itself (the CPU
    path pays nothing)."""
    if not _backend.accelerated[0]:
        return plan
    from dtf.backend import cupy_backend

    backend = cupy_backend.installed()
    if backend is None:
        return plan
    return GraphPlan(plan, graph, backend.xp)


def uncapturable_nodes(graph) -> list[str]:
    """Names of the graph's stateful nodes a CUDA graph cannot replay faithfully."""
    return sorted({node.prim.name for node in graph.nodes
                   if node.prim.stateful and node.prim.name not in CAPTURABLE_STATEFUL})


def written_variables(graph) -> list:
    """The Variables the graph's stateful nodes write (the attrs of `assign_variable` and of
    `optimizer_apply`: its `variables` and `writes`)."""
    seen, out = set(), []
    for node in graph.nodes:
        if node.prim.name not in CAPTURABLE_STATEFUL:
            continue
        for value in node.attrs.values():
            for v in value if isinstance(value, (tuple, list)) else (value,):
                if getattr(v, "_is_dtf_variable", False) and id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
    return out


UNCAPTURABLE = "uncapturable"


class _Captured:
    """One signature's graph: its buffers, and which Variable value each buffer mirrors."""

    __slots__ = (
        "graph",
        "inputs",
        "outputs",
        "pool",
        "stream",
        "synced",
        "variable_buffers",
        "variables",
        "written",
    )

    def __init__(self):
        self.graph = None


class GraphPlan:
    """A plan that runs as a CUDA graph on the GPU (see the module docstring).

    Inputs are first moved to the plan's device (`_placed`); calls that stay on the host, and
    every call while `dtf.config.cuda_graphs_enabled()` is False, run the wrapped plan
    directly. Attribute reads other than those below go to the plan
    (`source`, `report`, `graph`).

    Attributes:
        stats: counts of calls run plainly, captures, replays and fallbacks.
    """

    def __init__(self, plan, graph, cupy):
        from dtf.compile import tracing

        self._plan = plan
        self._cupy = cupy
        self._variables = tracing.graph_variables(graph)
        self._writes = {id(v) for v in written_variables(graph)}
        self._refused = uncapturable_nodes(graph)
        self._signatures: dict = {}  # key -> "warm" | UNCAPTURABLE | _Captured
        self.stats = {"plain": 0, "captured": 0, "replayed": 0, "fallbacks": 0}

    def __getattr__(self, name):
        plan = self.__dict__.get("_plan")
        if plan is None:  # copy/pickle probe an instance before __init__ ran
            raise AttributeError(name)
        return getattr(plan, name)

    def __call__(self, *arrays):
        from dtf import config

        cupy = self._cupy
        arrays = self._placed(arrays)
        if not arrays or self._refused or not config.cuda_graphs_enabled():
            return self._plain(arrays)
        key = []
        for a in arrays:
            if type(a) is not cupy.ndarray:
                return self._plain(arrays)
            key.append((a.shape, a.dtype.str, a.device.id))
        key = tuple(key)
        state = self._signatures.get(key)
        if state is None:  # the warm-up call
            self._signatures[key] = "warm"
            return self._plain(arrays)
        if state is UNCAPTURABLE:
            return self._plain(arrays)
        if state == "warm":
            if sum(isinstance(s, _Captured) for s in self._signatures.values()) >= MAX_GRAPHS:
                self._signatures[key] = UNCAPTURABLE
                return self._plain(arrays)
            captured = self._capture(arrays)
            if captured is None:
                self._signatures[key] = UNCAPTURABLE
                self.stats["fallbacks"] += 1
                return self._plain(arrays)
            self._signatures[key] = state = captured
            self.stats["captured"] += 1
        else:
            self.stats["replayed"] += 1
        return self._replay(state, arrays)

    def _placed(self, arrays):
        """The call's arrays on the device the plan runs on (a plan computes with one array
        module): the current device when it is a GPU (the default on a GPU machine) and the
        Variables it reads are not all on the host; under a CPU scope, the GPU its Variables
        live on if they do, else the CPU. Host inputs (a Keras batch) are copied to the GPU,
        device inputs to the host, as TensorFlow copies a function's inputs to its device."""
        cupy = self._cupy
        device = _backend.current_device()
        if device.device_type == "GPU" and self._variables and not any(
                type(v._value) is cupy.ndarray for v in self._variables):
            device = _backend.CPU0  # a model built under a CPU scope: the plan runs there
        if device.device_type != "GPU":
            device = None
            for v in self._variables:
                if type(v._value) is cupy.ndarray:
                    device = _backend.DeviceSpec("GPU", v._value.device.id)
                    break
            if device is None:
                if any(type(a) is cupy.ndarray for a in arrays):
                    return [_backend.to_device(a, _backend.CPU0) for a in arrays]
                return arrays
        moved = None
        for i, a in enumerate(arrays):
            if type(a) is cupy.ndarray and a.device.id == device.index:
                continue
            if getattr(a, "dtype", None) is None or a.dtype.kind == "O":
                continue  # strings stay on the host
            if moved is None:
                moved = list(arrays)
            moved[i] = _backend.to_device(a, device)
        return arrays if moved is None else moved

    def _plain(self, arrays):
        self.stats["plain"] += 1
        return self._plan(*arrays)

    # -- capture ----------------------------------------------------------------------------
    def _capture(self, arrays):
        cupy = self._cupy
        variables = self._variables
        if any(type(v._value) is not cupy.ndarray for v in variables):
            return None  # a Variable on the host: its reads would be host arrays in the graph
        device = arrays[0].device
        if any(a.device.id != device.id for a in arrays) or any(
                v._value.device.id != device.id for v in variables):
            return None
        from dtf.backend import cupy_backend

        c = _Captured()
        c.pool = cupy.cuda.MemoryPool()
        c.variables = variables
        saved = [v._value for v in variables]
        with device, cupy.cuda.using_allocator(c.pool.malloc):
            c.inputs = [cupy.empty_like(a) for a in arrays]
            c.variable_buffers = [cupy.empty_like(v) for v in saved]
            # the values go in on the caller's stream; the capture stream is non-blocking, so
            # wait for them before capturing
            for buffer, a in zip(c.inputs + c.variable_buffers, list(arrays) + saved):
                cupy.copyto(buffer, a)
            cupy.cuda.get_current_stream().synchronize()
            c.stream = cupy.cuda.Stream(non_blocking=True)
            for v, buffer in zip(variables, c.variable_buffers):
                v._value = buffer
            try:
                with c.stream, cupy_backend.capture_guard(cupy):
                    c.stream.begin_capture()
                    try:
                        outputs = self._plan(*c.inputs)
                        new_values = [v._value for v in variables]
                        for buffer, new in zip(c.variable_buffers, new_values):
                            if new is not buffer:  # the graph writes the new value back
                                cupy.copyto(buffer, new)
                    finally:
                        graph = c.stream.end_capture()
            except Exception as error:  # noqa: BLE001  (whatever CUDA refused to capture)
                for v, value in zip(variables, saved):
                    v._value = value
                _logger.info("dtf.function: not captured as a CUDA graph (%s: %s); running "
                             "it without one for this signature", type(error).__name__, error)
                return None
        for v, value in zip(variables, saved):
            v._value = value
        if any(o is not None and not isinstance(o, cupy.ndarray) for o in outputs):
            return None  # a host value computed at capture time would be frozen
        c.graph = graph
        c.outputs = list(outputs)
        # a Variable's buffer changed when the step put a new array there or declared it
        # writes it (an update made in place leaves `new is buf`, yet the buffer changed)
        c.written = [i for i, (new, buf) in enumerate(zip(new_values, c.variable_buffers))
                     if new is not buf or id(variables[i]) in self._writes]
        c.synced = list(saved)  # each buffer holds the value of this array
        graph.upload(c.stream)
        return c

    # -- replay -----------------------------------------------------------------------------
    def _replay(self, c, arrays):
        cupy = self._cupy
        stream = cupy.cuda.get_current_stream()
        for buffer, a in zip(c.inputs, arrays):
            cupy.copyto(buffer, a)
        synced = c.synced
        for i, v in enumerate(c.variables):
            value = v._value
            if value is not synced[i]:  # assigned since the graph last ran: copy it in
                if type(value) is not cupy.ndarray or value.shape != c.variable_buffers[i].shape:
                    return self._plain(arrays)
                cupy.copyto(c.variable_buffers[i], value)
                synced[i] = value
        c.graph.launch(stream)
        for i in c.written:
            fresh = c.variable_buffers[i].copy()
            c.variables[i]._value = fresh
            synced[i] = fresh
        return [o.copy() if o is not None else None for o in c.outputs]
