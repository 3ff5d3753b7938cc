//! The core layer against the same system calls made directly (rustix on Unix, windows-sys
//! on Windows) and against the `region` crate, in the same run. Ratios: `scripts/bench_ratios.py core`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
#[cfg(unix)]
use rustix::mm::{self, MapFlags, MprotectFlags, ProtFlags};

const GIB: usize = 1 << 30;

#[cfg(unix)]
fn direct_reserve(size: usize) -> *mut u8 {
    // SAFETY: a fresh PROT_NONE mapping at an address the kernel picks.
    unsafe { mm::mmap_anonymous(std::ptr::null_mut(), size, ProtFlags::empty(), MapFlags::PRIVATE) }.unwrap().cast()
}

#[cfg(unix)]
fn direct_release(ptr: *mut u8, size: usize) {
    // SAFETY: `ptr`/`size` is a mapping made by `direct_reserve`.
    unsafe { mm::munmap(ptr.cast(), size) }.unwrap();
}

#[cfg(unix)]
fn direct_commit(ptr: *mut u8, size: usize) {
    // SAFETY: inside a mapping made by `direct_reserve`.
    unsafe { mm::mprotect(ptr.cast(), size, MprotectFlags::READ | MprotectFlags::WRITE) }.unwrap();
}

#[cfg(unix)]
fn direct_decommit(ptr: *mut u8, size: usize) {
    // SAFETY: replaces part of our own mapping with a fresh PROT_NONE one.
    unsafe { mm::mmap_anonymous(ptr.cast(), size, ProtFlags::empty(), MapFlags::PRIVATE | MapFlags::FIXED) }.unwrap();
}

#[cfg(windows)]
use windows_sys::Win32::System::Memory::{
    VirtualAlloc, VirtualFree, MEM_COMMIT, MEM_DECOMMIT, MEM_RELEASE, MEM_RESERVE, PAGE_NOACCESS, PAGE_READWRITE,
};

#[cfg(windows)]
fn direct_reserve(size: usize) -> *mut u8 {
    // SAFETY: reserves fresh address space at an address the system picks.
    let ptr = unsafe { VirtualAlloc(std::ptr::null(), size, MEM_RESERVE, PAGE_NOACCESS) };
    assert!(!ptr.is_null(), "VirtualAlloc(MEM_RESERVE) failed");
    ptr.cast()
}

#[cfg(windows)]
fn direct_release(ptr: *mut u8, _size: usize) {
    // SAFETY: `ptr` is the base of a reservation made by `direct_reserve`.
    assert_ne!(unsafe { VirtualFree(ptr.cast(), 0, MEM_RELEASE) }, 0, "VirtualFree(MEM_RELEASE) failed");
}

#[cfg(windows)]
fn direct_commit(ptr: *mut u8, size: usize) {
    // SAFETY: inside a reservation made by `direct_reserve`.
    let ptr = unsafe { VirtualAlloc(ptr.cast_const().cast(), size, MEM_COMMIT, PAGE_READWRITE) };
    assert!(!ptr.is_null(), "VirtualAlloc(MEM_COMMIT) failed");
}

#[cfg(windows)]
fn direct_decommit(ptr: *mut u8, size: usize) {
    // SAFETY: inside a reservation made by `direct_reserve`, no longer used.
    assert_ne!(unsafe { VirtualFree(ptr.cast(), size, MEM_DECOMMIT) }, 0, "VirtualFree(MEM_DECOMMIT) failed");
}

fn touch(ptr: *mut u8, size: usize) {
    let page = vmem::page_size();
    for offset in (0..size).step_by(page) {
        // SAFETY: callers pass committed, writable ranges.
        unsafe { ptr.add(offset).write_volatile(1) };
    }
}

