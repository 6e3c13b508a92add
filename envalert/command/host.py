"""What the local machine offers the local stack: free ports, and programs from Debian's packages."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path


class StackError(Exception):
    """A service could not be installed, started or stopped; the message says what to do."""


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0 and not connected_to_itself(probe)


def connected_to_itself(probe: socket.socket) -> bool:
    """A connection to a free local port succeeds when the kernel happens to give the probe that
    same port as its own (TCP simultaneous open): nobody listens there, and taking the port for
    used would refuse to start a stack on a free port "taken by another program"."""
    return bool(probe.getsockname() == probe.getpeername())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def find_program(binary: str) -> str | None:
    """A program on the PATH (or in the system's bin folders), or a file given by its full path."""
    if binary.startswith("/"):
        return binary if Path(binary).exists() else None
    return shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin:/sbin:/bin")


#: The Debian package that brings each program that the local stack runs, and that its tests use:
#: Java runs Apache Kafka, which Maven fetches from Maven Central; openssl makes the tests' TLS
#: certificates, VictoriaMetrics stands in for an InfluxDB v2 server.
DEBIAN_PACKAGES = {
    "mosquitto": "mosquitto",
    "influxd": "influxdb",
    "java": "openjdk-17-jre-headless",
    "mvn": "maven",
    "openssl": "openssl",
    "victoria-metrics": "victoria-metrics",
}
#: The board's browser test drives Debian's Chromium through its chromedriver (no download), with
#: a Chinese font so that its screenshots can be read.
BROWSER_PACKAGES = {
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc": "fonts-wqy-microhei",
}


def install_system_packages(*, browser: bool = False) -> list[str]:
    """Make sure every program of the local stack (and the test browser) is installed; return
    where each one is."""
    wanted = DEBIAN_PACKAGES | (BROWSER_PACKAGES if browser else {})
    return [apt_install(binary, package) for binary, package in wanted.items()]


def apt_install(binary: str, package: str | None = None) -> str:
    """Install a Debian package when we may (root with apt-get); otherwise say exactly how."""
    package = package or DEBIAN_PACKAGES[binary]
    found = find_program(binary)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise StackError(f"{binary} is not installed: run `sudo apt-get install -y {package}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    done = subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env, check=False)
    found = find_program(binary)
    if done.returncode or not found:
        raise StackError(f"installing {package} failed: run `apt-get install -y {package}` to see why")
    return found
