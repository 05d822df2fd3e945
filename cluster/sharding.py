"""Where each variable lives: the placement of variables (and their row shards) on PS.

`plan_placement` turns an ordered `{key: (shape, dtype)}` into a `Placement`:

- a variable whose partitioner asks for `k > 1` partitions along axis 0 (`k` capped by the
  number of parameter servers and by its row count) is cut into `k` row blocks as TensorFlow
  cuts a `ShardedVariable` (the first `rows % k` blocks get one extra row), block `j` keyed
  `f"{key}/part_{j}"`, the blocks on distinct servers;
- whole variables and blocks are spread over the servers balanced by bytes: largest first, each
  onto the least-loaded server (ties: lowest index; blocks of one variable skip servers already
  holding one of its blocks). The result depends only on the specs, so every process that plans
  the same specs gets the same placement.

`Placement.split` and `Placement.merge` route arrays (parameters, gradients) between the
variable view and the per-server view on every step, with slicing views and one concatenate.

Example:
    >>> import numpy as np
    >>> from dtf.distribute.partitioners import FixedShardsPartitioner
    >>> plan = plan_placement({"w": ((5, 2), np.float32), "b": ((1,), np.float32)}, num_ps=2,
    ...                       partitioner=FixedShardsPartitioner(2))
    >>> plan.parts("w")
    [('w/part_0', slice(0, 3, None)), ('w/part_1', slice(3, 5, None))]
    >>> [plan.keys_on(ps) for ps in range(2)]
    [['w/part_0'], ['w/part_1', 'b']]
    >>> per_ps = plan.split({"w": np.ones((5, 2), np.float32), "b": np.zeros(1, np.float32)})
    >>> plan.merge(per_ps)["w"].shape
    (5, 2)
"""

from __future__ import annotations

import heapq
import math
import numbers

import numpy as np

__all__ = ["Placement", "plan_placement"]

_FORMAT_VERSION = 1
_WHOLE = slice(None)


def plan_placement(specs, num_ps, partitioner=None):
    """Plans where each variable of `specs` lives on `num_ps` parameter servers.

    Args:
        specs: an ordered mapping `{key: (shape, dtype)}` (shape a tuple of ints, dtype anything
            `np.dtype` or a dtf `DType` names).
        num_ps: the number of parameter servers, a positive int.
        partitioner: None (no variable is split), or a callable
            `partitioner(shape, dtype, axis=0) -> [partitions per axis]`, such as
            `dtf.distribute.experimental.partitioners.MinSizePartitioner(...)`; only axis 0 may
            be partitioned.

    Returns:
        A `Placement`.

    Raises:
        ValueError: for a bad `num_ps`, shape, dtype, partitioner answer, or a part key that
            collides with another variable's key.

    Example:
        >>> plan = plan_placement({"a": ((4,), np.float32), "b": ((8,), np.float32)}, num_ps=2)
        >>> plan.server_of("b"), plan.server_of("a")
        (0, 1)
    """
    placement = Placement(_check_num_ps(num_ps), partitioner=partitioner)
    placement.extend(specs)
    return placement


