"""Stand-ins for the images docker-compose.yml names, built here from Debian's, PyPI's and
Maven's packages, for a machine that reaches no image registry (docs/compose.md says where
each differs from the official one).

    python -m infra.standin_images    builds what is missing and prints the variables that
                                      point `docker compose` at the stand-ins

Debian root filesystems, made once by mmdebstrap from this machine's Debian mirror and kept
under ~/.cache/kafka-billing/compose, are imported as bases, and podman builds the stand-ins
on them from infra/standins/: Python 3.11 on Debian 12 (bookworm), whose Python it is;
Kafka and LocalStack on Debian 13 (trixie), whose Java 21 and Python 3.13 the official images
have (LocalStack 4.14 needs Python 3.12 or later). Each image's tag ends with a digest of
what it is made of (its files, its parent, its versions), so a change rebuilds that image
and those built on it, and nothing else.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from functions.errors import ConfigurationError, ImageBuildFailed
from infra import broker
from infra.tool import run_tool
from runtime.config import REPO, StackSettings

log = logging.getLogger(__name__)

STANDINS = Path(__file__).resolve().parent / "standins"
REPOSITORY = "localhost/kafka-billing-standin"
DEBIAN_12, DEBIAN_13 = "bookworm", "trixie"
# The certificates this machine trusts beyond Debian's (a proxy's, a company's): the base
# trusts them too, so that apt and pip in a build reach what they reach here.
LOCAL_CERTIFICATES = Path("/usr/local/share/ca-certificates")
# The apt settings of this machine that its mirror needs (an archive snapshot, a proxy).
FORWARDED_APT_OPTIONS = (
    "Acquire::Check-Valid-Until",
    "Acquire::Check-Date",
    "Acquire::http::Proxy",
    "Acquire::https::Proxy",
)
# What Debian's slim images leave out too.
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
)


def compose_image_version(image: str) -> str:
    """The tag docker-compose.yml gives ``image`` by default (localstack/localstack: 4.14.0)."""
    text = (REPO / "docker-compose.yml").read_text()
    match = re.search(rf"{re.escape(image)}:([\w.-]+)\}}", text)
    if match is None:
        raise ConfigurationError(f"docker-compose.yml names no default tag of {image}")
    return match.group(1)


def _digest(*parts: str | bytes) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part.encode() if isinstance(part, str) else part)
        sha.update(b"\0")
    return sha.hexdigest()[:12]


def _folder_digest(folder: Path) -> str:
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    parts = [
        item
        for path in files
        for item in (str(path.relative_to(folder)), oct(path.stat().st_mode), path.read_bytes())
    ]
    return _digest(*parts)


def _podman(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *arguments], capture_output=True, text=True)


def image_exists(tag: str) -> bool:
    return _podman("image", "exists", tag).returncode == 0


def prune_other_tags(repository: str, keep: str, keep_prefix: str = "") -> None:
    """Remove the repository's other tags (starting with ``keep_prefix``): images of an
    earlier digest. One that a container still uses stays (podman refuses), and goes on a
    later run."""
    listed = _podman("images", "--format", "{{.Repository}}:{{.Tag}}", repository).stdout
    for tag in {tag for tag in listed.split() if tag.startswith(keep_prefix)} - {keep}:
        if _podman("rmi", tag).returncode == 0:
            log.info("removed %s, an earlier build", tag)


class StandinImages:
    """Builds the stand-ins that are missing; ``variables()`` names them for compose."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.cache = Path(settings.kafka_cache_dir) / "compose"
        self.logs = self.cache / "logs"

    def variables(self) -> dict[str, str]:
        """KAFKA_IMAGE, LOCALSTACK_IMAGE and PYTHON_IMAGE, each a stand-in, built if missing."""
        for tool in ("podman", "mmdebstrap"):
            if shutil.which(tool) is None:
                raise ConfigurationError(
                    f"no {tool} on PATH: `bash infra/install.sh --containers` installs it"
                    " (`make compose-check` does)"
                )
        self.logs.mkdir(parents=True, exist_ok=True)
        debian_13 = self.base(DEBIAN_13)
        return {
            "PYTHON_IMAGE": self.python(self.base(DEBIAN_12)),
            "KAFKA_IMAGE": self.kafka(debian_13),
            "LOCALSTACK_IMAGE": self.localstack(debian_13),
        }

    def base(self, suite: str) -> str:
        """Debian's ``suite``, minimal, trusting what this machine trusts, from its mirror."""
        certificates = sorted(p for p in LOCAL_CERTIFICATES.rglob("*.crt") if p.is_file())
        command = [
            "mmdebstrap",
            "--variant=minbase",
            "--format=tar",
            "--include=ca-certificates",
            *(f"--dpkgopt={option}" for option in DPKG_EXCLUDES),
            *(f"--aptopt={option}" for option in _host_apt_options()),
        ]
        if certificates:
            command += [
                f"--customize-hook=copy-in {LOCAL_CERTIFICATES} /usr/local/share",
                '--customize-hook=chroot "$1" update-ca-certificates',
            ]
        sources = _sources(suite)
        key = _digest(*command, *sources, *(p.read_bytes() for p in certificates))
        tag = f"{REPOSITORY}/debian:{suite}-{key}"
        if image_exists(tag):
            return tag
        tarball = self.cache / f"debian-{suite}-{key}.tar"
        if not tarball.exists():
            for earlier in self.cache.glob(f"debian-{suite}-*.tar"):
                earlier.unlink()
            log.info("making a Debian %s root filesystem with mmdebstrap (a few minutes)", suite)
            # Written aside and renamed: a check beside this one never imports half of it.
            partial = self.cache / f".{tarball.stem}.{os.getpid()}.partial.tar"
            self._run(f"mmdebstrap-{suite}", [*command, suite, str(partial), *sources])
            partial.rename(tarball)
        log.info("importing %s as %s", tarball.name, tag)
        self._run(f"import-{suite}", ["podman", "import", str(tarball), tag])
        prune_other_tags(f"{REPOSITORY}/debian", tag, keep_prefix=f"{REPOSITORY}/debian:{suite}-")
        return tag

    def python(self, base: str) -> str:
        return self._build("python", "3.11", STANDINS / "python", base)

    def kafka(self, base: str) -> str:
        libs = broker.resolve_jars(self.settings, profile="image")
        jars = sorted(f"{jar.name}:{jar.stat().st_size}" for jar in libs.iterdir())
        return self._build(
            "kafka", broker.kafka_version(), STANDINS / "kafka", base, *jars, libs=libs
        )

    def localstack(self, base: str) -> str:
        version = compose_image_version("localstack/localstack")
        return self._build(
            "localstack",
            version,
            STANDINS / "localstack",
            base,
            build_args={"LOCALSTACK_VERSION": version},
        )

    def _build(
        self,
        name: str,
        version: str,
        folder: Path,
        parent: str,
        *inputs: str,
        build_args: dict[str, str] | None = None,
        libs: Path | None = None,
    ) -> str:
        """Builds ``folder``'s Containerfile on ``parent`` unless its tag exists; ``libs``
        is put in the build context as libs/ (described by ``inputs``, not read whole)."""
        arguments = {"BASE": parent, **(build_args or {})}
        assigned = [f"{argument}={value}" for argument, value in sorted(arguments.items())]
        tag = f"{REPOSITORY}/{name}:{version}-{_digest(_folder_digest(folder), *inputs, *assigned)}"
        if image_exists(tag):
            return tag
        log.info("building the %s stand-in %s", name, tag)
        command = ["podman", "build", "--pull=never", "--tag", tag, "--file", "Containerfile"]
        command += [f"--build-arg={assignment}" for assignment in assigned]
        with tempfile.TemporaryDirectory(dir=self.cache, prefix=f".{name}-context-") as context:
            shutil.copytree(folder, context, dirs_exist_ok=True)
            if libs is not None:
                shutil.copytree(libs, Path(context) / "libs", copy_function=_link_or_copy)
            self._run(f"{name}-build", [*command, context], cwd=Path(context))
        prune_other_tags(f"{REPOSITORY}/{name}", tag)
        return tag

    def _run(self, what: str, command: list[str], cwd: Path | None = None) -> None:
        """Runs ``command`` with its output in a log of its own, named if it fails."""
        path = self.logs / f"{what}.log"
        with path.open("w") as output:
            code = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, cwd=cwd)
        if code.returncode != 0:
            tail = "\n".join(path.read_text().splitlines()[-15:])
            raise ImageBuildFailed(
                f"{what} failed (exit {code.returncode}); its output is in {path}:\n{tail}"
            )


