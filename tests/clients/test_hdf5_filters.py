"""HDF5 files as users compress them, and plain HDF5 files without dimension scales.

Filters: h5py's LZF; Blosc (every inner codec, with byte shuffle, bitshuffle and none) as
PyTables and hdf5plugin write it; Zstandard; bzip2; LZ4; bitshuffle alone and with LZ4 or
Zstandard; a PyTables file compressed with Blosc. Files are written here with h5py +
hdf5plugin and PyTables; what netCDF4-python (DAP4) and pydap (DAP2) read through the server
must equal h5py's local read. A filter nobody can decode (SZ here) leaves its dataset out, and
`_fathom_omitted` names the filter.

Phony dimensions: the names netCDF-C shows locally (`netCDF4.Dataset` on the file) are the
names the server shows over DAP4.
"""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import hdf5plugin
import netCDF4
import numpy as np
import pytest
import requests
import tables
from pydap.client import open_url

from conftest import Server

warnings.filterwarnings("ignore")

BASE = (np.sin(np.arange(40 * 30).reshape(40, 30) / 7.0) * 100).astype("f4")
INTS = (np.arange(40 * 30).reshape(40, 30) % 251 - 100).astype("i2")


def write_filtered(path):
    """One dataset per filter configuration, chunks that do not divide the shape included."""
    with h5py.File(path, "w") as f:
        f.create_dataset("lzf", data=BASE, chunks=(16, 16), compression="lzf")
        f.create_dataset(
            "lzf_shuffle", data=INTS, chunks=(15, 11), compression="lzf", shuffle=True
        )
        shuffles = {
            "shuffle": hdf5plugin.Blosc.SHUFFLE,
            "bitshuffle": hdf5plugin.Blosc.BITSHUFFLE,
            "noshuffle": hdf5plugin.Blosc.NOSHUFFLE,
        }
        for cname in ["blosclz", "lz4", "lz4hc", "zlib", "zstd"]:
            for sname, shuffle in shuffles.items():
                f.create_dataset(
                    f"blosc_{cname}_{sname}",
                    data=BASE,
                    chunks=(16, 16),
                    **hdf5plugin.Blosc(cname=cname, clevel=5, shuffle=shuffle),
                )
        f.create_dataset("zstd", data=BASE, chunks=(16, 16), **hdf5plugin.Zstd(clevel=3))
        f.create_dataset(
            "zstd_f64", data=BASE.astype("f8"), chunks=(7, 9), **hdf5plugin.Zstd()
        )
        f.create_dataset("bzip2", data=INTS, chunks=(16, 16), **hdf5plugin.BZip2(blocksize=5))
        f.create_dataset("lz4", data=BASE, chunks=(16, 16), **hdf5plugin.LZ4())
        f.create_dataset(
            "lz4_small_blocks", data=BASE, chunks=(16, 16), **hdf5plugin.LZ4(nbytes=256)
        )
        f.create_dataset(
            "bitshuffle", data=BASE, chunks=(16, 16), **hdf5plugin.Bitshuffle(cname="none")
        )
        f.create_dataset(
            "bitshuffle_lz4", data=INTS, chunks=(15, 11), **hdf5plugin.Bitshuffle(cname="lz4")
        )
        f.create_dataset(
            "bitshuffle_zstd", data=BASE, chunks=(16, 16), **hdf5plugin.Bitshuffle(cname="zstd")
        )
        f.create_dataset("sz", data=BASE, chunks=(16, 16), **hdf5plugin.SZ(absolute=0.1))


FILTERED = [
    "lzf",
    "lzf_shuffle",
    *[
        f"blosc_{c}_{s}"
        for c in ["blosclz", "lz4", "lz4hc", "zlib", "zstd"]
        for s in ["shuffle", "bitshuffle", "noshuffle"]
    ],
    "zstd",
    "zstd_f64",
    "bzip2",
    "lz4",
    "lz4_small_blocks",
    "bitshuffle",
    "bitshuffle_lz4",
    "bitshuffle_zstd",
]


def write_pytables(path):
    """PyTables' usual choice: Blosc, here on an array and on a table."""
    blosc = tables.Filters(complevel=5, complib="blosc:lz4", shuffle=True)
    with tables.open_file(str(path), "w") as f:
        f.create_carray("/", "grid", obj=BASE, filters=blosc, chunkshape=(10, 30))
        f.create_carray(
            "/", "grid_zstd", obj=INTS, filters=tables.Filters(5, "blosc:zstd"), chunkshape=(8, 8)
        )
        desc = np.dtype([("id", "i4"), ("value", "f8")])
        t = f.create_table("/", "obs", description=desc, filters=blosc)
        rows = np.zeros(50, desc)
        rows["id"] = np.arange(50)
        rows["value"] = np.arange(50) / 4
        t.append(rows)


