#!/usr/bin/env python3
"""OGC API – EDR side by side in one run: fathom and xpublish-edr serving the same coads file.

    python3 bench/edr_bench.py [--seconds 10] [--connections 8] [--file PATH]

Two queries, each as both servers spell it, measured with wrk (`-t1`, uncompressed, after one
warming request), the other server paused (SIGSTOP) meanwhile:
  - `cube` of the four coads variables over all longitudes and 60°S–60°N, all 12 months
    (about 4 MB of CoverageJSON);
  - `position`: the 12-month series of the four variables at one point.

xpublish-edr (with xpublish, uvicorn) is installed on first use into bench/.venv-xpublish-edr
(or $EDR_BENCH_VENV) from bench/requirements-edr.txt, so the test environment does not carry it. The file defaults
to the bes `coads_climatology.nc` (12×90×180 f32, longitudes 21…379) in tests/conformance.
Reported: req/s, MB/s, p50/p99 latency, response size and the server's CPU time per request.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (the shared helpers of bench/run.py)

REPO = bench.REPO
COADS = REPO / "tests" / "conformance" / "bes" / "modules" / "netcdf_handler" / "data" / "coads_climatology.nc"
VENV = Path(os.environ.get("EDR_BENCH_VENV", REPO / "bench" / ".venv-xpublish-edr"))
REQUIREMENTS = REPO / "bench" / "requirements-edr.txt"

# The same selections in each server's query language. Longitudes in the file's own 21…379
# so both servers select the same 180 columns.
CUBE = "bbox=21,-60,379,60&parameter-name=SST,AIRT,UWND,VWND"
POSITION = "coords=POINT(201 11)&parameter-name=SST,AIRT,UWND,VWND"


def start_fathom(root: Path) -> bench.Server:
    port = bench.free_port()
    proc = subprocess.Popen(
        [str(REPO / "target" / "release" / "fathom"), "serve", str(root), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"FATHOM_LOG": "warn", "PATH": "/usr/bin:/bin"},
    )
    url = f"http://127.0.0.1:{port}"
    bench.wait_http(url + "/healthz")
    return bench.Server("fathom", url, proc)


def start_xpublish_edr(path: Path) -> bench.Server:
    py = VENV / "bin" / "python"
    if not (VENV / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
        (VENV / ".installed").touch()
    port = bench.free_port()
    script = (
        "import sys, xarray as xr, xpublish, uvicorn\n"
        "from xpublish_edr import CfEdrPlugin\n"
        "ds = xr.open_dataset(sys.argv[1], decode_times=False)  # year 0: not decodable\n"
        "ds = ds.rename({'COADSX': 'longitude', 'COADSY': 'latitude', 'TIME': 'time'})\n"
        "rest = xpublish.Rest({'coads': ds}, plugins={'edr': CfEdrPlugin()})\n"
        "uvicorn.run(rest.app, host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')\n"
    )
    proc = subprocess.Popen([str(py), "-c", script, str(path), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    bench.wait_http(url + "/datasets", 120)
    return bench.Server("xpublish-edr", url, proc)


def measure(server, url, seconds, connections, others):
    r = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=120)
    if r.status_code != 200:
        return {"status": r.status_code, "error": r.text[:200]}
    size = len(r.content)
    bench.pause(others, True)
    try:
        bench.wait_idle(30)
        res = bench.run_wrk(url, seconds, connections, server.pid)
    finally:
        bench.pause(others, False)
    res["size"] = size
    res["status"] = 200
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--file", type=Path, default=COADS)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="edr-bench-"))
    (root / "coads.nc").write_bytes(args.file.read_bytes())
    servers = [start_fathom(root), start_xpublish_edr(root / "coads.nc")]
    cases = {
        "fathom": {
            "cube": f"/ogc/collections/coads.nc/cube?{CUBE}",
            "position": f"/ogc/collections/coads.nc/position?{POSITION}",
        },
        "xpublish-edr": {
            "cube": f"/datasets/coads/edr/cube?{CUBE}",
            "position": f"/datasets/coads/edr/position?{POSITION}",
        },
    }
    rows = []
    try:
        for case in ("cube", "position"):
            for srv in servers:
                url = srv.base_url + cases[srv.name][case].replace(" ", "%20")
                others = [s for s in servers if s is not srv]
                res = measure(srv, url, args.seconds, args.connections, others)
                rows.append((case, srv.name, res))
                print(case, srv.name, res, flush=True)
    finally:
        for s in servers:
            s.stop()
    print()
    print("| query | server | response | req/s | MB/s | p50 ms | p99 ms | CPU ms/req | errors |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for case, name, r in rows:
        if r.get("status") != 200:
            print(f"| {case} | {name} | HTTP {r.get('status')} | | | | | | |")
            continue
        mbps = r["rps"] * r["size"] / 1e6
        cpu = (r["cpu_per_req_us"] or 0) / 1000
        print(f"| {case} | {name} | {r['size'] / 1e3:.1f} kB | {r['rps']:.1f} | {mbps:.1f} | "
              f"{bench.fmt(r['p50'], '.1f')} | {bench.fmt(r['p99'], '.1f')} | {cpu:.2f} | {r['errors']} |")


if __name__ == "__main__":
    main()
