"""`dtf.queue.QueueBase`: TensorFlow's queue protocol, thread-safe, over a storage policy.

The machinery follows TensorFlow's queue kernels (`QueueBase::FlushUnlocked`), because their
semantics come from it: every enqueue, dequeue and non-cancelling close is an *attempt* kept in
one of two FIFO lists; under the queue's lock, `_flush` runs the attempt at the head of each list
until neither makes progress. So:

- waiting consumers are served in the order they asked, and a `dequeue_many(n)` takes elements
  as they arrive (n may exceed the capacity), without other consumers interleaving;
- an `enqueue_many` larger than the free room enqueues what fits and waits for the rest;
- `close()` waits behind the enqueues already pending (they complete first), and only then
  closes; `close(cancel_pending_enqueues=True)` closes at once and fails those enqueues.

Subclasses only say how elements are stored: `_put`, `_take`, `_available`, `_restore`,
`_batch`. An element is a tuple of backend arrays (the `_value` of dtf Tensors), one per
component; tensors are immutable, so arrays are shared, never copied, except user NumPy input.
"""

from __future__ import annotations

import collections
import threading
import time

import numpy as np

from dtf import dtypes as _dtypes
from dtf.errors import (
    CancelledError,
    DeadlineExceededError,
    InvalidArgumentError,
    OutOfRangeError,
)
from dtf.ops.creation_ops import convert_to_tensor
from dtf.tensor import Tensor
from dtf.tensor_shape import TensorShape, as_shape

__all__ = ["QueueBase"]

# What one step of an attempt achieved (TensorFlow's RunResult).
_NO_PROGRESS, _PROGRESS, _COMPLETE = 0, 1, 2


class _Attempt:
    """One pending request: `step()` runs under the lock and returns a RunResult."""

    __slots__ = ("done", "error", "index", "is_close", "result", "step", "taken")

    def __init__(self, step, is_close=False):
        self.step = step
        self.done = False
        self.error = None
        self.result = None
        self.taken = []  # dequeue: elements taken so far
        self.index = 0  # enqueue: elements put so far
        self.is_close = is_close


