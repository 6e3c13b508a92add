"""Golden files: texts people read, kept word for word, and how a test compares with one."""

from __future__ import annotations

import difflib
from pathlib import Path

FOLDER = Path(__file__).parent


def assert_matches(name: str, got: str, what: str) -> None:
    """``got`` is the golden file ``name``, or the test fails with the diff; the test module's
    docstring says how to accept a deliberate change."""
    expected = (FOLDER / name).read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(expected.splitlines(True), got.splitlines(True), "golden", "now"))
    assert got == expected, f"{what} changed (see the test's docstring to accept):\n{diff}"
