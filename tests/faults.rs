//! Fault injection: each data structure grows under a low `RLIMIT_AS`, `RLIMIT_DATA` or
//! `RLIMIT_MEMLOCK` (set in a child process, so the limit cannot disturb other tests). In
//! every case the `try_` call returns an error that names what ran out, the process keeps
//! running, everything stored before the failure reads back intact, and the structure
//! still works afterwards.
//!
//! Which limit bites what (Linux):
//! - `RLIMIT_DATA` counts private writable memory: commits of the arena, `VirtualVec`,
//!   `Pool` and `ConcurrentVec`. A `RingBuffer` is shared memory, which it does not count.
//! - `RLIMIT_AS` counts address space: reservations. The arena and `VirtualVec::new` fall
//!   back to smaller reservations, then fail; new ring buffers fail.
//! - `RLIMIT_MEMLOCK` counts locked memory: an arena built with `lock_memory(true)` and
//!   `RingBuffer::lock`. The other structures never lock, and are shown unaffected.
#![cfg(target_os = "linux")]

mod common;

use rustix::process::Resource;
use vmem::{Arena, ConcurrentVec, Error, ErrorKind, Pool, RingBuffer, VirtualVec};

const MIB: usize = 1 << 20;
/// The most any loop below may store before its limit must have stopped it.
const RUNAWAY: usize = 4 << 30;

/// Drops `CAP_IPC_LOCK` (root has it, and it lifts `RLIMIT_MEMLOCK`), then sets the limit.
fn limit_locked_memory(bytes: u64) {
    use rustix::thread::{capabilities, set_capabilities, CapabilitySet};
    let mut caps = capabilities(None).unwrap();
    caps.effective.remove(CapabilitySet::IPC_LOCK);
    set_capabilities(None, caps).unwrap();
    common::set_limit(Resource::Memlock, bytes);
}

/// The error is one of `kinds` and its message names `limit`.
fn assert_names(err: &Error, kinds: &[ErrorKind], limit: &str) {
    assert!(kinds.contains(&err.kind()), "unexpected kind: {err}");
    let text = err.to_string();
    assert!(text.contains(limit), "the message does not name {limit}: {text}");
    println!("{text}");
}

/// Allocates 1 MiB chunks, each filled with its index, until `try_alloc` fails; checks
/// every chunk; returns the error.
fn fill_arena(arena: &Arena) -> Error {
    let mut chunks: Vec<&[u8]> = Vec::new();
    let err = loop {
        let i = chunks.len();
        match arena.try_alloc_slice_fill_with(MIB - 16, |_| i as u8) {
            Ok(chunk) => chunks.push(chunk),
            Err(err) => break err,
        }
        assert!(chunks.len() * MIB < RUNAWAY, "the limit was not enforced");
    };
    assert!(!chunks.is_empty(), "failed at once: {err}");
    for (i, chunk) in chunks.iter().enumerate() {
        assert!(chunk.iter().all(|&b| b == i as u8), "chunk {i} changed");
    }
    err
}

/// Pushes `0, 1, 2, …` until `try_push` fails; checks the value comes back and every
/// element is intact; returns the error.
fn fill_virtual_vec(v: &mut VirtualVec<u64>) -> Error {
    let err = loop {
        let next = v.len() as u64;
        match v.try_push(next) {
            Ok(()) => {}
            Err((value, err)) => {
                assert_eq!(value, next, "the value was lost");
                break err;
            }
        }
        assert!(v.len() * 8 < RUNAWAY, "the limit was not enforced");
    };
    assert!(!v.is_empty(), "failed at once: {err}");
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64), "an element changed");
    err
}

/// Inserts into `pool` until it fails, recording the handles in `handles`, whose capacity
/// the caller reserved before lowering the limit (a growing `Vec` would meet the limit
/// first, and abort).
fn fill_pool(pool: &mut Pool<[u64; 4]>, handles: &mut Vec<vmem::Handle>) -> Error {
    let err = loop {
        assert!(handles.len() < handles.capacity(), "the limit was not enforced");
        let i = handles.len() as u64;
        match pool.try_insert([i; 4]) {
            Ok(handle) => handles.push(handle),
            Err((value, err)) => {
                assert_eq!(value, [i; 4], "the value was lost");
                break err;
            }
        }
    };
    assert!(!handles.is_empty(), "failed at once: {err}");
    for (i, &h) in handles.iter().enumerate() {
        assert_eq!(pool.get(h), Some(&[i as u64; 4]), "value {i} changed");
    }
    err
}

