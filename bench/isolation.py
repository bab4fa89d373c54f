#!/usr/bin/env python3
"""What running the netCDF / HDF5 libraries in reader processes costs (`isolate_readers`).

    python3 bench/isolation.py [--copies 60] [--reads 200]

Serves the same folder twice, with `isolate_readers=true` and `=false`, and measures, one
request at a time (latency, not throughput):
  - **open**: the first `.dds` of each of N fresh copies of a netCDF-4 and an HDF5 sample (a
    catalog miss: the file is opened, its metadata and chunk index learned, the DDS rendered);
  - **library read**: a `.dods` of a variable the engine leaves to the library (strings and
    compounds), repeated on an open file: each read crosses to a reader process and back;
  - **engine read**: a `.dods` of a chunked, compressed variable, read in the server in both
    modes (the isolation must cost it nothing).
Prints medians and the isolated / in-process ratio.
"""

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FATHOM = REPO / "target" / "release" / "fathom"
TESTDATA = REPO / "target" / "release" / "testdata"


def start(root: Path, isolate: bool):
    p = subprocess.Popen(
        [str(FATHOM), "serve", str(root), "--bind", "127.0.0.1:0", "--set", f"isolate_readers={str(isolate).lower()}",
         "--set", "log=warn"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = re.search(r"(http://127\.0\.0\.1:\d+)/", p.stdout.readline()).group(1)
    threading.Thread(target=p.stdout.read, daemon=True).start()
    return p, url


def timed(url: str) -> float:
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        r.read()
        assert r.status == 200, url
    return time.perf_counter() - t


def measure(root: Path, isolate: bool, copies: int, reads: int) -> dict:
    p, url = start(root, isolate)
    try:
        out = {}
        for kind in ("nc4", "h5"):
            names = sorted(f.name for f in root.iterdir() if f.name.startswith(f"copy_{kind}_"))[:copies]
            out[f"open {kind}"] = statistics.median(timed(f"{url}/{n}.dds") for n in names)
        # types.nc: `place_name` is a String variable, read by the library.
        timed(f"{url}/types.nc.dods?place_name")
        out["library read"] = statistics.median(timed(f"{url}/types.nc.dods?place_name") for _ in range(reads))
        timed(f"{url}/chunked.nc.dods?precip")
        out["engine read"] = statistics.median(timed(f"{url}/chunked.nc.dods?precip") for _ in range(reads))
        return out
    finally:
        p.terminate()
        p.wait()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=60)
    ap.add_argument("--reads", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run([str(TESTDATA), "samples", str(root)], check=True, capture_output=True)
        for i in range(args.copies):
            shutil.copy(root / "groups.nc", root / f"copy_nc4_{i:03}.nc")
            shutil.copy(root / "hdf5_types.h5", root / f"copy_h5_{i:03}.h5")
        isolated = measure(root, True, args.copies, args.reads)
        inproc = measure(root, False, args.copies, args.reads)
    print(f"{'case':<16} {'in-process ms':>14} {'isolated ms':>12} {'ratio':>6}")
    for k in isolated:
        print(f"{k:<16} {inproc[k] * 1e3:>14.2f} {isolated[k] * 1e3:>12.2f} {isolated[k] / inproc[k]:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
