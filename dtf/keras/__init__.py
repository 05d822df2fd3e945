"""`dtf.keras`: Keras' API (Layers, Models, losses, optimizers, metrics) on dtf.

Example:
    >>> from dtf import keras
    >>> model = keras.Sequential([keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
"""
