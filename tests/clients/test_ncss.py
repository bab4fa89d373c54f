"""The NetCDF Subset Service for grids (`/ncss/grid/PATH`), driven by siphon as scripts do:
`TDSCatalog(url).datasets[name].subset()` → `query().variables(…).lonlat_box(…)
.time_range(…).accept(…)`, compared with xarray's `.sel` of the local file by coordinates.
"""

import datetime as dt
import urllib.error
import urllib.request

import cftime
import netCDF4
import numpy as np
import pytest
import xarray as xr
from siphon.catalog import TDSCatalog

from conftest import SAMPLES

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def ncss_of(server, name):
    cat = TDSCatalog(f"{server.url}/catalog.xml")
    return cat.datasets[name].subset()


def as_xarray(nc):
    return xr.open_dataset(xr.backends.NetCDF4DataStore(nc), use_cftime=True)


@pytest.mark.parametrize("accept", ["netcdf4", "netcdf"])
def test_siphon_box_and_time_range_on_descending_latitudes(sample_server, accept):
    ncss = ncss_of(sample_server, "cf_grid.nc")
    assert "temp" in ncss.variables and "salt" in ncss.variables
    q = (
        ncss.query()
        .variables("temp")
        .lonlat_box(-100, 40, -30, 50)
        .time_range(dt.datetime(2000, 2, 28), dt.datetime(2000, 3, 1))
        .accept(accept)
    )
    got = as_xarray(ncss.get_data(q))
    with xr.open_dataset(SAMPLES / "cf_grid.nc", use_cftime=True) as local:
        want = local["temp"].sel(
            lat=slice(50, -30),  # descending: the file's order is kept
            lon=slice(-100, 40),
            time=slice(
                cftime.DatetimeNoLeap(2000, 2, 28), cftime.DatetimeNoLeap(2000, 3, 1)
            ),
        )
        assert want.shape == (2, 3, 4, 5)
        xr.testing.assert_identical(got["temp"], want)
        assert list(got["lat"].values) == [40.0, 20.0, 0.0, -20.0]
        assert [str(t) for t in got["time"].values] == [
            "2000-02-28 00:00:00",
            "2000-03-01 00:00:00",
        ]


def test_siphon_single_time_vertical_level_and_stride(sample_server):
    ncss = ncss_of(sample_server, "cf_grid.nc")
    q = ncss.query().variables("salt", "temp").time(dt.datetime(2000, 3, 2, 6))
    q.add_query_parameter(vertCoord=12, horizStride=2, accept="netcdf4")
    got = as_xarray(ncss.get_data(q))
    with xr.open_dataset(SAMPLES / "cf_grid.nc", use_cftime=True) as local:
        for name in ("salt", "temp"):
            want = local[name].isel(time=[3], depth=[1], lat=slice(0, None, 2), lon=slice(0, None, 2))
            xr.testing.assert_identical(got[name], want)


@pytest.fixture(scope="module")
def lon360(tmp_path_factory):
    """A 0–360 longitude grid with ascending latitudes and a 360-day calendar."""
    root = tmp_path_factory.mktemp("lon360")
    path = root / "lon360.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", 3)
        ds.createDimension("lat", 5)
        ds.createDimension("lon", 36)
        t = ds.createVariable("time", "f8", ("time",))
        t.units = "days since 2001-01-01"
        t.calendar = "360_day"
        t.axis = "T"
        t[:] = [0, 30, 60]
        la = ds.createVariable("lat", "f4", ("lat",))
        la.units = "degrees_north"
        la.standard_name = "latitude"
        la[:] = [-40, -20, 0, 20, 40]
        lo = ds.createVariable("lon", "f4", ("lon",))
        lo.units = "degrees_east"
        lo.standard_name = "longitude"
        lo[:] = np.arange(0, 360, 10)
        v = ds.createVariable("sst", "f4", ("time", "lat", "lon"), fill_value=-1e30)
        v.units = "K"
        v[:] = np.arange(3 * 5 * 36, dtype="f4").reshape(3, 5, 36)
    return path