class QueueBase:
    """Base class for queues: a bounded, thread-safe store of tuples of tensors.

    Elements are tuples of tensors, one per entry of `dtypes` (or dicts keyed by `names`), each
    converted to its dtype and checked against its shape. Operations block until they can
    complete; TensorFlow has no per-op timeout in eager mode, dtf accepts a `timeout` keyword (in
    seconds) and raises `dtf.errors.DeadlineExceededError` when it passes.

    Args:
        dtypes: the dtype of each component (a single dtype for one component).
        shapes: the shape of each component, or None for any shape. Needed by `dequeue_many`.
        names: names of the components: elements are then dicts with these keys.
        name: the queue's name, used in error messages.
        capacity: the most elements the queue holds; a negative number means no limit.

    Example:
        >>> q = dtf.queue.FIFOQueue(3, [dtf.int32, dtf.float32], shapes=[[], [2]])
        >>> q.enqueue((1, [0.5, 1.5]))
        >>> a, b = q.dequeue()
        >>> int(a), b.numpy().tolist()
        (1, [0.5, 1.5])
    """

    _kind = "Queue"
    _allow_unknown_dims = False  # PaddingFIFOQueue: shapes may have None dims

    def __init__(self, dtypes, shapes, names, name, capacity):
        self._dtypes = _as_dtype_list(dtypes)
        self._shapes = _as_shape_list(shapes, self._kind, self._allow_unknown_dims)
        if self._shapes is not None and len(self._shapes) != len(self._dtypes):
            raise ValueError(
                f"{self._kind}: shapes must have the same length as dtypes, got "
                f"{len(self._shapes)} shapes {self._shapes} for {len(self._dtypes)} dtypes "
                f"{[d.name for d in self._dtypes]}.")
        if self._shapes is None:
            self._shapes = [TensorShape(None) for _ in self._dtypes]
        self._names = _as_name_list(names, self._dtypes, self._kind)
        self._name = name
        self._capacity = _int_arg(capacity, "capacity", self._kind)
        self._batchable = all(s.is_fully_defined() for s in self._shapes)
        self._closed = False
        self._cond = threading.Condition(threading.Lock())
        self._enqueue_attempts = collections.deque()
        self._dequeue_attempts = collections.deque()

    # -- properties ----------------------------------------------------------------------------
    @property
    def dtypes(self):
        """The list of dtypes of the components."""
        return list(self._dtypes)

    @property
    def shapes(self):
        """The list of shapes of the components (unknown shapes where none were given)."""
        return list(self._shapes)

    @property
    def names(self):
        """The list of component names, or None for a queue of tuples."""
        return None if self._names is None else list(self._names)

    @property
    def name(self):
        """The name of the queue."""
        return self._name

    # -- public operations ---------------------------------------------------------------------
    def enqueue(self, vals, name=None, timeout=None):
        """Enqueues one element, waiting while the queue is full.

        Args:
            vals: a tensor, a tuple/list of tensors (one per component), or a dict keyed by the
                queue's `names`.
            timeout: seconds to wait for room, or None to wait as long as it takes.

        Raises:
            CancelledError: the queue is closed, or closes with `cancel_pending_enqueues`.
            DeadlineExceededError: `timeout` passed before there was room.
        """
        components = self._convert(vals, batched=False)
        if _in_graph(components):
            _run_in_graph("queue_enqueue", components, queue=self, many=False, timeout=timeout)
            return
        self._enqueue_arrays(components, False, timeout)

    def enqueue_many(self, vals, name=None, timeout=None):
        """Enqueues the slices along dimension 0 of each component, as separate elements.

        All components must have the same size in dimension 0. When the room is smaller, it
        enqueues what fits and waits for the rest.

        Example:
            >>> q = dtf.queue.FIFOQueue(5, dtf.int32, shapes=[[]])
            >>> q.enqueue_many([[1, 2, 3]])
            >>> q.dequeue_many(3).numpy().tolist()
            [1, 2, 3]
        """
        components = self._convert(vals, batched=True)
        if _in_graph(components):
            _run_in_graph("queue_enqueue", components, queue=self, many=True, timeout=timeout)
            return
        self._enqueue_arrays(components, True, timeout)

    def dequeue(self, name=None, timeout=None):
        """Dequeues one element, waiting while the queue has none to give.

        Returns:
            The element: a tensor for a queue of one component, a list of tensors, or a dict
            keyed by `names`.

        Raises:
            OutOfRangeError: the queue is closed and empty.
            DeadlineExceededError: `timeout` passed first.
        """
        if _in_graph(()):
            return self._package(_run_in_graph("queue_dequeue", (), queue=self, n=None,
                                               allow_small_batch=False, timeout=timeout))
        return self._package([_wrap(a) for a in self._dequeue_arrays(None, False, timeout)])

    def dequeue_many(self, n, name=None, timeout=None):
        """Dequeues and concatenates `n` elements along a new dimension 0.

        Waits until `n` elements have been given; on a closed queue holding fewer than `n`,
        raises `OutOfRangeError` (use `dequeue_up_to` to get the rest).

        Raises:
            InvalidArgumentError: the queue's shapes are not fully defined (see
                `PaddingFIFOQueue`), or `n` is negative.
        """
        return self._dequeue_batch(n, False, timeout, "dequeue_many")

    def dequeue_up_to(self, n, name=None, timeout=None):
        """Like `dequeue_many`, but on a closed queue returns the fewer than `n` elements left.

        Raises `OutOfRangeError` when the queue is closed and empty.

        Example:
            >>> q = dtf.queue.FIFOQueue(5, dtf.int32, shapes=[[]])
            >>> q.enqueue_many([[1, 2]]); q.close()
            >>> q.dequeue_up_to(5).numpy().tolist()
            [1, 2]
        """
        return self._dequeue_batch(n, True, timeout, "dequeue_up_to")

    def close(self, cancel_pending_enqueues=False, name=None, timeout=None):
        """Closes the queue: later enqueues fail; dequeues drain what is left, then fail.

        As in TensorFlow, without `cancel_pending_enqueues` the close waits behind the enqueues
        already pending, which complete first (so it blocks while they wait for room); with it,
        the queue closes at once and those enqueues raise `CancelledError`.

        Raises:
            CancelledError: the queue was already closed (without `cancel_pending_enqueues`).
        """
        if _in_graph(()):
            _run_in_graph("queue_close", (), queue=self,
                          cancel_pending_enqueues=bool(cancel_pending_enqueues), timeout=timeout)
            return
        self._close(cancel_pending_enqueues, timeout)

    def is_closed(self, name=None):
        """A scalar bool tensor: whether the queue is closed."""
        if _in_graph(()):
            return _run_in_graph("queue_is_closed", (), queue=self)
        return Tensor(np.bool_(self._closed))

    def size(self, name=None):
        """A scalar int32 tensor: the number of elements in the queue."""
        if _in_graph(()):
            return _run_in_graph("queue_size", (), queue=self)
        with self._cond:
            return Tensor(np.int32(self._count()))

    # -- the operations on arrays (eager calls and the graph ops of queue_ops) -----------------
    def _enqueue_arrays(self, components, many, timeout):
        if not many:
            self._wait(self._enqueue_attempt([tuple(components)]), self._enqueue_attempts,
                       timeout, "enqueue")
            return
        n = int(components[0].shape[0])
        if any(int(c.shape[0]) != n for c in components):  # a graph's sizes are known late
            raise InvalidArgumentError(
                f"{self._kind} '{self._name}': enqueue_many needs every component to have the "
                f"same size in dimension 0, got {[int(c.shape[0]) for c in components]}.")
        elements = [tuple(c[k] for c in components) for k in range(n)]
        self._wait(self._enqueue_attempt(elements), self._enqueue_attempts, timeout,
                   "enqueue_many")

    def _dequeue_arrays(self, n, allow_small_batch, timeout):
        """One element's arrays (`n` None), else `n` elements stacked, one array per
        component."""
        if n is None:
            return self._wait(self._dequeue_attempt(1, False), self._dequeue_attempts, timeout,
                              "dequeue")[0]
        op = "dequeue_up_to" if allow_small_batch else "dequeue_many"
        taken = [] if n == 0 else self._wait(
            self._dequeue_attempt(n, allow_small_batch), self._dequeue_attempts, timeout, op)
        return self._batch(taken, len(taken))

    def _close(self, cancel_pending_enqueues, timeout):
        if not cancel_pending_enqueues:
            self._wait(_Attempt(self._close_step, is_close=True), self._enqueue_attempts,
                       timeout, "close")
            return
        with self._cond:
            self._closed = True
            for attempt in self._enqueue_attempts:
                attempt.done = True
                if not attempt.is_close:
                    attempt.error = CancelledError(
                        f"Enqueue operation was cancelled: {self._kind} '{self._name}' was "
                        f"closed with cancel_pending_enqueues=True.")
            self._enqueue_attempts.clear()
            self._flush()
            self._cond.notify_all()

    # -- storage policy (subclasses) -----------------------------------------------------------
    def _count(self) -> int:
        raise NotImplementedError

    def _put(self, element) -> None:
        raise NotImplementedError

    def _take(self):
        raise NotImplementedError

    def _available(self) -> int:
        """How many elements a dequeue may take now (RandomShuffleQueue holds some back)."""
        return self._count()

    def _restore(self, elements) -> None:
        """Puts back elements taken by a dequeue that failed or timed out, in their place."""
        raise NotImplementedError

    def _batch(self, elements, n):
        """One array per component, stacking `n` elements along a new dimension 0."""
        out = []
        for i, (dtype, shape) in enumerate(zip(self._dtypes, self._shapes)):
            if not elements:
                out.append(np.zeros([0] + shape.as_list(), dtype=dtype._np))
                continue
            column = [e[i] for e in elements]
            out.append(_xp_of(column[0]).stack(column))
        return out

    def _check_batchable(self, op):
        if not self._batchable:
            raise InvalidArgumentError(
                f"{self._kind}'s DequeueMany and DequeueUpTo require the components to have "
                f"specified shapes ({op} on '{self._name}', shapes {self._shapes}). Pass fully "
                f"defined shapes= when creating the queue, or use dtf.queue.PaddingFIFOQueue for "
                f"elements of varying shape.")

    # -- attempts ------------------------------------------------------------------------------
    def _enqueue_attempt(self, elements):
        def step(attempt):
            if self._closed:
                attempt.error = CancelledError(
                    f"{self._kind} '{self._name}' is closed: it takes no more elements "
                    f"({attempt.index} of {len(elements)} were enqueued before it closed).")
                return _COMPLETE
            progressed = False
            while attempt.index < len(elements) and (
                    self._capacity < 0 or self._count() < self._capacity):
                self._put(elements[attempt.index])
                attempt.index += 1
                progressed = True
            if attempt.index == len(elements):
                return _COMPLETE
            return _PROGRESS if progressed else _NO_PROGRESS

        return _Attempt(step)

    def _dequeue_attempt(self, n, allow_small_batch):
        def step(attempt):
            taken = attempt.taken
            if self._closed and self._count() + len(taken) < n:
                if allow_small_batch and (taken or self._count()):
                    while self._count():
                        taken.append(self._take())
                    attempt.result = taken
                    return _COMPLETE
                self._restore(taken)
                attempt.error = OutOfRangeError(
                    f"{self._kind} '{self._name}' is closed and has insufficient elements "
                    f"(requested {n}, current size {self._count()}).")
                return _COMPLETE
            progressed = False
            while len(taken) < n and self._available() > 0:
                taken.append(self._take())
                progressed = True
            if len(taken) == n:
                attempt.result = taken
                return _COMPLETE
            return _PROGRESS if progressed else _NO_PROGRESS

        return _Attempt(step)

    def _close_step(self, attempt):
        if self._closed:
            attempt.error = CancelledError(
                f"{self._kind} '{self._name}' is already closed.")
        self._closed = True
        return _COMPLETE

    def _run_head(self, attempts) -> bool:
        """Runs the attempts at the head of `attempts` until one cannot finish (TF's
        TryAttemptLocked); True if anything changed."""
        progress = False
        while attempts:
            attempt = attempts[0]
            result = attempt.step(attempt)
            if result == _COMPLETE:
                attempts.popleft()
                attempt.done = True
                progress = True
                continue
            progress = progress or result == _PROGRESS
            break
        return progress

    def _flush(self):
        """Lets pending attempts progress until none can; the lock must be held."""
        changed_any = False
        while True:
            changed = self._run_head(self._enqueue_attempts)
            changed = self._run_head(self._dequeue_attempts) or changed
            if not changed:
                break
            changed_any = True
        if changed_any:
            self._cond.notify_all()

    def _wait(self, attempt, attempts, timeout, op):
        """Queues `attempt`, waits for it to complete, and returns its result or raises."""
        if timeout is not None and timeout < 0:
            raise ValueError(f"{op}: timeout must be None or >= 0 seconds, got {timeout}.")
        with self._cond:
            attempts.append(attempt)
            self._flush()
            if not attempt.done:
                deadline = None if timeout is None else time.monotonic() + timeout
                while not attempt.done:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    self._cond.wait(remaining)
                if not attempt.done:
                    attempts.remove(attempt)
                    self._restore(attempt.taken)
                    self._flush()  # the head left: those behind it may go on
                    raise DeadlineExceededError(
                        f"{op} on {self._kind} '{self._name}' timed out after {timeout} s "
                        f"(size {self._count()}, capacity {self._capacity}).")
        if attempt.error is not None:
            raise attempt.error
        return attempt.result

    def _dequeue_batch(self, n, allow_small_batch, timeout, op):
        n = _int_arg(n, "n", f"{self._kind}.{op}")
        if n < 0:
            raise InvalidArgumentError(f"{op} requested {n} < 0 elements from '{self._name}'.")
        self._check_batchable(op)
        if _in_graph(()):
            return self._package(_run_in_graph(
                "queue_dequeue", (), queue=self, n=n, allow_small_batch=allow_small_batch,
                timeout=timeout))
        return self._package([_wrap(a) for a in self._dequeue_arrays(n, allow_small_batch,
                                                                     timeout)])

    # -- conversion ----------------------------------------------------------------------------
    def _convert(self, vals, batched):
        """The arrays of one element (or of a batch), converted and checked."""
        if isinstance(vals, dict):
            if self._names is None:
                raise ValueError(
                    f"{self._kind} '{self._name}' has no names, so it cannot take a dict; "
                    f"enqueue a tuple of {len(self._dtypes)} components, or create the queue "
                    f"with names=.")
            if sorted(vals, key=str) != sorted(self._names, key=str):
                raise ValueError(
                    f"Keys in dictionary to enqueue do not match names of Queue.  Dictionary: "
                    f"{sorted(vals, key=str)}, Queue: {self._names}")
            vals = [vals[k] for k in self._names]
        else:
            if self._names is not None:
                raise ValueError(f"You must enqueue a dictionary in a Queue with names "
                                 f"({self._names}).")
            if not isinstance(vals, (list, tuple)):
                vals = [vals]
        if len(vals) != len(self._dtypes):
            raise InvalidArgumentError(
                f"{self._kind} '{self._name}' has {len(self._dtypes)} components "
                f"({[d.name for d in self._dtypes]}), but {len(vals)} values were given. A "
                f"list is read as the tuple of components: wrap a list-valued single component "
                f"in a tuple, e.g. q.enqueue(([1, 2],)).")
        tensors = []
        for i, (val, dtype, shape) in enumerate(zip(vals, self._dtypes, self._shapes)):
            label = f"component {i}" if self._names is None else f"component {self._names[i]!r}"
            try:
                tensor = convert_to_tensor(val, dtype=dtype)
            except (TypeError, ValueError) as e:
                raise type(e)(f"{self._kind} '{self._name}', {label}: {e}") from None
            got = tensor.shape
            if batched:
                if got.rank == 0:
                    raise ValueError(f"{self._kind} '{self._name}', {label}: enqueue_many "
                                     f"needs a batch, but got a scalar (shape ()); each "
                                     f"component needs a leading dimension of elements.")
                got = TensorShape(got.as_list()[1:])
            if not shape.is_compatible_with(got):
                raise ValueError(f"{self._kind} '{self._name}', {label}: Shapes {got} and "
                                 f"{shape} are incompatible.")
            tensors.append(tensor)
        if _in_graph(tensors):  # the graph op takes the tensors; it checks sizes when it runs
            return tensors
        arrays = []
        for val, tensor in zip(vals, tensors):
            array = tensor._value
            if isinstance(val, np.ndarray) and np.shares_memory(array, val):
                array = array.copy()  # the caller may reuse their array; a queued one must stay
            arrays.append(array)
        if batched:
            sizes = {int(a.shape[0]) for a in arrays}
            if len(sizes) > 1:
                raise ValueError(
                    f"{self._kind} '{self._name}': enqueue_many needs every component to have "
                    f"the same size in dimension 0, got {[int(a.shape[0]) for a in arrays]}.")
        return arrays

    def _package(self, tensors):
        if self._names is not None:
            return dict(zip(self._names, tensors))
        if len(tensors) == 1:
            return tensors[0]
        return tensors

    def __repr__(self):
        return (f"<dtf.queue.{type(self).__name__} '{self._name}' size={self._count()} "
                f"capacity={self._capacity} dtypes={[d.name for d in self._dtypes]}>")


