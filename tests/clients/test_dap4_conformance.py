"""Conformance scores of fathom's DAP4 against peers' own test baselines, computed here and
held to what dap4/CONFORMANCE.md records (a case recorded as equal must stay equal; a score
must not drop):

1. netcdf-c `dap4_test`: every `cdltestfiles/*.cdl` with a remote baseline is built now with
   `ncgen -4`, served, and `ncdump "URL?dap4.checksum=true#dap4"` is compared with
   `baselineremote/X.nc.ncdump` the way `test_remote.sh` does (`diff -wBb`); the constrained
   cases of `d4manifest.sh` likewise. The baselines were made by a newer ncdump than Debian's
   4.9.0 against TDS (d4ts), so a second score sets aside the two differences that come from
   the ncdump version alone.
2. bes netcdf_handler `.dmr` baselines (Hyrax): the same files served by fathom, the DMR
   compared after bes' own normalisation (`diff -b -B`), and structurally (every dimension, and
   every variable's name, type and dimensions).

Set FATHOM_CONFORMANCE_REPORT=1 to print the tables for CONFORMANCE.md.
"""

import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from conftest import CONFORMANCE, REPO, Server
from test_dap4_common import CDL_DIR, ncgen

RECORD = REPO / "dap4" / "CONFORMANCE.md"
D4 = CONFORMANCE / "netcdf-c" / "dap4_test"
BES = CONFORMANCE / "bes" / "modules" / "netcdf_handler"

# netcdf-c dap4_test/d4manifest.sh `constrained_manifest`: file, constraint, index.
CONSTRAINED = [
    ("test_atomic_array", "/vu8[1][0:2:2];/vd[1];/vs[1][0];/vo[0][1]", 1),
    ("test_atomic_array", "/v16[0:1,3]", 2),
    ("test_atomic_array", "/v16[3,0:1]", 3),
    ("test_one_vararray", "/t[1]", 4),
    ("test_one_vararray", "/t[0:1]", 5),
    ("test_enum_array", "/primary_cloud[1:2:4]", 6),
    ("test_opaque_array", "/vo2[1][0:1]", 7),
    ("test_struct_array", "/s[0:2:3][0:1]", 8),
]


def recorded(section: str):
    """The rows of the table under `## {section}` in CONFORMANCE.md: case -> cells."""
    text = RECORD.read_text()
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1:]
    scores = {m.group(1): int(m.group(2)) for m in re.finditer(r"\*\*(\w[\w ]*): (\d+) of \d+\*\*", body)}
    return rows, scores


def report(title, header, rows):
    if os.environ.get("FATHOM_CONFORMANCE_REPORT"):
        print(f"\n## {title}\n| {' | '.join(header)} |\n|{'---|' * len(header)}")
        for row in rows:
            print("| " + " | ".join(row) + " |")


def diff_wbb(a: str, b: str) -> bool:
    """`diff -wBb` equality: whitespace ignored inside lines, blank lines ignored."""
    norm = lambda t: [re.sub(r"\s+", "", l) for l in t.splitlines() if l.strip()]
    return norm(a) == norm(b)


def version_normalised(text: str) -> str:
    """What the newer ncdump of the baselines prints differently from ncdump 4.9.0, made equal:
    anonymous dimensions are `_Anonymous_Dim_N` there and `_AnonymousN` in 4.9.0, and the
    newer one writes the type before a `_FillValue` (`int v:_FillValue`)."""
    text = re.sub(r"_Anonymous_Dim_(\d+)", r"_Anonymous\1", text)
    return re.sub(r"^(\s*)(?:byte|ubyte|short|ushort|int|uint|int64|uint64|float|double) (\S+:_FillValue)", r"\1\2", text, flags=re.M)


@pytest.fixture(scope="module")
def d4_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("d4ts")
    for cdl in sorted(CDL_DIR.glob("*.cdl")):
        ncgen(cdl, root)
    server = Server(root)
    yield server
    alive = server.alive()
    server.stop()
    assert alive


