"""The organisation directory: the plan's units, escalation chains, secrets kept out of the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from envalert.core.config_files import ConfigError
from envalert.core.contract import Kind
from envalert.core.stations import Station
from notifiers.directory import Directory, load_directory

DISTRICTS_OF_ANNEX_1 = [
    "中牟县", "新密市", "荥阳市", "新郑市", "登封市", "巩义市", "郑州航空港区", "上街区",
    "惠济区", "金水区", "郑州高新区", "中原区", "二七区", "管城回族区", "郑州经开区", "郑东新区",
]  # fmt: skip


def test_the_shipped_directory_has_the_plans_units(directory: Directory) -> None:
    for district in DISTRICTS_OF_ANNEX_1:
        assert directory.find(district) is not None, district
        branch = directory.find(f"市生态环境局{district}分局")
        assert branch is not None and directory.parent(branch.name) == directory.find("市生态环境局")
    assert directory.find("市水利局") is not None
    assert [
        unit.name for unit in (directory.parent("荥阳电厂"), directory.parent("市生态环境局荥阳市分局"))
    ] == [
        "市生态环境局荥阳市分局",
        "市生态环境局",
    ]
    jinshui = directory.find("jinshui")
    assert jinshui is not None and jinshui.name == "金水区"
    assert [(c.tags, c.url) for c in jinshui.contacts or []] == [
        (
            ["duty"],
            "mailto://127.0.0.1:2525?from=envalert@zzhb.example&to=jinshui.duty@zzhb.example&format=text",
        ),
        (["duty"], "json://127.0.0.1:2580/duty/jinshui"),
        (["sms", "leader"], "json://127.0.0.1:2580/sms/jinshui"),
    ]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "directory.yaml"
    path.write_text(text, encoding="utf-8")
    return path


UNIT_WITH_SECRETS = """
units:
  - id: jinshui
    name: 金水区
    kind: district
    contacts:
      - {name: mail, url: "mailtos://duty:${SMTP_PASSWORD}@smtp.example:465?to=duty@zz.example"}
      - {name: robot, url: "dingtalk://${file:secrets/dingtalk-token}/", tags: [duty, leader]}
      - {name: sms, url: "json://${SMS_GATEWAY:-127.0.0.1:9}/sms", tags: [sms]}
"""


def test_secrets_come_from_the_environment_and_from_files(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "dingtalk-token").write_text("t0ken\n")
    found = load_directory(write(tmp_path, UNIT_WITH_SECRETS), environ={"SMTP_PASSWORD": "s3cret"}).find(
        "金水区"
    )
    assert found is not None
    assert [contact.url for contact in found.contacts or []] == [
        "mailtos://duty:s3cret@smtp.example:465?to=duty@zz.example",
        "dingtalk://t0ken/",
        "json://127.0.0.1:9/sms",
    ]


def test_a_missing_secret_fails_at_start_with_file_field_and_fix(tmp_path: Path) -> None:
    path = write(tmp_path, UNIT_WITH_SECRETS)
    with pytest.raises(ConfigError) as refused:
        load_directory(path, environ={"SMTP_PASSWORD": "s3cret"})
    assert str(refused.value).startswith(
        f"{path}: units[jinshui].contacts[1].url: cannot read the secret file"
    )
    with pytest.raises(ConfigError) as refused:
        load_directory(path, environ={})
    assert str(refused.value) == (
        f"{path}: units[jinshui].contacts[0].url: environment variable SMTP_PASSWORD is not set; "
        "fix: export SMTP_PASSWORD=…, or write ${SMTP_PASSWORD:-default} to give a default"
    )


@pytest.mark.parametrize(
    ("units", "complaint"),
    [
        (
            "[{id: a, name: 甲, kind: district, parent: b}]",
            "unit a: parent 'b' is not a unit id in this file",
        ),
        (
            "[{id: a, name: 甲, kind: district, parent: b}, {id: b, name: 乙, kind: district, parent: a}]",
            "unit a: its parents go round in a circle through a",
        ),
        ("[{id: a, name: 甲, kind: district}, {id: b, name: 甲, kind: district}]", "appear twice: 甲"),
        ("[{id: A1, name: 甲, kind: town}]", "units[A1].kind: Input should be"),
        (
            "[{id: a, name: 甲, kind: district, contacts: [{name: m, url: 'mailto://duty:pw@host'}]}]",
            "units[a].contacts[0].url: apprise cannot use mailto://host/…; fix: write the URL as",
        ),
    ],
)
def test_an_inconsistent_directory_is_refused(tmp_path: Path, units: str, complaint: str) -> None:
    path = write(tmp_path, f"channels: [{{name: mail, url: 'json://x/{{unit}}'}}]\nunits: {units}\n")
    with pytest.raises(ConfigError, match=str(path)) as refused:
        load_directory(path, environ={})
    assert complaint in str(refused.value)


def test_a_station_whose_operator_is_not_in_the_directory_fails_at_start(directory: Directory) -> None:
    plant = Station(id="ZZ-NH3-X", kind=Kind.AMMONIA, name="某电厂", district="中牟县", operator="中牟某电厂")
    with pytest.raises(ConfigError) as refused:
        directory.check_covers({plant.id: plant})
    assert "lacks: 中牟某电厂; fix: add a unit with each of these names" in str(refused.value)
