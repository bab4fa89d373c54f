//! `types.nc`: a netCDF-4 file with every type — the ten numeric types as scalars, 1-D and 2-D
//! variables at their extremes (NaN and ±Inf for floats), `char` and `string` text, and the
//! user-defined enum, opaque, compound (nested, with an array field) and vlen types, plus
//! attributes of every atomic type and of the enum type.
//!
//! Written through the raw API ([`crate::raw`]) because the `netcdf` crate cannot write
//! attributes of user-defined types or vlen data.

use std::path::Path;

use netcdf_sys::NC_NETCDF4;

use crate::error::Result;
use crate::raw::{
    AtomicValue, AttributeOwner, CompoundField, DimensionId, Location, RawFile, TypeId,
};

/// Length of the 1-D numeric variables: room for min, max and the special float values.
const SAMPLE_LEN: usize = 8;
/// Shape of the 2-D numeric variables.
const GRID_SHAPE: [usize; 2] = [2, 3];
/// Rows of the user-defined-type variables.
const OBSERVATIONS: usize = 4;
/// Airport codes for the `char` array: full width, short, and empty rows.
const ICAO_CODES: [&str; 4] = ["ENGM", "ENBR", "K", ""];
/// Width of an airport code.
const ICAO_STRLEN: usize = 4;
/// Place names for the `string` variable: non-ASCII, empty, and characters that need escaping
/// in DAS/DDS/JSON/XML output.
const PLACE_NAMES: [&str; 6] = [
    "Zürich",
    "東京",
    "",
    "say \"hello\" \\ goodbye",
    "tab\tand newline\n",
    "Tromsø & <Ålesund>",
];

/// Values of the enum `cloud_t`, as stored (its base type is ubyte).
mod cloud {
    /// No cloud.
    pub(super) const CLEAR: u8 = 0;
    /// Thunderstorm cloud.
    pub(super) const CUMULONIMBUS: u8 = 1;
    /// Layer cloud.
    pub(super) const STRATUS: u8 = 2;
    /// Not observed; also the variable's fill value.
    pub(super) const MISSING: u8 = 255;
}

/// Size of the opaque `sensor_blob_t`.
const BLOB_SIZE: usize = 5;

/// Memory layout of the compound `location_t { float latitude; float longitude; }`.
mod location_layout {
    /// Offset of `latitude`.
    pub(super) const LATITUDE: usize = 0;
    /// Offset of `longitude`.
    pub(super) const LONGITUDE: usize = 4;
    /// Size of one value.
    pub(super) const SIZE: usize = 8;
}

/// Memory layout of the compound `station_obs_t`, laid out as a C compiler would (8-byte
/// aligned double, 4 bytes of padding after `station_id` and at the end), so readers that
/// assume packed structures are caught. Padding bytes are written as zeros.
mod station_obs_layout {
    /// Offset of `int station_id`.
    pub(super) const STATION_ID: usize = 0;
    /// Offset of `double temperature`.
    pub(super) const TEMPERATURE: usize = 8;
    /// Offset of `location_t location`.
    pub(super) const LOCATION: usize = 16;
    /// Offset of `float wind_uvw[3]`.
    pub(super) const WIND_UVW: usize = 24;
    /// Size of one value.
    pub(super) const SIZE: usize = 40;
}

/// Writes `types.nc` at `path`.
pub(crate) fn write(path: &Path) -> Result<()> {
    let file = RawFile::create(path, NC_NETCDF4)?;
    let root = file.root();
    root.put_text_attribute(
        "title",
        "fathom sample: every netCDF-4 type — Zürich, 東京, Tromsø",
    )?;
    root.put_text_attribute("Conventions", "CF-1.8")?;
    root.put_text_attribute("institution", "fathom test data generator")?;
    root.put_string_attribute("keywords", &["types", "Zürich", "東京", ""])?;
    root.put_string_attribute("comment", &["a single NC_STRING attribute"])?;

    let sample = root.add_dimension("sample", Some(SAMPLE_LEN))?;
    let row = root.add_dimension("row", Some(GRID_SHAPE[0]))?;
    let col = root.add_dimension("col", Some(GRID_SHAPE[1]))?;
    write_numeric_variables(root, sample, [row, col])?;
    write_text_variables(root)?;
    write_user_type_variables(root)?;
    write_global_attributes_of_every_type(root)?;
    file.close()
}

