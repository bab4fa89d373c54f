//! Support shared by the reader tests: a runtime and random hyperslabs.

#![allow(dead_code, unreachable_pub)]

use cdm::{Hyperslab, Range};

/// A two-worker runtime, as the server runs on a two-core machine.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A hyperslab of `shape` drawn from `seeds` (one triple per dimension, reused cyclically), with
/// strides from 1 to `max_stride`.
pub fn slab_from(shape: &[usize], seeds: &[(u32, u32, u32)], max_stride: usize) -> Hyperslab {
    let ranges = shape
        .iter()
        .zip(seeds.iter().cycle())
        .map(|(&n, &(a, b, c))| {
            if n == 0 {
                return Range::full(0);
            }
            let start = a as usize % n;
            let stride = 1 + (c as usize % max_stride);
            let max_count = (n - start).div_ceil(stride);
            let count = 1 + b as usize % max_count;
            Range::new(start, count, stride, n).expect("fits by construction")
        })
        .collect();
    Hyperslab::new(ranges, shape).expect("valid")
}
