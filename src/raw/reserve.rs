//! Reserving and releasing address space.

use core::ptr::NonNull;

use crate::raw::checks::reservation_size;
use crate::{os, Error, ErrorKind, Result};

/// Reserves at least `size` bytes of address space, rounded up to whole pages, and returns
/// its base, which is aligned to [`allocation_granularity`](crate::allocation_granularity).
///
/// Reserved memory is inaccessible (any access faults) and costs no physical memory and no
/// commit charge: [`commit`](crate::commit) the pages you use. Give it back with
/// [`release`](crate::release), or use [`Reservation`](crate::Reservation), which does that
/// on drop.
///
/// Cost: one system call (`mmap` / `VirtualAlloc`).
///
/// # Errors
/// `InvalidArgument` for a zero size; `OutOfAddressSpace` when the address space or
/// `RLIMIT_AS` has no room.
///
/// ```
/// let size = 1 << 30;
/// let base = vmem::reserve(size).unwrap();
/// // SAFETY: `base` came from `reserve(size)` and is not used after this.
/// unsafe { vmem::release(base.as_ptr(), size).unwrap() };
/// ```
pub fn reserve(size: usize) -> Result<NonNull<u8>> {
    let size = reservation_size("reserve", size)?;
    // SAFETY: `size` is a non-zero multiple of the page size, as the backend requires.
    let ptr = unsafe { os::reserve(size)? };
    NonNull::new(ptr).ok_or(Error::new(ErrorKind::Os, "reserve", "the OS returned a null address").sized(size))
}

/// Reserves at least `size` bytes whose base is a multiple of `align` (a power of two).
///
/// Use it for huge pages (2 MiB alignment) or for tricks that find a block's header by
/// masking an address. Release it with [`release`](crate::release) as usual.
///
/// Cost: one to three system calls.
///
/// # Errors
/// As [`reserve`], and `InvalidArgument` when `align` is not a power of two.
///
/// ```
/// let two_mib = 2 << 20;
/// let base = vmem::reserve_aligned(two_mib, two_mib).unwrap();
/// assert!(vmem::is_aligned(base.as_ptr() as usize, two_mib));
/// // SAFETY: `base` came from `reserve_aligned(two_mib, _)` and is not used after this.
/// unsafe { vmem::release(base.as_ptr(), two_mib).unwrap() };
/// ```
pub fn reserve_aligned(size: usize, align: usize) -> Result<NonNull<u8>> {
    let size = reservation_size("reserve", size)?;
    if !align.is_power_of_two() {
        return Err(Error::new(ErrorKind::InvalidArgument, "reserve", "the alignment is not a power of two")
            .sized(size)
            .with_limit("alignment", align as u64));
    }
    if align <= crate::allocation_granularity() {
        return reserve(size);
    }
    // SAFETY: `size` is a non-zero multiple of the page size and `align` a power of two
    // above the granularity, as the backend requires.
    let ptr = unsafe { os::reserve_aligned(size, align)? };
    NonNull::new(ptr).ok_or(Error::new(ErrorKind::Os, "reserve", "the OS returned a null address").sized(size))
}

