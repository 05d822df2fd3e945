"""Op test cases, one module per op family (see dtf.testing.op_cases)."""
