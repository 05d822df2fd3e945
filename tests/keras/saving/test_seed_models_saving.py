"""Seed 004's variational autoencoders saved and restored: the functional VAE (nested
Functional models, a custom Sampling layer, add_loss, fit) through model.save/load_model, and
the subclassed VAE (a Layer trained by a custom loop) through dtf.train.Checkpoint."""

import numpy as np

import dtf
import dtf.train
from dtf import keras
from dtf.keras import layers


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = dtf.shape(z_mean)[0]
        dim = dtf.shape(z_mean)[1]
        epsilon = keras.backend.random_normal(shape=(batch, dim))
        return z_mean + dtf.exp(0.5 * z_log_var) * epsilon


class Encoder(layers.Layer):
    def __init__(self, latent_dim=32, intermediate_dim=64, **kwargs):
        super().__init__(**kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation=dtf.nn.relu)
        self.dense_mean = layers.Dense(latent_dim)
        self.dense_log_var = layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        z = self.sampling((z_mean, z_log_var))
        return z_mean, z_log_var, z


class Decoder(layers.Layer):
    def __init__(self, original_dim, intermediate_dim=64, **kwargs):
        super().__init__(**kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation=dtf.nn.relu)
        self.dense_output = layers.Dense(original_dim, activation=dtf.nn.sigmoid)

    def call(self, inputs):
        return self.dense_output(self.dense_proj(inputs))


class VariationalAutoEncoder(layers.Layer):
    def __init__(self, original_dim, intermediate_dim=64, latent_dim=32, **kwargs):
        super().__init__(**kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        kl_loss = -0.5 * dtf.reduce_mean(z_log_var - dtf.square(z_mean) - dtf.exp(z_log_var) + 1)
        self.add_loss(kl_loss)
        return reconstructed


ORIGINAL, INTERMEDIATE, LATENT = 20, 8, 4


def _images(seed=0, n=32):
    return np.random.default_rng(seed).uniform(size=(n, ORIGINAL)).astype("float32")


def _functional_vae():
    original_inputs = keras.Input(shape=(ORIGINAL,), name="encoder_input")
    x = layers.Dense(INTERMEDIATE, activation="relu")(original_inputs)
    z_mean = layers.Dense(LATENT, name="z_mean")(x)
    z_log_var = layers.Dense(LATENT, name="z_log_var")(x)
    z = Sampling()((z_mean, z_log_var))
    encoder = keras.Model(inputs=original_inputs, outputs=z, name="encoder")
    latent_inputs = keras.Input(shape=(LATENT,), name="z_sampling")
    x = layers.Dense(INTERMEDIATE, activation="relu")(latent_inputs)
    outputs = layers.Dense(ORIGINAL, activation="sigmoid")(x)
    decoder = keras.Model(inputs=latent_inputs, outputs=outputs, name="decoder")
    vae = keras.Model(inputs=original_inputs, outputs=decoder(encoder(original_inputs)),
                      name="vae")
    kl_loss = -0.5 * dtf.reduce_mean(z_log_var - dtf.square(z_mean) - dtf.exp(z_log_var) + 1)
    vae.add_loss(kl_loss)
    vae.compile(keras.optimizers.Adam(learning_rate=1e-3),
                loss=keras.losses.MeanSquaredError())
    return vae


def _seeded(fn, *args, **kwargs):
    dtf.random.set_seed(1234)  # the same noise for the original and the restored model
    return fn(*args, **kwargs)


def test_functional_vae_round_trip(tmp_path):
    x = _images()
    vae = _functional_vae()
    vae.fit(x, x, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "vae.keras"
    keras.saving.save_model(vae, path)
    restored = keras.saving.load_model(path, custom_objects={"Sampling": Sampling})
    assert [layer.name for layer in restored.layers] == [layer.name for layer in vae.layers]
    np.testing.assert_array_equal(_seeded(vae.predict, x, verbose=0),
                                  _seeded(restored.predict, x, verbose=0))
    first = _seeded(vae.fit, x, x, batch_size=8, epochs=1, shuffle=False, verbose=0)
    second = _seeded(restored.fit, x, x, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert first.history == second.history
    for a, b in zip(vae.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)


def _training_step(vae, optimizer, x):
    loss_fn = keras.losses.MeanSquaredError()
    with dtf.GradientTape() as tape:
        reconstructed = vae(x)
        loss = loss_fn(x, reconstructed) + sum(vae.losses)
    grads = tape.gradient(loss, vae.trainable_weights)
    optimizer.apply_gradients(zip(grads, vae.trainable_weights))
    return float(loss.numpy())


def test_subclassed_vae_custom_loop_checkpoint(tmp_path):
    x = _images()
    vae = VariationalAutoEncoder(ORIGINAL, INTERMEDIATE, LATENT)
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    for start in range(0, 32, 8):
        _training_step(vae, optimizer, x[start:start + 8])
    manager = dtf.train.CheckpointManager(
        dtf.train.Checkpoint(vae=vae, optimizer=optimizer), tmp_path, max_to_keep=1)
    manager.save()
    # a new process: nothing built yet; values arrive when the model and optimizer build
    vae2 = VariationalAutoEncoder(ORIGINAL, INTERMEDIATE, LATENT)
    optimizer2 = keras.optimizers.Adam(learning_rate=1e-3)
    status = dtf.train.Checkpoint(vae=vae2, optimizer=optimizer2).restore(
        dtf.train.latest_checkpoint(tmp_path))
    vae2(x[:1])  # builds every layer: each gets its values as it is built
    for a, b in zip(vae.weights, vae2.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # (seeded after building: the initializers' draws would shift the sampling noise)
    assert _seeded(_training_step, vae, optimizer, x[:8]) == \
        _seeded(_training_step, vae2, optimizer2, x[:8])  # builds the optimizer: slots
    status.assert_consumed()
    for a, b in zip(vae.weights + optimizer.variables, vae2.weights + optimizer2.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
