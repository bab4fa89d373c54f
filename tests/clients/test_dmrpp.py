"""DMR++ in and out, with real clients.

In: Hyrax's own DMR++ conformance files (OPENDAP/bes modules/dmrpp_module, copied under
tests/conformance with their `dmrpp:href`s rebased) served from a folder where `X.dmrpp` lies
beside `X`; netCDF4-python over DAP4 and DAP2 decodes our responses, and the values must equal
the ones in bes's expected `.dap` baselines (their text dump, parsed here). The DMR++ is what is
read: a file whose HDF5 superblock is destroyed still serves through its DMR++.

Out: `fathom index` writes DMR++ for the same HDF5 files and for files written here by
netCDF4-python and h5py (chunked, deflate + shuffle + fletcher32, contiguous, compact, strings,
groups, a netCDF-3 record variable); served through those indexes, netCDF4-python (DAP4, DAP2)
and xarray read what netCDF4-python / h5py read from the local files.
"""

import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import h5py
import netCDF4
import numpy as np
import pytest

from conftest import CONFORMANCE, Server, fathom_bin, run

warnings.filterwarnings("ignore")

BES = CONFORMANCE / "bes" / "modules" / "dmrpp_module"
BES_DATA = BES / "data" / "dmrpp"


def baselines():
    """(data file name, baseline path) for every bes `.dap` baseline of a whole dataset."""
    out = []
    for b in sorted((BES / "tests").glob("*/*.dap.baseline")):
        stem = b.name[: -len(".dap.baseline")]
        data = stem if (BES_DATA / stem).exists() else None
        if data is None:
            # compact/Scalar_compact.dap → Scalar_compact.h5
            data = stem + ".h5" if (BES_DATA / (stem + ".h5")).exists() else None
        if data is not None:
            out.append((data, b))
    return out


LINE = re.compile(r"^(\w+) (\S+?)((?:\[[^\]]*\])*) = (.*);$")
NUMBER = re.compile(r"-?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|inf|nan)")


def parse_baseline(path):
    """{variable path: (type, values)} from the text dump after `The data:`."""
    text = path.read_text(encoding="latin-1").split("The data:", 1)[1]
    out = {}
    for line in text.splitlines():
        m = LINE.match(line.strip())
        if not m:
            continue
        dtype, name, _dims, values = m.groups()
        if dtype == "String":
            vals = re.findall(r'"((?:[^"\\]|\\.)*)"', values)
        else:
            vals = [float(v) for v in NUMBER.findall(values)]
        out[name if name.startswith("/") else "/" + name] = (dtype, vals)
    return out


def node_var(ds, path):
    *groups, var = path.strip("/").split("/")
    node = ds
    for g in groups:
        node = node.groups[g]
    return node.variables[var]


