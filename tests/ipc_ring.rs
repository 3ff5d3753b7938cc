//! `IpcRing`: streams between processes, wrap-around, dead peers, garbage positions,
//! timeouts, leaks.
#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use vmem::{ErrorKind, IpcRing, Side};

/// The byte at stream position `i`.
fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 11)) as u8
}

fn spawn_child(name: &str, env: &[(&str, String)]) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([name, "--exact", "--nocapture", "--test-threads=1"]).env("VMEM_TEST_CHILD", name);
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().unwrap()
}

fn is_child(name: &str) -> bool {
    std::env::var("VMEM_TEST_CHILD").as_deref() == Ok(name)
}

/// The ring the parent left open for this child.
fn inherited_ring() -> IpcRing {
    let fd: i32 = std::env::var("VMEM_RING_FD").unwrap().parse().unwrap();
    // SAFETY: the parent left this descriptor open across exec for us; nothing else owns it.
    IpcRing::from_fd(unsafe { OwnedFd::from_raw_fd(fd) }).unwrap()
}

fn spawn_with_ring(name: &str, ring: &IpcRing) -> Child {
    ring.set_inheritable(true).unwrap();
    let child = spawn_child(name, &[("VMEM_RING_FD", ring.as_raw_fd().to_string())]);
    ring.set_inheritable(false).unwrap();
    child
}

const STREAM: u64 = 64 << 20;

/// Writes `STREAM` bytes of the pattern in chunks of varying sizes.
fn produce(ring: &mut IpcRing) {
    let mut position = 0u64;
    let mut chunk = vec![0u8; 100_000];
    let mut size = 1usize;
    while position < STREAM {
        size = (size * 7 + 13) % chunk.len() + 1;
        let n = size.min((STREAM - position) as usize);
        for (k, b) in chunk[..n].iter_mut().enumerate() {
            *b = pattern(position + k as u64);
        }
        ring.write_all(&chunk[..n]).unwrap();
        position += n as u64;
    }
}

/// Reads the whole stream, checking every byte, then expects end of file.
fn consume(ring: &mut IpcRing) {
    let mut position = 0u64;
    let mut buf = vec![0u8; 77_777];
    while position < STREAM {
        let n = ring.read(&mut buf).unwrap();
        assert!(n > 0, "end of file at {position}");
        for (k, &b) in buf[..n].iter().enumerate() {
            assert_eq!(b, pattern(position + k as u64), "byte {}", position + k as u64);
        }
        position += n as u64;
    }
    assert_eq!(ring.read(&mut buf).unwrap(), 0, "end of file after the producer closed");
}

#[test]
fn a_stream_from_a_child_process() {
    let mut ring = IpcRing::create(64 << 10, Side::Consumer).unwrap();
    ring.set_timeout(Some(Duration::from_secs(60)));
    let mut child = spawn_with_ring("producer_child", &ring);
    consume(&mut ring);
    assert!(child.wait().unwrap().success());
}

/// The child of `a_stream_from_a_child_process`.
#[test]
fn producer_child() {
    if !is_child("producer_child") {
        return;
    }
    let mut ring = inherited_ring();
    assert_eq!(ring.side(), Side::Producer);
    produce(&mut ring);
}

#[test]
fn a_stream_to_a_child_process_over_a_socket() {
    let (mine, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut ring = IpcRing::create(4096, Side::Producer).unwrap();
    ring.set_timeout(Some(Duration::from_secs(60)));
    // The child inherits its end of the socket pair and receives the ring over it.
    let theirs_fd = OwnedFd::from(theirs);
    rustix::io::fcntl_setfd(&theirs_fd, rustix::io::FdFlags::empty()).unwrap();
    let mut child = spawn_child("consumer_child", &[("VMEM_SOCKET_FD", theirs_fd.as_raw_fd().to_string())]);
    drop(theirs_fd);
    ring.send_to(&mine).unwrap();
    produce(&mut ring);
    drop(ring);
    assert!(child.wait().unwrap().success());
}

/// The child of `a_stream_to_a_child_process_over_a_socket`.
#[test]
fn consumer_child() {
    if !is_child("consumer_child") {
        return;
    }
    let fd: i32 = std::env::var("VMEM_SOCKET_FD").unwrap().parse().unwrap();
    // SAFETY: the parent left this descriptor open across exec for us.
    let socket = std::os::unix::net::UnixStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut ring = IpcRing::receive_from(&socket).unwrap();
    assert_eq!(ring.side(), Side::Consumer);
    consume(&mut ring);
}

#[test]
fn threads_through_a_small_ring_keep_order_across_wraps() {
    let mut producer = IpcRing::create(1, Side::Producer).unwrap();
    let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    let writer = std::thread::spawn(move || produce(&mut producer));
    consume(&mut consumer);
    writer.join().unwrap();
}

fn kill(child: &Child) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
}

#[test]
fn a_killed_producer_is_reported_not_waited_for() {
    let mut ring = IpcRing::create(4096, Side::Consumer).unwrap();
    let mut child = spawn_with_ring("stalled_producer_child", &ring);
    let mut buf = [0u8; 5];
    ring.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    kill(&child);
    // Not reaped yet: the child is a zombie, which must count as dead.
    let started = Instant::now();
    let err = ring.read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let _ = child.wait();
}

/// The child of `a_killed_producer_is_reported_not_waited_for`: writes, then hangs.
#[test]
fn stalled_producer_child() {
    if !is_child("stalled_producer_child") {
        return;
    }
    let mut ring = inherited_ring();
    ring.write_all(b"hello").unwrap();
    std::thread::sleep(Duration::from_secs(100));
}

