//! `IpcRing` against a pipe and a `UnixStream` pair between two processes: throughput at
//! 64 B, 4 KiB and 64 KiB messages, and ping-pong round trips of 64 B messages. The peer
//! process is this bench binary run again (`VMEM_BENCH_IPC_CHILD` set), handed its ends by
//! descriptor inheritance. Interleaved rounds: in each round every transport (in a rotating
//! order) runs once; each run first sends an untimed warm-up batch, in the same processes,
//! right before the timed batch.
//!
//! ```sh
//! cargo bench --bench ipc              # VMEM_BENCH_ROUNDS=N to change the 7 rounds
//! ```
//!
//! Buffers: the ring holds 256 KiB; the pipe has Linux's default 64 KiB; the socket pair its
//! default buffers (`net.core.wmem_default`, 208 KiB here). Each side reads and writes whole
//! messages (`read_exact`, `write_all`); a round trip is one message each way, one channel
//! per direction for every transport.

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
    Pipe,
    Socket,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Ring => "IpcRing",
            Transport::Pipe => "pipe",
            Transport::Socket => "UnixStream",
        }
    }
}

/// One end of a one-way channel.
enum End {
    Ring(IpcRing),
    File(std::fs::File),
    Socket(UnixStream),
}

impl End {
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
            Transport::Ring => End::Ring(IpcRing::from_fd(fd).unwrap()),
            Transport::Pipe => End::File(std::fs::File::from(fd)),
            Transport::Socket => End::Socket(UnixStream::from(fd)),
        }
    }
}

/// A one-way channel: the parent's end (taking `parent_side`) and a descriptor for the
/// child's (for a ring, of the object, whose free side the child takes).
fn channel(transport: Transport, parent_side: Side) -> (End, OwnedFd) {
    match transport {
        Transport::Ring => {
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
    let transport = match parts[1] {
        "Ring" => Transport::Ring,
        "Pipe" => Transport::Pipe,
        _ => Transport::Socket,
    };
    let size: usize = parts[2].parse().unwrap();
    let count: usize = parts[3].parse().unwrap();
    let fds: Vec<i32> = parts[4].split(',').map(|s| s.parse().unwrap()).collect();
    let mut message = vec![0x5Au8; size];
    if parts[0] == "stream" {
        let mut out = End::inherited(transport, fds[0]);
        for _ in 0..count {
            out.write_all(&message);
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

/// Runs `run` for every transport in each round (rotating order) and prints the medians.
fn scenario(rounds: usize, name: &str, per_unit: (&str, f64), run: impl Fn(Transport) -> Duration) {
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); TRANSPORTS.len()];
    for round in 0..rounds {
        for k in 0..TRANSPORTS.len() {
            let index = (round + k) % TRANSPORTS.len();
            times[index].push(run(TRANSPORTS[index]).as_secs_f64());
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    for (index, transport) in TRANSPORTS.iter().enumerate() {
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
    println!(
        "\n## Interleaved rounds ({rounds} per scenario; ratio = transport time / IpcRing time in the same round)\n"
    );
    println!("| scenario | transport | median | ratio vs IpcRing: median (min..max) |");
    println!("|---|---|---|---|");
    for (size, total) in [(64usize, 32usize << 20), (4 << 10, 512 << 20), (64 << 10, 1 << 30)] {
        let count = total / size;
        let name = format!("stream {} MiB in {size} B messages", total >> 20);
        scenario(rounds, &name, ("GiB/s", total as f64), |t| stream(t, size, count / 10, count));
    }
    let count = 100_000;
    scenario(rounds, "ping-pong 64 B, 100k round trips", ("µs per round trip", count as f64), |t| {
        ping_pong(t, 64, 10_000, count)
    });
}
