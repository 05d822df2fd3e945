"""Primitives on string tensors (object ndarrays of Python bytes, as TensorFlow stores them).

None is differentiable. Strings always live on the host, so every impl works on NumPy arrays
whatever `xp` is. Errors a user can cause raise TensorFlow's error class with TensorFlow's text
and the op's name (`[Op:Substr]`). The public functions are in `dtf.strings`.
"""

from __future__ import annotations

import codecs
import re

import numpy as np

from dtf import dtypes
from dtf.errors import InvalidArgumentError, OutOfRangeError
from dtf.ops.registry import Spec, primitive
from dtf.ops.shape_rules import broadcast_dims

__all__ = [
    "as_string",
    "reduce_join",
    "regex_full_match",
    "regex_replace",
    "string_format",
    "string_join",
    "string_length",
    "string_lower",
    "string_split",
    "string_to_number",
    "string_upper",
    "substr",
    "translate_re2",
    "unicode_decode",
    "unicode_encode",
]


def _fail(op: str, message: str, error=InvalidArgumentError):
    raise error(f"{message} [Op:{op}]")


def _dims(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"  # TensorFlow's "[2,1]"


def _objects(shape) -> np.ndarray:
    return np.empty(shape, dtype=object)


def _map(fn, x: np.ndarray, otype=object) -> np.ndarray:
    """fn over every element of an object array, keeping its shape (rank 0 included)."""
    flat = [fn(v) for v in x.ravel().tolist()]
    out = np.empty(len(flat), dtype=otype)
    out[:] = flat
    return out.reshape(x.shape)


def _string_spec(x, **attrs) -> Spec:
    return Spec(x.shape, dtypes.string)


# -- length, lower, upper -----------------------------------------------------------------------
@primitive("string_length", host_only=True, shape=lambda x, **a: Spec(x.shape, dtypes.int32),
           differentiable=False)
def string_length(xp, x, unit="BYTE"):
    if unit == "BYTE":
        return _map(len, x, np.int32)
    return _map(lambda s: len(s.decode("utf-8", "replace")), x, np.int32)


def _case_fn(op, method, encoding):
    if encoding == "":
        return lambda s: getattr(s, method)()  # bytes.lower/upper: ASCII letters only, as TF
    if encoding.lower().replace("-", "") != "utf8":
        _fail(op, f"encoding must be '' or 'utf-8', got {encoding!r}")
    return lambda s: getattr(s.decode("utf-8", "surrogateescape"), method)().encode(
        "utf-8", "surrogateescape")


@primitive("string_lower", host_only=True, shape=_string_spec, differentiable=False)
def string_lower(xp, x, encoding=""):
    return _map(_case_fn("StringLower", "lower", encoding), x)


@primitive("string_upper", host_only=True, shape=_string_spec, differentiable=False)
def string_upper(xp, x, encoding=""):
    return _map(_case_fn("StringUpper", "upper", encoding), x)


# -- split and join ------------------------------------------------------------------------------
def _split_rule(x, **attrs):
    return (Spec((None,), dtypes.string),
            Spec((None if x.shape is None else (None if x.shape[0] is None
                                                else x.shape[0] + 1),), dtypes.int64))


@primitive("string_split", host_only=True, shape=_split_rule, num_outputs=2, differentiable=False,
           data_dependent_shape=True)
def string_split(xp, x, sep=None, maxsplit=-1):
    """Rank-1 strings -> (the pieces, int64 row splits): TensorFlow's StringSplitV2."""
    pieces, splits = [], [0]
    for s in x.tolist():
        if sep is None:
            parts = s.split(None, maxsplit)  # runs of ASCII whitespace; no empty pieces
        else:
            parts = s.split(sep, maxsplit)  # "" gives [""], as TensorFlow
        pieces.extend(parts)
        splits.append(len(pieces))
    values = _objects(len(pieces))
    values[:] = pieces
    return values, np.asarray(splits, np.int64)


def _join_rule(*xs, separator=""):
    shape = ()
    for x in xs:
        if x.shape is None:
            return Spec(None, dtypes.string)
        if len(x.shape):
            shape = broadcast_dims(shape, x.shape, "StringJoin") if shape else x.shape
    return Spec(tuple(shape), dtypes.string)


@primitive("string_join", host_only=True, shape=_join_rule, differentiable=False)
def string_join(xp, *xs, separator=""):
    if not xs:
        return np.array(b"", dtype=object)
    shaped = [x for x in xs if x.ndim]
    shape = shaped[0].shape if shaped else ()
    for x in shaped[1:]:
        if x.shape != shape:
            _fail("StringJoin", f"Input shapes do not match: {_dims(shape)} vs. {_dims(x.shape)}"
                  "; give tensors of one shape, or scalars")
    columns = [x.ravel().tolist() if x.ndim else [x[()]] * int(np.prod(shape)) for x in xs]
    out = _objects(int(np.prod(shape)))
    out[:] = [separator.join(parts) for parts in zip(*columns)] if columns else []
    return out.reshape(shape)


def _check_axes(axes, rank):
    for a in axes:
        if not -rank <= a < rank:
            _fail("ReduceJoin", f"Invalid reduction dimension {a} for input with {rank} "
                  "dimension(s)", OutOfRangeError)
    return [a % rank for a in axes]


def _reduce_join_rule(x, axes=(), keepdims=False, separator=""):
    if x.shape is None:
        return Spec(None, dtypes.string)
    axes = set(_check_axes(axes, len(x.shape)))
    if keepdims:
        return Spec(tuple(1 if i in axes else d for i, d in enumerate(x.shape)), dtypes.string)
    return Spec(tuple(d for i, d in enumerate(x.shape) if i not in axes), dtypes.string)


@primitive("reduce_join", host_only=True, shape=_reduce_join_rule, differentiable=False)
def reduce_join(xp, x, axes=(), keepdims=False, separator=""):
    """Joins along `axes`, one axis after the other in the order given (TensorFlow's order)."""
    out = x
    axes = _check_axes(axes, x.ndim)
    for a in axes:
        moved = np.moveaxis(out, a, -1)
        rows = moved.reshape(-1, moved.shape[-1]).tolist() if moved.size or moved.shape[-1] \
            else [[]] * int(np.prod(moved.shape[:-1]))
        joined = _objects(len(rows))
        joined[:] = [separator.join(r) for r in rows]
        out = np.moveaxis(joined.reshape(moved.shape[:-1] + (1,)), -1, a)
    if not keepdims:
        out = out.reshape([d for i, d in enumerate(out.shape) if i not in axes])
    return out


# -- substr ------------------------------------------------------------------------------------
def _substr_rule(x, pos, length, unit="BYTE"):
    return Spec(broadcast_dims(broadcast_dims(x.shape, pos.shape, "Substr"), length.shape,
                               "Substr"), dtypes.string)


@primitive("substr", host_only=True, shape=_substr_rule, differentiable=False)
def substr(xp, x, pos, length, unit="BYTE"):
    if np.shape(pos) != np.shape(length):
        _fail("Substr", f"pos and len should have the same shape, got: {_dims(np.shape(pos))} "
              f"vs. {_dims(np.shape(length))}")
    try:
        xs, ps, ls = np.broadcast_arrays(x, pos, length)
    except ValueError:
        _fail("Substr", f"pos, len and input must broadcast; got shapes {list(x.shape)}, "
              f"{list(np.shape(pos))} and {list(np.shape(length))}")
    utf8 = unit == "UTF8_CHAR"
    out = []
    for i, (s, p, n) in enumerate(zip(xs.ravel().tolist(), ps.ravel().tolist(),
                                      ls.ravel().tolist())):
        text = s.decode("utf-8", "surrogateescape") if utf8 else s
        size = len(text)
        if not -size <= p <= size:
            what = "string" if utf8 else f"string {s!r}"  # TF's two messages
            _fail("Substr", f"pos {p} out of range for {what} at index {i}")
        start = p + size if p < 0 else p
        piece = text[start:start + max(n, 0)]
        out.append(piece.encode("utf-8", "surrogateescape") if utf8 else piece)
    result = _objects(len(out))
    result[:] = out
    return result.reshape(xs.shape)


# -- regular expressions (RE2 syntax on Python's re) ---------------------------------------------
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
    "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_UNSUPPORTED = [
    (re.compile(r"\(\?[=!]"), "lookahead assertions (?= and (?! are not RE2 syntax"),
    (re.compile(r"\(\?<[=!]"), "lookbehind assertions (?<= and (?<! are not RE2 syntax"),
    (re.compile(r"(?<!\\)(?:\\\\)*\\[1-9]"), "backreferences (\\1) are not RE2 syntax"),
    (re.compile(r"(?<!\\)(?:\\\\)*\\[pP]"), "Unicode classes \\p{..} are not supported by dtf"),
    (re.compile(r"(?<!\\)(?:\\\\)*\\C"), "\\C (any byte) is not supported by dtf"),
    (re.compile(r"\(\?[a-zA-Z]*U"), "the ungreedy flag (?U) is not supported by dtf"),
]
_regex_cache: dict = {}


