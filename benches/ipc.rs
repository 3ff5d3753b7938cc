//! `IpcRing` against a pipe and a `UnixStream` pair between two processes: throughput at
//! 64 B, 4 KiB and 64 KiB messages, and ping-pong round trips of 64 B messages. The peer
//! process is this bench binary run again (`VMEM_BENCH_IPC_CHILD` set), handed its ends by
//! descriptor inheritance. Interleaved rounds: in each round every transport (in a rotating
//! order) runs once; each run first sends an untimed warm-up batch, in the same processes,
//! right before the timed batch.
//!
//! ```sh
//! cargo bench --bench ipc              # VMEM_BENCH_ROUNDS=N to change the 7 rounds
//! VMEM_BENCH_IPC_ONLY=produce cargo bench --bench ipc   # stream, produce, ping-pong: a subset
//! ```
//!
//! Buffers: the ring holds 256 KiB; the pipe has Linux's default 64 KiB; the socket pair its
//! default buffers (`net.core.wmem_default`, 208 KiB here). Each side reads and writes whole
//! messages (`read_exact`, `write_all`); a round trip is one message each way, one channel
//! per direction for every transport.
//!
//! Two kinds of stream: **bytes moved** (the producer sends the same buffer again and
//! again, the consumer reads into a buffer and does nothing with it) and **produced and
//! consumed** (the producer writes every byte of each message anew, a pattern stamped with
//! the message's number, and the consumer sums every message's bytes; the parent checks the
//! total). The second is where the ring's zero-copy API counts: `IpcRing in place` builds each
//! message in the ring (`wait_writable`) and sums it there (`wait_readable`), where the
//! others build it in a buffer, copy it through, and sum the copy.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use vmem::{IpcRing, Side};

const CHILD_ENV: &str = "VMEM_BENCH_IPC_CHILD";
fn ring_capacity() -> usize {
    std::env::var("VMEM_BENCH_RING_KIB").ok().and_then(|s| s.parse::<usize>().ok()).unwrap_or(256) << 10
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Transport {
    Ring,
    /// The ring through its zero-copy API (only in the produced-and-consumed streams).
    RingInPlace,
    Pipe,
    Socket,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Ring => "IpcRing",
            Transport::RingInPlace => "IpcRing in place",
            Transport::Pipe => "pipe",
            Transport::Socket => "UnixStream",
        }
    }

    fn parse(name: &str) -> Transport {
        match name {
            "Ring" => Transport::Ring,
            "RingInPlace" => Transport::RingInPlace,
            "Pipe" => Transport::Pipe,
            _ => Transport::Socket,
        }
    }
}

/// Writes message `number` into `message`: every byte, so that no transport can reuse
/// what an earlier message left behind.
fn produce(message: &mut [u8], number: usize) {
    message.fill(number as u8);
    message[..8].copy_from_slice(&(number as u64).to_ne_bytes());
}

/// What the consumer does with a message: sums it, eight bytes at a time.
fn consume(message: &[u8]) -> u64 {
    message.chunks_exact(8).fold(0u64, |sum, word| sum.wrapping_add(u64::from_ne_bytes(word.try_into().unwrap())))
}

/// One end of a one-way channel.
enum End {
    Ring(IpcRing),
    File(std::fs::File),
    Socket(UnixStream),
}

impl End {
    /// Receives one message of `buf.len()` bytes and sums it: in place for the zero-copy
    /// ring, from a copy in `buf` otherwise.
    fn consume(&mut self, transport: Transport, buf: &mut [u8]) -> u64 {
        match (transport, self) {
            (Transport::RingInPlace, End::Ring(r)) => {
                // SAFETY: the producer is an `IpcRing`; the slice ends before `advance_read`.
                let sum = consume(&unsafe { r.wait_readable(buf.len()) }.unwrap()[..buf.len()]);
                r.advance_read(buf.len()).unwrap();
                sum
            }
            (_, end) => {
                end.read_exact(buf);
                consume(buf)
            }
        }
    }

