"""The HTTP surface through real clients (curl, requests) against `fathom serve`: compression,
conditional requests, CORS, Range downloads, the response-size limit, health and metrics, and
the settings' precedence (file < FATHOM_* < --set). Expected bytes come from the files on disk
or from the uncompressed response.
"""

import gzip
import subprocess
import zlib

import requests

from conftest import fathom_bin, run


def curl(*args) -> bytes:
    """curl with globbing off (DAP constraints use brackets); returns head and body, raw."""
    p = subprocess.run(["curl", "-sS", "-g", "-D", "-", *args], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def head_and_body(raw: bytes):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), v.strip())
    return status, headers, body


def test_compression_round_trips_for_curl_and_requests(sample_server):
    url = sample_server.url + "/groups.nc.das"
    plain = requests.get(url, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    for enc, decode in (("gzip", gzip.decompress), ("deflate", zlib.decompress)):
        r = requests.get(url, headers={"Accept-Encoding": enc}, stream=True)
        assert r.headers["Content-Encoding"] == enc
        raw = r.raw.read(decode_content=False)
        assert len(raw) < len(plain.content)
        assert decode(raw) == plain.content
    # curl --compressed asks for and undoes the compression itself.
    p = run(["curl", "-sS", "--compressed", url])
    assert p.encode() == plain.content


def test_data_is_not_compressed_by_default_even_for_pydaps_accept_encoding(sample_server):
    # pydap (requests) always sends "Accept-Encoding: gzip, deflate".
    r = requests.get(sample_server.url + "/chunked.nc.dods?precip[0:1:1][0:1:9][0:1:9]")
    assert r.status_code == 200
    assert "Content-Encoding" not in r.headers
    assert int(r.headers["Content-Length"]) == len(r.content)


def test_a_repeat_with_the_etag_or_date_is_304(sample_server):
    url = sample_server.url + "/classic.nc.dds?temperature"
    first = requests.get(url)
    etag, date = first.headers["ETag"], first.headers["Last-Modified"]
    again = requests.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    again = requests.get(url, headers={"If-Modified-Since": date})
    assert again.status_code == 304
    # curl -z sends If-Modified-Since from a date.
    status, _, body = head_and_body(curl("-z", date, url))
    assert (status, body) == (304, b"")


def test_range_downloads_are_the_files_bytes(sample_server, samples_dir):
    data = (samples_dir / "groups.nc").read_bytes()
    url = sample_server.url + "/groups.nc"
    for spec, want in (("0-1023", data[:1024]), ("5000-", data[5000:]), ("-100", data[-100:])):
        r = requests.get(url, headers={"Range": f"bytes={spec}"})
        assert r.status_code == 206, spec
        assert r.content == want, spec
    # curl -r asks for a range itself.
    _, _, body = head_and_body(curl("-r", "100-199", url))
    assert body == data[100:200]


def test_cors_preflight_and_simple_requests(serve, samples_dir):
    server = serve(samples_dir, ["--set", "cors_origins=https://app.example"])
    url = server.url + "/classic.nc.dods"
    pre = requests.options(
        url,
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "GET" in pre.headers["Access-Control-Allow-Methods"]
    assert pre.headers["Access-Control-Allow-Headers"] == "range"
    r = requests.get(server.url + "/classic.nc.das", headers={"Origin": "https://app.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    r = requests.get(server.url + "/classic.nc.das", headers={"Origin": "https://other.example"})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_too_large_is_413_with_a_dap_error_before_any_data(serve, samples_dir):
    server = serve(samples_dir, ["--set", "max_response_bytes=50000"])
    r = requests.get(server.url + "/chunked.nc.dods?precip", stream=True)
    assert r.status_code == 413
    assert r.headers["Content-Description"] == "dods_error"
    body = r.content.decode()
    assert body.startswith("Error {") and "code = 413;" in body
    assert "limit of 50000 bytes" in body
    assert "Data:" not in body
    # A subset under the limit is served in full.
    r = requests.get(server.url + "/chunked.nc.dods?precip[0:1:1][0:1:9][0:1:9]")
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(r.content)
    # getdap (libdap) reports the status (it shows the status text, not the body, for a non-200
    # answer, and exits 0 on errors).
    p = subprocess.run(
        ["getdap", "-D", server.url + "/chunked.nc?precip"], capture_output=True, text=True, timeout=60
    )
    assert "Request Entity Too Large" in p.stdout + p.stderr


def test_health_and_metrics(sample_server):
    assert requests.get(sample_server.url + "/healthz").text == "ok\n"
    requests.get(sample_server.url + "/classic.nc.dds")
    m = requests.get(sample_server.url + "/metrics")
    assert m.headers["Content-Type"].startswith("text/plain")
    lines = m.text.splitlines()
    assert any(l.startswith('fathom_requests_total{kind="dds",status="200"}') for l in lines)
    assert any(l.startswith("fathom_request_duration_seconds_bucket") for l in lines)


def test_settings_precedence_file_then_env_then_flags(serve, samples_dir, tmp_path, monkeypatch):
    config = tmp_path / "fathom.toml"
    config.write_text(
        'max_response_bytes = 1\ncors_origins = ["https://file.example"]\nlog = "warn"\n'
    )
    monkeypatch.setenv("FATHOM_CORS_ORIGINS", "https://env.example")
    server = serve(samples_dir, ["--config", str(config), "--set", "max_response_bytes=0"])
    # The flag wins over the file: no size limit.
    assert requests.get(server.url + "/classic.nc.dods").status_code == 200
    # The environment wins over the file.
    r = requests.get(server.url + "/classic.nc.das", headers={"Origin": "https://env.example"})
    assert r.headers.get("Access-Control-Allow-Origin") == "https://env.example"
    r = requests.get(server.url + "/classic.nc.das", headers={"Origin": "https://file.example"})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_a_bad_setting_stops_the_server_with_its_name(tmp_path, samples_dir):
    config = tmp_path / "bad.toml"
    config.write_text("max_respons_bytes = 10\n")
    p = subprocess.run(
        [str(fathom_bin()), "serve", str(samples_dir), "--config", str(config)],
        capture_output=True, text=True, timeout=30,
    )
    assert p.returncode != 0
    assert "max_respons_bytes" in p.stderr
