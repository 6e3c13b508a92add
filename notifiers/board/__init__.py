"""The monitoring centre's live board: a web page and JSON API over the notifier's state.

It runs inside the notifier process because the notifier already holds what the board shows
and changes: every alert with the units told of it, the acknowledgements and the silences, all
in one SQLite file that has one writer. Kafka's ``readings``, ``derived`` and ``rejected``
topics add station health, the plan's city figures and the rejected count.
"""
