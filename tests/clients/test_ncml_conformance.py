"""The bes ncml_module aggregation baselines: our `.das`, `.dds` and decoded `.dods` of Hyrax's
NcML aggregations against Hyrax's, compared the way the bes suite compares them, and Hyrax's
invalid NcML files, which must be refused with a DAP2 error.

The score and the reason for every difference are recorded in cdm/NCML-CONFORMANCE.md; this
test fails if a case recorded as equal stops being equal, if the score drops, or if an invalid
file recorded as refused is served."""

import os
import re
import urllib.error
import urllib.request

import pytest

import dap2_bes
import ncml_bes
from conftest import REPO, Server

RECORD = REPO / "cdm" / "NCML-CONFORMANCE.md"


def recorded():
    text = RECORD.read_text()
    rows = dict(re.findall(r"^\| `([^`]+)` \| (\w[\w-]*) \|", text, re.M))
    score = re.search(r"Score: (\d+) of (\d+)", text)
    refused = re.search(r"Refused: (\d+) of (\d+)", text)
    return rows, int(score.group(1)), int(score.group(2)), int(refused.group(1))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = ncml_bes.data_root(tmp_path_factory.mktemp("bes-ncml"))
    s = Server(root)
    yield s
    alive = s.alive()
    s.stop()
    assert alive, "the server died during the test"


@pytest.fixture(scope="module")
def results(server):
    out = {}
    for case, name, kind, ce, baseline in ncml_bes.cases():
        ours = dap2_bes.normalise(ncml_bes.response(server.url, name, kind, ce))
        if kind == "dods":
            import subprocess
            p = subprocess.run(["getdap", "-Ms", "-"], input=baseline.read_bytes(),
                               capture_output=True, timeout=60)
            theirs = dap2_bes.normalise((p.stdout + p.stderr).decode("utf-8", "replace"))
        else:
            theirs = dap2_bes.normalise(baseline.read_text(errors="replace"))
        out[case] = "equal" if ours == theirs else "differs"
    if os.environ.get("NCML_CONFORMANCE_PRINT"):
        for case, status in out.items():
            print(f"| `{case}` | {status} |")
    return out


def refused(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            r.read()
            return False
    except urllib.error.HTTPError as e:
        return e.code >= 400 and e.headers.get("Content-Description") == "dods_error"


def test_the_score_does_not_drop(results):
    rows, score, total, _ = recorded()
    equal = sum(1 for s in results.values() if s == "equal")
    assert len(results) == total, "the number of baseline cases changed: re-record the score"
    assert equal >= score, f"{equal} of {total} equal, {score} recorded"
    regressed = [c for c, s in rows.items() if s == "equal" and results.get(c) != "equal"]
    assert not regressed, regressed


def test_invalid_ncml_is_refused_with_a_dap2_error(server):
    _, _, _, want = recorded()
    got = [n for n in ncml_bes.ERRORS if refused(f"{server.url}/data/ncml/agg/{n}.ncml.dds")]
    got += [n for n in ncml_bes.ERRORS_FOR_DODS
            if refused(f"{server.url}/data/ncml/agg/{n}.ncml.dods")]
    if os.environ.get("NCML_CONFORMANCE_PRINT"):
        missed = set(ncml_bes.ERRORS + ncml_bes.ERRORS_FOR_DODS) - set(got)
        print("refused", len(got), "not refused:", sorted(missed))
    assert len(got) >= want
    # The server is still answering.
    assert urllib.request.urlopen(f"{server.url}/data/ncml/agg/joinExisting_virtual.ncml.dds").status == 200