def test_box_in_the_other_longitude_convention(serve, lon360):
    server = serve([lon360])
    ncss = ncss_of(server, "lon360.nc")
    q = ncss.query().variables("sst").lonlat_box(-170, -120, -20, 20).all_times().accept("netcdf4")
    got = as_xarray(ncss.get_data(q))
    with xr.open_dataset(lon360, use_cftime=True) as local:
        want = local["sst"].sel(lon=slice(190, 240), lat=slice(-20, 20))
        assert want.shape == (3, 3, 6)
        xr.testing.assert_identical(got["sst"], want)


def get_error(url):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=60)
    return e.value.code, e.value.read().decode()


def test_360_day_calendar_time_range(serve, lon360):
    server = serve([lon360])
    url = (
        f"{server.url}/ncss/grid/lon360.nc?var=sst&north=40&south=-40&east=350&west=0"
        "&time_start=2001-02-30T00:00:00Z&time_end=2001-03-01&accept=netcdf4"
    )
    with urllib.request.urlopen(url, timeout=60) as r:
        body = r.read()
        assert r.headers["Content-Type"] == "application/x-netcdf4"
    with netCDF4.Dataset("mem.nc", memory=body) as got:
        # 2001-02-30 is day 59 of the 360-day calendar; 2001-03-01 is day 60.
        assert list(got["time"][:]) == [60.0]
        np.testing.assert_array_equal(got["sst"][:], np.arange(2 * 180, 3 * 180, dtype="f4").reshape(1, 5, 36))


@pytest.fixture(scope="module")
def lon180(tmp_path_factory):
    """A −180..180 longitude grid (int16 values, float64 longitudes)."""
    path = tmp_path_factory.mktemp("lon180") / "lon180.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("lat", 4)
        ds.createDimension("lon", 36)
        la = ds.createVariable("lat", "f8", ("lat",))
        la.units = "degrees_north"
        la[:] = [30, 10, -10, -30]  # descending
        lo = ds.createVariable("lon", "f8", ("lon",))
        lo.units = "degrees_east"
        lo[:] = np.arange(-180, 180, 10)
        v = ds.createVariable("h", "i2", ("lat", "lon"))
        v[:] = np.arange(4 * 36, dtype="i2").reshape(4, 36)
    return path


def across_seam(local, var, west, east):
    """xarray's selection of a box across the seam: the run from `west` to the axis' end, then
    the run from its start to `east`, longitudes rising past the seam as TDS writes them."""
    west_part = local[var].sel(lon=slice(west, None))
    east_part = local[var].sel(lon=slice(None, east))
    east_part = east_part.assign_coords(lon=east_part["lon"] + 360)
    return xr.concat([west_part, east_part], dim="lon")


@pytest.mark.parametrize("accept", ["netcdf4", "netcdf"])
def test_seam_crossing_box_on_a_0_360_axis(serve, lon360, accept):
    server = serve([lon360])
    ncss = ncss_of(server, "lon360.nc")
    q = ncss.query().variables("sst").lonlat_box(340, 20, -20, 20).all_times().accept(accept)
    got = as_xarray(ncss.get_data(q))
    with xr.open_dataset(lon360, use_cftime=True) as local:
        want = across_seam(local.sel(lat=slice(-20, 20)), "sst", 340, 20)
        assert want.shape == (3, 3, 5)
        assert list(got["lon"].values) == [340, 350, 360, 370, 380]
        np.testing.assert_array_equal(got["sst"].values, want.values)
        np.testing.assert_array_equal(got["lon"].values, want["lon"].values)
        assert got["sst"].dims == ("time", "lat", "lon")
        assert got["lon"].dtype == np.float32


@pytest.mark.parametrize("accept", ["netcdf4", "netcdf"])
def test_seam_crossing_box_on_a_180_axis_with_descending_latitudes(serve, lon180, accept):
    server = serve([lon180])
    ncss = ncss_of(server, "lon180.nc")
    q = ncss.query().variables("h").lonlat_box(150, -160, -15, 35).accept(accept)
    got = as_xarray(ncss.get_data(q))
    with xr.open_dataset(lon180) as local:
        want = across_seam(local.sel(lat=slice(35, -15)), "h", 150, -160)
        assert want.shape == (3, 6)
        assert list(got["lon"].values) == [150, 160, 170, 180, 190, 200]
        assert list(got["lat"].values) == [30, 10, -10]
        np.testing.assert_array_equal(got["h"].values, want.values)
        assert got["h"].dtype == np.int16


