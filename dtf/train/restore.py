"""Restoring a checkpoint into a Checkpoint's object graph, now or when objects are built.

`Restorer.restore_now` matches every value holder of the graph (`graph.collect`) with the
checkpoint's keys and checks every shape first: a mismatch raises before anything changes.
Objects that do not exist yet are restored when they are created, as TensorFlow does
("deferred restoration"):

- a Layer or Model that is not built has no weights yet: its `build` is wrapped for that one
  instance, and once it has run, the values under its path are assigned;
- an Optimizer that has made no step has no slots yet: when its variables (recorded by path
  in the checkpoint) exist, it is built with them at once; otherwise its `build` is wrapped,
  and its slots are filled when its first `apply_gradients` builds it.

The status returned by `restore` (`CheckpointLoadStatus`) answers what was matched.

Example:
    >>> prefix = os.path.join(tempfile.mkdtemp(), "ckpt")
    >>> path = dtf.train.Checkpoint(v=dtf.Variable(3.0)).save(prefix)
    >>> v = dtf.Variable(0.0)
    >>> status = dtf.train.Checkpoint(v=v).restore(path)
    >>> float(v.numpy())
    3.0
"""

from __future__ import annotations

import warnings

import numpy as np

from dtf.keras.saving import object_graph
from dtf.keras.saving.object_graph import join
from dtf.train import graph

__all__ = ["CheckpointLoadStatus", "InitializationOnlyStatus", "Restorer"]


def _count(values, node):
    """How many consecutive values the checkpoint holds for `node`."""
    if node.kind == "variable":
        return int(node.path in values)
    n = 0
    while node.key(n) in values:
        n += 1
    return n


def _has_keys_under(values, path):
    prefix = f"{path}/" if path else ""
    return any(key.startswith(prefix) for key in values)


