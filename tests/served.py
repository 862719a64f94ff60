"""The application served by uvicorn in a subprocess, as in production: its own event loop,
pools and lifespan, reached over real HTTP (for the fuzz and fault tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from app import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def uvicorn_server(database_url: str, home: Path, **env: str) -> Iterator[str]:
    """Serve the app on a free port of 127.0.0.1 until the block ends; yields the base URL.

    ``env`` adds ``CITYGRID_…`` settings (e.g. ``CITYGRID_SECRET_KEY`` to sign test tokens).
    """
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "CITYGRID_HOME": str(home),
            "CITYGRID_MAP_BASEMAP": "none",
            "CITYGRID_MAP_ASSETS": "local",
            **env,
        },
        cwd=PROJECT_ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not come up on {base}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