fn fill_concurrent_vec(v: &ConcurrentVec<u64>) -> Error {
    let err = loop {
        let next = v.len() as u64;
        match v.try_push(next) {
            Ok(index) => assert_eq!(index as u64, next),
            Err((value, err)) => {
                assert_eq!(value, next, "the value was lost");
                break err;
            }
        }
        assert!(v.len() * 8 < RUNAWAY, "the limit was not enforced");
    };
    assert!(!v.is_empty(), "failed at once: {err}");
    assert!((0..v.len()).all(|i| v.get(i) == Some(&(i as u64))), "an element changed");
    err
}

/// Creates 16 MiB ring buffers, each holding a message, until creation fails; checks every
/// message; returns the rings and the error.
fn fill_rings() -> (Vec<RingBuffer>, Error) {
    let mut rings = Vec::new();
    let err = loop {
        match RingBuffer::with_capacity(16 * MIB) {
            Ok(mut ring) => {
                let message = format!("ring {}", rings.len());
                assert_eq!(ring.push_slice(message.as_bytes()), message.len());
                rings.push(ring);
            }
            Err(err) => break err,
        }
        assert!(rings.len() * 32 * MIB < RUNAWAY, "the limit was not enforced");
    };
    for (i, ring) in rings.iter().enumerate() {
        assert_eq!(ring.readable(), format!("ring {i}").as_bytes());
    }
    (rings, err)
}

// ---------------------------------------------------------------------------------------
// RLIMIT_DATA
// ---------------------------------------------------------------------------------------

#[test]
fn rlimit_data_arena() {
    common::in_child("rlimit_data_arena", || {
        common::set_limit(Resource::Data, 128 << 20);
        let mut arena = Arena::new();
        let err = fill_arena(&arena);
        assert_names(&err, &[ErrorKind::OutOfMemory], "RLIMIT_DATA");
        arena.reset(); // gives the memory back, so the next round fits again
        assert_eq!(*arena.try_alloc(9u64).unwrap(), 9);
        let sync = Arena::builder().build_sync().unwrap();
        let err = loop {
            if let Err(err) = sync.try_alloc_slice_fill_with(4 * MIB, |_| 1u8) {
                break err;
            }
        };
        assert_names(&err, &[ErrorKind::OutOfMemory], "RLIMIT_DATA");
    })
    .assert_success();
}

#[test]
fn rlimit_data_virtual_vec() {
    common::in_child("rlimit_data_virtual_vec", || {
        common::set_limit(Resource::Data, 128 << 20);
        let mut v = VirtualVec::new();
        let err = fill_virtual_vec(&mut v);
        assert_names(&err, &[ErrorKind::OutOfMemory], "RLIMIT_DATA");
        let len = v.len();
        v.truncate(len / 2);
        v.shrink_to_fit(); // decommits: room to grow again
        v.try_push(7).unwrap();
        assert_eq!(v[len / 2], 7);
    })
    .assert_success();
}

#[test]
fn rlimit_data_pool() {
    common::in_child("rlimit_data_pool", || {
        // 32 MiB of handles, more than fit in the rest of the limit as slots.
        let mut handles = Vec::with_capacity(4 << 20);
        common::set_limit(Resource::Data, 128 << 20);
        let mut pool = Pool::new();
        let err = fill_pool(&mut pool, &mut handles);
        assert_names(&err, &[ErrorKind::OutOfMemory], "RLIMIT_DATA");
        // A freed slot is reused without committing anything.
        assert_eq!(pool.remove(handles[3]), Some([3; 4]));
        let again = pool.try_insert([99; 4]).unwrap();
        assert_eq!(pool.get(again), Some(&[99; 4]));
        assert_eq!(pool.get(handles[3]), None);
    })
    .assert_success();
}

