"""The board's users file: tokens from secrets, and mistakes named with file, field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from envalert.core.config_files import ConfigError
from notifiers.board.users import load_users
from notifiers.directory import load_directory

TOKEN = "s3cret-token-for-duty"


def users_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "board-users.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_tokens_come_from_the_environment_or_a_file_and_prove_who_writes(tmp_path: Path) -> None:
    (tmp_path / "lead.token").write_text("lead-token-from-a-file\n", encoding="utf-8")
    path = users_file(
        tmp_path,
        "users:\n"
        "  - {name: 值班员张工, token: '${DUTY_TOKEN}', units: [金水区]}\n"
        "  - {name: 王科长, token: '${file:lead.token}', units: [city-bureau], max_silence: 7d}\n",
    )
    users = load_users(path, {"DUTY_TOKEN": TOKEN})
    assert len(users) == 2
    assert users.who(f"Bearer {TOKEN}") == "值班员张工"
    assert users.who("bearer lead-token-from-a-file") == "王科长"
    for header in (None, "", TOKEN, f"Basic {TOKEN}", "Bearer ", f"Bearer {TOKEN}x"):
        assert users.who(header) is None, header


def test_no_users_file_means_nobody_may_write() -> None:
    users = load_users(None)
    assert len(users) == 0 and users.who(f"Bearer {TOKEN}") is None


@pytest.mark.parametrize(
    ("text", "environ", "says"),
    [
        (
            "users:\n  - {name: a, token: '${NOPE}', units: [金水区]}\n",
            {},
            "users[0].token (a): environment variable NOPE is not set",
        ),
        (
            "users:\n  - {name: a, token: short-token, units: [金水区]}\n",
            {},
            "the token has 11 characters; fix: use at least 16",
        ),
        (
            "users:\n  - {name: a, token: '${T}', units: [金水区]}\n"
            "  - {name: b, token: '${T}', units: [金水区]}\n",
            {"T": TOKEN},
            "users[1].token (b): another user has the same token",
        ),
        ("users:\n  - {name: a, password: x}\n", {}, "users[0].password: Extra inputs are not permitted"),
        ("users:\n  - {name: a, token: '${T}'}\n", {"T": TOKEN}, "users[0].units: Field required"),
        (
            "users:\n  - {name: a, token: '${T}', units: [x], max_silence: 90d}\n",
            {"T": TOKEN},
            "users[0].max_silence: Value error, must be more than 0 and at most 30d",
        ),
        ("users: []\n", {}, "users: List should have at least 1 item"),
    ],
)
def test_a_bad_users_file_fails_naming_file_field_and_fix(
    tmp_path: Path, text: str, environ: dict[str, str], says: str
) -> None:
    path = users_file(tmp_path, text)
    with pytest.raises(ConfigError) as failed:
        load_users(path, environ)
    assert str(path) in str(failed.value) and says in str(failed.value)


def test_a_unit_the_directory_does_not_know_fails_at_start(tmp_path: Path) -> None:
    path = users_file(tmp_path, "users:\n  - {name: a, token: '${T}', units: [金水局]}\n")
    users = load_users(path, {"T": TOKEN})
    with pytest.raises(ConfigError, match=r"users\[0\]\.units \(a\): '金水局' is no unit of"):
        users.check_against(load_directory(environ={}), path)
