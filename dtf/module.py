"""`dtf.Module`: a named container of Variables and sub-modules, as `tf.Module`.

A Module finds the Variables and Modules reachable from its attributes (directly, or inside
lists, tuples and dicts), walking attributes in sorted name order as TensorFlow does. It is
what `dtf.saved_model.save` exports: its `dtf.function` attributes become the loaded object's
callables and its Variables are stored once.

Example:
    >>> class Dense(dtf.Module):
    ...     def __init__(self, n_in, n_out, name=None):
    ...         super().__init__(name=name)
    ...         self.w = dtf.Variable(dtf.ones([n_in, n_out]), name="w")
    ...         self.b = dtf.Variable(dtf.zeros([n_out]), name="b")
    ...     def __call__(self, x):
    ...         return dtf.matmul(x, self.w) + self.b
    >>> [v.name for v in Dense(3, 2, name="dense").trainable_variables]
    ['b:0', 'w:0']
"""

from __future__ import annotations

import contextlib
import functools
import re

__all__ = ["Module"]

_VALID_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def _camel_to_snake(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


class Module:
    """Base class of objects that own Variables and other Modules (see the module docstring).

    Args:
        name: the module's name (default: the class name in snake case); it must be a valid
            Python identifier-like name.
    """

    def __init__(self, name=None):
        if name is None:
            name = _camel_to_snake(type(self).__name__)
        elif not _VALID_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid module name. Module names must be valid "
                             "Python identifiers (e.g. a valid class name).")
        self._name = name
        self._scope_name = name + "/"

    @property
    def name(self) -> str:
        return self._name

    @property
    def name_scope(self):
        """A context manager naming ops created in it after the module (kept for
        compatibility: dtf ops carry no scope names)."""
        return contextlib.nullcontext(self._scope_name)

    @property
    def variables(self) -> tuple:
        """Every Variable of this module and its sub-modules (each once)."""
        return tuple(self._flatten(lambda x: getattr(x, "_is_dtf_variable", False)))

    @property
    def trainable_variables(self) -> tuple:
        return tuple(v for v in self.variables if v.trainable)

    @property
    def non_trainable_variables(self) -> tuple:
        return tuple(v for v in self.variables if not v.trainable)

    @property
    def submodules(self) -> tuple:
        """Every Module reachable from this one's attributes (not this one)."""
        return tuple(self._flatten(lambda x: isinstance(x, Module)))

    def _flatten(self, predicate):
        seen = {id(self)}
        found = []

        def walk(value, depth):
            if depth > 100:
                return
            if isinstance(value, dict):
                for key in sorted(value, key=str):
                    walk(value[key], depth + 1)
                return
            if isinstance(value, (list, tuple)):
                for item in value:
                    walk(item, depth + 1)
                return
            if id(value) in seen:
                return
            if predicate(value):
                seen.add(id(value))
                found.append(value)
            if isinstance(value, Module):
                seen.add(id(value))
                for key in sorted(vars(value)):
                    walk(vars(value)[key], depth + 1)

        for key in sorted(vars(self)):
            walk(vars(self)[key], 0)
        return found

    @classmethod
    def with_name_scope(cls, method):
        """Decorates a method to run inside the module's name scope."""
        @functools.wraps(method)
        def wrapped(self, *args, **kwargs):
            with self.name_scope:
                return method(self, *args, **kwargs)

        return wrapped

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__name__} name={self._name}>"
