"""``envalert notify``: acknowledging and silencing from the command line, as a duty officer would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from envalert.command.host import free_port
from notifiers.directory import load_directory
from notifiers.notifier import Notifier
from notifiers.routing import Routing
from notifiers.store import Store
from tests.conftest import envalert, wait_until
from tests.notifiers.conftest import STATIONS, Clock, event


def test_silences_are_created_listed_and_expired(tmp_path: Path) -> None:
    env = {**os.environ, "ENVALERT_NOTIFIER_DB": str(tmp_path / "n.db")}
    made = envalert("notify", "silence", "add", "--match", "rule=air.*", "--match", "district=金水区",
                    "--for", "2h", "--by", "李工", "--comment", "站房检修", env=env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    silence_id = made.stdout.split()[1]
    listed = envalert("notify", "silence", "list", env=env).stdout
    assert (
        silence_id in listed
        and "{'rule': 'air.*', 'district': '金水区'}" in listed
        and "by 李工: 站房检修" in listed
    )
    assert envalert("notify", "silence", "expire", silence_id, "--by", "王工", env=env).returncode == 0
    assert silence_id not in envalert("notify", "silence", "list", env=env).stdout
    assert silence_id in envalert("notify", "silence", "list", "--all", env=env).stdout
    audit = [(entry.action, entry.by, entry.target) for entry in Store(tmp_path / "n.db").audit()]
    assert audit == [("expire", "王工", silence_id), ("silence", "李工", silence_id)]

    wrong = envalert(
        "notify",
        "silence",
        "add",
        "--match",
        "station=X",
        "--for",
        "1h",
        "--by",
        "a",
        "--comment",
        "b",
        env=env,
    )
    assert (
        wrong.returncode == 1 and "unknown label(s) station; silences match on rule, subject" in wrong.stderr
    )
    endless = envalert(
        "notify", "silence", "add", "--match", "rule=x", "--by", "a", "--comment", "b", env=env
    )
    assert endless.returncode == 2 and "give exactly one of --for and --until" in endless.stderr


def test_an_acknowledgement_is_stored_for_the_current_episode(tmp_path: Path, routing: Routing) -> None:
    db = tmp_path / "n.db"
    env = {**os.environ, "ENVALERT_NOTIFIER_DB": str(db)}
    missing = envalert("notify", "ack", "air.pm25.24h/ZZ-AIR-JS01", "--by", "张工", env=env)
    assert missing.returncode == 1 and "no firing alert 'air.pm25.24h/ZZ-AIR-JS01'" in missing.stderr
    alert = event("air.pm25.24h", "ZZ-AIR-JS01")
    desk = Notifier(Store(db), load_directory(environ={}), routing, STATIONS, Clock(), board_url="http://b")
    desk.take([alert])
    assert (
        "air.pm25.24h/ZZ-AIR-JS01  firing warning  金水区  not acknowledged"
        in envalert("notify", "alerts", env=env).stdout
    )
    done = envalert("notify", "ack", alert.fingerprint, "--by", "张工", "--comment", "已通知现场", env=env)
    assert done.returncode == 0, done.stderr
    (ack,) = Store(db).acks()
    assert (ack.fingerprint, ack.started_at, ack.by, ack.comment) == (
        alert.fingerprint,
        alert.started_at,
        "张工",
        "已通知现场",
    )
    assert "acknowledged by 张工" in envalert("notify", "alerts", env=env).stdout


def test_the_sink_prints_what_it_receives_until_sigterm(tmp_path: Path) -> None:
    mail, webhook = free_port(), free_port()
    sink = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "envalert.command.cli",
            "notify",
            "sink",
            "--mail-port",
            str(mail),
            "--webhook-port",
            str(webhook),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        env = {
            **os.environ,
            "ENVALERT_SMTP": f"127.0.0.1:{mail}",
            "ENVALERT_WEBHOOK": f"127.0.0.1:{webhook}",
            "ENVALERT_SMS_GATEWAY": f"127.0.0.1:{webhook}",
        }
        sent = wait_until(
            lambda: (done := envalert("notify", "test", "惠济区", env=env)).returncode == 0 and done,
            30,
            "the sink up",
        )
        assert sent.stdout.count("delivered") == 3
    finally:
        sink.send_signal(signal.SIGTERM)
        out, _ = sink.communicate(timeout=30)
    assert sink.returncode == 0
    assert "mail huiji.duty@zzhb.example: envalert 测试消息 / test message: 惠济区" in out
    assert "webhook /sms/huiji: envalert 测试消息 / test message: 惠济区" in out
    assert "这是发给惠济区（短信网关 SMS gateway）的测试消息，无需处理。" in out
