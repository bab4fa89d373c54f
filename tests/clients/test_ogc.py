"""OGC API – EDR, CoverageJSON, the OpenAPI document and STAC, read by their real clients.

owslib asks EDR `cube` and `position` queries and the values must equal an xarray `.sel` of the
local file; every CoverageJSON validates against the CoverageJSON 1.0 schema (jsonschema) and
parses with covjson-pydantic; edr-pydantic parses the metadata documents; the OpenAPI document
passes openapi-spec-validator, every route it lists answers, and a bounded schemathesis run finds
no server error and no response the document does not allow; pystac walks the STAC catalog and
validates every item, the datacube extension against a vendored schema (no network).
"""

import json
import shutil
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import requests
import xarray as xr

from conftest import SAMPLES, Server

DATA = Path(__file__).resolve().parent / "data"
COVJSON_SCHEMA = DATA / "schemas" / "coveragejson" / "coveragejson.json"
DATACUBE_SCHEMA = DATA / "schemas" / "stac" / "datacube-v2.3.0.json"
DATACUBE_URI = "https://stac-extensions.github.io/datacube/v2.3.0/schema.json"
PROJJSON_SCHEMA = DATA / "schemas" / "stac" / "projjson-v0.7.json"
PROJJSON_URI = "https://proj.org/schemas/v0.7/projjson.schema.json"


@pytest.fixture(scope="module")
def edr(sample_server):
    return sample_server.url


def local(name):
    return SAMPLES / name


def covjson_validator():
    import jsonschema

    schema = json.loads(COVJSON_SCHEMA.read_text())
    return jsonschema.Draft7Validator(schema)


def open_cf_grid():
    """cf_grid.nc as xarray reads it, its noleap times as cftime dates."""
    return xr.open_dataset(local("cf_grid.nc"), decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))


def check_coverage(doc):
    """The document is valid CoverageJSON for both the schema and covjson-pydantic."""
    from covjson_pydantic.coverage import Coverage

    errors = sorted(covjson_validator().iter_errors(doc), key=str)
    assert not errors, errors[0].message
    Coverage.model_validate_json(json.dumps(doc))


def as_array(rng, dtype):
    values = [np.nan if v is None else v for v in rng["values"]]
    return np.array(values, dtype=dtype).reshape(rng["shape"])


# --- EDR queries with owslib, compared with xarray --------------------------------------------


def test_owslib_cube_equals_xarray_sel_on_descending_lat_noleap_time(edr):
    from owslib.ogcapi.edr import EnvironmentalDataRetrieval

    client = EnvironmentalDataRetrieval(f"{edr}/ogc")
    assert "cf_grid.nc" in [c["id"] for c in client.collections()["collections"]]
    doc = client.query_data(
        "cf_grid.nc",
        "cube",
        bbox=[-65, -25, 35, 45],
        datetime_="2000-02-28T00:00:00Z/2000-03-01T00:00:00Z",
        parameter_names=["temp", "salt"],
    )
    check_coverage(doc)
    axes = doc["domain"]["axes"]
    assert axes["x"]["values"] == [-60, -30, 0, 30]
    assert axes["y"]["values"] == [40, 20, 0, -20]  # north to south, as in the file
    assert axes["z"]["values"] == [0, 10, 50]
    # noleap: the day after 2000-02-28 is 2000-03-01.
    assert axes["t"]["values"] == ["2000-02-28T00:00:00Z", "2000-03-01T00:00:00Z"]
    with open_cf_grid() as ds:
        sel = ds.sel(lon=slice(-65, 35), lat=slice(45, -25), time=slice("2000-02-28", "2000-03-01"))
        for name, dtype in [("temp", np.float32), ("salt", np.float64)]:
            rng = doc["ranges"][name]
            assert rng["axisNames"] == ["t", "z", "y", "x"]
            got = as_array(rng, dtype)
            want = sel[name].transpose("time", "depth", "lat", "lon").values
            assert got.shape == want.shape == (2, 3, 4, 4)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
        # The fill cell (1, 2, 3, 6) and the NaN cell (2, 1, 2, 7) are null.
        temp = doc["ranges"]["temp"]["values"]
        assert temp.count(None) == int(np.isnan(sel["temp"].values).sum()) == 2


def test_owslib_cube_across_the_seam_of_a_0_360_grid_with_packed_values(edr):
    from owslib.ogcapi.edr import EnvironmentalDataRetrieval

    client = EnvironmentalDataRetrieval(f"{edr}/ogc")
    doc = client.query_data("classic.nc", "cube", bbox=[-50, -20, 50, 20])
    check_coverage(doc)
    # classic.nc has longitudes 0..315: the box -50..50 is 315 (shown as -45), 0, 45.
    assert doc["domain"]["axes"]["x"]["values"] == [-45, 0, 45]
    with xr.open_dataset(local("classic.nc")) as ds:
        sel = ds.sel(lat=slice(-20, 20)).isel(lon=[7, 0, 1])
        assert doc["domain"]["axes"]["y"]["values"] == sel["lat"].values.tolist()
        for name in ["temperature", "pressure"]:
            want = sel[name].transpose("time", "lat", "lon").values
            assert want.dtype == np.float32  # pressure: int16 unpacked by float scale/offset
            got = as_array(doc["ranges"][name], np.float32)
            np.testing.assert_array_equal(got, want)


