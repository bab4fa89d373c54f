"""NcML aggregation benchmark: a joinExisting over N small files (default 1,000).

Measures, against a freshly started fathom: the first `.dds` of the aggregation (cold: every
member opened once), warm `.dds` requests per second next to a single member's `.dds` (same
client, same connection count), one time step as `.dods`, and a strided read across all
members; for each, the files the catalog opened (its cache misses, from /metrics).

    FATHOM_BIN=target/release/fathom python3 bench/ncml.py [N]
"""

import http.client
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import netCDF4
import numpy as np

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
BIN = os.environ.get("FATHOM_BIN", "target/release/fathom")


def write_members(root: Path):
    (root / "m").mkdir()
    for i in range(N):
        with netCDF4.Dataset(root / "m" / f"f{i:05d}.nc", "w", format="NETCDF3_CLASSIC") as ds:
            ds.createDimension("time", None)
            ds.createDimension("lat", 10)
            ds.createDimension("lon", 10)
            t = ds.createVariable("time", "f8", ("time",))
            t.units = "hours since 2000-01-01"
            t[:] = [float(i)]
            v = ds.createVariable("v", "f4", ("time", "lat", "lon"))
            v[:] = np.full((1, 10, 10), i, dtype="f4")
    (root / "all.ncml").write_text(
        "<netcdf><aggregation type='joinExisting' dimName='time'>"
        "<scan location='m' suffix='.nc'/></aggregation></netcdf>")


def start(root):
    p = subprocess.Popen([BIN, "serve", str(root), "--bind", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    m = re.search(r"http://(127\.0\.0\.1):(\d+)/", line)
    threading.Thread(target=p.stdout.read, daemon=True).start()
    return p, m.group(1), int(m.group(2))


def get(host, port, path):
    c = http.client.HTTPConnection(host, port, timeout=300)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def opened(host, port):
    _, body = get(host, port, "/metrics")
    m = re.search(rb'fathom_cache_misses_total\{cache="catalog"\} (\d+)', body)
    return int(m.group(1))


def timed(host, port, path):
    before = opened(host, port)
    t0 = time.perf_counter()
    status, body = get(host, port, path)
    dt = time.perf_counter() - t0
    assert status == 200, (path, status, body[:200])
    return dt, opened(host, port) - before, len(body)


def rate(host, port, path, seconds=3.0, conns=4):
    counts = [0] * conns
    stop = time.perf_counter() + seconds

    def worker(k):
        c = http.client.HTTPConnection(host, port, timeout=30)
        while time.perf_counter() < stop:
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            assert r.status == 200
            counts[k] += 1
        c.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / seconds


def main():
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        t0 = time.perf_counter()
        write_members(root)
        print(f"{N} members written in {time.perf_counter() - t0:.1f} s")
        p, host, port = start(root)
        try:
            dt, n, _ = timed(host, port, "/all.ncml.dds")
            print(f"| cold `.dds` (first open) | {dt * 1000:.0f} ms | {n} |")
            single = rate(host, port, "/m/f00000.nc.dds")
            agg = rate(host, port, "/all.ncml.dds")
            print(f"| warm `.dds`, single file | {single:.0f} req/s | - |")
            print(f"| warm `.dds`, aggregation | {agg:.0f} req/s ({agg / single:.0%} of single) | - |")
            dt, n, size = timed(host, port, f"/all.ncml.dods?v[{N // 2}][0:1:9][0:1:9]")
            print(f"| one time step `.dods` | {dt * 1000:.1f} ms | {n} |")
            dt, n, size = timed(host, port, f"/all.ncml.dods?v[0:7:{N - 1}][0:3:9][0:3:9]")
            print(f"| strided `.dods` across all members (every 7th step) | {dt * 1000:.0f} ms | {n} |")
            dt, n, size = timed(host, port, f"/all.ncml.dods?v[0:7:{N - 1}][0:3:9][0:3:9]")
            print(f"| the same again (members cached) | {dt * 1000:.0f} ms | {n} |")
        finally:
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
