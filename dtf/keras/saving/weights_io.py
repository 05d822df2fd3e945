"""Taking a model's state out (`collect_groups`) and putting it back (`restore`), checked.

`restore` never changes a model partly: it matches every stored group to the model's objects
(`object_graph.walk`) and checks every count, shape and dtype first; only when all of them fit
does it assign. An optimizer that has not made a step yet is built first when the file holds
its slots, with the variables it was built with when saved (their paths are recorded in the
`built_with` attribute of its group), so that training resumes exactly where it stopped.

Example:
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> groups = collect_groups(model)
    >>> [g.path for g in groups]
    ['', 'layers/dense']
    >>> restore(model, {g.path: g for g in groups}, "in memory")
"""

from __future__ import annotations

import json
import warnings

import numpy as np

from dtf.keras.saving.h5_store import StoredGroup
from dtf.keras.saving.object_graph import join, value_path, walk

__all__ = ["collect_groups", "plan_entries", "restore", "variable_keys"]


def variable_keys(entries):
    """`{id(variable): "<path>/vars/<i>"}` for the Variables of `entries` (first path wins)."""
    keys = {}
    for entry in entries:
        for i, variable in enumerate(entry.variables):
            keys.setdefault(id(variable), value_path(entry.path, i))
    return keys


def _custom_method(obj, name):
    """A `save_own_variables`/`load_own_variables` a user's layer or metric defines (Keras'
    hook for state that is not plain Variables), else None."""
    if getattr(type(obj), name, None) is None:
        return None
    return getattr(obj, name)


def collect_groups(root, include_optimizer=True, entries=None):
    """The state of `root` and everything under it, as `StoredGroup`s in saving order."""
    entries = walk(root) if entries is None else entries
    keys = variable_keys(entries)
    groups = []
    for entry in entries:
        if entry.kind == "optimizer" and not include_optimizer:
            continue
        attrs = {"name": entry.name} if isinstance(entry.name, str) else {}
        custom = _custom_method(entry.obj, "save_own_variables") \
            if entry.kind != "optimizer" else None
        if custom is not None:
            store = {}
            custom(store)
            values = [np.asarray(store[str(i)]) for i in range(len(store))]
        else:
            values = [np.asarray(v.numpy()) for v in entry.variables]
        if entry.kind == "optimizer" and entry.obj.built:
            built_with = [keys.get(id(v)) for v in entry.obj._trainable_variables]
            if all(k is not None for k in built_with):
                attrs["built_with"] = json.dumps(built_with)
        groups.append(StoredGroup(entry.path, attrs, values))
    return groups


class Plan:
    """What a restore will do, gathered before anything changes: `(variable, array)` pairs,
    calls of custom `load_own_variables`, and the problems found."""

    def __init__(self):
        self.assignments = []
        self.calls = []
        self.problems = []

    def apply(self):
        for variable, value in self.assignments:
            variable.assign(value.astype(variable.dtype.as_numpy_dtype, copy=False))
        for method, store in self.calls:
            method(store)


def _describe_variables(variables):
    return ", ".join(f"{getattr(v, 'path', None) or v.name} {tuple(v.shape)}"
                     for v in variables) or "none"


def check_values(entry_label, variables, values, where):
    """Problems (strings) in giving `values` to `variables`: count, shapes, dtypes."""
    if len(values) != len(variables):
        shapes = ", ".join(str(tuple(np.shape(v))) for v in values) or "none"
        message = (f"{entry_label} has {len(variables)} variable(s) "
                   f"[{_describe_variables(variables)}], but '{where}' holds {len(values)} "
                   f"[{shapes}]")
        return [message]
    problems = []
    for i, (variable, value) in enumerate(zip(variables, values)):
        name = getattr(variable, "path", None) or variable.name
        if not variable.shape.is_compatible_with(value.shape):
            problems.append(f"{entry_label}: variable {i} ({name}) has shape "
                            f"{tuple(variable.shape)}, but '{where}/{i}' has shape "
                            f"{tuple(value.shape)}")
        elif not np.can_cast(value.dtype, variable.dtype.as_numpy_dtype, "same_kind"):
            problems.append(f"{entry_label}: variable {i} ({name}) is {variable.dtype.name}, "
                            f"but '{where}/{i}' is {value.dtype}, which does not convert to it")
    return problems


