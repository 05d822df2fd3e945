"""The fusion pass's GPU generator: a chain of elementwise nodes becomes one CUDA kernel.

A plan (`codegen.Plan`) runs on NumPy arrays as generated: one line per node, elementwise chains
computed into one buffer (`out=`). On CuPy arrays every such line is a kernel launch and a full
pass over memory, so for CuPy the plan is generated a second time (once, on its first call with
CuPy arrays; the NumPy plan is unchanged) with this pass on: every maximal group of elementwise
nodes whose intermediate results have a single consumer inside the group (and are neither graph
outputs nor handed to a stateful op) runs as one generated `cupy.RawModule` kernel at the place
of the group's last node. The CuPy plan also calls the kernels of `dtf.kernels` for the
primitives that have one (`impl_for`), and leaves the loss/gradient pairs of `fusion` to them.

The kernel's body is C++ from `EXPRESSIONS`, a table from each elementwise primitive to a C
expression of its operands, one statement per node, each result rounded to its node's dtype
(float16 is computed in float32 and rounded after every node, as NumPy does per operation).
Operands broadcast as the bias of a dense layer and the scalars of an optimizer do: each
external operand is the output's shape (read at ``[i]``), its trailing dims (a bias vector,
``[i % k]``) or one element (``[0]``); any other broadcast found when the plan runs takes the
unfused path (the nodes' own implementations, in order). Kernels are memoised by the chain's
structure, dtypes and operand layouts; compiled with ``--fmad=false`` so that no multiply-add is
contracted and results agree with the unfused ops to the last bits wherever the math library's
``exp``/``log``/... agree.

Example (the chain finder on a traced dense layer; runs without a GPU):
    >>> x = placeholder((None, 3))
    >>> w, b = dtf.constant(np.ones((3, 2), np.float32)), dtf.constant(np.ones(2, np.float32))
    >>> graph = Graph([x], [dtf.nn.relu(dtf.matmul(x, w) + b) * 2.0])
    >>> [[graph.nodes[i].prim.name for i in c.members] for c in find_chains(graph)]
    [['add', 'relu', 'multiply']]
"""

from __future__ import annotations

import hashlib

import numpy as np

from dtf.compile.passes import static_dtype

__all__ = ["EXPRESSIONS", "Chain", "FusedChain", "device_plan", "emit", "find_chains",
           "impl_for", "plan_chains"]

# primitive name -> C expression of its operands {0}, {1}, ... in the compute type `C` of the
# node's output (float for float16 and float32, double for float64, bool for bool).
EXPRESSIONS: dict[str, str] = {
    "add": "{0} + {1}",
    "subtract": "{0} - {1}",
    "multiply": "{0} * {1}",
    "divide": "{0} / {1}",
    "negative": "-{0}",
    "conj": "{0}",  # of a real dtype: the identity (VJPs call it on real values)
    "exp": "dtf_exp({0})",
    "log": "dtf_log({0})",
    "log1p": "dtf_log1p({0})",
    "expm1": "dtf_expm1({0})",
    "tanh": "dtf_tanh({0})",
    "erf": "dtf_erf({0})",
    "sin": "dtf_sin({0})",
    "cos": "dtf_cos({0})",
    "sqrt": "dtf_sqrt({0})",
    "rsqrt": "(C)1 / dtf_sqrt({0})",
    "reciprocal": "(C)1 / {0}",
    "square": "{0} * {0}",
    "abs": "dtf_abs({0})",
    "pow": "dtf_pow({0}, {1})",
    "squared_difference": "({0} - {1}) * ({0} - {1})",
    # NaN propagates through maximum/minimum/relu, as NumPy's maximum does
    "maximum": "({0} >= {1} || {0} != {0}) ? {0} : {1}",
    "minimum": "({0} <= {1} || {0} != {0}) ? {0} : {1}",
    "relu": "({0} > (C)0 || {0} != {0}) ? {0} : (C)0",
    "relu_grad": "{0} * (C)({1} > (C)0)",
    "sigmoid": "dtf_sigmoid({0})",
    "select": "{0} ? {1} : {2}",
    "cast": "(C)({0})",
    "greater": "{0} > {1}",
    "greater_equal": "{0} >= {1}",
    "less": "{0} < {1}",
    "less_equal": "{0} <= {1}",
    "equal": "{0} == {1}",
    "not_equal": "{0} != {1}",
    "logical_and": "{0} && {1}",
    "logical_or": "{0} || {1}",
    "logical_not": "!{0}",
}

