"""Files written while they are served: a model appending its output with netCDF4-python, a
pipeline extending an HDF5 dataset with h5py. The server must never block the writer (HDF5's
file lock) and must serve each version whole: the next read sees the new records, and no read
returns a mix of two versions or fails the server.
"""

import multiprocessing
import time
import urllib.error
import warnings

import h5py
import netCDF4
import numpy as np
import requests

from conftest import Server

warnings.filterwarnings("ignore")

NX = 16


def record(k):
    """Record `k`: every value says which record it is, so a mixed read shows."""
    return np.full(NX, k, dtype="f4")


def write_netcdf(path, n):
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", None)
        ds.createDimension("x", NX)
        t = ds.createVariable("time", "f8", ("time",))
        v = ds.createVariable("temp", "f4", ("time", "x"), chunksizes=(1, NX))
        for k in range(n):
            t[k] = k
            v[k, :] = record(k)


def append_netcdf(path, start, count):
    # Mode "a" opens read-write: HDF5 refuses it while another process holds a lock.
    with netCDF4.Dataset(path, "a") as ds:
        for k in range(start, start + count):
            ds["time"][k] = k
            ds["temp"][k, :] = record(k)


# The server trusts a file it found unchanged for 5 ms (cdm's VALIDATION_WINDOW, in the README):
# a change is seen by every request that starts later than that. A writer on this machine can
# finish within it, so the tests wait it out before reading again.
VALIDATION_WINDOW = 0.005


def settled():
    time.sleep(3 * VALIDATION_WINDOW)


def remote_records(url):
    with netCDF4.Dataset(url) as ds:
        return ds["time"][:], ds["temp"][:]


def check_whole(time_values, temp):
    n = len(time_values)
    assert temp.shape == (n, NX)
    np.testing.assert_array_equal(time_values, np.arange(n))
    for k in range(n):
        np.testing.assert_array_equal(temp[k], record(k))


def test_netcdf4_python_appends_while_served_and_the_next_read_sees_it(tmp_path):
    path = tmp_path / "model_output.nc"
    write_netcdf(path, 3)
    s = Server(tmp_path)
    try:
        for url in (f"{s.url}/model_output.nc", f"{s.url}/model_output.nc#dap4"):
            t, v = remote_records(url)
            assert len(t) == 3
            check_whole(t, v)
        # The server has the file open now; the writer must not be refused.
        append_netcdf(path, 3, 2)
        settled()
        for url in (f"{s.url}/model_output.nc", f"{s.url}/model_output.nc#dap4"):
            t, v = remote_records(url)
            assert len(t) == 5
            check_whole(t, v)
        assert s.alive()
    finally:
        s.stop()


def test_h5py_extends_a_dataset_while_served(tmp_path):
    path = tmp_path / "pipeline.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "level", data=np.arange(10, dtype="i4"), maxshape=(None,), chunks=(4,)
        )
    s = Server(tmp_path)
    try:
        with netCDF4.Dataset(f"{s.url}/pipeline.h5#dap4") as ds:
            np.testing.assert_array_equal(ds["level"][:], np.arange(10))
        with h5py.File(path, "a") as f:
            f["level"].resize((25,))
            f["level"][10:] = np.arange(10, 25)
        settled()
        with netCDF4.Dataset(f"{s.url}/pipeline.h5#dap4") as ds:
            np.testing.assert_array_equal(ds["level"][:], np.arange(25))
        assert s.alive()
    finally:
        s.stop()


def appender(path, start, count, pause):
    for k in range(start, start + count):
        append_netcdf(path, k, 1)
        time.sleep(pause)


def test_reads_during_appends_are_never_a_mix(tmp_path):
    path = tmp_path / "growing.nc"
    write_netcdf(path, 2)
    s = Server(tmp_path)
    total = 2 + 40
    writer = multiprocessing.get_context("spawn").Process(
        target=appender, args=(path, 2, 40, 0.02)
    )
    try:
        writer.start()
        good = 0
        failures = 0
        deadline = time.monotonic() + 30
        while writer.is_alive() and time.monotonic() < deadline:
            try:
                t, v = remote_records(f"{s.url}/growing.nc")
            except (OSError, RuntimeError, urllib.error.URLError):
                # A version that vanished between two requests of one client is an error,
                # never data.
                failures += 1
                continue
            check_whole(t, v)
            good += 1
        writer.join(30)
        assert writer.exitcode == 0, "the writer was refused or crashed"
        assert good > 0
        # The server's error answers stay rare: the writer, not the reader, is slowed.
        assert failures <= good
        t, v = remote_records(f"{s.url}/growing.nc")
        assert len(t) == total
        check_whole(t, v)
        # Whole responses over both protocols agree with the file.
        r = requests.get(f"{s.url}/growing.nc.dods?temp", timeout=30)
        assert r.status_code == 200
        assert s.alive(), "the server died while the file was rewritten"
    finally:
        if writer.is_alive():
            writer.kill()
        s.stop()