#[test]
fn rlimit_data_concurrent_vec() {
    common::in_child("rlimit_data_concurrent_vec", || {
        common::set_limit(Resource::Data, 128 << 20);
        let v = ConcurrentVec::new();
        let err = fill_concurrent_vec(&v);
        assert_names(&err, &[ErrorKind::OutOfMemory], "RLIMIT_DATA");
        // Iteration sees exactly what was pushed. (No new thread here: its stack would be
        // data memory too, and the limit is reached.)
        assert_eq!(v.iter().copied().sum::<u64>(), (0..v.len() as u64).sum());
    })
    .assert_success();
}

#[test]
fn rlimit_data_does_not_limit_ring_buffers() {
    common::in_child("rlimit_data_does_not_limit_ring_buffers", || {
        common::set_limit(Resource::Data, 128 << 20);
        // Shared memory is not data: 256 MiB of rings under a 128 MiB RLIMIT_DATA.
        let rings: Vec<RingBuffer> = (0..16).map(|_| RingBuffer::with_capacity(16 * MIB).unwrap()).collect();
        for mut ring in rings {
            let n = ring.capacity();
            assert_eq!(ring.push_slice(&vec![1u8; n]), n);
        }
    })
    .assert_success();
}

// ---------------------------------------------------------------------------------------
// RLIMIT_AS
// ---------------------------------------------------------------------------------------

#[test]
fn rlimit_as_arena() {
    let outcome = common::in_child("rlimit_as_arena", || {
        common::limit_address_space(512 << 20);
        // The default 64 GiB block cannot be reserved: the arena falls back to smaller ones,
        // and fails only when no block large enough is left.
        let arena = Arena::new();
        let err = fill_arena(&arena);
        assert_names(&err, &[ErrorKind::OutOfAddressSpace], "RLIMIT_AS");
        assert!(arena.allocated_bytes() >= 128 * MIB, "{}", arena.allocated_bytes());
        assert!(arena.try_alloc(1u8).is_ok() || arena.try_alloc_slice_fill_with(MIB, |_| 0u8).is_err());
    });
    if !common::under_sanitizer() {
        outcome.assert_success();
    }
}

#[test]
fn rlimit_as_virtual_vec() {
    let outcome = common::in_child("rlimit_as_virtual_vec", || {
        common::limit_address_space(512 << 20);
        let mut v = VirtualVec::new(); // falls back to what fits
        let err = fill_virtual_vec(&mut v);
        assert!(v.len() >= (128 * MIB) / 8, "{}", v.len());
        // Full at the maximum the fallback could reserve: the error says so.
        assert_eq!(v.len(), v.max_capacity());
        assert_names(&err, &[ErrorKind::OutOfMemory, ErrorKind::OutOfAddressSpace], "maximum");
        // An explicit maximum beyond the limit is refused at once, naming RLIMIT_AS.
        let err = VirtualVec::<u64>::with_max_capacity(1 << 30).unwrap_err();
        assert_names(&err, &[ErrorKind::OutOfAddressSpace], "RLIMIT_AS");
        assert_eq!(v.pop(), Some(v.len() as u64));
    });
    if !common::under_sanitizer() {
        outcome.assert_success();
    }
}

#[test]
fn rlimit_as_pool_and_concurrent_vec() {
    let outcome = common::in_child("rlimit_as_pool_and_concurrent_vec", || {
        let mut handles = Vec::with_capacity((1 << 20) + 1);
        common::limit_address_space(512 << 20);
        let err = Pool::<[u64; 4]>::with_max_capacity(1 << 30).unwrap_err();
        assert_names(&err, &[ErrorKind::OutOfAddressSpace], "RLIMIT_AS");
        let err = ConcurrentVec::<u64>::with_max_capacity(1 << 30).unwrap_err();
        assert_names(&err, &[ErrorKind::OutOfAddressSpace], "RLIMIT_AS");
        // Sized to fit, both fill up to their maximum and stay usable.
        let mut pool = Pool::with_max_capacity(1 << 20).unwrap();
        let err = fill_pool(&mut pool, &mut handles);
        assert_eq!(handles.len(), 1 << 20);
        assert_names(&err, &[ErrorKind::OutOfMemory, ErrorKind::OutOfBounds, ErrorKind::InvalidArgument], "maximum");
        let v = ConcurrentVec::with_max_capacity(1 << 20).unwrap();
        let err = fill_concurrent_vec(&v);
        assert_eq!(v.len(), 1 << 20);
        assert_names(&err, &[ErrorKind::OutOfMemory, ErrorKind::OutOfBounds, ErrorKind::InvalidArgument], "maximum");
    });
    if !common::under_sanitizer() {
        outcome.assert_success();
    }
}

