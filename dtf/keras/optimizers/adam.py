"""`keras.optimizers.Adam` and `keras.optimizers.AdamW` (Adam with decoupled weight decay)."""

from __future__ import annotations

from dtf.keras.optimizers import updates
from dtf.keras.optimizers.base_optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam: stochastic gradient descent with adaptive first- and second-moment estimates.

    Per step t: `m = m + (g - m) * (1 - beta_1)`, `v = v + (g^2 - v) * (1 - beta_2)`,
    `w = w - lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)` (Keras'
    epsilon "hat", outside the bias correction).

    Args:
        learning_rate: a float, a `LearningRateSchedule` or a zero-argument callable
            (default 0.001).
        beta_1: the decay rate of the first-moment estimates.
        beta_2: the decay rate of the second-moment estimates.
        epsilon: the small constant added to `sqrt(v)`.
        amsgrad: divide by the running maximum of `v` (AMSGrad).
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name: see
            `Optimizer`.

    Example:
        >>> w = dtf.Variable([1.0, -1.0])
        >>> opt = keras.optimizers.Adam(learning_rate=0.1)
        >>> _ = opt.apply_gradients([(dtf.constant([0.5, -2.0]), w)])
        >>> w.numpy().round(4)  # the first step moves each weight by about lr
        array([ 0.9, -0.9], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, name=name, weight_decay=weight_decay,
            clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
            use_ema=use_ema, ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def build(self, var_list):
        """Creates `momentum` and `velocity` slots per variable (and `velocity_hat` for
        AMSGrad)."""
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")
            self._set_slots(self._momentums, self._velocities, self._velocity_hats)
        else:
            self._set_slots(self._momentums, self._velocities)

    def _update_arrays(self, xp, value, grad, slots, lr, step):
        alpha = self._per_step(value.dtype, lambda: updates.adam_step_size(
            value.dtype.type, lr, step, self.beta_1, self.beta_2))
        return updates.adam_update(xp, value, grad, slots, alpha, self.beta_1, self.beta_2,
                                   self.epsilon, in_place=self._slots_in_place)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                       "amsgrad": self.amsgrad})
        return config


class AdamW(Adam):
    """Adam with decoupled weight decay: before each Adam step, `w = w - w * weight_decay * lr`.

    Args:
        learning_rate: a float, a `LearningRateSchedule` or a zero-argument callable
            (default 0.001).
        weight_decay: the decay rate (default 0.004; required).
        beta_1, beta_2, epsilon, amsgrad: as `Adam`.
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
        loss_scale_factor, gradient_accumulation_steps, name: see `Optimizer`.

    Example:
        >>> w = dtf.Variable([1.0])
        >>> opt = keras.optimizers.AdamW(learning_rate=0.1, weight_decay=0.5)
        >>> _ = opt.apply_gradients([(dtf.constant([0.0]), w)])
        >>> w.numpy()  # decayed by w * 0.5 * 0.1; a zero gradient adds no Adam step
        array([0.95], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(
            learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
            amsgrad=amsgrad, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
            clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
            ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")
