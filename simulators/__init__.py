"""Simulated stations for demos, tests and replays."""