def status_and_body(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def bes_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("bes_dmrpp")
    for f in BES_DATA.iterdir():
        shutil.copy(f, root / f.name)
    for f in root.iterdir():
        f.chmod(0o644)
    return root


@pytest.fixture(scope="module")
def bes_server(bes_root):
    s = Server(bes_root)
    yield s
    alive = s.alive()
    s.stop()
    assert alive, "the server died"


def compare_to_baseline(remote, want, label):
    compared = 0
    for path, (dtype, vals) in want.items():
        v = node_var(remote, path)
        got = v[...]
        if dtype == "String":
            got = np.asarray(got, dtype=object).ravel().tolist()
            if got and isinstance(got[0], bytes):
                # netCDF-C reads a DAP2 string as characters.
                got = [b"".join(got).rstrip(b"\0").decode()]
            assert got == vals, f"{label} {path}"
        else:
            got = np.ma.filled(np.asarray(got).astype("f8"), np.nan).ravel()
            np.testing.assert_allclose(got, np.array(vals), rtol=1e-6, err_msg=f"{label} {path}")
        compared += 1
    return compared


def test_bes_dmrpp_served_over_dap4_reads_the_bes_baselines(bes_server):
    host = bes_server.url[len("http://"):]
    compared = 0
    for data, baseline in baselines():
        want = parse_baseline(baseline)
        assert want, baseline
        remote = netCDF4.Dataset(f"dap4://{host}/{data}")
        try:
            compared += compare_to_baseline(remote, want, data)
        finally:
            remote.close()
    assert compared >= 30


def test_bes_dmrpp_served_over_dap2_reads_the_bes_baselines(bes_server):
    compared = 0
    for data, baseline in baselines():
        want = parse_baseline(baseline)
        # DAP2 has no 64-bit integers, no groups (flattened) and no enums (their base type).
        if any(t in ("Int64", "UInt64") for t, _ in want.values()) or any(
            p.count("/") > 1 for p in want
        ):
            continue
        remote = netCDF4.Dataset(f"{bes_server.url}/{data}")
        try:
            compared += compare_to_baseline(remote, want, data)
        finally:
            remote.close()
    assert compared >= 20


def test_the_listing_shows_each_dataset_once(bes_server):
    _, body = status_and_body(f"{bes_server.url}/?format=json")
    names = [e["name"] for e in json.loads(body)["entries"]]
    assert "chunked_twoD.h5" in names
    assert not [n for n in names if n.endswith(".dmrpp") and n[: -len(".dmrpp")] in names]


def test_values_come_through_the_dmrpp_not_the_hdf5_library(tmp_path):
    """A file whose HDF5 signature and superblock are destroyed (chunks intact) still serves
    through its DMR++, even one whose href names a host far away; without the DMR++ it is not
    a dataset at all."""
    root = tmp_path / "root"
    root.mkdir()
    src = BES_DATA / "chunked_shufzip_twoD.h5"
    data = bytearray(src.read_bytes())
    data[0:96] = b"\0" * 96
    (root / "broken.h5").write_bytes(bytes(data))
    dmrpp = (BES_DATA / "chunked_shufzip_twoD.h5.dmrpp").read_text()
    dmrpp = dmrpp.replace('href="chunked_shufzip_twoD.h5"', 'href="https://example.invalid/x.h5"')
    (root / "broken.h5.dmrpp").write_text(dmrpp)
    (root / "lonely.h5").write_bytes(bytes(data))
    s = Server(root)
    try:
        host = s.url[len("http://"):]
        remote = netCDF4.Dataset(f"dap4://{host}/broken.h5")
        got = remote["d_4_shufzip_chunks"][:]
        remote.close()
        np.testing.assert_array_equal(got, np.arange(10000, dtype="f4").reshape(100, 100))
        status, _ = status_and_body(f"{s.url}/lonely.h5.dds")
        assert status == 404
        _, body = status_and_body(f"{s.url}/?format=json")
        names = [e["name"] for e in json.loads(body)["entries"]]
        assert "broken.h5" in names and "broken.h5.dmrpp" not in names
    finally:
        s.stop()


# String variables as Hyrax's build_dmrpp describes them: (file, variable, how).
STRING_VARS = [
    ("chunked_string_array.h5", "string_array", "chunked fixed-length, FixedLengthStringArray"),
    ("Scalar_compact_str.h5", "var_str_sca", "compact fixed-length scalar"),
    ("Scalar_compact_vlstr.h5", "vl_scalar", "compact variable-length scalar"),
    ("Scalar_contiguous_vlstr.h5", "vl_scalar", "variable-length scalar given inline"),
]


def h5_strings(path, var):
    with h5py.File(path) as f:
        v = f[var][()]
    vals = np.asarray(v, dtype=object).ravel().tolist()
    return [x.decode() if isinstance(x, bytes) else x for x in vals]


def test_string_variables_come_through_the_dmrpp(tmp_path):
    """The strings read over DAP4 and DAP2 equal h5py's on the file, with the HDF5 superblock
    destroyed so that nothing but the DMR++ can locate them."""
    root = tmp_path / "root"
    root.mkdir()
    for name, _, _ in STRING_VARS:
        data = bytearray((BES_DATA / name).read_bytes())
        data[0:96] = b"\0" * 96
        (root / name).write_bytes(bytes(data))
        shutil.copy(BES_DATA / f"{name}.dmrpp", root / f"{name}.dmrpp")
    s = Server(root)
    try:
        host = s.url[len("http://"):]
        for name, var, how in STRING_VARS:
            want = h5_strings(BES_DATA / name, var)
            assert want and all(want), (name, want)
            remote = netCDF4.Dataset(f"dap4://{host}/{name}")
            got = np.asarray(remote[var][...], dtype=object).ravel().tolist()
            remote.close()
            assert got == want, how
            remote = netCDF4.Dataset(f"{s.url}/{name}")
            got = np.asarray(remote[var][...])
            remote.close()
            if got.dtype.kind == "S":
                # netCDF-C reads DAP2 strings as characters, one row per string.
                got = netCDF4.chartostring(got)
            assert np.asarray(got, dtype=object).ravel().tolist() == want, f"{how} (DAP2)"
        # A subset of the chunked array: every other string.
        remote = netCDF4.Dataset(f"dap4://{host}/chunked_string_array.h5")
        got = remote["string_array"][1::2].tolist()
        remote.close()
        assert got == h5_strings(BES_DATA / "chunked_string_array.h5", "string_array")[1::2]
        # A variable-length string Hyrax locates by its global-heap reference is not read from
        # the DMR++: with the file unreadable it is a clear error, not wrong data.
        data = bytearray((BES_DATA / "chunked_scalar_string.h5").read_bytes())
        data[0:96] = b"\0" * 96
        (root / "heap.h5").write_bytes(bytes(data))
        shutil.copy(BES_DATA / "chunked_scalar_string.h5.dmrpp", root / "heap.h5.dmrpp")
        status, body = status_and_body(f"{s.url}/heap.h5.dap?dap4.ce=/scalar_big_string")
        # DAP4: the error chunk after the DMR (the status is sent before the values are read).
        assert b"<Error" in body and b"scalar_big_string" in body.split(b"</Dataset>")[-1], body
        status, body = status_and_body(f"{s.url}/heap.h5.dods")
        assert b"Error {" in body, (status, body[-300:])
        status, _ = status_and_body(f"{s.url}/heap.h5.dmr")
        assert status == 200
    finally:
        alive = s.alive()
        s.stop()
        assert alive


def test_a_string_the_dmrpp_cannot_locate_reads_from_the_file_beside_it(bes_server):
    remote = netCDF4.Dataset(f"dap4://{bes_server.url[len('http://'):]}/chunked_scalar_string.h5")
    got = remote["scalar_big_string"][...]
    remote.close()
    want = h5_strings(BES_DATA / "chunked_scalar_string.h5", "scalar_big_string")
    assert np.asarray(got, dtype=object).ravel().tolist() == want


def test_a_dmrpp_alone_reads_its_href_only_inside_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "data").mkdir(parents=True)
    (root / "index").mkdir()
    shutil.copy(BES_DATA / "d_int.h5", root / "data" / "d_int.h5")
    text = (BES_DATA / "d_int.h5.dmrpp").read_text()
    (root / "index" / "d_int.h5.dmrpp").write_text(
        text.replace('href="d_int.h5"', 'href="../data/d_int.h5"')
    )
    (root / "index" / "away.h5.dmrpp").write_text(
        text.replace('href="d_int.h5"', 'href="https://s3.amazonaws.com/cloudydap/samples/d_int.h5"')
    )
    secret = tmp_path / "secret.h5"
    shutil.copy(BES_DATA / "d_int.h5", secret)
    (root / "index" / "escape.h5.dmrpp").write_text(
        text.replace('href="d_int.h5"', 'href="../../secret.h5"')
    )
    s = Server(root)
    try:
        host = s.url[len("http://"):]
        remote = netCDF4.Dataset(f"dap4://{host}/index/d_int.h5.dmrpp")
        np.testing.assert_array_equal(remote["d16_2"][:], [[-32768, 1], [2, 32767]])
        remote.close()
        for name in ["away.h5.dmrpp", "escape.h5.dmrpp"]:
            status, body = status_and_body(f"{s.url}/index/{name}.dap")
            assert 400 <= status < 600, name
            assert b"<Error" in body and b"not a file beside it" in body, body
            status, body = status_and_body(f"{s.url}/index/{name}.dods")
            assert 400 <= status < 600 and b"Error {" in body, body
        status, _ = status_and_body(f"{s.url}/index/d_int.h5.dmrpp.dds")
        assert status == 200
    finally:
        alive = s.alive()
        s.stop()
        assert alive


