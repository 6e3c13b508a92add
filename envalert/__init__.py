"""envalert: ``command/`` is what people type, above everything; ``core/`` is what every part
shares, below everything."""