#[test]
fn rlimit_as_ring_buffers() {
    let outcome = common::in_child("rlimit_as_ring_buffers", || {
        common::limit_address_space(512 << 20);
        let (mut rings, err) = fill_rings();
        assert!(rings.len() >= 4, "only {} rings", rings.len());
        assert_names(&err, &[ErrorKind::OutOfAddressSpace, ErrorKind::OutOfMemory], "RLIMIT_AS");
        // Dropping one makes room for another.
        rings.pop();
        let mut ring = RingBuffer::with_capacity(16 * MIB).unwrap();
        ring.push_slice(b"again");
        assert_eq!(ring.readable(), b"again");
    });
    if !common::under_sanitizer() {
        outcome.assert_success();
    }
}

// ---------------------------------------------------------------------------------------
// RLIMIT_MEMLOCK
// ---------------------------------------------------------------------------------------

#[test]
fn rlimit_memlock_locked_arena() {
    common::in_child("rlimit_memlock_locked_arena", || {
        limit_locked_memory(8 << 20);
        let arena = Arena::builder().lock_memory(true).commit_step(MIB).build().unwrap();
        let err = fill_arena(&arena);
        assert_names(&err, &[ErrorKind::OutOfMemory, ErrorKind::PermissionDenied], "RLIMIT_MEMLOCK");
        // What was allocated is locked: within the limit.
        assert!(arena.committed_bytes() <= 8 * MIB, "{}", arena.committed_bytes());
        // A failed step was undone: the next small allocation fits in what is committed.
        assert!(arena.try_alloc(1u8).is_ok());
    })
    .assert_success();
}

#[test]
fn rlimit_memlock_ring_buffer_lock() {
    common::in_child("rlimit_memlock_ring_buffer_lock", || {
        limit_locked_memory(1 << 20);
        let mut small = RingBuffer::with_capacity(256 << 10).unwrap();
        small.push_slice(b"kept");
        small.lock().unwrap();
        let mut big = RingBuffer::with_capacity(16 * MIB).unwrap();
        big.push_slice(b"also kept");
        let err = big.lock().unwrap_err();
        assert_names(&err, &[ErrorKind::OutOfMemory, ErrorKind::PermissionDenied], "RLIMIT_MEMLOCK");
        assert_eq!(big.readable(), b"also kept");
        assert_eq!(small.readable(), b"kept");
        big.push_slice(b"!");
        assert_eq!(big.readable(), b"also kept!");
        small.unlock().unwrap();
    })
    .assert_success();
}

#[test]
fn rlimit_memlock_does_not_limit_structures_that_do_not_lock() {
    common::in_child("rlimit_memlock_does_not_limit_structures_that_do_not_lock", || {
        limit_locked_memory(64 << 10);
        let arena = Arena::new();
        assert_eq!(arena.alloc_slice_fill_with(32 * MIB, |_| 3u8).len(), 32 * MIB);
        let mut v = VirtualVec::new();
        v.extend(0..(4 * MIB) as u64);
        let mut pool = Pool::new();
        let h = pool.insert([1u64; 4]);
        let cv = ConcurrentVec::new();
        (0..MIB as u64).for_each(|i| {
            cv.push(i);
        });
        let mut ring = RingBuffer::with_capacity(16 * MIB).unwrap();
        ring.push_slice(&vec![5u8; 16 * MIB]);
        assert_eq!((v.len(), pool.get(h), cv.len(), ring.len()), (4 * MIB, Some(&[1; 4]), MIB, 16 * MIB));
    })
    .assert_success();
}
