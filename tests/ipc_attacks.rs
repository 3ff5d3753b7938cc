//! `IpcRing` under attack: lost wake-ups with fence-less publishing (both directions, the
//! waiting side really sleeping), `fork` without `exec`, a lying header, edge amounts, and
//! peers that close or die during in-place waits.
#![cfg(unix)]

mod common;

use common::ipc::*;

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vmem::{ErrorKind, IpcRing, Side};

/// Nanoseconds on the system-wide monotonic clock (the same in every process).
fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// A pause of 0 to 300 µs, from a small deterministic generator.
fn pause(rng: &mut common::Xorshift) {
    std::thread::sleep(Duration::from_micros(rng.next_u64() % 300));
}

/// How many hand-overs each wake-up test makes (fewer under a sanitizer, which is slower).
fn handovers() -> usize {
    if common::under_sanitizer() {
        600
    } else {
        3000
    }
}

/// A lost wake-up costs the 10 ms liveness slice; this VM is noisy, so one slow wait proves
/// nothing. Flags only when many waits (more than 5, and more than 2%) took longer than 8 ms.
fn check_latencies(what: &str, mut ns: Vec<u64>) {
    ns.sort_unstable();
    let n = ns.len();
    let at = |q: f64| ns[((n as f64 * q) as usize).min(n - 1)] as f64 / 1000.0;
    let over = |ms: u64| ns.iter().filter(|&&x| x > ms * 1_000_000).count();
    let (over5, over8) = (over(5), over(8));
    eprintln!(
        "{what}: {n} waits, µs p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}; >1 ms {}, >5 ms {over5}, >8 ms {over8}",
        at(0.5),
        at(0.9),
        at(0.99),
        at(0.999),
        at(1.0),
        over(1),
    );
    assert!(over8 <= 5.max(n / 50), "{what}: {over8} of {n} waits took more than 8 ms: lost wake-ups");
}

/// Consumer sleeping on an empty ring, across processes: the child producer pauses 0–300 µs
/// (so the parent's spinning and yielding run out and it sleeps on the futex), then writes
/// the time; the parent measures how long after that its read returned.
#[test]
fn a_sleeping_consumer_is_woken_at_once_across_processes() {
    let mut ring = IpcRing::create(4096, Side::Consumer).unwrap();
    let mut child = spawn_with_ring("pausing_producer_child", &ring);
    let mut latencies = Vec::with_capacity(handovers());
    let mut buf = [0u8; 8];
    for _ in 0..handovers() {
        ring.read_exact(&mut buf).unwrap();
        latencies.push(now_ns().saturating_sub(u64::from_ne_bytes(buf)));
    }
    assert_eq!(ring.read(&mut buf).unwrap(), 0, "end of file");
    assert!(child.wait().unwrap().success());
    check_latencies("consumer sleeping, across processes", latencies);
}

/// The child of `a_sleeping_consumer_is_woken_at_once_across_processes`.
#[test]
fn pausing_producer_child() {
    if !is_child("pausing_producer_child") {
        return;
    }
    let mut ring = inherited_ring();
    let header = Header::map(&ring);
    let mut rng = common::Xorshift::new(0x9e37_79b9_7f4a_7c15);
    let mut asleep = 0;
    for _ in 0..handovers() {
        pause(&mut rng);
        asleep += header.u32_at(CONSUMER_SLEEPING_AT).load(Ordering::SeqCst);
        ring.write_all(&now_ns().to_ne_bytes()).unwrap();
    }
    eprintln!("consumer found asleep before {asleep} of {} writes", handovers());
    // Under a sanitizer the instrumented side is too slow to run out of work: no claim.
    assert!(common::under_sanitizer() || asleep as usize >= handovers() / 4, "the consumer seldom slept: {asleep}");
}