_STORAGE = {np.dtype(np.float16): "dtf_half", np.dtype(np.float32): "float",
            np.dtype(np.float64): "double", np.dtype(np.bool_): "bool"}
_COMPUTE_C = {np.dtype(np.float16): "float", np.dtype(np.float32): "float",
              np.dtype(np.float64): "double", np.dtype(np.bool_): "bool"}
_FLOATS = frozenset(np.dtype(d) for d in (np.float16, np.float32, np.float64))

_HELPERS = r"""
template <> struct Io<bool> {
    typedef bool C;
    static __device__ __forceinline__ bool load(bool x) { return x; }
    static __device__ __forceinline__ bool store(bool x) { return x; }
    static __device__ __forceinline__ bool r(bool x) { return x; }
};
__device__ __forceinline__ float dtf_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double dtf_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float dtf_expm1(float x) { return expm1f(x); }
__device__ __forceinline__ double dtf_expm1(double x) { return expm1(x); }
__device__ __forceinline__ float dtf_sin(float x) { return sinf(x); }
__device__ __forceinline__ double dtf_sin(double x) { return sin(x); }
__device__ __forceinline__ float dtf_cos(float x) { return cosf(x); }
__device__ __forceinline__ double dtf_cos(double x) { return cos(x); }
__device__ __forceinline__ float dtf_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double dtf_abs(double x) { return fabs(x); }
__device__ __forceinline__ float dtf_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double dtf_pow(double x, double y) { return pow(x, y); }
// as dtf's sigmoid: exp(-|x|) never overflows
template <typename C> __device__ __forceinline__ C dtf_sigmoid(C x) {
    C e = dtf_exp(-dtf_abs(x));
    return x >= (C)0 ? (C)1 / ((C)1 + e) : e / ((C)1 + e);
}
"""


def _is_symbolic(x):
    return getattr(x, "_is_symbolic", False)


def _is_variable(x):
    return getattr(x, "_is_dtf_variable", False)


_BOOL_RESULTS = frozenset({"greater", "greater_equal", "less", "less_equal", "equal",
                           "not_equal", "logical_and", "logical_or", "logical_not"})
_BOOL = np.dtype(np.bool_)


def _fusable(node) -> bool:
    """Whether a node is elementwise with dtypes its C expression is written for: float
    arithmetic, comparisons of floats, logic on bools, a select on a bool condition, casts
    between floats or from bool (integers round and overflow differently in C)."""
    prim = node.prim
    name = prim.name
    if name not in EXPRESSIONS or prim.stateful or len(node.outputs) != 1:
        return False
    out = static_dtype(node.outputs[0])
    ins = [static_dtype(t) for t in node.inputs]
    if out not in _STORAGE or any(d not in _STORAGE for d in ins):
        return False
    if out == _BOOL:
        if name.startswith("logical_"):
            return all(d == _BOOL for d in ins)
        return name in _BOOL_RESULTS and all(d in _FLOATS for d in ins)
    if name in _BOOL_RESULTS:
        return False
    if name == "select":
        return ins[0] == _BOOL and ins[1] == out and ins[2] == out
    if name == "cast":
        return True  # from a float or bool (checked above) to a float
    return all(d == out for d in ins)


class Chain:
    """A group of elementwise nodes fused into one kernel.

    Attributes:
        members: the nodes' indices in program order; the last (`tail`) makes the output.
        externals: the values the group reads from outside it, in first-use order.
    """

    def __init__(self, members, externals):
        self.members = members
        self.externals = externals

    @property
    def tail(self):
        return self.members[-1]