#[test]
fn a_killed_consumer_is_reported_to_a_blocked_producer() {
    let mut ring = IpcRing::create(4096, Side::Producer).unwrap();
    let mut child = spawn_with_ring("stalled_consumer_child", &ring);
    // Fill the ring; the next write blocks until the kill is found.
    let full = vec![1u8; ring.capacity()];
    ring.write_all(&full).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    kill(&child);
    let err = ring.write(b"more").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    let _ = child.wait();
}

/// The child of `a_killed_consumer_is_reported_to_a_blocked_producer`: attaches, never reads.
#[test]
fn stalled_consumer_child() {
    if !is_child("stalled_consumer_child") {
        return;
    }
    let _ring = inherited_ring();
    std::thread::sleep(Duration::from_secs(100));
}

#[test]
fn a_closed_peer_is_end_of_file_or_disconnected() {
    let mut producer = IpcRing::create(1, Side::Producer).unwrap();
    let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    producer.write_all(b"last words").unwrap();
    drop(producer);
    let mut text = String::new();
    consumer.read_to_string(&mut text).unwrap();
    assert_eq!(text, "last words");

    let producer_side = IpcRing::create(1, Side::Consumer).unwrap();
    let mut producer = IpcRing::from_fd(producer_side.as_fd().try_clone_to_owned().unwrap()).unwrap();
    drop(producer_side);
    assert_eq!(producer.write(b"x").unwrap_err().kind(), ErrorKind::Disconnected);
}

#[test]
fn timeouts_wrong_sides_and_taken_rings() {
    let mut producer = IpcRing::create(1, Side::Producer).unwrap();
    let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    assert_eq!(
        IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    assert_eq!(producer.read(&mut [0u8; 1]).unwrap_err().kind(), ErrorKind::PermissionDenied);
    assert_eq!(consumer.write(b"x").unwrap_err().kind(), ErrorKind::PermissionDenied);
    assert_eq!(producer.write(b"").unwrap(), 0);
    assert_eq!(consumer.read(&mut []).unwrap(), 0);
    consumer.set_timeout(Some(Duration::from_millis(30)));
    let started = Instant::now();
    assert_eq!(consumer.read(&mut [0u8; 1]).unwrap_err().kind(), ErrorKind::TimedOut);
    assert!(started.elapsed() >= Duration::from_millis(30));
    producer.set_timeout(Some(Duration::from_millis(30)));
    producer.write_all(&vec![0u8; producer.capacity()]).unwrap();
    assert_eq!(producer.write(b"x").unwrap_err().kind(), ErrorKind::TimedOut);
    assert_eq!(IpcRing::create(0, Side::Producer).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(IpcRing::create(usize::MAX, Side::Producer).unwrap_err().kind(), ErrorKind::OutOfAddressSpace);
    assert_eq!(IpcRing::create(usize::MAX / 2, Side::Producer).unwrap_err().kind(), ErrorKind::OutOfAddressSpace);
    let file = std::fs::File::open("/dev/null").unwrap();
    assert!(IpcRing::from_fd(file.into()).is_err());
}

#[test]
fn garbage_positions_never_reach_outside_the_ring() {
    let mut producer = IpcRing::create(1, Side::Producer).unwrap();
    let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    // A third mapping of the header plays the misbehaving peer.
    let page = vmem::allocation_granularity();
    // SAFETY: a fresh shared mapping of the ring's header page, unmapped below.
    let header = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            page,
            rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
            rustix::mm::MapFlags::SHARED,
            producer.as_fd(),
            0,
        )
    }
    .unwrap()
    .cast::<u8>();
    let tail = header.wrapping_add(128).cast::<std::sync::atomic::AtomicU64>();
    let head = header.wrapping_add(256).cast::<std::sync::atomic::AtomicU64>();
    producer.write_all(b"abc").unwrap();
    for garbage in [u64::MAX, producer.capacity() as u64 + 4, 1 << 40] {
        // SAFETY: inside the mapping made above; the library uses these words atomically.
        unsafe { (*tail).store(garbage, std::sync::atomic::Ordering::SeqCst) };
        let err = consumer.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{garbage}: {err}");
        // SAFETY: as above.
        unsafe { (*head).store(garbage, std::sync::atomic::Ordering::SeqCst) };
        // The producer looks at `head` only when its cached room is short of what it writes.
        let err = producer.write(&vec![1u8; producer.capacity()]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{garbage}: {err}");
    }
    // Honest values again: everything still works, the bytes are intact.
    // SAFETY: as above.
    unsafe {
        (*tail).store(3, std::sync::atomic::Ordering::SeqCst);
        (*head).store(0, std::sync::atomic::Ordering::SeqCst);
    }
    let mut buf = [0u8; 3];
    consumer.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"abc");
    // SAFETY: the mapping made above, used no more.
    unsafe { rustix::mm::munmap(header.cast(), page).unwrap() };
}

#[cfg(target_os = "linux")]
#[test]
fn no_descriptor_or_mapping_leaks() {
    common::in_child("no_descriptor_or_mapping_leaks", || {
        let count = || std::fs::read_dir("/proc/self/fd").unwrap().count();
        let maps = || std::fs::read_to_string("/proc/self/maps").unwrap().lines().count();
        let (fds, mappings) = (count(), maps());
        for _ in 0..200 {
            let mut producer = IpcRing::create(64 << 10, Side::Producer).unwrap();
            let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
            producer.write_all(b"x").unwrap();
            consumer.read_exact(&mut [0u8]).unwrap();
            let _ = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap_err();
        }
        assert_eq!(count(), fds);
        // 200 rounds: a leak would be 200 mappings or more.
        assert!(maps() <= mappings + common::mapping_slack(), "{} mappings, {mappings} before", maps());
    })
    .assert_success();
}
