"""A damaged file never takes the server down.

The corpus is written by `testdata corrupt` (damaged copies of the samples: truncated at many
offsets, bit flips in headers, HDF5 object headers, B-trees, heaps and chunk data, zeroed
superblocks, wrong magic numbers, netCDF-3 headers claiming huge sizes) next to the pristine
samples. A real `fathom serve` answers every metadata and data request for every damaged file
with data or with the protocol's error body and a proper status, while pydap clients keep
reading the pristine files and get the same values as a local read; the process never dies and
its memory stays bounded.
"""

import http.client
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from pydap.client import open_url

from conftest import Server, fathom_bin

# Suffix → the error body's protocol marker.
SUFFIXES = {".dds": b"Error {", ".das": b"Error {", ".dods": b"Error {", ".dmr": b"<Error", ".dap": b"<Error"}
# pristine file → variable that the background readers check against the local file.
GOOD = {"chunked.nc": "precip", "classic.nc": "temperature", "hdf5_chunked.h5": "field"}


def corpus_tool() -> Path:
    path = Path(os.environ.get("TESTDATA_BIN", fathom_bin().parent / "testdata"))
    if not path.exists():
        pytest.fail(f"{path} does not exist: build with `cargo build --release --workspace --bins`")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    subprocess.run([str(corpus_tool()), "corrupt", str(root)], check=True, timeout=300, capture_output=True)
    return root


@pytest.fixture(scope="module")
def server(corpus):
    s = Server(corpus, ["--set", "reader_processes=2", "--set", "reader_timeout_secs=20"])
    yield s
    alive = s.alive()
    s.stop()
    assert alive, "the server died"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def fetch(url: str):
    """(status, body, aborted): aborted means the body stopped short of its Content-Length."""
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            try:
                return r.status, r.read(), False
            except http.client.IncompleteRead as e:
                return r.status, e.partial, True
    except urllib.error.HTTPError as e:
        return e.code, e.read(), False


def local_values(path: Path, var: str):
    with netCDF4.Dataset(path) as ds:
        ds.set_auto_mask(False)
        return np.array(ds[var][:])


