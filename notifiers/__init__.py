"""Notifications to the responsible units: routing, lifecycle, outbox, delivery, the live board."""