# Elementwise primitives whose array implementation takes several passes (`relu_grad` is
# `g * (out > 0)`, `sigmoid` five ufuncs): worth a kernel of their own even alone.
_COMPOSITE = frozenset({"relu_grad", "sigmoid", "rsqrt", "reciprocal", "squared_difference"})


def find_chains(graph, consumers=None, escapes=None):
    """The maximal groups of fusable elementwise nodes of `graph`: two nodes or more, or one
    whose array implementation takes several passes (`_COMPOSITE`).

    A node's result is computed inside the group of the nodes reading it when all of them are
    in one group and it is neither a graph output nor handed to a stateful op (a value read
    twice, as `x` in `0.5 * x * (1 + erf(x / sqrt(2)))`, is still computed once per element).
    Walking the nodes backwards, every consumer's group is final when its producer is seen.

    `consumers` (id(value) -> node indices reading it) and `escapes` (ids of graph outputs
    and values handed to stateful ops) are the generator's analysis; computed when omitted.
    """
    nodes = graph.nodes
    if consumers is None or escapes is None:
        consumers, escapes = _analyse(graph)
    group_of: dict[int, list] = {}  # node index -> its group (a list shared by its members)
    for j in range(len(nodes) - 1, -1, -1):
        if not _fusable(nodes[j]):
            continue
        group_of[j] = [j]
        out = nodes[j].outputs[0]
        readers = consumers.get(id(out))
        if not readers or id(out) in escapes or any(c not in group_of for c in readers):
            continue
        groups = {id(group_of[c]): group_of[c] for c in readers}
        if len(groups) == 1:
            (group,) = groups.values()
            group.append(j)
            group_of[j] = group
    chains, seen = [], set()
    for group in group_of.values():
        if id(group) in seen or (len(group) < 2 and nodes[group[0]].prim.name not in _COMPOSITE):
            continue
        seen.add(id(group))
        chain = _chain(graph, sorted(group))
        if chain is not None:
            chains.append(chain)
    chains.sort(key=lambda c: c.tail)
    return chains


def _analyse(graph):
    consumers, escapes = {}, set()
    for i, node in enumerate(graph.nodes):
        for t in node.inputs:
            r = graph._resolve(t)
            if _is_symbolic(r):
                consumers.setdefault(id(r), set()).add(i)
                if node.prim.stateful:
                    escapes.add(id(r))
    for t in graph.outputs:
        escapes.add(id(graph._resolve(t)))
    return consumers, escapes


def _chain(graph, group):
    """The Chain of a group, or None when it cannot run as one kernel at its tail: a Variable
    read across a stateful node (an assignment could change it in between)."""
    nodes, resolve = graph.nodes, graph._resolve
    inside = {id(nodes[k].outputs[0]) for k in group}
    externals, seen = [], set()
    reads_variable = False
    for k in group:
        for t in nodes[k].inputs:
            r = resolve(t)
            if id(r) in inside or id(r) in seen:
                continue
            seen.add(id(r))
            externals.append(r)
            reads_variable = reads_variable or _is_variable(r)
    if reads_variable and any(nodes[k].prim.stateful for k in range(group[0], group[-1])):
        return None
    return Chain(list(group), externals)


# -- the plan's side (hooks called by `generator.Generator` when `device_fusion` is on) --------
def _has_kernel(name):
    from dtf import kernels

    return name in kernels._factories


def impl_for(prim):
    """What a CuPy plan calls for a primitive: its kernel in `dtf.kernels`, else its impl."""
    from dtf import kernels

    return kernels.get(prim.name) or prim.impl


