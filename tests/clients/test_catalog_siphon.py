"""siphon (Unidata's THREDDS client) walks fathom's catalogs and opens what it finds.

siphon's `TDSCatalog` reads `catalog.xml`, follows each `catalogRef`, and builds each dataset's
`access_urls` from the catalog's services; those URLs then go to xarray. Everything is
compared with the files on disk and with xarray reading the local file.
"""

import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

siphon_catalog = pytest.importorskip("siphon.catalog")
TDSCatalog = siphon_catalog.TDSCatalog


def walk(catalog):
    """Every catalog reachable from `catalog`, depth first."""
    yield catalog
    for ref in catalog.catalog_refs.values():
        yield from walk(ref.follow())


def datasets_by_url(server_url, catalog_url):
    found = {}
    for cat in walk(TDSCatalog(catalog_url)):
        for ds in cat.datasets.values():
            found[ds.url_path] = ds
    return found


def test_siphon_finds_every_sample_from_the_root(sample_server, samples_dir):
    found = datasets_by_url(sample_server.url, sample_server.url + "/catalog.xml")
    want = {p.name for p in samples_dir.iterdir() if p.suffix in (".nc", ".h5")}
    assert want, "no samples"
    assert set(found) == want
    for name, ds in found.items():
        assert ds.name == name
        for service in ("OPENDAP", "DAP4", "HTTPServer"):
            assert ds.access_urls[service] == f"{sample_server.url}/{name}", (name, service)


@pytest.fixture()
def tree(tmp_path, samples_dir):
    """A nested folder tree: datasets at three depths, names that need escaping, a non-dataset."""
    root = tmp_path / "tree"
    (root / "ocean" / "deep water").mkdir(parents=True)
    (root / "empty").mkdir()
    shutil.copy(samples_dir / "classic.nc", root / "classic.nc")
    shutil.copy(samples_dir / "chunked.nc", root / "ocean" / "chunked.nc")
    shutil.copy(samples_dir / "groups.nc", root / "ocean" / "deep water" / "groups & more.nc")
    (root / "ocean" / "README.txt").write_text("not a dataset\n")
    return root


def test_siphon_walks_a_nested_tree(serve, tree):
    server = serve(tree)
    found = datasets_by_url(server.url, server.url + "/catalog.xml")
    assert set(found) == {
        "classic.nc",
        "ocean/chunked.nc",
        "ocean/deep%20water/groups%20%26%20more.nc",
    }
    names = sorted(ds.name for ds in found.values())
    assert names == ["chunked.nc", "classic.nc", "groups & more.nc"]
    # The HTTPServer access URL downloads the file's exact bytes.
    for url_path, ds in found.items():
        with urllib.request.urlopen(ds.access_urls["HTTPServer"]) as r:
            body = r.read()
        local = tree / urllib.request.url2pathname(url_path)
        assert body == local.read_bytes(), url_path


def test_siphon_access_url_opens_in_xarray_with_the_local_values(serve, tree):
    server = serve(tree)
    cat = TDSCatalog(server.url + "/catalog.xml")
    ocean = cat.catalog_refs["ocean"].follow()
    ds = ocean.datasets["chunked.nc"]
    url = ds.access_urls["OPENDAP"]
    remote = xr.open_dataset(url, engine="pydap")
    local = xr.open_dataset(tree / "ocean" / "chunked.nc", engine="netcdf4")
    try:
        assert set(local.data_vars) <= set(remote.data_vars) | set(remote.coords)
        for name in ("precip", "wind_speed"):
            np.testing.assert_array_equal(remote[name].values, local[name].values)
            assert remote[name].attrs["units"] == local[name].attrs["units"]
        np.testing.assert_array_equal(remote["lat"].values, local["lat"].values)
    finally:
        remote.close()
        local.close()


def test_catalog_html_is_what_siphon_is_pointed_away_from(serve, tree):
    """siphon, given catalog.html, switches to catalog.xml by itself (it checks the type)."""
    server = serve(tree)
    with pytest.warns(UserWarning, match="returned HTML"):
        cat = TDSCatalog(server.url + "/catalog.html")
    assert "classic.nc" in cat.datasets