# -- helpers ----------------------------------------------------------------------------------
def _in_graph(tensors) -> bool:
    """Whether a queue call builds a graph op: inside a `dtf.function` trace (the op must run
    on every call of the compiled function), or on symbolic tensors."""
    from dtf.ops import registry

    return registry.is_tracing() or any(getattr(t, "_is_symbolic", False) for t in tensors)


def _run_in_graph(name, components, **attrs):
    """The graph op `name` of `queue_ops` on `components`; its outputs as a list."""
    from dtf.ops import registry
    from dtf.queue import queue_ops  # noqa: F401  (registers the queue primitives)

    outputs = registry.run(registry.get(name), tuple(components), **attrs)
    return list(outputs) if isinstance(outputs, (list, tuple)) else outputs


def _xp_of(array):
    from dtf import backend as _backend

    return _backend.backend_of(array).xp


def _wrap(array):
    if type(array) is np.ndarray and array.ndim == 0:
        array = array[()]  # NumPy scalars for rank 0, as convert_to_tensor makes them
    return Tensor(array)


def _int_arg(value, arg, op):
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {arg} must be an integer, got {value!r} "
                        f"({type(value).__name__}).")
    return int(value)


def _as_dtype_list(dtypes):
    if isinstance(dtypes, (list, tuple)):
        if not dtypes:
            raise ValueError("A queue needs at least one component dtype, got [].")
        return [_dtypes.as_dtype(d) for d in dtypes]
    return [_dtypes.as_dtype(dtypes)]