def test_bad_dmrpp_files_get_clear_errors_and_the_server_keeps_serving(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    good = (BES_DATA / "chunked_twoD.h5.dmrpp").read_text()
    for name in ["notxml.h5", "past_end.h5", "filter.h5", "good.h5"]:
        shutil.copy(BES_DATA / "chunked_twoD.h5", root / name)
    (root / "notxml.h5.dmrpp").write_text("this is { not xml <")
    (root / "past_end.h5.dmrpp").write_text(re.sub(r'offset="(\d+)"', 'offset="99999999"', good))
    szip = good.replace("<dmrpp:chunks", '<dmrpp:chunks compressionType="szip"', 1)
    (root / "filter.h5.dmrpp").write_text(szip)
    # A filter the index names but fathom does not decode, over a file whose HDF5 metadata is
    # gone too: nothing can read it.
    data = bytearray((BES_DATA / "chunked_twoD.h5").read_bytes())
    data[0:96] = b"\0" * 96
    (root / "filter_broken.h5").write_bytes(bytes(data))
    (root / "filter_broken.h5.dmrpp").write_text(szip)
    (root / "good.h5.dmrpp").write_text(good)
    s = Server(root)
    try:
        status, body = status_and_body(f"{s.url}/notxml.h5.dmr")
        assert 400 <= status < 600 and b"<Error" in body and b"DMR++" in body, body
        status, body = status_and_body(f"{s.url}/notxml.h5.dds")
        assert 400 <= status < 600 and b"Error {" in body, body
        for name in ["past_end.h5", "filter_broken.h5"]:
            # Metadata is fine; the values cannot be read: an error, never data.
            status, _ = status_and_body(f"{s.url}/{name}.dmr")
            assert status == 200
            try:
                status, body = status_and_body(f"{s.url}/{name}.dods")
            except Exception:  # an aborted response is a correct way to fail
                status, body = 500, b""
            assert status >= 400 or len(body) < 40000, name
            # DAP4: the error is in the response (an error chunk after the DMR, or the status).
            status, body = status_and_body(f"{s.url}/{name}.dap")
            assert status >= 400 or b"<Error" in body, name
            with pytest.raises(Exception):
                r = netCDF4.Dataset(f"dap4://{s.url[7:]}/{name}")
                r["d_4_chunks"][:]
        # The index cannot locate filter.h5's values, the intact file beside it can.
        for name in ["good.h5", "filter.h5"]:
            remote = netCDF4.Dataset(f"{s.url}/{name}")
            np.testing.assert_array_equal(
                remote["d_4_chunks"][:], np.arange(10000, dtype="f4").reshape(100, 100)
            )
            remote.close()
    finally:
        alive = s.alive()
        s.stop()
        assert alive


# ---------------------------------------------------------------------------------------------
# `fathom index`, then serve through what it wrote.


def write_generated(folder):
    """Files covering the layouts an index must describe."""
    with netCDF4.Dataset(folder / "nc4_chunked.nc", "w") as nc:
        nc.title = "generated"
        nc.createDimension("time", None)
        nc.createDimension("y", 30)
        nc.createDimension("x", 40)
        t = nc.createVariable("time", "f8", ("time",))
        t.units = "days since 2000-01-01"
        t[:] = np.arange(5)
        v = nc.createVariable(
            "temp", "f4", ("time", "y", "x"), zlib=True, shuffle=True, fletcher32=True,
            chunksizes=(2, 16, 16), fill_value=-999.0,
        )
        v[:] = np.arange(5 * 30 * 40, dtype="f4").reshape(5, 30, 40) / 7
        v[4, :5, :5] = np.ma.masked
        c = nc.createVariable("plain", "i2", ("y", "x"), contiguous=True)
        c[:] = np.arange(1200, dtype="i2").reshape(30, 40)
        b = nc.createVariable("big_endian", "i4", ("x",), endian="big")
        b[:] = np.arange(40) * -3
        g = nc.createGroup("forecast").createGroup("members")
        g.createDimension("m", 3)
        gv = g.createVariable("skill", "f8", ("m",), zlib=True)
        gv[:] = [0.5, 0.25, 0.125]
        s = nc.createVariable("label", str, ())
        s[0] = "hello index"
        nc.createDimension("n_names", 4)
        names = nc.createVariable("names", str, ("n_names",))
        names[:] = np.array(["alpha", "a longer name", "", "z"], dtype=object)
        nc.createVariable("never_written", "i4", ("y",), fill_value=17)
        # Fewer records than the unlimited dimension: an HDF5 extent the index cannot describe
        # (the engine leaves it to the library); read from the file itself when asked for.
        short = nc.createVariable("short_records", "f4", ("time", "y"), zlib=True, chunksizes=(2, 30))
        short[0:2] = np.arange(60, dtype="f4").reshape(2, 30)
    with netCDF4.Dataset(folder / "classic.nc", "w", format="NETCDF3_64BIT_OFFSET") as nc:
        nc.createDimension("rec", None)
        nc.createDimension("n", 6)
        r = nc.createVariable("rec_var", "f4", ("rec", "n"))
        r[:] = np.arange(24, dtype="f4").reshape(4, 6)
        r2 = nc.createVariable("rec_1d", "i2", ("rec",))
        r2[:] = [1, 2, 3, 4]
        f = nc.createVariable("fixed", "f8", ("n",))
        f[:] = np.linspace(0, 1, 6)
    with h5py.File(folder / "h5py_layouts.h5", "w") as f:
        f.create_dataset(
            "compact", data=np.arange(12, dtype="<i4").reshape(3, 4),
            **{"compression": None},
        )
        dcpl_layout = h5py.h5d.COMPACT
        space = h5py.h5s.create_simple((5,))
        plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        plist.set_layout(dcpl_layout)
        ds = h5py.h5d.create(f.id, b"really_compact", h5py.h5t.STD_I16BE, space, plist)
        ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([5, 4, 3, 2, 1], dtype=">i2"))
        f.create_dataset(
            "chunked_be", data=np.arange(60, dtype=">f8").reshape(6, 10), chunks=(4, 4),
            compression="gzip", shuffle=True,
        )
        f.create_dataset("partly", shape=(10,), chunks=(3,), dtype="i4", fillvalue=-5)
        f["partly"][0:3] = [1, 2, 3]


