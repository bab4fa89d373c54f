"""Object mounts beyond opening: DMR++ sidecars found through the listing and versioned with
their object, DMR++ files alone served as their dataset, raw downloads with `Range`, Zarr on
objects, and the listing of an HTTP folder of plain files.

SeaweedFS (S3 with SigV4) and nginx are started here as in `test_cloud.py`; what real clients
read is compared with a local read of the same files.
"""

import json
import re
import shutil
import subprocess
import time
import warnings

import h5py
import netCDF4
import numpy as np
import pytest
import requests
import xarray as xr

from conftest import SAMPLES, fathom_bin
from cloud_servers import Nginx, Weed, fathom, get, object_counts

BUCKET = "data"
PREFIX = "objs"


def _bes_data():
    from test_dmrpp import BES_DATA as found

    return found


def names(url) -> dict:
    s, _, b = get(url)
    assert s == 200, (url, s, b)
    doc = json.loads(b)
    assert isinstance(doc, dict), (url, b[:300])
    return {e["name"]: e["kind"] for e in doc["entries"]}


@pytest.fixture(scope="module")
def objs(tmp_path_factory, sample_server):
    tmp = tmp_path_factory.mktemp("objs")
    local = tmp / "local"
    local.mkdir()
    bes = _bes_data()
    for f in ["chunked.nc", "classic.nc", "cf_grid.nc"]:
        shutil.copy(SAMPLES / f, local / f)
    shutil.copy(bes / "d_int.h5", local / "d_int.h5")
    subprocess.run([str(fathom_bin()), "index", str(local / "chunked.nc"), "-o",
                    str(local / "chunked.nc.dmrpp")], check=True, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (tmp / "weed").mkdir()
    weed = Weed(tmp / "weed")
    s3 = weed.client()
    s3.create_bucket(Bucket=BUCKET)
    for f in ["chunked.nc", "chunked.nc.dmrpp", "classic.nc", "cf_grid.nc"]:
        s3.upload_file(str(local / f), BUCKET, f"{PREFIX}/{f}")
    # DMR++ files alone: their data object elsewhere under the mount, named relatively, by an
    # s3:// URL of the bucket, by a path-style URL of the endpoint; and ones naming what lies
    # outside the mount.
    s3.upload_file(str(local / "d_int.h5"), BUCKET, f"{PREFIX}/hdf/d_int.h5")
    s3.upload_file(str(local / "d_int.h5"), BUCKET, "elsewhere/d_int.h5")
    text = (bes / "d_int.h5.dmrpp").read_text()
    assert len(re.findall(r'dmrpp:href="[^"]*"', text)) == 1
    alone = {
        "d_int.h5": "../hdf/d_int.h5",
        "s3ref.h5": f"s3://{BUCKET}/{PREFIX}/hdf/d_int.h5",
        "pathstyle.h5": f"{weed.endpoint}/{BUCKET}/{PREFIX}/hdf/d_int.h5",
        "outside.h5": f"s3://{BUCKET}/elsewhere/d_int.h5",
        "escape.h5": "../../elsewhere/d_int.h5",
        "away.h5": "https://s3.amazonaws.com/cloudydap/samples/d_int.h5",
        "missing.h5": "../hdf/no_such.h5",
    }
    for name, href in alone.items():
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/alone/{name}.dmrpp",
                      Body=re.sub(r'dmrpp:href="[^"]*"', f'dmrpp:href="{href}"', text).encode())
    # Beside its object, a DMR++ reads from that object whatever its href says.
    s3.upload_file(str(local / "d_int.h5"), BUCKET, f"{PREFIX}/beside/d_int.h5")
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/beside/d_int.h5.dmrpp", Body=text.encode())
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/beside/readme.txt", Body=b"hello\n")
    nginx = Nginx(tmp / "nginx", root=local)
    nginx_json = Nginx(tmp / "nginx-json", root=local, autoindex_format="json")
    config = f"""
[[mounts]]
path = "/cloud"
url = "s3://{BUCKET}/{PREFIX}"
endpoint = "{weed.endpoint}"
allow_http = true

[[mounts]]
path = "/web"
url = "{nginx.url}/"
protocol = "files"

[[mounts]]
path = "/webjson"
url = "{nginx_json.url}/"
protocol = "files"
"""
    server = fathom([str(local), "--set", "isolate_readers=false"], config=config, tmp=tmp)
    yield {"tmp": tmp, "local": local, "weed": weed, "s3": s3, "nginx": nginx,
           "server": server, "text": text}
    alive = server.alive()
    server.stop()
    nginx.stop()
    nginx_json.stop()
    weed.stop()
    assert alive, "the server died"


