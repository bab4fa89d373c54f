"""DAP4 with the real clients: for every sample and every netcdf-c DAP4 test file, ncdump
(Debian netcdf-c 4.9.0), netCDF4-python (its bundled netcdf-c 4.10.1), pydap 3.5.9, xarray
(pydap engine) and getdap4 read what a local read of the file gives.

What a client cannot show for reasons of its own (listed in test_dap4_common.compare_dumps and
in dap4/CONFORMANCE.md) is set aside explicitly; everything else must be identical.
"""

import contextlib
import random
import subprocess
import urllib.request

import netCDF4
import numpy as np
import pytest
import xarray as xr
from pydap.client import open_url

from test_dap4_common import (  # noqa: F401  (fixtures)
    ALL_FILES,
    SAMPLE_NAMES,
    Dump,
    compare_dumps,
    dap4_root,
    dap4_server,
    has_array_field,
    ncdump,
    user_type_kind,
    walk_variables,
)


@pytest.fixture
def closing():
    """Closes what a test opens: HDF5 refuses to reopen a file a stale handle still holds."""
    with contextlib.ExitStack() as stack:
        yield stack


def host(server):
    return server.url.removeprefix("http://")


def seeded(name: str) -> random.Random:
    """A random source seeded by the file name, so every run draws the same hyperslabs."""
    return random.Random(sum(name.encode()) * 7919)


def random_slices(rng, shape, count=4):
    """`count` strided hyperslabs of an array of `shape`."""
    out = []
    for _ in range(count):
        sl = []
        for n in shape:
            if n == 0:
                sl.append(slice(None))
                continue
            start = rng.randrange(n)
            stop = rng.randrange(start + 1, n + 1)
            sl.append(slice(start, stop, rng.randint(1, 3)))
        out.append(tuple(sl))
    return out


