//! The `.dap` encoder's work per byte against a plain copy of the same bytes: framing 4 MiB of
//! canonical values into 256 KiB chunks (slices of the source's buffer, not copies) and the
//! CRC32 that follows each variable.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dap4::chunk::Chunker;
use dap4::data::CHUNK_BYTES;

fn bench(c: &mut Criterion) {
    let data = Bytes::from(
        (0..4u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect::<Vec<u8>>(),
    );
    let mut g = c.benchmark_group("dap4_encode");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("memcpy", |b| {
        let mut out = vec![0u8; data.len()];
        b.iter(|| out.copy_from_slice(black_box(&data)));
    });
    g.bench_function("frame", |b| {
        b.iter(|| {
            let mut chunker = Chunker::new(CHUNK_BYTES);
            chunker.push(black_box(data.clone()));
            chunker.finish();
            chunker.ready.len()
        });
    });
    g.bench_function("crc32", |b| b.iter(|| crc32fast::hash(black_box(&data))));
    g.bench_function("frame_and_crc32", |b| {
        b.iter(|| {
            let mut chunker = Chunker::new(CHUNK_BYTES);
            let mut crc = crc32fast::Hasher::new();
            crc.update(black_box(&data));
            chunker.push(data.clone());
            chunker.push(Bytes::copy_from_slice(&crc.finalize().to_le_bytes()));
            chunker.finish();
            chunker.ready.len()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
