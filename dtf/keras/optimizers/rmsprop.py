"""`keras.optimizers.RMSprop`."""

from __future__ import annotations

from dtf.keras.optimizers import updates
from dtf.keras.optimizers.base_optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop: divides the gradient by a moving root mean square of recent gradients.

    `velocity = rho * velocity + (1 - rho) * g^2`; `w = w - lr * g / sqrt(velocity + epsilon)`
    (centered: `velocity - average_gradient^2 + epsilon` under the root). With momentum,
    `m = momentum * m + lr * g / sqrt(...)` and `w = w - m`.

    Args:
        learning_rate: a float, a `LearningRateSchedule` or a zero-argument callable
            (default 0.001).
        rho: the discounting factor of the squared gradients' average.
        momentum: the momentum (0: none).
        epsilon: the small constant added under the square root.
        centered: normalize by the estimated variance of the gradient.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name: see
            `Optimizer`.

    Example:
        >>> opt = keras.optimizers.RMSprop(learning_rate=0.1)
        >>> var1 = dtf.Variable(10.0)
        >>> _ = opt.minimize(lambda: (var1 ** 2) / 2.0, [var1])  # d(loss) / d(var1) = var1
        >>> round(float(var1), 6)
        9.683772
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
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
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def build(self, var_list):
        """Creates `velocity` slots (and `momentum`, `average_gradient` when used)."""
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(var_list, "average_gradient")
        self._set_slots(self._velocities, self._momentums, self._average_gradients)

    def _update_arrays(self, xp, value, grad, slots, lr, step):
        return updates.rmsprop_update(xp, value, grad, slots, lr, self.rho, self.momentum,
                                      self.epsilon, self.centered)

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                       "centered": self.centered})
        return config