# --- 1. the sidecar of an object: found through the listing, versioned with it -------------


def test_a_fresh_listing_spares_the_request_for_a_missing_dmrpp(objs):
    srv = objs["server"]
    time.sleep(2.2)  # no listing of the folder is fresh
    before = object_counts(srv)
    s, _, b = get(f"{srv.url}/cloud/classic.nc.dds")
    assert s == 200, b
    after = object_counts(srv)
    # Without a listing: the HEAD of the object and the GET of `classic.nc.dmrpp` (a 404).
    assert after[1] - before[1] == 2, (before, after)
    assert "chunked.nc" in names(f"{srv.url}/cloud/?format=json")
    before = object_counts(srv)
    s, _, b = get(f"{srv.url}/cloud/cf_grid.nc.dds")
    assert s == 200, b
    after = object_counts(srv)
    # With a fresh listing that has no `cf_grid.nc.dmrpp`: the HEAD of the object only.
    assert after[1] - before[1] == 1, (before, after)
    # And one that has `chunked.nc.dmrpp`: the HEAD and the GET of the DMR++, no byte of the
    # object.
    before = object_counts(srv)
    s, _, dmr = get(f"{srv.url}/cloud/chunked.nc.dmr")
    assert s == 200, dmr
    after = object_counts(srv)
    assert after[1] - before[1] == 2 and after[0] == before[0], (before, after)


def test_replacing_only_the_dmrpp_is_seen_on_the_next_check(objs):
    srv, s3, local = objs["server"], objs["s3"], objs["local"]
    key = f"{PREFIX}/chunked.nc.dmrpp"
    xml = (local / "chunked.nc.dmrpp").read_text()
    s, _, dmr = get(f"{srv.url}/cloud/chunked.nc.dmr")
    assert s == 200 and b"replaced_index" not in dmr
    # A new DMR++ (an attribute added), the object untouched.
    marked = re.sub(r"(<Dataset[^>]*>)",
                    r'\1<Attribute name="replaced_index" type="String"><Value>yes</Value></Attribute>',
                    xml, count=1)
    assert marked != xml
    s3.put_object(Bucket=BUCKET, Key=key, Body=marked.encode())
    time.sleep(2.2)  # the validation time of an opened object, and the listing's
    s, _, dmr = get(f"{srv.url}/cloud/chunked.nc.dmr")
    assert s == 200 and b"replaced_index" in dmr, dmr[:400]
    # Removed: the object is opened itself, with the same values.
    s3.delete_object(Bucket=BUCKET, Key=key)
    time.sleep(2.2)
    s, _, dmr = get(f"{srv.url}/cloud/chunked.nc.dmr")
    assert s == 200 and b"replaced_index" not in dmr
    with netCDF4.Dataset(local / "chunked.nc") as lf, \
            netCDF4.Dataset(f"{srv.url}/cloud/chunked.nc#dap4") as rf:
        for name, v in lf.variables.items():
            np.testing.assert_array_equal(np.asarray(rf[name][...]), v[...])
    s3.upload_file(str(local / "chunked.nc.dmrpp"), BUCKET, key)
    # The index back: later tests must see it (a Zarr reader meeting the switch between its
    # metadata and chunk requests would see two layouts, as with any replaced dataset).
    time.sleep(2.2)
    s, _, dmr = get(f"{srv.url}/cloud/chunked.nc.dmr")
    assert s == 200


# --- 2. listings: sidecars hidden, DMR++ alone as its dataset ------------------------------


def test_listings_hide_sidecars_and_show_a_dmrpp_alone_as_its_dataset(objs):
    srv = objs["server"]
    top = names(f"{srv.url}/cloud/?format=json")
    assert top.get("chunked.nc") == "dataset" and "chunked.nc.dmrpp" not in top, top
    beside = names(f"{srv.url}/cloud/beside/?format=json")
    assert beside == {"d_int.h5": "dataset", "readme.txt": "file"}, beside
    alone = names(f"{srv.url}/cloud/alone/?format=json")
    assert alone == {n: "dataset" for n in
                     ["d_int.h5", "s3ref.h5", "pathstyle.h5", "outside.h5", "escape.h5",
                      "away.h5", "missing.h5"]}, alone
    s, _, xml = get(f"{srv.url}/cloud/alone/catalog.xml")
    assert s == 200 and b'name="d_int.h5"' in xml and b".dmrpp" not in xml, xml
    s, _, page = get(f"{srv.url}/cloud/beside/")
    assert s == 200 and b"d_int.h5" in page and b"d_int.h5.dmrpp" not in page


