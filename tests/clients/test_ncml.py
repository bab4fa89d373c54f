"""NcML virtual datasets with the real clients: ncdump (DAP2 and DAP4), netCDF4-python, pydap
(DAP2 and DAP4) and xarray read an aggregation served by fathom, and must see what xarray's
`concat` / `merge` of the member files, read locally, holds: names, dimensions, shapes,
attributes and values, whole and under strided hyperslabs that cross member boundaries.

The members are written here at test time: twelve monthly files of a CF grid with an unlimited
time (1 to 3 steps each), a union split (u and v in two files), three runs for joinNew, and one
file wrapped with edits.
"""

import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr
from pydap.client import open_url

from conftest import Server, run

NLAT, NLON = 4, 5


def steps(month: int) -> int:
    return month % 3 + 1


def write_grid(path: Path, times, seed: int, variables=("sst",), unlimited=True, title="monthly"):
    rng = np.random.default_rng(seed)
    with netCDF4.Dataset(path, "w", format="NETCDF4_CLASSIC") as ds:
        ds.title = title
        ds.Conventions = "CF-1.8"
        if times is not None:
            ds.createDimension("time", None if unlimited else len(times))
        ds.createDimension("lat", NLAT)
        ds.createDimension("lon", NLON)
        lat = ds.createVariable("lat", "f4", ("lat",))
        lat.units = "degrees_north"
        lat[:] = np.linspace(-45, 45, NLAT)
        lon = ds.createVariable("lon", "f4", ("lon",))
        lon.units = "degrees_east"
        lon[:] = np.linspace(0, 288, NLON)
        dims = ("lat", "lon")
        if times is not None:
            t = ds.createVariable("time", "f8", ("time",))
            t.units = "days since 2020-01-01"
            t.standard_name = "time"
            t[:] = times
            dims = ("time", "lat", "lon")
        for name in variables:
            v = ds.createVariable(name, "f4", dims, fill_value=np.float32(-999))
            v.units = "K"
            v.long_name = f"{name} field"
            shape = [len(times)] if times is not None else []
            v[:] = rng.normal(290, 5, shape + [NLAT, NLON]).astype("f4")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("ncml")
    (root / "monthly").mkdir()
    t0 = 0.0
    for m in range(12):
        n = steps(m)
        write_grid(root / "monthly" / f"sst_2020-{m + 1:02d}.nc", t0 + np.arange(n) * 10.0, seed=m)
        t0 += 30.0
    (root / "monthly" / "README.txt").write_text("not a member")
    (root / "year.ncml").write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<netcdf xmlns="http://www.unidata.ucar.edu/namespaces/netcdf/ncml-2.2">
  <attribute name="title" type="String" value="SST 2020, one dataset"/>
  <aggregation type="joinExisting" dimName="time">
    <scan location="monthly/" suffix=".nc" subdirs="false"/>
  </aggregation>
</netcdf>
""")
    (root / "split").mkdir()
    write_grid(root / "split" / "u.nc", np.arange(3.0), seed=20, variables=("u",), title="u part")
    write_grid(root / "split" / "v.nc", np.arange(3.0), seed=21, variables=("v",), title="v part")
    (root / "wind.ncml").write_text(
        """<netcdf xmlns="http://www.unidata.ucar.edu/namespaces/netcdf/ncml-2.2">
  <aggregation type="union">
    <netcdf location="split/u.nc"/>
    <netcdf location="split/v.nc"/>
  </aggregation>
</netcdf>
""")
    (root / "runs").mkdir()
    for i in range(3):
        write_grid(root / "runs" / f"run{i + 1}.nc", None, seed=30 + i, variables=("temp",), title="run")
    (root / "ensemble.ncml").write_text(
        """<netcdf xmlns="http://www.unidata.ucar.edu/namespaces/netcdf/ncml-2.2">
  <aggregation type="joinNew" dimName="run">
    <variableAgg name="temp"/>
    <netcdf location="runs/run1.nc" coordValue="1"/>
    <netcdf location="runs/run2.nc" coordValue="2"/>
    <netcdf location="runs/run3.nc" coordValue="3"/>
  </aggregation>
  <variable name="run"><attribute name="long_name" value="ensemble member"/></variable>
