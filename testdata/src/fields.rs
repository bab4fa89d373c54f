//! Deterministic values: a fixed-seed pseudo-random generator and smooth geophysical-looking
//! fields that differ along every dimension.
//!
//! Everything here is pure arithmetic on indices and seeds, so the same call gives the same
//! numbers on every run and every machine with IEEE floats.

/// A xorshift64* generator: tiny, fast and fully determined by its seed (no `rand` dependency,
/// no entropy source).
#[derive(Debug, Clone)]
pub(crate) struct Xorshift64 {
    /// The generator state; never zero, which would be a fixed point.
    state: u64,
}

impl Xorshift64 {
    /// A generator started from `seed` (zero is replaced, as it would repeat forever).
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// The next 64 pseudo-random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform value in `[0, 1)`, from the top 53 bits.
    pub(crate) fn next_unit(&mut self) -> f64 {
        // 53 bits fit a double's mantissa exactly, so the conversion is exact.
        #[allow(clippy::cast_precision_loss)]
        let top = (self.next_u64() >> 11) as f64;
        top / (1_u64 << 53) as f64
    }

    /// A uniform value in `[-1, 1)`.
    pub(crate) fn next_signed(&mut self) -> f64 {
        2.0 * self.next_unit() - 1.0
    }
}

/// Evenly spaced values `first, first + step, …` (`count` of them), computed by multiplication
/// so no rounding error accumulates.
pub(crate) fn linspace(first: f64, step: f64, count: usize) -> Vec<f64> {
    (0..count).map(|i| first + step * index_f64(i)).collect()
}

/// An index as `f64`; indices here are far below 2^53, so the conversion is exact.
pub(crate) fn index_f64(index: usize) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let value = index as f64;
    value
}

/// A hash of a grid position to `[-1, 1)`: a perturbation that is the same wherever it is
/// computed, without generator state to carry through loops.
pub(crate) fn position_noise(seed: u64, position: &[usize]) -> f64 {
    let mut hash = seed ^ 0xA076_1D64_78BD_642F;
    for &index in position {
        hash = (hash ^ index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        hash ^= hash >> 29;
    }
    Xorshift64::new(hash).next_signed()
}

/// A plausible near-surface air temperature in kelvin at a latitude/longitude (degrees) and a
/// time step: warm tropics, a land–sea wave along longitude, a slow warming trend in time.
pub(crate) fn air_temperature_k(lat_deg: f64, lon_deg: f64, step: usize) -> f64 {
    let lat = lat_deg.to_radians();
    let lon = lon_deg.to_radians();
    let t = index_f64(step);
    248.0 + 52.0 * lat.cos().powi(2) + 6.0 * (2.0 * lon).sin() * lat.cos() + 3.0 * lat.sin()
        - 1.5 * (0.7 * t + lon).cos()
        + 0.25 * t
}

/// A plausible sea-level pressure in hPa: a subtropical high, subpolar lows, and travelling
/// waves along longitude that move with time.
pub(crate) fn sea_level_pressure_hpa(lat_deg: f64, lon_deg: f64, step: usize) -> f64 {
    let lat = lat_deg.to_radians();
    let lon = lon_deg.to_radians();
    let t = index_f64(step);
    1012.0 + 8.0 * (2.0 * lat).cos() - 5.0 * (4.0 * lat).cos()
        + 12.0 * (3.0 * lon - 0.9 * t).sin() * lat.sin().abs()
        + 0.3 * lat.sin()
}

/// A plausible sea surface temperature in °C.
pub(crate) fn sea_surface_temperature_c(lat_deg: f64, lon_deg: f64, step: usize) -> f64 {
    let lat = lat_deg.to_radians();
    let lon = lon_deg.to_radians();
    let t = index_f64(step);
    (29.0 * lat.cos().powi(3) - 1.5 + 2.0 * (lon + 0.3).sin() * lat.cos() + 0.4 * t * lat.sin())
        .max(-1.8)
}

/// Whether a grid point is land, from a few fixed elliptical "continents", so land cells (which
/// hold the fill value in ocean variables) have a plausible, repeatable shape.
pub(crate) fn is_land(lat_deg: f64, lon_deg: f64) -> bool {
    // (centre latitude, centre longitude, half-height, half-width), degrees.
    const CONTINENTS: [(f64, f64, f64, f64); 5] = [
        (50.0, 90.0, 22.0, 50.0),   // a large northern land mass
        (5.0, 20.0, 30.0, 18.0),    // a southern-reaching one
        (45.0, 260.0, 20.0, 28.0),  // a western one
        (-15.0, 300.0, 22.0, 12.0), // its southern partner
        (-25.0, 135.0, 10.0, 15.0), // an island continent
    ];
    let lon = lon_deg.rem_euclid(360.0);
    lat_deg < -70.0
        || CONTINENTS.iter().any(|&(lat0, lon0, half_lat, half_lon)| {
            let dlon = (lon - lon0 + 180.0).rem_euclid(360.0) - 180.0;
            (lat_deg - lat0).powi(2) / half_lat.powi(2) + dlon.powi(2) / half_lon.powi(2) <= 1.0
        })
}

/// A plausible precipitation rate in mm/day: an intertropical band and storm tracks, zero in
/// dry areas, with travelling rain cells.
pub(crate) fn precipitation_mm_per_day(lat_deg: f64, lon_deg: f64, step: usize) -> f64 {
    let lat = lat_deg.to_radians();
    let lon = lon_deg.to_radians();
    let t = index_f64(step);
    let itcz = 12.0 * (-((lat_deg - 6.0) / 9.0).powi(2)).exp();
    let storm_tracks = 5.0 * (-((lat_deg.abs() - 50.0) / 10.0).powi(2)).exp();
    let cells = (3.0 * lon - 0.8 * t).sin() * (2.0 * lat + 0.3 * t).cos();
    ((itcz + storm_tracks) * (0.6 + 0.7 * cells) - 0.8).max(0.0)
}

/// A plausible 10 m wind speed in m/s.
pub(crate) fn wind_speed_m_s(lat_deg: f64, lon_deg: f64, step: usize) -> f64 {
    let lat = lat_deg.to_radians();
    let lon = lon_deg.to_radians();
    let t = index_f64(step);
    (4.0 + 6.0 * (2.0 * lat).sin().abs() + 2.5 * (2.0 * lon + 0.5 * t).sin() * lat.cos() + 0.1 * t)
        .max(0.0)
}

/// Rounds to a multiple of `quantum`, so stored values read back as short decimals and
/// compress like real, instrument-resolution data.
pub(crate) fn quantize(value: f64, quantum: f64) -> f64 {
    (value / quantum).round() * quantum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_repeats_for_the_same_seed_and_stays_in_range() {
        let mut first = Xorshift64::new(42);
        let mut second = Xorshift64::new(42);
        for _ in 0..1000 {
            let value = first.next_signed();
            assert_eq!(value.to_bits(), second.next_signed().to_bits());
            assert!((-1.0..1.0).contains(&value));
        }
    }

    #[test]
    fn fields_differ_when_latitude_and_longitude_are_swapped() {
        assert_ne!(
            air_temperature_k(30.0, 60.0, 1),
            air_temperature_k(60.0, 30.0, 1)
        );
        assert_ne!(
            sea_level_pressure_hpa(30.0, 60.0, 1),
            sea_level_pressure_hpa(60.0, 30.0, 1)
        );
    }
}
