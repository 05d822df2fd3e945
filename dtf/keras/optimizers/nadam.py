"""`keras.optimizers.Nadam` and `keras.optimizers.Adamax`: Adam's variants."""

from __future__ import annotations

from dtf.keras.optimizers import updates
from dtf.keras.optimizers.base_optimizer import Optimizer

__all__ = ["Adamax", "Nadam"]


class Nadam(Optimizer):
    """Nadam: Adam with Nesterov momentum, with Keras' momentum schedule
    `u_t = beta_1 * (1 - 0.5 * 0.96^t)` and its running product (the "momentum cache", a
    variable of the optimizer updated once per step).

    Args:
        learning_rate: a float, a `LearningRateSchedule` or a zero-argument callable
            (default 0.001).
        beta_1: the decay rate of the first-moment estimates.
        beta_2: the decay rate of the second-moment estimates.
        epsilon: the small constant added to `sqrt(v_hat)`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name: see
            `Optimizer`.

    Example:
        >>> w = dtf.Variable([1.0])
        >>> opt = keras.optimizers.Nadam(learning_rate=0.1)
        >>> _ = opt.apply_gradients([(dtf.constant([1.0]), w)])
        >>> float(w[0]) < 1.0
        True
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
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
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def build(self, var_list):
        """Creates `momentum` and `velocity` slots per variable and the momentum cache (in
        the first variable's dtype)."""
        if self.built:
            return
        var_list = list(var_list)
        dtype = var_list[0].dtype if var_list else "float32"
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        self._u_product = self.add_variable((), initializer="ones", dtype=dtype,
                                            name="variable")
        self._set_slots(self._momentums, self._velocities)

    def _prepare_step(self, step):
        # a host step (NumPy) reads the cache on the host; a device step (GPU) updates the
        # cache's device array, without a host synchronisation
        u_product = self._u_product.numpy()[()] if isinstance(step, int) else \
            self._u_product._value
        self._u_product._value = updates.nadam_u_product(u_product, self.beta_1, step)

    def _update_arrays(self, xp, value, grad, slots, lr, step):
        coefficients = self._per_step(value.dtype, lambda: updates.nadam_coefficients(
            value.dtype.type, step, self._u_product._value, self.beta_1, self.beta_2))
        return updates.nadam_update(xp, value, grad, slots, lr, coefficients, self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config


class Adamax(Optimizer):
    """Adamax: Adam with the infinity norm in place of the second moment.

    `m = m + (g - m) * (1 - beta_1)`, `u = max(beta_2 * u, |g|)`,
    `w = w - lr * m / ((1 - beta_1^t) * (u + epsilon))`.

    Args:
        learning_rate: a float, a `LearningRateSchedule` or a zero-argument callable
            (default 0.001).
        beta_1: the decay rate of the first-moment estimates.
        beta_2: the decay rate of the weighted infinity norm.
        epsilon: the small constant added to `u`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name: see
            `Optimizer`.

    Example:
        >>> w = dtf.Variable([1.0])
        >>> opt = keras.optimizers.Adamax(learning_rate=0.1)
        >>> _ = opt.apply_gradients([(dtf.constant([3.0]), w)])
        >>> w.numpy().round(4)
        array([0.9], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
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
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def build(self, var_list):
        """Creates `momentum` and `norm` slots per variable."""
        if self.built:
            return
        super().build(var_list)
        self._m, self._u = self.add_optimizer_variables(var_list, ["momentum", "norm"])
        self._set_slots(self._m, self._u)

    def _update_arrays(self, xp, value, grad, slots, lr, step):
        bias_correction = self._per_step(value.dtype, lambda: updates.adamax_bias_correction(
            value.dtype.type, step, self.beta_1))
        return updates.adamax_update(xp, value, grad, slots, lr, bias_correction, self.beta_1,
                                     self.beta_2, self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