/// A numeric type with the values the sample variables of that type hold.
trait SampleNumber: AtomicValue {
    /// netCDF's name for the type, used in variable names (`byte_1d`, `uint64_scalar`, …).
    const NAME: &'static str;
    /// The scalar variable's value.
    fn scalar() -> Self;
    /// The 1-D variable's values: extremes and values around zero (or the IEEE specials).
    fn extremes() -> [Self; SAMPLE_LEN];
    /// The 2-D variable's value at (row, col); distinct in every cell.
    fn grid(row: usize, col: usize) -> Self;
    /// The type's full range, written as the 1-D variable's `valid_range`.
    fn range() -> [Self; 2];
}

macro_rules! sample_integer {
    ($rust:ty, $name:literal, $scalar:expr, [$($extreme:expr),*]) => {
        impl SampleNumber for $rust {
            const NAME: &'static str = $name;
            fn scalar() -> Self {
                $scalar
            }
            fn extremes() -> [Self; SAMPLE_LEN] {
                [$($extreme),*]
            }
            fn grid(row: usize, col: usize) -> Self {
                // 10 * row + col (+1), negated on row 0 for signed types: small, distinct and
                // not symmetric under a row/column swap.
                let magnitude = <$rust>::try_from(10 * row + col + 1).unwrap_or(<$rust>::MAX);
                signed_on_first_row(magnitude, row)
            }
            fn range() -> [Self; 2] {
                [<$rust>::MIN, <$rust>::MAX]
            }
        }
    };
}

/// Negates `magnitude` on row 0 for signed types (a no-op for unsigned ones).
fn signed_on_first_row<T: Copy + TryFrom<i64> + Into<i128>>(magnitude: T, row: usize) -> T {
    if row == 0 {
        let negated = -magnitude.into();
        i64::try_from(negated)
            .ok()
            .and_then(|value| T::try_from(value).ok())
            .unwrap_or(magnitude)
    } else {
        magnitude
    }
}

// The signed extremes avoid MIN + 1, which is netCDF's default fill for byte/short/int.
sample_integer!(
    i8,
    "byte",
    -42,
    [i8::MIN, -100, -1, 0, 1, 100, i8::MAX - 1, i8::MAX]
);
sample_integer!(u8, "ubyte", 200, [0, 1, 2, 100, 128, 253, 254, u8::MAX]);
sample_integer!(
    i16,
    "short",
    -1234,
    [i16::MIN, -1000, -1, 0, 1, 1000, i16::MAX - 1, i16::MAX]
);
sample_integer!(
    u16,
    "ushort",
    60_000,
    [0, 1, 2, 1000, 32_768, 65_533, 65_534, u16::MAX]
);
sample_integer!(
    i32,
    "int",
    -123_456_789,
    [
        i32::MIN,
        -100_000,
        -1,
        0,
        1,
        100_000,
        i32::MAX - 1,
        i32::MAX
    ]
);
sample_integer!(
    u32,
    "uint",
    4_000_000_000,
    [
        0,
        1,
        2,
        100_000,
        2_147_483_648,
        u32::MAX - 2,
        u32::MAX - 1,
        u32::MAX
    ]
);
sample_integer!(
    i64,
    "int64",
    -1_234_567_890_123_456_789,
    [
        i64::MIN,
        i64::MIN + 1,
        -1,
        0,
        1,
        9_007_199_254_740_993,
        i64::MAX - 1,
        i64::MAX
    ]
);
sample_integer!(
    u64,
    "uint64",
    12_345_678_901_234_567_890,
    [
        0,
        1,
        2,
        9_007_199_254_740_993,
        1 << 63,
        u64::MAX - 2,
        u64::MAX - 1,
        u64::MAX
    ]
);