def test_every_damaged_file_is_answered_and_the_server_survives(server, corpus):
    truth = {name: local_values(corpus / "pristine" / name, var) for name, var in GOOD.items()}
    files = sorted((corpus / "corrupt").iterdir())
    assert len(files) > 200, "the corpus is smaller than expected"

    # pydap clients read the pristine files the whole time and must see the true values.
    stop = threading.Event()
    good_reads, good_errors = [0], []

    def read_good():
        while not stop.is_set():
            for name, var in GOOD.items():
                try:
                    ds = open_url(f"{server.url}/pristine/{name}", protocol="dap2")
                    got = np.asarray(ds[var][:].data)
                    if not np.array_equal(got.reshape(truth[name].shape), truth[name]):
                        good_errors.append(f"{name}: wrong values")
                    good_reads[0] += 1
                except Exception as e:  # noqa: BLE001 - every failure is a finding here
                    good_errors.append(f"{name}: {e!r}")

    readers = [threading.Thread(target=read_good, daemon=True) for _ in range(2)]
    for t in readers:
        t.start()

    statuses: dict[object, int] = {}
    problems = []
    rss_before = rss_kib(server.proc.pid)
    started = time.monotonic()
    try:
        for path in files:
            for suffix, marker in SUFFIXES.items():
                url = f"{server.url}/corrupt/{path.name}{suffix}"
                try:
                    status, body, aborted = fetch(url)
                except http.client.RemoteDisconnected:
                    # A data response whose first piece failed: DAP2 has no way to report an
                    # error once a 200 is committed, so the connection is closed instead.
                    status, body, aborted = 200, b"", True
                except Exception as e:  # noqa: BLE001
                    problems.append(f"{path.name}{suffix}: no answer: {e!r}")
                    status, body, aborted = repr(type(e)), b"", False
                key = (status, "aborted") if aborted else status
                if status == 500 and b"could not be read safely" in body:
                    key = (500, "reader process failed")
                statuses[key] = statuses.get(key, 0) + 1
                if status == 200:
                    # Data, or (binary responses only) a body cut off when an error came after
                    # the response had started: never a short body that looks complete.
                    if aborted and suffix not in (".dods", ".dap"):
                        problems.append(f"{path.name}{suffix}: metadata body cut off")
                elif status in (400, 404, 413, 500):
                    if marker not in body:
                        problems.append(f"{path.name}{suffix}: {status} without an error body: {body[:120]!r}")
                elif isinstance(status, int):
                    problems.append(f"{path.name}{suffix}: unexpected status {status}")
                if not server.alive():
                    pytest.fail(f"the server died on {path.name}{suffix}")
            # Workers are supervised: never more than the configured two at once.
            assert len(children(server.proc.pid)) <= 2
    finally:
        stop.set()
        for t in readers:
            t.join(120)
    elapsed = time.monotonic() - started
    rss_after = rss_kib(server.proc.pid)
    print(f"\n{len(files)} damaged files, {sum(statuses.values())} requests in {elapsed:.1f} s: {statuses}")
    print(f"pristine reads meanwhile: {good_reads[0]}; server RSS {rss_before} → {rss_after} KiB")

    assert not problems, "\n".join(problems[:30])
    assert not good_errors, good_errors[:10]
    assert good_reads[0] >= 3
    # Damaged files were really served in both ways: data and clean errors.
    assert statuses.get(200, 0) > 0 and statuses.get(500, 0) + statuses.get(404, 0) > 0
    assert statuses.get((500, "reader process failed"), 0) > 0, "no damaged file reached the isolation"
    # Memory: the chunk cache and open datasets are bounded; nothing grows per damaged file.
    assert rss_after < rss_before + 200 * 1024, (rss_before, rss_after)

    # After all that, real clients still read the pristine files right.
    for name, var in GOOD.items():
        with netCDF4.Dataset(f"{server.url}/pristine/{name}") as remote:
            remote.set_auto_mask(False)
            assert np.array_equal(np.array(remote[var][:]), truth[name]), name


def test_a_library_crash_costs_one_request(corpus):
    """The netCDF-4 file whose flipped bits make HDF5 free a pointer twice inside nc_open.

    Whether the C runtime notices the double free depends on the heap's history, so the file
    is asked of a fresh server first, whose fresh reader process is in the state `fathom info`
    was in when it died on it.
    """
    # A file whose damage aborts a fresh process that opens it with netCDF-C.
    # `fathom info` opens in its own process, without isolation: a negative return code is a
    # signal (SIGABRT from the C runtime, SIGSEGV).
    crashing = next(
        (
            p
            for p in sorted((corpus / "corrupt").glob("midflip*"))
            if subprocess.run([str(fathom_bin()), "info", str(p)], capture_output=True, timeout=60).returncode < 0
        ),
        None,
    )
    assert crashing, "no file in the corpus crashes the libraries: the isolation is not exercised"
    name = crashing.name
    server = Server(corpus, ["--set", "reader_processes=1"])
    try:
        check_crash_costs_one_request(server, name)
    finally:
        alive = server.alive()
        server.stop()
        assert alive, "the server died"


def check_crash_costs_one_request(server, name):
    status, body, _ = fetch(f"{server.url}/corrupt/{name}.dds")
    assert status == 500, (name, status, body[:200])
    assert b"Error {" in body and b"could not be read safely" in body, body
    # The same file version is refused at once afterwards, without killing another worker.
    status, body, _ = fetch(f"{server.url}/corrupt/{name}.dmr")
    assert status == 500 and b"<Error" in body and b"before" in body, body
    assert server.alive()
    # Operators see it in the metrics.
    status, body, _ = fetch(f"{server.url}/metrics")
    crashed = [l for l in body.decode().splitlines() if l.startswith('fathom_reader_process_ends_total{reason="crashed"}')]
    assert status == 200 and crashed and int(crashed[0].split()[-1]) >= 1, crashed
    # And the server goes on serving the rest.
    status, body, _ = fetch(f"{server.url}/pristine/chunked.nc.dds")
    assert status == 200 and b"precip" in body
