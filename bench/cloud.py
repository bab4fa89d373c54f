#!/usr/bin/env python3
"""fathom reading from S3 (SeaweedFS on the same machine) side by side with the local disk.

    /work/main/.venv/bin/python bench/cloud.py [--runs 3]

Writes the benchmark files with `testdata bench` into bench/out/data (unless there), starts
SeaweedFS (`weed mini`, as tests/clients/test_cloud.py does), uploads them, and for each case
starts a fresh fathom (cold: empty chunk and metadata caches) that serves the local folder at
`/` and the bucket at `/s3/`, then measures with plain HTTP requests:

- open: the first `.dds` of `coads_like.nc` and `x_wind.nc` (netCDF-4), without and with the
  DMR++ `fathom index` writes beside the object, its time and the requests fathom sent to S3
  (HEAD / LIST / `.dmrpp` GETs and ranged GETs, from /metrics) and the bytes they fetched;
- the whole compressed `x_wind` (187 MB decoded, 53 MB stored) as `.dods`, cold then warm;
- a 40 kB subset (`x_wind[0][0:12][0][0:799]`, inside one 1 MiB chunk), cold then warm;
- 64 concurrent subset downloads from S3 (different chunks): errors and fathom's peak RSS;
- requests per response and bytes fetched versus the stored bytes the response needed.

Prints a Markdown table. The machine is shared: absolute times are noisy, ratios in one run
are the result.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "clients"))
os.environ.setdefault("FATHOM_BIN", str(REPO / "target" / "release" / "fathom"))

from test_cloud import BUCKET, KEY, SECRET, Weed, fathom  # noqa: E402

DATA = REPO / "bench" / "out" / "data"
SUBSET = "x_wind.nc.dods?x_wind[0][0:1:12][0][0:1:799]"


def fetch(url) -> bytes:
    with urllib.request.urlopen(url, timeout=600) as r:
        return r.read()


def metrics(srv) -> dict:
    out = {}
    for line in fetch(f"{srv.url}/metrics").decode().splitlines():
        if line.startswith("fathom_object_"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def delta(before, after) -> tuple[int, int, int]:
    ranges = 'fathom_object_requests_total{kind="range"}'
    meta = 'fathom_object_requests_total{kind="metadata"}'
    b = "fathom_object_bytes_total"
    return (int(after[ranges] - before[ranges]), int(after[meta] - before[meta]),
            int(after[b] - before[b]))


def timed(url) -> tuple[float, int]:
    t = time.perf_counter()
    n = len(fetch(url))
    return time.perf_counter() - t, n


def peak_rss_mb(pid) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stored_bytes() -> int:
    import h5py

    with h5py.File(DATA / "x_wind.nc") as f:
        d = f["x_wind"]
        return sum(d.id.get_chunk_info(i).size for i in range(d.id.get_num_chunks()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not (DATA / "x_wind.nc").exists():
        subprocess.run([str(REPO / "target" / "release" / "testdata"), "bench", str(DATA)], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="fathom-cloud-bench-"))
    (tmp / "weed").mkdir()
    weed = Weed(tmp / "weed")
    s3 = weed.client()
    s3.create_bucket(Bucket=BUCKET)
    for f in ["coads_like.nc", "x_wind.nc"]:
        s3.upload_file(str(DATA / f), BUCKET, f"bench/{f}")
        # The same object with the DMR++ `fathom index` writes beside it, under another prefix.
        subprocess.run([os.environ["FATHOM_BIN"], "index", str(DATA / f), "-o",
                        str(tmp / f"{f}.dmrpp")], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        s3.upload_file(str(DATA / f), BUCKET, f"indexed/{f}")
        s3.upload_file(str(tmp / f"{f}.dmrpp"), BUCKET, f"indexed/{f}.dmrpp")
    config = (f'[[mounts]]\npath = "/s3"\nurl = "s3://{BUCKET}/bench"\n'
              f'endpoint = "{weed.endpoint}"\nallow_http = true\n'
              f'[[mounts]]\npath = "/s3i"\nurl = "s3://{BUCKET}/indexed"\n'
              f'endpoint = "{weed.endpoint}"\nallow_http = true\n')
    rows = []

    def case(name, path, warm=True, wheres=("local", "s3")):
        for where in wheres:
            cold, hot, reqs = [], [], None
            for _ in range(args.runs):
                srv = fathom([str(DATA)], config=config, tmp=tmp)
                try:
                    url = {"local": f"{srv.url}/{path}", "s3": f"{srv.url}/s3/{path}",
                           "s3 + DMR++": f"{srv.url}/s3i/{path}"}[where]
                    if ".dods" in path:
                        fetch(url.split(".dods")[0] + ".dds")  # open first: data only below
                    before = metrics(srv)
                    t, n = timed(url)
                    reqs = delta(before, metrics(srv)) + (n,)
                    cold.append(t)
                    if warm:
                        hot.append(timed(url)[0])
                finally:
                    srv.stop()
            rows.append((name, where, statistics.median(cold),
                         statistics.median(hot) if hot else None, reqs))

    everywhere = ("local", "s3", "s3 + DMR++")
    case("open coads_like.nc (first .dds)", "coads_like.nc.dds", warm=False, wheres=everywhere)
    case("open x_wind.nc (first .dds)", "x_wind.nc.dds", warm=False, wheres=everywhere)
    case("whole x_wind .dods", "x_wind.nc.dods?x_wind")
    case("40 kB subset of x_wind", SUBSET)

    # 64 concurrent subsets from S3, each in another chunk (cold).
    srv = fathom([str(DATA)], config=config, tmp=tmp)
    try:
        fetch(f"{srv.url}/s3/x_wind.nc.dds")
        errors, done = [], []

        def one(i):
            t, lev = divmod(i, 5)
            u = f"{srv.url}/s3/x_wind.nc.dods?x_wind[{t}][{lev * 13}:1:{lev * 13 + 12}][0][0:1:799]"
            try:
                done.append(len(fetch(u)))
            except Exception as e:
                errors.append(repr(e))

        t0 = time.perf_counter()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(64)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        conc = (time.perf_counter() - t0, len(done), len(errors), peak_rss_mb(srv.proc.pid),
                metrics(srv)["fathom_object_max_in_flight"])
    finally:
        srv.stop()
    weed.stop()

    need = stored_bytes()
    print(f"# fathom from S3 (SeaweedFS, loopback) vs local disk — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"machine: {os.cpu_count()} cores, shared; median of {args.runs} fresh servers\n")
    print("| case | source | cold s | warm s | ranged GETs | HEAD/LIST | bytes fetched | response bytes |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, where, cold, hot, (g, m, b, n) in rows:
        hot_s = f"{hot:.3f}" if hot is not None else "–"
        print(f"| {name} | {where} | {cold:.3f} | {hot_s} | {g} | {m} | {b:,} | {n:,} |")
    print(f"\nx_wind stored (compressed) bytes: {need:,}")
    print(f"64 concurrent 40 kB subsets from S3: {conc[0]:.2f} s, {conc[1]} ok, {conc[2]} errors, "
          f"peak RSS {conc[3]:.0f} MB, most ranged GETs in flight {conc[4]:.0f}")


if __name__ == "__main__":
    main()