def plan_chains(gen):
    """Finds the chains of the generator's graph and keeps every external operand of a chain
    alive until the chain's tail (the kernel runs there). The loss/gradient pairs of
    `fusion` are left to the cross-entropy kernels (one pass each, no host synchronisation)."""
    gen.pairs = {}
    chains = find_chains(gen.graph, gen.consumers, gen.escapes)
    gen.chain_of = {}
    for chain in chains:
        for k in chain.members:
            gen.chain_of[k] = chain
        for value in chain.externals:
            if _is_symbolic(value) and gen.last_use.get(id(value), -1) < chain.tail:
                gen.last_use[id(value)] = chain.tail
    gen.counts.setdefault("device_chains", 0)
    gen.counts.setdefault("device_fused_nodes", 0)


def emit(gen, i, node, args) -> bool:
    """Writes node `i` of a chain (nothing for an inner node, the kernel call for the tail),
    or a call of the kernel `dtf.kernels` has for its primitive (where the NumPy plan would
    inline array calls: `fused_dense` is one kernel besides the matmul, not two). Returns False
    for the other nodes, which the generator writes as for NumPy."""
    chain = gen.chain_of.get(i)
    if chain is None:
        if i in gen.pairs or i in gen.flat_steps or not _has_kernel(node.prim.name):
            return False
        gen._generic(i, node, args)  # binds `impl_for(prim)`: the kernel
        gen.counts["impl"] += 1
        return True
    out = node.outputs[0]
    gen.alias[id(out)] = frozenset()
    if i != chain.tail:
        return True
    fused = gen._bind(FusedChain(gen.graph, chain), "fused_chain")
    operands = ", ".join(gen._expr(v) for v in chain.externals)
    gen._emit(f"{gen._new_local(out)} = {fused}(xp, {operands})", i)
    gen._register_fresh(out)
    gen.counts["device_chains"] += 1
    gen.counts["device_fused_nodes"] += len(chain.members)
    return True


def device_plan(plan):
    """`plan` generated again with the chains fused, for CuPy arrays (a `codegen.Plan`)."""
    from dtf.compile.codegen import Plan
    from dtf.compile.generator import Generator

    gen = Generator(plan.graph, device_fusion=True)
    gen.generate()
    report = dict(plan.report)
    device = Plan(plan.graph, gen.source, gen.bindings, gen.node_of_line, gen.node_args,
                  gen.function_name, report)
    device._device_fused = True
    return device


# -- the kernels ---------------------------------------------------------------------------------
_kernels: dict = {}  # (structure, dtypes, layouts) -> CudaSource


