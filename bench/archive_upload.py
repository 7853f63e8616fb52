"""Upload throughput of S3Archive against raw boto3 uploads, in the same run, same moto server on 127.0.0.1.

Every side sends the same bytes to the same server; the sides take turns
object by object (slice by slice with ``--jobs``/``--batch``), in an order that
rotates, so machine noise hits all alike.

- ``raw``: ``put_object`` with a default boto3 client, nothing else. Since
  botocore 1.36 that client computes a CRC32 checksum of the body and, on a
  plain-HTTP endpoint, also hashes the body with SHA-256 to sign it.
- ``raw-lean``: ``put_object`` with the client settings S3Archive uses (no
  CRC32, payload not signed): the bare request, nothing computed.
- ``managed`` (objects above the multipart threshold only): boto3's own managed
  upload, ``upload_fileobj`` with the same threshold, part size, parts in
  flight and SHA-256 checksums as S3Archive.
- ``S3Archive``: ``put_bytes`` (or ``put_many`` in groups of ``--batch``) as in
  production: check the key, SHA-256 once and compare with the expected one,
  conditional PUT (``If-None-Match: *``) with ``x-amz-checksum-sha256`` and the
  ``sha256`` metadata, check the echoed checksum, then a HEAD to check it back.
  Above the threshold: parts with their own SHA-256, in flight 4 at a time.

``--jobs N`` runs every side with N concurrent uploaders (threads sharing one
client, as Prefect tasks of one worker would). ``--server process`` runs moto
in its own process (as a real store would be); ``thread`` runs it inside this
process, sharing its GIL with the uploaders. ``--latency-ms`` puts a proxy in
front of moto that delays every byte by half that time each way (plus one
round trip to open a connection), an emulated network between an office and
its store; bandwidth stays that of the loopback.

    .venv/bin/python bench/archive_upload.py [--size-mb 1] [--count 20] [--rounds 5] [--jobs 1]
        [--batch 1] [--server process|thread] [--latency-ms 0] [--threshold-mb 64] [--chunk-mb 16]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from boto3.s3.transfer import TransferConfig  # noqa: E402

from digitize.settings import ArchiveSettings  # noqa: E402
from storage.backend import ArchiveItem  # noqa: E402
from storage.hashing import sha256_bytes  # noqa: E402
from storage.s3 import S3Archive  # noqa: E402

MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int) -> None:
    """Until something listens on 127.0.0.1:``port`` (at most 15 s)."""
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)


def start_server(mode: str) -> tuple[str, Callable[[], None]]:
    """A moto S3 server on a free loopback port: its URL and a stop function."""
    port = free_port()
    if mode == "thread":
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        return f"http://127.0.0.1:{port}", server.stop
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)

    def stop() -> None:
        process.terminate()
        process.wait(timeout=10)

    return f"http://127.0.0.1:{port}", stop


def delay_proxy(listen_port: int, target_port: int, round_trip: float) -> None:
    """Forward 127.0.0.1:listen_port to target_port, each chunk half a round trip late, in order.

    A new connection's first bytes also wait one round trip (the TCP handshake).
    """

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, first_wait: float) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                when, chunk = await queue.get()
                await asyncio.sleep(max(0.0, when - loop.time()))
                if not chunk:
                    if writer.can_write_eof() and not writer.is_closing():
                        writer.write_eof()
                    return
                writer.write(chunk)
                await writer.drain()

        sender, last = asyncio.create_task(send()), 0.0
        while True:
            try:
                chunk = await reader.read(256 * 1024)
            except ConnectionError:
                chunk = b""
            last = max(loop.time() + round_trip / 2 + first_wait, last)
            first_wait = 0.0
            queue.put_nowait((last, chunk))
            if not chunk:
                break
        try:
            await sender
        except ConnectionError:
            pass

    async def connection(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pump(client_reader, server_writer, round_trip), pump(server_reader, client_writer, 0.0))
        for writer in (client_writer, server_writer):
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(connection, "127.0.0.1", listen_port)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def start_proxy(url: str, latency_ms: float) -> tuple[str, Callable[[], None]]:
    """A delaying proxy in its own process in front of ``url``: its URL and a stop function."""
    port, target = free_port(), int(url.rsplit(":", 1)[1])
    process = multiprocessing.get_context("spawn").Process(
        target=delay_proxy, args=(port, target, latency_ms / 1000), daemon=True)
    process.start()
    wait_for_port(port)

    def stop() -> None:
        process.terminate()
        process.join(timeout=10)

    return f"http://127.0.0.1:{port}", stop


class RequestTimer:
    """Time of each S3 operation a client sends (from sending to the parsed answer), per operation."""

    def __init__(self, *clients: object) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._started = threading.local()
        self._lock = threading.Lock()
        for client in clients:
            client.meta.events.register("before-send.s3", self._before)  # type: ignore[attr-defined]
            client.meta.events.register("after-call.s3", self._after)  # type: ignore[attr-defined]

    def _before(self, **_: object) -> None:
        self._started.at = time.perf_counter()

    def _after(self, model: object, **_: object) -> None:
        elapsed = time.perf_counter() - getattr(self._started, "at", time.perf_counter())
        with self._lock:
            self.seconds[model.name] += elapsed  # type: ignore[attr-defined]
            self.calls[model.name] += 1  # type: ignore[attr-defined]

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def summary(self, objects: int) -> str:
        return ", ".join(f"{name} {self.calls[name] / objects:g}x {1e3 * self.seconds[name] / self.calls[name]:.1f} ms"
                         for name in sorted(self.seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=4.0)
    parser.add_argument("--count", type=int, default=20, help="objects per side and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1, help="concurrent uploaders per side")
    parser.add_argument("--batch", type=int, default=1, help="S3Archive.put_many with this many objects per call")
    parser.add_argument("--server", choices=["process", "thread"], default="process")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="emulated round trip to the store")
    parser.add_argument("--threshold-mb", type=int, default=ArchiveSettings.multipart_threshold_mb)
    parser.add_argument("--chunk-mb", type=int, default=ArchiveSettings.multipart_chunk_mb)
    args = parser.parse_args()
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}.items():
        os.environ.setdefault(name, value)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the servers on a kill too
    url, stop = start_server(args.server)
    stop_proxy = None
    try:
        if args.latency_ms > 0:
            url, stop_proxy = start_proxy(url, args.latency_ms)
        run(args, url)
    finally:
        if stop_proxy is not None:
            stop_proxy()
        stop()


def run(args: argparse.Namespace, url: str) -> None:
    settings = ArchiveSettings(backend="s3", bucket="bench-archive", endpoint_url=url, addressing_style="path",
                               multipart_threshold_mb=args.threshold_mb, multipart_chunk_mb=args.chunk_mb)
    archive = S3Archive(settings)
    raw = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    managed = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    lean = boto3.client("s3", endpoint_url=url, config=archive.client.meta.config)  # S3Archive's settings
    for bucket in ("bench-archive", "bench-raw", "bench-lean", "bench-managed"):
        raw.create_bucket(Bucket=bucket)

    size = int(args.size_mb * MIB)
    multipart = size > args.threshold_mb * MIB
    blobs = [os.urandom(size) for _ in range(4)]
    digests = [sha256_bytes(b) for b in blobs]  # the pipeline has them already (the signer returns them)
    transfer = TransferConfig(multipart_threshold=args.threshold_mb * MIB, multipart_chunksize=args.chunk_mb * MIB,
                              max_concurrency=settings.multipart_concurrency, use_threads=True)
    timers = {"raw": RequestTimer(raw), "raw-lean": RequestTimer(lean), "managed": RequestTimer(managed),
              "S3Archive": RequestTimer(archive.client)}

    def one(side: str, key: str, i: int) -> None:
        data = blobs[i % len(blobs)]
        if side == "raw":
            raw.put_object(Bucket="bench-raw", Key=key, Body=data)
        elif side == "raw-lean":
            lean.put_object(Bucket="bench-lean", Key=key, Body=data)
        elif side == "managed":
            managed.upload_fileobj(io.BytesIO(data), "bench-managed", key, Config=transfer,
                                   ExtraArgs={"ChecksumAlgorithm": "SHA256"})
        else:
            archive.put_bytes(key, data, digests[i % len(blobs)])

    def batch(keys: list[tuple[str, int]]) -> None:
        archive.put_many([ArchiveItem(k, digests[i % len(blobs)], data=blobs[i % len(blobs)]) for k, i in keys])

    sides = ["raw", "raw-lean"] + (["managed"] if multipart else []) + ["S3Archive"]
    # The sides take turns slice by slice (one object each when --jobs 1 --batch 1), so load bursts hit all alike.
    step = args.jobs * args.batch
    pools = {side: ThreadPoolExecutor(max_workers=args.jobs) for side in sides}

    def upload(side: str, keys: list[tuple[str, int]]) -> None:
        if side == "S3Archive" and args.batch > 1:
            groups = [keys[g:g + args.batch] for g in range(0, len(keys), args.batch)]
            work: list[Callable[[], None]] = [lambda g=g: batch(g) for g in groups]
        else:
            work = [lambda k=k, i=i: one(side, k, i) for k, i in keys]
        if args.jobs == 1:
            for job in work:
                job()
        else:
            for future in [pools[side].submit(job) for job in work]:
                future.result()

    rates: dict[str, list[float]] = {side: [] for side in sides}
    mb = args.count * size / MIB
    for r in range(args.rounds):
        seconds = dict.fromkeys(sides, 0.0)
        for timer in timers.values():
            timer.reset()
        for n, first in enumerate(range(0, args.count, step)):
            keys = [(f"xa/office/2025/D{r}-{i}/D{r}-{i}-KQ1.pdf", i) for i in range(first, min(first + step, args.count))]
            for side in sides[n % len(sides):] + sides[:n % len(sides)]:
                started = time.perf_counter()
                upload(side, keys)
                seconds[side] += time.perf_counter() - started
        for side in sides:
            rates[side].append(mb / seconds[side])
        print(f"round {r + 1}: " + "   ".join(f"{s} {mb / seconds[s]:6.1f} MB/s" for s in sides)
              + f"   S3Archive/raw {seconds['raw'] / seconds['S3Archive']:6.1%}", flush=True)
    for side in sides:
        print(f"    requests of {side} (last round, per object): {timers[side].summary(args.count)}")
        pools[side].shutdown()

    def ratio(peer: str) -> float:
        return statistics.median(o / p for o, p in zip(rates["S3Archive"], rates[peer], strict=True))

    load = os.getloadavg()
    how = f"put_many x{args.batch}" if args.batch > 1 else "put_bytes"
    print(f"median of {args.rounds} rounds, {args.count} x {args.size_mb:g} MB, {args.jobs} uploader(s) per side, "
          f"S3Archive {how}, moto in a {args.server}, round trip {args.latency_ms:g} ms, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}:")
    print("  " + ", ".join(f"{s} {statistics.median(rates[s]):.1f} MB/s" for s in sides))
    print("  S3Archive / " + ", ".join(f"{p} {ratio(p):.1%}" for p in sides if p != "S3Archive") + " (target >= 90%)")


if __name__ == "__main__":
    main()
