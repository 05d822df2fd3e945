"""`dtf.summary`: TensorFlow 2's summary API, writing TensorBoard event files.

No TensorFlow or TensorBoard is needed to write them: the few protocol-buffer messages and the
TFRecord framing are encoded here, and TensorBoard reads the files as its own.

Example:
    >>> import dtf, tempfile
    >>> writer = dtf.summary.create_file_writer(tempfile.mkdtemp())
    >>> with writer.as_default():
    ...     for step in range(3):
    ...         _ = dtf.summary.scalar("loss", 1.0 / (step + 1), step=step)
"""

from dtf.summary import experimental
from dtf.summary.summary_ops import histogram, image, scalar, text, write
from dtf.summary.writer import (
    SummaryWriter,
    create_file_writer,
    create_noop_writer,
    flush,
    record_if,
    should_record_summaries,
)

__all__ = [
    "SummaryWriter",
    "create_file_writer",
    "create_noop_writer",
    "experimental",
    "flush",
    "histogram",
    "image",
    "record_if",
    "scalar",
    "should_record_summaries",
    "text",
    "write",
]
