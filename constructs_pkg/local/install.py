"""Installing DynamoDB Local for the local tools, and checking the Java it runs on: ``python -m constructs_pkg.local
setup``.

AWS ships DynamoDB Local (Java, with the Streams API) as a download from its own site
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.DownloadingAndRunning.html); the same
jar with its native SQLite libraries is inside the npm package amplify-dynamodb-simulator (its ``emulator/`` folder),
which reaches machines that only have npm. ``npm pack`` fetches the package (npm checks its integrity) without
installing it or running any of its scripts. A machine without npm installs from a copy the user names: the folder or
archive (.tar.gz, .tgz, .zip) of AWS's download, or of the npm package.

It goes into a per-user cache (``$XDG_CACHE_HOME``, else ``~/.cache``, then ``dynamodb-stream-constructs/
dynamodb-local``), or where ``DYNAMODB_LOCAL_DIR`` says, and is stamped with where it came from: installing again from
the same source does nothing.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MIN_JAVA_VERSION",
    "NPM_PACKAGE",
    "InstallError",
    "Installed",
    "JavaCheck",
    "check_java",
    "default_install_dir",
    "install_dir",
    "install_dynamodb_local",
    "installed_source",
]

# Pinned, so that every machine tests against the same DynamoDB Local (this version carries 1.25.1).
NPM_PACKAGE = "amplify-dynamodb-simulator@2.9.30"
# DynamoDB Local 2.x and later need Java 17:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.DownloadingAndRunning.html
MIN_JAVA_VERSION = 17
JAVA_HINT = (
    "install a Java runtime 17 or newer and put `java` on the PATH: e.g. `sudo apt-get install openjdk-17-jre-headless`"
    " (Debian, Ubuntu), `sudo dnf install java-17-openjdk-headless` (Fedora, Amazon Linux), `brew install openjdk@17`"
    " (macOS), or Temurin from https://adoptium.net"
)
STAMP = ".installed-from"
_JAR = "DynamoDBLocal.jar"
_LIBRARIES = "DynamoDBLocal_lib"
_CACHE_SUBDIR = Path("dynamodb-stream-constructs") / "dynamodb-local"
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
# `java -version` prints `openjdk version "17.0.15" 2025-04-15` or, before Java 9, `java version "1.8.0_392"`.
_JAVA_VERSION = re.compile(r'version "(?P<version>[^"]+)"')


class InstallError(Exception):
    """DynamoDB Local could not be installed; the message says why and what to do."""


@dataclass(frozen=True)
class Installed:
    """Where DynamoDB Local is, where it came from, and whether this call installed it (False: it already was)."""

    home: Path
    source: str
    changed: bool


@dataclass(frozen=True)
class JavaCheck:
    """The ``java`` on the PATH: its path and major version (None: not found, or its version unreadable), and
    ``problem``, what is wrong with it and what to install (None: it runs DynamoDB Local)."""

    path: str | None
    version: str | None
    major: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def default_install_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The per-user cache directory: ``$XDG_CACHE_HOME`` (when absolute, as the XDG spec asks), else ``~/.cache``,
    then ``dynamodb-stream-constructs/dynamodb-local``."""
    cache = environ.get("XDG_CACHE_HOME", "")
    root = Path(cache) if cache and Path(cache).is_absolute() else Path.home() / ".cache"
    return root / _CACHE_SUBDIR