def test_owslib_position_is_the_nearest_cell_time_series(edr):
    from owslib.ogcapi.edr import EnvironmentalDataRetrieval

    client = EnvironmentalDataRetrieval(f"{edr}/ogc")
    doc = client.query_data("cf_grid.nc", "position", coords="POINT(33 21)", z="10")
    check_coverage(doc)
    assert doc["domain"]["domainType"] == "PointSeries"
    assert doc["domain"]["axes"]["x"]["values"] == [30]
    assert doc["domain"]["axes"]["y"]["values"] == [20]
    with open_cf_grid() as ds:
        want = ds.sel(lon=33, lat=21, method="nearest").sel(depth=10)
        assert len(doc["domain"]["axes"]["t"]["values"]) == ds.sizes["time"]
        for name, dtype in [("temp", np.float32), ("salt", np.float64)]:
            got = as_array(doc["ranges"][name], dtype)
            np.testing.assert_array_equal(got, want[name].values)


def test_position_on_the_other_side_of_the_antimeridian_and_single_instant(edr):
    r = requests.get(
        f"{edr}/ogc/collections/classic.nc/position",
        params={"coords": "POINT(-44 44)", "datetime": "2000-01-01T06:00:00Z"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/prs.coverage+json"
    doc = r.json()
    check_coverage(doc)
    assert doc["domain"]["domainType"] == "Point"
    with xr.open_dataset(local("classic.nc")) as ds:
        # -44 is 316 east: the nearest of 0..315 is 315.
        want = ds.sel(lon=316, lat=44, time="2000-01-01T06:00", method="nearest")
        assert doc["domain"]["axes"]["x"]["values"] == [315]
        (value,) = doc["ranges"]["temperature"]["values"]
        assert np.float32(value) == want["temperature"].values


def test_area_keeps_the_cells_whose_centres_are_inside(edr):
    # A triangle: west edge at lon -65, from lat -25 to 45, apex at (35, -25).
    poly = "POLYGON((-65 -25, 35 -25, -65 45, -65 -25))"
    r = requests.get(
        f"{edr}/ogc/collections/cf_grid.nc/area",
        params={"coords": poly, "parameter-name": "salt", "z": "0", "datetime": "2000-02-27T00:00:00Z"},
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    check_coverage(doc)
    xs = doc["domain"]["axes"]["x"]["values"]
    ys = doc["domain"]["axes"]["y"]["values"]
    got = as_array(doc["ranges"]["salt"], np.float64).reshape(len(ys), len(xs))
    with open_cf_grid() as ds:
        cell = ds["salt"].isel(time=0).sel(depth=0)
        for j, y in enumerate(ys):
            for i, x in enumerate(xs):
                # Inside the triangle: x - (-65) < 100 * (45 - y) / 70.
                inside = (x + 65) < 100 * (45 - y) / 70 and y > -25
                if inside:
                    assert got[j, i] == float(cell.sel(lat=y, lon=x).values)
                else:
                    assert np.isnan(got[j, i]), (x, y)
    assert np.isnan(got).any() and not np.isnan(got).all()


# --- f=netCDF: the same cells as a netCDF file ---------------------------------------------


def open_netcdf_answer(r, tmp_path):
    """The netCDF answer of response `r` read back with netCDF4-python and xarray."""
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-netcdf"
    assert r.headers["content-disposition"] == 'attachment; filename="cf_grid.nc"'
    path = tmp_path / "answer.nc"
    path.write_bytes(r.content)
    return path


def test_cube_as_netcdf_equals_xarray_sel_and_the_coveragejson_answer(edr, tmp_path):
    import netCDF4
    from owslib.ogcapi.edr import EnvironmentalDataRetrieval

    url = f"{edr}/ogc/collections/cf_grid.nc/cube"
    query = {
        "bbox": "-65,-25,35,45",
        "datetime": "2000-02-28T00:00:00Z/2000-03-01T00:00:00Z",
        "parameter-name": "temp,salt",
    }
    doc = EnvironmentalDataRetrieval(f"{edr}/ogc").query_data(
        "cf_grid.nc",
        "cube",
        bbox=[-65, -25, 35, 45],
        datetime_=query["datetime"],
        parameter_names=["temp", "salt"],
    )
    for spelling in ["netCDF", "NetCDF", "netcdf", "nc"]:
        r = requests.get(url, params={**query, "f": spelling})
        path = open_netcdf_answer(r, tmp_path)
    with netCDF4.Dataset(path) as nc:
        # Only the parameters asked for, with their coordinate variables.
        assert set(nc.variables) == {"temp", "salt", "time", "depth", "lat", "lon"}
        assert nc["temp"].dimensions == ("time", "depth", "lat", "lon")
        assert nc["time"].calendar == "noleap"
    with xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as got, open_cf_grid() as ds:
        sel = ds.sel(lon=slice(-65, 35), lat=slice(45, -25), time=slice("2000-02-28", "2000-03-01"))
        assert dict(got.sizes) == {"time": 2, "depth": 3, "lat": 4, "lon": 4}
        for c in ["time", "depth", "lat", "lon"]:
            np.testing.assert_array_equal(got[c].values, sel[c].values)
        assert list(got["lon"].values) == doc["domain"]["axes"]["x"]["values"]
        assert list(got["lat"].values) == doc["domain"]["axes"]["y"]["values"]
        assert list(got["depth"].values) == doc["domain"]["axes"]["z"]["values"]
        for name, dtype in [("temp", np.float32), ("salt", np.float64)]:
            want = sel[name].transpose("time", "depth", "lat", "lon").values
            assert got[name].dtype == want.dtype
            np.testing.assert_array_equal(got[name].values, want)
            np.testing.assert_array_equal(got[name].values, as_array(doc["ranges"][name], dtype))
            assert got[name].attrs == {k: v for k, v in sel[name].attrs.items()}
        assert int(np.isnan(got["temp"].values).sum()) == 2


def test_area_and_position_as_netcdf_are_the_cells_the_coveragejson_selects(edr, tmp_path):
    base = f"{edr}/ogc/collections/cf_grid.nc"
    # A rectangle polygon: every cell of its window is inside.
    area = {"coords": "POLYGON((-65 -25, 35 -25, 35 45, -65 45, -65 -25))", "parameter-name": "salt", "z": "0"}
    doc = requests.get(f"{base}/area", params=area).json()
    path = open_netcdf_answer(requests.get(f"{base}/area", params={**area, "f": "netCDF"}), tmp_path)
    with xr.open_dataset(path, decode_times=False) as got, open_cf_grid() as ds:
        assert list(got.data_vars) == ["salt"]
        assert list(got["lon"].values) == doc["domain"]["axes"]["x"]["values"]
        assert list(got["lat"].values) == doc["domain"]["axes"]["y"]["values"]
        want = ds["salt"].sel(lon=slice(-65, 35), lat=slice(45, -25), depth=[0]).values
        np.testing.assert_array_equal(got["salt"].values, want)
        np.testing.assert_array_equal(
            got["salt"].values.ravel(), as_array(doc["ranges"]["salt"], np.float64).ravel()
        )
    # A triangle keeps only some cells of its window: netCDF cannot say which, so 400.
    tri = {"coords": "POLYGON((-65 -25, 35 -25, -65 45, -65 -25))", "f": "netCDF"}
    r = requests.get(f"{base}/area", params=tri)
    assert r.status_code == 400 and "polygon" in r.json()["description"]
    # position: the nearest cell's time series, as a file.
    pos = {"coords": "POINT(-28 21)", "parameter-name": "temp", "z": "10"}
    doc = requests.get(f"{base}/position", params=pos).json()
    path = open_netcdf_answer(requests.get(f"{base}/position", params={**pos, "f": "nc"}), tmp_path)
    with xr.open_dataset(path, decode_times=False) as got, open_cf_grid() as ds:
        assert dict(got.sizes) == {"time": ds.sizes["time"], "depth": 1, "lat": 1, "lon": 1}
        assert float(got["lon"][0]) == -30 and float(got["lat"][0]) == 20
        want = ds["temp"].sel(lon=-30, lat=20, depth=10).values
        np.testing.assert_array_equal(got["temp"].values.ravel(), want)
        np.testing.assert_array_equal(got["temp"].values.ravel(), as_array(doc["ranges"]["temp"], np.float32).ravel())


def test_netcdf_limits_and_formats(serve, edr):
    # The collection says it serves netCDF.
    meta = requests.get(f"{edr}/ogc/collections/cf_grid.nc").json()
    assert meta["output_formats"] == ["CoverageJSON", "netCDF"]
    assert "netCDF" in meta["data_queries"]["cube"]["link"]["variables"]["output_formats"]
    server = serve([local("cf_grid.nc")], ["--set", "edr_max_values=100"])
    url = f"{server.url}/ogc/collections/cf_grid.nc/cube"
    r = requests.get(url, params={"bbox": "-180,-90,180,90", "f": "netCDF"})
    assert r.status_code == 413 and "smaller bbox" in r.json()["description"]
    server = serve([local("cf_grid.nc")], ["--set", "max_response_bytes=2000"])
    url = f"{server.url}/ogc/collections/cf_grid.nc/cube"
    r = requests.get(url, params={"bbox": "-180,-90,180,90", "f": "netCDF"})
    assert r.status_code == 413, r.text
    assert "smaller bbox" in r.json()["description"]
    small = requests.get(url, params={"bbox": "0,0,30,20", "parameter-name": "temp", "z": "0", "f": "netCDF"})
    assert small.status_code == 200 and small.content[:3] == b"CDF"
    r = requests.get(url, params={"bbox": "0,0,30,20", "f": "GRIB"})
    assert r.status_code == 400 and "netCDF" in r.json()["description"]


# --- a curvilinear grid: 2-D latitude and longitude through the CF coordinates attribute ------


def curvilinear_local():
    """curvilinear.nc as netCDF4-python reads it: lon, lat (y, x), sst (time, y, x) masked."""
    import netCDF4

    with netCDF4.Dataset(local("curvilinear.nc")) as ds:
        lon, lat = ds["lon"][:].data, ds["lat"][:].data
        sst = ds["sst"][:].filled(np.nan)
        times = netCDF4.num2date(ds["time"][:], ds["time"].units, only_use_cftime_datetimes=False)
    return lon, lat, sst, [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in times]


def inside_ring(x, y, ring):
    """Even-odd rule, as the EDR area query selects cell centres."""
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def test_curvilinear_collection_extent_comes_from_the_2d_coordinates(edr):
    lon, lat, _, times = curvilinear_local()
    one = requests.get(f"{edr}/ogc/collections/curvilinear.nc").json()
    assert one["extent"]["spatial"]["bbox"] == [[lon.min(), lat.min(), lon.max(), lat.max()]]
    assert one["extent"]["temporal"]["interval"] == [[times[0], times[-1]]]
    assert list(one["parameter_names"]) == ["sst"]


def test_curvilinear_position_is_the_nearest_cell_by_great_circle_distance(edr):
    from owslib.ogcapi.edr import EnvironmentalDataRetrieval

    lon, lat, sst, times = curvilinear_local()
    client = EnvironmentalDataRetrieval(f"{edr}/ogc")
    for x, y in [(-35.0, 35.0), (-40.3, 30.1), (-31.0, 35.5)]:
        doc = client.query_data("curvilinear.nc", "position", coords=f"POINT({x} {y})")
        check_coverage(doc)
        p1, p2 = np.radians(y), np.radians(lat)
        h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon - x) / 2) ** 2
        j, i = np.unravel_index(np.argmin(h), lon.shape)
        axes = doc["domain"]["axes"]
        assert doc["domain"]["domainType"] == "PointSeries"
        assert (axes["x"]["values"], axes["y"]["values"]) == ([lon[j, i]], [lat[j, i]])
        assert axes["t"]["values"] == times
        np.testing.assert_array_equal(as_array(doc["ranges"]["sst"], np.float32), sst[:, j, i])
    # Far from every cell: no data (EDR 1.1 /req/edr/query_type/no-data).
    r = requests.get(f"{edr}/ogc/collections/curvilinear.nc/position", params={"coords": "POINT(0 0)"})
    assert r.status_code == 204


def test_curvilinear_cube_and_area_are_the_cells_whose_centres_are_inside(edr):
    lon, lat, sst, times = curvilinear_local()
    base = f"{edr}/ogc/collections/curvilinear.nc"
    w, s, e, n = -38, 32, -33, 37
    r = requests.get(f"{base}/cube", params={"bbox": f"{w},{s},{e},{n}", "datetime": times[1]})
    assert r.status_code == 200, r.text
    doc = r.json()
    check_coverage(doc)
    inside = (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)
    assert 0 < inside.sum() < inside.size
    assert doc["domain"]["domainType"] == "MultiPoint"
    composite = doc["domain"]["axes"]["composite"]
    assert composite["coordinates"] == ["x", "y"]
    assert composite["values"] == [[x, y] for x, y in zip(lon[inside], lat[inside])]  # row-major
    assert doc["domain"]["axes"]["t"]["values"] == [times[1]]
    rng = doc["ranges"]["sst"]
    assert rng["axisNames"] == ["composite"] and rng["shape"] == [int(inside.sum())]
    np.testing.assert_array_equal(as_array(rng, np.float32), sst[1][inside])
    assert np.isnan(as_array(rng, np.float32)).sum() == 1  # the fill cell is null
    # All times: a MultiPointSeries, t by composite.
    ring = [(-39, 31), (-30, 33), (-36, 40), (-39, 31)]
    coords = "POLYGON((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"
    doc = requests.get(f"{base}/area", params={"coords": coords}).json()
    check_coverage(doc)
    mask = np.array([[inside_ring(x, y, ring) for x, y in zip(rx, ry)] for rx, ry in zip(lon, lat)])
    assert 0 < mask.sum() < mask.size
    assert doc["domain"]["domainType"] == "MultiPointSeries"
    assert doc["domain"]["axes"]["composite"]["values"] == [[x, y] for x, y in zip(lon[mask], lat[mask])]
    assert doc["domain"]["axes"]["t"]["values"] == times
    rng = doc["ranges"]["sst"]
    assert rng["axisNames"] == ["t", "composite"] and rng["shape"] == [len(times), int(mask.sum())]
    np.testing.assert_array_equal(as_array(rng, np.float32), sst[:, mask])
    # Off the grid: no data.
    assert requests.get(f"{base}/cube", params={"bbox": "100,0,110,10"}).status_code == 204


def test_bad_queries_get_ogc_errors_with_the_right_status(edr):
    base = f"{edr}/ogc/collections"
    cases = [
        ("cf_grid.nc/cube", {}, 400, "bbox"),
        ("cf_grid.nc/cube", {"bbox": "1,2,3"}, 400, "four numbers"),
        ("cf_grid.nc/cube", {"bbox": "-10,-10,10,10", "parameter-name": "nope"}, 400, "no parameter"),
        ("cf_grid.nc/cube", {"bbox": "-10,-10,10,10", "datetime": "yesterday"}, 400, "ISO 8601"),
        ("cf_grid.nc/cube", {"bbox": "-10,-10,10,10", "datetime": "2000-02-29T00:00:00Z"}, 400, "noleap"),
        ("cf_grid.nc/cube", {"bbox": "-10,-10,10,10", "z": "abc"}, 400, "not a number"),
        ("cf_grid.nc/cube", {"bbox": "-10,-95,10,10"}, 400, "-90..90"),
        ("cf_grid.nc/cube", {"bbox": "-10,-10,10,10", "f": "GRIB"}, 400, "CoverageJSON"),
        ("cf_grid.nc/cube", {"bbox": "-10,-10,10,10", "crs": "EPSG:3857"}, 400, "CRS84"),
        ("cf_grid.nc/position", {"coords": "POINT(1)"}, 400, "POINT"),
        ("cf_grid.nc/position", {"coords": "POINT(0 91)"}, 400, "-90..90"),
        ("cf_grid.nc/area", {"coords": "POLYGON((0 0, 1 0, 1 1))"}, 400, "closed ring"),
        ("cf_grid.nc/radius", {"coords": "POINT(0 0)"}, 404, "query type"),
        ("nothing.nc/cube", {"bbox": "0,0,1,1"}, 404, "no collection"),
        ("..%2Fetc/cube", {"bbox": "0,0,1,1"}, 404, "no collection"),
        ("types.nc", {}, 404, "no collection"),  # a dataset without a CF grid
    ]
    for path, params, status, needle in cases:
        r = requests.get(f"{base}/{path}", params=params)
        assert r.status_code == status, (path, params, r.status_code, r.text)
        assert r.headers["content-type"] == "application/json"
        body = r.json()
        assert body["code"] == str(status)
        assert needle in body["description"], (path, body)


def test_queries_outside_the_collection_get_204_no_content(edr):
    # EDR 1.1 /req/edr/query_type/no-data: "SHALL return HTTP 204 for queries in which no data
    # exists"; its abstract test asks a shared query parameter outside the collection's extent.
    base = f"{edr}/ogc/collections/cf_grid.nc"
    cases = [
        ("cube", {"bbox": "100,70,120,80"}),
        ("position", {"coords": "POINT(0 89.9)"}),
        ("area", {"coords": "POLYGON((1 61, 2 61, 2 62, 1 61))"}),
        ("cube", {"bbox": "-10,-10,10,10", "datetime": "1990-01-01/1991-01-01"}),
        ("position", {"coords": "POINT(0 0)", "datetime": "2001-06-01T00:00:00Z"}),
        ("cube", {"bbox": "-10,-10,10,10", "z": "5000"}),
    ]
    for query, params in cases:
        r = requests.get(f"{base}/{query}", params=params)
        assert r.status_code == 204, (query, params, r.status_code, r.text)
        assert r.content == b""
    # The same queries inside the extent have data.
    r = requests.get(f"{base}/position", params={"coords": "POINT(0 0)", "datetime": "2000-03-01T00:00:00Z"})
    assert r.status_code == 200 and r.json()["type"] == "Coverage"


def test_a_query_over_the_limit_gets_413_saying_how_to_narrow_it(serve):
    server = serve([local("cf_grid.nc")], ["--set", "edr_max_values=100"])
    r = requests.get(f"{server.url}/ogc/collections/cf_grid.nc/cube", params={"bbox": "-180,-90,180,90"})
    assert r.status_code == 413
    assert "smaller bbox" in r.json()["description"]
    small = requests.get(
        f"{server.url}/ogc/collections/cf_grid.nc/cube",
        params={"bbox": "0,0,30,20", "parameter-name": "temp", "z": "0"},
    )
    assert small.status_code == 200, small.text


def test_numbers_round_trip_exactly(edr):
    r = requests.get(f"{edr}/ogc/collections/cf_grid.nc/cube", params={"bbox": "-180,-60,150,60"})
    doc = r.json()
    with open_cf_grid() as ds:
        temp = ds["temp"].values.ravel()
    texts = r.text.split('"temp":{"type":"NdArray"')[1].split('"values":[')[1].split("]")[0].split(",")
    assert len(texts) == temp.size
    for text, want in zip(texts, temp):
        if text == "null":
            assert np.isnan(want)
            continue
        # Reads back to the same float32, and is the shortest such text (numpy's too).
        assert np.float32(text) == want
        shortest = np.format_float_positional(want, unique=True)
        assert Decimal(text).normalize() == Decimal(shortest).normalize(), (text, shortest)
    assert doc["ranges"]["temp"]["dataType"] == "float"


# --- metadata documents ---------------------------------------------------------------------


def test_edr_pydantic_parses_landing_conformance_and_collections(edr):
    from edr_pydantic.capabilities import ConformanceModel, LandingPageModel
    from edr_pydantic.collections import Collection, Collections

    landing = requests.get(f"{edr}/ogc").json()
    LandingPageModel.model_validate_json(json.dumps(landing))
    rels = {link["rel"]: link for link in landing["links"]}
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["service-desc"]["href"].endswith("/ogc/api")
    conf = requests.get(f"{edr}/ogc/conformance").json()
    ConformanceModel.model_validate_json(json.dumps(conf))
    assert "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/core" in conf["conformsTo"]
    cols = requests.get(f"{edr}/ogc/collections").json()
    Collections.model_validate_json(json.dumps(cols))
    ids = {c["id"] for c in cols["collections"]}
    assert {"cf_grid.nc", "classic.nc"} <= ids
    assert "types.nc" not in ids
    one = requests.get(f"{edr}/ogc/collections/cf_grid.nc").json()
    Collection.model_validate_json(json.dumps(one))
    assert one["extent"]["spatial"]["bbox"] == [[-180, -60, 150, 60]]
    assert one["extent"]["temporal"]["interval"] == [["2000-02-27T00:00:00Z", "2000-03-02T12:00:00Z"]]
    assert one["extent"]["vertical"]["values"] == ["0", "10", "50"]
    assert one["parameter_names"]["temp"]["unit"]["symbol"] == "degree_Celsius"
    assert one["parameter_names"]["temp"]["observedProperty"]["label"] == "sea_water_temperature"
    assert set(one["data_queries"]) == {"position", "area", "cube"}
    html = requests.get(f"{edr}/ogc", headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")
    assert "cf_grid.nc" in html.text


def openapi_doc(url):
    r = requests.get(f"{url}/ogc/api")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    return r.json()


def test_openapi_document_is_valid_and_every_route_in_it_answers(edr):
    from openapi_spec_validator import validate

    doc = openapi_doc(edr)
    validate(doc)
    # A walk of every documented route with real values: each answers 200 with a documented
    # media type.
    values = {
        "dataset": "cf_grid.nc",
        "file": "cf_grid.nc",
        "collectionId": "cf_grid.nc",
        "key": "zarr.json",
        "folder": None,  # the sample root has no sub-folder: checked with serve() below
    }
    query = {
        "position": {"coords": "POINT(0 0)"},
        "area": {"coords": "POLYGON((-40 -10, 40 -10, 0 30, -40 -10))"},
        "cube": {"bbox": "-40,-10,40,30"},
        "{dataset}": {"var": "temp"},  # /ncss/grid/{dataset}
    }
    walked = 0
    for path, item in doc["paths"].items():
        assert set(item) == {"get", "head"}, path
        if "{folder}" in path or path.endswith("/collection.json"):
            # No sub-folder and no aggregation among the samples: both are walked in the STAC
            # tests below, on a tree that has them.
            continue
        url = path
        for name, value in values.items():
            url = url.replace("{" + name + "}", value or "")
        params = query.get(path.rsplit("/", 1)[-1], {})
        r = requests.get(f"{edr}{url}", params=params, allow_redirects=False)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
        media = r.headers["content-type"].split(";")[0]
        documented = [m.split(";")[0] for m in item["get"]["responses"]["200"]["content"]]
        assert media in documented, (path, media, documented)
        walked += 1
    assert walked >= 30


def test_methods_no_route_answers_get_405_with_allow(edr):
    for path in ["/ogc", "/ogc/collections/cf_grid.nc/cube", "/stac/catalog.json", "/classic.nc.dds", "/", "/healthz"]:
        for method in ["PUT", "DELETE", "PATCH", "POST", "TRACE"]:
            r = requests.request(method, f"{edr}{path}")
            assert r.status_code == 405, (method, path, r.status_code)
            assert r.headers["allow"] == "GET, HEAD"


def test_schemathesis_finds_no_server_error_and_no_contradiction(edr, tmp_path):
    st = shutil.which("schemathesis") or str(Path(__import__("sys").executable).parent / "schemathesis")
    # positive_data_acceptance is left out: a POINT or bbox can match the documented pattern and
    # still be impossible (a latitude of 95), which is a 400.
    cmd = [
        st, "run", f"{edr}/ogc/api", "--url", edr,
        "--max-examples", "5", "--max-time", "50", "--generation-deterministic",
        "--exclude-checks", "positive_data_acceptance", "--no-color",
    ]
    started = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert time.monotonic() - started < 100
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-2000:]
    assert "Tested: " in p.stdout


# --- STAC -----------------------------------------------------------------------------------


def stac_validator():
    import pystac.validation
    from pystac.validation.stac_validator import JsonSchemaSTACValidator

    v = JsonSchemaSTACValidator()
    v.schema_cache[DATACUBE_URI] = json.loads(DATACUBE_SCHEMA.read_text())
    v.schema_cache[PROJJSON_URI] = json.loads(PROJJSON_SCHEMA.read_text())
    pystac.validation.set_validator(v)


def write_part(path, days, seed):
    """A small CF grid (time, lat, lon) whose times are `days` since 2020-01-01."""
    import netCDF4

    rng = np.random.default_rng(seed)
    with netCDF4.Dataset(path, "w", format="NETCDF4_CLASSIC") as ds:
        ds.createDimension("time", None)
        ds.createDimension("lat", 3)
        ds.createDimension("lon", 4)
        ds.createVariable("lat", "f4", ("lat",), fill_value=False)[:] = [-30, 0, 30]
        ds["lat"].units = "degrees_north"
        ds.createVariable("lon", "f4", ("lon",), fill_value=False)[:] = [10, 20, 30, 40]
        ds["lon"].units = "degrees_east"
        t = ds.createVariable("time", "f8", ("time",), fill_value=False)
        t.units = "days since 2020-01-01"
        t[:] = days
        v = ds.createVariable("sst", "f4", ("time", "lat", "lon"))
        v.units = "K"
        v[:] = rng.normal(290, 3, (len(days), 3, 4)).astype("f4")


AGGREGATION = """<netcdf xmlns="http://www.unidata.ucar.edu/namespaces/netcdf/ncml-2.2">
  <attribute name="title" type="String" value="SST, two parts as one"/>
  <aggregation type="joinExisting" dimName="time">
    <netcdf location="parts/a.nc"/>
    <netcdf location="parts/b.nc"/>
  </aggregation>
</netcdf>
"""

WRAPPER = """<netcdf xmlns="http://www.unidata.ucar.edu/namespaces/netcdf/ncml-2.2" location="parts/a.nc">
  <attribute name="title" type="String" value="part a, retitled"/>
</netcdf>
"""


@pytest.fixture(scope="module")
def stac_server(samples_dir, tmp_path_factory):
    """A tree with a sub-folder, every bundled sample, an NcML aggregation and an NcML
    wrapper of one file (not an aggregation), and a file that is no dataset."""
    root = tmp_path_factory.mktemp("stac")
    (root / "ocean").mkdir()
    shutil.copy(local("cf_grid.nc"), root / "ocean" / "cf_grid.nc")
    shutil.copy(local("classic.nc"), root / "classic.nc")
    shutil.copy(local("types.nc"), root / "types.nc")
    shutil.copytree(samples_dir, root / "samples", ignore=shutil.ignore_patterns(".*"))
    (root / "parts").mkdir()
    write_part(root / "parts" / "a.nc", [0.0, 10.0], seed=1)
    write_part(root / "parts" / "b.nc", [20.0, 30.0], seed=2)
    (root / "year.ncml").write_text(AGGREGATION)
    (root / "one.ncml").write_text(WRAPPER)
    (root / "notes.txt").write_text("not a dataset\n")
    server = Server(root)
    yield server, root
    assert server.alive(), "the server died during the STAC tests"
    server.stop()


def test_pystac_walks_the_catalog_and_every_item_validates(stac_server):
    import pystac

    server, root = stac_server
    stac_validator()
    cat = pystac.Catalog.from_file(f"{server.url}/stac/catalog.json")
    cat.validate_all()
    children = [c.id for c in cat.get_children()]
    assert children == ["ocean", "parts", "samples", "year.ncml"]
    items = {i.id: i for i in cat.get_items(recursive=True)}
    samples = sorted(p.name for p in (root / "samples").iterdir())
    assert set(items) == {"classic.nc", "types.nc", "one.ncml", "ocean:cf_grid.nc", "parts:a.nc", "parts:b.nc", "year.ncml"} | {
        f"samples:{name}" for name in samples
    }
    for item in items.values():
        assert DATACUBE_URI in item.stac_extensions
        item.validate()
        # Every variable's dimensions are datacube dimensions of the item.
        dims = item.properties["cube:dimensions"]
        for name, var in item.properties["cube:variables"].items():
            assert set(var["dimensions"]) <= set(dims), (item.id, name, var["dimensions"])
    grid = items["ocean:cf_grid.nc"]
    assert grid.bbox == [-180, -60, 150, 60]
    assert grid.geometry["type"] == "Polygon"
    assert grid.properties["start_datetime"] == "2000-02-27T00:00:00Z"
    assert grid.properties["end_datetime"] == "2000-03-02T12:00:00Z"
    dims = grid.properties["cube:dimensions"]
    assert dims["lon"] == {"type": "spatial", "axis": "x", "extent": [-180, 150], "reference_system": 4326, "description": "lon"}
    assert dims["lat"]["extent"] == [-60, 60]
    assert dims["depth"]["values"] == [0, 10, 50]
    assert dims["time"]["extent"] == ["2000-02-27T00:00:00Z", "2000-03-02T12:00:00Z"]
    assert grid.properties["cube:variables"]["temp"]["dimensions"] == ["time", "depth", "lat", "lon"]
    assert grid.properties["cube:variables"]["temp"]["unit"] == "degree_Celsius"
    assets = grid.assets
    assert assets["data"].href == f"{server.url}/ocean/cf_grid.nc"
    assert assets["data"].media_type == pystac.MediaType.NETCDF
    assert assets["zarr"].media_type == pystac.MediaType.VND_ZARR
    assert assets["opendap-dap4"].href == f"{server.url}/ocean/cf_grid.nc.dmr"
    assert requests.get(assets["data"].href).content == (root / "ocean" / "cf_grid.nc").read_bytes()
    dmr = requests.get(assets["opendap-dap4"].href)
    assert dmr.status_code == 200
    assert dmr.headers["content-type"].startswith(assets["opendap-dap4"].media_type)
    assert requests.get(assets["zarr"].href + "/zarr.json").status_code == 200
    # HDF5 files are HDF5.
    h5 = [i for i in items.values() if i.id.endswith((".h5", ".hdf5"))]
    assert h5 and all(i.assets["data"].media_type == pystac.MediaType.HDF5 for i in h5)
    # A curvilinear grid: its bbox from the 2-D coordinates, which are auxiliary variables.
    curvi = items["samples:curvilinear.nc"]
    assert curvi.geometry["type"] == "Polygon"
    assert curvi.properties["cube:variables"]["lat"]["type"] == "auxiliary"
    assert curvi.properties["cube:variables"]["sst"]["type"] == "data"
    assert curvi.properties["cube:variables"]["sst"]["dimensions"] == ["time", "y", "x"]
    # A dataset without latitude/longitude: null geometry, its file time as datetime.
    plain = items["types.nc"]
    assert plain.geometry is None and plain.bbox is None
    assert plain.datetime is not None
    # An NcML file of one dataset with edits is an item, not a collection.
    assert items["one.ncml"].collection_id is None
    assert items["one.ncml"].assets["data"].media_type == "application/xml"


def test_an_ncml_aggregation_is_a_collection_with_its_extent_and_its_item(stac_server):
    import pystac

    server, root = stac_server
    stac_validator()
    col = pystac.read_file(f"{server.url}/stac/year.ncml/collection.json")
    assert isinstance(col, pystac.Collection)
    col.validate()
    assert col.id == "year.ncml"
    assert col.title == "SST, two parts as one"
    # The extent spans both members: times 0..30 days after 2020-01-01, the members' box.
    assert col.extent.spatial.bboxes == [[10, -30, 40, 30]]
    interval = col.extent.temporal.intervals[0]
    assert [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in interval] == ["2020-01-01T00:00:00Z", "2020-01-31T00:00:00Z"]
    assert col.extra_fields["cube:dimensions"]["time"]["extent"] == ["2020-01-01T00:00:00Z", "2020-01-31T00:00:00Z"]
    assert col.extra_fields["cube:variables"]["sst"]["dimensions"] == ["time", "lat", "lon"]
    items = list(col.get_items())
    assert [i.id for i in items] == ["year.ncml"]
    item = items[0]
    assert item.collection_id == "year.ncml"
    assert item.get_single_link("collection").get_absolute_href().endswith("/stac/year.ncml/collection.json")
    assert item.properties["start_datetime"] == "2020-01-01T00:00:00Z"
    assert item.properties["end_datetime"] == "2020-01-31T00:00:00Z"
    # The item's DAP4 asset serves the aggregated time axis, as xarray reads the members.
    import xarray as xr

    with xr.open_mfdataset(sorted((root / "parts").glob("*.nc")), combine="by_coords") as local_ds:
        want = local_ds["sst"].values
    dap4 = item.assets["opendap-dap4"].href.removesuffix(".dmr")
    with xr.open_dataset(dap4.replace("http://", "dap4://"), engine="pydap") as remote:
        np.testing.assert_array_equal(remote["sst"].values, want)
    # The aggregation is an EDR collection too, its time axis the members' together.
    one = requests.get(f"{server.url}/ogc/collections/year.ncml").json()
    assert one["extent"]["temporal"]["interval"] == [["2020-01-01T00:00:00Z", "2020-01-31T00:00:00Z"]]
    # Only aggregations are collections.
    for bad in ["/stac/one.ncml/collection.json", "/stac/classic.nc/collection.json", "/stac/nothing/collection.json"]:
        r = requests.get(f"{server.url}{bad}")
        assert r.status_code == 404, bad
        assert r.headers["content-type"] == "application/json"
        assert r.json()["code"] == "404"


def test_pystac_client_walks_the_static_catalog(stac_server):
    from pystac_client import Client

    server, _ = stac_server
    stac_validator()
    client = Client.open(f"{server.url}/stac/catalog.json")
    collections = {c.id: c for c in client.get_collections()}
    assert set(collections) == {"year.ncml"}
    items = [i.id for i in client.get_all_items()]
    assert "year.ncml" in items and "ocean:cf_grid.nc" in items
    assert len(items) == len(set(items))


def test_stac_bad_paths_get_json_errors(stac_server):
    server, _ = stac_server
    # The folder route of the OpenAPI document, with a real folder.
    for path in ["/ocean/", "/ocean/catalog.xml", "/stac/ocean/catalog.json"]:
        assert requests.get(f"{server.url}{path}").status_code == 200, path
    for bad in ["/stac/nothing.json", "/stac/notes.txt.json", "/stac/ocean/nothing/catalog.json", "/stac/..%2Fx.json"]:
        r = requests.get(f"{server.url}{bad}")
        assert r.status_code in (400, 404), bad
        assert r.headers["content-type"] == "application/json"
