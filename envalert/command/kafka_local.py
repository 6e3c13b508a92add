"""Apache Kafka for the local stack: the broker's release from Maven Central, run by Java in KRaft
mode as one combined broker and controller, its log on disk and its heap bounded.

The release is fetched once (``mvn dependency:copy-dependencies`` from a small POM written here)
into a cache shared by every stack of the user, so that later starts need no network.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from envalert.command.host import StackError, apt_install, port_open

#: The Kafka release the local stack runs, and the Log4j 2 binding that lets its SLF4J logging
#: out (the release's own ``libs/`` has it; the Maven artifact does not depend on it).
KAFKA_VERSION = "4.4.0"
LOG4J_VERSION = "2.24.3"
#: Kafka 4 brokers need Java 17 or later.
JAVA_MAJOR = 17

POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>envalert.local</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>{KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{LOG4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
"""

#: What the broker logs: warnings, and the line that says it has started.
LOG4J_CONFIG = """status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = info
"""


def release_cache() -> Path:
    """Where the release's jars are kept: one copy per user and version, for every stack."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "envalert" / f"kafka-{KAFKA_VERSION}"


def fetch_release(cache: Path | None = None) -> Path:
    """The folder of the release's jars, fetched from Maven Central the first time.

    The jars are fetched into a folder of their own and renamed into place once complete, so a
    fetch that fails or is interrupted leaves nothing that looks usable, and two stacks fetching
    at once both end with one whole copy."""
    cache = cache or release_cache()
    libs = cache / "libs"
    if libs.is_dir():
        return libs
    mvn = apt_install("mvn")
    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{cache.name}-", dir=cache.parent))
    try:
        (staging / "pom.xml").write_text(POM)
        done = subprocess.run(
            [mvn, "-B", "-q", "-f", str(staging / "pom.xml"), "dependency:copy-dependencies",
             f"-DoutputDirectory={staging / 'libs'}", "-DincludeScope=runtime"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
            raise StackError(
                f"fetching Apache Kafka {KAFKA_VERSION} from Maven Central failed (is "
                f"https://repo.maven.apache.org reachable, or a mirror set in ~/.m2/settings.xml?):\n{tail}"
            )
        try:
            staging.rename(cache)
        except OSError:
            if not libs.is_dir():  # not another fetch's complete copy
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return libs


def java_program() -> str:
    """A Java runtime new enough for the broker, installed from Debian's packages if missing."""
    java = apt_install("java")
    shown = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    found = re.search(r'version "(?:1\.)?(\d+)', shown)
    if not found or int(found.group(1)) < JAVA_MAJOR:
        raise StackError(
            f"Kafka {KAFKA_VERSION} needs Java {JAVA_MAJOR} or later, and {java} is {shown.strip()!r}: "
            f"install openjdk-{JAVA_MAJOR}-jre-headless and put its java first on the PATH"
        )
    return java


def cluster_id() -> str:
    """A new cluster id as Kafka writes them: 16 random bytes in URL-safe base64, not starting
    with a dash (a command line would take it for an option)."""
    while True:
        made = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not made.startswith("-"):
            return made


#: The broker's settings for one machine: a single replica of everything, no wait before a
#: group's first rebalance, topics only as the pipeline creates them (each with its retention),
#: and segments small enough that retention and compaction apply long before a disk fills.
BROKER_SETTINGS = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.listener.names": "CONTROLLER",
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    "inter.broker.listener.name": "PLAINTEXT",
    "auto.create.topics.enable": "false",
    "num.partitions": "4",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "8",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "4",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "log.segment.bytes": str(64 << 20),
    "log.cleaner.dedupe.buffer.size": str(32 << 20),
}


@dataclass
class Kafka:
    port: int
    controller_port: int
    name: str = "kafka"
    #: The JVM's heap: the broker's memory is this and what the JVM needs beside it.
    heap_mb: int = 512
    #: Broker settings that replace the defaults above (the soaks' tiny segments).
    overrides: dict[str, str] = field(default_factory=dict)

    def command(self, folder: Path) -> list[str]:
        libs = fetch_release()
        java = java_program()
        data = folder / "data"
        settings = {
            **BROKER_SETTINGS,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://localhost:{self.port}",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "log.dirs": str(data),
            **self.overrides,
        }
        properties = folder / "server.properties"
        properties.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        logging = folder / "log4j2.properties"
        logging.write_text(LOG4J_CONFIG)
        classpath = f"{libs}/*"
        if not (data / "meta.properties").exists():
            formatted = subprocess.run(
                [java, "-cp", classpath, "kafka.tools.StorageTool", "format",
                 "-t", cluster_id(), "-c", str(properties)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if formatted.returncode:
                raise StackError(
                    f"formatting Kafka's log in {data} failed:\n{formatted.stdout}{formatted.stderr}"
                )
        return [
            java,
            f"-Xmx{self.heap_mb}m",
            f"-Xms{self.heap_mb}m",  # whole from the start, as Kafka's own scripts,
            "-XX:+AlwaysPreTouch",  # and in memory from the start: what it takes, it keeps
            "-XX:MaxMetaspaceSize=192m",
            "-XX:MaxDirectMemorySize=128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={logging}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(properties),
        ]

    def healthy(self) -> bool:
        return port_open(self.port) and broker_ready(f"localhost:{self.port}")

    def address(self) -> str:
        return f"localhost:{self.port} (Apache Kafka {KAFKA_VERSION}, KRaft)"


def broker_ready(bootstrap: str) -> bool:
    """The broker answers a metadata request and lists itself: it takes topics and records."""

    async def ask() -> bool:
        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await client.bootstrap()
            return bool(client.cluster.brokers())
        except KafkaError:
            return False
        finally:
            await client.close()

    return asyncio.run(ask())