def install_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where DynamoDB Local is (to be) installed: ``DYNAMODB_LOCAL_DIR``, else ``default_install_dir()``."""
    override = environ.get("DYNAMODB_LOCAL_DIR")
    return Path(override).expanduser() if override else default_install_dir(environ)


def installed_source(home: Path) -> str | None:
    """Where the DynamoDB Local in ``home`` came from, as its stamp says; None when ``home`` holds no complete one.

    A copy put there by hand (no stamp) counts as complete when the jar and its libraries are there.
    """
    if not ((home / _JAR).is_file() and (home / _LIBRARIES).is_dir()):
        return None
    stamp = home / STAMP
    return stamp.read_text().strip() if stamp.is_file() else "a copy put there by hand"


def install_dynamodb_local(
    source: str | Path | None = None,
    *,
    target: Path | None = None,
    npm_package: str = NPM_PACKAGE,
    force: bool = False,
) -> Installed:
    """Install DynamoDB Local into ``target`` (Default: - ``install_dir()``) and return where it is.

    ``source`` (Default: None) is a folder or an archive (.tar.gz, .tgz, .tar, .zip) holding DynamoDB Local: AWS's
    download or the npm package, unpacked or not. None fetches ``npm_package`` (Default: ``NPM_PACKAGE``) with
    ``npm pack``. Nothing is done when ``target`` already holds an install from the same source, or, without a
    ``source``, any complete install (one made from a copy stays); ``force`` (Default: False) installs again anyway.
    The new install is built beside ``target`` and moved into place, so an interrupted one never looks complete.

    Raises InstallError naming what is missing: npm, the path, the jar in what was given.
    """
    target = (target or install_dir()).expanduser()
    wanted = npm_package if source is None else f"from {Path(source).expanduser().resolve()}"
    present = installed_source(target)
    if present is not None and not force and (present == wanted or (source is None and present != npm_package)):
        return Installed(target, present, changed=False)
    with tempfile.TemporaryDirectory(prefix="dynamodb-local.") as work:
        unpacked = _fetch_from_npm(npm_package, Path(work)) if source is None else _unpack(Path(source), Path(work))
        found = _locate(unpacked)
        if found is None:
            raise InstallError(
                f"no {_JAR} with its {_LIBRARIES}/ in {source or npm_package}: name the folder or archive of "
                "DynamoDB Local (AWS's download, or the npm package amplify-dynamodb-simulator)"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f"{target.name}.partial.{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(found, staging, symlinks=False)
        (staging / STAMP).write_text(wanted + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    return Installed(target, wanted, changed=True)


def _fetch_from_npm(package: str, work: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise InstallError(
            f"npm is needed to fetch DynamoDB Local ({package}); without npm, download it from AWS "
            "(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.DownloadingAndRunning.html)"
            " and run: python -m constructs_pkg.local setup --from PATH_OF_THE_DOWNLOAD"
        )
    packed = subprocess.run(
        [npm, "pack", "--silent", "--pack-destination", str(work), package],
        capture_output=True,
        text=True,
        check=False,
    )
    archives = sorted(work.glob("*.tgz"))
    if packed.returncode != 0 or not archives:
        raise InstallError(f"npm pack {package} failed ({packed.returncode}): {packed.stderr.strip()[-2000:]}")
    return _unpack(archives[0], work / "unpacked")


def _unpack(source: Path, work: Path) -> Path:
    """``source`` itself when it is a folder, else a folder in ``work`` it was unpacked into."""
    source = source.expanduser()
    if source.is_dir():
        return source
    if not source.is_file():
        raise InstallError(f"{source} does not exist: name a folder or an archive (.tar.gz, .tgz, .tar, .zip)")
    destination = work / "archive"
    destination.mkdir(parents=True, exist_ok=True)
    name = source.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(source) as archive:
                archive.extractall(destination)
        elif name.endswith(_ARCHIVE_SUFFIXES):
            with tarfile.open(source) as archive:
                # "data": no member may land outside the folder, nor be a device or a setuid file.
                archive.extractall(destination, filter="data")
        else:
            raise InstallError(f"{source}: not an archive this reads ({', '.join(_ARCHIVE_SUFFIXES)})")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as error:
        raise InstallError(f"{source} could not be unpacked: {error}") from None
    return destination


def _locate(root: Path) -> Path | None:
    """The folder under ``root`` (itself, the npm package's ``package/emulator``, or the shallowest other) that holds
    the jar and its libraries."""
    for candidate in (root, root / "emulator", root / "package" / "emulator"):
        if (candidate / _JAR).is_file() and (candidate / _LIBRARIES).is_dir():
            return candidate
    jars = sorted(root.rglob(_JAR), key=lambda path: len(path.parts))
    for jar in jars:
        if (jar.parent / _LIBRARIES).is_dir():
            return jar.parent
    return None


def check_java(java: str | None = None) -> JavaCheck:
    """Whether ``java`` (Default: - the one on the PATH) can run DynamoDB Local: Java 17 or newer."""
    return _check_java(java or shutil.which("java"))


@functools.cache
def _check_java(path: str | None) -> JavaCheck:
    if path is None:
        problem = f"no `java` on the PATH: DynamoDB Local runs on Java {MIN_JAVA_VERSION} or newer; {JAVA_HINT}"
        return JavaCheck(None, None, None, problem)
    try:
        # `java -version` writes to stderr.
        answer = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return JavaCheck(path, None, None, f"{path} -version failed ({error}); {JAVA_HINT}")
    match = _JAVA_VERSION.search(answer.stderr + answer.stdout)
    if match is None:
        return JavaCheck(path, None, None, f"{path} -version did not say its version; {JAVA_HINT}")
    version = match["version"]
    parts = version.split(".")
    major_text = parts[1] if parts[0] == "1" and len(parts) > 1 else re.split(r"\D", parts[0])[0]
    major = int(major_text) if major_text.isdigit() else None
    if major is None or major < MIN_JAVA_VERSION:
        problem = f"{path} is Java {version}: DynamoDB Local needs {MIN_JAVA_VERSION} or newer; {JAVA_HINT}"
        return JavaCheck(path, version, major, problem)
    return JavaCheck(path, version, major, None)