    /// Produces message `number` of `buf.len()` bytes and sends it: built in the ring for the
    /// zero-copy ring, in `buf` and then written otherwise.
    fn produce(&mut self, transport: Transport, buf: &mut [u8], number: usize) {
        match (transport, self) {
            (Transport::RingInPlace, End::Ring(r)) => {
                // SAFETY: the consumer is an `IpcRing`; the slice ends before `advance_write`.
                produce(&mut unsafe { r.wait_writable(buf.len()) }.unwrap()[..buf.len()], number);
                r.advance_write(buf.len()).unwrap();
            }
            (_, end) => {
                produce(buf, number);
                end.write_all(buf);
            }
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) {
        match self {
            End::Ring(r) => r.read_exact(buf).unwrap(),
            End::File(f) => f.read_exact(buf).unwrap(),
            End::Socket(s) => s.read_exact(buf).unwrap(),
        }
    }

    fn write_all(&mut self, buf: &[u8]) {
        match self {
            End::Ring(r) => r.write_all(buf).unwrap(),
            End::File(f) => f.write_all(buf).unwrap(),
            End::Socket(s) => s.write_all(buf).unwrap(),
        }
    }

    /// Takes the end whose descriptor the parent left open for this process.
    fn inherited(transport: Transport, fd: i32) -> End {
        // SAFETY: the parent left this descriptor open across exec for us; nothing else here
        // owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        match transport {
            Transport::Ring | Transport::RingInPlace => End::Ring(IpcRing::from_fd(fd).unwrap()),
            Transport::Pipe => End::File(std::fs::File::from(fd)),
            Transport::Socket => End::Socket(UnixStream::from(fd)),
        }
    }
}

/// A one-way channel: the parent's end (taking `parent_side`) and a descriptor for the
/// child's (for a ring, of the object, whose free side the child takes).
fn channel(transport: Transport, parent_side: Side) -> (End, OwnedFd) {
    match transport {
        Transport::Ring | Transport::RingInPlace => {
            let ring = IpcRing::create(ring_capacity(), parent_side).unwrap();
            let fd = ring.as_fd().try_clone_to_owned().unwrap();
            (End::Ring(ring), fd)
        }
        Transport::Pipe => {
            let (read, write) = rustix::pipe::pipe().unwrap();
            match parent_side {
                Side::Consumer => (End::File(read.into()), write),
                Side::Producer => (End::File(write.into()), read),
            }
        }
        Transport::Socket => {
            let (a, b) = UnixStream::pair().unwrap();
            (End::Socket(a), b.into())
        }
    }
}

/// Starts the child with `fds` open in it; they are closed here once it has them.
fn spawn(mode: &str, transport: Transport, size: usize, count: usize, fds: Vec<OwnedFd>) -> Child {
    let numbers: Vec<String> = fds.iter().map(|fd| fd.as_raw_fd().to_string()).collect();
    for fd in &fds {
        rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty()).unwrap();
    }
    let child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, format!("{mode} {transport:?} {size} {count} {}", numbers.join(",")))
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(fds);
    child
}

/// The child's part: `stream` writes `count` messages then waits for the parent's
/// acknowledgement; `echo` sends back every message it gets.
fn child(spec: &str) {
    let parts: Vec<&str> = spec.split(' ').collect();
    let transport = Transport::parse(parts[1]);
    let size: usize = parts[2].parse().unwrap();
    let count: usize = parts[3].parse().unwrap();
    let fds: Vec<i32> = parts[4].split(',').map(|s| s.parse().unwrap()).collect();
    let mut message = vec![0x5Au8; size];
    if parts[0] == "stream" || parts[0] == "produce" {
        let mut out = End::inherited(transport, fds[0]);
        for number in 0..count {
            if parts[0] == "produce" {
                out.produce(transport, &mut message, number);
            } else {
                out.write_all(&message);
            }
        }
        // Keep the ring open until the parent has read everything.
        let mut ack = End::inherited(Transport::Pipe, fds[1]);
        ack.read_exact(&mut message[..1]);
    } else {
        let mut input = End::inherited(transport, fds[0]);
        let mut out = End::inherited(transport, fds[1]);
        for _ in 0..count {
            input.read_exact(&mut message);
            out.write_all(&message);
        }
    }
}

/// Streams `warm + count` messages of `size` bytes from a child; times the last `count`.
fn stream(transport: Transport, size: usize, warm: usize, count: usize) -> Duration {
    let (mut input, theirs) = channel(transport, Side::Consumer);
    let (ack_read, ack_write) = rustix::pipe::pipe().unwrap();
    let mut child = spawn("stream", transport, size, warm + count, vec![theirs, ack_read]);
    let mut buf = vec![0u8; size];
    for _ in 0..warm {
        input.read_exact(&mut buf);
    }
    let start = Instant::now();
    for _ in 0..count {
        input.read_exact(&mut buf);
    }
    let elapsed = start.elapsed();
    std::fs::File::from(ack_write).write_all(b"k").unwrap();
    assert!(child.wait().unwrap().success());
    elapsed
}

