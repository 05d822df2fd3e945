"""`dtf.saved_model`: save traced functions, modules and Keras models to one portable file and
load them back without the code that made them, as `tf.saved_model`.

The file is msgpack (see `dtf.compile.export` for its layout): a format name and version, the
graphs, their constants, the Variables' values and the signatures. `load` checks every field and
raises `ExportFormatError` for a corrupt, truncated, hostile or wrong-version file; nothing in a
file is ever executed as code.

Example:
    >>> model = dtf.keras.Sequential([dtf.keras.Input((3,)), dtf.keras.layers.Dense(2)])
    >>> dtf.saved_model.save(model, "dense_model")
    >>> served = dtf.saved_model.load("dense_model")
    >>> served.serve(dtf.ones((4, 3))).shape
    TensorShape([4, 2])
    >>> sorted(served.signatures["serving_default"](dtf.ones((4, 3))))
    ['output_0']
"""

from dtf.compile.export import ExportFormatError
from dtf.saved_model.load import LoadedFunction, LoadedObject, load, load_bytes
from dtf.saved_model.save import export_keras_model, keras_serving_function, save

__all__ = ["ExportFormatError", "LoadedFunction", "LoadedObject", "export_keras_model",
           "keras_serving_function", "load", "load_bytes", "save"]
