"""OGC API – EDR collections and the STAC catalog of datasets in an S3 bucket.

SeaweedFS serves a bucket prefix that fathom mounts at `/cloud/grids`; owslib's EDR client
queries the objects and must read what xarray reads from the local files; pystac walks the
bucket's catalogs and validates every item; a repeated walk opens no object again.
"""

import json
import shutil
import time

import numpy as np
import pytest
import requests
import xarray as xr

from cloud_servers import Weed, fathom, get, object_counts
from conftest import SAMPLES
from test_ogc import DATACUBE_URI, as_array, check_coverage, open_cf_grid, stac_validator

BUCKET, PREFIX = "ogc", "grids"
MOUNT = "/cloud/grids"


@pytest.fixture(scope="module")
def bucket(tmp_path_factory, sample_server):
    tmp = tmp_path_factory.mktemp("ogc-objects")
    (tmp / "weed").mkdir()
    (tmp / "root").mkdir()
    shutil.copy(SAMPLES / "types.nc", tmp / "root" / "types.nc")
    weed = Weed(tmp / "weed")
    s3 = weed.client()
    s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(str(SAMPLES / "cf_grid.nc"), BUCKET, f"{PREFIX}/cf_grid.nc")
    s3.upload_file(str(SAMPLES / "classic.nc"), BUCKET, f"{PREFIX}/deep/classic.nc")
    s3.upload_file(str(SAMPLES / "types.nc"), BUCKET, f"{PREFIX}/types.nc")
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/notes.nc", Body=b"these are not netCDF bytes\n" * 10)
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/readme.txt", Body=b"a file, not a dataset\n")
    config = f"""
[[mounts]]
path = "{MOUNT}"
url = "s3://{BUCKET}/{PREFIX}"
endpoint = "{weed.endpoint}"
allow_http = true
"""
    server = fathom([str(tmp / "root")], config=config, tmp=tmp)
    yield {"server": server, "s3": s3, "weed": weed}
    alive = server.alive()
    server.stop()
    weed.stop()
    assert alive, "fathom died during the tests"


def collections(url) -> dict:
    r = requests.get(f"{url}/ogc/collections", timeout=60)
    assert r.status_code == 200
    return {c["id"]: c for c in r.json()["collections"]}


def test_objects_are_collections_with_the_local_files_extent_and_parameters(bucket, sample_server):
    url = bucket["server"].url
    cols = collections(url)
    # Gridded objects are collections; a dataset without a grid, a damaged object and a plain
    # file are not.
    assert set(cols) == {"cloud:grids:cf_grid.nc", "cloud:grids:deep:classic.nc"}
    local = collections(sample_server.url)
    for obj, name in [("cloud:grids:cf_grid.nc", "cf_grid.nc"), ("cloud:grids:deep:classic.nc", "classic.nc")]:
        assert cols[obj]["extent"] == local[name]["extent"]
        assert cols[obj]["parameter_names"] == local[name]["parameter_names"]
        one = requests.get(f"{url}/ogc/collections/{obj}", timeout=60)
        assert one.status_code == 200
        assert one.json()["extent"] == local[name]["extent"]
    assert cols["cloud:grids:cf_grid.nc"]["extent"]["spatial"]["bbox"] == [[-180, -60, 150, 60]]


def test_owslib_cube_and_position_on_an_object_equal_xarray_sel_of_the_local_file(bucket):
    from owslib.ogcapi.edr import EnvironmentalDataRetrieval

    client = EnvironmentalDataRetrieval(f"{bucket['server'].url}/ogc")
    cube = client.query_data(
        "cloud:grids:cf_grid.nc",
        "cube",
        bbox=[-65, -25, 35, 45],
        datetime_="2000-02-28T00:00:00Z/2000-03-01T00:00:00Z",
        parameter_names=["temp", "salt"],
    )
    check_coverage(cube)
    assert cube["domain"]["axes"]["x"]["values"] == [-60, -30, 0, 30]
    assert cube["domain"]["axes"]["y"]["values"] == [40, 20, 0, -20]
    point = client.query_data("cloud:grids:cf_grid.nc", "position", coords="POINT(33 21)", z="10")
    check_coverage(point)
    assert point["domain"]["axes"]["x"]["values"] == [30]
    with open_cf_grid() as ds:
        sel = ds.sel(lon=slice(-65, 35), lat=slice(45, -25), time=slice("2000-02-28", "2000-03-01"))
        near = ds.sel(lon=33, lat=21, method="nearest").sel(depth=10)
        for name, dtype in [("temp", np.float32), ("salt", np.float64)]:
            want = sel[name].transpose("time", "depth", "lat", "lon").values
            got = as_array(cube["ranges"][name], dtype)
            assert got.shape == want.shape == (2, 3, 4, 4)
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(as_array(point["ranges"][name], dtype), near[name].values)
    # A packed grid one folder deeper in the bucket.
    doc = client.query_data("cloud:grids:deep:classic.nc", "cube", bbox=[-50, -20, 50, 20])
    check_coverage(doc)
    with xr.open_dataset(SAMPLES / "classic.nc") as ds:
        sel = ds.sel(lat=slice(-20, 20)).isel(lon=[7, 0, 1])
        want = sel["pressure"].transpose("time", "lat", "lon").values
        np.testing.assert_array_equal(as_array(doc["ranges"]["pressure"], np.float32), want)


