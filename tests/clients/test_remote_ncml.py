"""NcML files in the data root whose members are datasets on other OPeNDAP servers.

`<netcdf location="http://…">` (or `dap2://` / `dap4://` to force the protocol) wraps a remote
dataset with edits, and remote members take part in joinExisting, joinNew and union like local
files. The remotes are real servers: pydap's own server (DAP2 only, see test_remote.py) and a
second fathom. Clients read through fathom and are compared with a local read of the same file
and with the same aggregation of local copies.
"""

import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from conftest import Server, run
from test_remote import FaultProxy, free_port, get, wait_up


def write_part(src: Path, dst: Path, times: slice):
    """A file with classic.nc's time, lat, lon and temperature over `times`."""
    with netCDF4.Dataset(src) as s, netCDF4.Dataset(dst, "w") as d:
        d.createDimension("time", None)
        for name in ("lat", "lon"):
            d.createDimension(name, len(s.dimensions[name]))
        for name in ("time", "lat", "lon", "temperature"):
            v = s[name]
            fill = v.getncattr("_FillValue") if "_FillValue" in v.ncattrs() else None
            out = d.createVariable(name, v.dtype, v.dimensions, fill_value=fill)
            out.setncatts({k: v.getncattr(k) for k in v.ncattrs() if k != "_FillValue"})
            out[:] = v[times] if "time" in v.dimensions else v[:]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, samples_dir):
    up_root = tmp_path_factory.mktemp("upstream-root")
    gw_root = tmp_path_factory.mktemp("gateway-root")
    classic = samples_dir / "classic.nc"
    (up_root / "classic.nc").write_bytes(classic.read_bytes())
    for root in (up_root, gw_root):
        write_part(classic, root / "part1.nc", slice(0, 2))
        write_part(classic, root / "part2.nc", slice(2, 4))
    with netCDF4.Dataset(gw_root / "extra.nc", "w") as d:
        d.createDimension("station", 3)
        d.createVariable("extra", "i4", ("station",))[:] = [7, 8, 9]
    with ExitStack() as stack:
        upstream = Server(up_root)
        stack.callback(upstream.stop)
        proxy = FaultProxy(upstream.url)
        stack.callback(proxy.stop)
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
        up, host = upstream.url, upstream.url.removeprefix("http://")
        dead = f"http://127.0.0.1:{free_port()}"
        join = lambda kind, members, extra="": (
            f'<netcdf xmlns="http://www.unidata.ucar.edu/namespaces/netcdf/ncml-2.2">'
            f'<aggregation dimName="{"time" if kind == "joinExisting" else "run"}" type="{kind}">{extra}'
            + "".join(f'<netcdf location="{m}"/>' for m in members)
            + "</aggregation></netcdf>"
        )
        files = {
            "wrap.ncml": f'<netcdf xmlns="http://www.unidata.ucar.edu/namespaces/netcdf/ncml-2.2" location="{up}/classic.nc">'
            '<attribute name="title" value="through NcML"/>'
            '<variable name="temperature"><attribute name="units" value="kelvin"/></variable>'
            '<variable name="elevation" orgName="station_elevation"/>'
            '<remove name="pressure" type="variable"/></netcdf>',
            "wrap4.ncml": f'<netcdf location="dap4://{host}/classic.nc"/>',
            "wrap_pydap.ncml": f'<netcdf location="{pydap}/part1.nc"/>',
            "wrap_pydap_classic.ncml": f'<netcdf location="{pydap}/classic.nc"/>',
            "wrap_proxy.ncml": f'<netcdf location="dap2://{proxy.url.removeprefix("http://")}/classic.nc"/>',
            "wrap_proxy4.ncml": f'<netcdf location="dap4://{proxy.url.removeprefix("http://")}/classic.nc"/>',
            "join_local.ncml": join("joinExisting", ["part1.nc", "part2.nc"]),
            "join_remote.ncml": join("joinExisting", [f"{up}/part1.nc", f"{pydap}/part2.nc"]),
            "joinnew_local.ncml": join("joinNew", ["part1.nc", "part2.nc"], '<variableAgg name="temperature"/>'),
            "joinnew_remote.ncml": join(
                "joinNew", [f"dap4://{host}/part1.nc", f"{pydap}/part2.nc"], '<variableAgg name="temperature"/>'
            ),
            "union.ncml": join("union", [f"{up}/classic.nc", "extra.nc"]).replace('dimName="run" ', ""),
            "dead.ncml": f'<netcdf location="{dead}/classic.nc"/>',
            "ftp.ncml": '<netcdf location="ftp://127.0.0.1/classic.nc"/>',
        }
        for name, text in files.items():
            (gw_root / name).write_text(text)
        # Members behind the proxy get 1 s and no retry; every other host the defaults (20 s).
        config = gw_root.parent / f"{gw_root.name}.toml"
        config.write_text(
            "[remote]\ntimeout_secs = 20\n"
            f'[[remote.hosts]]\nhost = "{proxy.url.removeprefix("http://")}"\ntimeout_secs = 1\nretries = 0\n'
        )
        gateway = Server(gw_root, ["--config", str(config)])
        stack.callback(gateway.stop)
        yield {"gateway": gateway, "classic": classic, "gw_root": gw_root, "proxy": proxy, "up": upstream}
        assert gateway.alive(), "fathom died"


