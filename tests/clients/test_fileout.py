"""File-out: `X.nc?ce`, `X.nc4?ce`, `X.dap.nc?dap4.ce=`, `X.dap.nc4?dap4.ce=`.

Every downloaded file is opened with netCDF4-python (and xarray, and `ncdump -h`) and compared
with a local read of the same slice of the served file: values, types, dimensions, attributes,
groups.
"""

import subprocess
import urllib.error
import urllib.request

import netCDF4
import numpy as np
import pytest
import xarray as xr

from conftest import SAMPLES

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def download(url, path):
    with urllib.request.urlopen(url, timeout=60) as r:
        body = r.read()
        headers = r.headers
    assert int(headers["Content-Length"]) == len(body)
    path.write_bytes(body)
    return headers


def fetch_error(url):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=60)
    return e.value.code, e.value.read().decode(), e.value.headers


def attrs(obj):
    return {k: obj.getncattr(k) for k in obj.ncattrs()}


def same_attrs(got, want):
    assert set(got) == set(want), (sorted(got), sorted(want))
    for k, v in want.items():
        g = got[k]
        if isinstance(v, str):
            assert g == v, k
        else:
            np.testing.assert_array_equal(np.asarray(g), np.asarray(v), err_msg=k)
            assert np.asarray(g).dtype == np.asarray(v).dtype, k


def raw(var, index=Ellipsis):
    var.set_auto_maskandscale(False)
    if var.dtype == "S1":
        var.set_auto_chartostring(False)
    return var[index]


def same_group(got, want, check_types=True):
    """Every variable, dimension and attribute of `want` is in `got` with the same values."""
    same_attrs(attrs(got), attrs(want))
    assert {n: len(d) for n, d in got.dimensions.items()} == {
        n: len(d) for n, d in want.dimensions.items()
    }
    for name, wv in want.variables.items():
        if wv.datatype.__class__.__name__ in ("CompoundType", "VLType", "EnumType"):
            continue
        assert name in got.variables, name
        gv = got.variables[name]
        assert gv.dimensions == wv.dimensions, name
        if check_types:
            assert gv.dtype == wv.dtype, name
        np.testing.assert_array_equal(raw(gv), raw(wv), err_msg=name)
        same_attrs(attrs(gv), attrs(wv))
    for name, wg in want.groups.items():
        same_group(got.groups[name], wg, check_types)


@pytest.mark.parametrize("suffix", [".nc4", ".dap.nc4"])
@pytest.mark.parametrize("name", ["classic.nc", "groups.nc", "chunked.nc", "cdf5.nc"])
def test_whole_file_as_netcdf4_matches_local(sample_server, tmp_path, name, suffix):
    out = tmp_path / "out.nc4"
    headers = download(f"{sample_server.url}/{name}{suffix}", out)
    assert headers["Content-Type"] == "application/x-netcdf4"
    assert f'filename="{name.rsplit(".", 1)[0]}.nc4"' in headers["Content-Disposition"]
    with netCDF4.Dataset(out) as got, netCDF4.Dataset(SAMPLES / name) as want:
        assert got.data_model == "NETCDF4"
        same_group(got, want)
        # The record dimension stays unlimited.
        for dname, d in want.dimensions.items():
            assert got.dimensions[dname].isunlimited() == d.isunlimited()


@pytest.mark.parametrize("name", ["classic.nc", "chunked.nc", "offset64.nc"])
def test_whole_file_as_netcdf3_matches_local(sample_server, tmp_path, name):
    out = tmp_path / "out.nc"
    headers = download(f"{sample_server.url}/{name}.nc", out)
    assert headers["Content-Type"] == "application/x-netcdf"
    with netCDF4.Dataset(out) as got, netCDF4.Dataset(SAMPLES / name) as want:
        assert got.data_model == "NETCDF3_64BIT_OFFSET"
        same_group(got, want)
    text = subprocess.run(["ncdump", "-h", str(out)], capture_output=True, text=True, check=True)
    assert "dimensions:" in text.stdout


def test_unsigned_and_int64_make_cdf5(sample_server, tmp_path):
    out = tmp_path / "out.nc"
    download(f"{sample_server.url}/cdf5.nc.nc", out)
    with netCDF4.Dataset(out) as got, netCDF4.Dataset(SAMPLES / "cdf5.nc") as want:
        assert got.data_model == "NETCDF3_64BIT_DATA"
        same_group(got, want)