/// Producer sleeping on a full ring, across threads (fence-less publishing works the same
/// between threads of registered processes): the consumer waits for a full ring, pauses,
/// notes the time and frees all of it; the producer measures how long after that its
/// `wait_writable(capacity)` returned.
#[test]
fn a_sleeping_producer_is_woken_at_once_across_threads() {
    let mut producer = IpcRing::create(1, Side::Producer).unwrap();
    let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    let capacity = producer.capacity();
    let freed_at = Arc::new(AtomicU64::new(0));
    let reader = {
        let freed_at = Arc::clone(&freed_at);
        std::thread::spawn(move || {
            let header = Header::map(&consumer);
            let mut asleep = 0;
            let mut rng = common::Xorshift::new(0x2545_f491_4f6c_dd1d);
            for round in 0..handovers() {
                // SAFETY: the producer is an `IpcRing`.
                let full = unsafe { consumer.wait_readable(capacity) }.unwrap();
                assert!(full.iter().all(|&b| b == round as u8), "round {round}");
                pause(&mut rng);
                asleep += header.u32_at(PRODUCER_SLEEPING_AT).load(Ordering::SeqCst);
                freed_at.store(now_ns(), Ordering::Release);
                consumer.advance_read(capacity).unwrap();
            }
            asleep
        })
    };
    let mut latencies = Vec::with_capacity(handovers());
    for round in 0..handovers() {
        // SAFETY: the consumer is an `IpcRing`.
        let room = unsafe { producer.wait_writable(capacity) }.unwrap();
        if round > 0 {
            latencies.push(now_ns().saturating_sub(freed_at.load(Ordering::Acquire)));
        }
        room[..capacity].fill(round as u8);
        producer.advance_write(capacity).unwrap();
    }
    let asleep = reader.join().unwrap();
    eprintln!("producer found asleep before {asleep} of {} hand-backs", handovers());
    // Under a sanitizer the instrumented side is too slow to run out of work: no claim.
    assert!(common::under_sanitizer() || asleep as usize >= handovers() / 4, "the producer seldom slept: {asleep}");
    check_latencies("producer sleeping, across threads", latencies);
}

/// `fork` without `exec` while a ring exists (the parent registered for fence-less
/// publishing; the child inherits the mapping and a copy of both `IpcRing`s and publishes
/// with the fence): hand-overs in both directions with pauses keep working, no wait is
/// lost, and the child's close is end of file / disconnected for the parent.
#[test]
fn a_forked_child_keeps_using_an_inherited_ring() {
    common::in_child("a_forked_child_keeps_using_an_inherited_ring", || {
        let mut producer = IpcRing::create(1, Side::Producer).unwrap();
        let consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
        let capacity = producer.capacity();
        // Rounds: a small message (the child sleeps on an empty ring), then a full ring (the
        // parent sleeps on a full ring while the child pauses before reading it).
        let rounds = handovers() / 4;
        // SAFETY: the test process runs one thread here (libtest with one test thread in
        // the child run); the child uses only the ring, the allocator (fork-safe in glibc)
        // and `_exit`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            std::mem::forget(producer);
            // A panic must end the forked child, not unwind into the test harness's copy.
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| forked_consumer(consumer, rounds)))
                .unwrap_or(3);
            // SAFETY: ends the forked child without running the test harness's exit path.
            unsafe { libc::_exit(code) };
        }
        std::mem::forget(consumer);
        let mut rng = common::Xorshift::new(0xdead_beef_cafe_f00d);
        let mut slow = 0usize;
        let mut block = vec![0u8; capacity];
        for round in 0..rounds {
            pause(&mut rng);
            producer.write_all(&(round as u64).to_ne_bytes()).unwrap();
            block.fill(round as u8);
            // The 8 bytes take room the child frees only after its pause: the parent sleeps.
            let started = Instant::now();
            producer.write_all(&block).unwrap();
            // What the wait took beyond the child's pause (at most 300 µs plus a sleep's
            // slack) is what matters; 8 ms is far beyond both.
            slow += usize::from(started.elapsed() > Duration::from_millis(8));
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "child status {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), 0, "child: 1 = wrong bytes, 2 = lost wake-ups");
        eprintln!("fork: parent waits on a full ring > 8 ms: {slow} of {rounds}");
        assert!(slow <= 5.max(rounds / 50), "parent: {slow} of {rounds} waits took more than 8 ms");
        // The child closed its (inherited) consumer side: the parent is told so.
        assert_eq!(producer.write(b"x").unwrap_err().kind(), ErrorKind::Disconnected);
    })
    .assert_success();
}