def same_values(a, b) -> bool:
    """Equal arrays; floats compared bit for bit (NaN payloads included)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind == "f" and b.dtype == a.dtype:
        return a.tobytes() == b.tobytes()
    if a.dtype.kind in "OUS" or b.dtype.kind in "OUS":
        as_text = lambda x: [v.decode() if isinstance(v, bytes) else str(v) for v in np.ravel(x)]
        return as_text(a) == as_text(b)
    return np.array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# ncdump (netcdf-c 4.9.0)


@pytest.mark.parametrize("name", ALL_FILES)
def test_ncdump_reads_what_the_file_holds(dap4_server, dap4_root, name):
    local = dap4_root / name
    sizes = {}
    for line in subprocess.run(["ncdump", "-h", str(local)], capture_output=True, text=True).stdout.splitlines():
        parts = line.strip().split()
        if parts and parts[0].startswith("opaque("):
            sizes[parts[1]] = int(parts[0][7:-1])
    problems = compare_dumps(
        Dump(ncdump(str(local))), Dump(ncdump(f"{dap4_server.url}/{name}#dap4")), sizes
    )
    assert not problems, "\n".join(problems)


def test_the_dump_comparison_sees_a_changed_value(dap4_root):
    text = ncdump(str(dap4_root / "classic.nc"))
    changed = text.replace(" quality_flag =\n  -2,", " quality_flag =\n  -3,", 1)
    assert changed != text
    assert compare_dumps(Dump(text), Dump(changed), {})
    assert compare_dumps(Dump(text), Dump(text.replace('"K"', '"C"', 1)), {})


# ---------------------------------------------------------------------------------------------
# netCDF4-python (netcdf-c 4.10.1)


def attribute_matches(name, local, remote):
    """A remote attribute value against the local one (CLIENT BUG 1: Float32 attributes are
    a few ulps off, infinities read as NaN, in netcdf-c's DAP4 parser)."""
    l, r = np.asarray(local), np.asarray(remote)
    if l.dtype == np.float32:
        if r.dtype != np.float32 or l.shape != r.shape:
            return False
        lf, rf = l.astype(float).ravel(), r.astype(float).ravel()
        ok = np.isclose(lf, rf, rtol=2e-6) | (~np.isfinite(lf) & ~np.isfinite(rf))
        ok |= (np.abs(lf) >= 3.4e38) & ~np.isfinite(rf)
        return bool(ok.all())
    if l.dtype.kind in "OUS":
        # CLIENT BUG 2: netcdf-c re-escapes the text of <Value> elements (fathom sends single
        # values in a form it leaves alone, but a list of strings needs <Value>s).
        entities = {"&quot;": '"', "&apos;": "'", "&lt;": "<", "&gt;": ">", "&amp;": "&"}
        def plain(x):
            for k, v in entities.items():
                x = x.replace(k, v)
            return x
        r = np.asarray([plain(str(x)) for x in np.ravel(r)]).reshape(r.shape)
        if l.size > 1:
            l = np.asarray([str(x).replace("\\", "") for x in np.ravel(l)]).reshape(l.shape)
    return same_values(l, r) and (l.dtype.kind in "OUS" or l.dtype == r.dtype)


@pytest.mark.parametrize("name", ALL_FILES)
def test_netcdf4_python_reads_values_and_attributes(dap4_server, dap4_root, closing, name):
    local = closing.enter_context(netCDF4.Dataset(dap4_root / name))
    remote = closing.enter_context(netCDF4.Dataset(f"{dap4_server.url}/{name}#dap4"))
    for ds in (local, remote):
        ds.set_auto_maskandscale(False)
    rng = seeded(name)

    def attrs(obj):
        return {k: obj.getncattr(k) for k in obj.ncattrs()}

    def check_attrs(where, lobj, robj, enum_names=None):
        la, ra = attrs(lobj), attrs(robj)
        ra.pop("_edu.ucar.maps", None)
        assert list(la) == list(ra), where
        for k, v in la.items():
            if enum_names is not None and k != "_FillValue" and np.asarray(v).dtype.kind in "iu":
                # DAP4 3: enum attributes travel as the constants' names.
                names = [enum_names[int(x)] for x in np.ravel(v)]
                got = np.ravel(ra[k]).tolist()
                assert got == names, f"{where}:{k}"
                continue
            assert attribute_matches(k, v, ra[k]), f"{where}:{k}: {v!r} != {ra[k]!r}"

    check_attrs("global", local, remote)
    checked = 0
    for path, lv in walk_variables(local):
        kind = user_type_kind(lv)
        if kind in ("vlen", "opaque"):
            continue  # netCDF4-python reads neither (remotely the vlen is one of compounds)
        group = remote[path.rsplit("/", 1)[0]] if path.count("/") > 1 else remote
        rv = group.variables[lv.name]
        enum_names = None
        if lv.dtype == np.dtype("S1") and lv.ndim:
            # DAP4 4: a char array arrives as strings without its length dimension.
            assert rv.dimensions == lv.dimensions[:-1], path
            check_attrs(path, lv, rv)
            assert same_values(netCDF4.chartostring(lv[...]), rv[...]), path
            checked += 1
            continue
        assert rv.dimensions == lv.dimensions or kind == "compound", path
        assert rv.shape == lv.shape, path
        if kind == "enum":
            enum_names = {v: k for k, v in lv.datatype.enum_dict.items()}
        check_attrs(path, lv, rv, enum_names)
        if kind == "compound" and has_array_field(lv.dtype):
            continue  # CLIENT BUG 3; test_compound_bytes_decode_to_the_local_values covers it
        lvals, rvals = lv[...], rv[...]
        if kind == "compound":
            for field in lv.dtype.names:
                assert same_values(lvals[field], rvals[field]), f"{path}.{field}"
        else:
            assert same_values(lvals, rvals), path
            if lv.ndim and kind is None and lv.dtype.kind in "iuf":
                for sl in random_slices(rng, lv.shape, 2):
                    assert same_values(lv[sl], rv[sl]), f"{path}{sl}"
        checked += 1
    readable = [p for p, v in walk_variables(local) if user_type_kind(v) not in ("vlen", "opaque")]
    assert checked or not readable, "nothing compared"


def decode_structures(raw: bytes, dtype: np.dtype, count: int) -> np.ndarray:
    """Packed little-endian DAP4 Structure values as a numpy structured array."""
    def packed(dt):
        if dt.names is None:
            return dt.newbyteorder("<") if dt.subdtype is None else np.dtype((packed(dt.subdtype[0]), dt.subdtype[1]))
        return np.dtype([(n, packed(dt.fields[n][0])) for n in dt.names])
    return np.frombuffer(raw, dtype=packed(dtype), count=count)


@pytest.mark.parametrize("name, variable", [
    ("types.nc", "surface_obs"),
    ("test_struct_array.nc", "s"),
    ("test_struct_nested.nc", "x"),
    ("test_struct_nested3.nc", "x"),
    ("test_struct1.nc", "s"),
])
def test_compound_bytes_decode_to_the_local_values(dap4_server, dap4_root, name, variable):
    """The Structure bytes themselves, decoded with numpy, are the local compound values
    (netcdf-c cannot show compounds with array fields: CLIENT BUG 3)."""
    with netCDF4.Dataset(dap4_root / name) as ds:
        want = ds[variable][...]
    url = f"{dap4_server.url}/{name}.dap?dap4.ce=/{variable}&dap4.checksum=false"
    body = urllib.request.urlopen(url).read()
    dmr_len = int.from_bytes(body[1:4], "big")
    pos, data = 4 + dmr_len, b""
    while True:
        flags, n = body[pos], int.from_bytes(body[pos + 1 : pos + 4], "big")
        data += body[pos + 4 : pos + 4 + n]
        pos += 4 + n
        if flags & 1:
            break
    got = decode_structures(data, want.dtype, want.size).reshape(want.shape)
    def flat(a, dt):
        for n in dt.names:
            sub = dt.fields[n][0]
            if sub.names:
                yield from flat(a[n], sub)
            else:
                yield n, a[n]
    for (n, a), (_, b) in zip(flat(want, want.dtype), flat(got, got.dtype)):
        assert np.array_equal(a, b), n


# ---------------------------------------------------------------------------------------------
# pydap 3.5.9 and xarray


def pydap_value(ds, path):
    key = path if path.count("/") > 1 else path[1:]
    return ds[key]


def pydap_attr_matches(local, remote):
    """pydap reads attribute text as Python values: floats must be exact (Float32 written as
    their float64 expansion)."""
    lv = [x.decode() if isinstance(x, bytes) else x for x in np.ravel(np.asarray(local)).tolist()]
    rv = remote if isinstance(remote, list) else [remote]
    rv = ["" if x is None else x for x in rv]
    if len(lv) != len(rv):
        return False
    for a, b in zip(lv, rv):
        if isinstance(a, float) and np.isnan(a):
            if not (isinstance(b, float) and np.isnan(b)):
                return False
        elif a != b:
            return False
    return True


@pytest.mark.parametrize("checksums", [True, False], ids=["checksums", "no-checksums"])
@pytest.mark.parametrize("name", ALL_FILES)
def test_pydap_reads_values_and_hyperslabs(dap4_server, dap4_root, closing, name, checksums):
    ds = open_url(f"{dap4_server.url}/{name}", protocol="dap4", checksums=checksums)
    local = closing.enter_context(netCDF4.Dataset(dap4_root / name))
    local.set_auto_maskandscale(False)
    rng = seeded(name)
    ignored = {"path", "Maps", "_DAP4_Checksum_CRC32"}
    unreadable = []
    for k, v in {k: local.getncattr(k) for k in local.ncattrs()}.items():
        if isinstance(v, (int, np.integer)) and k not in ds.attributes:
            continue
        assert pydap_attr_matches(v, ds.attributes[k]), f"global {k}: {v!r} != {ds.attributes[k]!r}"
    checked = 0
    for path, lv in walk_variables(local):
        kind = user_type_kind(lv)
        if kind not in (None, "string"):
            continue  # pydap 3.5.9 ignores Enum and Opaque, and reads Structures flattened
        rv = pydap_value(ds, path)
        want = lv[...]
        if kind == "string" and any(not str(s).isascii() for s in np.ravel(want)):
            unreadable.append(path)
            continue  # pydap decodes DAP4 strings as ASCII (`astype('S')`): PYDAP BUG 1
        is_char_array = lv.dtype == np.dtype("S1") and lv.ndim > 0
        if lv.dtype == np.dtype("S1") and lv.ndim == 0:
            # A char scalar stays Char, which pydap shows as its byte value.
            want = np.frombuffer(np.ascontiguousarray(want).tobytes(), np.uint8).reshape(())
        if is_char_array:
            want = char_strings(want)
            if any(not s.isascii() for s in np.ravel(want)):
                unreadable.append(path)
                continue  # the strings pydap cannot decode: PYDAP BUG 1
        got = np.asarray(rv[...].data)
        assert same_values(want, got), path
        for k in lv.ncattrs():
            if lv.getncattr(k) is None:
                continue
            assert pydap_attr_matches(lv.getncattr(k), rv.attributes[k]), f"{path}:{k}"
        assert set(rv.attributes) - ignored - set(lv.ncattrs()) == set(), path
        # A char array's strings are subset along the dimensions before the length.
        shape = lv.shape[:-1] if is_char_array else lv.shape
        if shape and kind is None:
            for sl in random_slices(rng, shape):
                want_sl = char_strings(lv[sl]) if is_char_array else lv[sl]
                assert same_values(want_sl, np.asarray(rv[sl].data)), f"{path}{sl}"
        checked += 1
    readable = [p for p, v in walk_variables(local) if user_type_kind(v) in (None, "string")]
    assert checked or set(readable) <= set(unreadable), "nothing compared"


def char_strings(chars):
    """A char array as the strings DAP4 carries: each row along the last dimension, without
    its trailing NULs."""
    chars = np.asarray(chars)
    rows = chars.reshape(-1, chars.shape[-1]) if chars.size else chars.reshape(0, 1)
    text = [b"".join(r).rstrip(b"\0").decode("latin-1") for r in rows]
    return np.array(text, dtype=object).reshape(chars.shape[:-1])


XARRAY_CASES = [
    ("classic.nc", None),
    ("offset64.nc", None),
    ("cdf5.nc", None),
    ("chunked.nc", None),
    ("groups.nc", None),
    ("groups.nc", "forecast"),
    ("groups.nc", "forecast/surface"),
    ("groups.nc", "observations"),
]


@pytest.fixture
def no_retry_sleep(monkeypatch):
    """pydap answers a `dap4://` URL by trying HTTPS first, with five retries and backoff,
    before HTTP: about 3 s of sleeping per request against any HTTP-only server. Keep the
    retries, drop the sleeps, so the tests run in seconds."""
    import pydap.net

    real = pydap.net.Retry
    monkeypatch.setattr(pydap.net, "Retry", lambda **kw: real(**{**kw, "backoff_factor": 0}))


@pytest.mark.parametrize("name, group", XARRAY_CASES)
def test_xarray_dap4_url_reads_what_the_file_holds(dap4_server, dap4_root, no_retry_sleep, closing, name, group):
    local = closing.enter_context(
        xr.open_dataset(dap4_root / name, engine="netcdf4", group=group, mask_and_scale=False, decode_times=False)
    )
    # PYDAP BUG 1: pydap cannot decode non-ASCII strings; leave those variables out.
    skip = [v for v in local.variables if local[v].dtype.kind in "OU" and not all(str(s).isascii() for s in np.ravel(local[v].values))]
    remote = closing.enter_context(xr.open_dataset(
        f"dap4://{host(dap4_server)}/{name}", engine="pydap", group=group,
        mask_and_scale=False, decode_times=False, drop_variables=skip,
    ))
    rng = seeded(f"{name}{group}")
    compared = 0
    for v in local.variables:
        if v in skip:
            continue
        lv, rv = local[v], remote[v]
        # Char arrays arrive as strings (DAP4 4), as xarray shows the local file's.
        assert lv.dims == rv.dims, v
        assert same_values(lv.values, rv.values), v
        for key, value in lv.attrs.items():
            assert pydap_attr_matches(value, rv.attrs[key]), f"{v}:{key}"
        if lv.ndim:
            for sl in random_slices(rng, lv.shape, 3):
                sel = dict(zip(lv.dims, sl))
                assert same_values(lv.isel(sel).values, rv.isel(sel).values), f"{v}{sl}"
        compared += 1
    assert compared
    # And decoded the CF way: masked, scaled, times; pydap has no float32 attributes, so the
    # scaled values may come back as float64.
    local = closing.enter_context(xr.open_dataset(dap4_root / name, engine="netcdf4", group=group))
    remote = closing.enter_context(
        xr.open_dataset(f"dap4://{host(dap4_server)}/{name}", engine="pydap", group=group, drop_variables=skip)
    )
    for v in local.data_vars:
        if v in skip or local[v].dtype.kind in "SOU":
            continue
        a, b = local[v].values, remote[v].values
        if a.dtype.kind == "M":
            assert np.array_equal(a, b), v
        else:
            assert np.allclose(a, b, rtol=1e-6, equal_nan=True), v
            assert np.array_equal(np.isnan(a), np.isnan(b)), f"{v}: the same values are masked"


# ---------------------------------------------------------------------------------------------
# getdap4 (libdap 3.20)


# LIBDAP BUG 1: libdap 3.20 reads a group's subgroups before its own variables (D4Group.cc
# `deserialize`), against its own serializer and netcdf-c; a file with variables both in a group
# and in its subgroups decodes into the wrong variables, and here into a failed string read.
LIBDAP_GROUP_ORDER = {"groups.nc"}


@pytest.mark.parametrize("name", ALL_FILES)
def test_getdap4_parses_the_responses(dap4_server, name):
    requests = [(["-d"], "")]
    if name not in LIBDAP_GROUP_ORDER:
        requests += [(["-D", "-M"], ""), (["-D", "-M"], "?dap4.checksum=true")]
    for flags, query in requests:
        p = subprocess.run(
            ["getdap4", *flags, f"{dap4_server.url}/{name}{query}"],
            capture_output=True, text=True, errors="replace", timeout=60,
        )
        # getdap4 exits 0 even on errors: read what it printed.
        assert p.returncode == 0 and "rror" not in p.stdout + p.stderr, f"{flags}: {p.stdout}\n{p.stderr}"
        assert "<Dataset" in p.stdout
        if "-D" in flags:
            assert "The data:" in p.stdout


def test_getdap4_reads_the_values(dap4_server, dap4_root):
    with netCDF4.Dataset(dap4_root / "classic.nc") as ds:
        lat = ds["lat"][:]
    p = subprocess.run(["getdap4", "-D", "-M", "-c", "/lat", f"{dap4_server.url}/classic.nc"], capture_output=True, text=True)
    line = next(l for l in p.stdout.splitlines() if l.startswith("Float32 lat"))
    values = [float(x) for x in line.split("{")[1].rstrip("};").split(",")]
    assert np.allclose(values, lat, rtol=1e-6)
