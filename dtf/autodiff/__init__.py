"""Reverse-mode automatic differentiation: GradientTape and custom gradients."""
