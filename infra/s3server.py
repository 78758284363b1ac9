"""The local S3 server: S3Proxy on its filesystem backend, from Maven Central.

Why S3Proxy (measured here with boto3, 32 racing writers of one key, 100 rounds each):

- it keeps every object as a file under the stack's state folder, so bills, runs, jobs
  and customers survive `make down` and a ``kill -9`` of the server;
- its filesystem store applies ``If-None-Match: *`` as it publishes the file, so exactly
  one of many racing creators wins (0 of 100 races let two win; versitygw 1.7.0, which
  checks before it writes, let two win 4 times, and SeaweedFS 4.48 hung in the race);
- it is one jar resolved by the same ``mvn`` that resolves the Kafka broker.

No local server applies ``If-Match`` atomically (S3Proxy says so itself: a filesystem
offers no compare-and-swap), so the functions never rely on it: every conditional write
they make creates an object that does not exist yet.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from functions.errors import ConfigurationError
from runtime.config import StackSettings

VERSION = "4.0.0"
ARTIFACT = f"org.gaul:s3proxy:{VERSION}:jar:jar-with-dependencies"
JAR_NAME = f"s3proxy-{VERSION}-jar-with-dependencies.jar"


def cache_dir(settings: StackSettings) -> Path:
    return Path(settings.kafka_cache_dir) / f"s3proxy-{VERSION}"


def resolve_jar(settings: StackSettings) -> Path:
    """The server's jar, downloaded by ``mvn`` on first use and cached outside git."""
    jar = cache_dir(settings) / JAR_NAME
    if jar.exists():
        return jar
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise ConfigurationError("the local S3 server needs `java` (17+) and `mvn` on PATH")
    cache_dir(settings).mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            *("mvn", "-B", "-q", "dependency:copy"),
            f"-Dartifact={ARTIFACT}",
            f"-DoutputDirectory={cache_dir(settings)}",
        ],
        check=True,
    )
    return jar


def properties(data_dir: Path, host: str, port: int, access_key: str, secret_key: str) -> str:
    return "\n".join(
        [
            f"s3proxy.endpoint=http://{host}:{port}",
            # Signed requests only: a client without the stack's credentials is refused.
            "s3proxy.authorization=aws-v2-or-v4",
            f"s3proxy.identity={access_key}",
            f"s3proxy.credential={secret_key}",
            "jclouds.provider=filesystem",
            f"jclouds.filesystem.basedir={data_dir}",
            "",
        ]
    )


def prepare(state_dir: Path, host: str, port: int, settings: StackSettings) -> list[str]:
    """Write the server's configuration and return its command line.

    The credentials are the ones every client of the stack signs with
    (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, ``test``/``test`` by default).
    """
    jar = resolve_jar(settings)
    data_dir = state_dir / "s3" / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config = state_dir / "s3" / "s3proxy.conf"
    access_key, secret_key = settings.local_s3_keys()
    config.touch(mode=0o600)
    config.write_text(properties(data_dir, host, port, access_key, secret_key))
    heap = settings.s3_server_heap.split()
    return ["java", *heap, "-XX:+UseSerialGC", "-jar", str(jar), "--properties", str(config)]
