"""Quick-look PNG benchmark: how long `.png` takes to draw a large 2-D slice.

Writes one netCDF-4 file (a SIZE × SIZE float32 field per time step, deflated in 512 × 512
chunks, ascending latitudes so the picture is flipped, 1 % fill values), starts fathom on it
and measures, for the same slice:

  - `.png` (read, unpack, map to the palette, encode), cold (first request) and warm;
  - `.dods` of the same slice: the read and transfer alone, the floor `.png` is built on;
  - locally, netCDF4-python reading the slice and matplotlib's `imsave` writing a PNG of it:
    what a user would run instead of asking the server.

Each figure is the median of RUNS requests (wall time, and the server's CPU time per request
from /proc), with the picture's size in bytes.

    FATHOM_BIN=target/release/fathom python3 bench/png_bench.py [SIZE] [RUNS]
"""

import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import netCDF4
import numpy as np

SIZE = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 7
BIN = os.environ.get("FATHOM_BIN", "target/release/fathom")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def write_field(path: Path):
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", 2)
        nc.createDimension("lat", SIZE)
        nc.createDimension("lon", SIZE)
        lat = nc.createVariable("lat", "f8", ("lat",))
        lat.units = "degrees_north"
        lat[:] = np.linspace(-89.9, 89.9, SIZE)
        lon = nc.createVariable("lon", "f8", ("lon",))
        lon.units = "degrees_east"
        lon[:] = np.linspace(0, 359.9, SIZE)
        v = nc.createVariable(
            "sst", "f4", ("time", "lat", "lon"), zlib=True, complevel=4,
            chunksizes=(1, 512, 512), fill_value=np.float32(-1e34),
        )
        v.units = "K"
        y, x = np.meshgrid(np.linspace(-1, 1, SIZE), np.linspace(0, 6.28, SIZE), indexing="ij")
        rng = np.random.default_rng(1)
        for t in range(2):
            f = (285 + 15 * np.cos(3 * y) * np.sin(x + t) + rng.normal(0, 0.3, y.shape)).astype("f4")
            f[rng.random(f.shape) < 0.01] = np.float32(-1e34)
            v[t] = f


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def fetch(url: str, pid: int):
    c0, t0 = cpu_seconds(pid), time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as r:
        body = r.read()
        assert r.status == 200, r.status
    return time.perf_counter() - t0, cpu_seconds(pid) - c0, len(body)


def median_of(url: str, pid: int):
    runs = [fetch(url, pid) for _ in range(RUNS)]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[0][2])


def main():
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"writing a {SIZE} x {SIZE} field …", file=sys.stderr)
        write_field(root / "field.nc")
        proc = subprocess.Popen(
            [BIN, "serve", str(root), "--bind", "127.0.0.1:0", "--set",
             f"png_max_pixels={SIZE * SIZE}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            line = proc.stdout.readline()
            base = re.search(r"(http://127\.0\.0\.1:\d+)/", line).group(1)
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            ce = f"sst[1][0:1:{SIZE - 1}][0:1:{SIZE - 1}]"
            png = f"{base}/field.nc.png?{ce}"
            dods = f"{base}/field.nc.dods?{ce}"
            cold = fetch(png, proc.pid)
            warm = median_of(png, proc.pid)
            magma = median_of(png + "&palette=magma&range=270,300", proc.pid)
            raw = median_of(dods, proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        local = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            with netCDF4.Dataset(root / "field.nc") as nc:
                a = nc["sst"][1]
            buf = io.BytesIO()
            plt.imsave(buf, a[::-1], cmap="viridis", format="png")
            local.append((time.perf_counter() - t0, len(buf.getvalue())))
        local_t = statistics.median(t for t, _ in local)

    mpx = SIZE * SIZE / 1e6
    print(f"\n{SIZE} x {SIZE} float32 slice ({mpx:.1f} Mpixel, {SIZE * SIZE * 4 / 1e6:.0f} MB of values), "
          f"median of {RUNS}\n")
    print("| request | wall time | server CPU | Mpixel/s | body |")
    print("|---|---|---|---|---|")
    rows = [
        (".png, cold (first request: open, read, draw)", cold),
        (".png, warm (chunks cached)", warm),
        (".png with palette=magma&range=270,300", magma),
        (".dods of the same slice (read + send, no drawing)", raw),
    ]
    for name, (t, cpu, size) in rows:
        print(f"| {name} | {t * 1000:.0f} ms | {cpu * 1000:.0f} ms | {mpx / t:.1f} | {size / 1e6:.2f} MB |")
    print(f"| local: netCDF4 read + matplotlib imsave | {local_t * 1000:.0f} ms | — | {mpx / local_t:.1f} | "
          f"{local[0][1] / 1e6:.2f} MB |")


if __name__ == "__main__":
    main()
