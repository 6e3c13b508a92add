"""Who may write on the board: named users, each with a bearer token, from a YAML file.

Tokens are secrets, so the file names them (``${VAR}``, ``${file:PATH}``) the way the directory
names contact passwords. A request proves who it is with ``Authorization: Bearer <token>``;
the name is what the audit log and the acknowledgement record. Each user acts for units of the
directory (and every unit below them) and may silence for at most ``max_silence``
(notifiers/board/authority.py).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from envalert.core.config_files import ConfigError, load_yaml
from envalert.core.secrets import SecretMissingError, expand
from notifiers.directory import Directory
from rules.durations import Duration, format_duration

#: Shorter tokens are too easy to guess.
MIN_TOKEN_LENGTH = 16


#: The longest silence any user may set: longer ones outlive the reason they were set for.
LONGEST_SILENCE = timedelta(days=30)


class BoardUser(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="shown in the audit log and on acknowledgements")
    token: str = Field(min_length=1, description="a secret: ${VAR} or ${file:PATH}")
    units: list[str] = Field(
        min_length=1,
        description="units of the directory (names or ids) this user acts for, with all below them; "
        "市生态环境局 (city-bureau) is the whole city",
    )
    max_silence: Duration = Field(timedelta(days=1), description="the longest silence this user may set")

    @field_validator("max_silence")
    @classmethod
    def _bounded(cls, value: timedelta) -> timedelta:
        if not timedelta(0) < value <= LONGEST_SILENCE:
            raise ValueError(f"must be more than 0 and at most {format_duration(LONGEST_SILENCE)}")
        return value


class UsersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[BoardUser] = Field(min_length=1)


class BoardUsers:
    """The resolved users; an empty set means nobody may write."""

    def __init__(self, users: list[BoardUser]) -> None:
        self._users = users

    def __len__(self) -> int:
        return len(self._users)

    def __iter__(self) -> Iterator[BoardUser]:
        return iter(self._users)

    def user(self, authorization: str | None) -> BoardUser | None:
        """The user a request's ``Authorization`` header proves, or None."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        given = token.strip().encode("utf-8", "surrogateescape")
        # Compare with every token, in constant time, so timing tells nothing about which is close.
        found = [user for user in self._users if hmac.compare_digest(user.token.encode(), given)]
        return found[0] if found else None

    def who(self, authorization: str | None) -> str | None:
        """The name of the user a request's ``Authorization`` header proves, or None."""
        user = self.user(authorization)
        return user.name if user else None

    def check_against(self, directory: Directory, source: Path | None) -> None:
        """Every unit a user acts for is in the directory: a typo fails at start, naming it."""
        for index, user in enumerate(self._users):
            for unit in user.units:
                if directory.find(unit) is None:
                    raise ConfigError(
                        f"{source}: users[{index}].units ({user.name}): {unit!r} is no unit of "
                        f"{directory.source}; fix: use a unit's name or id (`envalert notify directory`)"
                    )


def load_users(path: Path | None, environ: Mapping[str, str] | None = None) -> BoardUsers:
    """Read the users file, secrets resolved; ConfigError names the file, the field and the fix."""
    if path is None:
        return BoardUsers([])
    parsed = load_yaml(path, UsersFile)
    env = os.environ if environ is None else environ
    users, tokens = [], set()
    for index, user in enumerate(parsed.users):
        where = f"{path}: users[{index}].token ({user.name})"
        try:
            token = expand(user.token, env, path.parent)
        except SecretMissingError as error:
            raise ConfigError(f"{where}: {error}") from None
        if len(token) < MIN_TOKEN_LENGTH:
            raise ConfigError(
                f"{where}: the token has {len(token)} characters; fix: use at least {MIN_TOKEN_LENGTH}, "
                "e.g. from `python3 -c 'import secrets; print(secrets.token_urlsafe(24))'`"
            )
        if token in tokens:
            raise ConfigError(f"{where}: another user has the same token; fix: give each user their own")
        tokens.add(token)
        users.append(user.model_copy(update={"token": token}))
    return BoardUsers(users)
