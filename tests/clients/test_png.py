"""Quick-look pictures: `X.png?VAR[…]&palette=…&range=…`, decoded with Pillow.

The truth is independent of the server: values are read from the local file with netCDF4-python
(or xarray, for packed values) and coloured with matplotlib's own colour maps. A pixel passes
when its colour is the matplotlib colour of its cell's value (within the quantisation of a
255-colour palette), and when the value that colour stands for on matplotlib's map is the
cell's value. Missing cells must be transparent, and north must be up whichever way the
latitudes run. The browser test presses the form's "Preview" button in Chromium.
"""

import io
import json
import subprocess

import matplotlib
import netCDF4
import numpy as np
import pytest
import requests
import xarray as xr
from PIL import Image

from conftest import REPO
from test_http_browser import BROWSER_DIR, browser_ready

NLAT, NLON, NTIME = 9, 16, 3
LATS = np.linspace(-60.0, 60.0, NLAT)
LONS = np.arange(NLON) * 22.5
FILL = np.float32(-999.0)


def field(t):
    """A smooth field on (lat, lon) with a hole of fill values and a NaN."""
    lat, lon = np.meshgrid(LATS, LONS, indexing="ij")
    f = (280.0 + 20.0 * np.cos(np.radians(lat)) * np.sin(np.radians(lon + 30 * t)) + 0.1 * lat)
    return f.astype(np.float32)


def write_grid(path, descending):
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", NTIME)
        nc.createDimension("lat", NLAT)
        nc.createDimension("lon", NLON)
        t = nc.createVariable("time", "f8", ("time",))
        t.units = "days since 2000-01-01"
        t[:] = np.arange(NTIME)
        lat = nc.createVariable("lat", "f4", ("lat",))
        lat.units = "degrees_north"
        lat.standard_name = "latitude"
        lon = nc.createVariable("lon", "f4", ("lon",))
        lon.units = "degrees_east"
        lon[:] = LONS
        sst = nc.createVariable("sst", "f4", ("time", "lat", "lon"), fill_value=FILL)
        sst.units = "K"
        data = np.stack([field(i) for i in range(NTIME)])
        data[:, 2, 3] = FILL  # a fill value
        data[:, 6, 10] = np.nan  # a NaN
        if descending:
            lat[:] = LATS[::-1]
            sst[:] = data[:, ::-1, :]
        else:
            lat[:] = LATS
            sst[:] = data
        # Packed: short with scale and offset, decoded as xarray decodes it.
        packed = nc.createVariable("packed", "i2", ("lat", "lon"), fill_value=np.int16(-32767))
        packed.scale_factor = np.float32(0.01)
        packed.add_offset = np.float32(280.0)
        nc.set_auto_maskandscale(False)
        raw = np.round((field(0) - 280.0) / 0.01).astype(np.int16)
        raw[4, 4] = -32767
        packed[:] = raw[::-1, :] if descending else raw
        # Valid limits: stored values outside are missing (transparent), as netCDF4 masks them.
        for name, limits in (("ranged", {"valid_range": np.float32([275, 290])}),
                             ("capped", {"valid_max": np.float32(285)}),
                             ("floored", {"valid_min": np.float32(280)})):
            v = nc.createVariable(name, "f4", ("lat", "lon"))
            v.setncatts(limits)
            v[:] = field(0)[::-1, :] if descending else field(0)
        nc.set_auto_maskandscale(False)
        # A variable without coordinates: rows stay in index order.
        nc.createDimension("y", 4)
        nc.createDimension("x", 5)
        plain = nc.createVariable("plain", "f8", ("y", "x"))
        plain[:] = np.arange(20.0).reshape(4, 5)


@pytest.fixture(scope="module")
def grids(tmp_path_factory):
    root = tmp_path_factory.mktemp("png")
    write_grid(root / "asc.nc", descending=False)
    write_grid(root / "desc.nc", descending=True)
    return root


@pytest.fixture(scope="module")
def server(grids):
    from conftest import Server

    s = Server(grids)
    yield s
    alive = s.alive()
    s.stop()
    assert alive, "the server died during the tests"