/// Streams `warm + count` messages of `size` bytes from a child that produces each one
/// anew; sums every message; times the last `count`, and checks the sum.
fn produced_and_consumed(transport: Transport, size: usize, warm: usize, count: usize) -> Duration {
    let (mut input, theirs) = channel(transport, Side::Consumer);
    let (ack_read, ack_write) = rustix::pipe::pipe().unwrap();
    let mut child = spawn("produce", transport, size, warm + count, vec![theirs, ack_read]);
    let mut buf = vec![0u8; size];
    let mut sum = 0u64;
    for _ in 0..warm {
        sum = sum.wrapping_add(input.consume(transport, &mut buf));
    }
    let start = Instant::now();
    for _ in 0..count {
        sum = sum.wrapping_add(input.consume(transport, &mut buf));
    }
    let elapsed = start.elapsed();
    std::fs::File::from(ack_write).write_all(b"k").unwrap();
    assert!(child.wait().unwrap().success());
    let expected = (0..warm + count).fold(0u64, |total, number| {
        produce(&mut buf, number);
        total.wrapping_add(consume(&buf))
    });
    assert_eq!(sum, expected, "{transport:?}: the consumer saw other bytes than were produced");
    elapsed
}

/// `warm + count` round trips of `size` bytes with an echoing child; times the last `count`.
fn ping_pong(transport: Transport, size: usize, warm: usize, count: usize) -> Duration {
    let (mut out, to_child) = channel(transport, Side::Producer);
    let (mut input, from_child) = channel(transport, Side::Consumer);
    let mut child = spawn("echo", transport, size, warm + count, vec![to_child, from_child]);
    let mut buf = vec![0x11u8; size];
    for _ in 0..warm {
        out.write_all(&buf);
        input.read_exact(&mut buf);
    }
    let start = Instant::now();
    for _ in 0..count {
        out.write_all(&buf);
        input.read_exact(&mut buf);
    }
    let elapsed = start.elapsed();
    assert!(child.wait().unwrap().success());
    elapsed
}

const TRANSPORTS: [Transport; 3] = [Transport::Ring, Transport::Pipe, Transport::Socket];
const WITH_IN_PLACE: [Transport; 4] = [Transport::RingInPlace, Transport::Ring, Transport::Pipe, Transport::Socket];

/// Runs `run` for every transport in each round (rotating order) and prints the medians; the
/// ratios are against the first transport.
fn scenario(
    transports: &[Transport],
    rounds: usize,
    name: &str,
    per_unit: (&str, f64),
    run: impl Fn(Transport) -> Duration,
) {
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); transports.len()];
    for round in 0..rounds {
        for k in 0..transports.len() {
            let index = (round + k) % transports.len();
            times[index].push(run(transports[index]).as_secs_f64());
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    for (index, transport) in transports.iter().enumerate() {
        let ratios: Vec<f64> = times[index].iter().zip(&times[0]).map(|(t, v)| t / v).collect();
        let (min, max) = ratios.iter().fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        let time = median(&times[index]);
        let (unit, amount) = per_unit;
        let figure = if unit == "GiB/s" { amount / time / (1u64 << 30) as f64 } else { time / amount * 1e6 };
        println!(
            "| {name} | {} | {figure:.2} {unit} | {:.2}x ({min:.2}..{max:.2}) |",
            transport.name(),
            median(&ratios)
        );
    }
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child(&spec);
        return;
    }
    // Only when benchmarking (`cargo bench`), not when run as a test.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rounds: usize = std::env::var("VMEM_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    let only = std::env::var("VMEM_BENCH_IPC_ONLY").unwrap_or_default();
    let wanted = |kind: &str| only.is_empty() || only.split(',').any(|k| k == kind);
    println!(
        "\n## Interleaved rounds ({rounds} per scenario; ratio = transport time / the first transport's time in the same round)\n"
    );
    println!("| scenario | transport | median | ratio vs the first: median (min..max) |");
    println!("|---|---|---|---|");
    let sizes = [(64usize, 32usize << 20), (4 << 10, 512 << 20), (64 << 10, 1 << 30)];
    if wanted("stream") {
        for (size, total) in sizes {
            let count = total / size;
            let name = format!("stream {} MiB in {size} B messages", total >> 20);
            scenario(&TRANSPORTS, rounds, &name, ("GiB/s", total as f64), |t| stream(t, size, count / 10, count));
        }
    }
    if wanted("produce") {
        for (size, total) in sizes {
            let count = total / size;
            let name = format!("produced and consumed, {} MiB in {size} B messages", total >> 20);
            scenario(&WITH_IN_PLACE, rounds, &name, ("GiB/s", total as f64), |t| {
                produced_and_consumed(t, size, count / 10, count)
            });
        }
    }
    if wanted("ping-pong") {
        let count = 100_000;
        scenario(&TRANSPORTS, rounds, "ping-pong 64 B, 100k round trips", ("µs per round trip", count as f64), |t| {
            ping_pong(t, 64, 10_000, count)
        });
    }
}
