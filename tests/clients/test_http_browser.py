"""A person in a browser: headless Chromium (Debian's) opens the folder listing, follows a
dataset's data request form, ticks a variable, types index ranges and presses "Get ASCII";
the values on the page that opens are the values netCDF4 reads from the file.

The browser is driven by tests/browser/form.mjs (playwright-core). `make test` installs
Chromium and the npm package and sets FATHOM_REQUIRE_BROWSER=1, so there a missing browser is a
failure; a bare `pytest` run without them skips this test.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from conftest import REPO

BROWSER_DIR = REPO / "tests" / "browser"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))


def browser_ready():
    missing = []
    if not CHROMIUM.exists():
        missing.append(str(CHROMIUM))
    if shutil.which("node") is None:
        missing.append("node")
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        missing.append("tests/browser/node_modules (npm ci)")
    if missing:
        message = "browser test needs: " + ", ".join(missing)
        if os.environ.get("FATHOM_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


def drive_form(url, dataset, variable, ranges, screenshot=None):
    cmd = ["node", str(BROWSER_DIR / "form.mjs"), url, dataset, variable, *ranges]
    if screenshot:
        cmd += ["--screenshot", str(screenshot)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=BROWSER_DIR)
    assert p.returncode == 0, f"{cmd} failed:\n{p.stdout}\n{p.stderr}"
    return json.loads(p.stdout.strip().splitlines()[-1])


def grid_values(text, name):
    """The values of `name` from a DAP2 .ascii page of a Grid (`name.name[...], v, v`)."""
    rows = []
    for line in text.splitlines():
        if line.startswith(f"{name}.{name}[") or line.startswith(f"{name}["):
            rows.append([float(v) for v in line.split(", ")[1:]])
    return np.array(rows)


def test_the_form_builds_a_url_whose_ascii_values_are_the_files(sample_server, samples_dir, tmp_path):
    browser_ready()
    shot = tmp_path / "form.png"
    result = drive_form(
        sample_server.url, "classic.nc", "temperature", ["1:2", "0:2:4", "3"], screenshot=shot
    )
    # The URL the form built, as a person would copy it into ncdump or xarray.
    assert result["dataUrl"] == f"{sample_server.url}/classic.nc?temperature[1:2][0:2:4][3]"
    assert re.search(r"/classic\.nc\.ascii\?temperature\[1:2\]\[0:2:4\]\[3\]$", result["asciiUrl"])
    with netCDF4.Dataset(samples_dir / "classic.nc") as nc:
        nc.set_auto_mask(False)
        want = nc["temperature"][1:3, 0:5:2, 3]
    got = grid_values(result["text"], "temperature")
    assert got.shape == (2 * 3, 1), result["text"]
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-6)
    assert shot.stat().st_size > 10_000, "the screenshot is empty"
    if os.environ.get("FATHOM_SCREENSHOT"):
        shutil.copy(shot, os.environ["FATHOM_SCREENSHOT"])


def test_the_form_of_a_netcdf4_variable_with_a_stride(sample_server, samples_dir):
    browser_ready()
    result = drive_form(sample_server.url, "chunked.nc", "precip", ["9", "0:10:44", "5:7"])
    with netCDF4.Dataset(samples_dir / "chunked.nc") as nc:
        nc.set_auto_mask(False)
        want = nc["precip"][9, 0:45:10, 5:8]
    got = grid_values(result["text"], "precip")
    assert got.shape == (5, 3), result["text"]
    np.testing.assert_allclose(got, want, rtol=1e-6)