def values(ds, name):
    """Raw values, as stored (no masking or scaling)."""
    ds.set_auto_maskandscale(False)
    return np.asarray(ds[name][...])


CLASSIC_VARS = ["time", "lat", "lon", "temperature", "pressure", "station_elevation", "quality_flag"]


@pytest.mark.parametrize(
    "name,local,names",
    [("wrap4", None, CLASSIC_VARS), ("wrap_pydap", "part1.nc", ["time", "lat", "lon", "temperature"])],
)
@pytest.mark.parametrize("dap4", [False, True])
def test_a_remote_location_reads_as_the_file(setup, name, local, names, dap4):
    """A remote dataset wrapped by NcML, from a DAP4-forced second fathom and from pydap's
    DAP2-only server, reads over DAP2 and DAP4 with netCDF4-python as the local file."""
    url = f"{setup['gateway'].url}/{name}.ncml" + ("#dap4" if dap4 else "")
    path = setup["gw_root"] / local if local else setup["classic"]
    with netCDF4.Dataset(path) as f, netCDF4.Dataset(url) as via:
        # Raw values: netCDF-C parses some DAP4 Float32 attribute texts (scale_factor) a few
        # ulps off the file's value, see test_remote.py.
        for k in names:
            assert via[k].shape == f[k].shape, k
            assert np.array_equal(values(via, k), values(f, k), equal_nan=True), k
            for a in ("units", "long_name"):
                if a in f[k].ncattrs():
                    assert via[k].getncattr(a) == f[k].getncattr(a), (k, a)


def test_a_pydap_server_failure_in_a_member_is_a_502(setup):
    """PYDAP SERVER BUG C (see test_remote.py): pydap's server breaks off a `.dods` of a scalar.
    netCDF-C asks for all of a small dataset at once, so it cannot read classic.nc through
    pydap at all; fathom answers the broken member with 502 and the DAP2 error body before any
    data, and the other variables still read."""
    gw = setup["gateway"]
    s, _, body = get(f"{gw.url}/wrap_pydap_classic.ncml.dods?reference_height")
    assert s == 502 and body.startswith(b"Error {"), (s, body[:200])
    s, _, body = get(f"{gw.url}/wrap_pydap_classic.ncml.dods")
    assert s == 502 and body.startswith(b"Error {"), (s, body[:200])
    s, _, body = get(f"{gw.url}/wrap_pydap_classic.ncml.ascii?station_elevation")
    with netCDF4.Dataset(setup["classic"]) as f:
        elev = ", ".join(str(x) for x in f["station_elevation"][:])
    assert s == 200 and elev.encode() in body, body


def test_edits_apply_to_a_remote_location(setup):
    """Attributes, a rename and a removal in the NcML file apply to the remote dataset; xarray
    reads the edited view with the file's values."""
    gw = setup["gateway"]
    with xr.open_dataset(f"{gw.url}/wrap.ncml", decode_times=False, mask_and_scale=False) as via, xr.open_dataset(
        setup["classic"], decode_times=False, mask_and_scale=False
    ) as local:
        assert via.attrs["title"] == "through NcML"
        assert via["temperature"].attrs["units"] == "kelvin"
        assert "pressure" not in via and "station_elevation" not in via
        assert np.array_equal(via["elevation"].values, local["station_elevation"].values)
        np.testing.assert_array_equal(via["temperature"].values, local["temperature"].values)


@pytest.mark.parametrize("kind", ["join", "joinnew"])
def test_an_aggregation_of_remote_members_equals_the_local_aggregation(setup, kind):
    """joinExisting over a second fathom's and pydap's halves of the file, and joinNew over a
    DAP4-forced and a DAP2 member, read (xarray; netCDF4, DAP4) as the same aggregation of
    local copies, and the joined values are the original file's. (xarray reads the joinNew
    over DAP4: netCDF-C's DAP2 refuses an unlimited dimension that is not the first.)"""
    gw = setup["gateway"]
    tail = "#dap4" if kind == "joinnew" else ""
    with netCDF4.Dataset(setup["classic"]) as f:
        whole = values(f, "temperature")
        time = values(f, "time")
    with xr.open_dataset(f"{gw.url}/{kind}_remote.ncml{tail}", decode_times=False, mask_and_scale=False) as r, xr.open_dataset(
        f"{gw.url}/{kind}_local.ncml{tail}", decode_times=False, mask_and_scale=False
    ) as l:
        assert r["temperature"].dims == l["temperature"].dims
        np.testing.assert_array_equal(r["temperature"].values, l["temperature"].values)
        if kind == "join":
            np.testing.assert_array_equal(r["temperature"].values, whole)
            np.testing.assert_array_equal(r["time"].values, time)
        else:
            assert r["temperature"].shape == (2, 2, 6, 8)
            np.testing.assert_array_equal(r["temperature"].values.reshape(4, 6, 8), whole)
    with netCDF4.Dataset(f"{gw.url}/{kind}_remote.ncml#dap4") as r:
        got = values(r, "temperature")
        assert np.array_equal(got.reshape(whole.shape), whole, equal_nan=True)
        # A slice across the two members' boundary.
        if kind == "join":
            assert np.array_equal(np.asarray(r["temperature"][1:3, 2, ::3]), whole[1:3, 2, ::3])


