//! The `.dods` encoder's bulk path against a plain copy of the same bytes: 4 MiB of canonical
//! (little-endian) numbers turned into XDR (big-endian; 16-bit values widened to 32).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dap2::mapping::NumKind;
use dap2::xdr::numbers_to_xdr;

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut g = c.benchmark_group("xdr_encode");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("memcpy", |b| {
        let mut out = vec![0u8; data.len()];
        b.iter(|| out.copy_from_slice(black_box(&data)));
    });
    // The element-at-a-time writer the bulk path replaced, for reference.
    g.bench_function("f32_one_by_one", |b| {
        let mut out = Vec::with_capacity(data.len());
        b.iter(|| {
            out.clear();
            for c in black_box(&data).chunks_exact(4) {
                dap2::xdr::put_number(NumKind::F32, c, true, &mut out);
            }
        });
    });
    for (name, kind) in [
        ("f32", NumKind::F32),
        ("f64", NumKind::F64),
        ("i16", NumKind::I16),
    ] {
        g.bench_function(name, |b| {
            let mut out = Vec::with_capacity(data.len() * 2);
            b.iter(|| {
                out.clear();
                numbers_to_xdr(kind, black_box(&data), &mut out).expect("whole numbers");
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