def _link_or_copy(source: str, destination: str) -> None:
    """A hard link where the cache and the context share a disk (the jars are large)."""
    try:
        Path(destination).hardlink_to(source)
    except OSError:
        shutil.copy2(source, destination)


def _host_apt_options() -> list[str]:
    dumped = subprocess.run(["apt-config", "dump"], capture_output=True, text=True).stdout
    wanted = set(FORWARDED_APT_OPTIONS)
    return [line.rstrip(";") for line in dumped.splitlines() if line.split(" ")[0] in wanted]


def _sources(suite: str) -> list[str]:
    """``suite``'s apt sources on this machine's Debian mirrors, or on Debian's own."""
    texts = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.sources")]
    text = "\n".join(path.read_text() for path in texts if path.is_file())
    uris = re.findall(r"^(?:URIs:|deb\s+(?:\[[^]]*\]\s+)?)\s*(\S+)", text, re.M)

    def mirror(path: str) -> str:
        found = (uri for uri in uris if uri.rstrip("/").endswith(path))
        return next(found, f"http://deb.debian.org{path}")

    debian, security = mirror("/debian"), mirror("/debian-security")
    return [
        f"deb {debian} {suite} main",
        f"deb {debian} {suite}-updates main",
        f"deb {security} {suite}-security main",
    ]


def main() -> int:
    def act(settings: StackSettings) -> int:
        for name, value in StandinImages(settings).variables().items():
            print(f"{name}={value}")
        return 0

    return run_tool("standin-images", act)


if __name__ == "__main__":
    sys.exit(main())
