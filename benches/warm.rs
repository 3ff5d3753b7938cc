//! The warm-memory size matrix (issue 15) with the system allocator: every structure against
//! its malloc-backed peers, fresh and reused, from 1 KiB to 1 GiB; two threads creating and
//! dropping structures; RSS after drop and after `trim()`. What is measured and how:
//! `benches/warm/harness.rs`.
//!
//! `cargo bench --bench warm` (the whole run), `cargo bench --bench warm -- pool 1g` (one
//! structure at one size), `cargo bench --bench warm -- quick` (3 rounds per cell).

#[path = "warm/harness.rs"]
mod harness;

fn main() {
    harness::main(harness::Allocator::System);
}
