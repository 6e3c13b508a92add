"""The dependencies' floors exclude every release with a published vulnerability, and the lock
holds the versions the tests run with (docs/SECURITY.md)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

#: Releases with a published advisory, the last affected one each (the fix came after it).
VULNERABLE = [
    ("aiohttp", "3.12.13", "CVE-2025-53643: request smuggling in the pure-Python parser"),
    ("aiohttp", "3.10.10", "CVE-2024-52304: request smuggling through chunk extensions"),
    ("aiohttp", "3.9.1", "CVE-2024-23334: directory traversal of static routes"),
    ("Jinja2", "3.1.5", "CVE-2025-27516: sandbox escape through the attr filter"),
    ("Jinja2", "3.1.3", "CVE-2024-34064: attribute injection in xmlattr"),
    ("aiosmtpd", "1.4.5", "CVE-2024-34083: STARTTLS command injection"),
    ("aiosmtpd", "1.4.4", "CVE-2024-27305: SMTP smuggling"),
    ("pydantic", "2.3.0", "CVE-2024-3772: regular expression denial of service in email validation"),
    ("requests", "2.32.3", "CVE-2024-47081: .netrc credentials leaked to a third party"),
    ("urllib3", "2.4.0", "CVE-2025-50181: redirects not disabled as asked"),
    ("certifi", "2024.6.2", "CVE-2024-39689: GLOBALTRUST root certificates still trusted"),
    ("idna", "3.6", "CVE-2024-3651: quadratic time on crafted input"),
]


def floors() -> dict[str, Requirement]:
    return {Requirement(line).name.lower(): Requirement(line) for line in PROJECT["project"]["dependencies"]}


@pytest.mark.hostile
@pytest.mark.parametrize(("package", "release", "advisory"), VULNERABLE)
def test_no_release_with_a_published_vulnerability_is_allowed(
    package: str, release: str, advisory: str
) -> None:
    requirement = floors()[package.lower()]
    assert release not in requirement.specifier, f"{requirement} allows {release}: {advisory}"


def test_the_lock_holds_the_versions_installed_here() -> None:
    locked = dict(
        re.findall(r"^([a-z0-9._-]+)==(\S+)", (ROOT / ".ci/requirements.lock").read_text(), re.MULTILINE)
    )
    for package in ("aiohttp", "jinja2", "pydantic", "faust-streaming", "apprise", "paho-mqtt"):
        assert locked[package] == version(package), package