def test_a_union_of_a_remote_and_a_local_member(setup):
    """A union takes the remote dataset's variables and the local file's extra variable;
    ncdump prints both."""
    gw = setup["gateway"]
    out = run(["ncdump", "-v", "extra,station_elevation", f"{gw.url}/union.ncml"])
    data = out[out.index("data:") :].replace(" ", "").replace("\n", "")
    with netCDF4.Dataset(setup["classic"]) as f:
        elev = ",".join(str(x) for x in f["station_elevation"][:])
    assert f"extra=7,8,9;" in data, out
    assert f"station_elevation={elev};" in data, out


@pytest.mark.parametrize(
    "mode, path, status",
    [
        ("slow", "wrap_proxy4.ncml.dap?dap4.ce=/lat", 504),
        ("slow", "wrap_proxy.ncml.dods?lon", 504),
        ("error", "wrap_proxy4.ncml.dap?dap4.ce=/pressure", 502),
        ("truncate", "wrap_proxy4.ncml.dap?dap4.ce=/station_elevation", 502),
    ],
)
def test_a_member_failure_before_the_body_is_a_502_or_504(setup, mode, path, status):
    """A member slower than the operator's timeout for its host (`[[remote.hosts]]`, 1 s and no
    retry here; the proxy takes 3 s) gets 504, an erroring or truncated one 502, each with the
    protocol's error body and no data, over DAP4 as over DAP2."""
    gw, proxy = setup["gateway"], setup["proxy"]
    assert get(f"{gw.url}/{path.split('?')[0].rsplit('.', 1)[0]}.dds")[0] == 200  # metadata first
    proxy.mode = mode
    try:
        start = time.time()
        s, headers, body = get(f"{gw.url}/{path}")
        took = time.time() - start
    finally:
        proxy.mode = "pass"
    text = body.decode(errors="replace")
    assert s == status, (s, text[:300])
    if ".dap" in path:
        assert text.startswith("<?xml") and f'<Error httpcode="{status}">' in text, text
    else:
        assert text.startswith("Error {") and headers["Content-Description"] == "dods_error", text
    if mode == "slow":
        assert took < 2.9, f"the host's 1 s timeout applies, not the default 20 s ({took:.1f} s)"
    assert get(f"{gw.url}/{path}")[0] == 200  # and the member reads again once it answers


def test_repeated_reads_of_a_remote_member_come_from_the_cache(setup):
    """A second read of the same slice sends no request upstream."""
    gw, proxy = setup["gateway"], setup["proxy"]
    url = f"{gw.url}/wrap_proxy.ncml.dods?temperature[0:1:1][0:1:5][0:1:7]"
    s1, _, first = get(url)
    n = len(proxy.data_requests())
    s2, _, second = get(url)
    assert s1 == s2 == 200 and first == second
    assert n >= 1 and len(proxy.data_requests()) == n


def test_an_unreachable_or_unsupported_location_is_a_clear_error(setup):
    """A member on a server that is down: 502 with the protocol's error body naming the NcML
    file; a location of another scheme: an error naming it. The rest keeps working."""
    gw = setup["gateway"]
    s, _, body = get(f"{gw.url}/dead.ncml.dds")
    assert s == 502 and body.startswith(b"Error {") and b"dead.ncml" in body, body
    s, _, body = get(f"{gw.url}/dead.ncml.dmr")
    assert s == 502 and b"<Error" in body, body
    s, _, body = get(f"{gw.url}/ftp.ncml.dds")
    assert s >= 400 and b"ftp://" in body, (s, body)
    assert get(f"{gw.url}/join_local.ncml.dds")[0] == 200


def test_a_request_url_never_makes_fathom_fetch(setup):
    """Only NcML files in the data root name remote URLs: a URL in a request path or query is
    answered from the data root and reaches no remote server."""
    gw, proxy = setup["gateway"], setup["proxy"]
    before = len(proxy.paths)
    target = proxy.url + "/classic.nc"
    for path in [f"/{target}.dds", f"/dap2://{target[7:]}.dds", f"/wrap.ncml.dds?{target}"]:
        s, _, _ = get(gw.url + path)
        assert s in (200, 400, 404), path
    assert len(proxy.paths) == before