macro_rules! sample_float {
    ($rust:ty, $name:literal, $scalar:expr) => {
        impl SampleNumber for $rust {
            const NAME: &'static str = $name;
            fn scalar() -> Self {
                $scalar
            }
            fn extremes() -> [Self; SAMPLE_LEN] {
                [
                    <$rust>::MIN,
                    -1.5,
                    0.0,
                    <$rust>::MIN_POSITIVE,
                    <$rust>::MAX,
                    <$rust>::NAN,
                    <$rust>::INFINITY,
                    <$rust>::NEG_INFINITY,
                ]
            }
            fn grid(row: usize, col: usize) -> Self {
                // Row 0 negative, fractional parts that differ by column.
                let value = <$rust>::from(u8::try_from(10 * row + col).unwrap_or(u8::MAX));
                if row == 0 { -0.25 - value } else { value + 0.5 }
            }
            fn range() -> [Self; 2] {
                [<$rust>::MIN, <$rust>::MAX]
            }
        }
    };
}

sample_float!(f32, "float", std::f32::consts::PI);
sample_float!(f64, "double", std::f64::consts::E);

/// `<type>_scalar`, `<type>_1d(sample)` and `<type>_2d(row, col)` for every numeric type.
fn write_numeric_variables(
    root: Location,
    sample: DimensionId,
    grid: [DimensionId; 2],
) -> Result<()> {
    write_numeric::<i8>(root, sample, grid)?;
    write_numeric::<u8>(root, sample, grid)?;
    write_numeric::<i16>(root, sample, grid)?;
    write_numeric::<u16>(root, sample, grid)?;
    write_numeric::<i32>(root, sample, grid)?;
    write_numeric::<u32>(root, sample, grid)?;
    write_numeric::<i64>(root, sample, grid)?;
    write_numeric::<u64>(root, sample, grid)?;
    write_numeric::<f32>(root, sample, grid)?;
    write_numeric::<f64>(root, sample, grid)
}

/// The three variables of one numeric type.
fn write_numeric<T: SampleNumber>(
    root: Location,
    sample: DimensionId,
    grid: [DimensionId; 2],
) -> Result<()> {
    let name = T::NAME;
    let scalar = root.add_variable(&format!("{name}_scalar"), TypeId::of::<T>(), &[])?;
    scalar.put_text_attribute("long_name", &format!("a scalar {name}"))?;
    scalar.put_attribute("valid_max", &[T::range()[1]])?;
    scalar.put(&[], &[], &[T::scalar()])?;

    let line = root.add_variable(&format!("{name}_1d"), TypeId::of::<T>(), &[sample])?;
    line.put_text_attribute("long_name", &format!("extreme and special {name} values"))?;
    line.put_attribute("valid_range", &T::range())?;
    line.put(&[0], &[SAMPLE_LEN], &T::extremes())?;

    let table = root.add_variable(&format!("{name}_2d"), TypeId::of::<T>(), &grid)?;
    table.put_text_attribute(
        "long_name",
        &format!("a 2-D {name} table, distinct per cell"),
    )?;
    let values: Vec<T> = (0..GRID_SHAPE[0])
        .flat_map(|row| (0..GRID_SHAPE[1]).map(move |col| T::grid(row, col)))
        .collect();
    table.put(&[0, 0], &GRID_SHAPE, &values)
}

/// `icao_code(airport, icao_strlen)` char, and `place_name(place)` / `dataset_label` strings.
fn write_text_variables(root: Location) -> Result<()> {
    let airport = root.add_dimension("airport", Some(ICAO_CODES.len()))?;
    let strlen = root.add_dimension("icao_strlen", Some(ICAO_STRLEN))?;
    let codes = root.add_variable("icao_code", TypeId::CHAR, &[airport, strlen])?;
    codes.put_text_attribute("long_name", "ICAO airport code (fixed width, NUL padded)")?;
    let mut chars = vec![0_u8; ICAO_CODES.len() * ICAO_STRLEN];
    for (row, code) in chars.chunks_mut(ICAO_STRLEN).zip(ICAO_CODES) {
        row[..code.len()].copy_from_slice(code.as_bytes());
    }
    codes.put_chars(&[0, 0], &[ICAO_CODES.len(), ICAO_STRLEN], &chars)?;

    let place = root.add_dimension("place", Some(PLACE_NAMES.len()))?;
    let names = root.add_variable("place_name", TypeId::STRING, &[place])?;
    names.put_text_attribute("long_name", "place name (variable-length UTF-8)")?;
    names.put_strings(&[0], &[PLACE_NAMES.len()], &PLACE_NAMES)?;

    let label = root.add_variable("dataset_label", TypeId::STRING, &[])?;
    label.put_text_attribute("long_name", "a scalar string")?;
    label.put_strings(&[], &[], &["every type, once"])
}

