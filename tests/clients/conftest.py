"""Shared fixtures for the real-client tests: start fathom on 127.0.0.1:0 and find the samples.

Every test here talks to a real `fathom serve` process over HTTP with real clients (ncdump,
getdap, getdap4, pydap, xarray, netCDF4) and compares what they read with a local read of the
same file.
"""

import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"
SAMPLES = REPO / "testdata" / "samples"


def fathom_bin() -> Path:
    path = Path(os.environ.get("FATHOM_BIN", REPO / "target" / "release" / "fathom"))
    if not path.exists():
        pytest.fail(f"{path} does not exist: build with `cargo build --release` first")
    return path


class Server:
    """A running `fathom serve` process and its base URL."""

    def __init__(self, root: Path | None, extra_args=()):
        args = [str(fathom_bin()), "serve"]
        if root is not None:
            args.append(str(root))
        args += ["--bind", "127.0.0.1:0", *extra_args]
        env = dict(os.environ, FATHOM_LOG=os.environ.get("FATHOM_LOG", "warn"))
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.url = None
        line_holder = {}

        def read_first_line():
            line_holder["line"] = self.proc.stdout.readline()

        t = threading.Thread(target=read_first_line, daemon=True)
        t.start()
        t.join(120)
        line = line_holder.get("line", "")
        m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        if not m:
            self.stop()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"fathom did not start: {line!r} {err}")
        self.url = m.group(1)
        # Keep draining stdout and stderr so the server never blocks on a full pipe.
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=stream.read, daemon=True).start()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def alive(self) -> bool:
        return self.proc.poll() is None


@pytest.fixture(scope="session")
def sample_server():
    """fathom serving the bundled samples (`fathom serve` with no folder writes them)."""
    server = Server(None)
    assert SAMPLES.is_dir(), "fathom serve did not write the sample files"
    yield server
    assert server.alive(), "the server died during the tests"
    server.stop()


@pytest.fixture(scope="session")
def samples_dir(sample_server) -> Path:
    return SAMPLES


@pytest.fixture()
def serve(tmp_path_factory):
    """Factory: serve a folder (or a list of files copied into a fresh folder)."""
    servers = []

    def start(files_or_dir, extra_args=()):
        if isinstance(files_or_dir, (str, Path)) and Path(files_or_dir).is_dir():
            root = Path(files_or_dir)
        else:
            root = tmp_path_factory.mktemp("served")
            for f in files_or_dir:
                shutil.copy(f, root / Path(f).name)
        s = Server(root, extra_args)
        servers.append(s)
        return s

    yield start
    for s in servers:
        alive = s.alive()
        s.stop()
        assert alive, "the server died during the test"


def run(cmd, timeout=120, check=True):
    """Runs a client command and returns its stdout (text)."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p.stdout
