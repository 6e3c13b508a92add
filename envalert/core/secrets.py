"""Contact URLs name their secrets instead of holding them: ``${VAR}``, ``${VAR:-default}``, ``${file:PATH}``.

The directory lives in the repository; passwords and tokens come from the environment or from
files (Docker and Kubernetes secrets), read once at start so a missing one fails there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

_REFERENCE = re.compile(
    r"\$\{(?:file:(?P<file>[^}]+)|(?P<var>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?)\}"
)


class SecretMissingError(ValueError):
    """A reference that cannot be resolved; the message says which and how to provide it."""


def expand(text: str, environ: Mapping[str, str], base: Path) -> str:
    """``text`` with every reference replaced; relative files are read from ``base``."""

    def resolve(match: re.Match[str]) -> str:
        if match["file"]:
            path = base / match["file"]
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise SecretMissingError(
                    f"cannot read the secret file {path} ({error.strerror}); "
                    "fix: create it, or point ${file:…} at the right path"
                ) from None
        name = match["var"]
        if name in environ:
            return environ[name]
        if match["default"] is not None:
            return match["default"]
        raise SecretMissingError(
            f"environment variable {name} is not set; fix: export {name}=…, "
            f"or write ${{{name}:-default}} to give a default"
        )

    return _REFERENCE.sub(resolve, text)
