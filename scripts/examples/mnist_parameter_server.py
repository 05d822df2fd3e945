"""Trains the seeds' MLP on MNIST with one parameter server and two workers on an embedded
local Ray cluster: the same `model.fit` call as in one process, with Keras' progress bar, then
the test accuracy.

The parameter server holds the Variables and applies Adam; each worker gets its shard of
every global batch once, computes gradients with a compiled step and pushes them; in sync mode
the server applies each step once both shards arrived, so this trains exactly as one process
would on the same batches.

MNIST comes from `keras.datasets.mnist.load_data()`: the offline mirror named by
DTF_DATASETS_DIR (../shared/data beside a checkout), else the cache under ~/.dtf/datasets,
else a download.

Usage: python scripts/examples/mnist_parameter_server.py [--epochs 3] [--workers 2]
           [--mode sync|async|bounded] [--local]
"""

import argparse
import os

import dtf as tf
from dtf import keras


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mode", default="sync", choices=["sync", "async", "bounded"])
    parser.add_argument("--local", action="store_true",
                        help="run the servers and workers in this process (no Ray)")
    args = parser.parse_args()
    mirror = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
    if "DTF_DATASETS_DIR" not in os.environ and os.path.exists(os.path.join(mirror,
                                                                            "mnist.npz")):
        os.environ["DTF_DATASETS_DIR"] = os.path.abspath(mirror)

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    x_train = x_train.reshape(-1, 784).astype("float32") / 255
    x_test = x_test.reshape(-1, 784).astype("float32") / 255

    strategy = tf.distribute.ParameterServerStrategy(
        num_workers=args.workers, num_ps=1, mode=args.mode,
        max_staleness=2 if args.mode == "bounded" else None,
        cluster="local" if args.local else "ray")
    with strategy.scope():
        tf.random.set_seed(0)
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
    history = model.fit(x_train, y_train, batch_size=64, epochs=args.epochs,
                        validation_split=0.1)
    for actor in strategy.cluster_info():
        print(f"  {actor['name']:<28} pid {actor['pid']}")
    timing = history.timing
    steps = len(history.steps)
    print("per step (ms): " + ", ".join(
        f"{k} {1000 * sum(timing[k]) / steps:.2f}" for k in ("pull", "compute", "push", "wait")))
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)  # on the driver
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f} "
          f"({len(x_test)} held-out images)")
    strategy.shutdown()


if __name__ == "__main__":
    main()
