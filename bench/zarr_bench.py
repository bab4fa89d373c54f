#!/usr/bin/env python3
"""Zarr over HTTP, side by side in one run: the 187 MB compressed `x_wind` read whole.

    /work/main/.venv/bin/python bench/zarr_bench.py [--runs 3] [--no-xpublish]

Run it with the Python that has the pinned test clients (xarray, zarr, dask; `make venv`).

Cases, each the same read, `.x_wind.values` (187 MB of float32), median of `--runs` after one
warming read:
  - fathom Zarr v3 and v2: `xr.open_zarr(url)` (zarr-python fetches chunks concurrently);
  - fathom Zarr with dask under `dask.distributed`, 1 and 2 workers (`chunks={}`);
  - nginx serving the very bytes fathom's store answers with (metadata and chunks mirrored to
    files): the physical reference for passthrough;
  - fathom over DAP2 with xarray's pydap engine (one run: it is slow);
  - xpublish with its Zarr plugin serving the same file (in bench/.venv-xpublish, made on
    first use), unless --no-xpublish.

Reported: MB/s of decoded data, and bytes on the wire as the server counted them (fathom's
/metrics) or as the mirrored files add up (nginx). The file's compressed size is printed
beside them: with chunk passthrough, fathom's wire bytes should be about that.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (the shared helpers of bench/run.py)

XWIND = bench.XWIND
DATA = bench.DATA
XPUB_VENV = bench.REPO / "bench" / ".venv-xpublish"

warnings.simplefilter("ignore")


def zarr_bytes(base_url: str) -> int:
    for line in requests.get(f"{base_url}/metrics", timeout=10).text.splitlines():
        if line.startswith('fathom_response_bytes_total{kind="zarr"}'):
            return int(float(line.split()[-1]))
    return 0


def timed(read, runs: int) -> float:
    read()  # warm: the page cache and fathom's chunk cache
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        read()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def read_zarr(url, zarr_format=None):
    import xarray as xr

    def go():
        v = xr.open_zarr(url, zarr_format=zarr_format, chunks=None).x_wind.values
        assert v.shape == (36, 65, 1, 20000)
        return v

    return go


def mirror_store(fathom_url: str, dest: Path) -> int:
    """Copies every document and chunk of x_wind's store from fathom into files under `dest`;
    returns the chunk bytes."""
    store = f"{fathom_url}/{XWIND}.zarr"
    root = dest / f"{XWIND}.zarr"
    keys = ["zarr.json", ".zgroup", ".zattrs", ".zmetadata"]
    meta = requests.get(f"{store}/.zmetadata", timeout=30).json()["metadata"]
    keys += list(meta)
    for name, doc in meta.items():
        if name.endswith("/.zarray"):
            arr = name[: -len("/.zarray")]
            keys.append(f"{arr}/zarr.json")
            grid = [(n + c - 1) // c for n, c in zip(doc["shape"], doc["chunks"])]
            import itertools

            for g in itertools.product(*[range(n) for n in grid]):
                keys.append(f"{arr}/c/" + "/".join(map(str, g)) if g else f"{arr}/c")
                keys.append(f"{arr}/" + (".".join(map(str, g)) if g else "0"))
    total = 0
    for k in keys:
        r = requests.get(f"{store}/{k}", timeout=60)
        if r.status_code == 404:
            continue
        r.raise_for_status()
        p = root / k
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(r.content)
        if "/c/" in k:
            total += len(r.content)
    return total


def chunk_urls(base: str) -> list[str]:
    """The v3 chunk URLs of x_wind (36 × 5 chunks of 1 × 13 × 1 × 20000)."""
    return [f"{base}/{XWIND}.zarr/x_wind/c/{t}/{j}/0/0" for t in range(36) for j in range(5)]


def curl_all(urls: list[str], parallel: int = 8) -> float:
    """Seconds for curl to fetch every URL, `parallel` at a time, discarding the bodies."""
    cfg = DATA / "zarr-curl.cfg"
    cfg.write_text("".join(f'url = "{u}"\noutput = "/dev/null"\n' for u in urls))
    t = time.perf_counter()
    subprocess.run(["curl", "-sf", "--no-progress-meter", "--parallel", "--parallel-max", str(parallel), "-K", str(cfg)],
                   check=True)
    return time.perf_counter() - t


def start_xpublish():
    py = XPUB_VENV / "bin" / "python"
    if not (XPUB_VENV / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(XPUB_VENV)], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "xpublish==0.5.2", "xpublish-zarr==0.1.0",
             "netCDF4", "uvicorn"],
            check=True,
        )
        (XPUB_VENV / ".installed").touch()
    port = bench.free_port()
    script = (
        "import sys, xarray as xr, xpublish, uvicorn\n"
        "ds = xr.open_dataset(sys.argv[1], chunks={})\n"
        "rest = xpublish.Rest({'x_wind': ds})\n"
        "uvicorn.run(rest.app, host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')\n"
    )
    proc = subprocess.Popen([str(py), "-c", script, str(DATA / XWIND), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    bench.wait_http(url + "/datasets", 120)
    return bench.Server("xpublish", url, proc)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-xpublish", action="store_true")
    args = ap.parse_args()
    if not (DATA / XWIND).exists():
        subprocess.run([str(bench.REPO / "target" / "release" / "testdata"), "bench", str(DATA)],
                       check=True)
    decoded_mb = 36 * 65 * 20000 * 4 / 1e6
    file_mb = (DATA / XWIND).stat().st_size / 1e6
    rows = []
    servers = []

    def row(name, secs, wire):
        mbps = decoded_mb / secs if secs else 0
        rows.append((name, secs, mbps, wire))
        print(f"{name:45s} {secs:7.2f} s {mbps:8.0f} MB/s  wire {wire / 1e6 if wire else 0:8.1f} MB",
              flush=True)

    try:
        fathom = bench.start_fathom(256)
        servers.append(fathom)
        for fmt, label in [(3, "fathom Zarr v3"), (2, "fathom Zarr v2")]:
            url = f"{fathom.base_url}/{XWIND}.zarr"
            before = zarr_bytes(fathom.base_url)
            secs = timed(read_zarr(url, fmt), args.runs)
            wire = (zarr_bytes(fathom.base_url) - before) / (args.runs + 1)
            row(label, secs, wire)

        from dask.distributed import Client, LocalCluster

        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1,
                              dashboard_address=None) as cluster, Client(cluster):
                import xarray as xr

                url = f"{fathom.base_url}/{XWIND}.zarr"

                def go():
                    return xr.open_zarr(url, chunks={}).x_wind.values

                before = zarr_bytes(fathom.base_url)
                secs = timed(go, args.runs)
                wire = (zarr_bytes(fathom.base_url) - before) / (args.runs + 1)
                row(f"fathom Zarr v3, dask {workers} worker(s)", secs, wire)

        mirror = DATA / "zarr-mirror"
        chunk_bytes = mirror_store(fathom.base_url, mirror)
        nginx_data = bench.DATA
        bench.DATA = mirror  # nginx serves the mirrored store
        try:
            nginx = bench.start_nginx()
        finally:
            bench.DATA = nginx_data
        if nginx:
            servers.append(nginx)
            secs = timed(read_zarr(f"{nginx.base_url}/{XWIND}.zarr", 3), args.runs)
            row("nginx, the same store bytes as files (v3)", secs, chunk_bytes)
            # The servers alone: every chunk fetched by curl, 8 at a time, bodies discarded.
            for s in (fathom, nginx):
                # Every chunk five times over: long enough that curl's start-up is noise.
                secs = timed(lambda s=s: curl_all(chunk_urls(s.base_url) * 5), args.runs)
                rows.append((f"{s.name}: the 180 stored chunks ×5 by curl, 8 parallel", secs,
                             5 * chunk_bytes / 1e6 / secs, 5 * chunk_bytes))
                print(f"{s.name} raw chunks: {secs:.3f} s, {5 * chunk_bytes / 1e6 / secs:.0f} MB/s "
                      "of wire bytes", flush=True)

        import xarray as xr

        t = time.perf_counter()
        v = xr.open_dataset(f"{fathom.base_url}/{XWIND}", engine="pydap").x_wind.values
        assert v.size == 36 * 65 * 20000
        row("fathom DAP2, xarray pydap engine (1 run)", time.perf_counter() - t, 0)

        if not args.no_xpublish:
            try:
                xp = start_xpublish()
                servers.append(xp)
                url = f"{xp.base_url}/datasets/x_wind/zarr"
                t = time.perf_counter()
                # xpublish-zarr 0.1 serves Zarr v3 only.
                v = xr.open_zarr(url, zarr_format=3, chunks=None).x_wind.values
                assert v.size == 36 * 65 * 20000
                row("xpublish + xpublish-zarr (v3, 1 run)", time.perf_counter() - t, 0)
            except Exception as e:  # noqa: BLE001
                print(f"xpublish: {type(e).__name__}: {e}", file=sys.stderr)
    finally:
        for s in servers:
            s.stop()

    print(f"\nfile on disk: {file_mb:.1f} MB compressed, {decoded_mb:.1f} MB decoded")
    print("\n| case | seconds | MB/s (decoded; wire for curl rows) | bytes on the wire |\n|---|---:|---:|---:|")
    for name, secs, mbps, wire in rows:
        w = f"{wire / 1e6:.1f} MB" if wire else "–"
        print(f"| {name} | {secs:.2f} | {mbps:.0f} | {w} |")


if __name__ == "__main__":
    main()
