#!/usr/bin/env python3
"""fathom's load benchmark: fathom side by side with its peers, in one run, on one machine.

    python3 bench/run.py [--quick] [--out bench/out/results.md]

What it does:
  1. writes the benchmark files with `testdata bench` (a coads-like netCDF-4 file and the 187 MB
     compressed `x_wind`) into bench/out/data, unless they are there;
  2. starts, each on its own loopback port, serving that same folder:
       - fathom (target/release/fathom),
       - pydap's server (pip `pydap[server]`, in bench/.venv, made on first use),
       - nginx serving the file bytes as they are (the physical reference),
       - dars, if DARS_BIN points at a dars binary,
       - any other DAP server at BENCH_PEER_URL (a URL whose folder holds the same files);
  3. for each case, loads each server with wrk (many small requests) or curl (big downloads),
     while sampling the server's CPU time and resident memory from /proc;
     (BENCH_PEER_PID: its process id, for its CPU time; BENCH_SKIP=pydap,dars leaves peers
     out; BENCH_IDLE_WAIT caps the wait for an idle machine before each case, 90 s);
  4. prints a Markdown table: req/s, p50 / p99 latency, MB/s, server CPU per request, peak RSS,
     and fathom's ratio against every peer present.

Absolute numbers on a shared 2-core machine are noise; the ratios measured in the same run are
the result. wrk and the servers share the two cores, which is why CPU per request is reported.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
DATA = OUT / "data"
VENV = REPO / "bench" / ".venv"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

COADS = "coads_like.nc"
XWIND = "x_wind.nc"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                r.read(1)
                return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (gunicorn and nginx fork workers)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for p in pids:
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
    return total


class Sampler:
    """Samples a process tree's CPU time and peak RSS while a load runs."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self):
        self.pids = process_tree(self.pid)
        self.cpu0 = cpu_seconds(self.pids)
        self.peak = rss_bytes(self.pids)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pids))
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()
        self.cpu = cpu_seconds(process_tree(self.pid)) - self.cpu0


class Server:
    def __init__(self, name, base_url, proc=None, pid=None, cleanup=None):
        self.name, self.base_url, self.proc = name, base_url, proc
        self.pid = pid if pid is not None else (proc.pid if proc else None)
        self.cleanup = cleanup

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.cleanup:
            self.cleanup()


