"""`dtf.strings`: operations on string tensors, as `tf.strings`.

String tensors hold Python `bytes` (str is encoded as UTF-8), so `numpy()` gives bytes, as in
TensorFlow. Element-wise functions also take a `dtf.RaggedTensor` and keep its row partition.

Example:
    >>> dtf.strings.upper(dtf.constant(["hello", "world"]))
    <dtf.Tensor: shape=(2,), dtype=string, numpy=array([b'HELLO', b'WORLD'], dtype=object)>
    >>> dtf.strings.split(dtf.constant(["a b", "c"])).to_list()
    [[b'a', b'b'], [b'c']]
"""

from __future__ import annotations

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError
from dtf.ops import string_ops as _ops
from dtf.ops.creation_ops import convert_to_tensor
from dtf.ragged.ragged_tensor import RaggedTensor
from dtf.tensor import Tensor

__all__ = [
    "as_string",
    "format",
    "join",
    "length",
    "lower",
    "reduce_join",
    "regex_full_match",
    "regex_replace",
    "split",
    "substr",
    "to_number",
    "unicode_decode",
    "unicode_encode",
    "upper",
]

_UNITS = ("BYTE", "UTF8_CHAR")


def _strings(x, op: str) -> Tensor:
    """A string Tensor from a Tensor, bytes/str or nested lists of them."""
    t = convert_to_tensor(x)
    if t.dtype is not dtypes.string:
        raise TypeError(f"{op}: expected a string tensor, got dtype {t.dtype.name}. Use "
                        "dtf.strings.as_string to format numbers as strings.")
    return t


def _elementwise(x, op: str, fn):
    """fn over a string Tensor, or over a RaggedTensor's flat values (same row partition)."""
    if isinstance(x, RaggedTensor):
        return x.with_flat_values(fn(_strings(x.flat_values, op)))
    return fn(_strings(x, op))


def _check_unit(unit: str, op: str) -> None:
    if unit not in _UNITS:
        raise InvalidArgumentError(
            f"Value for attr 'unit' of \"{unit}\" is not in the list of allowed values: "
            f"\"BYTE\", \"UTF8_CHAR\" [Op:{op}]")


def _text(value, name: str, op: str) -> str | bytes:
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value)
    if not isinstance(value, str):
        raise TypeError(f"{op}: {name} must be a str or bytes, got {type(value).__name__}.")
    return value


def _bytes(value, name: str, op: str) -> bytes:
    value = _text(value, name, op)
    return value.encode("utf-8") if isinstance(value, str) else value


def _str(value, name: str, op: str) -> str:
    value = _text(value, name, op)
    return value.decode("utf-8") if isinstance(value, bytes) else value


def length(input, name=None, unit="BYTE"):
    """The length of each string, in bytes or (unit="UTF8_CHAR") in Unicode code points.

    Example:
        >>> dtf.strings.length(dtf.constant(["héllo", ""]), unit="UTF8_CHAR").numpy()
        array([5, 0], dtype=int32)
    """
    _check_unit(unit, "StringLength")
    return _elementwise(input, "length", lambda t: _ops.string_length(t, unit=unit))


def lower(input, encoding="", name=None):
    """Lowercases each string: ASCII letters only, or every letter with encoding="utf-8".

    Example:
        >>> dtf.strings.lower("HeLLo").numpy()
        b'hello'
    """
    return _elementwise(input, "lower", lambda t: _ops.string_lower(t, encoding=encoding))


def upper(input, encoding="", name=None):
    """Uppercases each string: ASCII letters only, or every letter with encoding="utf-8".

    Example:
        >>> dtf.strings.upper("héllo", encoding="utf-8").numpy().decode()
        'HÉLLO'
    """
    return _elementwise(input, "upper", lambda t: _ops.string_upper(t, encoding=encoding))


def split(input, sep=None, maxsplit=-1, name=None):
    """Splits each string at `sep` (None: at runs of whitespace, dropping empty pieces).

    A rank-0 input gives a 1-D Tensor of the pieces; rank N >= 1 gives a RaggedTensor of rank
    N + 1 whose last dimension is ragged.

    Example:
        >>> dtf.strings.split(dtf.constant(["a,b,,c", "x"]), sep=",").to_list()
        [[b'a', b'b', b'', b'c'], [b'x']]
    """
    if isinstance(input, RaggedTensor):
        inner = split(input.flat_values, sep, maxsplit)
        return input.with_flat_values(inner)
    t = _strings(input, "split")
    sep = None if sep is None or sep in ("", b"") else _bytes(sep, "sep", "StringSplitV2")
    maxsplit = int(maxsplit)
    if t.ndim == 0:
        values, _ = _ops.string_split(_reshape(t, (1,)), sep=sep, maxsplit=maxsplit)
        return values
    values, splits = _ops.string_split(_reshape(t, (-1,)), sep=sep, maxsplit=maxsplit)
    return _ragged(values, splits, t.shape, "split")