/// The forked child of `a_forked_child_keeps_using_an_inherited_ring`: its exit code.
fn forked_consumer(mut consumer: IpcRing, rounds: usize) -> i32 {
    let capacity = consumer.capacity();
    let mut slow = 0u32;
    let mut rng = common::Xorshift::new(0x1234_5678_9abc_def1);
    let mut buf = vec![0u8; capacity];
    let mut ok = true;
    for round in 0..rounds {
        let started = Instant::now();
        consumer.read_exact(&mut buf[..8]).unwrap();
        slow += u32::from(started.elapsed() > Duration::from_millis(8));
        ok &= buf[..8] == (round as u64).to_ne_bytes();
        pause(&mut rng);
        consumer.read_exact(&mut buf).unwrap();
        ok &= buf.iter().all(|&b| b == round as u8);
    }
    drop(consumer);
    if !ok {
        1
    } else if slow as usize > 5.max(rounds / 50) {
        2
    } else {
        0
    }
}

/// Garbage in the flags word or the version is refused by `from_fd`, which then takes no
/// side: with honest values again, the ring opens and works.
#[test]
fn garbage_flags_and_versions_are_refused_before_a_side_is_taken() {
    let mut producer = IpcRing::create(1, Side::Producer).unwrap();
    let header = Header::map(&producer);
    let open = || IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap());
    let flags = header.u32_at(FLAGS_AT).load(Ordering::SeqCst);
    assert!(flags <= 1, "flags {flags:#x}");
    for garbage in [2, 3, 0x8000_0000, 0x8000_0001, u32::MAX] {
        header.u32_at(FLAGS_AT).store(garbage, Ordering::SeqCst);
        assert_eq!(open().unwrap_err().kind(), ErrorKind::InvalidData, "flags {garbage:#x}");
    }
    header.u32_at(FLAGS_AT).store(flags, Ordering::SeqCst);
    let version = header.u32_at(VERSION_AT).load(Ordering::SeqCst);
    for garbage in [0, 1, 3, version.swap_bytes(), u32::MAX] {
        header.u32_at(VERSION_AT).store(garbage, Ordering::SeqCst);
        assert_eq!(open().unwrap_err().kind(), ErrorKind::InvalidData, "version {garbage:#x}");
    }
    header.u32_at(VERSION_AT).store(version, Ordering::SeqCst);
    // A peer that flips FENCELESS off (or on) only changes how positions are published.
    header.u32_at(FLAGS_AT).store(flags ^ 1, Ordering::SeqCst);
    let mut consumer = open().unwrap();
    producer.write_all(b"still works").unwrap();
    let mut buf = [0u8; 11];
    consumer.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"still works");
}

/// Positions that lie while a zero-copy slice is out: the slice was cut from checked
/// positions and stays inside the ring; handing it back uses the checked figures; the next
/// look at the lie is `InvalidData`; honest values again and all is well.
#[test]
fn positions_that_lie_while_a_slice_is_out_never_reach_outside_the_ring() {
    let mut producer = IpcRing::create(1, Side::Producer).unwrap();
    let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    let header = Header::map(&producer);
    let capacity = producer.capacity();
    producer.write_all(b"abcdef").unwrap();
    // SAFETY: the producer is an `IpcRing`; the lie goes into the header, not the data.
    let slice = unsafe { consumer.readable() }.unwrap();
    header.u64_at(TAIL_AT).store(u64::MAX, Ordering::SeqCst);
    assert_eq!(slice, b"abcdef");
    consumer.advance_read(4).unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { consumer.wait_readable(2) }.unwrap(), b"ef", "cached, not looked at");
    // SAFETY: as above.
    assert_eq!(unsafe { consumer.wait_readable(3) }.unwrap_err().kind(), ErrorKind::InvalidData);
    assert_eq!(consumer.advance_read(3).unwrap_err().kind(), ErrorKind::InvalidData);
    header.u64_at(TAIL_AT).store(6, Ordering::SeqCst);
    consumer.advance_read(2).unwrap();

    // The producer's room: a slice, then a lying head.
    // SAFETY: the consumer is an `IpcRing`.
    let room = unsafe { producer.writable() }.unwrap();
    assert_eq!(room.len(), capacity);
    for garbage in [u64::MAX, 6 + capacity as u64 + 1, 5] {
        header.u64_at(HEAD_AT).store(garbage, Ordering::SeqCst);
        // SAFETY: as above.
        assert_eq!(unsafe { producer.writable() }.unwrap_err().kind(), ErrorKind::InvalidData, "{garbage}");
    }
    header.u64_at(HEAD_AT).store(6, Ordering::SeqCst);
    // SAFETY: as above.
    let room = unsafe { producer.wait_writable(capacity) }.unwrap();
    room.fill(7);
    producer.advance_write(capacity).unwrap();
    // SAFETY: the producer is an `IpcRing`.
    let all = unsafe { consumer.wait_readable(capacity) }.unwrap();
    assert_eq!(all.len(), capacity);
    assert!(all.iter().all(|&b| b == 7));
}

