"""The ``envalert`` command, and the local stack and demo it runs: above every other folder."""