</netcdf>
""")
    (root / "edited.ncml").write_text(
        """<netcdf xmlns="http://www.unidata.ucar.edu/namespaces/netcdf/ncml-2.2"
        location="monthly/sst_2020-03.nc">
  <attribute name="institution" value="fathom tests"/>
  <remove name="Conventions" type="attribute"/>
  <dimension name="y" orgName="lat"/>
  <variable name="temperature" orgName="sst">
    <attribute name="units" value="degK"/>
    <remove name="long_name" type="attribute"/>
  </variable>
  <variable name="level" type="int" shape="y"><values start="100" increment="50"/></variable>
  <variable name="flags" type="short" shape="lon"><values>1 2 4 8 16</values></variable>
</netcdf>
""")
    (root / "broken.ncml").write_text("<netcdf><aggregation type='union'><netcdf location='nothere.nc'/>"
                                      "</aggregation></netcdf>")
    (root / "outside.ncml").write_text("<netcdf location='../../../../etc/passwd'/>")
    return root


@pytest.fixture(scope="module")
def server(tree):
    s = Server(tree)
    yield s
    alive = s.alive()
    s.stop()
    assert alive, "the server died during the tests"


def months(tree):
    return sorted((tree / "monthly").glob("*.nc"))


@pytest.fixture(scope="module")
def truth(tree):
    """The local truth for each aggregation, from xarray over the member files."""
    opened = []

    def load(p):
        ds = xr.open_dataset(p, mask_and_scale=False, decode_times=False)
        opened.append(ds)
        return ds

    year = xr.concat([load(p) for p in months(tree)], dim="time", data_vars="minimal",
                     coords="minimal", compat="override", join="exact", combine_attrs="override")
    year.attrs["title"] = "SST 2020, one dataset"
    wind = xr.merge([load(tree / "split" / "u.nc"), load(tree / "split" / "v.nc")],
                    compat="override", join="exact", combine_attrs="override")
    runs = [load(tree / "runs" / f"run{i}.nc") for i in (1, 2, 3)]
    ens = xr.concat([r[["temp"]] for r in runs], dim="run", join="exact", combine_attrs="override")
    ens = ens.assign_coords(run=("run", [1.0, 2.0, 3.0])).merge(runs[0].drop_vars("temp"))
    out = {"year.ncml": year, "wind.ncml": wind, "ensemble.ncml": ens}
    yield out
    for ds in opened:
        ds.close()


SLABS = {
    # (variable, index tuple) — strided, crossing member boundaries.
    "year.ncml": [("sst", (slice(None),) * 3), ("sst", (slice(1, 23, 3), slice(0, 4, 2), slice(1, 5, 3))),
                  ("sst", (slice(5, 6), slice(None), slice(None))), ("time", (slice(0, 24, 5),))],
    "wind.ncml": [("u", (slice(None),) * 3), ("v", (slice(0, 3, 2), slice(1, 4), slice(0, 5, 4)))],
    "ensemble.ncml": [("temp", (slice(None),) * 3), ("temp", (slice(0, 3, 2), slice(3, 4), slice(0, 5, 2))),
                      ("run", (slice(None),))],
}
NAMES = list(SLABS)


def dap_ce(var, idx):
    return var + "".join(f"[{s.start or 0}:{s.step or 1}:{(s.stop - 1) if s.stop else ''}]" for s in idx)


def test_the_dataset_is_a_dataset_in_the_listing_and_the_catalog(server):
    import json
    listing = json.loads(urllib.request.urlopen(f"{server.url}/?format=json").read())
    kinds = {e["name"]: e["kind"] for e in listing["entries"]}
    assert kinds["year.ncml"] == kinds["wind.ncml"] == kinds["broken.ncml"] == "dataset"
    assert kinds["monthly"] == "folder"
    inner = json.loads(urllib.request.urlopen(f"{server.url}/monthly/?format=json").read())
    assert {e["name"]: e["kind"] for e in inner["entries"]}["README.txt"] == "file"
    cat = urllib.request.urlopen(f"{server.url}/catalog.xml").read().decode()
    assert re.search(r'<dataset[^>]*name="year.ncml"[^>]*urlPath="year.ncml"', cat), cat


@pytest.mark.parametrize("name", NAMES)
def test_netcdf4_python_dap2_and_dap4_read_the_aggregation(server, truth, name):
    want = truth[name]
    for suffix in ("", "#dap4"):
        with netCDF4.Dataset(f"{server.url}/{name}{suffix}") as ds:
            ds.set_auto_maskandscale(False)
            assert set(ds.dimensions) == set(want.sizes), suffix
            for d, n in want.sizes.items():
                assert len(ds.dimensions[d]) == n, (suffix, d)
            for var in want.variables:
                assert ds.variables[var].dimensions == want[var].dims, (suffix, var)
                for k, v in want[var].attrs.items():
                    got = ds.variables[var].getncattr(k)
                    if isinstance(v, str):
                        assert got == v, (suffix, var, k)
                    else:
                        # netCDF-C's DAP4 reader turns a Float32 _FillValue of -999 into
                        # -999.00037 for any served file, aggregated or not.
                        assert np.allclose(np.asarray(got).ravel(), np.asarray(v).ravel(),
                                           rtol=0 if suffix == "" else 1e-6), (suffix, var, k)
            for var, idx in SLABS[name]:
                got = ds.variables[var][idx]
                assert np.array_equal(np.asarray(got), want[var].values[idx]), (suffix, var, idx)
            assert ds.getncattr("title") == want.attrs["title"]


@pytest.mark.parametrize("name", NAMES)
def test_pydap_dap2_and_dap4_read_the_aggregation(server, truth, name):
    want = truth[name]
    for protocol in ("dap2", "dap4"):
        ds = open_url(f"{server.url}/{name}", protocol=protocol)
        for var, idx in SLABS[name]:
            v = ds[var] if protocol == "dap2" else ds["/" + var]
            arr = v.array if hasattr(v, "array") and protocol == "dap2" and hasattr(v, "maps") else v
            got = np.asarray(arr[idx].data if hasattr(arr[idx], "data") else arr[idx])
            assert got.shape == want[var].values[idx].shape, (protocol, var, idx)
            assert np.array_equal(got, want[var].values[idx]), (protocol, var, idx)
        attrs = (ds[SLABS[name][0][0]] if protocol == "dap2" else ds["/" + SLABS[name][0][0]]).attributes
        assert attrs["units"] == want[SLABS[name][0][0]].attrs["units"]


@pytest.mark.parametrize("name", NAMES)
def test_xarray_reads_the_aggregation(server, truth, name):
    want = truth[name]
    got = xr.open_dataset(f"{server.url}/{name}", engine="pydap", mask_and_scale=False, decode_times=False)
    try:
        assert set(got.data_vars) | set(got.coords) == set(want.data_vars) | set(want.coords)
        for var in want.variables:
            assert got[var].dims == want[var].dims, var
            assert got[var].shape == want[var].shape, var
            assert np.array_equal(got[var].values, want[var].values), var
            for k in ("units", "long_name"):
                if k in want[var].attrs:
                    assert got[var].attrs[k] == want[var].attrs[k], (var, k)
        sel = got["sst" if name == "year.ncml" else SLABS[name][0][0]]
        idx = SLABS[name][1][1] if len(SLABS[name]) > 1 else SLABS[name][0][1]
        if sel.name == SLABS[name][1][0]:
            assert np.array_equal(sel[idx].values, want[sel.name].values[idx])
    finally:
        got.close()


def ncdump_values(text: str, var: str) -> np.ndarray:
    body = text.split("data:", 1)[1]
    m = re.search(rf"\b{var} =(.*?);", body, re.S)
    assert m, f"{var} not in the dump"
    return np.array([float(x) for x in re.findall(r"-?[\d.]+(?:e[-+]?\d+)?", m.group(1))])


@pytest.mark.parametrize("suffix", ["", "#dap4"])
def test_ncdump_reads_the_joined_year(server, truth, suffix):
    want = truth["year.ncml"]
    header = run(["ncdump", "-h", f"{server.url}/year.ncml{suffix}"])
    assert re.search(r"time = UNLIMITED ; // \(24 currently\)|time = 24 ;", header), header
    assert "float sst(time, lat, lon)" in header
    dump = run(["ncdump", "-v", "sst,time", f"{server.url}/year.ncml{suffix}"])
    assert np.allclose(ncdump_values(dump, "time"), want["time"].values)
    assert np.allclose(ncdump_values(dump, "sst"), want["sst"].values.ravel(), rtol=1e-6)
    if suffix:
        return
    # A strided read across months, through a DAP2 constraint in the URL (strided in time only:
    # netCDF-C's URL constraints mis-size a strided inner dimension for any served file).
    idx = (slice(2, 23, 7), slice(1, 3), slice(0, 5))
    dump = run(["ncdump", "-v", "sst", f"{server.url}/year.ncml?{dap_ce('sst', idx)}"])
    assert re.search(r"time = UNLIMITED ; // \(3 currently\)|time = 3 ;", dump), dump
    assert np.allclose(ncdump_values(dump, "sst"), want["sst"].values[idx].ravel(), rtol=1e-6)


def test_edits_show_to_every_client(server, tree):
    with netCDF4.Dataset(tree / "monthly" / "sst_2020-03.nc") as local:
        local.set_auto_maskandscale(False)
        sst = local["sst"][:]
    for suffix in ("", "#dap4"):
        with netCDF4.Dataset(f"{server.url}/edited.ncml{suffix}") as ds:
            ds.set_auto_maskandscale(False)
            assert "sst" not in ds.variables and "lat" not in ds.dimensions
            t = ds["temperature"]
            assert t.dimensions == ("time", "y", "lon")
            assert t.units == "degK" and "long_name" not in t.ncattrs()
            assert np.array_equal(t[:], sst)
            assert list(ds["level"][:]) == [100, 150, 200, 250]
            assert list(ds["flags"][:]) == [1, 2, 4, 8, 16]
            assert ds.institution == "fathom tests" and "Conventions" not in ds.ncattrs()
    das = urllib.request.urlopen(f"{server.url}/edited.ncml.das").read().decode()
    assert 'institution "fathom tests"' in das


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def test_broken_ncml_gets_the_protocol_error_and_the_server_lives(server):
    status, headers, body = fetch(f"{server.url}/broken.ncml.dds")
    assert status == 500
    assert headers["Content-Description"] == "dods_error"
    assert "broken.ncml" in body and "nothere.nc" in body and "does not exist" in body
    status, _, body = fetch(f"{server.url}/broken.ncml.dmr")
    assert status == 500 and "<Error" in body and "nothere.nc" in body
    status, _, body = fetch(f"{server.url}/outside.ncml.dds")
    assert status == 500 and "outside the data root" in body and "root:" not in body
    status, _, _ = fetch(f"{server.url}/year.ncml.dds?nosuchvar")
    assert status == 400
    status, _, _ = fetch(f"{server.url}/year.ncml.dods?sst[0:1:24][0][0]")
    assert status == 400
    status, _, body = fetch(f"{server.url}/year.ncml.dds")
    assert status == 200 and "sst[time = 24]" in body


def test_a_changed_member_changes_the_aggregation(tmp_path):
    (tmp_path / "m").mkdir()
    write_grid(tmp_path / "m" / "a.nc", [0.0, 1.0], seed=1)
    write_grid(tmp_path / "m" / "b.nc", [2.0], seed=2)
    (tmp_path / "agg.ncml").write_text(
        "<netcdf><aggregation type='joinExisting' dimName='time' recheckEvery='1 sec'>"
        "<scan location='m' suffix='.nc'/></aggregation></netcdf>")
    s = Server(tmp_path)
    try:
        status, headers, body = fetch(f"{s.url}/agg.ncml.dds")
        assert status == 200 and "sst[time = 3]" in body
        etag = headers.get("ETag")
        # A new file joins after recheckEvery; a rewritten member changes the values.
        write_grid(tmp_path / "m" / "c.nc", [3.0, 4.0], seed=3)
        import time
        time.sleep(1.2)
        status, headers, body = fetch(f"{s.url}/agg.ncml.dds")
        assert "sst[time = 5]" in body
        assert headers.get("ETag") != etag
        with netCDF4.Dataset(f"{s.url}/agg.ncml") as ds:
            assert list(ds["time"][:]) == [0.0, 1.0, 2.0, 3.0, 4.0]
    finally:
        alive = s.alive()
        s.stop()
        assert alive