def test_types_file_keeps_what_each_format_can_hold(sample_server, tmp_path):
    out3, out4 = tmp_path / "t.nc", tmp_path / "t.nc4"
    download(f"{sample_server.url}/types.nc.nc", out3)
    download(f"{sample_server.url}/types.nc.nc4", out4)
    with netCDF4.Dataset(SAMPLES / "types.nc") as want:
        plain = [
            n
            for n, v in want.variables.items()
            if v.datatype.__class__.__name__ not in ("CompoundType", "VLType")
            and v.dtype is not str
            and not isinstance(v.datatype, netCDF4.EnumType)
        ]
        strings = [n for n, v in want.variables.items() if v.dtype is str]
        assert plain and strings
        with netCDF4.Dataset(out3) as got:
            assert got.data_model == "NETCDF3_64BIT_DATA"
            for n in plain:
                np.testing.assert_array_equal(raw(got[n]), raw(want[n]), err_msg=n)
            for n in strings:
                assert n not in got.variables
                assert n in got.getncattr("_fathom_omitted")
        with netCDF4.Dataset(out4) as got:
            for n in plain + strings:
                np.testing.assert_array_equal(
                    np.asarray(raw(got[n])), np.asarray(raw(want[n])), err_msg=n
                )


def local_slice(name, var, index):
    with netCDF4.Dataset(SAMPLES / name) as ds:
        return raw(ds[var], index)


@pytest.mark.parametrize(
    "path",
    [
        "classic.nc.nc?temperature[1:1:2][0:2:4][3]",
        "classic.nc.nc4?temperature[1:1:2][0:2:4][3]",
        "classic.nc.dap.nc?dap4.ce=/temperature[1:2][0:2:4][3]",
        "classic.nc.dap.nc4?dap4.ce=/temperature%5B1:2%5D%5B0:2:4%5D%5B3%5D",
    ],
)
def test_constrained_subset_keeps_dimensions_and_coordinates(sample_server, tmp_path, path):
    out = tmp_path / "sub.nc"
    download(f"{sample_server.url}/{path}", out)
    index = (slice(1, 3), slice(0, 5, 2), slice(3, 4))
    with netCDF4.Dataset(out) as got:
        t = got["temperature"]
        # A single index keeps its dimension, of size 1.
        assert t.shape == (2, 3, 1)
        assert t.dimensions == ("time", "lat", "lon")
        np.testing.assert_array_equal(raw(t), local_slice("classic.nc", "temperature", index))
        assert t.getncattr("_FillValue") == np.float32(-999.0)
        assert t.getncattr("units") == "K"
        # The coordinate variables come along, subset with their dimensions.
        for coord, i in (("time", 0), ("lat", 1), ("lon", 2)):
            np.testing.assert_array_equal(raw(got[coord]), local_slice("classic.nc", coord, index[i]))
        assert set(got.variables) == {"temperature", "time", "lat", "lon"}
    # xarray reads the same values, masked and decoded like the local slice.
    with xr.open_dataset(out) as got, xr.open_dataset(SAMPLES / "classic.nc") as want:
        sel = want["temperature"].isel(time=slice(1, 3), lat=slice(0, 5, 2), lon=slice(3, 4))
        xr.testing.assert_identical(got["temperature"].drop_vars(list(got.coords)), sel.drop_vars(list(sel.coords)))
        np.testing.assert_array_equal(got["time"].values, sel["time"].values)


def test_dap2_grid_map_only_and_char_array(sample_server, tmp_path):
    with netCDF4.Dataset(SAMPLES / "classic.nc") as ds:
        chars = [n for n, v in ds.variables.items() if v.dtype == "S1"]
    assert chars
    name = chars[0]
    out = tmp_path / "c.nc"
    download(f"{sample_server.url}/classic.nc.nc?{name}[1:1:2],lat", out)
    with netCDF4.Dataset(out) as got:
        np.testing.assert_array_equal(raw(got[name]), local_slice("classic.nc", name, slice(1, 3)))
        np.testing.assert_array_equal(raw(got["lat"]), local_slice("classic.nc", "lat", Ellipsis))
        assert got[name].dtype == np.dtype("S1")


