"""A lean HTTP/1.1 load generator for the latency benchmark.

The server and the load generator share the machine's two cores. A client built on httpx and
threads spends ~1.5 ms of CPU per request, a fifth of what it measures, and its threads fight
the GIL; that is the load generator slowing the server down, not the server. This one writes
prebuilt request bytes on keep-alive sockets from one asyncio loop (~0.1 ms per request), like
wrk or hey would from another machine.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence


def post_request(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes of one ``POST path`` with a JSON body on a keep-alive connection."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def _run(
    host: str, port: int, requests: Sequence[bytes], clients: int, rate: float | None
) -> tuple[list[float], float]:
    latencies: list[float] = []
    start = time.perf_counter() + 0.05

    async def client(k: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for j in range(k, len(requests), clients):
                if rate:  # open loop: request j is due at start + j / rate
                    delay = start + j / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                began = time.perf_counter()
                status, body = await _exchange(reader, writer, requests[j])
                latencies.append(time.perf_counter() - began)
                if status >= 300:
                    raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    return latencies, time.perf_counter() - began


def run(
    host: str, port: int, requests: Sequence[bytes], clients: int, rate: float | None = None
) -> tuple[list[float], float]:
    """Send ``requests`` over ``clients`` keep-alive connections; returns (latencies in seconds,
    wall time). Closed loop (each client sends its next request once answered) unless ``rate``
    gives requests per second for all clients together (open loop, evenly spaced). The
    collector is off meanwhile: its pauses would be counted as the server's latency."""
    gc.disable()
    try:
        return asyncio.run(_run(host, port, requests, clients, rate))
    finally:
        gc.enable()
