"""Each optimizer's first steps against Keras 3's update formulas, written out here in NumPy
(float64) from Keras' documentation and source."""

import numpy as np
import pytest

import dtf
from dtf.keras import optimizers

RNG = np.random.default_rng(0)
W0 = RNG.standard_normal((3, 2)).astype(np.float32)
GRADS = [RNG.standard_normal((3, 2)).astype(np.float32) for _ in range(3)]


def run_dtf(optimizer, steps=3):
    """The variable's value after each of the first `steps` steps."""
    w = dtf.Variable(W0, name="w")
    values = []
    for g in GRADS[:steps]:
        optimizer.apply_gradients([(dtf.constant(g), w)])
        values.append(w.numpy())
    return values


def check(optimizer, expected):
    for step, (got, want) in enumerate(zip(run_dtf(optimizer), expected), start=1):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6,
                                   err_msg=f"{type(optimizer).__name__}, step {step}")


def by_hand(update, state):
    """Runs `update(w, g, t, state) -> w` over the gradients (t = 1, 2, 3) in float64."""
    w = W0.astype(np.float64)
    out = []
    for t, g in enumerate(GRADS, start=1):
        w = update(w, g.astype(np.float64), t, state)
        out.append(w.copy())
    return out


def test_sgd():
    lr = 0.1
    check(optimizers.SGD(lr), by_hand(lambda w, g, t, s: w - lr * g, {}))


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum(nesterov):
    lr, momentum = 0.1, 0.9

    def update(w, g, t, s):
        s["v"] = momentum * s.get("v", 0.0) - lr * g
        if nesterov:
            return w + momentum * s["v"] - lr * g
        return w + s["v"]

    check(optimizers.SGD(lr, momentum=momentum, nesterov=nesterov), by_hand(update, {}))


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam(amsgrad):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7

    def update(w, g, t, s):
        s["m"] = s.get("m", 0.0) + (g - s.get("m", 0.0)) * (1 - b1)
        s["v"] = s.get("v", 0.0) + (g * g - s.get("v", 0.0)) * (1 - b2)
        v = s["v"]
        if amsgrad:
            s["v_hat"] = np.maximum(s.get("v_hat", 0.0), s["v"])
            v = s["v_hat"]
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return w - alpha * s["m"] / (np.sqrt(v) + eps)

    check(optimizers.Adam(lr, amsgrad=amsgrad), by_hand(update, {}))


def test_adam_amsgrad_differs_when_the_second_moment_falls():
    # AMSGrad keeps the running maximum of v: a large then a small gradient must differ
    w1, w2 = dtf.Variable([1.0]), dtf.Variable([1.0])
    plain = optimizers.Adam(0.1, beta_2=0.5)
    ams = optimizers.Adam(0.1, beta_2=0.5, amsgrad=True)
    for g in ([10.0], [0.01], [0.01]):
        plain.apply_gradients([(dtf.constant(g), w1)])
        ams.apply_gradients([(dtf.constant(g), w2)])
    assert abs(float(w1[0]) - float(w2[0])) > 1e-3


def test_adamw():
    lr, wd, b1, b2, eps = 0.01, 0.1, 0.9, 0.999, 1e-7

    def update(w, g, t, s):
        w = w - w * wd * lr  # decoupled decay first
        s["m"] = s.get("m", 0.0) * b1 + (1 - b1) * g
        s["v"] = s.get("v", 0.0) * b2 + (1 - b2) * g * g
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return w - alpha * s["m"] / (np.sqrt(s["v"]) + eps)

    check(optimizers.AdamW(lr, weight_decay=wd), by_hand(update, {}))


@pytest.mark.parametrize("centered,momentum", [(False, 0.0), (True, 0.0), (False, 0.5),
                                               (True, 0.5)])
def test_rmsprop(centered, momentum):
    lr, rho, eps = 0.01, 0.9, 1e-7

    def update(w, g, t, s):
        s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g * g
        denominator = s["v"] + eps
        if centered:
            s["a"] = rho * s.get("a", 0.0) + (1 - rho) * g
            denominator = s["v"] - s["a"] ** 2 + eps
        increment = lr * g / np.sqrt(denominator)
        if momentum:
            s["m"] = momentum * s.get("m", 0.0) + increment
            return w - s["m"]
        return w - increment

    check(optimizers.RMSprop(lr, momentum=momentum, centered=centered), by_hand(update, {}))


def test_adagrad():
    lr, init, eps = 0.1, 0.1, 1e-7

    def update(w, g, t, s):
        s["acc"] = s.get("acc", init) + g * g
        return w - lr * g / np.sqrt(s["acc"] + eps)

    check(optimizers.Adagrad(lr), by_hand(update, {}))


def test_adadelta():
    lr, rho, eps = 1.0, 0.95, 1e-7

    def update(w, g, t, s):
        s["eg"] = rho * s.get("eg", 0.0) + (1 - rho) * g * g
        delta = -np.sqrt(s.get("ed", 0.0) + eps) / np.sqrt(s["eg"] + eps) * g
        s["ed"] = rho * s.get("ed", 0.0) + (1 - rho) * delta * delta
        return w + lr * delta

    check(optimizers.Adadelta(lr), by_hand(update, {}))


def test_nadam():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7

    def update(w, g, t, s):
        u_t = b1 * (1 - 0.5 * 0.96 ** t)
        u_next = b1 * (1 - 0.5 * 0.96 ** (t + 1))
        s["u_product"] = s.get("u_product", 1.0) * u_t  # the momentum cache
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        m_hat = u_next * s["m"] / (1 - s["u_product"] * u_next) \
            + (1 - u_t) * g / (1 - s["u_product"])
        v_hat = s["v"] / (1 - b2 ** t)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps)

    check(optimizers.Nadam(lr), by_hand(update, {}))


def test_adamax():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7

    def update(w, g, t, s):
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["u"] = np.maximum(b2 * s.get("u", 0.0), np.abs(g))
        return w - lr * s["m"] / ((1 - b1 ** t) * (s["u"] + eps))

    check(optimizers.Adamax(lr), by_hand(update, {}))


@pytest.mark.parametrize("l1,l2,shrinkage,beta,power", [(0.0, 0.0, 0.0, 0.0, -0.5),
                                                        (0.01, 0.02, 0.03, 0.5, -0.7)])
def test_ftrl(l1, l2, shrinkage, beta, power):
    lr, init = 0.1, 0.1

    def update(w, g, t, s):
        n = s.get("n", np.full_like(w, init))
        z = s.get("z", np.zeros_like(w))
        n_new = n + g * g
        sigma = (n_new ** -power - n ** -power) / lr
        z = z + g + 2 * shrinkage * w - sigma * w
        quadratic = n_new ** -power / lr + 2 * (l2 + beta / (2 * lr))
        s["n"], s["z"] = n_new, z
        return (np.clip(z, -l1, l1) - z) / quadratic

    opt = optimizers.Ftrl(lr, learning_rate_power=power, l1_regularization_strength=l1,
                          l2_regularization_strength=l2,
                          l2_shrinkage_regularization_strength=shrinkage, beta=beta)
    check(opt, by_hand(update, {}))


def test_weight_decay_on_any_optimizer():
    lr, wd = 0.1, 0.05
    check(optimizers.SGD(lr, weight_decay=wd),
          by_hand(lambda w, g, t, s: (w - w * wd * lr) - lr * g, {}))