def start_fathom(cache_mb: int) -> Server:
    port = free_port()
    binary = REPO / "target" / "release" / "fathom"
    # No access log: the peers write none either (it costs fathom about 5 µs a request).
    env = dict(os.environ, FATHOM_LOG="warn", FATHOM_CHUNK_CACHE_BYTES=str(cache_mb << 20))
    proc = subprocess.Popen(
        [str(binary), "serve", str(DATA), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/")
    return Server("fathom", url, proc)


def ensure_pydap_venv() -> Path:
    py = VENV / "bin" / "python"
    if not (VENV / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "pydap[server]==3.5.9", "netCDF4", "gunicorn"],
            check=True,
        )
        (VENV / ".installed").touch()
    return VENV / "bin" / "pydap"


def start_pydap() -> Server | None:
    try:
        exe = ensure_pydap_venv()
    except subprocess.CalledProcessError as e:
        print(f"pydap server unavailable: {e}", file=sys.stderr)
        return None
    port = free_port()
    proc = subprocess.Popen(
        [str(exe), "--data", str(DATA), "--port", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/", 60)
    except RuntimeError:
        proc.kill()
        return None
    return Server("pydap", url, proc)


def start_nginx() -> Server | None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        return None
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="fathom-bench-nginx-"))
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
daemon off;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {tmp};
    proxy_temp_path {tmp};
    fastcgi_temp_path {tmp};
    uwsgi_temp_path {tmp};
    scgi_temp_path {tmp};
    server {{
        listen 127.0.0.1:{port};
        root {DATA};
        location / {{ autoindex on; }}
    }}
}}
"""
    )
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/")
    return Server("nginx", url, proc, cleanup=lambda: shutil.rmtree(tmp, ignore_errors=True))


def start_dars() -> Server | None:
    binary = os.environ.get("DARS_BIN")
    if not binary:
        return None
    port = free_port()
    # dars keeps a database in its working folder: give it a temporary one.
    tmp = Path(tempfile.mkdtemp(prefix="fathom-bench-dars-"))
    proc = subprocess.Popen(
        [binary, "-a", f"127.0.0.1:{port}", str(DATA)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, RUST_LOG="warn"), cwd=tmp,
    )
    url = f"http://127.0.0.1:{port}/data"
    wait_http(url + "/", 120)
    return Server("dars", url, proc, cleanup=lambda: shutil.rmtree(tmp, ignore_errors=True))


WRK_RE = {
    "rps": re.compile(r"Requests/sec:\s+([\d.]+)"),
    "transfer": re.compile(r"Transfer/sec:\s+([\d.]+)(\w+)"),
    "p50": re.compile(r"^\s+50%\s+([\d.]+)(\w+)", re.M),
    "p99": re.compile(r"^\s+99%\s+([\d.]+)(\w+)", re.M),
    "requests": re.compile(r"(\d+) requests in"),
    "errors": re.compile(r"Non-2xx or 3xx responses: (\d+)"),
    "socket": re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"),
}
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
UNIT_MB = {"B": 1e-6, "KB": 1024 / 1e6, "MB": 1024 * 1024 / 1e6, "GB": 1024**3 / 1e6}


def run_wrk(url: str, seconds: int, connections: int, pid: int) -> dict:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    with Sampler(pid) as s:
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
    res = {"cpu": s.cpu, "peak_rss": s.peak}
    m = WRK_RE["rps"].search(out)
    res["rps"] = float(m.group(1)) if m else 0.0
    n = WRK_RE["requests"].search(out)
    res["requests"] = int(n.group(1)) if n else 0
    for k in ("p50", "p99"):
        m = WRK_RE[k].search(out)
        res[k] = float(m.group(1)) * UNIT_MS.get(m.group(2), 1) if m else None
    m = WRK_RE["transfer"].search(out)
    res["mbps"] = float(m.group(1)) * UNIT_MB.get(m.group(2), 1) if m else None
    bad = 0
    m = WRK_RE["errors"].search(out)
    if m:
        bad += int(m.group(1))
    m = WRK_RE["socket"].search(out)
    if m:
        bad += sum(int(x) for x in m.groups())
    res["errors"] = bad
    res["cpu_per_req_us"] = (s.cpu / res["requests"] * 1e6) if res["requests"] else None
    return res


def curl_download(url: str, runs: int, pid: int) -> dict:
    """Sequential whole downloads: MB/s of the median run."""
    times, sizes, codes = [], [], []
    with Sampler(pid) as s:
        for _ in range(runs):
            p = subprocess.run(
                ["curl", "-g", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}", url],
                capture_output=True, text=True,
            )
            code, size, t = p.stdout.split()
            codes.append(int(code))
            sizes.append(int(size))
            times.append(float(t))
    med = statistics.median(times)
    return {
        "mbps": (statistics.median(sizes) / 1e6) / med if med else None,
        "seconds": med,
        "bytes": statistics.median(sizes),
        # An error body is short: count anything that is not a 200 with a real body as failed.
        "errors": sum(1 for c, n in zip(codes, sizes) if c != 200 or n < 1000),
        "cpu": s.cpu,
        "cpu_per_req_us": s.cpu / runs * 1e6,
        "peak_rss": s.peak,
        "requests": runs,
    }


def concurrent_downloads(url: str, clients: int, pid: int) -> dict:
    """`clients` downloads at once (each a separate curl), all must succeed."""
    with Sampler(pid) as s:
        start = time.time()
        procs = [
            subprocess.Popen(["curl", "-g", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url],
                             stdout=subprocess.PIPE, text=True)
            for _ in range(clients)
        ]
        results = [p.communicate()[0].split() for p in procs]
        elapsed = time.time() - start
    # A 200 with a body of a few bytes is a failure too (pydap truncates what it cannot send).
    ok = [int(size) for code, size in results if code == "200" and int(size) >= 1000]
    total = sum(ok)
    return {
        "mbps": total / 1e6 / elapsed,
        "errors": clients - len(ok),
        "bytes": statistics.median(ok) if ok else 0,
        "cpu": s.cpu,
        "cpu_per_req_us": s.cpu / clients * 1e6,
        "peak_rss": s.peak,
        "requests": clients,
        "seconds": elapsed,
    }


def wait_idle(limit: float = float(os.environ.get("BENCH_IDLE_WAIT", "90"))) -> None:
    """Waits (up to `limit` s) until the machine is idle, so one server's backlog (pydap keeps
    working through requests wrk gave up on) does not slow the next measurement."""

    def busy_idle():
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(f) - f[3] - f[4], f[3] + f[4]

    deadline = time.time() + limit
    while time.time() < deadline:
        b0, i0 = busy_idle()
        time.sleep(0.5)
        b1, i1 = busy_idle()
        if (i1 - i0) / max(1, (b1 - b0) + (i1 - i0)) > 0.9:
            return


def pause(servers: list["Server"], stop: bool) -> None:
    """SIGSTOPs (or SIGCONTs) every process of each server."""
    for srv in servers:
        for p in process_tree(srv.pid):
            try:
                os.kill(p, signal.SIGSTOP if stop else signal.SIGCONT)
            except OSError:
                pass


def url_for(server: Server, path: str) -> str:
    return f"{server.base_url}/{path}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter runs (for a smoke test)")
    ap.add_argument("--cache-mb", type=int, default=256, help="fathom's chunk cache size")
    ap.add_argument("--out", type=Path, default=OUT / "results.md")
    args = ap.parse_args()
    secs = 3 if args.quick else 10
    downloads = 3 if args.quick else 5

    DATA.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "fathom", "-p", "testdata"],
                   cwd=REPO, check=True)
    if not (DATA / XWIND).exists() or not (DATA / COADS).exists():
        subprocess.run([str(REPO / "target" / "release" / "testdata"), "bench", str(DATA)], check=True)

    subset = "x_wind[0:0][0:9][0][0:999]"
    big_subset = "x_wind[0:3][0:64][0][0:19999]"  # 4 of 36 time steps, ~20.8 MB
    cases = [
        # (name, kind, path for DAP servers, path for nginx)
        (".das", "wrk", f"{COADS}.das", None),
        (".dds", "wrk", f"{COADS}.dds", None),
        (".dmr", "wrk", f"{COADS}.dmr", None),
        (".dods?SST (coads, 777 kB)", "wrk", f"{COADS}.dods?SST", "static/sst.dods"),
        ("40 kB subset of x_wind (warm)", "wrk", f"{XWIND}.dods?{subset}", "static/subset.dods"),
        ("whole x_wind .dods, cold", "cold", f"{XWIND}.dods?x_wind", None),
        ("whole x_wind .dods, warm", "curl", f"{XWIND}.dods?x_wind", "static/x_wind.dods"),
        ("whole x_wind .dap, cold", "cold", f"{XWIND}.dap?dap4.ce=/x_wind", None),
        ("whole x_wind .dap, warm", "curl", f"{XWIND}.dap?dap4.ce=/x_wind", "static/x_wind.dap"),
        ("64 concurrent 20.8 MB subsets", "conc", f"{XWIND}.dods?{big_subset}", "static/big_subset.dods"),
    ]

    servers: list[Server] = []
    results: dict[str, dict[str, dict]] = {}
    try:
        fathom = start_fathom(args.cache_mb)
        servers.append(fathom)
        # nginx's reference: the very bytes fathom answers with, as static files, so that
        # "MB/s for the same bytes" compares like with like.
        static = DATA / "static"
        static.mkdir(exist_ok=True)
        for name, _, dap_path, static_path in cases:
            if static_path and static_path.startswith("static/") and not (DATA / static_path).exists():
                try:
                    urllib.request.urlretrieve(url_for(fathom, dap_path), DATA / static_path)
                except OSError as e:
                    print(f"no static reference for {name}: {e}", file=sys.stderr)
        skip = set(filter(None, os.environ.get("BENCH_SKIP", "").split(",")))
        for starter in (start_nginx, start_pydap, start_dars):
            if starter.__name__.removeprefix("start_") in skip:
                continue
            s = starter()
            if s:
                servers.append(s)
        peer = os.environ.get("BENCH_PEER_URL")
        if peer:
            servers.append(Server("peer", peer.rstrip("/"), pid=int(os.environ.get("BENCH_PEER_PID", "0")) or None))

        for name, kind, dap_path, static_path in cases:
            results[name] = {}
            for s in servers:
                path = static_path if s.name == "nginx" else dap_path
                if path is None:
                    continue
                if s.name in ("dars",) and (".dmr" in path or ".dap" in path):
                    continue  # DAP2 only
                if s.name == "pydap" and kind in ("cold", "conc", "curl") and "x_wind" in path:
                    # pydap holds whole responses in memory; one download is enough to show it.
                    pass
                url = url_for(s, path)
                pid = s.pid or 0
                # Every other server is paused while this one is measured, so background work
                # (pydap's backlog, dars's housekeeping) cannot take the cores it needs.
                others = [o for o in servers if o is not s and o.pid]
                pause(others, True)
                wait_idle()
                try:
                    if kind == "wrk":
                        conns = 32
                        r = run_wrk(url, secs, conns, pid)
                    elif kind == "cold":
                        if s.name == "fathom":
                            # A fresh process: nothing in the chunk cache.
                            s.stop()
                            servers[0] = fathom = start_fathom(args.cache_mb)
                            s = fathom
                            url = url_for(s, path)
                            pid = s.pid
                        r = curl_download(url, 1, pid)
                    elif kind == "curl":
                        curl_download(url, 1, pid)  # warm it
                        r = curl_download(url, downloads, pid)
                    else:
                        r = concurrent_downloads(url, 64, pid)
                except Exception as e:  # a peer that fails a case is reported, not fatal
                    r = {"failed": str(e)}
                finally:
                    pause(others, False)
                results[name][s.name] = r
                if s.name == "pydap" and r.get("errors"):
                    # Its worker would go on through the requests wrk gave up on for minutes,
                    # loading the machine during the next measurement: start a fresh one.
                    s.stop()
                    fresh = start_pydap()
                    if fresh:
                        servers[servers.index(s)] = fresh
                print(f"{name:34} {s.name:7} {json.dumps({k: v for k, v in r.items() if k != 'cpu'}, default=str)}",
                      file=sys.stderr)
    finally:
        for s in servers:
            s.stop()

    write_report(results, [s.name for s in servers], args.out)


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


def cpu_ms_per_mb(r: dict) -> float | None:
    """Server CPU time per MB sent (downloads): the figure that does not depend on how much of
    the two cores the load generator took."""
    mb = (r.get("bytes") or 0) * (r.get("requests") or 0) / 1e6
    return r["cpu"] / mb * 1e3 if mb and r.get("cpu") is not None else None


def targets_report(results) -> list[str]:
    """Issue 18's targets, each with the figures of this run it is judged on."""

    def get(case, server):
        r = results.get(case, {}).get(server)
        return None if r is None or "failed" in r or r.get("errors") else r

    def ratio(a, b):
        return a / b if a and b else None

    lines = ["\nAgainst issue 18's targets (this run):\n",
             "| target | fathom | peer | ratio | met |", "|---|---:|---:|---:|---|"]

    def row(label, f, p, r, ok):
        met = "–" if ok is None else ("yes" if ok else "**no**")
        lines.append(f"| {label} | {f} | {p} | {r} | {met} |")

    for case in (".das", ".dds", ".dmr"):
        f, d = get(case, "fathom"), get(case, "dars")
        if not f:
            continue
        if not d:
            row(f"`{case}` ≥ 1.2 × dars req/s, or ≤ 0.8 × its CPU/req", f"{f['rps']:.0f} req/s",
                "dars: none" + (" (DAP2 only)" if case == ".dmr" else ""), "", None)
            continue
        tr = ratio(f["rps"], d["rps"])
        cr = ratio(f["cpu_per_req_us"], d["cpu_per_req_us"])
        row(f"`{case}` ≥ 1.2 × dars req/s, or ≤ 0.8 × its CPU/req",
            f"{f['rps']:.0f} req/s, {fmt(f['cpu_per_req_us'], '.1f')} µs CPU",
            f"{d['rps']:.0f} req/s, {fmt(d['cpu_per_req_us'], '.1f')} µs CPU",
            f"{fmt(tr, '.2f')}× req/s, {fmt(cr, '.2f')}× CPU",
            (tr is not None and tr >= 1.2) or (cr is not None and cr <= 0.8))
    for case in ("whole x_wind .dods, cold", "whole x_wind .dap, cold"):
        f, d = get(case, "fathom"), get("whole x_wind .dods, cold", "dars")
        if not f:
            continue
        tr = ratio(f.get("mbps"), d.get("mbps")) if d else None
        fc, dc = cpu_ms_per_mb(f), cpu_ms_per_mb(d) if d else None
        ok = (f.get("mbps") or 0) >= 1000 and (tr is None or tr >= 2)
        row(f"{case}: ≥ 2 × dars (`.dods`) and ≥ 1 GB/s",
            f"{fmt(f.get('mbps'), '.0f')} MB/s, {fmt(fc, '.2f')} ms CPU/MB",
            f"dars {fmt(d.get('mbps'), '.0f')} MB/s, {fmt(dc, '.2f')} ms CPU/MB" if d else "dars: none",
            f"{fmt(tr, '.2f')}×", ok)
    for case, want in (("40 kB subset of x_wind (warm)", 0.8), (".dods?SST (coads, 777 kB)", 1.0)):
        f, n = get(case, "fathom"), get(case, "nginx")
        if not f or not n:
            continue
        tr = ratio(f["rps"], n["rps"])
        cr = ratio(f["cpu_per_req_us"], n["cpu_per_req_us"])
        row(f"{case} ≥ {want} × nginx req/s (same bytes)",
            f"{f['rps']:.0f} req/s, {fmt(f['cpu_per_req_us'], '.1f')} µs CPU",
            f"nginx {n['rps']:.0f} req/s, {fmt(n['cpu_per_req_us'], '.1f')} µs CPU",
            f"{fmt(tr, '.2f')}× req/s, {fmt(cr, '.2f')}× CPU", tr is not None and tr >= want)
    return lines


