//! The warm-memory size matrix of `benches/warm.rs` with mimalloc as the global allocator, for
//! vmem's side and the peers alike (a global allocator is per binary, hence a second bench).
//! What is measured and how: `benches/warm/harness.rs`.
//!
//! `cargo bench --bench warm_mimalloc [-- FILTER...]`, with the filters of `benches/warm.rs`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "warm/harness.rs"]
mod harness;

fn main() {
    harness::main(harness::Allocator::Mimalloc);
}