/// `advance_*` by `usize::MAX`, `capacity + 1`, `capacity` (too many unless the ring is
/// full / empty), and `wait_*` with `min` of zero, `capacity`, `capacity + 1`, `usize::MAX`.
#[test]
fn edge_amounts_are_errors_or_exact_never_panics() {
    let mut producer = IpcRing::create(1, Side::Producer).unwrap();
    let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    producer.set_timeout(Some(Duration::from_millis(30)));
    consumer.set_timeout(Some(Duration::from_millis(30)));
    let capacity = producer.capacity();
    for n in [usize::MAX, capacity + 1, capacity] {
        assert_eq!(consumer.advance_read(n).unwrap_err().kind(), ErrorKind::OutOfBounds, "{n}");
    }
    for n in [usize::MAX, usize::MAX - capacity + 1, capacity + 1] {
        assert_eq!(producer.advance_write(n).unwrap_err().kind(), ErrorKind::OutOfBounds, "{n}");
    }
    for min in [capacity + 1, usize::MAX] {
        // SAFETY: both sides are `IpcRing`s.
        unsafe {
            assert_eq!(consumer.wait_readable(min).unwrap_err().kind(), ErrorKind::InvalidArgument);
            assert_eq!(producer.wait_writable(min).unwrap_err().kind(), ErrorKind::InvalidArgument);
        }
    }
    // SAFETY: as above.
    unsafe {
        assert!(consumer.wait_readable(0).unwrap().is_empty(), "min 0 on an empty ring does not wait");
        assert_eq!(consumer.wait_readable(1).unwrap_err().kind(), ErrorKind::TimedOut);
        assert_eq!(producer.wait_writable(0).unwrap().len(), capacity);
        assert_eq!(producer.wait_writable(capacity).unwrap().len(), capacity);
    }
    producer.advance_write(capacity).unwrap();
    for n in [usize::MAX, capacity + 1, 1] {
        assert_eq!(producer.advance_write(n).unwrap_err().kind(), ErrorKind::OutOfBounds, "{n}");
    }
    for n in [usize::MAX, capacity + 1] {
        assert_eq!(consumer.advance_read(n).unwrap_err().kind(), ErrorKind::OutOfBounds, "{n}");
    }
    // SAFETY: as above.
    unsafe {
        assert_eq!(consumer.wait_readable(capacity).unwrap().len(), capacity, "a full ring, min = capacity");
        assert_eq!(consumer.wait_readable(0).unwrap().len(), capacity);
        assert!(producer.wait_writable(0).unwrap().is_empty(), "min 0 on a full ring does not wait");
        assert_eq!(producer.wait_writable(1).unwrap_err().kind(), ErrorKind::TimedOut);
    }
    consumer.advance_read(capacity).unwrap();
    assert_eq!(consumer.advance_read(1).unwrap_err().kind(), ErrorKind::OutOfBounds);
    // A closed consumer ends the producer's wait for a full ring's room.
    producer.advance_write(capacity).unwrap();
    producer.set_timeout(None);
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        drop(consumer);
    });
    // SAFETY: as above.
    assert_eq!(unsafe { producer.wait_writable(capacity) }.unwrap_err().kind(), ErrorKind::Disconnected);
    closer.join().unwrap();
}

/// A producer that closes while the consumer waits for more than is left: the rest is handed
/// out, short; then end of file. Many rounds with the close landing at different points of
/// the consumer's wait (spinning, yielding, asleep) — `read` must never lose the last bytes.
#[test]
fn a_close_during_a_wait_for_more_hands_out_the_rest() {
    let rounds = if common::under_sanitizer() { 100 } else { 400 };
    for round in 0..rounds {
        let mut producer = IpcRing::create(1, Side::Producer).unwrap();
        let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
        let writer = std::thread::spawn(move || {
            let mut rng = common::Xorshift::new(0x5555_aaaa_0000_0001 + round as u64);
            producer.write_all(b"abc").unwrap();
            pause(&mut rng);
            producer.write_all(b"def").unwrap();
            drop(producer);
        });
        if round % 2 == 0 {
            // SAFETY: the producer is an `IpcRing`.
            let first = unsafe { consumer.wait_readable(10) }.unwrap().to_vec();
            assert!(first == b"abcdef", "round {round}: {first:?}");
            consumer.advance_read(6).unwrap();
            // SAFETY: as above.
            assert!(unsafe { consumer.wait_readable(10) }.unwrap().is_empty(), "end of file");
        } else {
            let mut all = Vec::new();
            consumer.read_to_end(&mut all).unwrap();
            assert_eq!(all, b"abcdef", "round {round}");
        }
        writer.join().unwrap();
    }
}