/// The enum, opaque, compound and vlen types and one variable of each.
fn write_user_type_variables(root: Location) -> Result<()> {
    let observation = root.add_dimension("observation", Some(OBSERVATIONS))?;

    let cloud_type = root.add_enum_type(
        "cloud_t",
        &[
            ("Clear", cloud::CLEAR),
            ("Cumulonimbus", cloud::CUMULONIMBUS),
            ("Stratus", cloud::STRATUS),
            ("Missing", cloud::MISSING),
        ],
    )?;
    let clouds = root.add_variable("cloud_type", cloud_type, &[observation])?;
    clouds.put_text_attribute("long_name", "dominant cloud type")?;
    clouds.set_fill_bytes(&[cloud::MISSING])?;
    clouds.put_user_attribute("climatological_mode", cloud_type, 1, &[cloud::STRATUS])?;
    clouds.put_user_attribute(
        "reported_types",
        cloud_type,
        3,
        &[cloud::CLEAR, cloud::CUMULONIMBUS, cloud::STRATUS],
    )?;
    let cloud_values = [
        cloud::CLEAR,
        cloud::CUMULONIMBUS,
        cloud::MISSING,
        cloud::STRATUS,
    ];
    clouds.put_bytes(&[0], &[OBSERVATIONS], &cloud_values)?;

    let blob_type = root.add_opaque_type("sensor_blob_t", BLOB_SIZE)?;
    let blobs = root.add_variable("raw_packet", blob_type, &[observation])?;
    blobs.put_text_attribute("long_name", "undecoded sensor packet (5 bytes)")?;
    let packets: [[u8; BLOB_SIZE]; OBSERVATIONS] = [
        [0xDE, 0xAD, 0xBE, 0xEF, 0x00],
        [0x00, 0x01, 0x02, 0x03, 0x04],
        [0xFF, 0xFE, 0xFD, 0xFC, 0xFB],
        [0x7F, 0x80, 0x00, 0x0A, 0x0D],
    ];
    blobs.put_bytes(&[0], &[OBSERVATIONS], packets.as_flattened())?;

    let location_type = root.add_compound_type(
        "location_t",
        location_layout::SIZE,
        &[
            CompoundField {
                name: "latitude",
                offset: location_layout::LATITUDE,
                field_type: TypeId::of::<f32>(),
                array_shape: &[],
            },
            CompoundField {
                name: "longitude",
                offset: location_layout::LONGITUDE,
                field_type: TypeId::of::<f32>(),
                array_shape: &[],
            },
        ],
    )?;
    let obs_type = root.add_compound_type(
        "station_obs_t",
        station_obs_layout::SIZE,
        &[
            CompoundField {
                name: "station_id",
                offset: station_obs_layout::STATION_ID,
                field_type: TypeId::of::<i32>(),
                array_shape: &[],
            },
            CompoundField {
                name: "temperature",
                offset: station_obs_layout::TEMPERATURE,
                field_type: TypeId::of::<f64>(),
                array_shape: &[],
            },
            CompoundField {
                name: "location",
                offset: station_obs_layout::LOCATION,
                field_type: location_type,
                array_shape: &[],
            },
            CompoundField {
                name: "wind_uvw",
                offset: station_obs_layout::WIND_UVW,
                field_type: TypeId::of::<f32>(),
                array_shape: &[3],
            },
        ],
    )?;
    let observations = root.add_variable("surface_obs", obs_type, &[observation])?;
    observations.put_text_attribute(
        "long_name",
        "station observation: id, temperature (K), location, wind (u, v, w in m/s)",
    )?;
    let records = [
        StationObs::new(1384, 271.15, (59.91, 10.75), [3.5, -1.25, 0.0]),
        StationObs::new(1317, 281.65, (60.39, 5.32), [-7.0, 2.5, 0.125]),
        StationObs::new(-1, -273.15, (-90.0, 180.0), [0.0, 0.0, -0.5]),
        StationObs::new(90_000, 303.0, (35.68, 139.69), [1.0, 1.0, 1.0]),
    ];
    let bytes: Vec<u8> = records.into_iter().flat_map(StationObs::to_bytes).collect();
    observations.put_bytes(&[0], &[OBSERVATIONS], &bytes)?;

    let vlen_type = root.add_vlen_type("strike_counts_t", TypeId::of::<i32>())?;
    let strikes = root.add_variable("lightning_strikes", vlen_type, &[observation])?;
    strikes.put_text_attribute(
        "long_name",
        "lightning strikes per 10-minute interval (ragged; empty when none were counted)",
    )?;
    strikes.put_text_attribute("units", "1")?;
    let rows: [&[i32]; OBSERVATIONS] = [&[3, 1, 4], &[], &[42], &[-1, 0, 5, 9, 2, 6]];
    strikes.put_vlen_rows(&[0], &[OBSERVATIONS], &rows)
}

