"""The DAP4 checksum policy, client by client: netcdf-c 4.9.0 (Debian ncdump), netcdf-c 4.10.1
(the netCDF4 wheel), pydap 3.5.9 and getdap4 (libdap 3.20), with `dap4.checksum` absent, true
and false, for a whole file, one variable and several variables.

fathom's policy (dap4 crate docs, CONFORMANCE.md): a CRC32 after each top-level variable
unless `dap4.checksum=false`; with false, no CRC and flag 0x08 on the DMR chunk; when a
`dap4.ce` projects several variables and CRCs are on, the DMR announces them in
`_DAP4_Checksum_CRC32`.

The second half replays fathom's answers through a proxy that changes one thing, to show what
each part of the policy is for: each alternative breaks a client.
"""

import http.server
import re
import subprocess
import sys
import threading
import urllib.request

import netCDF4
import numpy as np
import pytest
from pydap.client import open_url

from test_dap4_common import Dump, dap4_root, dap4_server, ncdump  # noqa: F401  (fixtures)

FILE = "test_atomic_array.nc"
# One variable of each kind of wire layout: fixed-size numbers, strings (8-byte counts, which
# the CRC covers), chars, enums.
VARIABLES = ["vu8", "vs", "vc", "vd", "primary_cloud"]
SHAPES = {
    "whole file": "",
    "one variable": "dap4.ce=/vs",
    "several variables": "dap4.ce=/vu8;/vs;/vc;/vd;/primary_cloud",
}
CHECKSUM = {"absent": "", "true": "dap4.checksum=true", "false": "dap4.checksum=false"}


def query(shape: str, checksum: str) -> str:
    parts = [p for p in (SHAPES[shape], CHECKSUM[checksum]) if p]
    return ("?" + "&".join(parts)) if parts else ""


def projected(shape):
    return ["vs"] if shape == "one variable" else VARIABLES


def local_dump(root):
    return Dump(ncdump(str(root / FILE)))


def local_values(root):
    with netCDF4.Dataset(root / FILE) as ds:
        ds.set_auto_maskandscale(False)
        # A char array travels as strings without its length dimension (DAP4 4).
        return {
            v: netCDF4.chartostring(ds[v][...]) if ds[v].dtype == "S1" and ds[v].ndim else ds[v][...]
            for v in VARIABLES
        }


def netcdf4_values(url):
    with netCDF4.Dataset(url) as ds:
        ds.set_auto_maskandscale(False)
        return {v: ds[v][...] for v in VARIABLES if v in ds.variables}


def equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "OSU":
        return [str(x) for x in a.ravel()] == [str(x) for x in b.ravel()]
    return a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.parametrize("checksum", list(CHECKSUM))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_ncdump_4_9_0(dap4_server, dap4_root, shape, checksum):
    """netcdf-c 4.9.0 verifies every CRC it expects: a mismatch would fail the dump."""
    url = f"{dap4_server.url}/{FILE}{query(shape, checksum)}#dap4"
    p = subprocess.run(["ncdump", url], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    remote, local = Dump(p.stdout), local_dump(dap4_root)
    for v in projected(shape):
        assert remote.data[f"/{v}"] == local.data[f"/{v}"], v


@pytest.mark.parametrize("checksum", list(CHECKSUM))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_netcdf4_python_4_10_1(dap4_server, dap4_root, shape, checksum):
    got = netcdf4_values(f"{dap4_server.url}/{FILE}{query(shape, checksum)}#dap4")
    want = local_values(dap4_root)
    assert sorted(got) == sorted(projected(shape))
    for v, values in got.items():
        assert equal(values, want[v]), v


@pytest.mark.parametrize("checksums", [True, False])
def test_pydap(dap4_server, dap4_root, checksums):
    ds = open_url(f"{dap4_server.url}/{FILE}", protocol="dap4", checksums=checksums)
    want = local_values(dap4_root)
    for v in ["vu8", "vd"]:
        got = ds[v][:]
        assert equal(got.data, want[v]), v
        if checksums:
            # pydap keeps the CRC it read after the variable: the CRC of what it decoded.
            import zlib

            raw = np.ascontiguousarray(want[v]).astype(want[v].dtype.newbyteorder("<")).tobytes()
            assert int(got.attributes["_DAP4_Checksum_CRC32"]) == zlib.crc32(raw), v


@pytest.mark.parametrize("checksum", ["absent", "true"])
@pytest.mark.parametrize("shape", ["whole file", "several variables"])
def test_getdap4(dap4_server, shape, checksum):
    """libdap 3.20 reads a CRC after every variable whatever it asked for (D4Group.cc
    `deserialize`), so it reads fathom's answers unless the URL says dap4.checksum=false."""
    p = subprocess.run(
        ["getdap4", "-D", "-M", f"{dap4_server.url}/{FILE}{query(shape, checksum)}"],
        capture_output=True, text=True, errors="replace", timeout=60,
    )
    assert "rror" not in p.stdout + p.stderr, p.stdout + p.stderr
    assert "Float64 vd[d2 = 2] = {17.9, 1024.8};" in p.stdout, p.stdout


# ---------------------------------------------------------------------------------------------
# Why each part of the policy: a proxy alters fathom's answer one way, and a client breaks.


def split_chunks(body: bytes):
    out, pos = [], 0
    while True:
        flags, n = body[pos], int.from_bytes(body[pos + 1 : pos + 4], "big")
        out.append([flags, body[pos + 4 : pos + 4 + n]])
        pos += 4 + n
        if flags & 1:
            return out


def join_chunks(chunks) -> bytes:
    return b"".join(bytes([f]) + len(d).to_bytes(3, "big") + d for f, d in chunks)


def without_announcements(body: bytes) -> bytes:
    chunks = split_chunks(body)
    dmr = chunks[0][1].decode()
    dmr = re.sub(r'\s*<Attribute name="_DAP4_Checksum_CRC32".*?</Attribute>', "", dmr, flags=re.S)
    chunks[0][1] = dmr.encode()
    return join_chunks(chunks)


def without_no_checksum_flag(body: bytes) -> bytes:
    chunks = split_chunks(body)
    chunks[0][0] &= ~0x08
    return join_chunks(chunks)


class AlteringProxy:
    """Forwards every request to fathom; `.dap` answers go through `alter(body)`, and
    `rewrite(query)` may change what fathom is asked."""

    def __init__(self, upstream, alter=lambda b: b, rewrite=lambda q: q):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path, _, q = self.path.partition("?")
                if path.endswith(".dap"):
                    q = rewrite(q)
                target = upstream + path + (("?" + q) if q else "")
                try:
                    with urllib.request.urlopen(target) as r:
                        status, body, ctype = r.status, r.read(), r.headers.get("Content-Type")
                except urllib.error.HTTPError as e:
                    status, body, ctype = e.code, e.read(), e.headers.get("Content-Type")
                if path.endswith(".dap") and status == 200:
                    body = alter(body)
                self.send_response(status)
                self.send_header("Content-Type", ctype or "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        proxy.upstream = upstream

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(dap4_server):
    made = []

    def make(**kw):
        p = AlteringProxy(dap4_server.url, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def netcdf4_reads_vd_right(url) -> bool:
    """Whether netCDF4-python reads `vd` right, in a child process: misaligned data can crash
    netcdf-c (a string count read from the wrong bytes)."""
    script = (
        "import netCDF4, sys\n"
        f"d = netCDF4.Dataset({url!r})\n"
        "sys.exit(0 if d['vd'][:].tolist() == [17.9, 1024.8] else 3)\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    return r.returncode == 0


def test_why_announce_unannounced_crcs_misalign_netcdf_c_4_10(proxy):
    """netcdf-c >= 4.9.3 skips a CRC only when `_DAP4_Checksum_CRC32` announces it (its
    per-variable response never gets the query's checksum setting: d4varx.c builds it with
    NCD4_newResponse, querychecksumming 0). Without the announcement the second variable of a
    multi-variable answer is read from the first one's CRC on."""
    url = f"{{}}/{FILE}{query('several variables', 'true')}#dap4"
    assert netcdf4_reads_vd_right(url.format(proxy().url)), "the proxy itself works"
    p = proxy(alter=without_announcements)
    assert not netcdf4_reads_vd_right(url.format(p.url)), "netcdf-c now skips unannounced CRCs"


def test_why_no_crc_on_false_crcs_misalign_netcdf_c_4_10(proxy):
    """With dap4.checksum=false netcdf-c >= 4.9.3 expects no CRC at all."""
    p = proxy(rewrite=lambda q: q.replace("dap4.checksum=false", "dap4.checksum=true"),
              alter=without_announcements)
    url = f"{p.url}/{FILE}{query('several variables', 'false')}#dap4"
    assert not netcdf4_reads_vd_right(url), "netcdf-c now tolerates CRCs it did not ask for"


def test_why_flag_0x08_netcdf_c_4_9_0_expects_crcs_without_it(proxy):
    """netcdf-c <= 4.9.2 expects a CRC after every variable unless the first chunk has flag
    0x08 (d4chunk.c CHECKSUMHACK)."""
    p = proxy(alter=without_no_checksum_flag)
    r = subprocess.run(["ncdump", f"{p.url}/{FILE}{query('whole file', 'false')}#dap4"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 or "1024.8" not in r.stdout, "netcdf-c 4.9.0 read data without CRCs"


def test_why_crcs_by_default_netcdf_c_4_10_expects_them_without_the_key(proxy, dap4_root):
    """The opposite choice, CRCs only on dap4.checksum=true, would leave a whole-file request
    without CRCs; netcdf-c 4.9.0 copes (flag 0x08) but libdap 3.20 always reads a CRC: getdap4
    without -C would break."""
    p = proxy(rewrite=lambda q: "&".join(x for x in [q, "dap4.checksum=false"] if x))
    r = subprocess.run(["getdap4", "-D", "-M", f"{p.url}/{FILE}"], capture_output=True, text=True,
                       errors="replace", timeout=60)
    assert "Float64 vd[d2 = 2] = {17.9, 1024.8};" not in r.stdout, "libdap now reads CRC-less data"


def test_why_crcs_on_true_pydap_reads_four_bytes_after_each_variable(proxy):
    """pydap with checksums=True reads the 4 bytes after each variable as its CRC."""
    p = proxy(rewrite=lambda q: q.replace("dap4.checksum=true", "dap4.checksum=false"))
    ds = open_url(f"{p.url}/{FILE}", protocol="dap4", checksums=True)
    with pytest.raises(Exception):
        ds["vd"][:]
