"""The bes ncml_module aggregation cases (tests/conformance/bes/modules/ncml_module): which NcML
file, which response, which constraint and which baseline, as OPENDAP/bes
modules/ncml_module/tests/aggregations.at pairs them, and the comparison the bes suite applies
(`diff -b -B`; DAP2 data decoded with `getdap -Ms -`, as in dap2_bes)."""

import re
import shutil
from pathlib import Path

import dap2_bes

NCML = Path(__file__).resolve().parents[1] / "conformance" / "bes" / "modules" / "ncml_module"
BASELINES = NCML / "tests" / "baselines" / "agg"

# AT_CHECK_ALL_DAP_RESPONSES([agg/X.ncml]): das, dds and dods of the whole dataset.
WHOLE = [
    "virtual_union", "multi_nested_unions", "modify_post_union", "aggUnionSimple",
    "union_with_dimensions", "joinNew_simple", "joinNew_simple_2", "joinNew_simple_3",
    "netcdf_joinNew", "joinNew_hdf5", "joinNew_with_explicit_map", "joinNew_explicit_autogen",
    "joinNew_string_coordVal", "joinNew_numeric_coordValue", "joinNew_scan_dfm",
    "joinNew_scan_dfm_2", "joinNew_grid_metadata", "joinNew_grid_pre_metadata",
    "joinNew_grid_meta_2", "joinNew_grid_meta_everywhere", "joinExisting_virtual",
    "joinExisting_virtual_fine", "joinExisting_multi", "joinExisting_varAgg",
    "joinExist_ugrid_scan", "joinExisting_nc", "joinExisting_simple_grid",
    "joinExist_scan_ncoords", "joinExisting_load_ncoords", "joinExist_scan",
]

# AT_CHECK_ALL_DAP_RESPONSES_WITH_CONSTRAINT(ncml, ce, baseline): das, dds, dods.
CONSTRAINED = [
    ("joinNew_simple", "V[0][0:4]", "joinNew_simple_cons_1.ncml"),
    ("joinNew_simple", "V[1][0:4]", "joinNew_simple_cons_2.ncml"),
    ("joinNew_simple_2", "V[2][1:2]", "joinNew_simple_2_cons_1.ncml"),
    ("joinNew_simple_2", "V[1:2][0:4]", "joinNew_simple_2_cons_2.ncml"),
    ("joinNew_simple_2", "V[0:3][1]", "joinNew_simple_2_cons_3.ncml"),
    ("netcdf_joinNew", "u[1][0][10:11][10:11]", "netcdf_joinNew_cons_1.ncml"),
    ("joinNew_grid", "dsp_band_1[0][512][0:1023]", "joinNew_grid_hslab_0"),
    ("joinNew_grid", "dsp_band_1.dsp_band_1[0][512][0:1023]", "joinNew_grid_arr_hslab_0"),
    ("joinNew_grid", "dsp_band_1[0:2:3][512][0:1023]", "joinNew_grid_stride_evens"),
    ("joinNew_grid", "dsp_band_1.lat[0:63]", "joinNew_grid_proj_lat"),
    ("joinNew_scan", "dsp_band_1[0][512][0:1023]", "joinNew_scan_hslab_0"),
    ("joinNew_scan_regexp_1", "dsp_band_1[0][512][0:1023]", "joinNew_scan_regexp_hslab_0"),
]

