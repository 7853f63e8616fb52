"""Upload throughput of S3Archive against raw boto3 ``put_object``, in the same run, same endpoint.

Both sides send the same bytes to moto's S3 server on 127.0.0.1, alternating
object by object so machine noise hits both alike. ``S3Archive.put_bytes``
does everything it does in production: validate the key, HEAD (write-once),
SHA-256 once, conditional PUT with the SHA-256 checksum (multipart above the
threshold), HEAD to check it back. The raw side is a plain ``put_object`` with
boto3's default client.

    .venv/bin/python bench/archive_upload.py [--size-mb 4] [--count 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from digitize.settings import ArchiveSettings  # noqa: E402
from storage.hashing import sha256_bytes  # noqa: E402
from storage.s3 import S3Archive  # noqa: E402

MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=4.0)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threshold-mb", type=int, default=64)
    args = parser.parse_args()
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}.items():
        os.environ.setdefault(name, value)

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        url = f"http://127.0.0.1:{port}"
        settings = ArchiveSettings(backend="s3", bucket="bench-archive", endpoint_url=url, addressing_style="path",
                                   multipart_threshold_mb=args.threshold_mb, multipart_chunk_mb=16)
        archive = S3Archive(settings)
        raw = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        raw.create_bucket(Bucket="bench-archive")
        raw.create_bucket(Bucket="bench-raw")
        size = int(args.size_mb * MIB)
        blobs = [os.urandom(size) for _ in range(4)]
        ours, theirs = [], []
        for r in range(args.rounds):
            t_ours = t_raw = 0.0
            for i in range(args.count):
                data = blobs[i % len(blobs)]
                digest = sha256_bytes(data)  # the pipeline has it already (the signer returns it)
                key = f"xa/office/2025/D{r}-{i}/D{r}-{i}-KQ1.pdf"
                t0 = time.perf_counter()
                raw.put_object(Bucket="bench-raw", Key=key, Body=data)
                t1 = time.perf_counter()
                archive.put_bytes(key, data, digest)
                t2 = time.perf_counter()
                t_raw += t1 - t0
                t_ours += t2 - t1
            mb = args.count * size / MIB
            theirs.append(mb / t_raw)
            ours.append(mb / t_ours)
            print(f"round {r + 1}: raw put_object {mb / t_raw:7.1f} MB/s   S3Archive {mb / t_ours:7.1f} MB/s   "
                  f"ratio {t_raw / t_ours:6.1%}")
        ratio = statistics.median(o / t for o, t in zip(ours, theirs, strict=True))
        print(f"median of {args.rounds} rounds, {args.count} x {args.size_mb:g} MB: "
              f"raw {statistics.median(theirs):.1f} MB/s, S3Archive {statistics.median(ours):.1f} MB/s, "
              f"ratio {ratio:.1%} (target >= 90%)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
