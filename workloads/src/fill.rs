//! Filling the structures, one call per unit, the way a new user writes it (defaults, no
//! capacity hints). `black_box` keeps the optimiser from dropping the work.

use std::hint::black_box;

/// `n` 16-byte allocations in a vmem arena.
///
/// ```
/// let arena = vmem::Arena::new();
/// vmem_workloads::fill::arena(&arena, 1000);
/// assert_eq!(arena.allocated_bytes(), 16_000);
/// ```
#[inline(never)]
pub fn arena(arena: &vmem::Arena, n: usize) {
    for i in 0..n as u64 {
        black_box(arena.alloc([i, i]));
    }
}

/// `n` 16-byte allocations in a bumpalo arena.
#[inline(never)]
pub fn bump(bump: &bumpalo::Bump, n: usize) {
    for i in 0..n as u64 {
        black_box(bump.alloc([i, i]));
    }
}

/// `n` pushes of a `u64`.
///
/// ```
/// let mut v = vmem::VirtualVec::new();
/// vmem_workloads::fill::virtual_vec(&mut v, 10);
/// assert_eq!(v.len(), 10);
/// ```
#[inline(never)]
pub fn virtual_vec(v: &mut vmem::VirtualVec<u64>, n: usize) {
    for i in 0..n as u64 {
        v.push(i);
    }
}

/// `n` pushes of a `u64`.
#[inline(never)]
pub fn vec(v: &mut Vec<u64>, n: usize) {
    for i in 0..n as u64 {
        v.push(i);
    }
}

/// `n` inserts of a `u64`.
///
/// ```
/// let mut pool = vmem::Pool::new();
/// vmem_workloads::fill::pool(&mut pool, 10);
/// assert_eq!(pool.len(), 10);
/// ```
#[inline(never)]
pub fn pool(pool: &mut vmem::Pool<u64>, n: usize) {
    for i in 0..n as u64 {
        pool.insert(i);
    }
}

/// `n` inserts of a `u64`.
#[inline(never)]
pub fn slab(slab: &mut slab::Slab<u64>, n: usize) {
    for i in 0..n as u64 {
        slab.insert(i);
    }
}

/// Inserts `n` values, reads them all back through their handles, removes them all: the
/// pool's whole life cycle. `handles` is scratch (cleared first). Returns the sum read.
///
/// ```
/// let mut pool = vmem::Pool::new();
/// let sum = vmem_workloads::fill::pool_cycle(&mut pool, &mut Vec::new(), 4);
/// assert_eq!((sum, pool.len()), (6, 0));
/// ```
#[inline(never)]
pub fn pool_cycle(pool: &mut vmem::Pool<u64>, handles: &mut Vec<vmem::Handle>, n: usize) -> u64 {
    handles.clear();
    for i in 0..n as u64 {
        handles.push(pool.insert(i));
    }
    let sum = handles.iter().filter_map(|&h| pool.get(h)).sum();
    for &h in handles.iter() {
        black_box(pool.remove(h));
    }
    sum
}

/// The same life cycle in a `slab`.
#[inline(never)]
pub fn slab_cycle(slab: &mut slab::Slab<u64>, keys: &mut Vec<usize>, n: usize) -> u64 {
    keys.clear();
    for i in 0..n as u64 {
        keys.push(slab.insert(i));
    }
    let sum = keys.iter().filter_map(|&k| slab.get(k)).sum();
    for &k in keys.iter() {
        black_box(slab.try_remove(k));
    }
    sum
}
