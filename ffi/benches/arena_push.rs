//! What a push costs through the C ABI, against the Rust arena in the same run: the C
//! `VMemArena` (whose push checks the caller's struct against the reservation's record, with
//! a per-thread cache), the opaque `VMemGrowArena` (a handle lookup per push), and
//! `vmem_ffi::Arena` itself. 100,000 pushes of 16 bytes, rewound between iterations.
//!
//! `cargo bench -p vmem-ffi --bench arena_push && scripts/bench_ratios.py c_arena_push --baseline rust_arena`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use vmem_ffi::*;

const PUSHES: usize = 100_000;

fn pushes(c: &mut Criterion) {
    let mut group = c.benchmark_group("c_arena_push_16B_x100k");
    let mut arena = vmem_arena_init_alloc(64 << 20);
    group.bench_function("vmem_arena_push", |b| {
        b.iter(|| {
            for _ in 0..PUSHES {
                // SAFETY: a valid arena; the memory is not used.
                black_box(unsafe { vmem_arena_push(&mut arena, 16, 8) });
            }
            // SAFETY: as above.
            unsafe { vmem_arena_rewind(&mut arena, 0) };
        })
    });
    // SAFETY: a default configuration.
    let grow = unsafe { vmem_grow_arena_create(std::ptr::null()) };
    group.bench_function("vmem_grow_arena_push", |b| {
        b.iter(|| {
            // SAFETY: a live handle; the memory is not used.
            let mark = unsafe { vmem_grow_arena_checkpoint(grow) };
            for _ in 0..PUSHES {
                // SAFETY: as above.
                black_box(unsafe { vmem_grow_arena_push(grow, 16, 8) });
            }
            // SAFETY: as above.
            unsafe { vmem_grow_arena_rewind(grow, mark) };
        })
    });
    let mut rust = vmem_core::Arena::new();
    group.bench_function("rust_arena", |b| {
        b.iter(|| {
            for _ in 0..PUSHES {
                black_box(rust.alloc_layout(std::alloc::Layout::from_size_align(16, 8).unwrap()));
            }
            rust.reset();
        })
    });
    group.finish();
    // SAFETY: made above, not used again.
    unsafe {
        vmem_arena_deinit_dealloc(&mut arena);
        vmem_grow_arena_destroy(grow);
    }
}

criterion_group!(benches, pushes);
criterion_main!(benches);
