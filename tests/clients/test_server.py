"""The server as a new user meets it: the listing of the samples, and what it refuses."""

import urllib.request
import urllib.error

import pytest


def get(url):
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_root_lists_every_sample(sample_server, samples_dir):
    status, body = get(sample_server.url + "/")
    assert status == 200
    text = body.decode()
    names = sorted(p.name for p in samples_dir.iterdir() if not p.name.startswith("."))
    assert names, "no samples were written"
    for name in names:
        assert f'href="{name}' in text, name


@pytest.mark.parametrize(
    "path",
    [
        "/../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E%2Fetc%2Fpasswd",
        "/..%5c..%5cetc%5cpasswd",
        "/etc/passwd",
        "//etc/passwd",
    ],
)
def test_paths_outside_the_root_are_refused(sample_server, path):
    # urllib would normalise the path; send it as it is.
    import http.client

    host = sample_server.url.removeprefix("http://")
    conn = http.client.HTTPConnection(host)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    assert r.status in (400, 404)
    assert b"root:" not in body
