"""`keras.layers`: the Layer base class and the built-in layers."""

from dtf.keras.layers.attention import *
from dtf.keras.layers.convolutional import *
from dtf.keras.layers.core import (  # noqa: F401
    Activation,
    ActivityRegularization,
    Dense,
    Dropout,
    Flatten,
    Identity,
    Lambda,
    Permute,
    RepeatVector,
    Reshape,
)
from dtf.keras.layers.embedding import *
from dtf.keras.layers.input_layer import Input, InputLayer  # noqa: F401
from dtf.keras.layers.input_spec import InputSpec  # noqa: F401
from dtf.keras.layers.layer import Layer  # noqa: F401
from dtf.keras.layers.merging import *
from dtf.keras.layers.normalization import *
from dtf.keras.layers.pooling import *
from dtf.keras.layers.preprocessing import *
from dtf.keras.layers.reshaping import *
from dtf.keras.layers.rnn import *
from dtf.keras.layers.rnn_cells import *
from dtf.keras.layers.rnn_conv_lstm import *
from dtf.keras.layers.wrappers import *