def get_png(server, path, query):
    r = requests.get(f"{server.url}/{path}.png?{query}", timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    assert img.format == "PNG"
    assert img.mode == "P", "an indexed PNG"
    return img


def rgba(img):
    return np.asarray(img.convert("RGBA"))


def local(path, var, index):
    with netCDF4.Dataset(path) as nc:
        v = nc[var][index]
    return np.ma.filled(np.ma.masked_invalid(v).astype(np.float64), np.nan)


# How far each palette may be from matplotlib's map of the same name: (most difference of a
# channel in 0…255, most difference of the value the colour stands for, as a fraction of the
# range). viridis, magma, inferno and plasma are matplotlib's own tables (256 colours, drawn
# with 255): only quantisation. greys and rdbu are ColorBrewer's colours through a B-spline
# where matplotlib interpolates linearly; cividis and turbo are d3-scale-chromatic's
# polynomial fits of matplotlib's tables. The README documents these figures.
TOLERANCE = {
    "viridis": (6, 0.01), "magma": (6, 0.01), "inferno": (6, 0.01), "plasma": (6, 0.01),
    "Greys": (6, 0.02), "RdBu": (11, 0.03), "cividis": (20, 0.04), "turbo": (34, 0.04),
}


def expect_colours(img, values, cmap_name, lo, hi):
    """Every pixel is transparent exactly where `values` is missing, and elsewhere the colour
    matplotlib's `cmap_name` gives the value on (lo, hi)."""
    px = rgba(img)
    assert px.shape[:2] == values.shape
    missing = np.isnan(values)
    np.testing.assert_array_equal(px[..., 3] == 0, missing)
    cmap = matplotlib.colormaps[cmap_name]
    t = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
    want = (np.asarray(cmap(np.nan_to_num(t)))[..., :3] * 255).round()
    got = px[..., :3].astype(float)
    diff = np.abs(got - want)[~missing]
    colour_tol, value_tol = TOLERANCE[cmap_name]
    assert diff.max() <= colour_tol, (cmap_name, diff.max())
    # The value each colour stands for on matplotlib's map is the cell's value.
    table = (np.asarray(cmap(np.linspace(0, 1, 256)))[:, :3] * 255)
    nearest = np.argmin(((got[~missing][:, None, :] - table[None, :, :]) ** 2).sum(-1), axis=1) / 255
    off = np.abs(nearest - t[~missing]).max()
    assert off <= value_tol, (cmap_name, off)
    # The picture is not flat: it spans the palette (a wrong mapping cannot hide in the
    # tolerance).
    assert t[~missing].max() - t[~missing].min() > 0.5


def test_colours_are_viridis_of_the_values_and_missing_is_transparent(server, grids):
    img = get_png(server, "asc.nc", "sst[1][0:1:8][0:1:15]")
    assert img.size == (NLON, NLAT)
    values = local(grids / "asc.nc", "sst", np.s_[1, :, :])
    assert np.isnan(values[2, 3]) and np.isnan(values[6, 10])
    lo, hi = np.nanmin(values), np.nanmax(values)
    # Ascending latitudes: north (the last row of the file) is drawn on top.
    expect_colours(img, values[::-1, :], "viridis", lo, hi)
    # The range drawn is in the PNG's text chunks.
    got_lo, got_hi = (float(x) for x in img.info["range"].split(","))
    assert got_lo == pytest.approx(lo, rel=1e-6) and got_hi == pytest.approx(hi, rel=1e-6)
    assert img.info["palette"] == "viridis"
    assert img.info["Title"] == "sst"


def test_descending_and_ascending_latitudes_are_both_north_up(server, grids):
    asc = rgba(get_png(server, "asc.nc", "sst[2][0:1:8][0:1:15]"))
    desc = rgba(get_png(server, "desc.nc", "sst[2][0:1:8][0:1:15]"))
    np.testing.assert_array_equal(asc, desc)
    # The top row is the northernmost latitude's: compare with its own colours.
    values = local(grids / "desc.nc", "sst", np.s_[2, :, :])
    with netCDF4.Dataset(grids / "desc.nc") as nc:
        assert nc["lat"][0] == 60.0
    img = get_png(server, "desc.nc", "sst[2][0:1:8][0:1:15]")
    expect_colours(img, values, "viridis", np.nanmin(values), np.nanmax(values))
    # A strided, partial slice of ascending latitudes is flipped too.
    img = get_png(server, "asc.nc", "sst[0][1:2:7][3:1:12]")
    values = local(grids / "asc.nc", "sst", np.s_[0, 1:8:2, 3:13])
    expect_colours(img, values[::-1, :], "viridis", np.nanmin(values), np.nanmax(values))


@pytest.mark.parametrize(
    "palette,cmap", [("magma", "magma"), ("inferno", "inferno"), ("plasma", "plasma"),
                     ("cividis", "cividis"), ("greys", "Greys"), ("rdbu", "RdBu"),
                     ("turbo", "turbo")],
)
def test_palettes_and_a_given_range(server, grids, palette, cmap):
    lo, hi = 270.0, 295.0  # narrower than the data: values outside are clamped to the ends
    img = get_png(server, "asc.nc", f"sst[0][0:1:8][0:1:15]&palette={palette}&range={lo},{hi}")
    values = local(grids / "asc.nc", "sst", np.s_[0, :, :])
    assert np.nanmin(values) < lo and np.nanmax(values) > hi
    expect_colours(img, values[::-1, :], cmap, lo, hi)
    assert img.info["range"] == "270,295"


def test_packed_values_are_drawn_as_xarray_decodes_them(server, grids):
    img = get_png(server, "desc.nc", "packed")
    with xr.open_dataset(grids / "desc.nc") as ds:
        values = ds["packed"].values.astype(np.float64)
    assert np.isnan(values).sum() == 1
    expect_colours(img, values, "viridis", np.nanmin(values), np.nanmax(values))
    lo, hi = (float(x) for x in img.info["range"].split(","))
    assert lo == pytest.approx(np.nanmin(values), abs=1e-3)


@pytest.mark.parametrize("var", ["ranged", "capped", "floored"])
def test_values_outside_the_valid_limits_are_transparent(server, grids, var):
    img = get_png(server, "desc.nc", var)
    values = local(grids / "desc.nc", var, np.s_[:, :])  # netCDF4 masks outside the limits
    assert 5 < np.isnan(values).sum() < values.size - 5
    expect_colours(img, values, "viridis", np.nanmin(values), np.nanmax(values))
    lo, hi = (float(x) for x in img.info["range"].split(","))
    assert (lo, hi) == pytest.approx((np.nanmin(values), np.nanmax(values)), rel=1e-6)


def test_colorbar_draws_the_palette_and_the_range_under_the_picture(server, grids):
    plain = rgba(get_png(server, "asc.nc", "sst[1][0:1:8][0:1:15]"))
    img = get_png(server, "asc.nc", "sst[1][0:1:8][0:1:15]&range=270,300&colorbar=true")
    px = rgba(img)
    bar = 14  # 2 gap + 6 strip + 1 gap + 5 text rows
    assert px.shape[0] == NLAT + bar
    width = px.shape[1]
    assert width >= NLON  # widened when the numbers need it
    # The picture itself is the one drawn without the bar.
    given = rgba(get_png(server, "asc.nc", "sst[1][0:1:8][0:1:15]&range=270,300"))
    np.testing.assert_array_equal(px[:NLAT, :NLON], given)
    assert plain.shape == given.shape
    assert (px[NLAT:NLAT + 2, :, 3] == 0).all()
    # The strip: viridis from 0 (left) to 1 (right), as matplotlib colours it.
    strip = px[NLAT + 4, :, :3].astype(float)
    want = np.asarray(matplotlib.colormaps["viridis"](np.linspace(0, 1, width)))[:, :3] * 255
    assert np.abs(strip - want).max() <= 6
    # The numbers: "270" at the left, "300" at the right, in viridis' dark end.
    text = px[NLAT + 9:, :, 3] > 0
    assert text[:, :11].any() and text[:, -11:].any()
    ink = px[NLAT + 9:, :, :3][text]
    np.testing.assert_allclose(ink, np.tile(want[0].round(), (len(ink), 1)), atol=6)
    # "3" of "300": top row full, second row only the right column.
    right = text[:, width - 11:width - 8]
    assert right[0].tolist() == [True, True, True] and right[1].tolist() == [False, False, True]
    assert img.info["range"] == "270,300"


def test_without_latitude_rows_stay_in_index_order(server, grids):
    img = get_png(server, "asc.nc", "plain&palette=greys")
    values = np.arange(20.0).reshape(4, 5)
    expect_colours(img, values, "Greys", 0.0, 19.0)


def test_one_dimension_is_a_picture_one_pixel_high(server, grids):
    img = get_png(server, "asc.nc", "sst[1][4][0:1:15]")
    assert img.size == (NLON, 1)
    values = local(grids / "asc.nc", "sst", np.s_[1, 4:5, :])
    expect_colours(img, values, "viridis", np.nanmin(values), np.nanmax(values))


def dap2_error(server, query, status=400, path="asc.nc"):
    r = requests.get(f"{server.url}/{path}.png?{query}", timeout=60)
    assert r.status_code == status, r.text
    assert r.headers.get("Content-Description") == "dods_error"
    assert r.text.startswith(f"Error {{\n    code = {status};\n    message = "), r.text
    return r.text


def test_bad_requests_get_the_dap2_error_body(server):
    text = dap2_error(server, "sst")
    assert "time, lat, lon" in text and "fix time" in text
    assert "sst[0][0:1:8][0:1:15]" in text
    text = dap2_error(server, "sst[0:1][0:1:8][0:1:15]")
    assert "fix time" in text
    assert "nosuch" in dap2_error(server, "nosuch[0][0][0]")
    text = dap2_error(server, "sst[0]&palette=jet")
    assert "jet" in text and "viridis" in text and "cividis" in text
    for bad in ["5,1", "1", "a,b", "nan,1", "1,inf"]:
        assert "range=" in dap2_error(server, f"sst[0]&range={bad}")
    assert "index" in dap2_error(server, "sst[0][0:1:99][0]").lower()
    assert "one variable" in dap2_error(server, "sst[0],packed")
    # Not an error: no constraint draws the first field's first 2-D slice.
    img = get_png(server, "asc.nc", "")
    assert img.size == (NLON, NLAT) and img.info["Title"] == "sst"
    np.testing.assert_array_equal(rgba(img), rgba(get_png(server, "asc.nc", "sst[0][0:8][0:15]")))
    # Not an error of this server's making: a missing dataset is 404 with the DAP2 body.
    dap2_error(server, "sst[0]", status=404, path="nosuch.nc")


def test_too_many_pixels_is_413_saying_how_to_stride(grids, serve):
    s = serve(grids, ["--set", "png_max_pixels=40"])
    text = dap2_error(s, "sst[0][0:1:8][0:1:15]", status=413)
    assert "144 pixels" in text and "40" in text
    # The request the message suggests is under the limit and draws.
    suggestion = text.split("e.g. ")[1].split('"')[0]
    assert suggestion.startswith("sst[0][0:")
    r = requests.get(f"{s.url}/asc.nc.png?{suggestion}", timeout=60)
    assert r.status_code == 200, r.text
    w, h = Image.open(io.BytesIO(r.content)).size
    assert w * h <= 40


def test_the_help_page_lists_the_palettes(server):
    text = requests.get(f"{server.url}/asc.nc.help", timeout=60).text
    for name in ["viridis", "magma", "inferno", "plasma", "cividis", "turbo", "rdbu", "greys"]:
        assert f"<code>{name}</code>" in text


def preview(url, dataset, variable, palette, ranges):
    cmd = ["node", str(BROWSER_DIR / "preview.mjs"), url, dataset, variable, palette, *ranges]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=BROWSER_DIR)
    assert p.returncode == 0, f"{cmd} failed:\n{p.stdout}\n{p.stderr}"
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_the_form_preview_button_shows_the_picture(server, grids):
    browser_ready()
    result = preview(server.url, "asc.nc", "sst", "magma", ["1", "0:8", "2:2:15"])
    assert result["src"] == f"{server.url}/asc.nc.png?sst[1][0:8][2:2:15]&palette=magma"
    assert (result["naturalWidth"], result["naturalHeight"]) == (7, NLAT)
    assert result["shownWidth"] > 100, "the small picture is scaled up for people"
    assert result["error"] == ""
    # The picture the browser loaded is the one a direct request gets.
    img = get_png(server, "asc.nc", "sst[1][0:8][2:2:15]&palette=magma")
    values = local(grids / "asc.nc", "sst", np.s_[1, :, 2:16:2])
    expect_colours(img, values[::-1, :], "magma", np.nanmin(values), np.nanmax(values))
    # A 3-D slice: the form shows the server's explanation instead of a picture.
    result = preview(server.url, "asc.nc", "sst", "viridis", ["0:1", "0:8", "0:15"])
    assert result["naturalWidth"] == 0
    assert "fix time" in result["error"]