def test_edr_on_objects_answers_bad_queries_with_ogc_errors(bucket):
    url = bucket["server"].url
    for path, status in [
        ("/ogc/collections/cloud:grids:notes.nc", 404),  # damaged: no dataset
        ("/ogc/collections/cloud:grids:missing.nc", 404),
        ("/ogc/collections/cloud:grids:types.nc", 404),  # a dataset without a grid
        ("/ogc/collections/cloud:grids:cf_grid.nc/position?coords=POINT(0 91)", 400),
        ("/ogc/collections/cloud:grids:cf_grid.nc/cube?bbox=100,70,120,80", 204),
        ("/ogc/collections/cloud:grids:cf_grid.nc/cube?bbox=-180,-90,180,90&parameter-name=nope", 400),
    ]:
        r = requests.get(url + path, timeout=60)
        assert r.status_code == status, (path, r.text[:300])
        if status >= 400:
            assert r.headers["content-type"].startswith("application/json"), path
            assert r.json()["description"], path


def test_a_second_walk_opens_no_object_and_a_replaced_object_is_seen(bucket):
    url = bucket["server"].url
    collections(url)
    requests.get(f"{url}/stac/cloud/grids/catalog.json", timeout=60)
    before = object_counts(bucket["server"])
    for _ in range(3):
        assert "cloud:grids:cf_grid.nc" in collections(url)
        assert requests.get(f"{url}/stac/cloud/grids/catalog.json", timeout=60).status_code == 200
    after = object_counts(bucket["server"])
    # No ranged read and no HEAD: every object version is remembered, listings are cached.
    assert after == before, (before, after)
    # A new version of an object (another grid under the same key) is a new collection extent.
    bucket["s3"].upload_file(str(SAMPLES / "cf_grid.nc"), BUCKET, f"{PREFIX}/deep/classic.nc")
    time.sleep(2.2)  # the listing cache's time to live
    cols = collections(url)
    assert cols["cloud:grids:deep:classic.nc"]["extent"]["spatial"]["bbox"] == [[-180, -60, 150, 60]]
    assert cols["cloud:grids:deep:classic.nc"]["parameter_names"].keys() == {"temp", "salt"}
    bucket["s3"].upload_file(str(SAMPLES / "classic.nc"), BUCKET, f"{PREFIX}/deep/classic.nc")


def test_pystac_walks_the_bucket_and_every_item_validates(bucket):
    import pystac

    url = bucket["server"].url
    stac_validator()
    cat = pystac.Catalog.from_file(f"{url}/stac/catalog.json")
    cat.validate_all()
    # The local folder's dataset, and the mount's folders down to the bucket prefix.
    assert [c.id for c in cat.get_children()] == ["cloud"]
    assert [i.id for i in cat.get_items()] == ["types.nc"]
    items = {i.id: i for i in cat.get_items(recursive=True)}
    assert set(items) == {"types.nc", "cloud:grids:cf_grid.nc", "cloud:grids:types.nc", "cloud:grids:deep:classic.nc"}
    for item in items.values():
        assert DATACUBE_URI in item.stac_extensions
        item.validate()
    grid = items["cloud:grids:cf_grid.nc"]
    assert grid.bbox == [-180, -60, 150, 60]
    assert grid.properties["start_datetime"] == "2000-02-27T00:00:00Z"
    assert grid.properties["end_datetime"] == "2000-03-02T12:00:00Z"
    assert grid.properties["cube:variables"]["temp"]["dimensions"] == ["time", "depth", "lat", "lon"]
    assets = grid.assets
    assert assets["data"].href == f"{url}{MOUNT}/cf_grid.nc"
    assert assets["data"].media_type == pystac.MediaType.NETCDF
    assert requests.get(assets["data"].href, timeout=60).content == (SAMPLES / "cf_grid.nc").read_bytes()
    dmr = requests.get(assets["opendap-dap4"].href, timeout=60)
    assert dmr.status_code == 200 and b'name="temp"' in dmr.content
    assert requests.get(assets["opendap-dap2"].href, timeout=60).status_code == 200
    assert assets["edr"].href == f"{url}/ogc/collections/cloud:grids:cf_grid.nc"
    # A dataset without a grid: null geometry, in the bucket as on disk.
    assert items["cloud:grids:types.nc"].geometry is None
    assert items["cloud:grids:types.nc"].bbox is None
    # A damaged object and a plain file are not items, and their item documents are 404.
    for name in ["notes.nc", "readme.txt", "missing.nc"]:
        r = requests.get(f"{url}/stac{MOUNT}/{name}.json", timeout=60)
        assert r.status_code == 404, name
        assert r.json()["description"]
    assert requests.get(f"{url}/stac{MOUNT}/nofolder/catalog.json", timeout=60).status_code == 404
