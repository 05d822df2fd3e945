"""Graphs of dtf ops: symbolic tensors (used by Keras' Functional API) and, with the
`dtf.function` issue, tracing, graph passes, execution and export."""

from dtf.compile import symbolic  # noqa: F401  (installs the op table's symbolic handler)