def test_a_dmrpp_alone_is_served_as_its_dataset(objs):
    srv, local = objs["server"], objs["local"]
    with h5py.File(local / "d_int.h5") as f:
        truth = {k: f[k][()] for k in f if isinstance(f[k], h5py.Dataset)}
    assert len(truth) >= 2
    for name in ["alone/d_int.h5", "alone/s3ref.h5", "alone/pathstyle.h5", "beside/d_int.h5",
                 "alone/d_int.h5.dmrpp"]:
        for protocol in ["#dap4", ""]:
            with netCDF4.Dataset(f"{srv.url}/cloud/{name}{protocol}") as rf:
                for k, v in truth.items():
                    np.testing.assert_array_equal(np.asarray(rf[k][...]), v, err_msg=name)
    for name in ["outside.h5", "escape.h5", "away.h5"]:
        s, _, b = get(f"{srv.url}/cloud/alone/{name}.dap")
        assert 400 <= s < 600 and b"<Error" in b and b"is not an object under" in b, (name, s, b)
        s, _, b = get(f"{srv.url}/cloud/alone/{name}.dds")
        assert 400 <= s < 600 and b"Error {" in b, (name, s, b)
    s, _, b = get(f"{srv.url}/cloud/alone/missing.h5.dds")
    assert s == 404 and b"Error {" in b and b"does not exist" in b, (s, b)
    assert get(f"{srv.url}/cloud/alone/nothing.h5.dds")[0] == 404
    assert get(f"{srv.url}/cloud/classic.nc.dds")[0] == 200  # still serving


# --- 3. raw downloads with Range ------------------------------------------------------------


