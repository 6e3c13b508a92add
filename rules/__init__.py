"""Alert rules: the plan's and the national standards' thresholds (issue #3)."""
