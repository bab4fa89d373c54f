//! The corrupt-file corpus: damaged copies of the sample files, for testing that a server
//! answers every request for them with an error or with data and never dies.
//!
//! Each sample is damaged in the ways real files get damaged and hostile files are made:
//! truncated at many offsets, bit flips in the header, in HDF5 object headers, B-trees and
//! heaps (found by their signatures), in the middle of the file and in its chunk data, a zeroed
//! superblock, a wrong magic number, and — for netCDF-3 — header fields that claim huge sizes.
//! Every damage is deterministic (a fixed-seed generator), so a failure names a file that can
//! be made again.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The samples damaged: netCDF-3 (classic and CDF-5), netCDF-4 (groups, user types, chunked
/// and compressed) and plain HDF5.
const DAMAGED_SAMPLES: &[&str] = &[
    "classic.nc",
    "cdf5.nc",
    "groups.nc",
    "types.nc",
    "chunked.nc",
    "hdf5_types.h5",
    "hdf5_chunked.h5",
    "hdf5_groups.h5",
];

/// HDF5 structure signatures whose bytes are damaged: object headers, B-trees (v1 and v2),
/// local and fractal heaps, symbol table nodes, free-space headers, global heap collections.
const HDF5_SIGNATURES: &[&[u8; 4]] = &[
    b"OHDR", b"TREE", b"BTHD", b"BTLF", b"HEAP", b"SNOD", b"FRHP", b"FHDB", b"FSHD", b"GCOL",
];

/// A small deterministic generator (SplitMix64): the same damage on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi` (`lo` when the range is empty).
    fn within(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            return lo;
        }
        lo + usize::try_from(self.next() % (hi - lo) as u64).unwrap_or(0)
    }

    /// Flips `n` random bits of `bytes` within `lo..hi`.
    fn flip(&mut self, bytes: &mut [u8], lo: usize, hi: usize, n: usize) {
        let hi = hi.min(bytes.len());
        if lo >= hi {
            return;
        }
        for _ in 0..n {
            let i = self.within(lo, hi);
            bytes[i] ^= 1 << (self.next() % 8);
        }
    }
}

/// Damaged versions of one file's bytes, each with a short name for the damage.
fn damage(original: &[u8], seed: u64) -> Vec<(String, Vec<u8>)> {
    let len = original.len();
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    // Truncations: inside the magic, the superblock / header, and through the data.
    let mut cuts: Vec<usize> = vec![0, 3, 8, 16, 40, 64, 100, 200, 512, 1024, 2048];
    cuts.extend((1..8).map(|k| len * k / 8));
    cuts.push(len.saturating_sub(1));
    cuts.sort_unstable();
    cuts.dedup();
    for cut in cuts.into_iter().filter(|&c| c < len) {
        out.push((format!("trunc{cut}"), original[..cut].to_vec()));
    }
    // A zeroed superblock (or netCDF-3 header start) and a wrong magic number.
    let mut zeroed = original.to_vec();
    zeroed[..len.min(96)].fill(0);
    out.push(("zerosuper".into(), zeroed));
    let mut magic = original.to_vec();
    if len > 1 {
        magic[1] ^= 0x20;
    }
    out.push(("magic".into(), magic));
    // Bit flips in the header (the first bytes hold the netCDF-3 header or HDF5 superblock and
    // root group), in the middle of the file, and in its last part (chunk data).
    for k in 0..4 {
        let mut b = original.to_vec();
        rng.flip(&mut b, 4, 512.min(len), 2);
        out.push((format!("hdrflip{k}"), b));
    }
    for k in 0..6 {
        let mut b = original.to_vec();
        rng.flip(&mut b, len / 4, len * 3 / 4, 8);
        out.push((format!("midflip{k}"), b));
    }
    for k in 0..3 {
        let mut b = original.to_vec();
        rng.flip(&mut b, len * 2 / 3, len, 16);
        out.push((format!("dataflip{k}"), b));
    }
    // HDF5 structures, found by signature: flips just after the first two of each kind.
    for sig in HDF5_SIGNATURES {
        let at: Vec<usize> = original
            .windows(4)
            .enumerate()
            .filter(|(_, w)| w == sig)
            .map(|(i, _)| i)
            .take(2)
            .collect();
        for (k, &i) in at.iter().enumerate() {
            let mut b = original.to_vec();
            rng.flip(&mut b, i + 4, i + 48, 3);
            let name = String::from_utf8_lossy(&sig[..]).to_ascii_lowercase();
            out.push((format!("{name}{k}"), b));
        }
    }
    // netCDF-3 (CDF-1 / CDF-2): a record count and a first dimension claiming huge sizes.
    if len > 32 && &original[..3] == b"CDF" && matches!(original[3], 1 | 2) {
        let mut b = original.to_vec();
        b[4..8].copy_from_slice(&0x7FFF_FFF0u32.to_be_bytes());
        out.push(("hugerecs".into(), b));
        // magic, numrecs, NC_DIMENSION, count, then the first name (length, padded bytes).
        let name_len = u32::from_be_bytes([original[16], original[17], original[18], original[19]]);
        let at = 20 + usize::try_from(name_len).unwrap_or(len).next_multiple_of(4);
        if at + 4 <= len {
            let mut b = original.to_vec();
            b[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
            out.push(("hugedim".into(), b));
        }
    }
    out
}

/// Writes the corpus into `dir`: the pristine samples in `dir/pristine` (to check that other
/// datasets keep being served) and their damaged copies in `dir/corrupt`, named
/// `<damage>_<sample>`. Returns the damaged files' paths.
///
/// # Errors
/// When a folder or file cannot be written, or a sample cannot be generated.
pub fn write_corrupt_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let pristine = dir.join("pristine");
    let corrupt = dir.join("corrupt");
    crate::write_samples(&pristine)?;
    fs::create_dir_all(&corrupt).map_err(|e| Error::io("creating directory", &corrupt, e))?;
    let mut written = Vec::new();
    for (i, name) in DAMAGED_SAMPLES.iter().enumerate() {
        let source = pristine.join(name);
        let bytes = fs::read(&source).map_err(|e| Error::io("reading", &source, e))?;
        for (what, damaged) in damage(&bytes, 0x5EED_0000 + i as u64) {
            let path = corrupt.join(format!("{what}_{name}"));
            fs::write(&path, damaged).map_err(|e| Error::io("writing", &path, e))?;
            written.push(path);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damage_is_deterministic_and_really_damages() {
        let original: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8).collect();
        let a = damage(&original, 1);
        let b = damage(&original, 1);
        assert_eq!(a, b);
        assert!(a.len() > 20);
        for (name, bytes) in &a {
            assert_ne!(bytes, &original, "{name} left the file intact");
        }
    }
}