def local_truth(path):
    """{variable path: values} read locally with netCDF4-python."""
    out = {}
    with netCDF4.Dataset(path) as nc:
        def visit(g, prefix):
            for name, v in g.variables.items():
                v.set_auto_mask(False)
                out[f"{prefix}/{name}"] = np.array(v[...])
            for name, sub in g.groups.items():
                visit(sub, f"{prefix}/{name}")
        visit(nc, "")
    return out


@pytest.fixture(scope="module")
def indexed_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("indexed")
    write_generated(root)
    bes = root / "bes"
    bes.mkdir()
    for data, _ in baselines():
        shutil.copy(BES_DATA / data, bes / data)
        (bes / data).chmod(0o644)
    out = run([str(fathom_bin()), "index", str(root)], timeout=120)
    return root, out


def test_fathom_index_writes_hyrax_shaped_dmrpp_with_relative_hrefs(indexed_root):
    root, _ = indexed_root
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".dmrpp"))
    assert len(files) >= 20
    for f in files:
        index = f.with_name(f.name + ".dmrpp")
        assert index.exists(), f
        text = index.read_text()
        assert f'dmrpp:href="{f.name}"' in text, f
        assert 'xmlns:dmrpp="http://xml.opendap.org/dap/dmrpp/1.0.0#"' in text
    text = (root / "nc4_chunked.nc.dmrpp").read_text()
    # netCDF-C puts fletcher32 first in the HDF5 pipeline; the index keeps the file's order.
    assert 'compressionType="fletcher32 shuffle deflate"' in text
    assert "<dmrpp:chunkDimensionSizes>2 16 16</dmrpp:chunkDimensionSizes>" in text
    assert 'chunkPositionInArray="[2,16,0]"' in text
    assert "<dmrpp:compact>" in (root / "h5py_layouts.h5.dmrpp").read_text()
    # A string array is inlined as fixed-length strings as long as the longest.
    assert '<dmrpp:FixedLengthStringArray string_length="13" pad="null_pad"/>' in text


