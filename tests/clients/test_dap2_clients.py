"""Real DAP2 clients against fathom: ncdump (netCDF-C's oc2), getdap (libdap), pydap and xarray.

Every value a client reads is compared with netCDF4-python (or ncdump) reading the local file,
"up to the documented mapping" of dap2/src/lib.rs: netCDF `byte` arrives as `Int16`, char arrays as strings, groups flattened (`/g/h/v` → `g_h_v`), and int64,
vlen and opaque variables are left out.

Files: the sample files (testdata), the bes netcdf_handler data and the netcdf-c DAP4 test files (every netCDF-4 type, groups,
fill values, UTF-8). Random hyperslabs are seeded.
"""

import re
import shutil
import subprocess
import warnings

import netCDF4
import numpy as np
import pytest

from conftest import CONFORMANCE, SAMPLES, Server

warnings.filterwarnings("ignore")

BES_DATA = CONFORMANCE / "bes" / "modules" / "netcdf_handler" / "data"
CDL_FILES = CONFORMANCE / "generated" / "dap4_cdl_ncgen-4.9.0"


def all_files():
    if not SAMPLES.is_dir():
        # `fathom serve` with no folder writes the sample files.
        Server(None).stop()
    files = sorted(SAMPLES.glob("*.nc"))
    files += sorted(BES_DATA.glob("*.nc")) + sorted(BES_DATA.glob("*.nc4"))
    files += sorted((BES_DATA / "nc4_test_files").glob("*.nc"))
    files += sorted(CDL_FILES.glob("*.nc"))
    return files


FILES = all_files()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dap2clients")
    for f in FILES:
        shutil.copy(f, folder / f.name)
    s = Server(folder)
    yield s
    alive = s.alive()
    s.stop()
    assert alive, "the server died during the tests"


def dap2_name(path: str) -> str:
    return path.lstrip("/").replace("/", "_")


def carried(var) -> bool:
    """Whether DAP2 carries the netCDF4-python variable `var` (the documented mapping)."""
    dt = var.datatype
    if isinstance(dt, netCDF4.VLType):
        return False
    if isinstance(dt, netCDF4.EnumType):
        return dt.dtype.itemsize < 8
    if isinstance(dt, netCDF4.CompoundType):
        return all(
            dt.dtype[f].base.kind in "iufS" and dt.dtype[f].base.itemsize <= 8
            and not (dt.dtype[f].base.kind in "iu" and dt.dtype[f].base.itemsize == 8)
            for f in dt.dtype.names
        )
    if dt is str:
        return True
    dt = np.dtype(dt)
    if dt.kind == "V":  # opaque
        return False
    return not (dt.kind in "iu" and dt.itemsize == 8)


def local_variables(path):
    """{DAP2 name: netCDF4 variable} for every carried variable, all groups."""
    out = {}
    ds = netCDF4.Dataset(path)

    def walk(g):
        for v in g.variables.values():
            if carried(v):
                name = v.name if g.path == "/" else dap2_name(f"{g.path}/{v.name}")
                out[name] = v
        for child in g.groups.values():
            walk(child)

    walk(ds)
    return ds, out


def expected_values(var, index=()):
    """What a DAP2 client should read: raw values (no masking), chars joined into strings."""
    var.set_auto_maskandscale(False)
    if var.dtype == "S1" and var.ndim > 0:
        # The last dimension is the string length; it is never subset over DAP2.
        data = var[index + (slice(None),) if index else ...]
        data = np.asarray(data)
        return np.array(
            [b"".join(r).rstrip(b"\0") for r in data.reshape(-1, data.shape[-1])], dtype=object
        ).reshape(data.shape[:-1])
    if var.dtype == "S1":
        return np.array(bytes(var[...]).rstrip(b"\0"), dtype=object)
    data = var[index] if index else var[...]
    return np.asarray(data)