class Placement:
    """The plan: which server holds each variable or row block, and how arrays are routed.

    Built by `plan_placement` (or `Placement.from_dict`). Keys are the variables' keys; part
    keys are the keys of what a server holds: the variable's own key when it is whole, else
    `f"{key}/part_{j}"`.
    """

    def __init__(self, num_ps, partitioner=None):
        self._num_ps = _check_num_ps(num_ps)
        self._partitioner = partitioner
        self._specs = {}  # key -> (shape, dtype) of the whole variable
        self._parts = {}  # key -> [(part_key, row_slice)]
        self._part_specs = {}  # part_key -> (shape, dtype)
        self._server = {}  # part_key -> ps index
        self._keys_on = [[] for _ in range(self._num_ps)]
        self._loads = [0] * self._num_ps
        # key -> (rows or None for a whole variable, [(ps, part_key, start, stop)]): the one
        # lookup `split` and `merge` do per variable.
        self._routes = {}

    # -- planning -----------------------------------------------------------------------------
    def extend(self, more_specs):
        """Places new variables without moving any placed one, balanced over current loads.

        Args:
            more_specs: an ordered mapping `{key: (shape, dtype)}` of keys not placed yet.

        Raises:
            ValueError: if a key (or one of its part keys) is already placed, or a spec is bad.
        """
        new = []  # (bytes, order, key, part_key, part_shape) of every whole variable or part
        pending_specs = {}
        pending_parts = {}
        taken = set(self._part_specs) | set(self._specs)
        for key, spec in _items(more_specs):
            if not isinstance(key, str):
                raise TypeError(f"Variable keys must be strings; received {key!r}.")
            shape, dtype = _check_spec(key, spec)
            if key in self._specs or key in pending_specs:
                raise ValueError(f"Variable {key!r} is already placed; keys must be unique.")
            k = self._num_parts(key, shape, dtype)
            parts = _row_parts(key, shape, k)
            for part_key, _ in parts:
                if part_key in taken:
                    raise ValueError(
                        f"Part key {part_key!r} of variable {key!r} collides with a key already "
                        "placed; rename one of the variables."
                    )
                taken.add(part_key)
            pending_specs[key] = (shape, dtype)
            pending_parts[key] = parts
            for part_key, rows in parts:
                part_shape = shape if rows is _WHOLE else (rows.stop - rows.start, *shape[1:])
                nbytes = math.prod(part_shape) * dtype.itemsize
                new.append((nbytes, len(new), key, part_key, part_shape))
        # Largest first onto the least-loaded server; a heap keyed (load, index) gives the
        # lowest index on ties. Parts of one variable go to distinct servers.
        heap = [(load, ps) for ps, load in enumerate(self._loads)]
        heapq.heapify(heap)
        used_by = {}  # key -> servers holding one of its parts
        for nbytes, _, key, part_key, part_shape in sorted(new, key=lambda t: (-t[0], t[1])):
            used = used_by.setdefault(key, set())
            skipped = []
            while True:
                load, ps = heapq.heappop(heap)
                if ps not in used:
                    break
                skipped.append((load, ps))
            for item in skipped:
                heapq.heappush(heap, item)
            heapq.heappush(heap, (load + nbytes, ps))
            used.add(ps)
            self._loads[ps] += nbytes
            self._server[part_key] = ps
            self._part_specs[part_key] = (part_shape, pending_specs[key][1])
        # Commit in spec order, so keys_on lists a server's keys in the order they were given.
        for key, (shape, dtype) in pending_specs.items():
            parts = pending_parts[key]
            self._specs[key] = (shape, dtype)
            self._parts[key] = parts
            for part_key, _ in parts:
                self._keys_on[self._server[part_key]].append(part_key)
            if len(parts) == 1:
                self._routes[key] = (None, [(self._server[key], key, None, None)])
            else:
                self._routes[key] = (shape[0], [
                    (self._server[pk], pk, rows.start, rows.stop) for pk, rows in parts
                ])

    def _num_parts(self, key, shape, dtype):
        if self._partitioner is None or not shape or self._num_ps == 1:
            return 1
        try:
            result = self._partitioner(shape, dtype, axis=0)
        except (TypeError, ValueError) as e:
            raise ValueError(f"The partitioner failed on variable {key!r} {shape}: {e}") from e
        result = list(result)
        if len(result) != len(shape) or not all(
            isinstance(n, numbers.Integral) and n >= 0 for n in result
        ):
            raise ValueError(
                f"The partitioner returned {result} for variable {key!r} of shape {shape}: it "
                f"must return {len(shape)} non-negative ints, one per axis."
            )
        if any(n > 1 for n in result[1:]):
            raise ValueError(
                f"The partitioner returned {result} for variable {key!r} of shape {shape}: "
                "variables are partitioned along axis 0 only."
            )
        return max(1, min(int(result[0]), self._num_ps, shape[0]))

    # -- queries ------------------------------------------------------------------------------
    @property
    def num_ps(self):
        """The number of parameter servers."""
        return self._num_ps

    def keys(self):
        """The variables' keys, in the order they were placed."""
        return list(self._specs)

    def __contains__(self, key):
        return key in self._specs

    def __len__(self):
        return len(self._specs)

    def __iter__(self):
        return iter(list(self._specs))

    def is_partitioned(self, key):
        """Whether variable `key` is split into row blocks."""
        return len(self._parts_or_raise(key)) > 1

    def server_of(self, part_key):
        """The index of the server holding `part_key` (a whole variable's key or a part key)."""
        try:
            return self._server[part_key]
        except KeyError:
            raise KeyError(self._unknown(part_key)) from None

    def parts(self, key):
        """`[(part_key, row_slice)]` of variable `key`; `[(key, slice(None))]` when whole."""
        return list(self._parts_or_raise(key))

    def keys_on(self, ps):
        """The part keys server `ps` holds, in placement order."""
        return list(self._keys_on[self._check_ps(ps)])

    def bytes_on(self, ps):
        """The bytes of the variables and parts server `ps` holds."""
        return self._loads[self._check_ps(ps)]

    def spec_of(self, part_key):
        """`(shape, dtype)` of a part key (or of a whole variable's key)."""
        spec = self._part_specs.get(part_key)
        if spec is None:
            spec = self._specs.get(part_key)
        if spec is None:
            raise KeyError(self._unknown(part_key))
        return spec

    def variable_spec(self, key):
        """`(shape, dtype)` of the whole variable `key`."""
        self._parts_or_raise(key)
        return self._specs[key]

    # -- routing (per step) -------------------------------------------------------------------
    def split(self, arrays):
        """Routes `{key: array}` to the servers: `[{part_key: array}, ...]`, one dict per server.

        Whole variables pass through; partitioned ones are cut into row views (no copy). Keys
        absent from `arrays`, or mapped to None (a variable with no gradient), are absent from
        the result.

        Raises:
            KeyError: for a key the placement does not know.
            ValueError: for a partitioned variable whose array has the wrong number of rows.
        """
        out = [{} for _ in range(self._num_ps)]
        routes = self._routes
        for key, value in arrays.items():
            if value is None:
                continue
            route = routes.get(key)
            if route is None:
                raise KeyError(self._unknown(key))
            rows, targets = route
            if rows is None:
                ps, part_key, _, _ = targets[0]
                out[ps][part_key] = value
                continue
            if len(value) != rows:
                raise ValueError(
                    f"Variable {key!r} has {rows} rows in the placement but the array given has "
                    f"shape {np.shape(value)}."
                )
            for ps, part_key, start, stop in targets:
                out[ps][part_key] = value[start:stop]
        return out

    def merge(self, per_ps, out=None):
        """Joins per-server `[{part_key: array}, ...]` back into `{key: array}`.

        A variable appears in the result only when every one of its parts is present (each
        looked up in its own server's dict); its parts are concatenated along axis 0, whole
        variables pass through.

        Args:
            per_ps: one `{part_key: array}` dict per server.
            out: optional `{key: array}` of buffers: a partitioned variable found there is
                concatenated into its buffer (no allocation per step), which is returned.

        Raises:
            ValueError: if `per_ps` does not hold one dict per server.
        """
        if len(per_ps) != self._num_ps:
            raise ValueError(
                f"merge() needs one dict per parameter server ({self._num_ps}); "
                f"received {len(per_ps)}."
            )
        buffers = out
        result = {}
        for key, (rows, targets) in self._routes.items():
            if rows is None:
                ps, part_key, _, _ = targets[0]
                value = per_ps[ps].get(part_key)
                if value is not None:
                    result[key] = value
                continue
            blocks = []
            for ps, part_key, _, _ in targets:
                value = per_ps[ps].get(part_key)
                if value is None:
                    break
                blocks.append(value)
            else:
                buffer = None if buffers is None else buffers.get(key)
                result[key] = np.concatenate(blocks, axis=0, out=buffer)
        return result

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self):
        """A JSON-able description of the plan (for workers, and stored with checkpoints)."""
        variables = []
        for key, (shape, dtype) in self._specs.items():
            parts = []
            for part_key, rows in self._parts[key]:
                start, stop = (None, None) if rows is _WHOLE else (rows.start, rows.stop)
                parts.append({"key": part_key, "start": start, "stop": stop,
                              "server": self._server[part_key]})
            variables.append({"key": key, "shape": list(shape), "dtype": dtype.str,
                              "parts": parts})
        return {"format": "dtf.placement", "version": _FORMAT_VERSION, "num_ps": self._num_ps,
                "variables": variables}

    @classmethod
    def from_dict(cls, data):
        """Rebuilds a `Placement` written by `to_dict` (the partitioner is not stored).

        Raises:
            ValueError: if `data` is not a placement description this version can read.
        """
        try:
            if data.get("format") != "dtf.placement" or data.get("version") != _FORMAT_VERSION:
                raise ValueError(
                    f"not a version-{_FORMAT_VERSION} dtf.placement (format="
                    f"{data.get('format')!r}, version={data.get('version')!r})"
                )
            placement = cls(data["num_ps"])
            for var in data["variables"]:
                placement._restore(var)
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"Cannot read the placement description: missing or bad {e}") from e
        except ValueError as e:
            raise ValueError(f"Cannot read the placement description: {e}") from e
        return placement

    def _restore(self, var):
        key = var["key"]
        shape, dtype = _check_spec(key, (tuple(var["shape"]), var["dtype"]))
        if key in self._specs:
            raise ValueError(f"variable {key!r} appears twice")
        parts = []
        routes = []
        if len(var["parts"]) == 1 and var["parts"][0]["start"] is None:
            part = var["parts"][0]
            if part["key"] != key:
                raise ValueError(f"whole variable {key!r} is stored under {part['key']!r}")
            parts.append((key, _WHOLE))
            self._part_specs[key] = (shape, dtype)
        else:
            expected = _row_parts(key, shape, len(var["parts"]))
            for part, (part_key, rows) in zip(var["parts"], expected):
                if (part["key"], part["start"], part["stop"]) != (part_key, rows.start, rows.stop):
                    raise ValueError(f"part {part!r} of {key!r} is not TensorFlow's row split")
                parts.append((part_key, rows))
                self._part_specs[part_key] = ((rows.stop - rows.start, *shape[1:]), dtype)
        servers = [part["server"] for part in var["parts"]]
        if len(set(servers)) != len(servers):
            raise ValueError(f"parts of {key!r} share a server: {servers}")
        for (part_key, rows), ps in zip(parts, servers):
            if part_key in self._server:
                raise ValueError(f"part key {part_key!r} appears twice")
            self._check_ps(ps)
            self._server[part_key] = ps
            self._keys_on[ps].append(part_key)
            part_shape = self._part_specs[part_key][0]
            self._loads[ps] += math.prod(part_shape) * dtype.itemsize
            routes.append((ps, part_key, None if rows is _WHOLE else rows.start,
                           None if rows is _WHOLE else rows.stop))
        self._specs[key] = (shape, dtype)
        self._parts[key] = parts
        self._routes[key] = (None if len(parts) == 1 else shape[0], routes)

    def __eq__(self, other):
        if not isinstance(other, Placement):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self):
        split = sum(len(p) > 1 for p in self._parts.values())
        return (f"Placement(num_ps={self._num_ps}, variables={len(self._specs)}, "
                f"partitioned={split}, bytes_per_ps={self._loads})")

    # -- helpers ------------------------------------------------------------------------------
    def _parts_or_raise(self, key):
        parts = self._parts.get(key)
        if parts is None:
            raise KeyError(self._unknown(key))
        return parts

    def _check_ps(self, ps):
        if isinstance(ps, bool) or not isinstance(ps, numbers.Integral) or not (
            0 <= ps < self._num_ps
        ):
            raise ValueError(
                f"Parameter server index {ps!r} is out of range: there are {self._num_ps} "
                f"(0..{self._num_ps - 1})."
            )
        return ps

    def _unknown(self, key):
        if key in self._parts:
            names = [pk for pk, _ in self._parts[key]]
            return f"{key!r} is partitioned; its parts are {names}."
        return f"{key!r} is not in the placement (it has {len(self._specs)} variables)."