def test_groups_kept_in_netcdf4_and_flattened_in_netcdf3(sample_server, tmp_path):
    out4, out3 = tmp_path / "g.nc4", tmp_path / "g.nc"
    ce = "dap4.ce=/forecast/air_temperature[0][1:3][]"
    download(f"{sample_server.url}/groups.nc.dap.nc4?{ce}", out4)
    download(f"{sample_server.url}/groups.nc.dap.nc?{ce}", out3)
    want = local_slice("groups.nc", "forecast/air_temperature", (slice(0, 1), slice(1, 4)))
    with netCDF4.Dataset(out4) as got:
        v = got["forecast"]["air_temperature"]
        assert v.dimensions == ("lead_time", "lat", "lon")
        np.testing.assert_array_equal(raw(v), want)
        assert got["forecast"].getncattr("model") == "fathom toy model"
        np.testing.assert_array_equal(
            raw(got["lat"]), local_slice("groups.nc", "lat", slice(1, 4))
        )
    with netCDF4.Dataset(out3) as got:
        np.testing.assert_array_equal(raw(got["forecast_air_temperature"]), want)
        assert got.getncattr("forecast_model") == "fathom toy model"


def test_two_parts_of_one_dimension_get_two_dimensions(sample_server, tmp_path):
    out = tmp_path / "two.nc"
    download(f"{sample_server.url}/classic.nc.nc?temperature[0][0:1:2][0],lat[3:1:5]", out)
    with netCDF4.Dataset(out) as got:
        assert got["temperature"].shape == (1, 3, 1)
        np.testing.assert_array_equal(raw(got["lat"]), local_slice("classic.nc", "lat", slice(3, 6)))
        lat_dim = got["temperature"].dimensions[1]
        assert lat_dim != "lat" and len(got.dimensions[lat_dim]) == 3


@pytest.mark.parametrize(
    "path,code,needle",
    [
        ("classic.nc.nc?nosuch", 400, "nosuch"),
        ("classic.nc.nc4?temperature[0:1:99]", 400, "temperature"),
        ("classic.nc.dap.nc4?dap4.ce=/nosuch", 400, "nosuch"),
        ("classic.nc.dap.nc?dap4.ce=/temperature[0:99]", 400, "temperature"),
        ("nosuch.nc.nc", 404, ""),
    ],
)
def test_errors(sample_server, path, code, needle):
    status, body, headers = fetch_error(f"{sample_server.url}/{path}")
    assert status == code
    if ".dap." in path:
        assert "<Error" in body and f'httpcode="{code}"' in body
    elif code == 400:
        assert body.startswith("Error {") and headers.get("Content-Description") == "dods_error"
    assert needle in body


def test_limits_give_413_before_reading(serve, tmp_path):
    server = serve(
        [SAMPLES / "chunked.nc"],
        extra_args=["--set", "max_response_bytes=100000", "--set", "nc4_max_bytes=50000"],
    )
    status, body, _ = fetch_error(f"{server.url}/chunked.nc.nc")
    assert status == 413 and body.startswith("Error {") and "100000" in body
    status, body, _ = fetch_error(f"{server.url}/chunked.nc.dap.nc4")
    assert status == 413 and "<Error" in body
    # Under the response limit but over the netCDF-4 file limit.
    status, body, _ = fetch_error(f"{server.url}/chunked.nc.nc4?precip[0:1:3]")
    assert status == 413 and "netCDF-4" in body
    # A small subset still works.
    out = tmp_path / "small.nc"
    download(f"{server.url}/chunked.nc.nc?precip[0][0:1:4][0:1:4]", out)
    with netCDF4.Dataset(out) as got:
        np.testing.assert_array_equal(
            raw(got["precip"]),
            local_slice("chunked.nc", "precip", (slice(0, 1), slice(0, 5), slice(0, 5))),
        )


def test_temporary_netcdf4_files_are_removed(serve, tmp_path):
    import glob
    import tempfile

    def leftovers():
        return glob.glob(f"{tempfile.gettempdir()}/fathom-fileout-*")

    before = set(leftovers())
    server = serve([SAMPLES / "chunked.nc"])
    download(f"{server.url}/chunked.nc.nc4?precip[0][0:1:9][0:1:9]", tmp_path / "a.nc4")
    small = serve([SAMPLES / "chunked.nc"], extra_args=["--set", "nc4_max_bytes=5000"])
    # 92 bytes of values, under the limit, but the written file (HDF5's metadata alone is
    # several kB) is over it: refused once written, and the file goes too.
    status, body, _ = fetch_error(f"{small.url}/chunked.nc.nc4?precip[0][0][0:1:9]")
    assert status == 413 and "limit of 5000 bytes for netCDF-4" in body, body
    assert set(leftovers()) <= before
