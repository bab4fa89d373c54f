#!/usr/bin/env python3
"""File-out and NCSS, measured against fathom's own `.dods` of the same selection.

Cases (median of `--runs` curl downloads after one warming download, peak RSS of the server
sampled every 20 ms):
- `x_wind.nc.nc`: the 187 MB variable as netCDF-3, streamed, vs `x_wind.nc.dods`;
- `x_wind.nc.nc4?x_wind[0:1:3]…`: a 20.8 MB subset as netCDF-4 (time; the file's size);
- `/ncss/grid/coads_like.nc?var=SST&north…&temporal=all`: an NCSS box vs the same cells by
  indices (`coads_like.nc.nc?SST[…]`);
- an NCSS box across the longitude axis' seam (two runs joined), and a point as CSV.

`--only TEXT` runs the cases whose label holds TEXT.

Run: `python3 bench/fileout.py` (after `cargo build --release`); writes bench/out/fileout.txt.
"""

import argparse
import sys
from pathlib import Path

import netCDF4
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (the shared helpers of bench/run.py)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    data = bench.DATA
    if not (data / bench.XWIND).exists():
        data.mkdir(parents=True, exist_ok=True)
        bench.subprocess.run([str(bench.REPO / "target" / "release" / "testdata"), "bench", str(data)],
                             check=True)
    with netCDF4.Dataset(data / bench.COADS) as ds:
        lat = ds["COADSY"][:]
        lon = ds["COADSX"][:]
    north, south, west, east = 40.0, -40.0, 100.0, 200.0
    ys = np.nonzero((lat >= south) & (lat <= north))[0]
    xs = np.nonzero((lon >= west) & (lon <= east))[0]
    by_index = f"SST[0:1:11][{ys[0]}:1:{ys[-1]}][{xs[0]}:1:{xs[-1]}]"
    cases = [
        ("x_wind .dods (187 MB, DAP2)", f"/{bench.XWIND}.dods?x_wind"),
        ("x_wind .nc (187 MB, netCDF-3 streamed)", f"/{bench.XWIND}.nc?x_wind"),
        ("x_wind .nc4 subset (20.8 MB of values)", f"/{bench.XWIND}.nc4?x_wind[0:1:3]"),
        ("coads SST box by indices (.nc)", f"/{bench.COADS}.nc?{by_index}"),
        ("coads SST box by NCSS (netcdf)",
         f"/ncss/grid/{bench.COADS}?var=SST&north={north}&south={south}&east={east}&west={west}"
         "&temporal=all"),
        ("coads SST box by NCSS (netcdf4)",
         f"/ncss/grid/{bench.COADS}?var=SST&north={north}&south={south}&east={east}&west={west}"
         "&temporal=all&accept=netcdf4"),
        ("coads SST seam box by NCSS (netcdf)",
         f"/ncss/grid/{bench.COADS}?var=SST&north={north}&south={south}&east=60&west=300"
         "&temporal=all"),
        ("coads SST point by NCSS (csv)",
         f"/ncss/grid/{bench.COADS}?var=SST&latitude=10&longitude=200&temporal=all&accept=csv"),
    ]
    cases = [c for c in cases if args.only in c[0]]
    fathom = bench.start_fathom(256)
    lines = []
    try:
        for label, path in cases:
            url = bench.url_for(fathom, path.lstrip("/"))
            bench.curl_download(url, 1, fathom.proc.pid)  # warm
            r = bench.curl_download(url, args.runs, fathom.proc.pid)
            line = (f"{label:42s} {r['seconds'] * 1000:9.1f} ms {r['mbps'] or 0:8.1f} MB/s "
                    f"{r['bytes'] / 1e6:8.2f} MB  peak RSS {r['peak_rss'] / 2**20:6.0f} MB  "
                    f"errors {r['errors']}")
            print(line, flush=True)
            lines.append(line)
    finally:
        fathom.stop()
    out = bench.OUT / "fileout.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