def test_netcdf_c_dap4_suite(d4_server):
    cases = []
    for cdl in sorted(CDL_DIR.glob("*.cdl")):
        baseline = D4 / "baselineremote" / f"{cdl.stem}.nc.ncdump"
        if baseline.exists():  # test_vlen9 and test_vlen10 have none
            cases.append((f"{cdl.stem}.nc", f"{d4_server.url}/{cdl.stem}.nc?dap4.checksum=true#dap4", baseline))
    for stem, ce, n in CONSTRAINED:
        url = f"{d4_server.url}/{stem}.nc?dap4.ce={ce}&dap4.checksum=true#dap4"
        cases.append((f"{stem}.{n}.nc ({ce})", url, D4 / "baselineremote" / f"{stem}.{n}.nc.ncdump"))
    rows, scores = recorded("netcdf-c dap4_test")
    results = {}
    for case, url, baseline in cases:
        p = subprocess.run(["ncdump", url], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"{case}: {p.stderr}"
        want = baseline.read_text()
        results[case] = (diff_wbb(want, p.stdout), diff_wbb(version_normalised(want), version_normalised(p.stdout)))
    exact = sum(e for e, _ in results.values())
    normal = sum(n for _, n in results.values())
    word = lambda ok: "equal" if ok else "differs"
    report(
        "netcdf-c dap4_test",
        ["case", "exact", "ncdump version set aside", "why it differs"],
        [[f"`{c}`", word(e), word(n), rows.get(c, ["", "", ""])[2] if c in rows else ""] for c, (e, n) in results.items()],
    )
    print(f"\nnetcdf-c dap4_test: exact {exact} of {len(results)}, ncdump version set aside {normal} of {len(results)}")
    assert set(results) == set(rows), "CONFORMANCE.md lists other cases"
    for case, (e, n) in results.items():
        if rows[case][0] == "equal":
            assert e, f"{case} no longer matches its baseline"
        if rows[case][1] == "equal":
            assert n, f"{case} no longer matches its baseline (ncdump version set aside)"
        if not n:
            assert rows[case][2], f"{case}: CONFORMANCE.md gives no reason"
    assert exact >= scores["exact"] and normal >= scores["ncdump version set aside"]


def bes_cases():
    out = []
    for cmd in sorted((BES / "tests" / "nc").glob("*dmr*.bescmd")):
        baseline = cmd.with_name(cmd.name + ".baseline")
        if not baseline.exists():
            continue
        text = cmd.read_text()
        path = re.search(r"<setContainer[^>]*>([^<]+)<", text).group(1).strip()
        ce = re.search(r"<dap4constraint>([^<]*)<", text)
        out.append((cmd.name, path, ce.group(1) if ce else None, baseline))
    return out


def bes_normalised(text: str) -> list:
    """bes' own normalisation (handler_tests_macros.m4: dmrVersion removed), then what `diff
    -b -B` ignores."""
    text = re.sub(r'dmrVersion="[^"]*"', 'dmrVersion="removed"', text)
    return [re.sub(r"\s+", " ", l).strip() for l in text.splitlines() if l.strip()]


VARIABLE_TAGS = {
    "Char", "Byte", "Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64",
    "Float32", "Float64", "String", "URL", "Opaque", "Enum", "Structure", "Sequence",
}


def structure(dmr: str):
    """Dimensions (path, size) and variables (path, type, dims) of a DMR, sorted (Hyrax does
    not keep the file's order; fathom does, as ncdump of the file shows it). Hyrax's `Byte`
    (its name for netCDF's signed byte and unsigned ubyte alike) counts as either 8-bit type."""
    # One bes baseline has a second document after the first: the first is the DMR.
    dmr = dmr[: dmr.index("</Dataset>") + len("</Dataset>")]
    root = ET.fromstring(re.sub(r' xmlns="[^"]+"', "", dmr, count=1).encode())
    dims, variables = [], []

    def walk(node, prefix, in_variable):
        for child in node:
            if child.tag == "Dimension":
                dims.append((f"{prefix}/{child.get('name')}", child.get("size")))
            elif child.tag == "Group":
                walk(child, f"{prefix}/{child.get('name')}", False)
            elif child.tag in VARIABLE_TAGS:
                path = f"{prefix}{'.' if in_variable else '/'}{child.get('name')}"
                shape = [d.get("name") or d.get("size") for d in child.findall("Dim")]
                kind = "8-bit" if child.tag in ("Byte", "Int8", "UInt8") else child.tag
                variables.append((path, kind, shape))
                walk(child, path, True)

    walk(root, "", False)
    return sorted(dims), sorted(variables)


@pytest.fixture(scope="module")
def bes_server(tmp_path_factory):
    # The bes paths are relative to the module folder (`/data/...`).
    server = Server(BES)
    yield server
    alive = server.alive()
    server.stop()
    assert alive


def test_bes_dmr_baselines(bes_server):
    rows, scores = recorded("bes netcdf_handler DMR")
    results = {}
    for name, path, ce, baseline in bes_cases():
        url = f"{bes_server.url}{urllib.parse.quote(path)}.dmr"
        if ce is not None:
            url += "?dap4.ce=" + urllib.parse.quote(ce)
        ours = urllib.request.urlopen(url).read().decode()
        theirs = baseline.read_text(errors="replace")
        exact = bes_normalised(ours) == bes_normalised(theirs)
        same_structure = structure(ours) == structure(theirs)
        results[name] = (exact, same_structure)
    word = lambda ok: "equal" if ok else "differs"
    report(
        "bes netcdf_handler DMR",
        ["case", "exact", "structure", "why it differs"],
        [[f"`{c}`", word(e), word(s), rows[c][2] if c in rows else ""] for c, (e, s) in results.items()],
    )
    exact = sum(e for e, _ in results.values())
    same = sum(s for _, s in results.values())
    print(f"\nbes DMR: exact {exact} of {len(results)}, structure {same} of {len(results)}")
    assert set(results) == set(rows), "CONFORMANCE.md lists other cases"
    for case, (e, s) in results.items():
        if rows[case][0] == "equal":
            assert e, case
        if rows[case][1] == "equal":
            assert s, f"{case} no longer has Hyrax's structure"
        if not s:
            assert rows[case][2], f"{case}: CONFORMANCE.md gives no reason"
    assert exact >= scores["exact"] and same >= scores["structure"]