def test_raw_object_downloads_answer_ranges_and_validators(objs):
    srv, local = objs["server"], objs["local"]
    whole = (local / "classic.nc").read_bytes()
    n = len(whole)
    url = f"{srv.url}/cloud/classic.nc"
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content == whole
    assert r.headers["Accept-Ranges"] == "bytes" and r.headers["ETag"].startswith('"')
    etag = r.headers["ETag"]
    r = requests.get(url, headers={"Range": "bytes=10-99"}, timeout=30)
    assert r.status_code == 206 and r.content == whole[10:100]
    assert r.headers["Content-Range"] == f"bytes 10-99/{n}"
    assert r.headers["Content-Length"] == "90"
    r = requests.get(url, headers={"Range": "bytes=-16"}, timeout=30)
    assert r.status_code == 206 and r.content == whole[-16:]
    assert r.headers["Content-Range"] == f"bytes {n - 16}-{n - 1}/{n}"
    r = requests.get(url, headers={"Range": f"bytes={n - 5}-"}, timeout=30)
    assert r.status_code == 206 and r.content == whole[-5:]
    r = requests.get(url, headers={"Range": f"bytes={n}-"}, timeout=30)
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{n}"
    r = requests.get(url, headers={"If-None-Match": etag}, timeout=30)
    assert r.status_code == 304 and r.content == b""
    # If-Range naming another version: the whole object.
    r = requests.get(url, headers={"Range": "bytes=0-3", "If-Range": '"another"'}, timeout=30)
    assert r.status_code == 200 and r.content == whole
    r = requests.get(url, headers={"Range": "bytes=0-3", "If-Range": etag}, timeout=30)
    assert r.status_code == 206 and r.content == whole[:4] == b"CDF\x01"
    r = requests.head(url, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Length"] == str(n)
    out = subprocess.run(["curl", "-sS", "-r", "4-11", url], capture_output=True, check=True,
                         timeout=30).stdout
    assert out == whole[4:12]
    assert requests.get(f"{srv.url}/cloud/nothing.bin", headers={"Range": "bytes=0-1"},
                        timeout=30).status_code == 404


# --- 4. Zarr on objects ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["chunked.nc", "cf_grid.nc", "classic.nc"])
def test_xarray_open_zarr_on_an_object_reads_the_local_values(objs, name):
    srv, local = objs["server"], objs["local"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        remote = xr.open_zarr(f"{srv.url}/cloud/{name}.zarr").load()
        here = xr.open_zarr(f"{srv.url}/{name}.zarr").load()
    truth = xr.open_dataset(local / name).load()
    assert sorted(remote.data_vars) == sorted(here.data_vars)
    xr.testing.assert_identical(remote, here)
    for v in truth.data_vars:
        if v in remote and truth[v].dtype == remote[v].dtype:
            np.testing.assert_array_equal(remote[v].values, truth[v].values)
    assert requests.get(f"{srv.url}/cloud/{name}.zarr/no/such/key", timeout=30).status_code == 404
    assert requests.get(f"{srv.url}/cloud/nothing.nc.zarr/.zmetadata",
                        timeout=30).status_code == 404


# --- 5. the listing of an HTTP folder (nginx autoindex) -------------------------------------


def test_an_http_folder_is_listed_from_its_autoindex_page(objs):
    srv, local = objs["server"], objs["local"]
    (local / "sub dir").mkdir(exist_ok=True)
    shutil.copy(local / "classic.nc", local / "sub dir" / "inner file.nc")
    listed = names(f"{srv.url}/web/?format=json")
    for f in ["chunked.nc", "classic.nc", "cf_grid.nc", "d_int.h5"]:
        assert listed.get(f) == "dataset", (f, listed)
    assert listed.get("sub dir") == "folder", listed
    # A DMR++ beside its file is hidden there too.
    assert "chunked.nc.dmrpp" not in listed
    s, _, b = get(f"{srv.url}/web/?format=json")
    sizes = {e["name"]: e.get("size") for e in json.loads(b)["entries"]}
    assert sizes["classic.nc"] == (local / "classic.nc").stat().st_size
    inner = names(f"{srv.url}/web/sub%20dir/?format=json")
    assert inner == {"inner file.nc": "dataset"}, inner
    s, _, xml = get(f"{srv.url}/web/sub%20dir/catalog.xml")
    assert s == 200 and b"inner file.nc" in xml
    s, _, page = get(f"{srv.url}/web/")
    assert s == 200 and b"cf_grid.nc" in page
    # The listed dataset opens, and a folder that is not there is a 404.
    with netCDF4.Dataset(f"{srv.url}/web/sub%20dir/inner%20file.nc") as rf, \
            netCDF4.Dataset(local / "classic.nc") as lf:
        for name, v in lf.variables.items():
            np.testing.assert_array_equal(np.asarray(rf[name][...]), v[...])
    assert get(f"{srv.url}/web/no-such-folder/")[0] == 404
    # Asking for a file as a folder reads no more than its first bytes, and is a 404.
    assert get(f"{srv.url}/web/classic.nc/")[0] == 404


def test_an_http_folder_listed_as_autoindex_json_is_the_same_folder(objs):
    """nginx's `autoindex_format json` gives the same listing as its HTML page, with sizes and
    modification times to the second, and its datasets open alike."""
    srv, local = objs["server"], objs["local"]
    (local / "json dir").mkdir(exist_ok=True)
    shutil.copy(local / "classic.nc", local / "json dir" / "odd&name%.nc")
    time.sleep(2.2)  # no listing of the folder is fresh (LIST_TTL), in either mount
    assert names(f"{srv.url}/webjson/?format=json") == names(f"{srv.url}/web/?format=json")
    s, _, b = get(f"{srv.url}/webjson/?format=json")
    assert s == 200, b
    entries = {e["name"]: e for e in json.loads(b)["entries"]}
    for f in ["chunked.nc", "classic.nc", "cf_grid.nc", "d_int.h5"]:
        assert entries[f].get("size") == (local / f).stat().st_size, entries[f]
    assert "chunked.nc.dmrpp" not in entries
    inner = names(f"{srv.url}/webjson/json%20dir/?format=json")
    assert inner == {"odd&name%.nc": "dataset"}, inner
    with netCDF4.Dataset(f"{srv.url}/webjson/json%20dir/odd%26name%25.nc") as rf, \
            netCDF4.Dataset(local / "classic.nc") as lf:
        for name, v in lf.variables.items():
            np.testing.assert_array_equal(np.asarray(rf[name][...]), v[...])
    assert get(f"{srv.url}/webjson/no-such-folder/")[0] == 404

