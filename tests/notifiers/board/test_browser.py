"""The board in headless Chromium over the whole real pipeline: a reading that breaks a threshold
appears without a reload, a signed-in user acknowledges it, and its state changes.

Debian's chromium and chromedriver (``envalert stack install --browser``; nothing is downloaded).
Screenshots land in ``test-artifacts/`` (or ``$ENVALERT_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from ingest.publisher import WindowedPublisher, publish_readings
from tests.conftest import Pipeline, Services, Sinks
from tests.streams.test_alerting import SCR, hourly

pytestmark = pytest.mark.integration

TOKEN = "browser-test-token-0123456789"
ARTIFACTS = Path(os.environ.get("ENVALERT_TEST_ARTIFACTS", "test-artifacts"))
SLIP = "ammonia.slip.1h/NH3-1"


def waiting(driver: WebDriver, seconds: float, what: str) -> Callable[[Callable[[WebDriver], Any]], Any]:
    """Wait for a condition on the page, failing with ``what`` after ``seconds``. The live page
    may replace an element between finding and using it: that counts as not yet."""

    def until(condition: Callable[[WebDriver], Any]) -> Any:
        wait = WebDriverWait(driver, seconds, 0.2, ignored_exceptions=[StaleElementReferenceException])
        return wait.until(condition, f"no {what} in {seconds} s")

    return until


def click(driver: WebDriver, css: str, what: str) -> None:
    def clicked(d: WebDriver) -> bool:
        d.find_element(By.CSS_SELECTOR, css).click()
        return True

    waiting(driver, 10, what)(clicked)


def alert_row(driver: WebDriver) -> WebElement | None:
    rows = driver.find_elements(By.CSS_SELECTOR, f'#alerts tbody tr[data-fingerprint="{SLIP}"]')
    return rows[0] if rows else None


def scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=5) as reply:
        lines = reply.read().decode().splitlines()
    return {
        name: float(value)
        for name, _, value in (line.rpartition(" ") for line in lines if line and not line.startswith("#"))
    }


def screenshot(driver: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    assert driver.save_screenshot(str(path)), path
    return path


def test_an_alert_appears_live_and_is_acknowledged_on_the_board(
    services: Services,
    pipeline_factory: Callable[..., Pipeline],
    sinks: Sinks,
    tmp_path: Path,
    browser: WebDriver,
) -> None:
    users = tmp_path / "board-users.yaml"
    users.write_text(
        f"users:\n  - {{name: 值班员张工, token: {TOKEN}, units: [市生态环境局荥阳市分局]}}\n",
        encoding="utf-8",
    )
    pipeline = pipeline_factory(
        SCR, **sinks.env, ENVALERT_BOARD_USERS_FILE=str(users), ENVALERT_NOTIFIER_DB=str(tmp_path / "n.db")
    )
    pipeline.start_all()
    pipeline.start("notifier")

    browser.get(f"{pipeline.board}/board")
    waiting(browser, 20, "live connection")(
        lambda d: "on" in d.find_element(By.ID, "live").get_attribute("class")
    )
    assert browser.find_element(By.TAG_NAME, "h1").text == "郑州市生态环境监测告警看板", "Chinese by default"
    assert alert_row(browser) is None
    browser.execute_script("window.notReloaded = true")

    readings = hourly([6.0, 6.2])  # two hours over the SCR limit of 5
    publish_readings(services.mqtt_settings(), readings)
    broken = WindowedPublisher(services.mqtt_settings(), "broken-station")
    broken.publish("env/v1/ammonia/NH3-1", b"NH3=6.0")
    broken.close()

    text = waiting(browser, 60, "ammonia-slip alert on the board")(
        lambda d: (row := alert_row(d)) and row.text
    )
    assert browser.execute_script("return window.notReloaded") is True, "the alert came without a reload"
    assert "氨逃逸" in text and "1号机组SCR出口" in text and "荥阳市" in text, text
    assert "/ 5 mg/m³" in text and "严重" in text and "荥阳电厂" in text, text
    assert "严重 1" in browser.find_element(By.ID, "firing-note").text
    shot = screenshot(browser, "board-alert.png")

    ack = f'#alerts tr[data-fingerprint="{SLIP}"] button.ack'
    click(browser, ack, "acknowledge button")  # not signed in: it asks for the token
    waiting(browser, 5, "sign-in dialog")(lambda d: d.find_element(By.ID, "signin-dialog").is_displayed())
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "signin-ok").click()
    waiting(browser, 10, "signed-in user")(lambda d: d.find_element(By.ID, "user").text == "值班员张工")

    click(browser, ack, "acknowledge button")
    waiting(browser, 5, "acknowledge dialog")(lambda d: d.find_element(By.ID, "ack-dialog").is_displayed())
    browser.find_element(By.ID, "ack-ok").click()
    waiting(browser, 10, "acknowledgement on the row")(
        lambda d: (
            (found := alert_row(d))
            and "已确认：值班员张工" in found.text
            and "acknowledged" in (found.get_attribute("class") or "")
            and not found.find_elements(By.CSS_SELECTOR, "button.ack")
        )
    )
    click(browser, f'#alerts tr[data-fingerprint="{SLIP}"] button.silence', "silence button")
    waiting(browser, 5, "silence dialog")(lambda d: d.find_element(By.ID, "silence-dialog").is_displayed())
    browser.find_element(By.ID, "silence-why").send_keys("催化剂更换")
    browser.find_element(By.ID, "silence-ok").click()
    waiting(browser, 10, "silence on the row and in the list")(
        lambda d: (
            "已静默" in (alert_row(d) or d).text and "催化剂更换" in d.find_element(By.ID, "silences").text
        )
    )
    with urllib.request.urlopen(f"{pipeline.board}/api/audit", timeout=5) as reply:
        audit = json.load(reply)
    assert [(entry["action"], entry["by"]) for entry in audit] == [
        ("silence", "值班员张工"),
        ("acknowledge", "值班员张工"),
    ]
    assert (
        audit[1]["target"] == SLIP and "{'rule': 'ammonia.slip.1h', 'subject': 'NH3-1'}" in audit[0]["detail"]
    )
    done = screenshot(browser, "board-acknowledged.png")
    metrics = waiting(browser, 15, "readings, the reject and the worker's lag on /metrics")(
        lambda _: (
            (found := scrape(f"{pipeline.board}/metrics"))
            and found.get("envalert_readings_total") == len(readings)
            and found.get('envalert_readings_rejected_total{reason="not_json"}') == 1
            and any(name.startswith('envalert_consumer_lag{group="envalert"') for name in found)
            and found
        )
    )
    assert metrics['envalert_alerts{severity="critical",state="acknowledged"}'] == 1

    browser.find_element(By.ID, "lang").click()
    waiting(browser, 5, "English page")(
        lambda d: d.find_element(By.TAG_NAME, "h1").text == "Zhengzhou environmental monitoring: live alerts"
    )
    waiting(browser, 5, "English row")(lambda d: "Acknowledged by 值班员张工" in (alert_row(d) or d).text)
    for path in (shot, done):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000, path
    print(f"\nboard screenshots: {shot}, {done}")
