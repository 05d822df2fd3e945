"""`dtf.summary.experimental`: the default step.

Example:
    >>> import dtf
    >>> dtf.summary.experimental.set_step(5)
    >>> dtf.summary.experimental.get_step()
    5
"""

from dtf.summary.writer import get_step, set_step

__all__ = ["get_step", "set_step"]
