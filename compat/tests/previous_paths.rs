//! Every public path of vmem 0.1.0 (commit 1cd9c34), named: the ones that moved resolve
//! through deprecated re-exports.
#![allow(deprecated, dead_code, clippy::type_complexity)]

use std::marker::PhantomData;

/// Names each type (a use of the path is all this checks).
struct Types<'a>(
    PhantomData<(
        (vmem::Arena, vmem::ArenaBuilder, vmem::Checkpoint, vmem::SyncArena, vmem::RingBuffer),
        (vmem::ConcurrentVec<u8>, vmem::ConcurrentVecIntoIter<u8>, vmem::ConcurrentVecIter<'a, u8>),
        (vmem::Handle, vmem::Pool<u8>, vmem::PoolIntoIter<u8>, vmem::PoolIter<'a, u8>, vmem::PoolIterMut<'a, u8>),
        (vmem::VirtualVec<u8>, vmem::Error, vmem::ErrorKind, vmem::Result<()>, vmem::Protection),
        (vmem::PageState, vmem::RegionInfo, vmem::Reservation, vmem::MemoryStatus),
        (vmem::arena::Arena, vmem::arena::ArenaBuilder, vmem::arena::Checkpoint),
        (vmem::concurrent_vec::ConcurrentVec<u8>,),
        (vmem::pool::Handle, vmem::pool::Pool<u8>),
        (vmem::ring::RingBuffer, vmem::sync_arena::SyncArena),
        (vmem::virtual_vec::VirtualVec<u8>, vmem::virtual_vec::IntoIter<u8>, vmem::virtual_vec::Drain<'a, u8>),
    )>,
);

#[test]
fn every_previous_path_resolves() {
    let _ = Types(PhantomData);
    let _functions = (
        vmem::advise_huge_pages as unsafe fn(*mut u8, usize) -> vmem::Result<()>,
        vmem::prefault as unsafe fn(*mut u8, usize) -> vmem::Result<()>,
        vmem::align_down as fn(usize, usize) -> vmem::Result<usize>,
        vmem::align_up as fn(usize, usize) -> vmem::Result<usize>,
        vmem::is_aligned as fn(usize, usize) -> bool,
        vmem::commit as unsafe fn(*mut u8, usize) -> vmem::Result<()>,
        vmem::decommit as unsafe fn(*mut u8, usize) -> vmem::Result<()>,
        vmem::lock as unsafe fn(*mut u8, usize) -> vmem::Result<()>,
        vmem::unlock as unsafe fn(*mut u8, usize) -> vmem::Result<()>,
        vmem::allocation_granularity as fn() -> usize,
        vmem::huge_page_size as fn() -> Option<usize>,
        vmem::page_size as fn() -> usize,
        vmem::protect as unsafe fn(*mut u8, usize, vmem::Protection) -> vmem::Result<()>,
        vmem::query as fn(*const u8, usize) -> vmem::Result<Vec<vmem::RegionInfo>>,
        vmem::release as unsafe fn(*mut u8, usize) -> vmem::Result<()>,
        vmem::reserve as fn(usize) -> vmem::Result<std::ptr::NonNull<u8>>,
        vmem::reserve_aligned as fn(usize, usize) -> vmem::Result<std::ptr::NonNull<u8>>,
        vmem::memory_status as fn() -> vmem::Result<vmem::MemoryStatus>,
        vmem::resident_bytes as fn() -> vmem::Result<usize>,
    );
}