# AT_RUN_BES_AND_COMPARE(ncml, dods, baseline, ce): the data response only.
DODS = [
    ("joinNew_grid", "dsp_band_1[1][512][0:1023]", "joinNew_grid_hslab_1"),
    ("joinNew_grid", "dsp_band_1[2][512][0:1023]", "joinNew_grid_hslab_2"),
    ("joinNew_grid", "dsp_band_1[3][512][0:1023]", "joinNew_grid_hslab_3"),
    ("joinNew_grid", "dsp_band_1.dsp_band_1[0:3][512][500:600]", "joinNew_grid_arr_hslab_0123"),
    ("joinNew_grid", "dsp_band_1[1:2:3][512][0:1023]", "joinNew_grid_stride_odds"),
    *[("joinNew_scan", f"dsp_band_1[{i}][512][0:1023]", f"joinNew_scan_hslab_{i}") for i in (1, 2, 3)],
    *[("joinNew_scan_regexp_1", f"dsp_band_1[{i}][512][0:1023]", f"joinNew_scan_regexp_hslab_{i}")
      for i in (1, 2, 3)],
    *[("joinNew_scan_regexp_2", f"dsp_band_1[{i}][512][0:1023]", f"joinNew_scan_regexp_2_hslab_{i}")
      for i in (0, 1, 2, 3)],
    ("joinNew_scan_olderThan", "dsp_band_1[0][512][0:1023]", "joinNew_scan_olderThan_hslab"),
    ("joinExisting_virtual", "V[0:2:9]", "joinExisting_virtual_cons_1"),
    ("joinExisting_virtual", "V[1:2:9]", "joinExisting_virtual_cons_2"),
    ("joinExisting_virtual", "V[1:1:5]", "joinExisting_virtual_cons_3"),
    ("joinExisting_virtual", "V[4:1:9]", "joinExisting_virtual_cons_4"),
    ("joinExisting_virtual", "V[9]", "joinExisting_virtual_cons_5"),
    ("joinExisting_virtual_fine", "V[0:2:4]", "joinExisting_fine_cons_1"),
    ("joinExisting_virtual_fine", "V[1:2:4]", "joinExisting_fine_cons_2"),
    ("joinExisting_virtual_fine", "V[0:4:4]", "joinExisting_fine_cons_3"),
    ("joinExisting_nc", "v[0:2:5][1:1]", "joinExisting_nc_cons_1"),
    ("joinExisting_simple_grid", "v[1:2:2][0:2]", "joinExisting_simple_grid_cons_0"),
    ("joinExisting_simple_grid", "v[0:2:2][0:2]", "joinExisting_simple_grid_cons_1"),
    ("joinExisting_simple_grid", "v[0:2:2][1:1]", "joinExisting_simple_grid_cons_2"),
    ("joinExisting_simple_grid", "time[1:1]", "joinExisting_simple_grid_cons_3"),
    ("joinExisting_simple_grid", "v.time[1:1]", "joinExisting_simple_grid_cons_4"),
    ("joinExisting_simple_grid", "v[0:0][0:2]", "joinExisting_simple_grid_cons_6"),
    ("joinExisting_simple_grid", "v[1:1][0:2]", "joinExisting_simple_grid_cons_7"),
    ("joinExisting_simple_grid", "v[2:2][0:2]", "joinExisting_simple_grid_cons_8"),
    ("joinExisting_simple_grid", "v.x[0:0]", "joinExisting_simple_grid_cons_9"),
    ("joinExisting_simple_grid", "v.x[1:1]", "joinExisting_simple_grid_cons_10"),
    ("joinExisting_simple_grid", "v.x[2:2]", "joinExisting_simple_grid_cons_11"),
    ("joinExisting_simple_grid", "v[1:2][1:2]", "joinExisting_simple_grid_cons_12"),
]

# AT_ASSERT_PARSE_ERROR / AT_ASSERT_PARSE_ERROR_FOR_DODS: the dataset must be refused.
ERRORS = [
    "error_multi_aggs", "error_improper_netcdf_loc", "error_agg_in_wrong_loc_1",
    "error_agg_in_wrong_loc_2", "union_dimension_mismatch_error", "joinNew_error_1",
    "joinNew_error_4", "joinNew_explicit_map_err_1", "joinNew_explicit_map_err_2",
    "joinNew_string_coordVal_error", "joinNew_numeric_coordValue_error_1",
    "joinNew_numeric_coordValue_error_2", "joinNew_scan_error", "joinNew_scan_dir_error",
    "joinNew_scan_regexp_error_1", "joinNew_scan_olderThan_error_1", "joinNew_scan_dfm_err_2",
    "joinNew_grid_meta_err_1", "joinNew_bug_1514", "error_joinExisting_2",
    "joinExisting_varAgg_err_1", "joinExisting_varAgg_err_2", "joinExisting_varAgg_err_3",
    "joinExist_grid_meta_err_1",
]
ERRORS_FOR_DODS = ["joinNew_error_2", "joinNew_error_3"]


def cases():
    """(case, ncml name, response, constraint, baseline path) for every baseline case."""
    out = []
    for name in WHOLE:
        for kind in ("das", "dds", "dods"):
            base = BASELINES / f"{name}.ncml.{kind}"
            if base.exists():
                out.append((f"{name}.{kind}", name, kind, None, base))
    for name, ce, base_name in CONSTRAINED:
        for kind in ("das", "dds", "dods"):
            base = BASELINES / f"{base_name}.{kind}"
            if base.exists():
                out.append((f"{base_name}.{kind}", name, kind, ce, base))
    for name, ce, base_name in DODS:
        base = BASELINES / f"{base_name}.dods"
        if base.exists():
            out.append((f"{base_name}.dods", name, "dods", ce, base))
    return out


_LOCATION = re.compile(r'(location\s*=\s*")/?data/')


def data_root(dest: Path) -> Path:
    """The bes data (NcML files and members) under `dest/data`, with every location rebased:
    Hyrax's are relative to the BES data root (`data/nc/jan.nc`); written `/data/nc/jan.nc`
    they are taken from fathom's data root."""
    shutil.copytree(NCML / "data", dest / "data", dirs_exist_ok=True)
    for f in (dest / "data" / "ncml" / "agg").glob("*.ncml"):
        f.write_text(_LOCATION.sub(r"\1/data/", f.read_text()))
    return dest


def response(base_url: str, name: str, kind: str, ce: str | None) -> str:
    return dap2_bes.response(base_url, f"data/ncml/agg/{name}.ncml", kind, ce)