/// Reserves exactly `[address, address + size)` (size rounded up to whole pages), or fails:
/// never at another address, and never over memory already mapped there.
///
/// For layouts that must sit at a known address: a heap shared between processes at the same
/// base, pointers stored relative to a fixed base, or memory below 4 GiB for 32-bit offsets.
/// Where other code keeps mapping things, expect `OutOfAddressSpace` and be ready to pick
/// another address. Release it with [`release`] as usual.
///
/// Cost: one system call (Linux 4.17+ refuses an occupied range at once with
/// `MAP_FIXED_NOREPLACE`; other Unix systems take the address as a hint, and a reservation
/// placed elsewhere is undone; Windows `VirtualAlloc` at the address).
///
/// # Errors
/// `InvalidArgument` for a null or misaligned `address` (it must be a multiple of
/// [`allocation_granularity`](crate::allocation_granularity)), a zero size, or a range past
/// the end of the address space; `OutOfAddressSpace` when part of the range is in use;
/// `PermissionDenied` when the OS refuses the address itself (Linux: below
/// `vm.mmap_min_addr`, 64 KiB by default, for a process without `CAP_SYS_RAWIO`).
///
/// ```
/// // Find free space, give it back, and ask for exactly that address.
/// let size = 1 << 20;
/// let probe = vmem::reserve(size).unwrap();
/// let address = probe.as_ptr() as usize;
/// // SAFETY: the probe is released once and not used afterwards.
/// unsafe { vmem::release(probe.as_ptr(), size).unwrap() };
/// match vmem::reserve_at(address, size) {
///     Ok(base) => {
///         assert_eq!(base.as_ptr() as usize, address);
///         // A second reservation of the same range is refused, not moved.
///         assert_eq!(vmem::reserve_at(address, size).unwrap_err().kind(), vmem::ErrorKind::OutOfAddressSpace);
///         // SAFETY: the reservation is released once and not used afterwards.
///         unsafe { vmem::release(base.as_ptr(), size).unwrap() };
///     }
///     // Another thread may have mapped something there in between.
///     Err(e) => assert_eq!(e.kind(), vmem::ErrorKind::OutOfAddressSpace),
/// }
/// ```
pub fn reserve_at(address: usize, size: usize) -> Result<NonNull<u8>> {
    if address == 0 {
        return Err(Error::new(ErrorKind::InvalidArgument, "reserve_at", "the address is null").sized(size));
    }
    let granularity = crate::allocation_granularity();
    if !crate::is_aligned(address, granularity) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "reserve_at",
            "the address is not aligned to the allocation granularity",
        )
        .at(address, size)
        .with_limit("allocation granularity", granularity as u64));
    }
    let size = reservation_size("reserve_at", size).map_err(|e| e.at(address, size))?;
    if address.checked_add(size).is_none() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "reserve_at",
            "the range runs past the end of the address space",
        )
        .at(address, size));
    }
    // SAFETY: `size` is a non-zero multiple of the page size; `address` is non-null, aligned
    // to the granularity, and the range does not overflow, as the backend requires.
    let ptr = unsafe { os::reserve_at(address, size)? };
    NonNull::new(ptr).ok_or(Error::new(ErrorKind::Os, "reserve_at", "the OS returned a null address").sized(size))
}

/// Releases a reservation made by [`reserve`], [`reserve_aligned`] or [`reserve_at`]: its address space
/// and any memory committed in it go back to the OS.
///
/// `size` is the size given to `reserve` (it is rounded up to pages the same way).
///
/// Cost: one system call.
///
/// # Errors
/// `InvalidArgument` for a null or misaligned `ptr` or a zero size.
///
/// # Safety
/// `ptr` and `size` must describe exactly one whole reservation from [`reserve`], not yet
/// released, and nothing may use its memory afterwards.
///
/// ```
/// let base = vmem::reserve(4096).unwrap();
/// // SAFETY: the reservation is released once and not used afterwards.
/// unsafe { vmem::release(base.as_ptr(), 4096).unwrap() };
/// ```
pub unsafe fn release(ptr: *mut u8, size: usize) -> Result<()> {
    if ptr.is_null() {
        return Err(Error::new(ErrorKind::InvalidArgument, "release", "the pointer is null").sized(size));
    }
    if !crate::is_aligned(ptr as usize, crate::allocation_granularity()) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "release",
            "the pointer is not the base of a reservation (misaligned)",
        )
        .at(ptr as usize, size)
        .with_limit("allocation granularity", crate::allocation_granularity() as u64));
    }
    let size = reservation_size("release", size).map_err(|e| e.at(ptr as usize, size))?;
    if (ptr as usize).checked_add(size).is_none() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "release",
            "the range runs past the end of the address space",
        )
        .at(ptr as usize, size));
    }
    // SAFETY: the caller promises this is one whole reservation no one uses any more.
    unsafe { os::release(ptr, size) }
}