def test_seam_crossing_box_with_stride(serve, lon180):
    server = serve([lon180])
    url = (
        f"{server.url}/ncss/grid/lon180.nc?var=h&north=30&south=30&west=140&east=-150"
        "&horizStride=2&accept=netcdf"
    )
    with urllib.request.urlopen(url, timeout=60) as r:
        body = r.read()
    with netCDF4.Dataset("mem.nc", memory=body) as got:
        # Each run strided on its own: 140, 160 | -180, -160 (as 180, 200).
        assert list(got["lon"][:]) == [140, 160, 180, 200]
        assert list(got["h"][0, :]) == [32, 34, 0, 2]


@pytest.mark.parametrize(
    "query,needle",
    [
        ("var=nosuch", "valid: temp, salt"),
        ("var=temp&north=80&south=70&east=10&west=0", "latitudes run from -60 to 60"),
        ("var=temp&north=10&south=0&east=10", "all four"),
        ("var=temp&time=yesterday", "ISO 8601"),
        ("var=temp&time_start=2000-02-29&time_end=2000-03-01", "noleap"),
        ("var=temp&time_start=1990-01-01&time_end=1990-02-01", "times run from"),
        ("var=temp&accept=csv", "valid: netcdf"),
        ("var=temp&horizStride=0", "horizStride"),
        ("", "var=NAME"),
    ],
)
def test_errors_say_what_is_valid(sample_server, query, needle):
    code, body = get_error(f"{sample_server.url}/ncss/grid/cf_grid.nc?{query}")
    assert code == 400
    assert needle in body, body


def test_unknown_dataset_is_404(sample_server):
    code, _ = get_error(f"{sample_server.url}/ncss/grid/nosuch.nc/dataset.xml")
    assert code == 404
    code, _ = get_error(f"{sample_server.url}/ncss/grid/../../etc/passwd?var=x")
    assert code in (400, 404)


def test_dataset_xml_describes_the_grids(sample_server):
    ncss = ncss_of(sample_server, "cf_grid.nc")
    meta = ncss.metadata
    assert set(meta.variables) == {"temp", "salt"}
    assert meta.lat_lon_box == {"west": -180.0, "east": 150.0, "south": -60.0, "north": 60.0}
    assert meta.time_span["begin"].startswith("2000-02-27")
    assert "netcdf4" in meta.accept_list["Grid"]
    assert {"csv", "xml"} <= set(meta.accept_list["GridAsPoint"])


def local_point(name, lat, lon, **sel):
    with xr.open_dataset(SAMPLES / "cf_grid.nc", use_cftime=True) as local:
        return local[name].sel(lat=lat, lon=lon, method="nearest").sel(**sel).load()


@pytest.mark.parametrize("accept", ["csv", "xml"])
def test_point_query_as_csv_and_xml_through_siphon(sample_server, accept):
    ncss = ncss_of(sample_server, "cf_grid.nc")
    q = ncss.query().variables("temp", "salt").lonlat_point(37, 19).all_times().accept(accept)
    got = ncss.get_data(q)
    temp = local_point("temp", 19, 37)  # (time, depth), nearest cell
    salt = local_point("salt", 19, 37)
    assert temp.shape == (4, 3)
    # One row per time and level, levels inside times.
    np.testing.assert_array_equal(np.asarray(got["temp"], dtype="f4"), temp.values.ravel())
    np.testing.assert_array_equal(np.asarray(got["salt"], dtype="f8"), salt.values.ravel())
    np.testing.assert_array_equal(np.asarray(got["vertCoord"]), np.tile(temp["depth"].values, 4))
    assert set(np.asarray(got["lat"])) == {float(temp["lat"])}
    assert set(np.asarray(got["lon"])) == {float(temp["lon"])}
    dates = [d.strftime("%Y-%m-%dT%H") for d in got["date"]]
    want = [t.strftime("%Y-%m-%dT%H") for t in temp["time"].values for _ in range(3)]
    assert dates == want


