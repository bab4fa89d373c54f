"""Shared pieces of the DAP4 client tests: the served files, local reads, and the rules that
turn `ncdump` of a DAP4 URL and `ncdump` of the local file into comparable text.

Every rule below names a difference that DAP4 or a client imposes, never one fathom could fix:
the tests then require everything else to be identical. CONFORMANCE.md (in the dap4 crate)
explains each one with its source.
"""

import difflib
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import CONFORMANCE, SAMPLES, Server, run

CDL_DIR = CONFORMANCE / "netcdf-c" / "dap4_test" / "cdltestfiles"
SAMPLE_NAMES = ["classic.nc", "offset64.nc", "cdf5.nc", "groups.nc", "types.nc", "chunked.nc"]


def cdl_names():
    return sorted(p.stem + ".nc" for p in CDL_DIR.glob("*.cdl"))


def ncgen(cdl: Path, out_dir: Path) -> Path:
    """Builds `cdl` with `ncgen -4` (what netcdf-c's dap4_test does) into `out_dir`."""
    out = out_dir / (cdl.stem + ".nc")
    run(["ncgen", "-4", "-o", str(out), str(cdl)])
    return out


@pytest.fixture(scope="session")
def dap4_root(sample_server, tmp_path_factory) -> Path:
    """One folder with the samples and every netcdf-c DAP4 test file, built now from its CDL."""
    root = tmp_path_factory.mktemp("dap4")
    for name in SAMPLE_NAMES:
        shutil.copy(SAMPLES / name, root / name)
    for cdl in sorted(CDL_DIR.glob("*.cdl")):
        ncgen(cdl, root)
    return root


@pytest.fixture(scope="session")
def dap4_server(dap4_root):
    server = Server(dap4_root)
    yield server
    alive = server.alive()
    server.stop()
    assert alive, "the server died during the tests"


ALL_FILES = SAMPLE_NAMES + cdl_names()


def walk_variables(group, prefix=""):
    """(fully qualified name, netCDF4.Variable) of every variable, depth first."""
    for v in group.variables.values():
        yield prefix + "/" + v.name, v
    for g in group.groups.values():
        yield from walk_variables(g, prefix + "/" + g.name)


def user_type_kind(var):
    """'compound', 'vlen', 'opaque', 'enum' or None for a netCDF4.Variable."""
    dt = var.datatype
    name = type(dt).__name__
    if name == "CompoundType":
        return "compound"
    if name == "VLType":
        return "string" if dt.dtype is str else "vlen"
    if name == "EnumType":
        return "enum"
    return None


def has_array_field(dtype) -> bool:
    """Whether a numpy structured dtype has an array field, at any depth."""
    for name in dtype.names or ():
        sub = dtype.fields[name][0]
        if sub.subdtype is not None or has_array_field(sub.base):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# ncdump text, parsed and compared