class Restorer:
    """One restore of a checkpoint: the values read, which keys were used, and the objects
    waiting to be built."""

    def __init__(self, checkpoint, save_path, values, objects):
        self.checkpoint = checkpoint
        self.save_path = save_path
        self.values = values
        self.objects = objects
        self.consumed = set()
        self.deferred = {}  # id(obj) -> path of the objects whose build is wrapped
        self.problems = []  # mismatches met in deferred restores
        self.expect_partial = False

    # -- planning -------------------------------------------------------------------------------
    def _check(self, node, variables, start, problems):
        """Checks values `start..` of `node` against `variables[start:]`: problems or pairs."""
        pairs = []
        for i in range(start, len(variables)):
            variable = variables[i]
            key = node.key(i)
            value = self.values[key]
            if not variable.shape.is_compatible_with(value.shape):
                problems.append(f"{node.describe()}: the checkpoint's '{key}' has shape "
                                f"{list(value.shape)}, the variable "
                                f"'{getattr(variable, 'path', None) or variable.name}' has "
                                f"shape {variable.shape.as_list()}")
            elif not np.can_cast(value.dtype, variable.dtype.as_numpy_dtype, "same_kind"):
                problems.append(f"{node.describe()}: the checkpoint's '{key}' is "
                                f"{value.dtype}, the variable is {variable.dtype.name}")
            else:
                pairs.append((variable, key, value))
        return pairs

    def _plan(self, nodes, problems, skip_consumed=False):
        """What to assign now (`(variable, key, value)`), and the objects to defer."""
        assignments, deferrals = [], []
        for node in nodes:
            n_saved = _count(self.values, node)
            n_now = len(node.variables)
            if node.kind == "variable":
                if n_saved:
                    assignments += self._check(node, node.variables, 0, problems)
                continue
            if node.kind == "optimizer":
                continue  # below: building an optimizer waits until the rest fits
            if n_saved == n_now:
                if n_now:
                    assignments += self._check(node, node.variables, 0, problems)
            elif node.kind == "layer" and not node.obj.built:
                pass  # built later: deferred below
            elif n_saved:
                problems.append(f"{node.describe()} has {n_now} variable(s), the checkpoint "
                                f"holds {n_saved} for it")
            if node.kind == "layer" and not node.obj.built and \
                    _has_keys_under(self.values, node.path):
                deferrals.append(node)
        optimizers = [node for node in nodes if node.kind == "optimizer"]
        if optimizers and not problems:
            keys = graph.variable_keys(nodes)
            for node in optimizers:
                assignments += self._plan_optimizer(node, _count(self.values, node), keys,
                                                    problems, deferrals)
        if skip_consumed:
            assignments = [a for a in assignments if a[1] not in self.consumed]
        return assignments, deferrals

    def _plan_optimizer(self, node, n_saved, keys, problems, deferrals):
        optimizer = node.obj
        if not n_saved:
            return []
        meta = self.objects.get(node.path) or {}
        built_with = meta.get("built_with")
        n_now = len(optimizer.variables)
        if n_saved > n_now and not optimizer.built:
            by_key = {key: None for key in built_with or ()}
            for holder in graph.collect(self.checkpoint):
                for i, variable in enumerate(holder.variables):
                    if holder.key(i) in by_key and by_key[holder.key(i)] is None:
                        by_key[holder.key(i)] = variable
            variables = [by_key[k] for k in built_with] if built_with else None
            if variables and all(v is not None for v in variables):
                optimizer.build(variables)
                node = graph.Node(node.path, optimizer, "optimizer", optimizer.variables)
                n_now = len(node.variables)
            else:
                deferrals.append(node)
                return self._check(node, node.variables, 0, problems)
        if optimizer.built and built_with is not None:
            now = [keys.get(id(v)) for v in optimizer._trainable_variables]
            if now != built_with:
                problems.append(f"{node.describe()} updates the variables {now}, but the "
                                f"checkpoint's optimizer updated {built_with}")
                return []
        if n_saved != n_now:
            problems.append(f"{node.describe()} has {n_now} variable(s), the checkpoint holds "
                            f"{n_saved} for it (another optimizer, or other options?)")
            return []
        return self._check(node, node.variables, 0, problems)

    # -- applying -------------------------------------------------------------------------------
    def _apply(self, assignments):
        for variable, key, value in assignments:
            variable.assign(value.astype(variable.dtype.as_numpy_dtype, copy=False))
            self.consumed.add(key)

    def _raise(self, problems, when):
        listing = "\n".join(f"  - {p}" for p in problems)
        raise ValueError(f"Cannot restore the checkpoint '{self.save_path}'{when}: "
                         f"{len(problems)} mismatch(es), nothing was changed:\n{listing}\n"
                         "The checkpoint was written from different objects (another "
                         "architecture or optimizer).")

    def restore_now(self):
        problems = []
        assignments, deferrals = self._plan(graph.collect(self.checkpoint), problems)
        if problems:
            self.expect_partial = True  # the error says it all: no warning when collected
            self._raise(problems, "")
        self._apply(assignments)
        for node in deferrals:
            self._defer(node)

    # -- deferred restoration ------------------------------------------------------------------
    def _defer(self, node):
        obj = node.obj
        if id(obj) in self.deferred:
            return
        self.deferred[id(obj)] = node.path
        original = obj.build
        restorer = self

        def build(*args, **kwargs):
            object.__delattr__(obj, "build")  # back to the class's method
            restorer.deferred.pop(id(obj), None)
            result = original(*args, **kwargs)
            if node.kind == "optimizer":
                restorer._restore_optimizer(obj, node.path, len(node.variables))
            else:
                restorer._restore_subtree(obj, node.path)
            return result

        object.__setattr__(obj, "build", build)

    def _restore_subtree(self, layer, path):
        """After `layer` was built: assigns the values under its path not used yet."""
        nodes = [graph.Node(e.path, e.obj, e.kind, e.variables)
                 for e in object_graph.walk(layer, prefix=path)]
        problems = []
        # the layer was built by its first call: it counts as built even before
        # `_build_on_first_call` sets the flag after this hook returns
        object.__setattr__(layer, "built", True)
        assignments, deferrals = self._plan(nodes, problems, skip_consumed=True)
        if problems:
            self.problems += problems
            self._raise(problems, f" into '{join(path, '') or 'the root'}' once it was built")
        self._apply(assignments)
        for node in deferrals:
            self._defer(node)

    def _restore_optimizer(self, optimizer, path, restored_before):
        """After `optimizer` was built by its first step: its slots from the checkpoint."""
        nodes = graph.collect(self.checkpoint)
        keys = graph.variable_keys(nodes)
        node = graph.Node(path, optimizer, "optimizer", optimizer.variables)
        built_with = (self.objects.get(path) or {}).get("built_with")
        now = [keys.get(id(v)) for v in optimizer._trainable_variables]
        problems = []
        n_saved = _count(self.values, node)
        if built_with is not None and now != built_with:
            problems.append(f"{node.describe()} was built with the variables {now}, but the "
                            f"checkpoint's optimizer updated {built_with}")
        elif n_saved != len(node.variables):
            problems.append(f"{node.describe()} has {len(node.variables)} variable(s), the "
                            f"checkpoint holds {n_saved} for it")
        if problems:
            self.problems += problems
            warnings.warn(f"The optimizer state in checkpoint '{self.save_path}' was not "
                          f"restored: {problems[0]}.", stacklevel=4)
            return
        assignments = self._check(node, node.variables, restored_before, problems)
        if problems:
            self.problems += problems
            self._raise(problems, f" into optimizer '{optimizer.name}'")
        self._apply(assignments)

    # -- bookkeeping ----------------------------------------------------------------------------
    def unmatched_variables(self):
        """The graph's existing Variables that got no value."""
        out = []
        for node in graph.collect(self.checkpoint):
            for i, variable in enumerate(node.variables):
                if node.key(i) not in self.consumed:
                    out.append((node.key(i), variable))
        return out

    def unused_keys(self):
        return sorted(set(self.values) - self.consumed)

    def __del__(self):
        try:
            if self.expect_partial or not getattr(self, "values", None):
                return
            unused = self.unused_keys()
            if unused:
                shown = ", ".join(unused[:8]) + (" ..." if len(unused) > 8 else "")
                warnings.warn(
                    f"Some values of checkpoint '{self.save_path}' were never restored "
                    f"({len(unused)}: {shown}): the objects they belong to were not built or "
                    "are missing. Call status.expect_partial() when restoring only part of a "
                    "checkpoint is intended.", stacklevel=2)
        except (AttributeError, ImportError, TypeError):  # at shutdown, modules may be gone
            return


