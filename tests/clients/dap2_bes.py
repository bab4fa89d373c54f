"""The bes netcdf_handler DAP2 cases (tests/conformance/bes/.../tests/nc/*.bescmd): which file,
which response, which constraint, and the baseline, plus the comparison the bes suite applies
(`diff -b -B`; DAP2 data decoded with `getdap -Ms -`)."""

import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

BES = Path(__file__).resolve().parents[1] / "conformance" / "bes" / "modules" / "netcdf_handler"
CASES_DIR = BES / "tests" / "nc"


def cases():
    """(case name, dataset path under /data, response, constraint, baseline path) for every DAP2
    das/dds/dods case that has a baseline."""
    out = []
    for cmd in sorted(CASES_DIR.glob("*.bescmd")):
        text = cmd.read_text()
        base = cmd.with_name(cmd.name + ".baseline")
        kind = re.search(r'<get type="(\w+)"', text)
        fmt = re.search(r'name="dap_format">(\w+)<', text)
        container = re.search(r'space="catalog">/data/([^<]+)<', text)
        if not (kind and fmt and container and base.exists()):
            continue
        if fmt.group(1) != "dap2" or kind.group(1) not in ("das", "dds", "dods"):
            continue
        ce = re.search(r"<constraint>(.*)</constraint>", text)
        out.append((cmd.name[: -len(".bescmd")], container.group(1), kind.group(1),
                    ce.group(1) if ce else None, base))
    return out


def data_folder(dest: Path) -> Path:
    """The bes data files (not the ancillary .das files, which Hyrax merges and fathom does not
    read) copied into `dest`, keeping the nc4_test_files folder."""
    (dest / "nc4_test_files").mkdir(parents=True, exist_ok=True)
    for f in (BES / "data").iterdir():
        if f.suffix in (".nc", ".nc4"):
            shutil.copy(f, dest / f.name)
    for f in (BES / "data" / "nc4_test_files").glob("*.nc"):
        shutil.copy(f, dest / "nc4_test_files" / f.name)
    return dest


def normalise(text: str) -> list[str]:
    """What `diff -b -B` compares: runs of blanks count as one, blank lines do not count."""
    lines = []
    for line in text.splitlines():
        line = re.sub(r"[ \t]+", " ", line.rstrip())
        if line.strip():
            lines.append(line)
    return lines


def fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        return e.read()


def response(base_url: str, dataset: str, kind: str, ce: str | None) -> str:
    """Our answer, as the bes suite would compare it."""
    url = f"{base_url}/{dataset}.{kind}"
    if ce:
        url += "?" + urllib.parse.quote(ce, safe=",.")
    body = fetch(url)
    if kind != "dods":
        return body.decode("utf-8", "replace")
    p = subprocess.run(["getdap", "-Ms", "-"], input=body, capture_output=True, timeout=60)
    return (p.stdout + p.stderr).decode("utf-8", "replace")


def compare(base_url: str):
    """{case: (equal?, first differing line pair)}."""
    results = {}
    for name, dataset, kind, ce, baseline in cases():
        ours = normalise(response(base_url, dataset, kind, ce))
        theirs = normalise(baseline.read_text(errors="replace"))
        diff = next(((a, b) for a, b in zip(theirs, ours) if a != b), None)
        if diff is None and len(ours) != len(theirs):
            diff = (theirs[len(ours)] if len(theirs) > len(ours) else "<end>",
                    ours[len(theirs)] if len(ours) > len(theirs) else "<end>")
        results[name] = (diff is None, diff)
    return results


# Lines fathom adds on purpose (see dap2/CONFORMANCE.md): Int8 signedness, the char-dimension
# hints for netCDF-C, and coordinate variables listed on their own as well as Grid maps.
_OURS_ONLY = re.compile(r'String _Unsigned "false";|Int32 DODS\.strlen \d+;|String DODS\.dimName ')
_THEIRS_ONLY = re.compile(r"Int32 string_length \d+;")
_BYTE_DECL = re.compile(r"^\s*Byte (\w+)[\[;]")
_INT16_DECL = re.compile(r"(?<=^)\s*Int16 (\w+)(?=[\[;])")
_COORDINATE = re.compile(r"^\s*\w+ (\w+)\[\1 = \d+\](;| = .*;)$")


def equal_but_for_policy(ours: list[str], theirs: list[str]) -> bool:
    """Whether the two differ only in order and in what the documented mapping adds or drops
    (netCDF `byte` declared as `Int16` where Hyrax declares `Byte`; its values, which Hyrax
    decodes unsigned, are not excused)."""
    bytes_there = {m.group(1) for line in theirs if (m := _BYTE_DECL.match(line))}
    ours = [
        _INT16_DECL.sub(lambda m: m.group(0).replace("Int16", "Byte") if m.group(1) in bytes_there else m.group(0), line)
        for line in ours
    ]
    a = sorted(line for line in ours if not _OURS_ONLY.search(line))
    b = sorted(line for line in theirs if not _THEIRS_ONLY.search(line))
    extra = list(a)
    for line in b:
        if line in extra:
            extra.remove(line)
        else:
            return False
    return all(_COORDINATE.match(line) for line in extra)