/// One `station_obs_t` value, before it is laid out in bytes.
#[derive(Debug, Clone, Copy)]
struct StationObs {
    /// WMO-like station number.
    station_id: i32,
    /// Temperature in kelvin.
    temperature: f64,
    /// (latitude, longitude) in degrees.
    location: (f32, f32),
    /// Wind components in m/s.
    wind_uvw: [f32; 3],
}

impl StationObs {
    /// Collects the fields.
    fn new(station_id: i32, temperature: f64, location: (f32, f32), wind_uvw: [f32; 3]) -> Self {
        Self {
            station_id,
            temperature,
            location,
            wind_uvw,
        }
    }

    /// The value in the memory layout declared for `station_obs_t` (native byte order, zeroed
    /// padding so the file's bytes never depend on stack garbage).
    fn to_bytes(self) -> Vec<u8> {
        use station_obs_layout as at;
        let mut bytes = vec![0_u8; at::SIZE];
        let mut place = |offset: usize, value: &[u8]| {
            bytes[offset..offset + value.len()].copy_from_slice(value);
        };
        place(at::STATION_ID, &self.station_id.to_ne_bytes());
        place(at::TEMPERATURE, &self.temperature.to_ne_bytes());
        place(
            at::LOCATION + location_layout::LATITUDE,
            &self.location.0.to_ne_bytes(),
        );
        place(
            at::LOCATION + location_layout::LONGITUDE,
            &self.location.1.to_ne_bytes(),
        );
        for (index, component) in self.wind_uvw.iter().enumerate() {
            place(at::WIND_UVW + 4 * index, &component.to_ne_bytes());
        }
        bytes
    }
}

/// Global attributes of every atomic type, as single values and arrays.
fn write_global_attributes_of_every_type(root: Location) -> Result<()> {
    root.put_attribute("byte_attribute", &[i8::MIN, -1, 0, i8::MAX])?;
    root.put_attribute("ubyte_attribute", &[u8::MAX])?;
    root.put_attribute("short_attribute", &[i16::MIN, i16::MAX])?;
    root.put_attribute("ushort_attribute", &[0_u16, u16::MAX])?;
    root.put_attribute("int_attribute", &[-2_000_000_000_i32])?;
    root.put_attribute("uint_attribute", &[u32::MAX, 0, 1])?;
    root.put_attribute("int64_attribute", &[i64::MIN, i64::MAX])?;
    root.put_attribute("uint64_attribute", &[u64::MAX])?;
    root.put_attribute(
        "float_attribute",
        &[f32::NAN, f32::INFINITY, -0.0, f32::from_bits(1)],
    )?;
    root.put_attribute(
        "double_attribute",
        &[std::f64::consts::PI, f64::NEG_INFINITY],
    )?;
    root.put_text_attribute(
        "char_attribute",
        "UTF-8 text: Zürich, 東京, «quotes» \"and\" \\",
    )?;
    root.put_string_attribute(
        "string_attribute",
        &["first", "Zürich", "東京", "", "with \"quotes\""],
    )
}