def translate_re2(pattern: str, op: str = "RegexFullMatch") -> re.Pattern:
    """Compiles an RE2 pattern with Python's `re` (the common subset: POSIX classes `[[:digit:]]`,
    `\\Q..\\E`, `\\z`), raising InvalidArgumentError naming `op` for invalid or unsupported
    patterns. RE2's `\\d \\w \\s \\b` are ASCII-only, so the pattern compiles with re.ASCII."""
    key = (pattern, op)
    compiled = _regex_cache.get(key)
    if compiled is not None:
        return compiled
    for finder, why in _UNSUPPORTED:
        if finder.search(pattern):
            _fail(op, f"Invalid pattern: {pattern}, error: {why}")
    text = re.sub(r"\\Q(.*?)(?:\\E|$)", lambda m: re.escape(m.group(1)), pattern, flags=re.DOTALL)
    text = re.sub(r"\[:(\^?)([a-z]+):\]", lambda m: _posix(m, pattern, op), text)
    text = re.sub(r"(?<!\\)((?:\\\\)*)\\z", r"\1\\Z", text)
    try:
        compiled = re.compile(text, re.ASCII)
    except re.error as e:
        _fail(op, f"Invalid pattern: {pattern}, error: {e}")
    _regex_cache[key] = compiled
    return compiled


