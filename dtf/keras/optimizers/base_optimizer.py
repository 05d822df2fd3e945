"""`keras.optimizers.Optimizer`: the base class of every optimizer.

The base class does what all optimizers share, as Keras 3 does it: it checks the gradients,
builds slot variables on the first call, skips `None` gradients with a warning, unscales
(`loss_scale_factor`), accumulates (`gradient_accumulation_steps`), clips (`clipnorm`,
`clipvalue`, `global_clipnorm`), applies weight decay, runs the update, keeps the moving
averages (`use_ema`), applies the variables' constraints and counts `iterations`.

Built-in optimizers implement `_update_arrays`, which calls a pure array function of
`dtf.keras.optimizers.updates`; the base class writes its results straight onto the Variables'
arrays (Variables are copy-on-write, so Tensors read earlier keep their values). This keeps the
eager step free of op dispatch and tapes. Custom optimizers written against Keras' API
(`build` + `update_step(gradient, variable, learning_rate)` using `self.assign*`) work too.

On the GPU (variables and `iterations` in device memory) the step never reads a device value
on the host: the step count, the learning rate (schedules included) and the step's scalars are
computed on the device (`device_step`), so a compiled training step can be captured once as a
CUDA graph and replayed, each replay with its own step. `_step_scalars(xp)` is where the two
paths part; the NumPy path computes on the host exactly as before.

Every check happens before anything changes: a gradient of the wrong shape, an unknown
variable or a list of only `None` gradients raises, and no variable, slot or `iterations` moves.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from dtf import backend as _backend
from dtf.keras.naming import auto_name
from dtf.keras.optimizers import device_step, updates
from dtf.keras.optimizers.arrays import _as_lr_scalar, _gradient_array, _variable_label
from dtf.keras.optimizers.schedules.learning_rate_schedule import LearningRateSchedule
from dtf.ops import registry as _registry
from dtf.tensor import Tensor
from dtf.variables import Variable, VariableAggregation

__all__ = ["Optimizer"]

_backend_of = _backend.backend_of

# -- default names ("adam", "adam_1", ...): Keras' auto_name, on keras.backend's counters, which
# clear_session restarts
def _floatx() -> str:
    from dtf.keras import backend as keras_backend

    return keras_backend.floatx()


class Optimizer:
    """The base class of Keras optimizers.

    Subclasses implement `build(var_list)` (creating slot variables with
    `add_variable_from_reference`) and either `update_step(gradient, variable, learning_rate)`
    in dtf ops (Keras' API, using `self.assign`, `self.assign_add`, `self.assign_sub`), or, for
    speed, `_update_arrays(xp, value, grad, slots, lr, step)` on raw arrays.

    Args:
        learning_rate: a float, a `keras.optimizers.schedules.LearningRateSchedule` (evaluated
            at `iterations`), or a zero-argument callable returning the rate.
        weight_decay: if set, each step first decays the variables: `v -= v * weight_decay * lr`.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to `[-clipvalue, clipvalue]`.
        global_clipnorm: clip all gradients together to this global L2 norm.
        use_ema: keep an exponential moving average of the variables (see
            `finalize_variable_values`).
        ema_momentum: the moving average's momentum.
        ema_overwrite_frequency: every this many steps, overwrite the variables with their
            averages (None: only in `finalize_variable_values`).
        loss_scale_factor: gradients are divided by this before use (`scale_loss` multiplies
            the loss by it).
        gradient_accumulation_steps: update only every this many steps, with the mean of the
            gradients since the last update.
        name: the optimizer's name (default: the snake-case class name, made unique).

    Example:
        >>> w = dtf.Variable([1.0, 2.0])
        >>> opt = keras.optimizers.SGD(learning_rate=0.1)
        >>> with dtf.GradientTape() as tape:
        ...     loss = dtf.reduce_sum(w * w)
        >>> _ = opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        >>> w.numpy()
        array([0.8, 1.6], dtype=float32)
    """

    # Whether updates may write the slots' arrays in place (a parameter server's optimizer,
    # whose slots nobody else holds); otherwise every update makes new arrays.
    _slots_in_place = False

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if "lr" in kwargs:  # Keras 2's spelling
            warnings.warn("The `lr` argument is deprecated, use `learning_rate` instead.",
                          stacklevel=3)
            learning_rate = kwargs.pop("lr")
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.",
                          stacklevel=3)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized by {type(self).__name__}: {kwargs}")
        if gradient_accumulation_steps is not None and not (
                isinstance(gradient_accumulation_steps, int) and gradient_accumulation_steps >= 2):
            raise ValueError("`gradient_accumulation_steps` must be an integer >= 2. Received: "
                             f"gradient_accumulation_steps={gradient_accumulation_steps}")
        if use_ema:
            if not 0 <= ema_momentum <= 1:
                raise ValueError("`ema_momentum` must be in the range [0, 1]. Received: "
                                 f"ema_momentum={ema_momentum}")
            if ema_overwrite_frequency and (not isinstance(ema_overwrite_frequency, int)
                                            or ema_overwrite_frequency < 1):
                raise ValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. "
                                 f"Received: ema_overwrite_frequency={ema_overwrite_frequency}")
        clip_args = sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm))
        if clip_args > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.name = auto_name(type(self).__name__) if name is None else name
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.built = False

        self._variables: list = []
        self._trainable_variables: list = []
        self._index: dict[int, int] = {}  # id(variable) -> its position in the build list
        self._slot_table: list[tuple] = []  # per variable: its slot Variables
        self._exclude_from_weight_decay_ids: set = set()
        self._exclude_from_weight_decay_pattern = None
        self._weight_decay_cache: dict[int, bool] = {}
        self._step_cache: dict = {}
        # Built-ins implement _update_arrays; a subclass with its own update_step takes the
        # (slower) path that calls it per variable with Tensors.
        self._custom_update_step = type(self).update_step is not Optimizer.update_step
        self._iterations = Variable(0, name="iteration", dtype="int64", trainable=False,
                                    aggregation=VariableAggregation.ONLY_FIRST_REPLICA)
        self._variables.append(self._iterations)
        self._learning_rate = self._make_learning_rate(learning_rate)

    def _make_learning_rate(self, learning_rate):
        if isinstance(learning_rate, LearningRateSchedule) or (
                callable(learning_rate) and not getattr(learning_rate, "_is_dtf_variable", False)):
            return learning_rate
        variable = Variable(self._checked_learning_rate(learning_rate), name="learning_rate",
                            dtype=_floatx(), trainable=False,
                            aggregation=VariableAggregation.ONLY_FIRST_REPLICA)
        self._variables.insert(1, variable)
        return variable

    @staticmethod
    def _checked_learning_rate(value):
        if isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False):
            if value.shape.rank == 0 and value.dtype.is_floating:
                return float(value.numpy())
        elif isinstance(value, (int, float, np.integer, np.floating)) \
                and not isinstance(value, bool):
            return float(value)
        raise ValueError(
            "Argument `learning_rate` should be float, or an instance of LearningRateSchedule, "
            "or a callable (that takes in the current iteration value and returns the "
            f"corresponding learning rate value). Received instead: learning_rate={value!r}")

    # -- properties -----------------------------------------------------------------------------
    @property
    def iterations(self):
        """How many steps were applied: an int64 Variable (with gradient accumulation, the
        number of real updates, a Tensor)."""
        if self.gradient_accumulation_steps:
            return Tensor(self._iterations._value // self.gradient_accumulation_steps)
        return self._iterations

    @property
    def learning_rate(self):
        """The current learning rate: the Variable holding it, or the schedule's (callable's)
        value at `iterations`. Settable to a float, a schedule or a callable."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return lr(self._iterations)
        if getattr(lr, "_is_dtf_variable", False):
            return lr
        return lr()

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        previous = self._learning_rate
        if isinstance(learning_rate, LearningRateSchedule) or (
                callable(learning_rate) and not getattr(learning_rate, "_is_dtf_variable", False)):
            self._learning_rate = learning_rate
            if getattr(previous, "_is_dtf_variable", False):
                self._variables = [v for v in self._variables if v is not previous]
            return
        if isinstance(previous, LearningRateSchedule):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not settable. "
                "If you need the learning rate to be settable, you should instantiate the "
                "optimizer with a float `learning_rate` argument.")
        if getattr(previous, "_is_dtf_variable", False):
            previous.assign(self._checked_learning_rate(learning_rate))
        else:
            self._learning_rate = self._make_learning_rate(learning_rate)

    # Keras 2's name for it
    lr = learning_rate

    @property
    def variables(self) -> list:
        """The optimizer's own variables: `iterations`, the learning rate, then the slots."""
        return list(self._variables)

    # -- building -------------------------------------------------------------------------------
    def build(self, var_list):
        """Creates the slot variables for `var_list` (the first `apply` calls it).

        Subclasses call `super().build(var_list)` first, then `add_variable_from_reference`.
        """
        var_list = list(var_list)
        if self.use_ema:
            self._model_variables_moving_average = self.add_optimizer_variables(
                var_list, "average")
        if self.gradient_accumulation_steps:
            self._accumulated_gradients = []
        for i, variable in enumerate(var_list):
            self._index[id(variable)] = i
            if self.gradient_accumulation_steps:
                self._accumulated_gradients.append(
                    self.add_variable_from_reference(variable, name="gradient_accumulator"))
        self._trainable_variables = var_list
        self._slot_table = [() for _ in var_list]
        self.built = True

    def _set_slots(self, *slot_lists) -> None:
        """Records each variable's slots (one list per slot kind, in the order the update
        function takes them; None entries for slots an option leaves out)."""
        count = len(self._trainable_variables)
        slot_lists = [slots if slots else [None] * count for slots in slot_lists]
        self._slot_table = [tuple(slots) for slots in zip(*slot_lists)] if slot_lists else \
            [() for _ in range(count)]

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="none",
                     layout=None, name=None):
        """Creates a non-trainable optimizer variable (tracked in `variables`).

        Args:
            shape: its shape (fully defined).
            initializer: "zeros", "ones", a number, or a Keras initializer (name or object).
            dtype: its dtype (default: floatx, float32).
            aggregation: for distribution strategies ("none", "mean", "sum",
                "only_first_replica").
            layout: unused (Keras' sharding layout).
            name: its name.
        """
        dtype = dtype if dtype is not None else _floatx()
        shape = tuple(int(d) for d in shape)
        value = self._initial_value(initializer, shape, dtype)
        aggregation = {None: VariableAggregation.NONE, "none": VariableAggregation.NONE,
                       "sum": VariableAggregation.SUM, "mean": VariableAggregation.MEAN,
                       "only_first_replica": VariableAggregation.ONLY_FIRST_REPLICA}.get(
            aggregation, aggregation)
        variable = Variable(value, trainable=False, name=name, dtype=dtype,
                            aggregation=aggregation)
        self._variables.append(variable)
        return variable

    @staticmethod
    def _initial_value(initializer, shape, dtype):
        from dtf import dtypes

        np_dtype = dtypes.as_dtype(dtype).as_numpy_dtype
        if isinstance(initializer, str) and initializer in ("zeros", "ones"):
            return (np.zeros if initializer == "zeros" else np.ones)(shape, np_dtype)
        if isinstance(initializer, (int, float)) and not isinstance(initializer, bool):
            # through float32 first, as Keras' Constant initializer casts a Python float
            return np.full(shape, updates._cast(np.dtype(np_dtype).type, initializer), np_dtype)
        from dtf.keras import initializers

        return initializers.get(initializer)(shape, dtype=dtype)

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """Creates a slot variable shaped like `reference_variable`, named
        `<reference name>_<name>` (e.g. `dense_kernel_momentum`, `w_0_velocity`)."""
        name = name or "var"
        if getattr(reference_variable, "path", None):
            name = f"{reference_variable.path.replace('/', '_')}_{name}"
        else:
            ref_name = str(reference_variable.name).replace("/", "_").replace(":", "_")
            name = f"{ref_name}_{name}"
        return self.add_variable(shape=reference_variable.shape, initializer=initializer,
                                 dtype=reference_variable.dtype, name=name)

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """Slot variables for each of `trainable_variables`: one list for a `name`, a tuple of
        lists for a list of names (created interleaved, variable by variable, as Keras)."""
        names = [name] if isinstance(name, str) else list(name)
        inits = initializer if isinstance(initializer, (list, tuple)) else \
            [initializer] * len(names)
        if len(inits) != len(names):
            raise ValueError("The number of provided names must match the number of provided "
                             f"initializers. Received name={name!r}, "
                             f"initializer={initializer!r}")
        result = tuple([] for _ in names)
        for variable in trainable_variables:
            for slots, slot_name, init in zip(result, names, inits):
                slots.append(self.add_variable_from_reference(variable, slot_name, init))
        return result[0] if isinstance(name, str) else result

    def _get_variable_index(self, variable) -> int:
        return self._index[id(variable)]

    def _var_key(self, variable) -> int:
        return id(variable)

    # -- applying -------------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        """Applies `(gradient, variable)` pairs (a zip, generator or list) and returns
        `iterations`. Pairs whose gradient is None are skipped with a warning."""
        pairs = list(grads_and_vars)
        for pair in pairs:
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise TypeError(f"{type(self).__name__}.apply_gradients expects (gradient, "
                                f"variable) pairs, e.g. zip(grads, variables); got {pair!r}.")
        self.apply([p[0] for p in pairs], [p[1] for p in pairs])
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """Applies `grads` to `trainable_variables` (default: the variables the optimizer was
        built with, in order).

        Raises:
            ValueError: a gradient's shape differs from its variable's, a variable is not one
                the optimizer was built with, or every gradient is None. Nothing changes then.
        """
        grads = list(grads)
        if not grads:
            return
        label = f"{type(self).__name__}.apply"
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must already be "
                    "built on a list of variables. Call `optimizer.build(trainable_variables)` "
                    "first.")
            if len(grads) != len(self._trainable_variables):
                raise ValueError(
                    f"{label}: got {len(grads)} gradients, but the optimizer is tracking "
                    f"{len(self._trainable_variables)} trainable variables; pass one gradient "
                    "per variable, in the order of `build`.")
            variables = self._trainable_variables
        else:
            variables = list(trainable_variables)
            if len(variables) != len(grads):
                raise ValueError(f"{label}: got {len(grads)} gradients for {len(variables)} "
                                 "variables; pass one gradient per variable.")
        if _registry.is_tracing():
            self._apply_in_graph(grads, variables, label)
            return
        arrays, missing = [], []
        for grad, variable in zip(grads, variables):
            self._check_updatable(variable, label)
            if grad is None:
                missing.append(_variable_label(variable))
                arrays.append(None)
            else:
                arrays.append(_gradient_array(grad, variable, label))
        if len(missing) == len(arrays):
            raise ValueError(f"No gradients provided for any variable: {missing}.")
        if not self.built:
            self.build(variables)
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the "
                          "loss. If using `model.compile()`, did you forget to provide a `loss` "
                          "argument?", stacklevel=3)
            kept = [(g, v) for g, v in zip(arrays, variables) if g is not None]
            arrays, variables = [g for g, _ in kept], [v for _, v in kept]
        self._apply_arrays(arrays, variables)

    def _check_updatable(self, variable, label):
        """Raises unless `variable` is a dtf.Variable this optimizer may update."""
        if not getattr(variable, "_is_dtf_variable", False):
            raise TypeError(f"{label}: expected dtf.Variables to update, got "
                            f"{type(variable).__name__} {variable!r}.")
        if self.built and id(variable) not in self._index:
            raise ValueError(
                f"Unknown variable: {variable}. This optimizer can only be called for the "
                "variables it was originally built with. When working with a new set of "
                "variables, you should recreate a new optimizer instance.")

    def _apply_in_graph(self, grads, variables, label):
        """`apply` inside a traced function: the checks now, the update as one stateful graph
        node (`optimizer_apply`) that runs `_apply_arrays` each time the graph runs."""
        from dtf.compile import context, state_ops
        from dtf.ops.creation_ops import convert_to_tensor
        from dtf.ops.math_ops import cast

        kept_grads, kept_vars, missing = [], [], []
        for grad, variable in zip(grads, variables):
            self._check_updatable(variable, label)
            if grad is None:
                missing.append(_variable_label(variable))
                continue
            if not getattr(grad, "_is_symbolic", False):
                grad = convert_to_tensor(grad)
            if grad.dtype != variable.dtype:
                grad = cast(grad, variable.dtype)
            if not variable.shape.is_compatible_with(grad.shape):
                raise ValueError(
                    f"{label}: the gradient for variable '{_variable_label(variable)}' has "
                    f"shape {grad.shape}, but the variable has shape {variable.shape}. Each "
                    "gradient must have exactly its variable's shape (compute it with "
                    "tape.gradient(loss, variables)); no variable was updated.")
            kept_grads.append(grad)
            kept_vars.append(variable)
        if not kept_grads:
            raise ValueError(f"No gradients provided for any variable: {missing}.")
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the "
                          "loss. If using `model.compile()`, did you forget to provide a `loss` "
                          "argument?", stacklevel=4)
        if not self.built:
            with context.init_scope():
                self.build(variables)
        _registry.run(state_ops.optimizer_apply, tuple(kept_grads), optimizer=self,
                      variables=tuple(kept_vars), writes=tuple(self.variables))

    def minimize(self, loss, var_list, tape=None):
        """Computes the gradients of `loss` for `var_list` and applies them (Keras 2's API).

        Args:
            loss: a zero-argument callable returning the loss, or, with `tape`, the loss
                Tensor recorded on it.
            var_list: the variables (or a callable returning them).
            tape: the GradientTape that recorded `loss`.

        Returns:
            `iterations`.

        Example:
            >>> w = dtf.Variable(3.0)
            >>> opt = keras.optimizers.SGD(0.1)
            >>> _ = opt.minimize(lambda: w * w, [w])
            >>> print(w.numpy())
            2.4
        """
        from dtf.autodiff.tape import GradientTape

        output_gradients = None
        if tape is None:
            if not callable(loss):
                raise ValueError("`tape` is required when a Tensor loss is passed; pass a "
                                 "zero-argument callable returning the loss, or the tape that "
                                 "recorded it.")
            recording = GradientTape()
            with recording:
                if not callable(var_list):
                    var_list = list(var_list)
                    recording.watch(var_list)
                loss = self.scale_loss(loss())
                if callable(var_list):  # called after the loss, which may create them
                    var_list = var_list()
            tape = recording
        elif callable(loss):
            with tape:
                loss = self.scale_loss(loss())
        elif self.loss_scale_factor is not None:
            # the loss was recorded unscaled: scale its gradient as scale_loss would have
            from dtf.ops.creation_ops import ones_like

            output_gradients = ones_like(loss) * self.loss_scale_factor
        if callable(var_list):
            var_list = var_list()
        var_list = list(var_list)
        grads = tape.gradient(loss, var_list, output_gradients=output_gradients)
        return self.apply_gradients(zip(grads, var_list))

    def scale_loss(self, loss):
        """The loss times `loss_scale_factor` (unchanged when there is none)."""
        if self.loss_scale_factor is not None:
            return loss * self.loss_scale_factor
        return loss

    def _apply_arrays(self, grads, variables) -> None:
        """One step on checked gradient arrays (no None), then the moving averages, the
        constraints and `iterations`."""
        scale = self.loss_scale_factor
        if scale is not None:
            grads = [g / scale for g in grads]
        steps = self.gradient_accumulation_steps
        if steps:
            xp = self._step_module(variables)
            if xp is np:
                self._accumulate_or_update(grads, variables, steps)
            else:
                device_step.accumulate_or_update(self, xp, grads, variables, steps)
        else:
            self._update(grads, variables)
        if self.use_ema:
            xp = self._step_module(self._trainable_variables)
            if xp is np:
                self._update_moving_averages()
            else:
                device_step.update_moving_averages(self, xp)
        # on the device too: the counter stays in device memory (a CUDA graph increments it)
        for variable in variables:
            constraint = getattr(variable, "constraint", None)
            if constraint is not None:
                variable.assign(constraint(variable))
        self._iterations._value = self._iterations._value + 1

    def _accumulate_or_update(self, grads, variables, steps) -> None:
        index = self._index
        accumulators = [self._accumulated_gradients[index[id(v)]] for v in variables]
        if (int(self._iterations._value) + 1) % steps == 0:
            grads = [(g + acc._value) / steps for g, acc in zip(grads, accumulators)]
            self._update(grads, variables)
            for acc in self._accumulated_gradients:
                acc._value = _backend_of(acc._value).xp.zeros_like(acc._value)[()]
        else:
            for g, acc in zip(grads, accumulators):
                acc._value = g + acc._value

    def _step_module(self, variables):
        """The array module the step computes with: NumPy, unless `iterations` and the first
        variable live on the device (then the step's scalars are computed there, see
        `device_step`)."""
        value = variables[0]._value if variables else None
        if type(value) is np.ndarray or value is None:
            return np
        xp = _backend_of(value).xp
        if xp is not np and not isinstance(self._iterations._value, xp.ndarray):
            return np  # a host `iterations` (an optimizer made under a CPU scope)
        return xp

    def _step_scalars(self, xp):
        """The step's `(learning rate, 1-based step)`: a NumPy scalar and a Python int on
        NumPy (read on the host, as Keras does); on the GPU 0-d device arrays computed from the
        device `iterations`, with no host synchronisation (`device_step`), so that a training
        step can be captured into a CUDA graph and every replay sees its own step."""
        if xp is np:
            return self._learning_rate_scalar(), self._current_step() + 1
        return device_step.learning_rate(self, xp), device_step.step(self, xp)

    _cast_rate = staticmethod(device_step.cast_rate)

    def _current_step(self) -> int:
        """`iterations` as a Python int (real updates under gradient accumulation)."""
        it = int(self._iterations._value)
        steps = self.gradient_accumulation_steps
        return it // steps if steps else it

    def _learning_rate_scalar(self):
        lr = self._learning_rate
        if getattr(lr, "_is_dtf_variable", False):
            return lr._value
        if isinstance(lr, LearningRateSchedule):
            return _as_lr_scalar(lr(self._iterations))
        return _as_lr_scalar(lr())

    def _per_step(self, dtype, compute):
        """`compute()`, once per step and variable dtype (scalars such as Adam's bias-corrected
        step size, which all variables of a dtype share)."""
        cache = self._step_cache
        value = cache.get(dtype)
        if value is None:
            value = cache[dtype] = compute()
        return value

    def _update(self, grads, variables) -> None:
        """Clipping, weight decay and the update step of every variable."""
        self._step_cache = {}
        grads = self._clip_gradients(grads)
        lr, step = self._step_scalars(self._step_module(variables))
        self._prepare_step(step)
        decay = self.weight_decay
        if self._custom_update_step:
            self._apply_weight_decay(variables, lr)
            learning_rate = self.learning_rate
            for grad, variable in zip(grads, variables):
                self.update_step(Tensor(grad), variable, learning_rate)
            return
        update = self._update_arrays
        index = self._index
        slot_table = self._slot_table
        lr_dtype = lr.dtype
        for grad, variable in zip(grads, variables):
            value = variable._value
            dtype = value.dtype
            lr_v = lr if dtype is lr_dtype or dtype == lr_dtype else self._cast_rate(lr, dtype)
            if decay is not None and self._use_weight_decay(variable):
                value = value - value * updates._cast(dtype.type, decay) * lr_v
            slots = slot_table[index[id(variable)]]
            xp = np if type(value) is np.ndarray else _backend_of(value).xp
            new_value, new_slots = update(
                xp, value, grad, [None if s is None else s._value for s in slots], lr_v, step)
            variable._value = new_value
            for slot, array in zip(slots, new_slots):
                if slot is not None:
                    slot._value = array

    def _prepare_step(self, step) -> None:
        """Per-step work before the variables' updates (Nadam's momentum cache); `step` is a
        Python int, or a 0-d device array on the GPU (see `_step_scalars`)."""

    def _update_arrays(self, xp, value, grad, slots, lr, step):
        """The new value of one variable and of its slots, from arrays (see `updates`)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `update_step(gradient, variable, "
            "learning_rate)` (or `_update_arrays`).")

    def update_step(self, gradient, variable, learning_rate):
        """Updates one variable from its gradient (Keras' extension point for custom
        optimizers, in dtf ops with `self.assign*`). Built-in optimizers run their array update
        function here."""
        grad = _gradient_array(gradient, variable, f"{type(self).__name__}.update_step")
        self._step_cache = {}
        value = variable._value
        xp = self._step_module([variable])
        if xp is np:
            lr, step = _as_lr_scalar(learning_rate), self._current_step() + 1
        else:
            lr, step = device_step.as_rate(learning_rate, xp), device_step.step(self, xp)
        slots = self._slot_table[self._index[id(variable)]]
        new_value, new_slots = self._update_arrays(
            _backend_of(value).xp, value, grad,
            tuple(None if s is None else s._value for s in slots),
            self._cast_rate(lr, value.dtype), step)
        variable._value = new_value
        for slot, array in zip(slots, new_slots):
            if slot is not None:
                slot._value = array

    def assign(self, variable, value):
        """`variable.assign(value)`, cast to the variable's dtype (for `update_step`)."""
        variable.assign(self._cast_to(variable, value))

    def assign_add(self, variable, value):
        variable.assign_add(self._cast_to(variable, value))

    def assign_sub(self, variable, value):
        variable.assign_sub(self._cast_to(variable, value))

    @staticmethod
    def _cast_to(variable, value):
        from dtf.ops.creation_ops import cast

        if (isinstance(value, Tensor) or getattr(value, "_is_dtf_variable", False)) \
                and value.dtype != variable.dtype:
            return cast(value, variable.dtype)
        return value

    # -- clipping, weight decay, moving averages -----------------------------------------------
    def _clip_gradients(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            return [updates.clip_by_norm(_backend_of(g).xp, g, self.clipnorm) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return updates.clip_by_global_norm(_backend_of(grads[0]).xp, grads,
                                               self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            v = self.clipvalue
            return [_backend_of(g).xp.clip(g, -v, v) for g in grads]
        return grads

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exempts variables from weight decay: those in `var_list`, and those whose name
        contains any of `var_names` (e.g. `["bias"]`). Call before the optimizer is built."""
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the "
                             "optimizer is built.")
        self._exclude_from_weight_decay_ids = {id(v) for v in var_list or ()}
        self._exclude_from_weight_decay_pattern = (
            re.compile("|".join(set(var_names))) if var_names else None)
        self._weight_decay_cache = {}

    def _use_weight_decay(self, variable) -> bool:
        key = id(variable)
        cached = self._weight_decay_cache.get(key)
        if cached is None:
            pattern = self._exclude_from_weight_decay_pattern
            cached = key not in self._exclude_from_weight_decay_ids and (
                pattern is None or pattern.search(variable.name) is None)
            self._weight_decay_cache[key] = cached
        return cached

    def _apply_weight_decay(self, variables, lr) -> None:
        decay = self.weight_decay
        if decay is None:
            return
        for variable in variables:
            if self._use_weight_decay(variable):
                value = variable._value
                dtype = value.dtype
                variable._value = value - value * updates._cast(dtype.type, decay) * \
                    self._cast_rate(lr, dtype)

    def _update_moving_averages(self) -> None:
        first_step = self._current_step() == 0
        for variable, average in zip(self._trainable_variables,
                                     self._model_variables_moving_average):
            value = variable._value
            dtype = value.dtype.type
            momentum = dtype(0.0) if first_step else dtype(self.ema_momentum)
            average._value = momentum * average._value + (1 - momentum) * value
        frequency = self.ema_overwrite_frequency
        if frequency and (self._current_step() + 1) % frequency == 0:
            self._overwrite_model_variables_with_average_value(self._trainable_variables)

    def _overwrite_model_variables_with_average_value(self, var_list) -> None:
        var_list = list(var_list)
        averages = self._model_variables_moving_average
        if len(var_list) != len(averages):
            raise ValueError(
                f"The length of model variables ({len(var_list)}) to override does not match "
                f"the length of model variables stored in the optimizer ({len(averages)}). "
                "Please check if the optimizer was called on your model.")
        for variable, average in zip(var_list, averages):
            variable._value = average._value

    def finalize_variable_values(self, var_list):
        """With `use_ema`, sets the variables to their moving averages (call after training)."""
        if self.use_ema:
            self._overwrite_model_variables_with_average_value(var_list)

    # -- weights and config ---------------------------------------------------------------------
    def get_weights(self) -> list:
        """The values of `variables` as NumPy arrays (Keras 2's API)."""
        return [np.asarray(v.numpy()) for v in self._variables]

    def set_weights(self, weights) -> None:
        """Sets `variables` from a list of arrays (as `get_weights` returns)."""
        if not self.built:
            raise ValueError(
                "You are calling `set_weights()` on an optimizer that has not yet been built. "
                "Please call `optimizer.build(trainable_variables)` to create the optimizer "
                "weights before calling `set_weights()`.")
        weights = list(weights)
        if len(weights) != len(self._variables):
            raise ValueError(f"{self.name}: set_weights got {len(weights)} arrays for "
                             f"{len(self._variables)} optimizer variables.")
        for variable, weight in zip(self._variables, weights):
            if tuple(variable.shape) != tuple(np.shape(weight)):
                raise ValueError(f"Optimizer variable '{variable.name}' has shape "
                                 f"{variable.shape} not compatible with provided weight shape "
                                 f"{tuple(np.shape(weight))}.")
        for variable, weight in zip(self._variables, weights):
            variable.assign(weight)

    def save_own_variables(self, store) -> None:
        """Writes `variables` into `store` under "0", "1", ... (Keras' saving)."""
        for i, variable in enumerate(self._variables):
            store[str(i)] = np.asarray(variable.numpy())

    def load_own_variables(self, store) -> None:
        """Reads `variables` back from a `save_own_variables` store."""
        if len(store.keys()) != len(self._variables):
            warnings.warn(
                f"Skipping variable loading for optimizer '{self.name}', because it has "
                f"{len(self._variables)} variables whereas the saved optimizer has "
                f"{len(store.keys())} variables.", stacklevel=2)
            return
        for i, variable in enumerate(self._variables):
            variable.assign(store[str(i)])

    def get_config(self) -> dict:
        """The constructor arguments (a schedule serialized, a float learning rate as float)."""
        lr = self._learning_rate
        if getattr(lr, "_is_dtf_variable", False):
            learning_rate = float(lr.numpy())
        else:
            from dtf.keras.saving.serialization import serialize_keras_object

            learning_rate = serialize_keras_object(lr)
        return {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new optimizer (without state) from `get_config()`'s dict."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            from dtf.keras.saving.serialization import deserialize_keras_object

            config["learning_rate"] = deserialize_keras_object(
                config["learning_rate"], custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<dtf.keras.optimizers.{type(self).__name__} name={self.name!r}>"
