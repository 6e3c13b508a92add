"""Alert rules: the plan's and the national standards' thresholds, judged by pure functions."""