fn reserve_release(c: &mut Criterion) {
    let mut group = c.benchmark_group("reserve_release_1GiB");
    group.bench_function("direct", |b| {
        b.iter(|| {
            let p = direct_reserve(GIB);
            direct_release(black_box(p), GIB);
        })
    });
    group.bench_function("vmem", |b| {
        b.iter(|| {
            let p = vmem::reserve(GIB).unwrap();
            // SAFETY: the reservation just made.
            unsafe { vmem::release(black_box(p.as_ptr()), GIB) }.unwrap();
        })
    });
    group.bench_function("vmem_reservation", |b| b.iter(|| drop(black_box(vmem::Reservation::new(GIB).unwrap()))));
    group.bench_function("region", |b| {
        b.iter(|| drop(black_box(region::alloc(GIB, region::Protection::NONE).unwrap())));
    });
    group.finish();
}

fn commit_decommit(c: &mut Criterion) {
    for (name, size) in [("commit_decommit_64KiB", 64 << 10), ("commit_decommit_2MiB", 2 << 20)] {
        let mut group = c.benchmark_group(name);
        let base = direct_reserve(GIB);
        group.bench_function("direct", |b| {
            b.iter(|| {
                direct_commit(base, size);
                direct_decommit(base, size);
            })
        });
        let r = vmem::Reservation::new(GIB).unwrap();
        group.bench_function("vmem", |b| {
            b.iter(|| {
                // SAFETY: inside our reservation, never touched while decommitted.
                unsafe {
                    vmem::commit(r.as_ptr(), size).unwrap();
                    vmem::decommit(r.as_ptr(), size).unwrap();
                }
            })
        });
        group.bench_function("vmem_reservation", |b| {
            b.iter(|| {
                r.commit(0, size).unwrap();
                r.decommit(0, size).unwrap();
            })
        });
        group.finish();
        direct_release(base, GIB);
    }
}

/// What the commit check costs `protect`: the raw `mprotect`, `Reservation::protect` (which
/// checks its own record of committed pages under a lock) and `vmem::protect` (which asks
/// the OS: `/proc/self/smaps` on Linux), toggling 64 KiB between read and read-write.
fn protect_checked(c: &mut Criterion) {
    let size = 64 << 10;
    let mut group = c.benchmark_group("protect_64KiB");
    let base = direct_reserve(GIB);
    direct_commit(base, size);
    let set = |ptr: *mut u8, flags| {
        // SAFETY: a committed range of our own mapping, never touched while read-only.
        unsafe { mm::mprotect(ptr.cast(), size, flags) }.unwrap()
    };
    group.bench_function("direct", |b| {
        b.iter(|| {
            set(base, MprotectFlags::READ);
            set(base, MprotectFlags::READ | MprotectFlags::WRITE);
        })
    });
    let r = vmem::Reservation::new(GIB).unwrap();
    r.commit(0, size).unwrap();
    group.bench_function("vmem_reservation", |b| {
        b.iter(|| {
            r.protect(0, size, vmem::Protection::Read).unwrap();
            r.protect(0, size, vmem::Protection::ReadWrite).unwrap();
        })
    });
    group.bench_function("vmem", |b| {
        b.iter(|| {
            // SAFETY: committed pages of our reservation, never touched while read-only.
            unsafe {
                vmem::protect(r.as_ptr(), size, vmem::Protection::Read).unwrap();
                vmem::protect(r.as_ptr(), size, vmem::Protection::ReadWrite).unwrap();
            }
        })
    });
    group.finish();
    direct_release(base, GIB);
}

fn commit_first_touch(c: &mut Criterion) {
    let mut group = c.benchmark_group("commit_touch_decommit_1GiB");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(8));
    let base = direct_reserve(GIB);
    group.bench_function("direct", |b| {
        b.iter(|| {
            direct_commit(base, GIB);
            touch(base, GIB);
            direct_decommit(base, GIB);
        })
    });
    let r = vmem::Reservation::new(GIB).unwrap();
    group.bench_function("vmem", |b| {
        b.iter(|| {
            r.commit(0, GIB).unwrap();
            touch(r.as_ptr(), GIB);
            r.decommit(0, GIB).unwrap();
        })
    });
    group.finish();
    direct_release(base, GIB);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = reserve_release, commit_decommit, protect_checked, commit_first_touch
}
criterion_main!(benches);
