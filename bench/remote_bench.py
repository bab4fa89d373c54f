#!/usr/bin/env python3
"""Gateway benchmark: a fathom gateway (remote mounts) in front of a second fathom, against
the second fathom asked directly.

    python3 bench/remote_bench.py [--seconds 5]

For the coads SST (`.dods?SST`, 777 kB) and the 40 kB subset of x_wind, over the DAP2 and the
DAP4 mount:
  - cold: a fresh gateway (empty caches), one request: its time and how many requests the
    gateway sent upstream for it (from the upstream's access log);
  - warm: wrk with 8 connections for `--seconds`: req/s and p50 latency, gateway and direct,
    and the upstream requests sent during the warm run (0 when the chunk cache serves it all).
Files come from `testdata bench` into bench/out/data (as bench/run.py makes them).

    python3 bench/remote_bench.py --callgrind 200

instead counts instructions per warm request with valgrind's callgrind (stable on a busy
machine, unlike wall time): the gateway (under callgrind) in front of an upstream fathom, and
the upstream itself (under callgrind) asked directly, for the same cases.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "out" / "data"
FATHOM = Path(os.environ.get("FATHOM_BIN", REPO / "target" / "release" / "fathom"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Fathom:
    def __init__(self, root: Path, log: Path, config: Path | None = None):
        self.port = free_port()
        args = [str(FATHOM), "serve", str(root), "--bind", f"127.0.0.1:{self.port}"]
        if config:
            args += ["--config", str(config)]
        self.log = log
        self.out = open(log, "w")
        self.proc = subprocess.Popen(
            args, stdout=self.out, stderr=subprocess.STDOUT, env={"FATHOM_LOG": "info", "PATH": "/usr/bin:/bin"}
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1).read()
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("fathom did not start")

    def access_count(self) -> int:
        self.out.flush()
        return sum(1 for line in self.log.read_text(errors="replace").splitlines() if "access:" in line)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.out.close()


def wrk(url: str, seconds: int) -> tuple[float, str]:
    out = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{seconds}s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
    return rps, p50


def instructions(serve_args: list[str], paths: list[str], requests: int) -> list[tuple[float, int]]:
    """(instructions per request, response bytes) of each path, warm, for a fathom started
    with `serve_args` under callgrind (the method of bench/callgrind.py)."""
    sys.path.insert(0, str(REPO / "bench"))
    from callgrind import Client, total_ir, wait_port

    port = free_port()
    outdir = Path(tempfile.mkdtemp(prefix="fathom-remote-callgrind-"))
    tool = ["valgrind", "--tool=callgrind", "--collect-atstart=yes", f"--callgrind-out-file={outdir}/callgrind.out.%p"]
    proc = subprocess.Popen(
        tool + [str(FATHOM), "serve", *serve_args, "--bind", f"127.0.0.1:{port}"],
        env={"FATHOM_LOG": "warn", "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out = []
    try:
        wait_port(port)
        client = Client(port)
        for path in paths:
            for _ in range(20):
                status, length = client.get(path)
            if status != 200:
                raise RuntimeError(f"{path}: {status}")
            seen = {f.name for f in outdir.glob("callgrind.out*")}
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
            for _ in range(requests):
                client.get(path)
            subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
            ir, _ = total_ir(outdir, seen)
            out.append((ir / requests, length))
    finally:
        proc.terminate()
        proc.wait(60)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--callgrind", type=int, default=0, metavar="N",
                    help="count instructions over N warm requests per case instead of timing")
    a = ap.parse_args()
    if not (DATA / "coads_like.nc").exists() or not (DATA / "x_wind.nc").exists():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(REPO / "target" / "release" / "testdata"), "bench", str(DATA)], check=True)
    tmp = Path(tempfile.mkdtemp())
    upstream = Fathom(DATA, tmp / "upstream.log")
    config = tmp / "gateway.toml"
    config.write_text(
        "".join(
            f'[[mounts]]\npath = "/{p}/{n}"\nurl = "{upstream.url}/{f}"\nprotocol = "{p}"\n'
            for p in ("dap2", "dap4")
            for n, f in (("coads", "coads_like.nc"), ("xwind", "x_wind.nc"))
        )
    )
    (tmp / "empty").mkdir()
    cases = [
        ("coads SST (777 kB)", "coads", "coads_like.nc", "SST"),
        ("40 kB subset of x_wind", "xwind", "x_wind.nc", "x_wind[0:0][0:9][0][0:999]"),
    ]
    rows = []
    if a.callgrind:
        paths = [f"/{proto}/{mount}.dods?{ce}" for proto in ("dap2", "dap4") for _, mount, _, ce in cases]
        via = instructions([str(tmp / "empty"), "--config", str(config)], paths, a.callgrind)
        upstream.stop()
        direct = instructions([str(DATA)], [f"/{file}.dods?{ce}" for _, _, file, ce in cases], a.callgrind)
        print("| case | mount | gateway instructions / request | direct instructions / request | ratio | bytes |")
        print("|---|---|---:|---:|---:|---:|")
        for i, (g, length) in enumerate(via):
            label = cases[i % 2][0]
            d = direct[i % 2][0]
            print(f"| {label} | {'dap2' if i < 2 else 'dap4'} | {g:,.0f} | {d:,.0f} | {g / d:.2f} | {length} |")
        return 0
    for proto in ("dap2", "dap4"):
        for label, mount, file, ce in cases:
            direct = f"{upstream.url}/{file}.dods?{ce}"
            via = f"http://127.0.0.1:{{port}}/{proto}/{mount}.dods?{ce}"
            # Cold: a fresh gateway, one request.
            gateway = Fathom(tmp / "empty", tmp / "gateway.log", config)
            url = via.format(port=gateway.port)
            before = upstream.access_count()
            t = time.perf_counter()
            body = urllib.request.urlopen(url, timeout=120).read()
            cold_ms = (time.perf_counter() - t) * 1000
            time.sleep(0.2)
            cold_up = upstream.access_count() - before
            want = urllib.request.urlopen(direct, timeout=120).read()
            same = body.split(b"Data:\n", 1)[1] == want.split(b"Data:\n", 1)[1]
            before = upstream.access_count()
            g_rps, g_p50 = wrk(url, a.seconds)
            time.sleep(0.2)
            warm_up = upstream.access_count() - before
            d_rps, d_p50 = wrk(direct, a.seconds)
            gateway.stop()
            rows.append(
                f"| {label} | {proto} | {cold_ms:.0f} | {cold_up} | {g_rps:.0f} | {g_p50} | {d_rps:.0f} | {d_p50} "
                f"| {warm_up} | {'yes' if same else 'NO'} |"
            )
    upstream.stop()
    print("| case | mount | cold ms | upstream requests (cold) | gateway req/s | gateway p50 | direct req/s "
          "| direct p50 | upstream requests (warm run) | same data |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    sys.exit(main())