class CheckpointLoadStatus:
    """What `Checkpoint.restore` matched; its `assert_*` methods raise AssertionError when
    the restore was not what they require, and return the status otherwise."""

    def __init__(self, restorer):
        self._restorer = restorer

    def assert_consumed(self):
        """Every value of the checkpoint was restored (none waits for an object to be built)
        and every Variable of the graph got a value."""
        r = self._restorer
        unused = r.unused_keys()
        unmatched = r.unmatched_variables()
        if r.problems or unused or unmatched:
            lines = [f"Checkpoint '{r.save_path}' was not fully consumed:"]
            lines += [f"  mismatch: {p}" for p in r.problems]
            lines += [f"  unresolved value in the checkpoint: '{key}'" for key in unused]
            lines += [f"  variable with no value in the checkpoint: '{key}' "
                      f"({getattr(v, 'name', v)})" for key, v in unmatched]
            raise AssertionError("\n".join(lines))
        return self

    def assert_existing_objects_matched(self):
        """Every Variable that exists now got a value (objects not built yet may still wait for
        theirs)."""
        r = self._restorer
        unmatched = r.unmatched_variables()
        if r.problems or unmatched:
            head = (f"Found {len(unmatched)} Python objects that were not bound to checkpointed "
                    f"values in '{r.save_path}', likely due to changes in the Python program:")
            lines = [head]
            lines += [f"  mismatch: {p}" for p in r.problems]
            lines += [f"  '{key}' ({getattr(v, 'name', v)})" for key, v in unmatched]
            raise AssertionError("\n".join(lines))
        return self

    def assert_nontrivial_match(self):
        """Something besides the save counter was restored (or waits to be)."""
        r = self._restorer
        used = r.consumed - {"save_counter"}
        if not used and not r.deferred:
            raise AssertionError(f"Nothing except the root object matched a checkpointed value "
                                 f"in '{r.save_path}'. Typically this means that the checkpoint "
                                 "does not match the Python program.")
        return self

    def expect_partial(self):
        """Silences the warning about values never restored (partial restores are intended)."""
        self._restorer.expect_partial = True
        return self

    def run_restore_ops(self, session=None):
        """Nothing to run: eager restores assign at once (TF 1 graph API)."""

    def initialize_or_restore(self, session=None):
        """Nothing to run: eager restores assign at once (TF 1 graph API)."""


class InitializationOnlyStatus:
    """The status of `restore(None)`: nothing is restored, every variable keeps its initial
    value; the `assert_*` methods raise."""

    def _fail(self):
        raise AssertionError("No checkpoint specified (save_path=None); nothing is being "
                             "restored.")

    def assert_consumed(self):
        self._fail()

    def assert_existing_objects_matched(self):
        self._fail()

    def assert_nontrivial_match(self):
        self._fail()

    def expect_partial(self):
        return self

    def run_restore_ops(self, session=None):
        """Nothing to run."""

    def initialize_or_restore(self, session=None):
        """Nothing to run: variables already hold their initial values."""