def ncdump(target: str) -> str:
    p = subprocess.run(["ncdump", target], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"ncdump {target} failed:\n{p.stderr}"
    return p.stdout


def _statements(text: str):
    """ncdump's output as statements: continuation lines joined, blank lines dropped."""
    out, cur = [], ""
    for line in text.splitlines():
        if not line.strip():
            continue
        cur = f"{cur} {line.strip()}" if cur else line.strip()
        if cur.endswith((";", "{", "}", ":")) or "; //" in cur or cur.startswith(("}", "//")):
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


class Dump:
    """What ncdump printed, per group path: dimensions, enum types, variables (type, dims),
    attributes (owner, type, name, values) and data (values text)."""

    def __init__(self, text: str):
        self.dims, self.enums, self.vars, self.attrs, self.data = {}, {}, {}, [], {}
        self.user_types = {}
        # Compound type -> the types of its fields, and whether one of them is an array.
        self.compound_fields = {}
        self.compound_arrays = set()
        groups = [""]
        section = None
        compound = None
        for s in _statements(text):
            if s.startswith("netcdf ") or s == "}":
                continue
            if compound is not None:
                if s.startswith("};"):
                    compound = None
                else:
                    self.compound_fields[compound].append(s.split()[0])
                    if "(" in s:
                        self.compound_arrays.add(compound)
                continue
            if s in ("types:", "dimensions:", "variables:", "data:"):
                section = s[:-1]
                continue
            if s.startswith("// global attributes:") or s.startswith("// group attributes:"):
                section = "variables"
                continue
            m = re.match(r"^group: (.*) \{$", s)
            if m:
                groups.append(f"{groups[-1]}/{m.group(1)}")
                section = None
                continue
            if s.startswith("} // group"):
                groups.pop()
                continue
            g = groups[-1]
            if section == "types":
                if s.startswith("compound "):
                    compound = s.split()[1]
                    self.user_types[compound] = "compound"
                    self.compound_fields[compound] = []
                elif " enum " in s:
                    name = s.split(" enum ")[1].split()[0]
                    self.user_types[name] = "enum"
                    self.enums[f"{g}/{name}"] = re.sub(r"\s+", " ", s)
                elif s.startswith("opaque("):
                    self.user_types[s.split()[1]] = "opaque"
                elif "(*)" in s:
                    self.user_types[s.split()[1]] = "vlen"
                continue
            if section == "dimensions":
                name, value = s.split(" = ", 1)
                self.dims[f"{g}/{name}"] = value.split(";")[0].strip() + (
                    " " + value.split("//")[1].strip() if "//" in value else ""
                )
                continue
            if section == "variables":
                am = re.match(r"^(?:(\S+) )?([^\s:]*):(\S+) = (.*) ;$", s)
                if am:
                    atype, owner, name, values = am.groups()
                    self.attrs.append((f"{g}/{owner}", atype, name, values))
                    continue
                dm = re.match(r"^(\S+) (\S+?)(?:\((.*)\))? ;$", s)
                assert dm, f"unexpected declaration {s!r}"
                self.vars[f"{g}/{dm.group(2)}"] = (dm.group(1), dm.group(3) or "")
                continue
            if section == "data":
                dm = re.match(r"^(\S+) = (.*) ;$", s)
                assert dm, f"unexpected data {s!r}"
                self.data[f"{g}/{dm.group(1)}"] = dm.group(2)
                continue
            raise AssertionError(f"unexpected ncdump line {s!r}")

    def has_array_field(self, type_name: str) -> bool:
        """Whether a compound type has an array field, at any depth."""
        if type_name in self.compound_arrays:
            return True
        return any(self.has_array_field(f) for f in self.compound_fields.get(type_name, []))


_ENTITIES = {"&quot;": '\\"', "&apos;": "'", "&lt;": "<", "&gt;": ">", "&amp;": "&"}


class Floats:
    """Float attribute values compared as CLIENT BUG 1 leaves them: within a few float32 ulps,
    an infinity or FLT_MAX matching any non-finite value."""

    def __init__(self, text: str):
        self.text = text
        self.values = [float(tok.rstrip("f")) for tok in text.split(", ")]

    def __eq__(self, other):
        if not isinstance(other, Floats) or len(self.values) != len(other.values):
            return False
        for a, b in zip(self.values, other.values):
            if not (np.isfinite(a) and np.isfinite(b)):
                if max(abs(a), abs(b)) < 3.4e38:
                    return False
            elif abs(a - b) > 1e-6 * max(abs(a), abs(b)):
                return False
        return True

    def __repr__(self):
        return self.text


def _floats(values: str):
    """`values` as Floats when they are float attribute values, else unchanged."""
    if not values.endswith("f"):
        return values
    try:
        return Floats(values)
    except ValueError:
        return values


def _unbrace(values: str) -> str:
    """Vlen data without the braces netcdf-c adds (NC 1): it wraps each value of a vlen in a
    one-field compound (`{{3}, {1}}` for `{3, 1}`) and each inner vlen of a vlen or compound
    field in one more pair. Applied to both sides, so the values themselves still compare."""
    while True:
        out = re.sub(r"\{([^{},]+)\}", r"\1", values)
        out = re.sub(r"\{\{([^{}]*)\}\}", r"{\1}", out)
        if out == values:
            return out
        values = out


def compare_dumps(local: Dump, remote: Dump, opaque_sizes: dict) -> list:
    """Differences between ncdump of the local file and of its DAP4 URL, once the differences
    DAP4 and the netcdf-c client impose are set aside:

    - DAP4 1: text (char) attributes travel as DAP4 String attributes: `string x:a` remotely.
    - DAP4 2: `<Map>` elements show as a `_edu.ucar.maps` attribute.
    - DAP4 3: no attribute type holds an enum: enum attributes other than `_FillValue` (which
      netcdf-c converts back) become strings of the constants' names.
    - DAP4 4: a char array `char v(n, len)` travels as `String v(n)` (as Hyrax sends it), so
      ncdump shows `string v(n)` with the same text.
    - NC 1: netcdf-c DAP4 renames user-defined types after their variables, shows opaques as
      16 bytes (`opaque16_t`, zero-padded) and vlens as vlens of a one-field compound (more
      braces in the data), and makes up `_AnonymousN` dimensions for compound array fields
      (without `#translate=nc4`).
    - CLIENT BUG 1: netcdf-c converts a Float32 attribute twice through one C union (d4meta.c
      `compileAttrValues` calls `downConvert` after `convertString` did), so its last bits are
      wrong and infinities become NaN; data equal to a float `_FillValue` then no longer print
      as `_`.
    - CLIENT BUG 2: netcdf-c re-escapes the text of `<Value>` elements (`&quot;`).
    - CLIENT BUG 3: netcdf-c reads only the first element of an array field of a compound
      (d4data.c `fillstruct`), so the data of such compounds are not compared here.
    """
    problems = []
    has_vlens = "vlen" in local.user_types.values()

    def note(what, a, b):
        if a == b:
            return
        if isinstance(a, (list, dict)) and isinstance(b, (list, dict)):
            la = [repr(x) for x in (a.items() if isinstance(a, dict) else a)]
            lb = [repr(x) for x in (b.items() if isinstance(b, dict) else b)]
            diff = difflib.unified_diff(la, lb, "local", "remote", lineterm="", n=0)
            problems.append(f"{what}:\n" + "\n".join(diff))
        else:
            problems.append(f"{what}: local {a!r} != remote {b!r}")

    note("dimensions", local.dims, {k: v for k, v in remote.dims.items() if "/_Anonymous" not in k})
    note("enum types", local.enums, remote.enums)
    note("variables", list(local.vars), list(remote.vars))
    fills = {}
    for path, (ltype, ldims) in local.vars.items():
        rtype, rdims = remote.vars.get(path, (None, None))
        kind = local.user_types.get(ltype)
        if kind in ("compound", "opaque", "vlen"):
            note(f"{path} dimensions", ldims, rdims)
            note(f"{path} kind", kind, remote.user_types.get(rtype))
        elif ltype == "char" and ldims:
            # DAP4 4: a char array travels as strings without its last (length) dimension.
            note(f"{path} type", ("string", ", ".join(ldims.split(", ")[:-1])), (rtype, rdims))
        else:
            note(f"{path} type", (ltype, ldims), (rtype, rdims))
    local_attrs = []
    for owner, atype, name, values in local.attrs:
        if atype in local.user_types and name != "_FillValue":
            values = ", ".join(f'"{x}"' for x in values.split(", "))
            atype = "string"
        if atype is None and values.startswith('"'):
            atype = "string"
        if name == "_FillValue" and values.endswith("f"):
            fills[owner] = "%.7g" % float(values.rstrip("f"))
        local_attrs.append((owner, atype, name, _floats(values)))
    remote_attrs = []
    for owner, atype, name, values in remote.attrs:
        if name == "_edu.ucar.maps":
            continue
        for k, v in _ENTITIES.items():
            values = values.replace(k, v)
        remote_attrs.append((owner, atype, name, _floats(values)))
    note("attributes", local_attrs, remote_attrs)
    for path, lvalues in local.data.items():
        rvalues = remote.data.get(path)
        ltype = local.vars.get(path, ("", ""))[0]
        kind = local.user_types.get(ltype)
        if rvalues is not None and path in fills:
            lvalues = re.sub(r"(?<![\w.])_(?![\w.])", fills[path], lvalues)
            rvalues = re.sub(r"(?<![\w.])_(?![\w.])", fills[path], rvalues)
        if kind == "opaque" and rvalues is not None:
            size = opaque_sizes[ltype]
            rvalues = re.sub(r"0X([0-9A-F]+)", lambda m: "0X" + m.group(1)[: 2 * size], rvalues)
        if has_vlens and rvalues is not None:
            lvalues, rvalues = _unbrace(lvalues), _unbrace(rvalues)
        if kind == "compound" and local.has_array_field(ltype):
            continue
        if ltype == "char" and local.vars[path][1] and rvalues is not None:
            # DAP4 4: an empty string is the `string` fill value, which ncdump prints as `_`.
            rvalues = re.sub(r"(?<![\w.\"])_(?![\w.\"])", '""', rvalues)
        note(f"{path} data", lvalues, rvalues)
    note("data variables", sorted(local.data), sorted(remote.data))
    return problems