def _as_shape_list(shapes, kind, unknown_dims_allowed):
    """TensorFlow's `_as_shape_list`: a list of shapes, or one shape given as a list of ints."""
    if shapes is None:
        if unknown_dims_allowed:
            raise ValueError(f"{kind} needs shapes (a list with one shape per component; use "
                             f"None for dimensions of varying size).")
        return None
    if isinstance(shapes, TensorShape):
        shapes = [shapes]
    if not isinstance(shapes, (list, tuple)):
        raise TypeError(f"{kind}: shapes must be a TensorShape or a list or tuple of shapes, "
                        f"got {type(shapes).__name__}.")
    if all(s is None or isinstance(s, (int, np.integer)) for s in shapes):
        if unknown_dims_allowed and (not shapes or None in shapes):
            raise ValueError(f"{kind}: when providing partial shapes, a list of shapes must "
                             f"be provided, e.g. shapes=[[None]], got {shapes!r}.")
        shapes = [shapes]  # a single shape
    shapes = [as_shape(s) for s in shapes]
    if any(s.rank is None for s in shapes):
        raise ValueError(f"All shapes must have a defined rank: {shapes}")
    if not unknown_dims_allowed and not all(s.is_fully_defined() for s in shapes):
        raise ValueError(f"All shapes must be fully defined: {shapes}. Use "
                         f"dtf.queue.PaddingFIFOQueue for dimensions of varying size.")
    return shapes


def _as_name_list(names, dtypes, kind):
    if names is None:
        return None
    if not isinstance(names, (list, tuple)):
        names = [names]
    if len(names) != len(dtypes):
        raise ValueError(f"{kind}: the list of names must have the same length as the list of "
                         f"dtypes, got names {list(names)} for {len(dtypes)} dtypes.")
    return list(names)
