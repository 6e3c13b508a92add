"""The national standards behind the rules, as tested code."""
