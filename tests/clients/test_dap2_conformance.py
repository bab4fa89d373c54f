"""The bes netcdf_handler DAP2 baselines: our `.dds`, `.das` and decoded `.dods` against
Hyrax's, compared the way the bes suite compares them (`diff -b -B`, data through `getdap -Ms`).

The score and the reason for every difference are recorded in dap2/CONFORMANCE.md; this test
fails if a case recorded as equal stops being equal, if the score drops, or if a case recorded
as differing only by policy starts differing in anything else."""

import re

import pytest

import dap2_bes
from conftest import REPO

RECORD = REPO / "dap2" / "CONFORMANCE.md"


def recorded():
    """{case: status} from the table in CONFORMANCE.md, and the recorded score."""
    text = RECORD.read_text()
    rows = dict(re.findall(r"^\| `([^`]+)` \| (\w[\w-]*) \|", text, re.M))
    score = re.search(r"Score: (\d+) of (\d+)", text)
    return rows, int(score.group(1)), int(score.group(2))


@pytest.fixture(scope="module")
def results(serve, tmp_path_factory):
    folder = dap2_bes.data_folder(tmp_path_factory.mktemp("bes"))
    server = serve(folder)
    out = {}
    for name, dataset, kind, ce, baseline in dap2_bes.cases():
        ours = dap2_bes.normalise(dap2_bes.response(server.url, dataset, kind, ce))
        theirs = dap2_bes.normalise(baseline.read_text(errors="replace"))
        if ours == theirs:
            out[name] = "equal"
        elif dap2_bes.equal_but_for_policy(ours, theirs):
            out[name] = "policy"
        else:
            out[name] = "differs"
    return out


@pytest.fixture(scope="module")
def serve(request, tmp_path_factory):
    # A module-scoped variant of conftest's `serve`, so the server starts once.
    from conftest import Server

    servers = []

    def start(folder):
        s = Server(folder)
        servers.append(s)
        return s

    yield start
    for s in servers:
        alive = s.alive()
        s.stop()
        assert alive, "the server died during the test"


def test_score_does_not_drop(results):
    rows, score, total = recorded()
    equal = sum(1 for v in results.values() if v == "equal")
    print(f"\nbes DAP2 baselines: {equal} of {len(results)} equal")
    for name, status in sorted(results.items()):
        print(f"  {status:8} {name}")
    assert len(results) == total, "the number of bes DAP2 cases changed"
    assert equal >= score


def test_every_case_is_as_recorded(results):
    rows, _, _ = recorded()
    assert set(rows) == set(results), "CONFORMANCE.md must list every case"
    for name, status in results.items():
        want = rows[name]
        if want == "equal":
            assert status == "equal", f"{name} no longer equals the bes baseline"
        elif want == "policy":
            assert status in ("equal", "policy"), f"{name} now differs beyond the mapping policy"
