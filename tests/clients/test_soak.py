"""Faults under load: a bounded soak.

Many clients at once mix metadata (.dds, .das, .dmr), subset and whole-variable data (.dods,
.dap) requests for several files while some clients hang up in the middle of a body and one
file is replaced on disk (written beside it, renamed over it) again and again. Every answer
must be a 200 whose body is byte for byte one of the references (for the replaced file: the
old or the new version, never a mix), and at the end the server's open file descriptors and
RSS are back where they were after warm-up. The references themselves are checked against a
local read with pydap first.

SOAK_SECONDS sets the length (default 30; `bench/soak.sh` runs it for longer).
"""

import os
import random
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import netCDF4
import numpy as np
from pydap.client import open_url

from conftest import Server, fathom_bin

SECONDS = float(os.environ.get("SOAK_SECONDS", "30"))
CLIENTS = 8

# (file, path+query) pairs asked during the soak.
REQUESTS = [
    ("chunked.nc", ".dds"),
    ("chunked.nc", ".dmr"),
    ("chunked.nc", ".das"),
    ("chunked.nc", ".dods?precip"),
    ("chunked.nc", ".dods?precip[0:1:3][2:5][0:2:7]"),
    ("chunked.nc", ".dap?dap4.ce=/wind_speed"),
    ("classic.nc", ".dods?temperature"),
    ("classic.nc", ".dods?station_name"),
    ("hdf5_chunked.h5", ".dods?field"),
    ("hdf5_chunked.h5", ".dmr"),
    ("types.nc", ".dods?place_name"),
    ("types.nc", ".dds"),
    ("replaced.nc", ".dds"),
    ("replaced.nc", ".dods?temperature"),
    ("replaced.nc", ".dods?temperature[1][0:2][3:5]"),
]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def hang_up_mid_body(base: str, path: str) -> None:
    """Sends a request, reads the start of the answer, and closes the connection."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        s.recv(1024)


def proc_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_soak(tmp_path):
    samples = tmp_path / "samples"
    subprocess.run([str(fathom_bin().parent / "testdata"), "samples", str(samples)], check=True, capture_output=True)
    root = tmp_path / "root"
    root.mkdir()
    for name in ("chunked.nc", "classic.nc", "hdf5_chunked.h5", "types.nc"):
        shutil.copy(samples / name, root / name)
    # Two versions of one file with different values: the replaced file.
    versions = [tmp_path / "v1.nc", tmp_path / "v2.nc"]
    shutil.copy(samples / "classic.nc", versions[0])
    shutil.copy(samples / "classic.nc", versions[1])
    with netCDF4.Dataset(versions[1], "a") as ds:
        ds["temperature"][:] = ds["temperature"][:] * 2 + 1
    shutil.copy(versions[0], root / "replaced.nc")

    server = Server(root)
    try:
        # References: every request once, quietly; the replaced file under both versions.
        refs: dict[tuple[str, str], set[bytes]] = {}
        for version in (1, 0):
            shutil.copy(versions[version], root / "replaced.nc.tmp")
            os.replace(root / "replaced.nc.tmp", root / "replaced.nc")
            time.sleep(0.05)
            for name, suffix in REQUESTS:
                status, body = get(f"{server.url}/{name}{suffix}")
                assert status == 200, (name, suffix, body[:200])
                refs.setdefault((name, suffix), set()).add(body)
        assert len(refs[("replaced.nc", ".dods?temperature")]) == 2
        # The references are right: a real client reads the same values as a local read.
        for name, var in (("chunked.nc", "precip"), ("classic.nc", "temperature"), ("hdf5_chunked.h5", "field")):
            with netCDF4.Dataset(root / name) as local:
                local.set_auto_mask(False)
                truth = np.array(local[var][:])
            got = np.asarray(open_url(f"{server.url}/{name}", protocol="dap2")[var][:].data)
            assert np.array_equal(got.reshape(truth.shape), truth), name

        stop = threading.Event()
        counts = {"ok": 0, "hung_up": 0, "replaced": 0}
        problems: list[str] = []
        lock = threading.Lock()

        def client(seed: int):
            rng = random.Random(seed)
            while not stop.is_set():
                name, suffix = rng.choice(REQUESTS)
                try:
                    if rng.random() < 0.1:
                        hang_up_mid_body(server.url, f"/{name}{suffix}")
                        with lock:
                            counts["hung_up"] += 1
                        continue
                    status, body = get(f"{server.url}/{name}{suffix}")
                except Exception as e:  # noqa: BLE001 - every failure is a finding
                    with lock:
                        problems.append(f"{name}{suffix}: {e!r}")
                    continue
                with lock:
                    if status != 200:
                        problems.append(f"{name}{suffix}: {status} {body[:200]!r}")
                    elif body not in refs[(name, suffix)]:
                        problems.append(f"{name}{suffix}: a body that matches no version ({len(body)} bytes)")
                    else:
                        counts["ok"] += 1

        def replacer():
            k = 0
            while not stop.is_set():
                k += 1
                shutil.copy(versions[k % 2], root / "replaced.nc.tmp")
                os.replace(root / "replaced.nc.tmp", root / "replaced.nc")
                counts["replaced"] += 1
                stop.wait(0.3)

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
        threads.append(threading.Thread(target=replacer, daemon=True))
        for t in threads:
            t.start()
        # Warm-up, then the baseline of descriptors and memory.
        time.sleep(min(5.0, SECONDS / 4))
        fds_warm, rss_warm = proc_fds(server.proc.pid), proc_rss_kib(server.proc.pid)
        time.sleep(max(0.0, SECONDS - min(5.0, SECONDS / 4)))
        stop.set()
        for t in threads:
            t.join(120)
        time.sleep(1.0)
        fds_end, rss_end = proc_fds(server.proc.pid), proc_rss_kib(server.proc.pid)
        print(
            f"\nsoak {SECONDS:.0f} s, {CLIENTS} clients: {counts}; fds {fds_warm} → {fds_end}, "
            f"RSS {rss_warm} → {rss_end} KiB"
        )
        assert server.alive(), "the server died"
        assert not problems, "\n".join(problems[:20])
        assert counts["ok"] > 100 and counts["hung_up"] > 0 and counts["replaced"] > 3
        # Flat at the end: hung-up clients, replaced files and reader processes leave nothing
        # behind (a few descriptors of slack for connections still closing).
        assert fds_end <= fds_warm + 4, (fds_warm, fds_end)
        assert rss_end <= rss_warm + 64 * 1024, (rss_warm, rss_end)
    finally:
        alive = server.alive()
        server.stop()
        assert alive