/// A producer killed while the consumer waits for more than is left: the rest is handed out
/// (short), then `Disconnected`, each within a few liveness slices.
#[test]
fn a_kill_during_a_wait_for_more_hands_out_the_rest_then_disconnected() {
    let mut ring = IpcRing::create(4096, Side::Consumer).unwrap();
    let mut child = spawn_with_ring("hello_then_hang_child", &ring);
    // SAFETY: the peer is an `IpcRing`.
    assert_eq!(unsafe { ring.wait_readable(5) }.unwrap(), b"hello");
    let pid = child.id();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    });
    let started = Instant::now();
    // SAFETY: as above.
    assert_eq!(unsafe { ring.wait_readable(10) }.unwrap(), b"hello", "the rest, short, after the death");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    ring.advance_read(5).unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { ring.wait_readable(10) }.unwrap_err().kind(), ErrorKind::Disconnected);
    assert_eq!(ring.read(&mut [0u8; 4]).unwrap_err().kind(), ErrorKind::Disconnected);
    killer.join().unwrap();
    let _ = child.wait();
    // The same with the child already dead and reaped before the wait starts.
    let mut ring = IpcRing::create(4096, Side::Consumer).unwrap();
    let mut child = spawn_with_ring("hello_then_hang_child", &ring);
    // SAFETY: as above.
    assert_eq!(unsafe { ring.wait_readable(5) }.unwrap(), b"hello");
    kill(&child);
    let _ = child.wait();
    // SAFETY: as above.
    assert_eq!(unsafe { ring.wait_readable(ring.capacity()) }.unwrap(), b"hello");
}

/// The child of `a_kill_during_a_wait_for_more_hands_out_the_rest_then_disconnected`.
#[test]
fn hello_then_hang_child() {
    if is_child("hello_then_hang_child") {
        write_hello_then_hang();
    }
}

/// A copy of a real ring's header in a new `memfd` of the same size, sealed against
/// shrinking or not: what a malicious peer could send instead of the ring it made.
#[cfg(target_os = "linux")]
fn forged_ring(sealed: bool) -> (IpcRing, OwnedFd) {
    use rustix::fs::{fcntl_add_seals, ftruncate, memfd_create, MemfdFlags, SealFlags};
    let real = IpcRing::create(1, Side::Producer).unwrap();
    let page = vmem::allocation_granularity();
    let forged = memfd_create(c"forged", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING).unwrap();
    ftruncate(&forged, (page + real.capacity()) as u64).unwrap();
    {
        let from = Header::map(&real);
        let to = Header::map(&forged);
        // SAFETY: two distinct page-sized mappings made just now.
        unsafe { to.base.copy_from_nonoverlapping(from.base, page) };
    }
    if sealed {
        fcntl_add_seals(&forged, SealFlags::SHRINK).unwrap();
    }
    (real, forged)
}

/// A peer that sends an object it can truncate later (a `memfd` without the shrink seal)
/// would make every access of the ring's mapping a `SIGBUS` after the truncation: such an
/// object is refused; the same object sealed against shrinking is taken.
#[cfg(target_os = "linux")]
#[test]
fn an_object_the_peer_could_truncate_is_refused() {
    let (_real, forged) = forged_ring(false);
    let err = IpcRing::from_fd(forged.try_clone().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    let (_real, forged) = forged_ring(true);
    let mut consumer = IpcRing::from_fd(forged).unwrap();
    assert_eq!(consumer.side(), Side::Consumer);
    consumer.set_timeout(Some(Duration::from_millis(10)));
    assert_eq!(consumer.read(&mut [0u8; 4]).unwrap_err().kind(), ErrorKind::TimedOut);
}
