"""``python -m constructs_pkg.local setup``: DynamoDB Local into the per-user cache or DYNAMODB_LOCAL_DIR, from the
npm package or a folder or archive, idempotent, and a clear word on Java; and the tools finding it there."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from constructs_pkg.local.dynamodb_local import dynamodb_local_home, running_dynamodb_local
from constructs_pkg.local.install import (
    NPM_PACKAGE,
    InstallError,
    check_java,
    default_install_dir,
    install_dir,
    install_dynamodb_local,
    installed_source,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def real_copy() -> Path:
    """The DynamoDB Local this checkout's setup installed: a folder of AWS's layout to install from."""
    return dynamodb_local_home().resolve()


def fake_dynamodb_local(root: Path) -> Path:
    """A folder shaped like DynamoDB Local: the jar and its libraries, nothing that runs."""
    (root / "DynamoDBLocal_lib").mkdir(parents=True)
    (root / "DynamoDBLocal.jar").write_bytes(b"not really a jar")
    (root / "DynamoDBLocal_lib" / "sqlite4java.jar").write_bytes(b"")
    return root


def setup_command(*arguments: str, environment: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "constructs_pkg.local", "setup", *arguments],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def user_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    dropped = ("DYNAMODB_LOCAL_DIR", "XDG_CACHE_HOME")
    environment = {key: value for key, value in os.environ.items() if key not in dropped}
    return {**environment, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path / "cache"), **extra}


def test_the_install_directory_is_the_per_user_cache_unless_dynamodb_local_dir_says_otherwise(tmp_path: Path) -> None:
    home = Path.home()
    assert default_install_dir({}) == home / ".cache" / "dynamodb-stream-constructs" / "dynamodb-local"
    assert default_install_dir({"XDG_CACHE_HOME": "/var/cache/me"}) == Path(
        "/var/cache/me/dynamodb-stream-constructs/dynamodb-local"
    )
    # The XDG spec: a relative path is to be ignored.
    assert default_install_dir({"XDG_CACHE_HOME": "relative"}) == default_install_dir({})
    assert install_dir({"DYNAMODB_LOCAL_DIR": str(tmp_path), "XDG_CACHE_HOME": "/x"}) == tmp_path


def test_setup_from_a_folder_installs_into_the_cache_starts_it_and_a_second_run_installs_nothing(
    real_copy: Path, tmp_path: Path
) -> None:
    # GIVEN no DynamoDB Local in the user's cache
    environment = user_environment(tmp_path)
    target = tmp_path / "cache" / "dynamodb-stream-constructs" / "dynamodb-local"

    # WHEN setup installs it from a copy of AWS's download, twice
    first = setup_command("--from", str(real_copy), environment=environment, cwd=tmp_path)
    jar_written = (target / "DynamoDBLocal.jar").stat().st_mtime_ns
    second = setup_command("--from", str(real_copy), environment=environment, cwd=tmp_path)

    # THEN the first installed and started it, the second found it and changed nothing
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == f"DynamoDB Local installed in {target} (from {real_copy})"
    assert "Java 17" in first.stdout or "Java 2" in first.stdout
    assert "DynamoDB Local answered at http://127.0.0.1:" in first.stdout
    assert second.returncode == 0 and second.stdout.startswith(f"DynamoDB Local already installed in {target}")
    assert "answered" not in second.stdout
    assert (target / "DynamoDBLocal.jar").stat().st_mtime_ns == jar_written
    assert not list(target.parent.glob("*.partial.*"))


def test_the_tools_find_what_setup_installed(real_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DYNAMODB_LOCAL_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(RuntimeError, match=r"not installed in .*/cache/.*: run `python -m constructs_pkg.local setup`"):
        dynamodb_local_home()

    install_dynamodb_local(real_copy)

    with running_dynamodb_local() as database:
        assert database.client().list_tables()["TableNames"] == []


@pytest.mark.parametrize("layout", ["aws.tar.gz", "aws.zip", "npm.tgz", "npm-folder"])
def test_setup_takes_a_folder_or_an_archive_of_either_layout(layout: str, tmp_path: Path) -> None:
    # GIVEN DynamoDB Local as AWS ships it (files at the top) or as the npm package holds it (package/emulator/)
    source = tmp_path / "source"
    inner = fake_dynamodb_local(source / "package" / "emulator" if layout.startswith("npm") else source)
    archive: Path = source
    if layout.endswith(".zip"):
        archive = tmp_path / layout
        with zipfile.ZipFile(archive, "w") as written:
            for path in inner.rglob("*"):
                written.write(path, path.relative_to(source))
    elif layout.endswith(("gz", "tgz")):
        archive = tmp_path / layout
        with tarfile.open(archive, "w:gz") as written:
            written.add(source, arcname=".")

    # WHEN it is installed
    installed = install_dynamodb_local(archive, target=tmp_path / "target")

    # THEN the jar and its libraries are in the target, stamped with where they came from
    assert installed.changed
    assert (tmp_path / "target" / "DynamoDBLocal.jar").read_bytes() == b"not really a jar"
    assert (tmp_path / "target" / "DynamoDBLocal_lib" / "sqlite4java.jar").is_file()
    assert installed_source(tmp_path / "target") == f"from {archive.resolve()}"


def test_setup_fetches_the_npm_package_with_npm_pack(tmp_path: Path) -> None:
    # GIVEN an npm package holding DynamoDB Local (a local tarball: npm packs it without the registry)
    fake_dynamodb_local(tmp_path / "package" / "emulator")
    (tmp_path / "package" / "package.json").write_text('{"name": "fake-simulator", "version": "1.0.0"}')
    package = tmp_path / "fake-simulator-1.0.0.tgz"
    with tarfile.open(package, "w:gz") as written:
        written.add(tmp_path / "package", arcname="package")

    # WHEN setup installs it from npm, twice, then once more with --force
    first = install_dynamodb_local(target=tmp_path / "target", npm_package=str(package))
    second = install_dynamodb_local(target=tmp_path / "target", npm_package=str(package))
    forced = install_dynamodb_local(target=tmp_path / "target", npm_package=str(package), force=True)

    # THEN the first and the forced one installed, the second found it there
    assert (first.changed, second.changed, forced.changed) == (True, False, True)
    assert installed_source(tmp_path / "target") == str(package)


def test_an_install_made_from_a_copy_is_kept_by_a_plain_setup(tmp_path: Path) -> None:
    source = fake_dynamodb_local(tmp_path / "source")
    install_dynamodb_local(source, target=tmp_path / "target")

    again = install_dynamodb_local(target=tmp_path / "target", npm_package="amplify-dynamodb-simulator@0.0.0-never")

    assert not again.changed and again.source == f"from {source}"


def test_without_npm_setup_says_how_to_install_from_a_download(tmp_path: Path) -> None:
    # GIVEN a PATH with Python but neither npm nor anything else
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    environment = user_environment(tmp_path, PATH=str(bin_dir))

    done = setup_command(environment=environment, cwd=tmp_path)

    assert done.returncode == 2
    assert f"setup: npm is needed to fetch DynamoDB Local ({NPM_PACKAGE})" in done.stderr
    assert "python -m constructs_pkg.local setup --from PATH_OF_THE_DOWNLOAD" in done.stderr
    assert not (tmp_path / "cache" / "dynamodb-stream-constructs" / "dynamodb-local").exists()


def test_a_source_without_dynamodb_local_is_refused_and_nothing_is_installed(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InstallError, match=r"no DynamoDBLocal.jar with its DynamoDBLocal_lib/ in .*empty"):
        install_dynamodb_local(tmp_path / "empty", target=tmp_path / "target")
    with pytest.raises(InstallError, match="does not exist"):
        install_dynamodb_local(tmp_path / "missing.tar.gz", target=tmp_path / "target")
    assert not (tmp_path / "target").exists()


def fake_java(tmp_path: Path, version_line: str) -> Path:
    java = tmp_path / "java-bin" / "java"
    java.parent.mkdir(parents=True, exist_ok=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    return java


@pytest.mark.parametrize(
    ("version_line", "major", "ok"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17, True),
        ('openjdk version "21" 2023-09-19', 21, True),
        ('openjdk version "11.0.22" 2024-01-16', 11, False),
        ('java version "1.8.0_392"', 8, False),
    ],
)
def test_java_versions_are_read_as_java_prints_them(version_line: str, major: int, ok: bool, tmp_path: Path) -> None:
    check = check_java(str(fake_java(tmp_path, version_line)))

    assert (check.major, check.ok) == (major, ok)
    if not ok:
        assert "needs 17 or newer" in str(check.problem) and "openjdk-17-jre-headless" in str(check.problem)


def test_setup_with_an_old_java_installs_then_says_what_to_install(real_copy: Path, tmp_path: Path) -> None:
    java = fake_java(tmp_path, 'openjdk version "11.0.22" 2024-01-16')
    environment = user_environment(tmp_path, PATH=f"{java.parent}:{os.environ['PATH']}")

    done = setup_command("--from", str(real_copy), environment=environment, cwd=tmp_path)

    assert done.returncode == 1
    assert done.stdout.startswith("DynamoDB Local installed in")
    assert f"setup: {java} is Java 11.0.22: DynamoDB Local needs 17 or newer; install a Java runtime 17" in done.stderr


def test_setup_without_java_says_what_to_install(real_copy: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    environment = user_environment(tmp_path, PATH=str(bin_dir))

    done = setup_command("--from", str(real_copy), environment=environment, cwd=tmp_path)

    assert done.returncode == 1
    assert "setup: no `java` on the PATH: DynamoDB Local runs on Java 17 or newer" in done.stderr
    assert "brew install openjdk@17" in done.stderr
