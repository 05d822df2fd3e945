"""What a Layer tracks: Variables, sublayers and metrics assigned as attributes.

A Layer's `__setattr__` hands every assigned value to `Tracker.track`, which walks lists, tuples
and dicts (recursively) and records each Variable, Layer and Metric in creation order. Lists and
dicts are replaced by `TrackedList` / `TrackedDict`, which tell the tracker about items added
later (`self.blocks.append(Dense(4))`), as Keras' list wrappers do. Membership is by identity:
Variables compare elementwise with `==`.
"""

from __future__ import annotations

import threading

# Bumped whenever a Layer gains or loses a sublayer: Layers cache their flattened sublayer
# lists against it.
tracking_version = [0]


def _index_of(items, obj):
    for i, x in enumerate(items):
        if x is obj:
            return i
    return -1


class Tracker:
    """The ordered collections of one Layer: weights, sublayers, metrics.

    Each collection is a list (creation order); a reference count per object lets an attribute
    be reassigned (`layer.kernel = tensor`, the hypernetwork pattern) and untrack what it held
    once nothing else refers to it.
    """

    __slots__ = ("layers", "metrics", "non_trainable", "refcounts", "trainable")

    def __init__(self):
        self.trainable = []  # trainable Variables
        self.non_trainable = []  # non-trainable Variables
        self.layers = []
        self.metrics = []
        self.refcounts = {}

    def _kind(self, obj):
        if getattr(obj, "_is_dtf_variable", False):
            return self.trainable if obj.trainable else self.non_trainable
        from dtf.keras.layers.layer import Layer

        if isinstance(obj, Layer):
            return self.layers
        if _is_metric(obj):
            return self.metrics
        return None

    def add(self, obj, counted=True):
        """Tracks `obj`. `counted`: an attribute refers to it (False for `add_weight`, whose
        Variable stays tracked until an attribute that held it is reassigned)."""
        collection = self._kind(obj)
        if collection is None:
            return
        if counted:
            key = id(obj)
            self.refcounts[key] = self.refcounts.get(key, 0) + 1
        if _index_of(collection, obj) < 0:
            collection.append(obj)
            if collection is self.layers:
                tracking_version[0] += 1

    def remove(self, obj):
        collection = self._kind(obj)
        if collection is None:
            return
        key = id(obj)
        count = self.refcounts.get(key, 0) - 1
        if count > 0:
            self.refcounts[key] = count
            return
        self.refcounts.pop(key, None)
        i = _index_of(collection, obj)
        if i >= 0:
            del collection[i]
            if collection is self.layers:
                tracking_version[0] += 1

    def track(self, value, owner):
        """Records the trackable objects in `value`; returns it (lists/dicts wrapped)."""
        if isinstance(value, (list, dict)) and not isinstance(value, (TrackedList,
                                                                       TrackedDict)):
            if type(value) is list:
                value = TrackedList(value, owner)
            elif type(value) is dict:
                value = TrackedDict(value, owner)
            else:
                for item in _items(value):
                    self.track(item, owner)
                return value
            return value  # the wrapper tracked its items on creation
        if isinstance(value, (TrackedList, TrackedDict)):
            if value._owner is None:
                value._owner = owner
            for item in _items(value):
                self.track(item, owner)
            return value
        if isinstance(value, tuple):
            for item in value:
                self.track(item, owner)
            return value
        self.add(value)
        return value

    def untrack(self, value):
        if isinstance(value, (list, tuple)):
            for item in value:
                self.untrack(item)
        elif isinstance(value, dict):
            for item in value.values():
                self.untrack(item)
        else:
            self.remove(value)


def _items(value):
    return list(value.values()) if isinstance(value, dict) else list(value)


def _is_metric(obj):
    cls = type(obj)
    return any(c.__name__ == "Metric" and c.__module__.startswith("dtf.keras.metrics")
               for c in cls.__mro__)


def _owner_tracker(owner):
    return None if owner is None else owner._tracker


class TrackedList(list):
    """A list assigned to a Layer attribute: items added later are tracked too."""

    def __init__(self, items=(), owner=None):
        super().__init__()
        self._owner = owner
        for item in items:
            self.append(item)

    def _track(self, item):
        tracker = _owner_tracker(self._owner)
        return item if tracker is None else tracker.track(item, self._owner)

    def _untrack(self, item):
        tracker = _owner_tracker(self._owner)
        if tracker is not None:
            tracker.untrack(item)

    def append(self, item):
        super().append(self._track(item))

    def extend(self, items):
        for item in items:
            self.append(item)

    def insert(self, index, item):
        super().insert(index, self._track(item))

    def __setitem__(self, index, item):
        old = self[index]
        if isinstance(index, slice):
            item = [self._track(i) for i in item]
        else:
            item = self._track(item)
        super().__setitem__(index, item)
        self._untrack(old)

    def __delitem__(self, index):
        old = self[index]
        super().__delitem__(index)
        self._untrack(old)

    def pop(self, index=-1):
        item = super().pop(index)
        self._untrack(item)
        return item

    def remove(self, item):
        i = _index_of(self, item)
        if i < 0:
            raise ValueError("list.remove(x): x not in list")
        del self[i]

    def clear(self):
        while self:
            self.pop()

    def __iadd__(self, items):
        self.extend(items)
        return self

    def __reduce__(self):
        return list, (list(self),)


class TrackedDict(dict):
    """A dict assigned to a Layer attribute: values added later are tracked too."""

    def __init__(self, items=(), owner=None):
        super().__init__()
        self._owner = owner
        for k, v in dict(items).items():
            self[k] = v

    def __setitem__(self, key, value):
        tracker = _owner_tracker(self._owner)
        old = self.get(key, None) if key in self else None
        if tracker is not None:
            value = tracker.track(value, self._owner)
        super().__setitem__(key, value)
        if old is not None and tracker is not None:
            tracker.untrack(old)

    def __delitem__(self, key):
        old = self[key]
        super().__delitem__(key)
        tracker = _owner_tracker(self._owner)
        if tracker is not None:
            tracker.untrack(old)

    def pop(self, key, *default):
        if key in self:
            value = self[key]
            del self[key]
            return value
        return super().pop(key, *default)

    def update(self, *args, **kwargs):
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def __reduce__(self):
        return dict, (dict(self),)


# -- the call context -------------------------------------------------------------------------
class CallContext(threading.local):
    """Per-thread state of nested Layer calls: how deep, and the `training` value that outer
    calls pass down to inner ones that were not given one explicitly."""

    def __init__(self):
        self.depth = 0
        self.training = None
        self.symbolic = False
        self.building = 0  # > 0 while a layer's build runs (its assignments are real)


call_context = CallContext()


def _skip_symbolic_updates(variable, op, value):
    """A layer run on symbolic inputs only learns its output's shape: state updates in it
    (a metric's update_state, a running statistic) are skipped, as Keras does; concrete values
    assigned while a layer builds (initial or restored values) are kept."""
    if not call_context.symbolic:
        return False
    return not call_context.building or getattr(value, "_is_symbolic", False)


def _register_symbolic_update_handler():
    from dtf import variables

    if _skip_symbolic_updates not in variables.update_interceptors:
        variables.update_interceptors.append(_skip_symbolic_updates)


_register_symbolic_update_handler()