def _posix(match, pattern, op):
    chars = _POSIX_CLASSES.get(match.group(2))
    if chars is None:
        _fail(op, f"Invalid pattern: {pattern}, error: invalid character class range: "
              f"[:{match.group(2)}:]")
    if match.group(1):
        _fail(op, f"Invalid pattern: {pattern}, error: negated POSIX classes [:^..:] are not "
              "supported by dtf; use [^[:class:]]")
    return chars


def _decode(s: bytes) -> str:
    return s.decode("utf-8", "surrogateescape")


def _encode(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


@primitive("regex_full_match", host_only=True, shape=lambda x, **a: Spec(x.shape, dtypes.bool),
           differentiable=False)
def regex_full_match(xp, x, pattern=""):
    regex = translate_re2(pattern, "StaticRegexFullMatch")
    return _map(lambda s: regex.fullmatch(_decode(s)) is not None, x, np.bool_)


def _rewrite_fn(rewrite: str, groups: int):
    """RE2's rewrite string (\\0-\\9 for groups, \\\\ for a backslash) -> a re.sub callable."""
    parts, i = [], 0
    while i < len(rewrite):
        c = rewrite[i]
        if c == "\\" and i + 1 < len(rewrite):
            nxt = rewrite[i + 1]
            if nxt.isdigit():
                if int(nxt) > groups:
                    return None  # RE2 rejects the rewrite and leaves the strings unchanged
                parts.append(int(nxt))
            elif nxt == "\\":
                parts.append("\\")
            else:
                _fail("StaticRegexReplace", f"Invalid rewrite pattern: {rewrite}: \\{nxt} is "
                      "not a group reference; write \\\\ for a backslash")
            i += 2
            continue
        parts.append(c)
        i += 1
    return lambda m: "".join(m.group(p) or "" if isinstance(p, int) else p for p in parts)


@primitive("regex_replace", host_only=True, shape=_string_spec, differentiable=False)
def regex_replace(xp, x, pattern="", rewrite="", replace_global=True):
    regex = translate_re2(pattern, "StaticRegexReplace")
    repl = _rewrite_fn(rewrite, regex.groups)
    if repl is None:
        return x.copy()
    count = 0 if replace_global else 1
    return _map(lambda s: _encode(regex.sub(repl, _decode(s), count=count)), x)


# -- numbers <-> strings ---------------------------------------------------------------------------
def _parse(out_dtype):
    np_type = out_dtype.as_numpy_dtype
    if out_dtype.is_floating:
        def parse(s):
            text = s.decode("utf-8", "replace")
            if "_" in text:  # Python accepts 1_000; TensorFlow does not
                raise ValueError
            return float(text)
    else:
        info = np.iinfo(np_type)

        def parse(s):
            text = s.decode("utf-8", "replace").strip()
            if "_" in text:
                raise ValueError
            v = int(text)
            if not info.min <= v <= info.max:
                raise ValueError
            return v
    return parse, np_type


@primitive("string_to_number", host_only=True,
           shape=lambda x, out_type=None: Spec(x.shape, out_type), differentiable=False)
def string_to_number(xp, x, out_type=dtypes.float32):
    parse, np_type = _parse(out_type)
    values = []
    for s in x.ravel().tolist():
        try:
            values.append(parse(s))
        except ValueError:
            _fail("StringToNumber", "StringToNumberOp could not correctly convert string: "
                  f"{s.decode('utf-8', 'replace')}")
    return np.asarray(values, np_type).reshape(x.shape)


def as_string_format(dtype, precision=-1, scientific=False, shortest=False, width=-1,
                     fill=""):
    """The printf format TensorFlow's AsString uses for `dtype` (errors as TF's)."""
    if scientific and shortest:
        _fail("AsString", "Cannot select both scientific and shortest notation")
    if fill and fill not in (" ", "0"):
        # TF accepts only flags printf understands: a space or a zero
        _fail("AsString", f'Fill argument not supported: "{fill}"')
    if (dtype.is_integer or dtype.is_bool) and (precision > -1 or scientific or shortest):
        _fail("AsString", f"precision, scientific and shortest are for floats; got dtype "
              f"{dtype.name}")
    spec = "%" + ("0" if fill == "0" else "") + (str(width) if width > -1 else "")
    if dtype.is_integer:
        return spec + "d"
    if precision > -1:
        spec += f".{precision}"
    return spec + ("e" if scientific else "g" if shortest else "f")


@primitive("as_string", host_only=True, shape=_string_spec, differentiable=False)
def as_string(xp, x, precision=-1, scientific=False, shortest=False, width=-1, fill=""):
    dtype = dtypes.from_numpy(x.dtype)
    if dtype is dtypes.string:
        return x.copy()  # TensorFlow passes strings through
    fmt = as_string_format(dtype, precision, scientific, shortest, width, fill)
    host = np.asarray(x)
    if dtype.is_bool:
        conv = (lambda v: ("%" + (str(width) if width > -1 else "") + "s")
                % ("true" if v else "false"))
    elif dtype.is_complex:
        conv = (lambda v: f"({fmt % v.real},{fmt % v.imag})")
    else:
        conv = (lambda v: fmt % v)
    return _map(lambda v: conv(v).encode("ascii"), host.astype(object))


# -- unicode -----------------------------------------------------------------------------------
_CODECS = {"UTF8": "utf-8", "UTF16BE": "utf-16-be", "UTF32BE": "utf-32-be"}
_MARK_ERRORS = "dtf.strings.mark"
codecs.register_error(_MARK_ERRORS, lambda e: ("\udc80", e.end))


def codec_name(encoding: str, op: str) -> str:
    name = _CODECS.get(encoding.upper().replace("-", ""))
    if name is None:
        _fail(op, f"Could not create converter for input encoding: {encoding}; dtf supports "
              "UTF-8, UTF-16-BE and UTF-32-BE")
    return name


def _check_errors_arg(errors, op):
    if errors not in ("strict", "replace", "ignore"):
        _fail(op, f"errors must be 'strict', 'replace' or 'ignore', got {errors!r}")


def _decode_rule(x, **attrs):
    n = None if x.shape is None or x.shape[0] is None else x.shape[0] + 1
    return Spec((None,), dtypes.int32), Spec((n,), dtypes.int64)


@primitive("unicode_decode", host_only=True, shape=_decode_rule, num_outputs=2,
           differentiable=False, data_dependent_shape=True)
def unicode_decode(xp, x, input_encoding="UTF-8", errors="replace", replacement_char=0xFFFD,
                   replace_control_characters=False):
    """Rank-1 strings -> (int32 code points, int64 row splits)."""
    codec = codec_name(input_encoding, "UnicodeDecode")
    _check_errors_arg(errors, "UnicodeDecode")
    codes, splits = [], [0]
    for s in x.tolist():
        # Each maximal invalid subsequence becomes one U+DC80 (a lone surrogate, which no valid
        # input decodes to), which `errors` then replaces, drops, or rejects.
        text = s.decode(codec, _MARK_ERRORS)
        for ch in text:
            c = ord(ch)
            if c == 0xDC80:
                if errors == "strict":
                    _fail("UnicodeDecode", "Invalid formatting on input string")
                if errors == "ignore":
                    continue
                c = replacement_char
            elif replace_control_characters and (c < 0x20 or 0x7F <= c < 0xA0):
                c = replacement_char
            codes.append(c)
        splits.append(len(codes))
    return np.asarray(codes, np.int32), np.asarray(splits, np.int64)


def _encode_rule(codes, splits, **attrs):
    n = None if splits.shape is None or splits.shape[0] is None else splits.shape[0] - 1
    return Spec((n,), dtypes.string)


@primitive("unicode_encode", host_only=True, shape=_encode_rule, differentiable=False)
def unicode_encode(xp, codes, splits, output_encoding="UTF-8", errors="replace",
                   replacement_char=0xFFFD):
    """(int32 code points, int64 row splits) -> one string per row."""
    codec = codec_name(output_encoding, "UnicodeEncode")
    _check_errors_arg(errors, "UnicodeEncode")
    flat = codes.tolist()
    bounds = splits.tolist()
    out = _objects(max(len(bounds) - 1, 0))
    for row in range(len(bounds) - 1):
        chars = []
        for c in flat[bounds[row]:bounds[row + 1]]:
            if not (0 <= c <= 0x10FFFF) or 0xD800 <= c <= 0xDFFF:
                if errors == "strict":
                    _fail("UnicodeEncode", "Code point is out of range for Unicode, or is a "
                          f"surrogate. (code point {c} in row {row})")
                if errors == "ignore":
                    continue
                c = replacement_char
            chars.append(chr(c))
        out[row] = "".join(chars).encode(codec)
    return out


# -- format ------------------------------------------------------------------------------------
def _scalar_text(v, dtype) -> str:
    """One element as TensorFlow's SummarizeValue writes it."""
    if dtype is dtypes.string:
        return '"' + v.decode("utf-8", "replace") + '"'
    if dtype.is_bool:
        return "1" if v else "0"
    if dtype.is_floating:
        # FloatToBuffer: the fewest of 6 (float32) or 15 (float64) digits, else 9 or 17
        short, full = (6, 9) if dtype.size <= 4 else (15, 17)
        text = f"{v:.{short}g}"
        exact = dtype.as_numpy_dtype(text) == v or np.isnan(v)
        return text if exact else f"{v:.{full}g}"
    if dtype.is_complex:
        return f"({v.real:g},{v.imag:g})"
    return str(v)


def summarize(array: np.ndarray, summarize_n: int = 3) -> str:
    """A tensor's value as `tf.strings.format` and `tf.print` write it."""
    dtype = dtypes.from_numpy(array.dtype)
    if array.ndim == 0:
        return _scalar_text(array[()], dtype)

    def dim(a, depth):
        n = a.shape[0]
        cut = 0 <= summarize_n and 2 * summarize_n < n
        idx = list(range(summarize_n)) + [None] + list(range(n - summarize_n, n)) if cut \
            else list(range(n))
        if a.ndim == 1:
            return "[" + " ".join("..." if i is None else _scalar_text(a[i], dtype)
                                  for i in idx) + "]"
        sep = "\n" * (a.ndim - 1) + " " * (depth + 1)  # blank lines between 2-D blocks
        return "[" + sep.join("..." if i is None else dim(a[i], depth + 1) for i in idx) + "]"

    return dim(array, 0)


@primitive("string_format", host_only=True, shape=lambda *xs, **a: Spec((), dtypes.string),
           differentiable=False)
def string_format(xp, *xs, template="{}", placeholder="{}", summarize_n=3):
    pieces = template.split(placeholder)
    if len(pieces) - 1 != len(xs):
        raise ValueError(f"The template expects {len(pieces) - 1} tensors, but the inputs only "
                         f"has {len(xs)}. Please ensure the number of placeholders in template "
                         "matches inputs length.")
    out = [pieces[0]]
    for x, piece in zip(xs, pieces[1:]):
        out.append(summarize(np.asarray(x), summarize_n))
        out.append(piece)
    result = _objects(())
    result[()] = "".join(out).encode("utf-8")
    return result
