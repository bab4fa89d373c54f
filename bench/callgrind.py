"""Instructions per request of fathom's hot paths, counted by valgrind's callgrind.

    python3 bench/callgrind.py [--requests 2000] [--cases das,dds,...] [--keep DIR]

Wall-clock figures on a shared machine are noise; instruction counts are not. fathom runs
under callgrind (all threads); each case is warmed, the counters are zeroed
(`callgrind_control -z`), N requests are sent one after another on one keep-alive connection,
and the counters are dumped (`callgrind_control -d`): the dump's total divided by N is the
server's instructions per request, kernel excluded. `--strace` instead counts the server's
system calls per request with `strace -c -f`. `--cold` skips the warm-up (a fresh server's first requests). `--keep DIR` keeps the callgrind dumps for
`callgrind_annotate`.

Needs valgrind (and strace for `--strace`) and the bench files (`bench/run.py` makes them).
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "out" / "data"

CASES = {
    "healthz": "/healthz",
    "das": "/coads_like.nc.das",
    "dds": "/coads_like.nc.dds",
    "dmr": "/coads_like.nc.dmr",
    "sst": "/coads_like.nc.dods?SST",
    "subset": "/x_wind.nc.dods?x_wind[0:0][0:9][0][0:999]",
    "whole": "/x_wind.nc.dods?x_wind",
    "whole-dap": "/x_wind.nc.dap?dap4.ce=/x_wind",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One keep-alive HTTP/1.1 connection; reads each response whole (Content-Length)."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def get(self, path: str) -> tuple[int, int]:
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        if m:
            length = int(m.group(1))
            while len(self.buf) < length:
                self._fill()
            self.buf = self.buf[length:]
            return status, length
        if not re.search(rb"(?i)\r\ntransfer-encoding:\s*chunked", head):
            raise RuntimeError(f"{path}: neither Content-Length nor chunked")
        total = 0
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            line, self.buf = self.buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            while len(self.buf) < size + 2:
                self._fill()
            self.buf = self.buf[size + 2:]
            total += size
            if size == 0:
                return status, total

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise RuntimeError("connection closed")
        self.buf += data


def wait_port(port: int, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("fathom did not start")


def total_ir(outdir: Path, since: set[str]) -> tuple[int, list[Path]]:
    """Sum of `summary:`/`totals:` Ir over the dumps written after `since`."""
    total, files = 0, []
    for f in sorted(outdir.glob("callgrind.out*")):
        if f.name in since:
            continue
        text = f.read_text(errors="replace")
        m = re.search(r"^totals:\s+(\d+)", text, re.M) or re.search(r"^summary:\s+(\d+)", text, re.M)
        if m:
            total += int(m.group(1))
            files.append(f)
    return total, files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--cases", default="healthz,das,dds,dmr,sst,subset")
    ap.add_argument("--binary", type=Path, default=REPO / "target" / "release" / "fathom")
    ap.add_argument("--keep", type=Path, help="keep the callgrind dumps in this folder")
    ap.add_argument("--strace", action="store_true", help="count system calls instead")
    ap.add_argument("--cold", action="store_true",
                    help="no warm-up: the first requests of a fresh server (use one case)")
    args = ap.parse_args()

    port = free_port()
    outdir = args.keep or Path(tempfile.mkdtemp(prefix="fathom-callgrind-"))
    outdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, FATHOM_LOG="warn", FATHOM_CHUNK_CACHE_BYTES=str(256 << 20))
    serve = [str(args.binary), "serve", str(DATA), "--bind", f"127.0.0.1:{port}"]
    if args.strace:
        tool = ["strace", "-f", "-qq", "-o", str(outdir / "strace.log"), "-e", "trace=network,write,writev,read,epoll_wait,futex,sendfile,pread64,sched_yield"]
    else:
        tool = ["valgrind", "--tool=callgrind", "--collect-atstart=yes", "--compress-strings=no",
                f"--callgrind-out-file={outdir}/callgrind.out.%p"]
    proc = subprocess.Popen(tool + serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        client = Client(port)
        print(f"| case | requests | {'syscalls' if args.strace else 'instructions'} / request | bytes |")
        print("|---|---:|---:|---:|")
        for name in args.cases.split(","):
            path = CASES[name]
            status = 200
            for _ in range(0 if args.cold else 20):
                status, length = client.get(path)
            if status != 200:
                raise RuntimeError(f"{path}: status {status}")
            if args.strace:
                log = outdir / "strace.log"
                before = sum(1 for _ in log.open(errors="replace"))
                for _ in range(args.requests):
                    client.get(path)
                time.sleep(0.5)
                lines = log.read_text(errors="replace").splitlines()[before:]
                counts: dict[str, int] = {}
                for line in lines:
                    m = re.match(r"\d+\s+(\w+)\(", line)
                    if m:
                        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
                per = sum(counts.values()) / args.requests
                detail = ", ".join(f"{k} {v / args.requests:.2f}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
                print(f"| {name} | {args.requests} | {per:.2f} ({detail}) | {length} |", flush=True)
                continue
            seen = {f.name for f in outdir.glob("callgrind.out*")}
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(args.requests):
                status, length = client.get(path)
            subprocess.run(["callgrind_control", "-d", name, str(proc.pid)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ir, _ = total_ir(outdir, seen)
            print(f"| {name} | {args.requests} | {ir / args.requests:,.0f} | {length} |", flush=True)
    finally:
        # strace detaches on SIGINT and would leave the server running: stop the server itself.
        try:
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        except OSError:
            children = []
        for child in children:
            try:
                os.kill(int(child), signal.SIGINT)
            except OSError:
                pass
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        if not args.keep:
            shutil.rmtree(outdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
