"""Test helpers: gradient checks and op test cases (used by tests/)."""