class FusedChain:
    """Runs a chain: ``fused(xp, *externals)`` -> the tail's output array.

    The kernel is generated per layout of the operands (each full, trailing or one element);
    another broadcast runs the nodes' own implementations, in order.
    """

    def __init__(self, graph, chain):
        nodes, resolve = graph.nodes, graph._resolve
        position = {id(v): k for k, v in enumerate(chain.externals)}
        step_of = {}
        self.steps = []  # (prim, attrs, operand refs ("x", k) | ("s", j), out dtype)
        for k in chain.members:
            node = nodes[k]
            refs = []
            for t in node.inputs:
                r = resolve(t)
                refs.append(("s", step_of[id(r)]) if id(r) in step_of else ("x", position[id(r)]))
            step_of[id(node.outputs[0])] = len(self.steps)
            self.steps.append((node.prim, dict(node.attrs), tuple(refs),
                               static_dtype(node.outputs[0])))
        self.dtypes = tuple(static_dtype(v) for v in chain.externals)
        self.out_dtype = self.steps[-1][3]
        self.structure = tuple((p.name, tuple(refs), dt.str) for p, _, refs, dt in self.steps)
        self._device_constants: dict = {}

    def __call__(self, xp, *operands):
        operands = [self._on_device(xp, a) for a in operands]
        shape = np.broadcast_shapes(*(a.shape for a in operands))
        layouts = _layouts(operands, shape)
        if layouts is None or any(a.dtype != d for a, d in zip(operands, self.dtypes)):
            return self.unfused(xp, operands)
        out = xp.empty(shape, dtype=self.out_dtype)
        n = out.size
        if n == 0:
            return out
        source = self.source_for(layouts)
        from dtf.kernels._cuda import BLOCK, contiguous, grid

        extents = [np.int64(a.size) for a, lay in zip(operands, layouts) if lay == "t"]
        arrays = [contiguous(xp, a) for a in operands]
        source.function("dtf_chain", self.out_dtype)(
            grid(n), (BLOCK,), (*arrays, out, *extents, np.int64(n)))
        return out

    def _on_device(self, xp, a):
        """A constant bound into the plan as a host array, copied to the device once."""
        if isinstance(a, xp.ndarray):
            return a
        cached = self._device_constants.get(id(a))
        if cached is None or cached[0] is not a:
            cached = self._device_constants[id(a)] = (a, xp.asarray(a))
        return cached[1]

    def unfused(self, xp, operands):
        """The nodes' own implementations, one by one."""
        values = []
        for prim, attrs, refs, _ in self.steps:
            args = [operands[k] if kind == "x" else values[k] for kind, k in refs]
            values.append(prim.impl(xp, *args, **attrs))
        return values[-1]

    def source_for(self, layouts):
        """The memoised CudaSource of this chain for operand `layouts` ("f", "t", "s")."""
        key = (self.structure, tuple(d.str for d in self.dtypes), tuple(layouts))
        source = _kernels.get(key)
        if source is None:
            source = _kernels[key] = self.make_source(layouts)
        return source

    def make_source(self, layouts):
        """Generates the kernel's CUDA C++ for operand `layouts`."""
        from dtf.kernels._cuda import CudaSource

        params, loads = [], []
        extents = []
        for k, (dtype, layout) in enumerate(zip(self.dtypes, layouts)):
            storage = _STORAGE[dtype]
            params.append(f"const {storage}* a{k}")
            index = {"f": "i", "s": "0", "t": f"i % k{k}"}[layout]
            if layout == "t":
                extents.append(f"long long k{k}")
            loads.append(f"{_COMPUTE_C[dtype]} x{k} = Io<{storage}>::load(a{k}[{index}]);")
        body = []
        for j, (prim, attrs, refs, dtype) in enumerate(self.steps):
            names = [f"x{k}" if kind == "x" else f"s{k}" for kind, k in refs]
            expression = EXPRESSIONS[prim.name].format(*names)
            compute, storage = _COMPUTE_C[dtype], _STORAGE[dtype]
            body.append(f"{compute} s{j}; {{ typedef {compute} C; "
                        f"s{j} = Io<{storage}>::r((C)({expression})); }}")
        out_storage = _STORAGE[self.out_dtype]
        last = len(self.steps) - 1
        code = (_HELPERS + f'extern "C" __global__ void dtf_chain_{_suffix(self.out_dtype)}(\n'
                + ",\n".join(["    " + p for p in params] + [f"    {out_storage}* out"]
                             + ["    " + e for e in extents] + ["    long long n"])
                + ") {\n    DTF_GRID_LOOP(i, n) {\n"
                + "".join(f"        {line}\n" for line in loads + body)
                + f"        out[i] = Io<{out_storage}>::store(s{last});\n    }}\n}}\n")
        digest = hashlib.sha1(code.encode()).hexdigest()[:12]
        return CudaSource(f"chain_{digest}", code, entries=("dtf_chain",),
                          dtypes=(self.out_dtype,), options=("-std=c++17", "--fmad=false"),
                          declare=False)


def _suffix(dtype):
    from dtf.kernels._cuda import suffix

    return suffix(dtype)


def _layouts(operands, shape):
    """Each operand's layout against the output `shape`: "f" (the output's shape), "t" (its
    trailing dims: a bias), "s" (one element); None when one is another broadcast."""
    size = int(np.prod(shape, dtype=np.int64))
    layouts = []
    for a in operands:
        if a.size == 1 and size != 1:
            layouts.append("s")
            continue
        dims = tuple(a.shape)
        while dims and dims[0] == 1:
            dims = dims[1:]
        if a.size == size:
            layouts.append("f")
        elif dims and tuple(shape[len(shape) - len(dims):]) == dims:
            layouts.append("t")
        else:
            return None
    return layouts
