"""The official DynamoDB Local (with its Streams API) on a free port, for tests, benchmarks and the local runner.

Install it with ``python -m constructs_pkg.local setup`` (``constructs_pkg.local.install``: into the per-user cache,
or DYNAMODB_LOCAL_DIR); it runs on Java 17 or newer.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs_pkg.local.install import check_java, install_dir, installed_source

__all__ = ["DynamoDBLocal", "dynamodb_local_home", "local_client", "running_dynamodb_local"]

REGION = "us-east-1"
# DynamoDB Local accepts any credentials; -sharedDb makes every client, whatever its key and region, see one database.
CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
STARTUP_TIMEOUT_SECONDS = 60
_POLL_SECONDS = 0.1
SETUP_COMMAND = "python -m constructs_pkg.local setup"


@dataclass(frozen=True)
class DynamoDBLocal:
    """A running DynamoDB Local: ``endpoint_url``, clients for it, and how long it took to answer after launch."""

    endpoint_url: str
    startup_seconds: float

    def client(self, service_name: str = "dynamodb") -> Any:
        """A boto3 client for ``dynamodb`` or ``dynamodbstreams``, in us-east-1 with dummy credentials."""
        return local_client(self.endpoint_url, service_name)

    def streams(self) -> Any:
        return self.client("dynamodbstreams")


def dynamodb_local_home() -> Path:
    """Where DynamoDB Local is installed: DYNAMODB_LOCAL_DIR, else the per-user cache (``$XDG_CACHE_HOME`` or
    ``~/.cache``, then ``dynamodb-stream-constructs/dynamodb-local``).

    Raises RuntimeError saying to run ``python -m constructs_pkg.local setup`` when it is not there.
    """
    home = install_dir()
    if installed_source(home) is None:
        raise RuntimeError(f"DynamoDB Local is not installed in {home}: run `{SETUP_COMMAND}`")
    return home


@contextlib.contextmanager
def running_dynamodb_local(home: Path | None = None) -> Iterator[DynamoDBLocal]:
    """DynamoDB Local, in memory, on a free port, for the length of the ``with`` block.

    ``home`` (Default: - ``dynamodb_local_home()``) is where it is installed. Raises RuntimeError when it is not
    installed, or the ``java`` on the PATH is missing or older than 17 (saying what to install).
    """
    home = home or dynamodb_local_home()
    java = check_java()
    if not java.ok:
        raise RuntimeError(java.problem)
    port = free_port()
    started = time.monotonic()
    with tempfile.TemporaryFile() as log:
        # The jar has no option to choose the address: it listens on every interface, on a port nobody is told of.
        # -disableTelemetry: a run sends nothing anywhere.
        process = subprocess.Popen(
            [str(java.path), "-Djava.library.path=DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar", "-inMemory",
             "-sharedDb", "-disableTelemetry", "-port", str(port)],
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            endpoint_url = f"http://127.0.0.1:{port}"
            _wait_until_serving(endpoint_url, process, log)
            yield DynamoDBLocal(endpoint_url, startup_seconds=time.monotonic() - started)
        finally:
            stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """End ``process`` if it still runs: SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@functools.cache
def local_client(endpoint_url: str, service_name: str) -> Any:
    """A boto3 client for ``service_name`` on DynamoDB Local (or any local endpoint), dummy credentials."""
    import boto3
    from botocore.config import Config

    # Cached: a new session loads the service's model again, a fifth of a second each time.
    return boto3.session.Session().client(
        service_name,
        endpoint_url=endpoint_url,
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=10),
        **CREDENTIALS,
    )


def _wait_until_serving(endpoint_url: str, process: subprocess.Popen[bytes], log: Any) -> None:
    from botocore.exceptions import BotoCoreError

    client = local_client(endpoint_url, "dynamodb")
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"DynamoDB Local exited with {process.returncode}:\n{_tail(log)}")
        try:
            client.list_tables()
            return
        except BotoCoreError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"DynamoDB Local did not answer within {STARTUP_TIMEOUT_SECONDS} s:\n{_tail(log)}"
                ) from None
            time.sleep(_POLL_SECONDS)


def _tail(log: Any) -> str:
    log.seek(0)
    return str(log.read()[-4000:].decode(errors="replace"))
