"""Notifications to the responsible units (issue #5)."""
