"""Trains the seeds' MLP on MNIST with `model.fit` in one process, with Keras' progress bar,
and prints the test accuracy.

MNIST comes from `keras.datasets.mnist.load_data()`: the offline mirror named by
DTF_DATASETS_DIR (../shared/data beside a checkout: the 10k official test images, re-split
8k/2k), else the cache under ~/.dtf/datasets, else a download.

Usage: python scripts/examples/mnist_mlp.py [--epochs 3]
"""

import argparse
import os

import dtf as tf
from dtf import keras


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    mirror = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
    if "DTF_DATASETS_DIR" not in os.environ and os.path.exists(os.path.join(mirror,
                                                                            "mnist.npz")):
        os.environ["DTF_DATASETS_DIR"] = os.path.abspath(mirror)

    tf.random.set_seed(0)
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    x_train = x_train.reshape(-1, 784).astype("float32") / 255
    x_test = x_test.reshape(-1, 784).astype("float32") / 255

    model = keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.summary()
    model.fit(x_train, y_train, batch_size=64, epochs=args.epochs, validation_split=0.1)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f} "
          f"({len(x_test)} held-out images)")


if __name__ == "__main__":
    main()
