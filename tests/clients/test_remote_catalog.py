"""Remote THREDDS catalogs mounted as folders, mounts in their parent folders' listings, and
remote datasets over https://.

The remote catalogs are real: pydap's server's `catalog.xml` (pydap 3.5.9) and a second
fathom's. siphon walks the mirrored catalogs as it walks a TDS; netCDF4-python reads the
datasets through them and compares with the local file. The https remote is a small TLS
proxy written here with a self-signed certificate made with `cryptography`.
"""

import datetime
import http.server
import ipaddress
import json
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from siphon.catalog import TDSCatalog

from conftest import Server
from test_remote import FaultProxy, free_port, get, wait_up
from test_remote_ncml import write_part


def self_signed(folder: Path):
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "cert.pem", folder / "key.pem"


class TlsProxy:
    """An https:// front for an http:// upstream."""

    def __init__(self, upstream: str, cert: Path, key: Path):
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                try:
                    with urllib.request.urlopen(upstream + self.path, timeout=30) as r:
                        status, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
                except urllib.error.HTTPError as e:
                    status, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
                self.send_response(status)
                self.send_header("Content-Type", ctype or "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def setup(tmp_path_factory, samples_dir):
    up_root = tmp_path_factory.mktemp("catalog-upstream")
    gw_root = tmp_path_factory.mktemp("catalog-gateway")
    classic = samples_dir / "classic.nc"
    (up_root / "classic.nc").write_bytes(classic.read_bytes())
    (up_root / "sub").mkdir()
    write_part(classic, up_root / "sub" / "inner.nc", slice(0, 4))
    (gw_root / "local").mkdir()
    with ExitStack() as stack:
        upstream = Server(up_root)
        stack.callback(upstream.stop)
        # Anything fetched from here would be a request a remote catalog steered fathom into.
        elsewhere = FaultProxy(upstream.url)
        stack.callback(elsewhere.stop)
        # A hostile catalog, served as a plain file by the upstream: references and a dataset
        # outside what the mount allows.
        (up_root / "evil").mkdir()
        (up_root / "evil" / "catalog.xml").write_text(
            '<catalog xmlns="http://www.unidata.ucar.edu/namespaces/thredds/InvCatalog/v1.0" '
            'xmlns:xlink="http://www.w3.org/1999/xlink">'
            f'<service name="far" serviceType="OPENDAP" base="{elsewhere.url}/"/>'
            '<service name="near" serviceType="OPENDAP" base="/"/>'
            '<dataset name="far.nc" urlPath="classic.nc" serviceName="far"/>'
            '<dataset name="near.nc" urlPath="classic.nc" serviceName="near"/>'
            f'<catalogRef xlink:href="{elsewhere.url}/catalog.xml" name="out"/>'
            '<catalogRef xlink:href="../sub/catalog.xml" name="up"/>'
            "</catalog>"
        )
        port = free_port()
        pd = subprocess.Popen(
            [str(Path(sys.executable).parent / "pydap"), "--data", str(up_root), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(pd.wait, 10)
        stack.callback(pd.terminate)
        pydap = f"http://127.0.0.1:{port}"
        wait_up(f"{pydap}/classic.nc.dds")
        cert, key = self_signed(tmp_path_factory.mktemp("tls"))
        tls = TlsProxy(upstream.url, cert, key)
        stack.callback(tls.stop)
        mounts = [
            ("/t/pydap", f"{pydap}/catalog.xml", ""),
            ("/t/fathom", f"{upstream.url}/catalog.xml", ""),
            ("/t/evil", f"{upstream.url}/evil/catalog.xml", ""),
            ("/t/tls", f"{tls.url}/catalog.xml", f'ca_file = "{cert}"\n'),
            ("/m/classic", f"{upstream.url}/classic.nc", ""),
            ("/m/tls", f"{tls.url}/classic.nc", f'ca_file = "{cert}"\n'),
            ("/m/untrusted", f"{tls.url}/classic.nc", ""),
            ("/local/remote", f"{upstream.url}/classic.nc", ""),
        ]
        config = gw_root.parent / f"{gw_root.name}.toml"
        config.write_text(
            "".join(f'[[mounts]]\npath = "{p}"\nurl = "{u}"\nretries = 0\ntimeout_secs = 10\n{x}' for p, u, x in mounts)
        )
        gateway = Server(gw_root, ["--config", str(config)])
        stack.callback(gateway.stop)
        yield {"gateway": gateway, "classic": classic, "up_root": up_root, "elsewhere": elsewhere}
        assert gateway.alive(), "fathom died"


def listing(url):
    s, _, body = get(url + "?format=json")
    assert s == 200, (url, s, body[:300])
    return {e["name"]: e["kind"] for e in json.loads(body)["entries"]}


def test_mounts_show_in_their_parent_folders(setup):
    """A folder that holds only mounts is listed (JSON and catalog.xml), and a mount inside an
    existing folder joins its files."""
    gw = setup["gateway"].url
    assert listing(f"{gw}/") == {"local": "folder", "m": "folder", "t": "folder"}
    assert listing(f"{gw}/t/") == {"pydap": "folder", "fathom": "folder", "evil": "folder", "tls": "folder"}
    assert listing(f"{gw}/m/") == {"classic": "dataset", "tls": "dataset", "untrusted": "dataset"}
    assert listing(f"{gw}/local/") == {"remote": "dataset"}
    cat = TDSCatalog(f"{gw}/m/catalog.xml")
    assert sorted(cat.datasets) == ["classic", "tls", "untrusted"]
    s, _, body = get(f"{gw}/m/catalog.html")
    assert s == 200 and b"classic" in body
    assert get(f"{gw}/nothing/")[0] == 404


@pytest.mark.parametrize("server", ["pydap", "fathom", "tls"])
def test_siphon_walks_a_mounted_remote_catalog_and_reads_its_datasets(setup, server):
    """siphon walks fathom's catalog of a mounted pydap / fathom / https catalog down into the
    sub-folder; netCDF4-python reads the dataset at the OPeNDAP URL siphon gives, over DAP2 and
    DAP4, with the file's values."""
    gw = setup["gateway"].url
    top = TDSCatalog(f"{gw}/t/{server}/catalog.xml")
    assert "classic.nc" in top.datasets
    assert "sub" in top.catalog_refs
    sub = top.catalog_refs["sub"].follow()
    ds = sub.datasets["inner.nc"]
    url = ds.access_urls["OPENDAP"]
    assert url == f"{gw}/t/{server}/sub/inner.nc"
    with netCDF4.Dataset(setup["up_root"] / "sub" / "inner.nc") as f:
        f.set_auto_maskandscale(False)
        want = {k: f[k][...] for k in ("time", "lat", "lon", "temperature")}
    for u in (url, url + "#dap4"):
        with netCDF4.Dataset(u) as via:
            via.set_auto_maskandscale(False)
            for k, v in want.items():
                assert np.array_equal(via[k][...], v), (u, k)


def test_listing_pages_of_a_mounted_catalog(setup):
    """The HTML page and JSON of a mounted catalog's folder list its datasets and sub-catalogs;
    a folder asked for without its slash is redirected; unknown names are 404."""
    gw = setup["gateway"].url
    assert listing(f"{gw}/t/fathom/") == {"classic.nc": "dataset", "sub": "folder", "evil": "folder"}
    assert listing(f"{gw}/t/pydap/sub/") == {"inner.nc": "dataset"}
    s, _, body = get(f"{gw}/t/pydap/")
    assert s == 200 and b'href="classic.nc.dds"' in body and b'href="sub/"' in body
    req = urllib.request.Request(f"{gw}/t/pydap/sub")
    with urllib.request.urlopen(req) as r:  # follows the redirect
        assert r.url == f"{gw}/t/pydap/sub/"
    assert get(f"{gw}/t/pydap/nope/")[0] == 404
    s, _, body = get(f"{gw}/t/pydap/nope.nc.dds")
    assert s == 404 and body.startswith(b"Error {")


def test_a_remote_catalog_cannot_steer_fathom_elsewhere(setup):
    """A mounted catalog's references outside its own folder URL and its datasets on another
    server are refused (404) without fetching them; its datasets on the same server read."""
    gw, elsewhere = setup["gateway"].url, setup["elsewhere"]
    assert listing(f"{gw}/t/evil/") == {"far.nc": "dataset", "near.nc": "dataset", "out": "folder", "up": "folder"}
    for path in ("/t/evil/out/", "/t/evil/up/", "/t/evil/far.nc.dds", "/t/evil/out/classic.nc.dds"):
        assert get(gw + path)[0] == 404, path
    assert elsewhere.paths == []
    s, _, body = get(f"{gw}/t/evil/near.nc.ascii?station_elevation")
    with netCDF4.Dataset(setup["classic"]) as f:
        elev = ", ".join(str(x) for x in f["station_elevation"][:])
    assert s == 200 and elev.encode() in body


def test_an_https_remote_with_its_ca_file_reads_and_without_it_fails(setup):
    """Over https:// with the server's self-signed certificate given as ca_file, the remote
    reads as the file; without it, the certificate is not trusted: 502 with the DAP2 error
    body."""
    gw = setup["gateway"].url
    with netCDF4.Dataset(setup["classic"]) as f, netCDF4.Dataset(f"{gw}/m/tls") as via:
        f.set_auto_maskandscale(False)
        via.set_auto_maskandscale(False)
        for k in ("temperature", "pressure", "station_elevation"):
            assert np.array_equal(via[k][...], f[k][...]), k
    s, _, body = get(f"{gw}/m/untrusted.dds")
    assert s == 502 and body.startswith(b"Error {"), body
    assert b"certificate" in body.lower() or b"tls" in body.lower(), body