def test_point_csv_header_carries_units_as_tds_writes_them(sample_server):
    url = (
        f"{sample_server.url}/ncss/grid/cf_grid.nc?var=temp&latitude=-60&longitude=190"
        "&time=2000-03-01&vertCoord=12&accept=csv"
    )
    with urllib.request.urlopen(url, timeout=60) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        lines = r.read().decode().splitlines()
    assert lines[0] == (
        'date,lat[unit="degrees_north"],lon[unit="degrees_east"],vertCoord[unit="m"],'
        'temp[unit="degree_Celsius"]'
    )
    want = local_point("temp", -60, -170, time=cftime.DatetimeNoLeap(2000, 3, 1), depth=10)
    date, lat, lon, z, value = lines[1].split(",")
    assert len(lines) == 2
    assert date == "2000-03-01T00:00:00Z"
    assert (float(lat), float(lon), float(z)) == (-60.0, float(want["lon"]), float(want["depth"]))
    assert float(lon) == -180.0  # 190 is nearest -180 round the circle
    assert np.float32(value) == want.values


def test_box_with_csv_is_refused(sample_server):
    code, body = get_error(
        f"{sample_server.url}/ncss/grid/cf_grid.nc?var=temp&north=10&south=0&east=10&west=0&accept=csv"
    )
    assert code == 400 and "point queries" in body


def test_no_time_gives_the_latest_and_temporal_all_every_time(sample_server):
    def times(extra):
        url = f"{sample_server.url}/ncss/grid/cf_grid.nc?var=temp{extra}&accept=netcdf"
        with urllib.request.urlopen(url, timeout=60) as r:
            with netCDF4.Dataset("mem.nc", memory=r.read()) as got:
                return list(got["time"][:]), got["temp"].shape

    with netCDF4.Dataset(SAMPLES / "cf_grid.nc") as local:
        all_times = list(local["time"][:])
    assert times("") == ([all_times[-1]], (1, 3, 7, 12))
    assert times("&time=present") == ([all_times[-1]], (1, 3, 7, 12))
    assert times("&temporal=all") == (all_times, (4, 3, 7, 12))


def cell_outline(path):
    """The outline of a grid's cells from its 1-D coordinates, as TDS's datasetBoundaries."""
    with netCDF4.Dataset(path) as ds:
        lat, lon = ds["lat"][:].astype("f8"), ds["lon"][:].astype("f8")

    def edges(c):
        mid = (c[1:] + c[:-1]) / 2
        return np.concatenate([[c[0] - (c[1] - c[0]) / 2], mid, [c[-1] + (c[-1] - c[-2]) / 2]])

    xs, ys = edges(lon), edges(lat)
    ring = [(x, ys[0]) for x in xs]
    ring += [(xs[-1], y) for y in ys[1:]]
    ring += [(x, ys[-1]) for x in xs[::-1][1:]]
    ring += [(xs[0], y) for y in ys[::-1][1:]]
    return np.array(ring + [ring[0]])  # closed


def fetch(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.headers["Content-Type"], r.read().decode()


def test_dataset_boundaries_as_wkt_json_and_xml(sample_server):
    import json
    import re
    import xml.etree.ElementTree as ET

    want = cell_outline(SAMPLES / "cf_grid.nc")
    # cf_grid: longitudes -180..150 by 30, latitudes 60..-60 by -20: cells reach -195..165, 70..-70.
    assert want[0].tolist() == [-195.0, 70.0] and want[19].tolist() == [165.0, -70.0]
    base = f"{sample_server.url}/ncss/grid/cf_grid.nc/datasetBoundaries"

    ctype, wkt = fetch(base + "?accept=wkt")
    assert ctype.startswith("text/plain")
    m = re.fullmatch(r"POLYGON\(\((.*)\)\)", wkt)
    got = np.array([[float(v) for v in p.split()] for p in m.group(1).split(",")])
    np.testing.assert_allclose(got, want, atol=1e-3)

    ctype, body = fetch(base + ".json")
    geo = json.loads(body)
    assert geo["type"] == "Polygon"
    np.testing.assert_allclose(np.array(geo["coordinates"][0]), want, atol=1e-3)

    ctype, body = fetch(base + ".xml")
    assert ctype == "application/xml"
    root = ET.fromstring(body)
    assert root.find("boundary").text == wkt
    assert float(root.find("LatLonBox/west").text) == -195.0
    assert float(root.find("LatLonBox/north").text) == 70.0

    code, body = get_error(base + "?accept=kml")
    assert code == 400 and "valid: wkt, json, xml" in body