def write_phony(path):
    """Plain HDF5 without dimension scales, in nested groups, shapes shared across groups, a
    square dataset, an unlimited one, and one group with a scale."""
    with h5py.File(path, "w") as f:
        f["a"] = np.arange(6, dtype="f4")
        f["b"] = np.arange(12, dtype="i4").reshape(3, 4)
        g = f.create_group("model")
        g["t"] = np.arange(4, dtype="f8")
        g["sq"] = np.zeros((4, 4), "i2")
        g.create_dataset("rec", data=np.arange(5, dtype="f4"), maxshape=(None,), chunks=(2,))
        g["fixed5"] = np.arange(5, dtype="f4")
        g.create_group("deep")["c"] = np.ones((6, 3), "f4")
        k = f.create_group("obs")
        k["x"] = np.arange(7, dtype="f4")
        k["x"].make_scale("x")
        k["v"] = np.arange(7, dtype="f4")
        f["z"] = np.zeros((2, 6), "u1")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("filters")
    # Written in a fresh interpreter, without HDF5_* / BLOSC* settings that modules imported
    # earlier in the session may have put in the environment: with them, h5py's Blosc filter
    # (hdf5plugin) failed in its set-local callback when this module ran after test_dap4.py.
    script = (
        "import sys, test_hdf5_filters as t; from pathlib import Path; r = Path(sys.argv[1]); "
        "t.write_filtered(r / 'filtered.h5'); t.write_pytables(r / 'pytables_blosc.h5'); "
        "t.write_phony(r / 'phony.h5')"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(root)],
        cwd=Path(__file__).parent,
        env={k: v for k, v in os.environ.items() if not k.startswith(("HDF5_", "BLOSC"))},
        check=True,
        timeout=120,
    )
    s = Server(root)
    yield s, root
    alive = s.alive()
    s.stop()
    assert alive, "the server died during the tests"


@pytest.mark.parametrize("name", FILTERED)
def test_netcdf4_python_over_dap4_reads_what_h5py_reads(server, name):
    s, root = server
    with h5py.File(root / "filtered.h5", "r") as f:
        truth = f[name][...]
    with netCDF4.Dataset(f"{s.url}/filtered.h5#dap4") as ds:
        v = ds.variables[name]
        assert v.shape == truth.shape
        assert v.dtype == truth.dtype
        np.testing.assert_array_equal(v[:], truth)
        # A strided box that crosses chunk edges.
        np.testing.assert_array_equal(v[3:37:4, 5:29:3], truth[3:37:4, 5:29:3])


def test_pydap_over_dap2_reads_every_filtered_dataset(server):
    s, root = server
    ds = open_url(f"{s.url}/filtered.h5", protocol="dap2")
    with h5py.File(root / "filtered.h5", "r") as f:
        for name in FILTERED:
            truth = f[name][...]
            got = np.asarray(ds[name][1:39:2, :].data)
            np.testing.assert_array_equal(got, truth[1:39:2, :], err_msg=name)


def test_an_unknown_filter_leaves_the_dataset_out_and_names_it(server):
    s, _ = server
    with netCDF4.Dataset(f"{s.url}/filtered.h5#dap4") as ds:
        assert "sz" not in ds.variables
        omitted = ds.getncattr("_fathom_omitted")
    lines = [omitted] if isinstance(omitted, str) else list(omitted)
    (line,) = [x for x in lines if x.startswith("sz:")]
    assert "32017" in line and "SZ" in line
    # Only the undecodable one is left out.
    assert all(x.startswith("sz:") for x in lines)


def test_pytables_blosc_file_is_served(server):
    s, root = server
    with tables.open_file(str(root / "pytables_blosc.h5")) as f:
        grid = f.root.grid[:]
        grid_zstd = f.root.grid_zstd[:]
    # (netCDF-C's DAP4 reader cannot open a file with a PyTables table yet: issue 10, item 10.)
    dap2 = open_url(f"{s.url}/pytables_blosc.h5", protocol="dap2")
    np.testing.assert_array_equal(np.asarray(dap2["grid"][:].data), grid)
    np.testing.assert_array_equal(np.asarray(dap2["grid_zstd"][2:30:3, :].data), grid_zstd[2:30:3])
    dmr = requests.get(f"{s.url}/pytables_blosc.h5.dmr", timeout=30)
    assert dmr.status_code == 200
    assert 'name="obs"' in dmr.text, "the Blosc-compressed table is served"
    # PyTables' empty TITLE attributes are left out (a null dataspace); no dataset is.
    assert "a dataset of" not in dmr.text


def dims_by_variable(group, prefix=""):
    out = {}
    for name, v in group.variables.items():
        out[f"{prefix}/{name}"] = v.dimensions
    for name, g in group.groups.items():
        out.update(dims_by_variable(g, f"{prefix}/{name}"))
    return out


def test_phony_dimensions_have_the_names_netcdf_c_gives_them(server):
    s, root = server
    with netCDF4.Dataset(root / "phony.h5") as local:
        want = dims_by_variable(local)
    # The numbering is file-wide and child groups come first: not a per-group count.
    assert want["/a"] == ("phony_dim_7",)
    assert want["/model/deep/c"] == ("phony_dim_1", "phony_dim_2")
    with netCDF4.Dataset(f"{s.url}/phony.h5#dap4") as remote:
        got = dims_by_variable(remote)
    assert got == want
