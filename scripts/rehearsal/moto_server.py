"""The rehearsal's moto: moto's own server (``moto_server``) with ``moto_fixes`` installed, in a process of its own, so
that the fixes never reach another process's moto.

``python -m scripts.rehearsal.moto_server --port PORT`` serves on 127.0.0.1:PORT until stopped;
``running_rehearsal_moto(log)`` starts one on a free port and yields its URL.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from constructs_pkg.local.dynamodb_local import free_port

__all__ = ["STARTUP_TIMEOUT_SECONDS", "main", "running_rehearsal_moto"]

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 60
_STOP_TIMEOUT_SECONDS = 10


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.rehearsal.moto_server", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="the loopback port to serve on")
    args = parser.parse_args(argv)
    from moto import server

    from scripts.rehearsal.moto_fixes import install

    install(f"http://127.0.0.1:{args.port}")
    server.main(["-H", "127.0.0.1", "-p", str(args.port)])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
            return True
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def running_rehearsal_moto(log: IO[str] | None = None) -> Iterator[str]:
    """The rehearsal's moto on a free loopback port, its output to ``log`` (Default: None: discarded); yields its URL.

    Raises RuntimeError when it does not answer within STARTUP_TIMEOUT_SECONDS.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.rehearsal.moto_server", "--port", str(port)],
        cwd=ROOT,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not _answers(url):
            if process.poll() is not None:
                raise RuntimeError(f"the rehearsal's moto exited with {process.returncode} before answering")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the rehearsal's moto did not answer at {url} in {STARTUP_TIMEOUT_SECONDS} s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
