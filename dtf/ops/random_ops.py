"""Random ops with TensorFlow's global and op seed rules."""

__all__ = []
