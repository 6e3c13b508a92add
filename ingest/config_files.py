"""Load a YAML config file into a pydantic model, failing with the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(Exception):
    """A config file that cannot be used; the message is meant for the person who edits it."""


def load_yaml(path: Path, model: type[Model]) -> Model:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "\n".join(
            f"  {'.'.join(str(part) for part in issue['loc']) or '(top level)'}: {issue['msg']}"
            f" (got {str(issue.get('input'))[:60]!r})"
            for issue in error.errors(include_url=False)
        )
        raise ConfigError(
            f"{path}: {error.error_count()} invalid field(s):\n{problems}\n"
            f"Fix these fields in {path.name} and start again."
        ) from None
