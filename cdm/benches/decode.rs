//! The chunk decode path against a plain copy of the same bytes: inflate with libdeflate (what
//! the engine uses) and with zlib-rs (the alternative), unshuffle, and the whole pipeline, on a
//! chunk shaped like the benchmark's `x_wind` (13 × 20000 f32, shuffle + deflate 4); and the
//! registered filters (Blosc, Zstandard, LZ4, bzip2) on the same chunk.

use std::hint::black_box;
use std::io::{Read, Write};

use cdm::engine::filters::{Filter, Pipeline, unshuffle};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Smooth values plus deterministic noise, quantised like the benchmark file.
fn chunk_values() -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..13 * 20_000)
        .flat_map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state % 1000) as f32 / 1000.0 - 0.5;
            let x = i as f32 / 20_000.0;
            let v = 10.0 * (x * 6.0).sin() + (i % 20_000) as f32 * 1e-4 + 0.23 * noise;
            ((v * 64.0).round() / 64.0).to_le_bytes()
        })
        .collect()
}

fn shuffle(input: &[u8], s: usize) -> Vec<u8> {
    let n = input.len() / s;
    let mut out = Vec::with_capacity(input.len());
    for j in 0..s {
        out.extend((0..n).map(|i| input[i * s + j]));
    }
    out
}

fn bench(c: &mut Criterion) {
    let raw = chunk_values();
    let shuffled = shuffle(&raw, 4);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(4));
    z.write_all(&shuffled).expect("compress");
    let stored = z.finish().expect("compress");

    let mut g = c.benchmark_group("chunk_decode");
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.bench_function("memcpy", |b| {
        let mut dst = vec![0u8; raw.len()];
        b.iter(|| dst.copy_from_slice(black_box(&raw)));
    });
    g.bench_function("inflate_libdeflate", |b| {
        let mut d = libdeflater::Decompressor::new();
        let mut out = vec![0u8; raw.len()];
        b.iter(|| {
            d.zlib_decompress(black_box(&stored), &mut out)
                .expect("inflates")
        });
    });
    g.bench_function("inflate_zlib_rs", |b| {
        let mut out = Vec::with_capacity(raw.len());
        b.iter(|| {
            out.clear();
            flate2::read::ZlibDecoder::new(black_box(&stored[..]))
                .read_to_end(&mut out)
                .expect("inflates")
        });
    });
    g.bench_function("unshuffle_f32", |b| {
        b.iter(|| unshuffle(black_box(&shuffled), 4));
    });
    let pipeline = Pipeline::new(vec![Filter::Shuffle { elem_size: 4 }, Filter::Deflate]);
    g.bench_function("pipeline_shuffle_deflate", |b| {
        b.iter(|| {
            pipeline
                .decode(black_box(&stored), 0, raw.len())
                .expect("decodes")
        });
    });
    g.finish();
    registered_filters(c, &raw);
}

/// The registered filters the engine decodes, on the same chunk, each configured as its usual
/// writer configures it (hdf5plugin's and PyTables' defaults).
fn registered_filters(c: &mut Criterion, raw: &[u8]) {
    let floats: Vec<f32> = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let mut g = c.benchmark_group("registered_filters");
    g.throughput(Throughput::Bytes(raw.len() as u64));
    let mut run = |name: &str, filters: Vec<Filter>, stored: Vec<u8>| {
        let pipeline = Pipeline::new(filters);
        g.bench_function(name, |b| {
            b.iter(|| {
                pipeline
                    .decode(black_box(&stored), 0, raw.len())
                    .expect("decodes")
            });
        });
    };
    for (name, compressor) in [
        ("blosc_lz4_shuffle", blosc::Compressor::LZ4),
        ("blosc_blosclz_shuffle", blosc::Compressor::BloscLZ),
        ("blosc_zstd_shuffle", blosc::Compressor::Zstd),
    ] {
        let ctx = blosc::Context::new()
            .compressor(compressor)
            .expect("c-blosc has the codec")
            .clevel(blosc::Clevel::L5)
            .shuffle(blosc::ShuffleMode::Byte);
        let stored = ctx.compress(&floats).as_ref().to_vec();
        run(name, vec![Filter::Blosc], stored);
    }
    run(
        "zstd_level3",
        vec![Filter::Zstd],
        zstd::bulk::compress(raw, 3).expect("compress"),
    );
    let mut framed = Vec::new();
    framed.extend_from_slice(&(raw.len() as u64).to_be_bytes());
    let block = 1 << 30;
    framed.extend_from_slice(&(block as u32).to_be_bytes());
    let c4 = lz4_flex::block::compress(raw);
    framed.extend_from_slice(&(c4.len() as u32).to_be_bytes());
    framed.extend_from_slice(&c4);
    run("lz4_hdf5_framing", vec![Filter::Lz4], framed);
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(9));
    bz.write_all(raw).expect("compress");
    run(
        "bzip2_level9",
        vec![Filter::Bzip2],
        bz.finish().expect("compress"),
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