def same(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    if a.dtype == np.float64 and b.dtype == np.float32:
        # pydap reads every floating-point attribute as a Python float, so xarray unpacks
        # `scale_factor`/`add_offset` in double precision where the local read uses single.
        np.testing.assert_allclose(a, b.astype(float), rtol=2e-7, err_msg=what)
    elif a.dtype.kind in "fc" or b.dtype.kind in "fc":
        np.testing.assert_array_equal(a.astype(float), b.astype(float), err_msg=what)
    elif a.dtype.kind in "OSU" or b.dtype.kind in "OSU":
        norm = np.vectorize(lambda x: x.decode() if isinstance(x, bytes) else str(x), otypes=[object])
        assert (norm(a) == norm(b)).all() if a.size else True, f"{what}: {a!r} != {b!r}"
    else:
        assert (a == b).all(), f"{what}: {a!r} != {b!r}"


def signed(data, var_attrs):
    """pydap reads DAP2 Byte as uint8; `_Unsigned "false"` says it is a netCDF byte."""
    data = np.asarray(data)
    if var_attrs.get("_Unsigned") == "false" and data.dtype == np.uint8:
        return data.view(np.int8)
    return data


def random_slices(shape, rng):
    out = []
    for n in shape:
        if n == 0:
            out.append(slice(None))
            continue
        start = int(rng.integers(0, n))
        stop = int(rng.integers(start + 1, n + 1))
        step = int(rng.integers(1, 4))
        out.append(slice(start, stop, step))
    return tuple(out)


def non_ascii(var):
    """pydap decodes DAP2 strings as ASCII (a pydap limitation): skip UTF-8 string variables."""
    if var.dtype is str or var.dtype == "S1":
        raw = var[...]
        text = "".join(str(x) for x in np.asarray(raw).ravel()) if var.dtype is str else b"".join(
            np.asarray(raw).ravel()).decode("latin-1")
        return any(ord(c) > 127 for c in text)
    return False


# --- ncdump -----------------------------------------------------------------------------------


def cdl_sections(text):
    """CDL as comparable pieces: dimensions, variable declarations with their attributes,
    global attributes, and the data of each variable (whitespace-normalised)."""
    dims, decls, glob, data = set(), {}, set(), {}
    section, current = None, None
    lines = text.splitlines()[1:]
    for line in lines:
        s = line.strip()
        if s in ("dimensions:", "variables:", "data:", "// global attributes:"):
            section = s
            continue
        if not s or s == "}":
            continue
        if section == "dimensions:":
            m = re.match(r"^(\S+) = UNLIMITED ; // \((\d+) currently\)", s)
            dims.add(f"{m.group(1)} = U{m.group(2)}" if m else re.sub(r"\s*;.*", "", s))
        elif section == "variables:":
            m = re.match(r"^\w+ (\S+?)(\(.*\))? ;$", s)
            if m and not s.startswith(":") and ":" not in s.split("(")[0]:
                current = m.group(1)
                decls[current] = [s]
            elif current:
                decls[current].append(s)
        elif section == "// global attributes:":
            glob.add(s)
        elif section == "data:":
            m = re.match(r"^(\S+) =(.*)$", s)
            if m:
                current = m.group(1)
                data[current] = m.group(2)
            elif current:
                data[current] += " " + s
    data = {k: re.sub(r"\s+", "", v) for k, v in data.items()}
    return dims, decls, glob, data


# The lines the mapping adds, and netCDF-C's own DAP2 presentation (expected3/*.dmp): it lists
# the unlimited dimension first, shows `DODS_EXTRA.Unlimited_Dimension` as a global attribute,
# and hides variables with a zero-length dimension.
ADDED = re.compile(r':_Unsigned = "false"|:DODS\.strlen|:DODS\.dimName')


def normalised_remote(text):
    dims, decls, glob, data = cdl_sections(text)
    decls = {k: [l for l in v if not ADDED.search(l)] for k, v in decls.items()}
    glob = {g for g in glob if "DODS_EXTRA." not in g}
    return dims, decls, glob, data


def normalised_local(text):
    dims, decls, glob, data = cdl_sections(text)
    zero_len = {d.split(" = ")[0] for d in dims if re.search(r"= U?0$", d)}
    for name in list(decls):
        m = re.match(r"^\w+ \S+?\((.*)\) ;$", decls[name][0])
        if m and any(d.strip() in zero_len for d in m.group(1).split(",")):
            del decls[name]
            data.pop(name, None)
    # Byte attributes travel as Int16 (values kept, the type suffix changes).
    decls = {
        k: [re.sub(r"(-?\d+)b\b", r"\1s", l) if " = " in l and l.startswith(k + ":") else l for l in v]
        for k, v in decls.items()
    }
    glob = {re.sub(r"(-?\d+)b\b", r"\1s", g) for g in glob}
    # So do byte variables: netCDF-C shows them as short.
    decls = {k: [re.sub(r"^byte ", "short ", v[0])] + v[1:] for k, v in decls.items()}
    return dims, decls, glob, data


def ncdump(*args):
    """ncdump's output; text attributes are not always UTF-8 (test.nc has a 0x80 byte)."""
    p = subprocess.run(["ncdump", *args], capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr.decode("latin-1")
    return p.stdout.decode("latin-1")


NCDUMP_FILES = [
    "fnoc1.nc", "coads_climatology.nc", "test.nc", "stringtest.nc", "zero_length_array.nc",
    "string_attribute_values.nc", "string_attribute_values.nc4", "nc4_nc_classic_no_comp.nc",
    "nc4_nc_classic_comp.nc", "nc_int8.nc", "nc4_int8.nc", "bears.nc", "classic.nc", "offset64.nc",
]


@pytest.mark.parametrize("name", NCDUMP_FILES)
def test_ncdump_of_the_url_equals_ncdump_of_the_file(server, name):
    local = next(f for f in FILES if f.name == name)
    ldims, ldecls, lglob, ldata = normalised_local(ncdump(str(local)))
    rdims, rdecls, rglob, rdata = normalised_remote(ncdump(f"{server.url}/{name}"))
    # A scalar char variable has no length dimension to restore (netCDF-C uses maxStrlen64).
    def scalar_chars(decls):
        return {k: [v[0].replace("(maxStrlen64)", "")] + v[1:] for k, v in decls.items()}

    rdims.discard("maxStrlen64 = 64")
    rdecls = scalar_chars(rdecls)
    assert rdecls == ldecls
    assert rglob == lglob
    if name == "test.nc":
        # netCDF-C drops the backslash that starts a string it reads from DAP2 ("\\^`" shows
        # as "^`"); getdap reads the same response right (bes case test.nc.3a).
        ldata.pop("c423"), rdata.pop("c423")
    assert rdata == ldata
    # DAP2 has one unlimited dimension, named in DODS_EXTRA; an unused one cannot be sent.
    used = {d for v in ldecls.values() for d in re.findall(r"\(([^)]*)\)", v[0])[:1]
            for d in d.split(", ")}
    assert {d for d in ldims if d.split(" = ")[0] in used} <= rdims <= ldims
    header = ncdump("-h", f"{server.url}/{name}")
    assert scalar_chars(normalised_remote(header)[1]) == rdecls


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_ncdump_header_lists_every_carried_variable(server, path):
    text = ncdump("-h", f"{server.url}/{path.name}")
    _, decls, _, _ = cdl_sections(text)
    _, local = local_variables(path)
    shown = {re.sub(r"\..*", "", k) for k in decls}  # Structures appear as `s.field`
    hidden_by_netcdf_c = {n for n, v in local.items() if 0 in v.shape}
    assert set(local) - hidden_by_netcdf_c <= shown


@pytest.mark.parametrize("option", ["-d", "-a", "-D"])
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_getdap_parses_every_response(server, path, option):
    p = subprocess.run(["getdap", option, f"{server.url}/{path.name}"], capture_output=True,
                       text=True, errors="replace", timeout=120)
    out = p.stdout + p.stderr
    # libdap's DAS parser refuses infinities and subnormal numbers as Float32/Float64 values
    # (netCDF-C and pydap read them); it keeps them aside in `*_dods_errors` containers.
    out = "\n".join(
        line for line in out.splitlines()
        if not (option == "-a" and re.search(r"_dods_errors \{$|_explanation \"", line)
                and all(re.fullmatch(r"-?Inf|-?\d\.\d+e-(4[5-9]|3[0-9]|3[0-2][0-9])", v)
                        for v in re.findall(r"`([^']*)' is not a Float", line)))
    )
    # getdap exits 0 even on errors: look at what it printed.
    assert p.returncode == 0 and "rror" not in out, out[-2000:]
    expected = {"-d": "Dataset {", "-a": "Attributes {", "-D": "The data:"}[option]
    assert expected in out


# --- pydap and xarray -------------------------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_pydap_reads_every_variable_whole_and_strided(server, path):
    from pydap.client import open_url

    ds, local = local_variables(path)
    remote = open_url(f"{server.url}/{path.name}")
    rng = np.random.default_rng(20240611)
    for name, var in local.items():
        if isinstance(var.datatype, netCDF4.CompoundType) and var.ndim:
            # pydap's DDS parser has no arrays of Structures (it takes `obs[n = 3]` for a name);
            # getdap and ncdump read them (test_getdap_parses_every_response).
            continue
        if non_ascii(var):
            continue
        assert name in remote, f"{path.name}: {name} missing in pydap"
        rv = remote[name]
        if isinstance(var.datatype, netCDF4.CompoundType):
            var.set_auto_maskandscale(False)
            whole = np.asarray(var[...])
            for field in whole.dtype.names:
                if whole.dtype[field].shape or whole.dtype[field].kind == "S":
                    continue
                got = np.asarray(rv[field][...].data if hasattr(rv[field][...], "data") else rv[field][...])
                same(got.reshape(whole[field].shape), whole[field], f"{path.name}:{name}.{field}")
            continue
        if hasattr(rv, "array"):  # a Grid
            rv = rv.array
        attrs = rv.attributes
        got = signed(rv[...].data, attrs)
        same(got, expected_values(var), f"{path.name}:{name}")
        if var.ndim - (var.dtype == "S1") > 0 and 0 not in var.shape:
            shape = var.shape[:-1] if var.dtype == "S1" else var.shape
            for _ in range(3):
                index = random_slices(shape, rng)
                got = signed(rv[index].data, attrs)
                same(got, expected_values(var, index), f"{path.name}:{name}{index}")
    ds.close()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_xarray_reads_what_netcdf4_reads(server, path):
    import xarray as xr

    _, carried_vars = local_variables(path)
    if any(non_ascii(v) for v in carried_vars.values()):
        pytest.skip("pydap decodes DAP2 strings as ASCII")
    remote = xr.open_dataset(f"{server.url}/{path.name}", engine="pydap", decode_times=False)
    rng = np.random.default_rng(7)
    groups = [None]
    with netCDF4.Dataset(path) as nc:
        def walk(g):
            for child in g.groups.values():
                groups.append(child.path)
                walk(child)
        walk(nc)
    for group in groups:
        with netCDF4.Dataset(path) as nc:
            g = nc[group] if group else nc
            # What xarray cannot open from the local file either: compounds, repeated dimensions.
            drop = [n for n, v in g.variables.items()
                    if isinstance(v.datatype, netCDF4.CompoundType) or len(set(v.dimensions)) < v.ndim]
            # fnoc1 keeps scale_factor as text, which xarray cannot apply to anything.
            masked = not any(isinstance(getattr(v, a, 0), str) for v in g.variables.values()
                             for a in ("scale_factor", "add_offset", "missing_value"))
        if not masked:
            remote = xr.open_dataset(f"{server.url}/{path.name}", engine="pydap",
                                     decode_times=False, mask_and_scale=False)
        local = xr.open_dataset(path, group=group, decode_times=False, drop_variables=drop,
                                mask_and_scale=masked)
        for name in local.variables:
            dap = name if group is None else dap2_name(f"{group}/{name}")
            if dap not in carried_vars:
                continue
            assert dap in remote.variables, f"{path.name}: {dap} missing in xarray"
            lv, rv = local[name], remote[dap]
            if lv.dtype == "S1" and lv.ndim == rv.ndim + 1:
                # xarray keeps a char array's length dimension when it cannot tell it is one.
                lv = xr.DataArray(expected_values(carried_vars[dap]), dims=rv.dims)
            rvalues = rv.values if masked else signed(rv.values, rv.attrs)
            same(rvalues, lv.values, f"{path.name}:{dap}")
            if lv.ndim and 0 not in lv.shape:
                for _ in range(2):
                    index = dict(zip(lv.dims, random_slices(lv.shape, rng)))
                    got = rv.isel({d2: s for d2, s in zip(rv.dims, index.values())}).values
                    got = got if masked else signed(got, rv.attrs)
                    same(got, lv.isel(index).values, f"{path.name}:{dap}{index}")
        local.close()
    remote.close()


def test_strided_slices_of_an_empty_record_dimension_select_nothing(serve, tmp_path):
    """pydap turns `v[1::2]` of an empty dimension into `[1:2:2**63-2]`; that selects nothing,
    as DAP4 answers, instead of an error that stops the client."""
    import netCDF4
    from pydap.client import open_url

    path = tmp_path / "norecords.nc"
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as f:
        f.createDimension("time", None)
        f.createDimension("x", 4)
        f.createVariable("v", "f4", ("time", "x"))
    server = serve([path])
    v = open_url(f"{server.url}/norecords.nc")["v"]
    assert np.asarray(v[1::2, 1::2]).shape == (0, 2)
    assert np.asarray(v[:]).shape == (0, 4)
