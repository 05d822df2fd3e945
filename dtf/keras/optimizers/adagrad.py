"""`keras.optimizers.Adagrad` and `keras.optimizers.Adadelta`."""

from __future__ import annotations

from dtf.keras.optimizers import updates
from dtf.keras.optimizers.base_optimizer import Optimizer

__all__ = ["Adadelta", "Adagrad"]


class Adagrad(Optimizer):
    """Adagrad: per-parameter learning rates scaled by the accumulated squared gradients.

    `accumulator += g^2`; `w = w - lr * g / sqrt(accumulator + epsilon)`.

    Args:
        learning_rate: a float, a `LearningRateSchedule` or a zero-argument callable
            (default 0.001).
        initial_accumulator_value: the accumulators' starting value (>= 0).
        epsilon: the small constant added under the square root.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name: see
            `Optimizer`.

    Example:
        >>> w = dtf.Variable([1.0])
        >>> opt = keras.optimizers.Adagrad(learning_rate=0.1, initial_accumulator_value=0.0)
        >>> _ = opt.apply_gradients([(dtf.constant([2.0]), w)])
        >>> w.numpy().round(4)
        array([0.9], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, name=name, weight_decay=weight_decay,
            clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
            use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def build(self, var_list):
        """Creates an `accumulator` slot per variable, filled with
        `initial_accumulator_value`."""
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(
            var_list, "accumulator", initializer=self.initial_accumulator_value)
        self._set_slots(self._accumulators)

    def _update_arrays(self, xp, value, grad, slots, lr, step):
        return updates.adagrad_update(xp, value, grad, slots, lr, self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value,
                       "epsilon": self.epsilon})
        return config


class Adadelta(Optimizer):
    """Adadelta: step sizes from moving averages of squared gradients and squared updates.

    `acc_g = rho * acc_g + (1 - rho) * g^2`;
    `delta = -sqrt(acc_delta + epsilon) * g / sqrt(acc_g + epsilon)`;
    `acc_delta = rho * acc_delta + (1 - rho) * delta^2`; `w = w + lr * delta`.

    Args:
        learning_rate: a float, a `LearningRateSchedule` or a zero-argument callable
            (default 0.001; Keras' original Adadelta used 1.0).
        rho: the decay rate of the moving averages.
        epsilon: the small constant in the root mean squares.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name: see
            `Optimizer`.

    Example:
        >>> w = dtf.Variable([1.0])
        >>> opt = keras.optimizers.Adadelta(learning_rate=1.0)
        >>> _ = opt.apply_gradients([(dtf.constant([1.0]), w)])
        >>> float(w[0]) < 1.0
        True
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, name=name, weight_decay=weight_decay,
            clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
            use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def build(self, var_list):
        """Creates `accumulated_grad` and `accumulated_delta_var` slots per variable."""
        if self.built:
            return
        super().build(var_list)
        self._accumulated_grads, self._accumulated_delta_vars = self.add_optimizer_variables(
            var_list, ["accumulated_grad", "accumulated_delta_var"])
        self._set_slots(self._accumulated_grads, self._accumulated_delta_vars)

    def _update_arrays(self, xp, value, grad, slots, lr, step):
        return updates.adadelta_update(xp, value, grad, slots, lr, self.rho, self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