def test_fathom_index_skips_current_indexes_and_redoes_changed_ones(indexed_root, tmp_path):
    root, _ = indexed_root
    folder = tmp_path / "again"
    folder.mkdir()
    shutil.copy(root / "classic.nc", folder / "a.nc")
    shutil.copy(root / "classic.nc", folder / "b.nc")
    p = subprocess.run([str(fathom_bin()), "index", str(folder)], capture_output=True, text=True)
    assert p.returncode == 0 and "2 written, 0 already current" in p.stderr, p.stderr
    p = subprocess.run([str(fathom_bin()), "index", str(folder)], capture_output=True, text=True)
    assert "0 written, 2 already current" in p.stderr, p.stderr
    with netCDF4.Dataset(folder / "b.nc", "a") as nc:
        nc["fixed"][0] = 42.0
    # Served before reindexing, the changed file is read itself, not through its stale index.
    s = Server(folder)
    try:
        remote = netCDF4.Dataset(f"dap4://{s.url[7:]}/b.nc")
        assert remote["fixed"][0] == 42.0
        remote.close()
    finally:
        s.stop()
    p = subprocess.run([str(fathom_bin()), "index", str(folder)], capture_output=True, text=True)
    assert "1 written, 1 already current" in p.stderr, p.stderr
    assert not [q for q in folder.iterdir() if q.name.startswith(".")], "temporary files left"


