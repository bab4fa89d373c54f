"""Small files with the shapes that real tools stumbled over (issue 10), written at test time.

- `cf_model.nc` (netCDF-4): CF model output on (time, lat, lon) with an unlimited `time`, a
  variable on a zero-length dimension `nobs`, `int8` data with a negative `missing_value`, and a
  char array of station names.
- `era_fill.nc` (netCDF-3 classic, written by scipy, which keeps attribute types as given, like
  the tools that write ERA-Interim files): `short` variables whose `_FillValue` is a `double` —
  NaN (no `short` can hold it) and -32767.0 (exactly a `short`).
- `scales_after.h5` (plain HDF5, h5py): a dataset whose dimension scales are created after it
  and sort after it by name.
- `table.h5` (PyTables): a table (an HDF5 compound dataset) of 5 records.
"""

from pathlib import Path

import numpy as np

TIME = 3
LAT = np.array([-30.0, 0.0, 30.0, 60.0], dtype="f4")
LON = np.array([0.0, 90.0, 180.0, 270.0, 360.0 - 45.0], dtype="f4")
STATIONS = ["Oslo", "Ny-Alesund", "Lima"]
STRLEN = 12
FLAG_MISSING = -100


def t2m_values() -> np.ndarray:
    t, y, x = np.meshgrid(np.arange(TIME), np.arange(LAT.size), np.arange(LON.size), indexing="ij")
    return (270.0 + 2.5 * t + 1.25 * y - 0.5 * x).astype("f4")


def flag_values() -> np.ndarray:
    """Signed bytes with negatives, -128 and 127, and the missing marker in two cells."""
    v = (np.arange(TIME * LAT.size * LON.size) * 37 % 256 - 128).astype("i1")
    v = v.reshape(TIME, LAT.size, LON.size)
    v[0, 0, 0] = -128
    v[0, 0, 1] = 127
    v[1, 2, 3] = FLAG_MISSING
    v[2, 3, 4] = FLAG_MISSING
    return v


def write_cf_model(path: Path) -> None:
    import netCDF4

    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.title = "CF model output with the shapes tools stumble over"
        ds.Conventions = "CF-1.8"
        ds.createDimension("time", None)
        ds.createDimension("lat", LAT.size)
        ds.createDimension("lon", LON.size)
        ds.createDimension("nobs", 0)
        ds.createDimension("nst", len(STATIONS))
        ds.createDimension("strlen", STRLEN)
        time = ds.createVariable("time", "f8", ("time",))
        time.units = "hours since 2000-01-01 00:00:00"
        time.standard_name = "time"
        time.axis = "T"
        time.calendar = "standard"
        lat = ds.createVariable("lat", "f4", ("lat",))
        lat.units = "degrees_north"
        lat.standard_name = "latitude"
        lat.axis = "Y"
        lon = ds.createVariable("lon", "f4", ("lon",))
        lon.units = "degrees_east"
        lon.standard_name = "longitude"
        lon.axis = "X"
        t2m = ds.createVariable("t2m", "f4", ("time", "lat", "lon"), fill_value=-999.0)
        t2m.units = "K"
        t2m.standard_name = "air_temperature"
        flag = ds.createVariable("flag", "i1", ("time", "lat", "lon"))
        flag.missing_value = np.int8(FLAG_MISSING)
        flag.long_name = "quality flag"
        obs = ds.createVariable("obs", "f4", ("nobs",))
        obs.long_name = "observations (none yet)"
        name = ds.createVariable("station_name", "S1", ("nst", "strlen"))
        name.long_name = "station name"
        time[:] = 6.0 * np.arange(TIME)
        lat[:] = LAT
        lon[:] = LON
        t2m[:] = t2m_values()
        flag[:] = flag_values()
        chars = np.zeros((len(STATIONS), STRLEN), dtype="S1")
        for i, s in enumerate(STATIONS):
            chars[i, : len(s)] = np.array(list(s), dtype="S1")
        name[:] = chars


ERA_SHAPE = (2, 3, 4)


def era_values() -> np.ndarray:
    v = (np.arange(np.prod(ERA_SHAPE)) * 911 % 20000 - 10000).astype("i2").reshape(ERA_SHAPE)
    v[1, 1, 1] = -32767
    return v


def write_era_fill(path: Path) -> None:
    from scipy.io import netcdf_file

    with netcdf_file(path, "w", version=1) as f:
        f.createDimension("time", ERA_SHAPE[0])
        f.createDimension("latitude", ERA_SHAPE[1])
        f.createDimension("longitude", ERA_SHAPE[2])
        for name in ("t2m", "msl"):
            v = f.createVariable(name, "i2", ("time", "latitude", "longitude"))
            v[:] = era_values()
            v.scale_factor = np.float64(0.01)
            v.add_offset = np.float64(280.0)
            v.missing_value = np.int16(-32767)
        # ERA-Interim's kind: a double NaN on a short, which no short can equal.
        f.variables["t2m"]._FillValue = np.float64(np.nan)
        # A double that is exactly a short.
        f.variables["msl"]._FillValue = np.float64(-32767.0)


SCALES_Z = np.arange(12 * 3, dtype="f4").reshape(12, 3) * 0.5 - 4.0


def write_scales_after(path: Path) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        # Created first and named to sort first: libraries list "data" before its scales.
        z = f.create_dataset("data", data=SCALES_Z)
        month = f.create_dataset("month", data=np.arange(1, 13, dtype="i4"))
        x = f.create_dataset("x", data=np.array([10.0, 20.0, 30.0], dtype="f8"))
        month.make_scale("month")
        x.make_scale("x")
        z.dims[0].attach_scale(month)
        z.dims[1].attach_scale(x)
        g = f.create_group("g")
        gz = g.create_dataset("a", data=SCALES_Z[:4])
        gm = g.create_dataset("season", data=np.arange(4, dtype="i2"))
        gm.make_scale("season")
        gz.dims[0].attach_scale(gm)
        gz.dims[1].attach_scale(x)


TABLE_ROWS = 5


def table_records() -> np.ndarray:
    dt = np.dtype([("id", "i4"), ("name", "S8"), ("temperature", "f8"), ("pressure", "f4")])
    rows = [(i, f"stn{i}".encode(), 10.5 + i, 1000.0 - 2.5 * i) for i in range(TABLE_ROWS)]
    return np.array(rows, dtype=dt)


def write_table(path: Path) -> None:
    import tables

    with tables.open_file(str(path), "w", title="PyTables table") as f:
        t = f.create_table("/", "readings", table_records(), title="station readings")
        t.flush()


def write_all(folder: Path) -> dict[str, Path]:
    files = {
        "cf_model.nc": write_cf_model,
        "era_fill.nc": write_era_fill,
        "scales_after.h5": write_scales_after,
        "table.h5": write_table,
    }
    out = {}
    for name, writer in files.items():
        writer(folder / name)
        out[name] = folder / name
    return out