def plan_entries(entries, stored, plan):
    """Matches the non-optimizer `entries` with `stored` (`{path: StoredGroup}`), adding to
    `plan`. A layer with Variables and no stored group is a problem; a metric without one
    keeps its state; stored groups that no entry claims are ignored, as Keras does."""
    for entry in entries:
        if entry.kind == "optimizer":
            continue
        group = stored.get(entry.path)
        label = entry.describe()
        custom = _custom_method(entry.obj, "load_own_variables")
        if group is None:
            if entry.variables and entry.kind == "layer" and custom is None:
                plan.problems.append(
                    f"{label} has {len(entry.variables)} variable(s) "
                    f"[{_describe_variables(entry.variables)}], but the file has nothing "
                    f"at '{join(entry.path, 'vars')}'")
            continue
        if custom is not None:
            plan.calls.append((custom, {str(i): v for i, v in enumerate(group.values)}))
            continue
        problems = check_values(label, entry.variables, group.values,
                                join(entry.path, "vars"))
        if problems:
            plan.problems.extend(problems)
            continue
        plan.assignments.extend(zip(entry.variables, group.values))


def optimizer_variable_list(group, keys_to_variables, fallback):
    """The variables to build an optimizer with: those its saved group was built with (by
    path), else `fallback` (the model's trainable variables)."""
    built_with = group.attrs.get("built_with")
    if built_with:
        try:
            paths = json.loads(built_with)
        except (TypeError, ValueError):
            paths = None
        if isinstance(paths, list):
            variables = [keys_to_variables.get(p) for p in paths]
            if all(v is not None for v in variables):
                return variables
    return fallback


def plan_optimizer(entry, group, model_keys, model_variables, plan, fallback, label):
    """Adds an optimizer's saved state to `plan`, building the optimizer first when the file
    has its slots and it has none yet. A mismatch (another optimizer, other variables) skips
    its state with a warning, as Keras does: the model's weights still load.

    Args:
        model_keys: `{id(variable): path}` of the model's variables (`variable_keys`).
        model_variables: the inverse, `{path: variable}`.
        fallback: the variables to build with when the file does not say which.
    """
    optimizer = entry.obj
    saved = group.values
    if not optimizer.built and len(saved) > len(optimizer.variables):
        variables = optimizer_variable_list(group, model_variables, fallback)
        if variables:
            optimizer.build(variables)
    reason = None
    if optimizer.built and group.attrs.get("built_with"):
        now = [model_keys.get(id(v)) for v in optimizer._trainable_variables]
        if json.dumps(now) != group.attrs["built_with"]:
            reason = ("it updates other variables (or the same in another order) than the "
                      "saved optimizer did")
    current = optimizer.variables
    if reason is None:
        problems = check_values(f"Optimizer '{optimizer.name}'", current, saved,
                                join(entry.path, "vars"))
        if problems:
            reason = "; ".join(problems)
    if reason is not None:
        warnings.warn(f"Skipping the optimizer state in '{label}' for optimizer "
                      f"'{optimizer.name}': {reason}. The model's weights are loaded; the "
                      "optimizer starts afresh.", stacklevel=4)
        return
    plan.assignments.extend(zip(current, saved))


def restore(root, stored, label, skip_mismatch=False, include_optimizer=True):
    """Loads `stored` (`{path: StoredGroup}`) into `root` and its sub-objects.

    Raises:
        ValueError: some weights do not fit (naming each); nothing was changed. With
            `skip_mismatch`, the objects that do not fit are skipped with a warning instead.
    """
    entries = walk(root)
    plan = Plan()
    plan_entries(entries, stored, plan)
    if plan.problems:
        listing = "\n".join(f"  - {p}" for p in plan.problems)
        if not skip_mismatch:
            hint = "" if getattr(root, "built", True) else (
                f" The model '{root.name}' is not built: call it on data, or "
                "model.build(input_shape), before loading weights into it.")
            raise ValueError(
                f"Cannot load the weights in '{label}' into {type(root).__name__} "
                f"'{getattr(root, 'name', root)}': {len(plan.problems)} mismatch(es), nothing "
                f"was changed:\n{listing}\nThe file was saved from a different model.{hint} "
                "Build the same architecture, or pass skip_mismatch=True to load only what "
                "fits.")
        warnings.warn(f"Skipped loading some weights of '{label}' (skip_mismatch=True):\n"
                      f"{listing}", stacklevel=3)
    if include_optimizer:
        model_entries = [e for e in entries if e.kind != "optimizer"]
        model_keys = variable_keys(model_entries)
        model_variables = {key: v for key, v in _keyed_variables(model_entries)}
        fallback = list(getattr(root, "trainable_variables", []) or [])
        for entry in entries:
            group = stored.get(entry.path)
            if entry.kind == "optimizer" and group is not None:
                plan_optimizer(entry, group, model_keys, model_variables, plan, fallback,
                               label)
    plan.apply()


def _keyed_variables(entries):
    """(path, variable) for each Variable of `entries`, at its first path."""
    seen = set()
    for entry in entries:
        for i, variable in enumerate(entry.variables):
            if id(variable) not in seen:
                seen.add(id(variable))
                yield value_path(entry.path, i), variable