@pytest.fixture(scope="module")
def indexed_server(indexed_root):
    root, _ = indexed_root
    s = Server(root)
    yield s
    alive = s.alive()
    s.stop()
    assert alive


GENERATED = ["nc4_chunked.nc", "classic.nc", "h5py_layouts.h5"]


def test_indexed_files_read_over_dap4_as_locally(indexed_root, indexed_server):
    root, _ = indexed_root
    host = indexed_server.url[len("http://"):]
    for name in GENERATED:
        truth = local_truth(root / name)
        remote = netCDF4.Dataset(f"dap4://{host}/{name}")
        for path, want in truth.items():
            v = node_var(remote, path)
            v.set_auto_mask(False)
            got = np.array(v[...])
            if want.dtype.kind in "OUS":
                assert got.tolist() == want.tolist(), f"{name} {path}"
            else:
                np.testing.assert_array_equal(got, want, err_msg=f"{name} {path}")
        remote.close()


def test_indexed_files_read_over_dap2_and_xarray_as_locally(indexed_root, indexed_server):
    import xarray as xr

    root, _ = indexed_root
    for name in GENERATED:
        truth = local_truth(root / name)
        remote = netCDF4.Dataset(f"{indexed_server.url}/{name}")
        for path, want in truth.items():
            if want.dtype.kind in "OUS":
                continue
            dap2_name = path.strip("/").replace("/", ".")
            if dap2_name not in remote.variables:
                dap2_name = path.strip("/").replace("/", "_")
            v = remote.variables[dap2_name]
            v.set_auto_mask(False)
            np.testing.assert_array_equal(np.array(v[...]), want, err_msg=f"{name} {path}")
        remote.close()
    ds = xr.open_dataset(f"{indexed_server.url}/nc4_chunked.nc", engine="pydap")
    with xr.open_dataset(root / "nc4_chunked.nc") as local:
        np.testing.assert_array_equal(ds["temp"].values, local["temp"].values)
        np.testing.assert_array_equal(ds["plain"].values, local["plain"].values)


def test_indexed_bes_files_read_the_bes_baselines(indexed_server):
    host = indexed_server.url[len("http://"):]
    compared = 0
    for data, baseline in baselines():
        if data == "grid_2_2d.h5":
            # Its YDim / XDim are made up by Hyrax's HDF-EOS handler (stored in a second file,
            # grid_2_2d.h5_mvs.h5, that its DMR++ points to): not in the HDF5 file itself.
            continue
        remote = netCDF4.Dataset(f"dap4://{host}/bes/{data}")
        try:
            compared += compare_to_baseline(remote, parse_baseline(baseline), data)
        finally:
            remote.close()
    assert compared >= 30


def test_ncdump_reads_an_indexed_file(indexed_server):
    out = run(["ncdump", "-v", "big_endian", f"dap4://{indexed_server.url[7:]}/nc4_chunked.nc"])
    assert "big_endian = 0, -3, -6, -9" in out