def _check_num_ps(num_ps):
    if isinstance(num_ps, bool) or not isinstance(num_ps, numbers.Integral) or num_ps < 1:
        raise ValueError(f"num_ps must be a positive int; received {num_ps!r}.")
    return int(num_ps)


def _items(specs):
    try:
        return list(specs.items())
    except AttributeError:
        raise ValueError(
            f"specs must be a mapping {{key: (shape, dtype)}}; received {type(specs).__name__}."
        ) from None


def _check_spec(key, spec):
    """`(shape tuple, np.dtype)` of a spec, or a ValueError naming the variable."""
    try:
        shape, dtype = spec
        shape = tuple(int(d) for d in shape)
        dtype = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))
    except (TypeError, ValueError):
        raise ValueError(
            f"The spec of variable {key!r} must be (shape tuple of ints, dtype); "
            f"received {spec!r}."
        ) from None
    if any(d < 0 for d in shape):
        raise ValueError(f"Variable {key!r} has a negative dimension in shape {shape}.")
    return shape, dtype


def _row_parts(key, shape, k):
    """TensorFlow's row split of `shape[0]` into `k` blocks: the first `rows % k` get one more."""
    if k == 1:
        return [(key, _WHOLE)]
    base, extra = divmod(shape[0], k)
    parts = []
    start = 0
    for j in range(k):
        stop = start + base + (1 if j < extra else 0)
        parts.append((f"{key}/part_{j}", slice(start, stop)))
        start = stop
    return parts
