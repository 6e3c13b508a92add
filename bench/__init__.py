"""Benchmarks: each starts its own local stack and prints its figures; `make bench`."""
