"""`keras.optimizers.Ftrl`: Follow The Regularized Leader."""

from __future__ import annotations

from dtf.keras.optimizers import updates
from dtf.keras.optimizers.base_optimizer import Optimizer

__all__ = ["Ftrl"]


class Ftrl(Optimizer):
    """FTRL-proximal (McMahan et al., 2013), with L1, L2 and L2-shrinkage regularization, as
    Keras implements it.

    Args:
        learning_rate: a float, a `LearningRateSchedule` or a zero-argument callable
            (default 0.001).
        learning_rate_power: how the per-coordinate rate falls with the accumulated squared
            gradients (<= 0; -0.5 is Adagrad-like).
        initial_accumulator_value: the accumulators' starting value (>= 0).
        l1_regularization_strength: L1 strength (>= 0).
        l2_regularization_strength: L2 strength (>= 0).
        l2_shrinkage_regularization_strength: L2 shrinkage strength (>= 0), applied to the
            gradient.
        beta: the FTRL-proximal beta (adds `beta / (2 * lr)` to the L2 strength).
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name: see
            `Optimizer`.

    Example:
        >>> w = dtf.Variable([1.0])
        >>> opt = keras.optimizers.Ftrl(learning_rate=0.1, l1_regularization_strength=0.01)
        >>> _ = opt.apply_gradients([(dtf.constant([1.0]), w)])
        >>> float(w[0]) < 1.0
        True
    """

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, weight_decay=None, clipnorm=None, clipvalue=None,
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
        for arg, value in (("initial_accumulator_value", initial_accumulator_value),
                           ("l1_regularization_strength", l1_regularization_strength),
                           ("l2_regularization_strength", l2_regularization_strength),
                           ("l2_shrinkage_regularization_strength",
                            l2_shrinkage_regularization_strength)):
            if value < 0.0:
                raise ValueError(f"`{arg}` needs to be positive or zero. Received: "
                                 f"{arg}={value}.")
        if learning_rate_power > 0.0:
            raise ValueError("`learning_rate_power` needs to be negative or zero. Received: "
                             f"learning_rate_power={learning_rate_power}.")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def build(self, var_list):
        """Creates `accumulator` (filled with `initial_accumulator_value`) and `linear`
        slots per variable."""
        if self.built:
            return
        super().build(var_list)
        self._accumulators, self._linears = self.add_optimizer_variables(
            var_list, ["accumulator", "linear"],
            initializer=[self.initial_accumulator_value, "zeros"])
        self._set_slots(self._accumulators, self._linears)

    def _update_arrays(self, xp, value, grad, slots, lr, step):
        return updates.ftrl_update(
            xp, value, grad, slots, lr, self.learning_rate_power,
            self.l1_regularization_strength, self.l2_regularization_strength,
            self.l2_shrinkage_regularization_strength, self.beta)

    def get_config(self):
        config = super().get_config()
        config.update({
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
            "beta": self.beta,
        })
        return config
