"""Every client reads every file: NCO, CDO, GDAL and GrADS (Debian) next to ncdump, getdap4,
netCDF4-python, pydap and xarray, pointed at files with the shapes that broke them (issue 10,
made by `interop_samples`), over DAP2 and DAP4, compared with a local read of the same file.

Each test names the fault it guards against; dap2/CONFORMANCE.md and dap4/CONFORMANCE.md say
what each tool can and cannot do over DAP.
"""

import ctypes
import ctypes.util
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr
from pydap.client import open_url

import interop_samples as samples
from conftest import Server, run

TOOLS = ["ncks", "ncwa", "cdo", "gdal_translate", "grads", "ncdump", "getdap4"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return samples.write_all(tmp_path_factory.mktemp("interop"))


@pytest.fixture(scope="module")
def url(files):
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{missing} not installed: `make test` installs nco, cdo, gdal-bin, grads")
    server = Server(next(iter(files.values())).parent)
    yield server.url
    alive = server.alive()
    server.stop()
    assert alive, "the server died during the tests"


def local(files, name, var, raw=False):
    with netCDF4.Dataset(files[name]) as ds:
        v = ds[var]
        if raw:
            v.set_auto_maskandscale(False)
        return v[:]


def run_in(cwd, cmd, timeout=120):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    assert p.returncode == 0, f"{cmd} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p.stdout + p.stderr


# -- item 1: a zero-length dimension beside the unlimited one (DAP2) ---------------------------


def test_zero_length_dimension_opens_over_dap2(url, files):
    """netCDF-C read nobs = 0 as a second UNLIMITED and refused the dataset."""
    header = run(["ncdump", "-h", f"{url}/cf_model.nc"])
    assert "time = UNLIMITED ; // (3 currently)" in header
    assert "obs(" not in header
    assert "/obs: its dimension nobs has length 0" in header
    with netCDF4.Dataset(f"{url}/cf_model.nc") as ds:
        np.testing.assert_array_equal(ds["t2m"][:], local(files, "cf_model.nc", "t2m"))
        assert "obs" not in ds.variables
    # DAP4 carries it, empty, as the local file has it.
    with netCDF4.Dataset(f"{url}/cf_model.nc#dap4") as ds:
        assert ds["obs"].shape == (0,)


# -- item 2: signed bytes through converting reads ---------------------------------------------


def _libnetcdf():
    path = ctypes.util.find_library("netcdf")
    assert path, "libnetcdf (Debian libnetcdf19) not found"
    lib = ctypes.CDLL(path)
    lib.nc_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.nc_inq_varid.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    return lib


@pytest.mark.parametrize("protocol", ["dap2", "dap4"])
def test_signed_bytes_through_nc_get_vara_float(url, files, protocol):
    """GrADS and other tools read with nc_get_vara_float: Byte + _Unsigned gave value + 256."""
    want = local(files, "cf_model.nc", "flag", raw=True).astype("f4")
    lib = _libnetcdf()
    ncid, varid = ctypes.c_int(), ctypes.c_int()
    target = f"{url}/cf_model.nc" + ("#dap4" if protocol == "dap4" else "")
    assert lib.nc_open(target.encode(), 0, ctypes.byref(ncid)) == 0
    try:
        assert lib.nc_inq_varid(ncid, b"flag", ctypes.byref(varid)) == 0
        out = np.zeros(want.shape, dtype="f4")
        start = (ctypes.c_size_t * 3)(0, 0, 0)
        count = (ctypes.c_size_t * 3)(*want.shape)
        status = lib.nc_get_vara_float(
            ncid, varid, start, count, out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        )
        assert status == 0
        mv = ctypes.c_float()
        assert lib.nc_get_att_float(ncid, varid, b"missing_value", ctypes.byref(mv)) == 0
    finally:
        lib.nc_close(ncid)
    np.testing.assert_array_equal(out, want)
    assert mv.value == samples.FLAG_MISSING
    assert want.min() == -128


def test_signed_bytes_in_every_dap2_client(url, files):
    want = local(files, "cf_model.nc", "flag", raw=True)
    with netCDF4.Dataset(f"{url}/cf_model.nc") as ds:
        got = ds["flag"][:]
        np.testing.assert_array_equal(got.data, want)
        # The negative missing_value masks the same cells as locally.
        np.testing.assert_array_equal(got.mask, want == samples.FLAG_MISSING)
    pd = open_url(f"{url}/cf_model.nc")
    np.testing.assert_array_equal(np.asarray(pd["flag"].array[:]), want)
    xd = xr.open_dataset(f"{url}/cf_model.nc", engine="pydap")
    lx = xr.open_dataset(files["cf_model.nc"])
    np.testing.assert_array_equal(xd["flag"].values, lx["flag"].values)
    text = run(["getdap", "-D", f"{url}/cf_model.nc?flag.flag[0][0][0:1]"])
    assert re.search(r"-128\s*,\s*127", text), text


def test_grads_masks_the_negative_missing_value(url, files, tmp_path):
    """GrADS (sdfopen over DAP2) reads through nc_get_vara_float and masks missing_value."""
    want = local(files, "cf_model.nc", "flag", raw=True)[1]
    script = tmp_path / "flag.gs"
    script.write_text(
        f"'sdfopen {url}/cf_model.nc'\n'set t 2'\n'set gxout print'\n"
        "'set prnopts %g 5 1'\n'd flag'\nsay result\n'quit'\n"
    )
    out = run_in(tmp_path, ["grads", "-blc", f"run {script}"])
    block = out.split("Undef = ")[1]
    undef = float(block.split()[0])
    values = [float(x) for x in block.split("\n", 1)[1].split()[: want.size]]
    got = np.array(values).reshape(want.shape)  # GrADS prints south to north, like the file
    expected = np.where(want == samples.FLAG_MISSING, undef, want.astype(float))
    np.testing.assert_array_equal(got, expected)


# -- item 3: map targets declared before use (DAP4) --------------------------------------------


def test_getdap4_reads_maps_declared_after_their_users(url, files):
    """libdap refused `<Map name="/month"/>` before `month` was declared."""
    dmr = run(["getdap4", "-d", f"{url}/scales_after.h5"])
    assert "was not found" not in dmr
    assert dmr.index('name="month"') < dmr.index('<Map name="/month"/>')
    assert dmr.index('name="season"') < dmr.index('<Map name="/g/season"/>')
    data = run(["getdap4", "-D", "-M", f"{url}/scales_after.h5"])
    assert "Error" not in data
    with netCDF4.Dataset(f"{url}/scales_after.h5#dap4") as ds:
        np.testing.assert_array_equal(ds["data"][:], samples.SCALES_Z)
        np.testing.assert_array_equal(ds["month"][:], np.arange(1, 13))
        np.testing.assert_array_equal(ds["g/a"][:], samples.SCALES_Z[:4])


# -- item 4: a _FillValue of another type ------------------------------------------------------


@pytest.mark.parametrize("fragment", ["", "#dap4"])
def test_fill_value_of_another_type(url, files, fragment):
    """A double NaN _FillValue on a short: DAP4 refused the dataset, DAP2 sent garbage."""
    for _ in range(2):  # the same answer on every open
        with netCDF4.Dataset(f"{url}/era_fill.nc{fragment}") as ds:
            t2m, msl = ds["t2m"], ds["msl"]
            assert "_FillValue" not in t2m.ncattrs()
            assert "_FillValue (double NaN) is not a short value" in str(t2m._fathom_dropped)
            assert msl._FillValue == -32767 and msl._FillValue.dtype == np.int16
            for v in (t2m, msl):
                v.set_auto_maskandscale(False)
                np.testing.assert_array_equal(v[:], samples.era_values())
    # Scaled and masked as a local read (missing_value -32767 masks the one missing cell).
    with netCDF4.Dataset(f"{url}/era_fill.nc{fragment}") as ds:
        for name in ("t2m", "msl"):
            got, want = ds[name][:], local(files, "era_fill.nc", name)
            np.testing.assert_array_equal(np.ma.getmaskarray(got), np.ma.getmaskarray(want))
            np.testing.assert_allclose(got.compressed(), want.compressed())


# -- item 5: char arrays over DAP4 -------------------------------------------------------------


def text(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.ravel(values)]


def test_char_arrays_are_strings_over_dap4(url, files):
    xd = xr.open_dataset(f"dap4://{url.removeprefix('http://')}/cf_model.nc", engine="pydap")
    assert xd["station_name"].dims == ("nst",)
    assert text(xd["station_name"].values) == samples.STATIONS
    with xr.open_dataset(files["cf_model.nc"]) as lx:
        assert text(lx["station_name"].values) == samples.STATIONS
    pd = open_url(f"{url}/cf_model.nc", protocol="dap4")
    assert text(np.asarray(pd["station_name"][1:3].data)) == samples.STATIONS[1:3]
    dump = run(["ncdump", "-v", "station_name", f"{url}/cf_model.nc#dap4"])
    assert 'station_name = "Oslo", "Ny-Alesund", "Lima"' in " ".join(dump.split())
    # A DAP4 constraint binds to the string dimension; the char dimension is not one any more.
    ok = urllib.request.urlopen(f"{url}/cf_model.nc.dap?dap4.ce=/station_name%5B1:2%5D")
    assert ok.status == 200 and b"Ny-Alesund" in ok.read()
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{url}/cf_model.nc.dap?dap4.ce=/station_name%5B0%5D%5B0:3%5D")
    assert e.value.code == 400


# -- item 7: the client's errors are 4xx -------------------------------------------------------


@pytest.mark.parametrize(
    "target,status,needle",
    [
        ("cf_model.nc.dods?nosuchfn(t2m)", 400, b"no DAP2 server-side functions"),
        ("cf_model.nc.dap?dap4.ce=/t2m%7Ct2m%3E1", 400, b"applies only to a Sequence"),
        ("cf_model.nc.dap?dap4.ce=;;;", 400, b"no clause"),
        ("cf_model.nc.dmr?dap4.ce=nosuchfn(/t2m)", 400, b"no server functions"),
    ],
)
def test_client_errors_are_400(url, target, status, needle):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{url}/{target}")
    assert e.value.code == status
    body = e.value.read()
    assert needle in body, body
    assert body.startswith(b"Error {" if ".dods" in target else b"<?xml"), body


# -- item 10: a PyTables table over DAP4 -------------------------------------------------------


def test_pytables_table_over_dap4(url, files):
    """netCDF-C refused the DMR: PyTables' CLASS attribute is a name netCDF-4 reserves."""
    want = samples.table_records()
    dump = run(["ncdump", f"{url}/table.h5#dap4"])
    assert "CLASS" not in dump
    flat = " ".join(dump.split())
    assert 'TITLE = "station readings"' in flat
    for rec in want:
        assert f'{{{rec["id"]}, "{rec["name"].decode()}", {rec["temperature"]:g}' in flat, flat
    getdap = run(["getdap4", "-D", "-M", f"{url}/table.h5"])
    assert "stn4" in getdap


# -- item 11: NCO, CDO, GDAL over DAP2 and DAP4 -------------------------------------------------

PROTOCOLS = {"dap2": "", "dap4": "#dap4"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_nco_hyperslab_and_average(url, files, tmp_path, protocol):
    src = f"{url}/cf_model.nc{PROTOCOLS[protocol]}"
    out = tmp_path / "slab.nc"
    run_in(tmp_path, ["ncks", "-O", "-d", "time,1,2", "-d", "lat,1,3", "-v", "t2m,flag", src, str(out)])
    flag = local(files, "cf_model.nc", "flag")[1:3, 1:4]
    with netCDF4.Dataset(out) as ds:
        np.testing.assert_array_equal(ds["t2m"][:], local(files, "cf_model.nc", "t2m")[1:3, 1:4])
        np.testing.assert_array_equal(ds["flag"][:].filled(0), flag.filled(0))
        np.testing.assert_array_equal(np.ma.getmaskarray(ds["flag"][:]), np.ma.getmaskarray(flag))
        np.testing.assert_array_equal(ds["lat"][:], samples.LAT[1:4])
    mean = tmp_path / "mean.nc"
    run_in(tmp_path, ["ncwa", "-O", "-a", "time", "-v", "t2m", src, str(mean)])
    with netCDF4.Dataset(mean) as ds:
        np.testing.assert_allclose(
            ds["t2m"][:], local(files, "cf_model.nc", "t2m").mean(axis=0), rtol=1e-6
        )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_cdo_sinfon_and_fldmean(url, files, tmp_path, protocol):
    src = f"{url}/cf_model.nc{PROTOCOLS[protocol]}"
    info = run_in(tmp_path, ["cdo", "sinfon", src])
    assert re.search(r"\bt2m\b", info) and "points=20 (5x4)" in info and "3 steps" in info
    remote, here = tmp_path / "r.nc", tmp_path / "l.nc"
    run_in(tmp_path, ["cdo", "-s", "fldmean", "-selname,t2m", src, str(remote)])
    run_in(tmp_path, ["cdo", "-s", "fldmean", "-selname,t2m", str(files["cf_model.nc"]), str(here)])
    with netCDF4.Dataset(remote) as r, netCDF4.Dataset(here) as h:
        np.testing.assert_array_equal(r["t2m"][:], h["t2m"][:])
        # CDO weights by cell area (cos latitude); check the weighted mean independently.
        t2m = local(files, "cf_model.nc", "t2m")
        w = np.cos(np.deg2rad(samples.LAT))
        expected = (t2m * w[None, :, None]).sum(axis=(1, 2)) / (w.sum() * samples.LON.size)
        np.testing.assert_allclose(r["t2m"][:].ravel(), expected, rtol=1e-3)


def _aaigrid(path: Path) -> np.ndarray:
    lines = path.read_text().split("\n")
    header = {l.split()[0].lower(): l.split()[1] for l in lines[:6]}
    rows = [list(map(float, l.split())) for l in lines[6:] if l.strip()]
    assert len(rows) == int(header["nrows"])
    return np.array(rows)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_gdal_translate_a_band(url, files, tmp_path, protocol):
    src = f'NETCDF:"{url}/cf_model.nc{PROTOCOLS[protocol]}":t2m'
    remote, here = tmp_path / "r.asc", tmp_path / "l.asc"
    run_in(tmp_path, ["gdal_translate", "-q", "-b", "2", "-of", "AAIGrid", src, str(remote)])
    run_in(
        tmp_path,
        ["gdal_translate", "-q", "-b", "2", "-of", "AAIGrid", f'NETCDF:"{files["cf_model.nc"]}":t2m', str(here)],
    )
    got = _aaigrid(remote)
    np.testing.assert_array_equal(got, _aaigrid(here))
    band = np.asarray(local(files, "cf_model.nc", "t2m")[1], dtype=float)
    # Without regular spacing GDAL keeps the file's row order.
    np.testing.assert_array_equal(got, band)


def test_grads_over_dap4(url, files, tmp_path):
    """GrADS' sdfopen hands the URL to netCDF-C, so `#dap4` reaches DAP4 too."""
    want = local(files, "cf_model.nc", "t2m")[0]
    script = tmp_path / "t.gs"
    script.write_text(
        f"'sdfopen {url}/cf_model.nc#dap4'\n'set gxout print'\n'set prnopts %g 5 1'\n"
        "'d t2m'\nsay result\n'quit'\n"
    )
    out = run_in(tmp_path, ["grads", "-blc", f"run {script}"])
    assert "Printing Grid" in out, out
    block = out.split("Undef = ")[1]
    values = [float(x) for x in block.split("\n", 1)[1].split()[: want.size]]
    np.testing.assert_allclose(np.array(values).reshape(want.shape), want, rtol=1e-6)
