"""Cases for the string primitives (dtf.ops.string_ops), one or more each. None is
differentiable; the references are Python's own bytes methods."""

from __future__ import annotations

import re

import numpy as np

import dtf
import dtf.strings
from dtf.testing.op_cases import OpCase


def _s(*values, shape=None) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = [v.encode() if isinstance(v, str) else v for v in values]
    return out.reshape(shape if shape is not None else (len(values),))


def _each(fn, otype=object):
    def apply(x):
        flat = [fn(v) for v in x.ravel().tolist()]
        out = np.empty(len(flat), dtype=otype)
        out[:] = flat
        return out.reshape(x.shape)
    return apply


_WORDS = _s("Hello", "wORld", "héllo wörld", "", shape=(2, 2))
_SHORT = _s("Hello", "wORld", "héllo", "ab", shape=(2, 2))


def _split_reference(x):
    pieces = [v.split() for v in x.tolist()]
    values = np.empty(sum(len(p) for p in pieces), dtype=object)
    values[:] = [w for p in pieces for w in p]
    return values, np.cumsum([0] + [len(p) for p in pieces]).astype(np.int64)


def _decode_reference(x):
    rows = [[ord(c) for c in v.decode()] for v in x.tolist()]
    codes = np.array([c for r in rows for c in r], np.int32)
    return codes, np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)


CASES = [
    OpCase("strings/length_bytes", lambda x: dtf.strings.length(x), [_WORDS],
           _each(len, np.int32), grad=False),
    OpCase("strings/length_utf8", lambda x: dtf.strings.length(x, unit="UTF8_CHAR"), [_WORDS],
           _each(lambda v: len(v.decode()), np.int32), grad=False),
    OpCase("strings/lower", lambda x: dtf.strings.lower(x), [_WORDS], _each(bytes.lower),
           grad=False),
    OpCase("strings/upper_utf8", lambda x: dtf.strings.upper(x, encoding="utf-8"), [_WORDS],
           _each(lambda v: v.decode().upper().encode()), grad=False),
    OpCase("strings/split_values_and_splits",
           lambda x: list(dtf.strings.split(x).nested_row_splits[:0])
           + [dtf.strings.split(x).flat_values, dtf.strings.split(x).row_splits],
           [_s("a b", "  c ", "", "d e f")], _split_reference, grad=False),
    OpCase("strings/join_with_scalar",
           lambda x, y: dtf.strings.join([x, y, dtf.constant("!")], separator="-"),
           [_WORDS, _s("1", "2", "3", "4", shape=(2, 2))],
           lambda x, y: _each(lambda p: p)(np.array(
               [a + b"-" + b + b"-!" for a, b in zip(x.ravel(), y.ravel())],
               dtype=object).reshape(x.shape)), grad=False),
    OpCase("strings/reduce_join_axis",
           lambda x: dtf.strings.reduce_join(x, axis=1, separator=","), [_WORDS],
           lambda x: np.array([b",".join(r) for r in x.tolist()], dtype=object), grad=False),
    OpCase("strings/reduce_join_all_keepdims",
           lambda x: dtf.strings.reduce_join(x, keepdims=True), [_WORDS],
           lambda x: np.array([[b"".join(x.ravel().tolist())]], dtype=object), grad=False),
    OpCase("strings/substr_broadcast",
           lambda x, p, n: dtf.strings.substr(x, p, n), [_SHORT, np.array([0, 1], np.int32),
                                                         np.array([2, 3], np.int32)],
           lambda x, p, n: np.array([[v[a:a + b] for v, a, b in zip(row, p, n)]
                                     for row in x.tolist()], dtype=object), grad=False),
    OpCase("strings/regex_full_match", lambda x: dtf.strings.regex_full_match(x, r"[[:alpha:]]+"),
           [_WORDS], _each(lambda v: v.isalpha(), np.bool_), grad=False),
    OpCase("strings/regex_replace", lambda x: dtf.strings.regex_replace(x, "(l+)", r"<\1>"),
           [_WORDS], _each(lambda v: re.sub(rb"(l+)", rb"<\1>", v)), grad=False),
    OpCase("strings/to_number_int64",
           lambda x: dtf.strings.to_number(x, out_type=dtf.int64), [_s("12", "-7", " 3")],
           lambda x: np.array([12, -7, 3], np.int64), grad=False),
    OpCase("strings/as_string_float", lambda x: dtf.strings.as_string(x, precision=2),
           [np.array([[1.5, -2.25], [0.0, 1e3]], np.float32)],
           _each(lambda v: b"%.2f" % v), grad=False),
    OpCase("strings/unicode_decode",
           lambda x: [dtf.strings.unicode_decode(x, "UTF-8").flat_values,
                      dtf.strings.unicode_decode(x, "UTF-8").row_splits],
           [_s("héllo", "", "€1")], _decode_reference, grad=False),
    OpCase("strings/unicode_encode",
           lambda c: dtf.strings.unicode_encode(c, "UTF-8"),
           [np.array([[104, 233], [8364, 49]], np.int32)],
           lambda c: np.array(["".join(map(chr, r)).encode() for r in c.tolist()],
                              dtype=object), grad=False),
    OpCase("strings/format",
           lambda x, y: dtf.strings.format("x={}, y={}", (x, y)),
           [np.array([1, 2], np.int32), np.array([[0.5], [2.0]], np.float32)],
           lambda x, y: np.array(b"x=[1 2], y=[[0.5]\n [2]]", dtype=object), grad=False),
]