def write_report(results, names, out: Path):
    lines = []
    machine = subprocess.run(["uname", "-srm"], capture_output=True, text=True).stdout.strip()
    cpus = os.cpu_count()
    lines.append(f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on `{machine}`, {cpus} cores.\n")
    lines.append("| case | server | req/s | p50 ms | p99 ms | MB/s | CPU µs/req | peak RSS MB | errors |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for case, by_server in results.items():
        for name in names:
            r = by_server.get(name)
            if r is None:
                continue
            if "failed" in r:
                lines.append(f"| {case} | {name} | failed: {r['failed'][:60]} | | | | | | |")
                continue
            lines.append(
                f"| {case} | {name} | {fmt(r.get('rps'), '.0f')} | {fmt(r.get('p50'), '.2f')} | "
                f"{fmt(r.get('p99'), '.2f')} | {fmt(r.get('mbps'), '.0f')} | {fmt(r.get('cpu_per_req_us'), '.0f')} | "
                f"{r.get('peak_rss', 0) / 1e6:.0f} | {r.get('errors', 0)} |"
            )
    lines.append("\nRatios, fathom ÷ peer (throughput: req/s or MB/s, higher is better for fathom; "
                 "CPU per request: fathom ÷ peer, lower is better):\n")
    lines.append("| case | peer | throughput ratio | CPU/req ratio |")
    lines.append("|---|---|---:|---:|")
    for case, by_server in results.items():
        f = by_server.get("fathom")
        if not f or "failed" in f:
            continue
        for name in names:
            if name == "fathom" or name not in by_server or "failed" in by_server[name]:
                continue
            p = by_server[name]
            if p.get("errors"):
                lines.append(f"| {case} | {name} | peer failed ({p['errors']} errors) | |")
                continue
            key = "rps" if f.get("rps") else "mbps"
            tr = (f.get(key) or 0) / p[key] if p.get(key) else None
            cr = (f["cpu_per_req_us"] / p["cpu_per_req_us"]) if p.get("cpu_per_req_us") and f.get("cpu_per_req_us") else None
            lines.append(f"| {case} | {name} | {fmt(tr, '.2f')}× | {fmt(cr, '.2f')}× |")
    lines.extend(targets_report(results))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
