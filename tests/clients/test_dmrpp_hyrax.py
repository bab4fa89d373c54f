"""Would Hyrax accept what `fathom index` writes? For every HDF5 file of Hyrax's dmrpp_module
tests that has the DMR++ Hyrax's `build_dmrpp` wrote beside it, `fathom index` writes its own,
and both are parsed here with `xml.etree` (not with fathom's parser) and compared variable by
variable: names, types, dimensions, chunk dimension sizes, filter order (`compressionType`),
`byteOrder`, fill values, and every chunk's offset, size and `chunkPositionInArray`.

Every mismatch is reported. The few that are deliberate are listed in `DELIBERATE` with the
reason, and must still be what they say.
"""

import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import fathom_bin
from test_dmrpp import BES_DATA

DAP = "{http://xml.opendap.org/ns/DAP/4.0#}"
DMRPP = "{http://xml.opendap.org/dap/dmrpp/1.0.0#}"
TYPES = {"Int8", "UInt8", "Byte", "Char", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64",
         "Float32", "Float64", "String", "URL", "Enum", "Opaque", "Structure", "Sequence"}
FILES = sorted(p.name for p in BES_DATA.glob("*.h5") if (BES_DATA / f"{p.name}.dmrpp").exists())

# Differences that are choices, not faults: (file, variable path, field) -> why.
DELIBERATE: dict[tuple[str, str, str], str] = {
    # A compact scalar string: Hyrax writes an empty `dmrpp:chunks` (fill value
    # "unsupported-string") beside `dmrpp:compact`; fathom writes the compact value alone, which
    # is all Hyrax's reader uses for a compact variable.
    ("Scalar_compact_str.h5", "/var_str_sca", "chunks"): "empty chunks element not written",
    ("Scalar_compact_vlstr.h5", "/vl_scalar", "chunks"): "empty chunks element not written",
    # A fixed-length string array in one chunk: Hyrax locates the chunk; fathom writes the
    # strings inline (`dmrpp:compact` + `dmrpp:FixedLengthStringArray`, which Hyrax's reader
    # also reads), since its HDF5 reader gives no chunk layout for strings.
    ("chunked_string_array.h5", "/string_array", "chunks"): "strings inline, not located",
    ("chunked_string_array.h5", "/string_array", "chunkDimensionSizes"): "strings inline",
    ("chunked_string_array.h5", "/string_array", "compact"): "strings inline",
    # A contiguous variable-length scalar: Hyrax's chunk is the string's global-heap reference
    # (its reader reports "unsupported-variable-length-string"); fathom writes the text itself.
    ("chunked_scalar_string.h5", "/scalar_big_string", "chunks"): "heap reference not written",
    ("chunked_scalar_string.h5", "/scalar_big_string", "compact"): "the string inline",
    # The enum type: Hyrax calls it NoNameEum0, fathom by the name it reads from the file.
    ("t_enum_array.h5", "/enum_array", "enum"): "enum type named from the file",
}
# Files whose variable names differ by design: Hyrax's HDF-EOS5 option renames (spaces and dots
# to underscores) and adds XDim / YDim from StructMetadata; fathom keeps the file's own names.
# The variables both have are still compared.
RENAMED_FILES = {"grid_2_2d.h5": "HDF-EOS5 names as stored, no XDim / YDim"}


def variables(path):
    """{variable path: its description} of a DMR++ file."""
    root = ET.parse(path).getroot()
    out = {}
    # Shared dimensions by their full name, so that named and anonymous ones compare by size.
    sizes = {}

    def walk(node, prefix):
        for dim in node.findall(f"{DAP}Dimension"):
            sizes[f"{prefix}{dim.get('name')}"] = dim.get("size")
        for child in node:
            tag = child.tag.replace(DAP, "")
            name = child.get("name")
            if tag == "Group":
                walk(child, f"{prefix}{name}/")
            elif tag in TYPES and name is not None:
                d = describe(child, tag)
                d["dims"] = [size or sizes.get(dim) for dim, size in d["dims"]]
                out[f"{prefix}{name}"] = d
                if tag in ("Structure", "Sequence"):
                    walk(child, f"{prefix}{name}.")

    walk(root, "/")
    return out


def describe(var, tag):
    d = {
        "type": tag,
        "enum": var.get("enum"),
        "dims": [(dim.get("name"), dim.get("size")) for dim in var.findall(f"{DAP}Dim")],
    }
    chunks = var.find(f"{DMRPP}chunks")
    if chunks is None and var.find(f"{DMRPP}chunk") is not None:
        chunks = var  # written before Hyrax wrapped a contiguous variable's chunk
    if chunks is not None:
        d["compressionType"] = chunks.get("compressionType")
        d["deflateLevel"] = chunks.get("deflateLevel")
        d["byteOrder"] = chunks.get("byteOrder")
        d["fillValue"] = chunks.get("fillValue")
        sizes = chunks.find(f"{DMRPP}chunkDimensionSizes")
        d["chunkDimensionSizes"] = None if sizes is None else sizes.text.split()
        d["chunks"] = sorted(
            (int(c.get("offset")), int(c.get("nBytes")),
             (c.get("chunkPositionInArray") or "").replace(" ", ""))
            for c in chunks.findall(f"{DMRPP}chunk")
        )
    compact = var.find(f"{DMRPP}compact")
    d["compact"] = None if compact is None else (compact.text or "").strip()
    return d


def fill_equal(a, b):
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def mismatches(name, ours, theirs):
    found = []
    for path in sorted(set(ours) | set(theirs)):
        if path not in ours:
            found.append((name, path, "missing", "Hyrax has it, fathom does not"))
            continue
        if path not in theirs:
            found.append((name, path, "extra", "fathom has it, Hyrax does not"))
            continue
        a, b = ours[path], theirs[path]
        for field in sorted(set(a) | set(b)):
            x, y = a.get(field), b.get(field)
            # Hyrax's older files write no fill value; compared where both do.
            if field == "fillValue" and (x is None or y is None or fill_equal(x, y)):
                continue
            # Hyrax leaves `byteOrder` out of some chunks elements (little-endian implied).
            if field == "byteOrder" and x == "LE" and y is None:
                continue
            if x != y:
                found.append((name, path, field, f"fathom {x!r} != Hyrax {y!r}"))
    return found


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hyrax_index")
    data, out = tmp / "data", tmp / "out"
    data.mkdir()
    for f in FILES:
        shutil.copy(BES_DATA / f, data / f)
    subprocess.run([str(fathom_bin()), "index", str(data), "-o", str(out)], check=True,
                   timeout=300, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return out


def test_every_conformance_file_is_indexed(ours):
    assert len(FILES) >= 20
    missing = [f for f in FILES if not (ours / f"{f}.dmrpp").exists()]
    assert not missing, missing


@pytest.mark.parametrize("name", FILES)
def test_fathom_index_agrees_with_build_dmrpp(ours, name):
    mine = ours / f"{name}.dmrpp"
    assert mine.exists(), name
    found = mismatches(name, variables(mine), variables(BES_DATA / f"{name}.dmrpp"))
    unexplained = [m for m in found if m[:3] not in DELIBERATE
                   and not (name in RENAMED_FILES and m[2] in ("missing", "extra"))]
    assert not unexplained, "\n".join(" | ".join(m) for m in unexplained)
    for key in DELIBERATE:
        if key[0] == name:
            assert key in [m[:3] for m in found], f"{key} is no longer different"
