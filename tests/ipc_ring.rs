//! `IpcRing`: streams between processes, wrap-around, dead peers, garbage positions,
//! timeouts, leaks.
#![cfg(unix)]

mod common;

use common::ipc::*;

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use vmem::{ErrorKind, IpcRing, Side};

/// The byte at stream position `i`.
fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 11)) as u8
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
fn two_sides_kept_side_by_side_share_no_cache_line() {
    // Each side writes its position into itself on every transfer.
    let producer = IpcRing::create(1, Side::Producer).unwrap();
    let consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    assert!(align_of::<IpcRing>() >= 128 && size_of::<IpcRing>() % 128 == 0);
    let both = [producer, consumer];
    assert!(!common::share_a_128_byte_block(&both[0], &both[1]), "the sides share a 128-byte block");
}

#[test]
fn threads_through_a_small_ring_keep_order_across_wraps() {
    let mut producer = IpcRing::create(1, Side::Producer).unwrap();
    let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    let writer = std::thread::spawn(move || produce(&mut producer));
    consume(&mut consumer);
    writer.join().unwrap();
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
    if is_child("stalled_producer_child") {
        write_hello_then_hang();
    }
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
    let header = Header::map(&producer);
    let (tail, head) = (header.u64_at(TAIL_AT), header.u64_at(HEAD_AT));
    producer.write_all(b"abc").unwrap();
    for garbage in [u64::MAX, producer.capacity() as u64 + 4, 1 << 40] {
        tail.store(garbage, std::sync::atomic::Ordering::SeqCst);
        let err = consumer.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{garbage}: {err}");
        head.store(garbage, std::sync::atomic::Ordering::SeqCst);
        // The producer looks at `head` only when its cached room is short of what it writes.
        let err = producer.write(&vec![1u8; producer.capacity()]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{garbage}: {err}");
    }
    // Honest values again: everything still works, the bytes are intact.
    tail.store(3, std::sync::atomic::Ordering::SeqCst);
    head.store(0, std::sync::atomic::Ordering::SeqCst);
    let mut buf = [0u8; 3];
    consumer.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"abc");
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

// ---- zero-copy access (`wait_readable`, `wait_writable`, `advance_*`) ----

/// Messages of an odd size through a 64 KiB ring, so that most of them straddle the wrap.
const MESSAGE: usize = 1_000;
const MESSAGES: u64 = 20_000;

/// The byte `k` of message `i`.
fn message_byte(i: u64, k: usize) -> u8 {
    pattern(i * MESSAGE as u64 + k as u64)
}

/// Builds every message in place in the ring.
fn produce_in_place(ring: &mut IpcRing) {
    for i in 0..MESSAGES {
        // SAFETY: the peer is an `IpcRing`.
        let room = unsafe { ring.wait_writable(MESSAGE) }.unwrap();
        assert!(room.len() >= MESSAGE);
        for (k, b) in room[..MESSAGE].iter_mut().enumerate() {
            *b = message_byte(i, k);
        }
        ring.advance_write(MESSAGE).unwrap();
    }
}

/// Reads every message in place as one slice, checking every byte, then end of file.
fn consume_in_place(ring: &mut IpcRing) {
    let mut straddled = 0;
    for i in 0..MESSAGES {
        let at = (i as usize * MESSAGE) % ring.capacity();
        if at + MESSAGE > ring.capacity() {
            straddled += 1;
        }
        // SAFETY: the peer is an `IpcRing`.
        let message = unsafe { ring.wait_readable(MESSAGE) }.unwrap();
        assert!(message.len() >= MESSAGE, "message {i}: {} bytes", message.len());
        for (k, &b) in message[..MESSAGE].iter().enumerate() {
            assert_eq!(b, message_byte(i, k), "message {i}, byte {k}");
        }
        ring.advance_read(MESSAGE).unwrap();
    }
    assert!(straddled > 100, "only {straddled} messages crossed the wrap");
    // SAFETY: as above.
    assert!(unsafe { ring.wait_readable(1) }.unwrap().is_empty(), "end of file after the producer closed");
}

#[test]
fn whole_messages_in_place_from_a_child_process_across_the_wrap() {
    let mut ring = IpcRing::create(64 << 10, Side::Consumer).unwrap();
    assert_eq!(ring.capacity(), 64 << 10);
    let mut child = spawn_with_ring("in_place_producer_child", &ring);
    consume_in_place(&mut ring);
    assert!(child.wait().unwrap().success());
}

/// The child of `whole_messages_in_place_from_a_child_process_across_the_wrap`.
#[test]
fn in_place_producer_child() {
    if !is_child("in_place_producer_child") {
        return;
    }
    let mut ring = inherited_ring();
    assert_eq!(ring.side(), Side::Producer);
    produce_in_place(&mut ring);
}

#[test]
fn in_place_and_copying_sides_mix_across_threads() {
    let mut producer = IpcRing::create(64 << 10, Side::Producer).unwrap();
    let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    let writer = std::thread::spawn(move || produce_in_place(&mut producer));
    // A copying reader of an in-place writer.
    let mut buf = vec![0u8; MESSAGE];
    for i in 0..MESSAGES {
        consumer.read_exact(&mut buf).unwrap();
        assert!(buf.iter().enumerate().all(|(k, &b)| b == message_byte(i, k)), "message {i}");
    }
    writer.join().unwrap();
    // An in-place reader of a copying writer.
    let mut producer = IpcRing::create(64 << 10, Side::Producer).unwrap();
    let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    let writer = std::thread::spawn(move || {
        let mut buf = vec![0u8; MESSAGE];
        for i in 0..MESSAGES {
            buf.iter_mut().enumerate().for_each(|(k, b)| *b = message_byte(i, k));
            producer.write_all(&buf).unwrap();
        }
    });
    consume_in_place(&mut consumer);
    writer.join().unwrap();
}

#[test]
fn in_place_errors_change_nothing() {
    let mut producer = IpcRing::create(1, Side::Producer).unwrap();
    let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    let capacity = producer.capacity();
    // SAFETY (every block below): both sides are `IpcRing`s in this process, and no slice
    // outlives the statement that takes it.
    unsafe {
        // Wrong sides.
        assert_eq!(producer.wait_readable(1).unwrap_err().kind(), ErrorKind::PermissionDenied);
        assert_eq!(producer.readable().unwrap_err().kind(), ErrorKind::PermissionDenied);
        assert_eq!(consumer.wait_writable(1).unwrap_err().kind(), ErrorKind::PermissionDenied);
        assert_eq!(consumer.writable().unwrap_err().kind(), ErrorKind::PermissionDenied);
        assert_eq!(producer.advance_read(0).unwrap_err().kind(), ErrorKind::PermissionDenied);
        assert_eq!(consumer.advance_write(0).unwrap_err().kind(), ErrorKind::PermissionDenied);
        // More than the ring could ever hold: refused at once, not waited for.
        let err = consumer.wait_readable(capacity + 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("capacity"), "{err}");
        assert_eq!(producer.wait_writable(usize::MAX).unwrap_err().kind(), ErrorKind::InvalidArgument);
        // Zero waits for nothing.
        assert!(consumer.wait_readable(0).unwrap().is_empty());
        assert_eq!(producer.wait_writable(0).unwrap().len(), capacity);
        // Advancing past what is there.
        assert_eq!(consumer.advance_read(1).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert_eq!(producer.advance_write(capacity + 1).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert_eq!(producer.advance_write(usize::MAX).unwrap_err().kind(), ErrorKind::OutOfBounds);
        producer.wait_writable(3).unwrap()[..3].copy_from_slice(b"abc");
        producer.advance_write(3).unwrap();
        let err = consumer.advance_read(4).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutOfBounds);
        assert!(err.to_string().contains("available bytes is 3"), "{err}");
        assert_eq!(consumer.readable().unwrap(), b"abc");
        assert_eq!(producer.writable().unwrap().len(), capacity - 3);
        assert_eq!(producer.advance_write(capacity - 2).unwrap_err().kind(), ErrorKind::OutOfBounds);
        // Nothing changed: the bytes and the room are as before the errors.
        assert_eq!(consumer.wait_readable(3).unwrap(), b"abc");
        consumer.advance_read(0).unwrap();
        consumer.advance_read(3).unwrap();
        assert_eq!(producer.wait_writable(capacity).unwrap().len(), capacity);
        // Timeouts, both ways.
        consumer.set_timeout(Some(Duration::from_millis(20)));
        assert_eq!(consumer.wait_readable(1).unwrap_err().kind(), ErrorKind::TimedOut);
        producer.write_all(b"abcd").unwrap();
        // Four bytes are there, five are asked for: still a wait, and it times out.
        assert_eq!(consumer.wait_readable(5).unwrap_err().kind(), ErrorKind::TimedOut);
        producer.set_timeout(Some(Duration::from_millis(20)));
        assert_eq!(producer.wait_writable(capacity).unwrap_err().kind(), ErrorKind::TimedOut);
        assert_eq!(producer.wait_writable(capacity - 4).unwrap().len(), capacity - 4);
    }
}

#[test]
fn in_place_reads_after_the_producer_closes_get_the_rest_then_end_of_file() {
    let mut producer = IpcRing::create(1, Side::Producer).unwrap();
    let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    producer.write_all(b"tail").unwrap();
    let waiter = std::thread::spawn(move || {
        // SAFETY: the peer is an `IpcRing`.
        let rest = unsafe { consumer.wait_readable(100) }.unwrap().to_vec();
        consumer.advance_read(rest.len()).unwrap();
        // SAFETY: as above.
        let after = unsafe { consumer.wait_readable(1) }.unwrap().len();
        (rest, after)
    });
    std::thread::sleep(Duration::from_millis(30));
    // The waiter wants 100 bytes; it gets the 4 there are once the producer closes.
    drop(producer);
    let (rest, after) = waiter.join().unwrap();
    assert_eq!(rest, b"tail");
    assert_eq!(after, 0);

    // A closed consumer: an in-place writer is told, waiting or not.
    let consumer = IpcRing::create(1, Side::Consumer).unwrap();
    let mut producer = IpcRing::from_fd(consumer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    let capacity = producer.capacity();
    producer.write_all(&vec![0u8; capacity]).unwrap();
    let waiter = std::thread::spawn(move || {
        // SAFETY: the peer is an `IpcRing`.
        unsafe { producer.wait_writable(1) }.map(|room| room.len()).unwrap_err().kind()
    });
    std::thread::sleep(Duration::from_millis(30));
    drop(consumer);
    assert_eq!(waiter.join().unwrap(), ErrorKind::Disconnected);
}

#[test]
fn a_killed_peer_is_reported_to_in_place_waits() {
    let mut ring = IpcRing::create(4096, Side::Consumer).unwrap();
    let mut child = spawn_with_ring("stalled_producer_child", &ring);
    // SAFETY: the peer is an `IpcRing`.
    assert_eq!(unsafe { ring.wait_readable(5) }.unwrap(), b"hello");
    kill(&child);
    // Bytes written before the death are still handed out, whatever the minimum...
    // SAFETY: as above.
    assert_eq!(unsafe { ring.wait_readable(6) }.unwrap(), b"hello");
    ring.advance_read(5).unwrap();
    // ...and then the death is an error, not a wait and not end of file.
    let started = Instant::now();
    // SAFETY: as above.
    let err = unsafe { ring.wait_readable(1) }.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let _ = child.wait();

    let mut ring = IpcRing::create(4096, Side::Producer).unwrap();
    let mut child = spawn_with_ring("stalled_consumer_child", &ring);
    ring.write_all(&vec![1u8; ring.capacity()]).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    kill(&child);
    // SAFETY: as above.
    let err = unsafe { ring.wait_writable(1) }.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    let _ = child.wait();
}

#[test]
fn garbage_positions_are_refused_by_in_place_access() {
    let mut producer = IpcRing::create(1, Side::Producer).unwrap();
    let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
    let header = Header::map(&producer);
    let (tail, head) = (header.u64_at(TAIL_AT), header.u64_at(HEAD_AT));
    let capacity = producer.capacity();
    // SAFETY: both sides are `IpcRing`s.
    unsafe { producer.wait_writable(3) }.unwrap()[..3].copy_from_slice(b"abc");
    producer.advance_write(3).unwrap();
    for garbage in [u64::MAX, capacity as u64 + 4, 1 << 40] {
        tail.store(garbage, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: both sides are `IpcRing`s; the garbage is in the header, not the data.
        unsafe {
            assert_eq!(consumer.readable().unwrap_err().kind(), ErrorKind::InvalidData);
            assert_eq!(consumer.wait_readable(1).unwrap_err().kind(), ErrorKind::InvalidData);
        }
        assert_eq!(consumer.advance_read(1).unwrap_err().kind(), ErrorKind::InvalidData);
        head.store(garbage, std::sync::atomic::Ordering::SeqCst);
        // The producer looks at `head` only when its cached room (all but the 3 bytes) is
        // short of what it asks for, or to hand out all the room there is.
        // SAFETY: as above.
        unsafe {
            assert_eq!(producer.writable().unwrap_err().kind(), ErrorKind::InvalidData);
            assert_eq!(producer.wait_writable(capacity).unwrap_err().kind(), ErrorKind::InvalidData);
        }
        assert_eq!(producer.advance_write(capacity).unwrap_err().kind(), ErrorKind::InvalidData);
    }
    // Honest values again: everything still works, the bytes are intact.
    tail.store(3, std::sync::atomic::Ordering::SeqCst);
    head.store(0, std::sync::atomic::Ordering::SeqCst);
    // SAFETY: both sides are `IpcRing`s.
    assert_eq!(unsafe { consumer.wait_readable(3) }.unwrap(), b"abc");
    consumer.advance_read(3).unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { producer.wait_writable(capacity) }.unwrap().len(), capacity);
}

#[derive(Debug, Clone)]
enum Op {
    Write(usize),
    Read(usize),
    /// `wait_writable(min)`, fill `n` bytes, `advance_write(n)` (`n` may be too many).
    WriteInPlace(usize, usize),
    /// `wait_readable(min)`, check, `advance_read(n)` (`n` may be too many).
    ReadInPlace(usize, usize),
}

/// How much to advance by: any amount, or one near the edge (`usize::MAX - k` stands for
/// "what is there, plus one minus `k`", resolved against the model).
fn amount() -> impl proptest::strategy::Strategy<Value = usize> {
    use proptest::prelude::*;
    prop_oneof![0usize..5_000, (0usize..3).prop_map(|k| usize::MAX - k)]
}

/// `n`, or near `there` for the edge amounts of [`amount`].
fn resolve(n: usize, there: usize) -> usize {
    if n >= usize::MAX - 2 {
        (there + 1).saturating_sub(usize::MAX - n)
    } else {
        n
    }
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (1usize..10_000).prop_map(Op::Write),
        (1usize..10_000).prop_map(Op::Read),
        (0usize..5_000, amount()).prop_map(|(m, n)| Op::WriteInPlace(m, n)),
        (0usize..5_000, amount()).prop_map(|(m, n)| Op::ReadInPlace(m, n)),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Both ways of reading and writing, against a `VecDeque` model, through a ring of one
    /// page (so that most operations wrap). Waits are only asked for what the model says is
    /// there, so none blocks; a wrong model would show as a timeout.
    #[test]
    fn copying_and_in_place_access_match_a_deque(ops in proptest::collection::vec(op(), 1..120)) {
        let mut producer = IpcRing::create(1, Side::Producer).unwrap();
        let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
        producer.set_timeout(Some(Duration::from_secs(5)));
        consumer.set_timeout(Some(Duration::from_secs(5)));
        let capacity = producer.capacity();
        let mut model = std::collections::VecDeque::<u8>::new();
        let mut written = 0u64;
        for op in ops {
            let free = capacity - model.len();
            match op {
                Op::Write(len) if free > 0 => {
                    let data: Vec<u8> = (0..len as u64).map(|k| pattern(written + k)).collect();
                    let n = producer.write(&data).unwrap();
                    proptest::prop_assert_eq!(n, len.min(free));
                    model.extend(&data[..n]);
                    written += n as u64;
                }
                Op::Read(len) if !model.is_empty() => {
                    let mut buf = vec![0u8; len];
                    let n = consumer.read(&mut buf).unwrap();
                    proptest::prop_assert_eq!(n, len.min(model.len()));
                    let expected: Vec<u8> = model.drain(..n).collect();
                    proptest::prop_assert_eq!(&buf[..n], &expected[..]);
                }
                Op::WriteInPlace(min, n) if min <= free => {
                    let n = resolve(n, free);
                    // SAFETY: both sides are `IpcRing`s in this process; the slice ends here.
                    let room = unsafe { producer.wait_writable(min) }.unwrap();
                    // At least `min`, at most all the room (what the cached position shows).
                    proptest::prop_assert!(room.len() >= min && room.len() <= free);
                    // Publish only bytes written here (or too many, for the error).
                    let n = if n <= free { n.min(room.len()) } else { n };
                    for (k, b) in room.iter_mut().take(n).enumerate() {
                        *b = pattern(written + k as u64);
                    }
                    let result = producer.advance_write(n);
                    if n <= free {
                        result.unwrap();
                        model.extend((0..n as u64).map(|k| pattern(written + k)));
                        written += n as u64;
                    } else {
                        proptest::prop_assert_eq!(result.unwrap_err().kind(), ErrorKind::OutOfBounds);
                    }
                }
                Op::ReadInPlace(min, n) if min <= model.len() => {
                    let n = resolve(n, model.len());
                    // SAFETY: as above.
                    let readable = unsafe { consumer.wait_readable(min) }.unwrap();
                    proptest::prop_assert!(readable.len() >= min && readable.len() <= model.len());
                    let expected: Vec<u8> = model.iter().copied().take(readable.len()).collect();
                    proptest::prop_assert_eq!(readable, &expected[..]);
                    // Past the slice but within what is there is fine too.
                    let result = consumer.advance_read(n);
                    if n <= model.len() {
                        result.unwrap();
                        model.drain(..n);
                    } else {
                        proptest::prop_assert_eq!(result.unwrap_err().kind(), ErrorKind::OutOfBounds);
                    }
                }
                _ => {}
            }
        }
        // What is left reads back whole, then end of file.
        drop(producer);
        let mut rest = Vec::new();
        consumer.read_to_end(&mut rest).unwrap();
        proptest::prop_assert_eq!(rest, model.into_iter().collect::<Vec<u8>>());
    }
}