def _ragged(values, splits, shape, op: str) -> RaggedTensor:
    """Rows of `values` at `splits`, one row per element of an input of `shape`: the input's
    dims beyond the first become uniform row partitions (rank N input -> rank N + 1 result).
    Inside a dtf.function trace `splits` is symbolic, and so is the result's row partition."""
    result = RaggedTensor.from_row_splits(values, splits, validate=False)
    for d in reversed(list(shape)[1:]):
        d = int(d)
        nrows = result.shape[0]
        if nrows is not None:
            uniform = np.arange(nrows // d + 1, dtype=np.int64) * d
        else:  # the row count is only known when the function runs
            from dtf.ops.creation_ops import range as _range

            uniform = _range(0, result.nrows() + 1, d, dtype=dtypes.int64)
        result = RaggedTensor.from_row_splits(result, uniform, validate=False)
    return result


def _reshape(t, shape):
    from dtf.ops.array_ops import reshape
    return reshape(t, shape)


def join(inputs, separator="", name=None):
    """Joins the strings of several tensors element-wise. Inputs must have one shape, or be
    scalars (which are repeated), as in TensorFlow.

    Example:
        >>> dtf.strings.join([dtf.constant(["a", "b"]), "x"], separator="-").numpy()
        array([b'a-x', b'b-x'], dtype=object)
    """
    tensors = [_strings(x, "join") for x in inputs]
    return _ops.string_join(*tensors, separator=_bytes(separator, "separator", "StringJoin"))


def reduce_join(inputs, axis=None, keepdims=False, separator="", name=None):
    """Joins the strings along `axis` (all axes when None), `separator` between them.

    With several axes the joins happen one axis after the other, in the order given.

    Example:
        >>> x = dtf.constant([["a", "b"], ["c", "d"]])
        >>> dtf.strings.reduce_join(x, axis=1, separator=",").numpy()
        array([b'a,b', b'c,d'], dtype=object)
    """
    t = _strings(inputs, "reduce_join")
    if axis is None:
        axes = tuple(range(t.ndim - 1, -1, -1))
    else:
        if isinstance(axis, Tensor):
            axis = axis.numpy().tolist()
        axes = (int(axis),) if np.ndim(axis) == 0 else tuple(int(a) for a in axis)
    return _ops.reduce_join(t, axes=axes, keepdims=bool(keepdims),
                            separator=_bytes(separator, "separator", "ReduceJoin"))


def substr(input, pos, len, unit="BYTE", name=None):
    """The substring of `len` units at `pos` (negative `pos` counts from the end) of each
    string. `pos` and `len` broadcast with the input. A `pos` past either end is an
    InvalidArgumentError; `len` past the end stops at the end.

    Example:
        >>> dtf.strings.substr(dtf.constant(["Hello", "World"]), -3, 2).numpy()
        array([b'll', b'rl'], dtype=object)
    """
    _check_unit(unit, "Substr")

    def run(t):
        p = convert_to_tensor(pos)
        n = convert_to_tensor(len, dtype=p.dtype)
        if not p.dtype.is_integer:
            raise TypeError(f"substr: pos and len must be integers, got dtype {p.dtype.name}.")
        return _ops.substr(t, p, n, unit=unit)

    return _elementwise(input, "substr", run)


def regex_full_match(input, pattern, name=None):
    """Whether each whole string matches the RE2 `pattern`.

    Python's `re` runs the pattern; RE2 constructs it lacks (\\p{..} classes) and Python
    constructs RE2 rejects (lookaround, backreferences) raise InvalidArgumentError.

    Example:
        >>> dtf.strings.regex_full_match(dtf.constant(["abc", "ab1"]), "ab[a-z]").numpy()
        array([ True, False])
    """
    pattern = _str(pattern, "pattern", "RegexFullMatch")
    return _elementwise(input, "regex_full_match",
                        lambda t: _ops.regex_full_match(t, pattern=pattern))


def regex_replace(input, pattern, rewrite, replace_global=True, name=None):
    """Replaces the matches of the RE2 `pattern` by `rewrite` (`\\1` for a group, `\\\\` for a
    backslash); only the first match when `replace_global` is False.

    Example:
        >>> dtf.strings.regex_replace(dtf.constant(["hello world"]), r"(\\w+) (\\w+)",
        ...                           r"\\2 \\1").numpy()
        array([b'world hello'], dtype=object)
    """
    pattern = _str(pattern, "pattern", "RegexReplace")
    rewrite = _str(rewrite, "rewrite", "RegexReplace")
    return _elementwise(input, "regex_replace", lambda t: _ops.regex_replace(
        t, pattern=pattern, rewrite=rewrite, replace_global=bool(replace_global)))


_NUMBER_TYPES = ("float32", "float64", "int32", "int64")


def to_number(input, out_type=dtypes.float32, name=None):
    """Parses each string as a number of `out_type` (float32, float64, int32 or int64).

    A string that is not a number of that type (or overflows it) is an InvalidArgumentError.

    Example:
        >>> dtf.strings.to_number(dtf.constant(["1.5", "-2"])).numpy()
        array([ 1.5, -2. ], dtype=float32)
    """
    out_type = dtypes.as_dtype(out_type)
    if out_type.name not in _NUMBER_TYPES:
        raise TypeError(f"to_number: out_type must be one of {', '.join(_NUMBER_TYPES)}, got "
                        f"{out_type.name}.")
    return _elementwise(input, "to_number",
                        lambda t: _ops.string_to_number(t, out_type=out_type))


def as_string(input, precision=-1, scientific=False, shortest=False, width=-1, fill="",
              name=None):
    """Formats each number (or bool) as a string, as C's printf.

    Args:
        precision: digits after the point for floats (-1: printf's default, 6).
        scientific: exponent notation (`%e`); shortest: the shorter of `%e`/`%f` (`%g`).
        width: pad to at least this many characters; fill: " " (default) or "0".

    Example:
        >>> dtf.strings.as_string(dtf.constant([3, -42]), width=5, fill="0").numpy()
        array([b'00003', b'-0042'], dtype=object)
    """
    if isinstance(input, RaggedTensor):
        return input.with_flat_values(as_string(input.flat_values, precision, scientific,
                                                shortest, width, fill))
    return _ops.as_string(convert_to_tensor(input), precision=int(precision),
                          scientific=bool(scientific), shortest=bool(shortest),
                          width=int(width), fill=_str(fill, "fill", "AsString"))


def unicode_decode(input, input_encoding, errors="replace", replacement_char=65533,
                   replace_control_characters=False, name=None):
    """Decodes each string into its int32 Unicode code points.

    A rank-0 input gives a 1-D Tensor; rank N >= 1 gives a RaggedTensor of rank N + 1.
    `errors`: "replace" (each invalid byte becomes `replacement_char`), "ignore" or "strict"
    (an InvalidArgumentError).

    Example:
        >>> dtf.strings.unicode_decode(dtf.constant(["hé", "a"]), "UTF-8").to_list()
        [[104, 233], [97]]
    """
    attrs = {"input_encoding": _str(input_encoding, "input_encoding", "UnicodeDecode"),
                 "errors": errors, "replacement_char": int(replacement_char),
                 "replace_control_characters": bool(replace_control_characters)}
    if isinstance(input, RaggedTensor):
        return input.with_flat_values(unicode_decode(input.flat_values, **attrs))
    t = _strings(input, "unicode_decode")
    if t.ndim == 0:
        codes, _ = _ops.unicode_decode(_reshape(t, (1,)), **attrs)
        return codes
    codes, splits = _ops.unicode_decode(_reshape(t, (-1,)), **attrs)
    return _ragged(codes, splits, t.shape, "unicode_decode")


def unicode_encode(input, output_encoding, errors="replace", replacement_char=65533,
                   name=None):
    """Encodes int32 code points (the last dimension, dense or ragged) into strings.

    Example:
        >>> dtf.strings.unicode_encode(dtf.constant([104, 105]), "UTF-8").numpy()
        b'hi'
    """
    attrs = {"output_encoding": _str(output_encoding, "output_encoding", "UnicodeEncode"),
                 "errors": errors, "replacement_char": int(replacement_char)}
    if isinstance(input, RaggedTensor):
        if isinstance(input.values, RaggedTensor):
            return input.with_values(unicode_encode(input.values, **attrs))
        codes = convert_to_tensor(input.values)
        return _ops.unicode_encode(_int32(codes), input.row_splits, **attrs)
    t = _int32(convert_to_tensor(input))
    if t.ndim == 0:
        raise InvalidArgumentError("unicode_encode: input must have rank >= 1 (code points "
                                   "along the last dimension), got a scalar. [Op:UnicodeEncode]")
    outer = tuple(t.shape)[:-1]
    rows, width = int(np.prod(outer)), t.shape[-1]
    splits = convert_to_tensor(np.arange(rows + 1, dtype=np.int64) * width)
    encoded = _ops.unicode_encode(_reshape(t, (-1,)), splits, **attrs)
    return _reshape(encoded, outer)


def _int32(t):
    if t.dtype is not dtypes.int32:
        raise TypeError(f"unicode_encode: code points must be int32, got dtype {t.dtype.name}.")
    return t


def format(template, inputs, placeholder="{}", summarize=3, name=None):
    """Formats tensors into a scalar string: each `placeholder` in `template` becomes the next
    input, written as `dtf.print` writes it (`summarize` elements at each end of each dim;
    -1 for all).

    Example:
        >>> dtf.strings.format("x={}, y={}", (dtf.constant(3), dtf.constant([1.5, 2.0]))).numpy()
        b'x=3, y=[1.5 2]'
    """
    if isinstance(inputs, (list, tuple)):
        tensors = [convert_to_tensor(x) for x in inputs]
    else:
        tensors = [convert_to_tensor(inputs)]
    template = _str(template, "template", "StringFormat")
    placeholder = _str(placeholder, "placeholder", "StringFormat")
    expected = template.count(placeholder)
    if expected != len(tensors):
        raise ValueError(f"The template expects {expected} tensors, but the inputs only has "
                         f"{len(tensors)}. Please ensure the number of placeholders in "
                         "template matches inputs length.")
    return _ops.string_format(*tensors, template=template, placeholder=placeholder,
                              summarize_n=int(summarize))
