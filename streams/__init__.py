"""The Faust worker and the local stack."""
