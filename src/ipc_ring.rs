//! `IpcRing`: a single-producer, single-consumer byte ring between two processes.
//!
//! The ring lives in an anonymous shared-memory object (as [`SharedRegion`](crate::SharedRegion)
//! does): a header, then `capacity` data bytes, which each process maps **twice, back to
//! back**, like [`RingBuffer`](crate::RingBuffer). So the bytes to read, and the space to
//! write, are always one contiguous slice, whatever the position: one `memcpy` per message,
//! never two, or none ([zero-copy](#zero-copy)).
//!
//! ```text
//!   header  | magic, version, header size, capacity, flags |
//!           | producer line: tail, signal, pid, state |   (each on its own cache lines)
//!           | consumer line: head, signal, pid, state |
//!           | producer's sleeping flag | consumer's sleeping flag |
//!   data    | capacity bytes | the same bytes again |
//! ```
//!
//! `tail` (bytes written in all) is written only by the producer, `head` (bytes read) only by
//! the consumer; each is on its own cache line. A side keeps its own position privately and
//! never reads it back from shared memory, so the peer can only lie about *its* position:
//! a `tail` or `head` that would make more than `capacity` bytes readable (or writable) is
//! refused as `InvalidData`, and every access stays inside the mapping.
//!
//! ## Zero-copy
//!
//! [`read`](IpcRing::read) and [`write`](IpcRing::write) copy between the ring and a buffer
//! of yours. [`wait_readable`](IpcRing::wait_readable) and
//! [`wait_writable`](IpcRing::wait_writable) instead hand out the bytes to read, or the space
//! to write, as one slice of the shared mapping itself, whatever the position: a consumer
//! reads a whole message where the producer built it, and the producer builds it where the
//! consumer will read it; [`advance_read`](IpcRing::advance_read) and
//! [`advance_write`](IpcRing::advance_write) then hand the bytes over.
//!
//! Those slices are `unsafe` to take, for the reason memory-mapped files are (memmap2's
//! `Mmap::map`): the memory is shared with another process, and a Rust reference promises
//! that nobody writes what a `&[u8]` sees, nor reads or writes what a `&mut [u8]` sees, while
//! it lives. A peer that is an `IpcRing` keeps that promise (a producer writes only free
//! space, a consumer reads only what was published to it, and neither touches what the
//! other holds); a process that writes the shared object by other means can break it.
//!
//! ## Waiting
//!
//! A side that has to wait spins briefly (the fast path when the peer is running on another
//! core; the number of spins adapts to how often spinning paid off), then yields the CPU a
//! few times (so a peer sharing its core runs at once), then
//! sleeps on a futex in shared memory (Linux: `FUTEX_WAIT` without the private
//! flag). The peer only makes the wake-up system call when the sleeping flag is set.
//!
//! Publishing a position and then reading the peer's sleeping flag needs a store-load fence
//! between the two, or a wake-up can be lost. On Linux each process registers for
//! `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)` instead, and a side about to sleep issues
//! that barrier, which runs the fence in the peer's threads; the fast path, which runs for
//! every message, then has no fence (on x86 it would wait for the message's stores to
//! drain: about a fifth of the time of a 4 KiB message). Where registering fails (an old
//! kernel, a sandbox), that process publishes with the fence; a forked child does until it
//! registers itself (it does when it creates or opens a ring). Other
//! systems sleep in steps of at most 1 ms instead (no cross-process futex is used there).
//!
//! ## A peer that dies
//!
//! Each side records its pid and state (attached, closed) in its header line. A clean close
//! ([`Drop`]) sets the state: the consumer then reads what is left and gets end of file, the
//! producer gets `Disconnected`. A peer that dies without closing (killed) is found while
//! waiting: every 10 ms the waiting side checks that the peer's process still lives (Linux:
//! not gone and not a zombie, from `/proc/PID/stat`; Windows: `GetExitCodeProcess`;
//! elsewhere `kill(pid, 0)`, which counts a zombie as alive until it is reaped). A dead peer
//! is `Disconnected`, for the consumer once it has read everything the peer wrote. A pid can
//! be reused by a new process after the old one is reaped; the check then takes the new
//! process for the peer (use a timeout where that matters). A peer killed in the few
//! instructions between taking its side and recording its pid leaves no pid to check, and
//! counts as alive. With [`set_timeout`](IpcRing::set_timeout) every wait also ends with
//! `TimedOut` after the given time, which also covers a peer that never attaches, one that
//! dies before its pid is recorded, or one that hangs or lies about its pid or state.
//!
//! ## Cost model
//!
//! | call | cost |
//! |---|---|
//! | [`create`](IpcRing::create), [`from_fd`](IpcRing::from_fd) | `memfd_create` and `fcntl` (create; `from_fd` checks the seal), `ftruncate`, three `mmap`s; `membarrier` registration once per process |
//! | [`write`](IpcRing::write) / [`read`](IpcRing::read) with room / data | a `memcpy`; a load of the peer's position only when the cached one shows too little (`write` also loads the peer's state); a store of ours and a load of its sleeping flag, with no fence (see [Waiting](#waiting)); a `futex` wake only if the peer sleeps |
//! | [`wait_readable`](IpcRing::wait_readable) / [`wait_writable`](IpcRing::wait_writable) with enough | an atomic load when the cached position shows too little; no copy |
//! | [`advance_read`](IpcRing::advance_read) / [`advance_write`](IpcRing::advance_write) | a store, a load of the peer's sleeping flag; a `futex` wake only if the peer sleeps |
//! | waiting | 16 to 4096 spins (adaptive), up to 32 `sched_yield`s, then a `membarrier` and `futex` waits of up to 10 ms |
// Type-checking the Windows backend off Windows leaves out what only Windows handles reach.
#![cfg_attr(all(vmem_check_windows, not(windows)), allow(dead_code))]

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{os, Error, ErrorKind, Result};

const MAGIC: [u8; 8] = *b"VMEMIPCR";
/// 2: the header's flags word (`FENCELESS`).
const VERSION: u32 = 2;
/// The flags word's offset in the header, and its one flag: the creator could register for
/// fence-less publishing (`os::register_fast_publish`), so a side about to sleep must issue
/// `os::sleep_barrier`, and a side that registered too may publish without a fence.
const FLAGS: usize = 24;
const FENCELESS: u32 = 1;
/// Each side's line in the header, 128 bytes apart (a cache line pair on x86, a cache line on
/// Apple silicon).
const PRODUCER_LINE: usize = 128;
const CONSUMER_LINE: usize = 256;
/// Each side's sleeping flag, on lines of their own: the peer reads it after every publish,
/// so it must not share a line with a position that moves all the time.
const PRODUCER_SLEEPING: usize = 384;
const CONSUMER_SLEEPING: usize = 512;
/// States of a side.
const DETACHED: u32 = 0;
const ATTACHED: u32 = 1;
const CLOSED: u32 = 2;
/// How long one sleep lasts before the peer's liveness is checked again.
const LIVENESS_INTERVAL: Duration = Duration::from_millis(10);
/// How long one sleep lasts when the sleep barrier could not be issued.
const UNFENCED_SLICE: Duration = Duration::from_millis(1);
/// The most and the fewest spins before yielding. Each side adapts between them: a wait
/// that spinning satisfied doubles its spins (the peer runs on another core: spinning is the
/// fast path), one that needed to yield or sleep halves them (the peer shares this core or is
/// idle: spinning only delays it).
const MAX_SPINS: u32 = 4096;
const MIN_SPINS: u32 = 16;
/// `sched_yield`s before sleeping: lets a peer that shares this core run at once (a pipe's
/// advantage when there are fewer free cores than processes).
const YIELDS: u32 = 32;

/// Which end of an [`IpcRing`] this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Writes bytes into the ring.
    Producer,
    /// Reads bytes out of the ring.
    Consumer,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Producer => Side::Consumer,
            Side::Consumer => Side::Producer,
        }
    }

    fn line(self) -> usize {
        match self {
            Side::Producer => PRODUCER_LINE,
            Side::Consumer => CONSUMER_LINE,
        }
    }

    fn sleeping(self) -> usize {
        match self {
            Side::Producer => PRODUCER_SLEEPING,
            Side::Consumer => CONSUMER_SLEEPING,
        }
    }
}

/// How a peer went away.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gone {
    /// It closed its side (dropped its `IpcRing`).
    Closed,
    /// Its process ended without closing (killed, crashed).
    Died,
}

/// What a wait found.
enum Ready {
    /// This many bytes can be read (or written).
    Bytes(usize),
    /// Nothing, and the peer is gone.
    Gone(Gone),
}

/// One side's line in the header.
struct Line<'a> {
    /// Bytes written (producer) or read (consumer) in all.
    position: &'a AtomicU64,
    /// Bumped before each wake-up of the peer: the word the peer sleeps on.
    signal: &'a AtomicU32,
    /// 1 while this side sleeps waiting for the peer.
    sleeping: &'a AtomicU32,
    pid: &'a AtomicU32,
    state: &'a AtomicU32,
}

/// A single-producer, single-consumer byte ring between two processes: see the
/// [module docs](self).
///
/// ```
/// use std::io::{Read, Write};
/// use vmem::{IpcRing, Side};
///
/// let mut producer = IpcRing::create(64 << 10, Side::Producer)?;
/// // The other process gets the ring's descriptor (inherited, or over a Unix socket with
/// // `send_to`) and takes the other side; a second handle in this process stands in for it.
/// # #[cfg(unix)] {
/// use std::os::fd::AsFd;
/// let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap())?;
/// producer.write_all(b"hello over shared memory").unwrap();
/// let mut buf = [0u8; 24];
/// consumer.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"hello over shared memory");
/// # }
/// # Ok::<(), vmem::Error>(())
/// ```
///
/// An `IpcRing` is aligned to 128 bytes, as the halves of a split
/// [`RingBuffer`](crate::RingBuffer) are: each side writes its own position into itself on
/// every transfer, so two sides used by two threads of one process never share a cache line.
#[repr(align(128))]
pub struct IpcRing {
    memory: os::SharedMemory,
    /// The header; the data follows it, mapped twice.
    base: NonNull<u8>,
    header: usize,
    capacity: usize,
    side: Side,
    /// This side's position (bytes written or read in all): the only copy trusted.
    position: u64,
    /// The peer's position when last looked at.
    peer: u64,
    timeout: Option<Duration>,
    /// Whether `side` is ours (false only while `from_fd` looks for a free side).
    attached: bool,
    /// Spins before yielding in the next wait, between `MIN_SPINS` and `MAX_SPINS`.
    spins: u32,
    /// Whether the ring's header says `FENCELESS`.
    fenceless: bool,
}

// SAFETY: the mapping and the object are owned by this value; moving it moves them.
unsafe impl Send for IpcRing {}
// SAFETY: `&IpcRing` only reads header fields atomically; every transfer takes `&mut self`.
unsafe impl Sync for IpcRing {}

impl IpcRing {
    /// Creates a ring of at least `min_capacity` bytes (rounded up to the allocation
    /// granularity) and takes `side` of it; another process takes the other side with
    /// [`from_fd`](Self::from_fd).
    ///
    /// # Errors
    /// `InvalidArgument` for zero; `OutOfAddressSpace` for a capacity that cannot be mapped
    /// twice; the OS error of creating or mapping the object.
    ///
    /// ```
    /// let ring = vmem::IpcRing::create(1, vmem::Side::Consumer)?;
    /// assert_eq!(ring.capacity(), vmem::allocation_granularity());
    /// assert!(vmem::IpcRing::create(0, vmem::Side::Consumer).is_err());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn create(min_capacity: usize, side: Side) -> Result<IpcRing> {
        const OP: &str = "IpcRing::create";
        if min_capacity == 0 {
            return Err(Error::new(ErrorKind::InvalidArgument, OP, "the capacity is zero").sized(0));
        }
        let header = crate::allocation_granularity();
        let too_large = || {
            Error::new(ErrorKind::OutOfAddressSpace, OP, "twice the capacity does not fit in the address space")
                .sized(min_capacity)
        };
        let capacity = crate::align_up(min_capacity, header).map_err(|_| too_large())?;
        if capacity > (isize::MAX as usize - header) / 2 {
            return Err(too_large());
        }
        // Before anyone can attach: the flag below promises that this process registered.
        let fenceless = os::register_fast_publish();
        let memory = os::shared_create(header + capacity)?;
        os::shared_extend(&memory, 0, (header + capacity) as u64)?;
        // SAFETY: both are non-zero multiples of the allocation granularity (so of the page
        // size), checked not to overflow; the object was just sized.
        let base = unsafe { os::ipc_map(&memory, header, capacity)? };
        let base = NonNull::new(base).ok_or(Error::new(ErrorKind::Os, OP, "the OS returned a null address"))?;
        let ring = IpcRing {
            memory,
            base,
            header,
            capacity,
            side,
            position: 0,
            peer: 0,
            timeout: None,
            attached: true,
            spins: 1024,
            fenceless,
        };
        // SAFETY: the header is mapped read-write and nobody else has the object yet.
        unsafe {
            let p = base.as_ptr();
            p.copy_from_nonoverlapping(MAGIC.as_ptr(), 8);
            p.add(8).cast::<u32>().write(VERSION);
            p.add(12).cast::<u32>().write(header as u32);
            p.add(16).cast::<u64>().write(capacity as u64);
            p.add(FLAGS).cast::<u32>().write(if fenceless { FENCELESS } else { 0 });
        }
        let me = ring.line(side);
        me.pid.store(std::process::id(), Ordering::Relaxed);
        me.state.store(ATTACHED, Ordering::Release);
        Ok(ring)
    }

    /// Takes the free side of a ring from its shared-memory object.
    fn from_memory(memory: os::SharedMemory) -> Result<IpcRing> {
        const OP: &str = "IpcRing::open";
        let invalid = |detail| Error::new(ErrorKind::InvalidData, OP, detail);
        let header = crate::allocation_granularity();
        let size = os::shared_len(&memory)?;
        if size.is_some_and(|s| s < header as u64) {
            return Err(invalid("the object is too small to be an IpcRing"));
        }
        os::shared_check_sealed(&memory, OP)?;
        // SAFETY: one header's worth, which the object holds (checked above where the OS can
        // say; on Windows the section's header is committed by its creator).
        let peek = unsafe { os::shared_map(&memory, header, header)? };
        let mut fields = [0u8; FLAGS + 4];
        // SAFETY: the header is mapped and readable; 28 bytes lie inside it.
        unsafe { peek.copy_to_nonoverlapping(fields.as_mut_ptr(), FLAGS + 4) };
        // SAFETY: the mapping made above, used no more.
        unsafe { os::shared_unmap(peek, header, header)? };
        if fields[..8] != MAGIC {
            return Err(invalid("the object is not an IpcRing"));
        }
        if u32::from_ne_bytes(fields[8..12].try_into().unwrap_or([0; 4])) != VERSION {
            return Err(invalid("the IpcRing is of another version or byte order"));
        }
        if u32::from_ne_bytes(fields[12..16].try_into().unwrap_or([0; 4])) as usize != header {
            return Err(invalid("the IpcRing was made with another allocation granularity"));
        }
        let capacity = usize::try_from(u64::from_ne_bytes(fields[16..24].try_into().unwrap_or([0; 8])))
            .ok()
            .filter(|&c| c > 0 && c % header == 0 && c <= (isize::MAX as usize - header) / 2)
            .ok_or_else(|| invalid("the IpcRing's capacity is not usable (a peer wrote garbage?)"))?;
        if size.is_some_and(|s| s < (header + capacity) as u64) {
            return Err(invalid("the object is smaller than the capacity its header records"));
        }
        let flags = u32::from_ne_bytes(fields[FLAGS..FLAGS + 4].try_into().unwrap_or([0; 4]));
        if flags & !FENCELESS != 0 {
            return Err(invalid("the IpcRing's header has flags this version does not know"));
        }
        let fenceless = flags & FENCELESS != 0;
        if fenceless {
            // Publish without the fence if this process can register too; with it if not
            // (`publish` asks `os::fast_publish`).
            os::register_fast_publish();
        }
        // SAFETY: checked multiples of the page size that do not overflow; the object holds
        // `header + capacity` bytes.
        let base = unsafe { os::ipc_map(&memory, header, capacity)? };
        let base = NonNull::new(base).ok_or(Error::new(ErrorKind::Os, OP, "the OS returned a null address"))?;
        let mut ring = IpcRing {
            memory,
            base,
            header,
            capacity,
            side: Side::Producer,
            position: 0,
            peer: 0,
            timeout: None,
            attached: false,
            spins: 1024,
            fenceless,
        };
        // Take whichever side is still free.
        let side = [Side::Producer, Side::Consumer]
            .into_iter()
            .find(|&side| {
                ring.line(side).state.compare_exchange(DETACHED, ATTACHED, Ordering::AcqRel, Ordering::Acquire).is_ok()
            })
            .ok_or_else(|| Error::new(ErrorKind::PermissionDenied, OP, "both sides of the ring are taken already"))?;
        ring.side = side;
        ring.attached = true;
        ring.line(side).pid.store(std::process::id(), Ordering::Release);
        // This side was free, so nothing has moved its position from 0: start there (a
        // consumer that attaches late reads everything written before). The peer's position
        // is checked against it like any other value it publishes.
        ring.position = 0;
        ring.line(side).position.store(0, Ordering::Release);
        ring.peer = 0;
        ring.load_peer()?;
        if ring.line(side.other()).state.load(Ordering::Acquire) == DETACHED {
            // The creator never takes no side; a ring whose other side is free was not made
            // by `create`.
            return Err(invalid("the IpcRing's creator holds no side"));
        }
        Ok(ring)
    }

    fn line(&self, side: Side) -> Line<'_> {
        // SAFETY: the header is mapped read-write for the life of `self`; the fields are at
        // 8- and 4-byte aligned offsets of the page-aligned mapping; both processes access them
        // only atomically (a peer writing garbage is checked for wherever a value is used).
        unsafe {
            let p = self.base.as_ptr().add(side.line());
            Line {
                position: AtomicU64::from_ptr(p.cast()),
                signal: AtomicU32::from_ptr(p.add(8).cast()),
                pid: AtomicU32::from_ptr(p.add(16).cast()),
                state: AtomicU32::from_ptr(p.add(20).cast()),
                sleeping: AtomicU32::from_ptr(self.base.as_ptr().add(side.sleeping()).cast()),
            }
        }
    }

    /// The number of bytes the ring holds when full.
    ///
    /// ```
    /// let ring = vmem::IpcRing::create(100_000, vmem::Side::Producer)?;
    /// assert!(ring.capacity() >= 100_000);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Which side this is.
    ///
    /// ```
    /// let ring = vmem::IpcRing::create(1, vmem::Side::Producer)?;
    /// assert_eq!(ring.side(), vmem::Side::Producer);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn side(&self) -> Side {
        self.side
    }

    /// Makes every wait end with `TimedOut` after `timeout` (`None`, the default: wait as long
    /// as the peer lives).
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut ring = vmem::IpcRing::create(1, vmem::Side::Consumer)?;
    /// ring.set_timeout(Some(Duration::from_millis(20)));
    /// // No producer attached, nothing to read: the wait gives up.
    /// assert_eq!(ring.read(&mut [0u8; 4]).unwrap_err().kind(), vmem::ErrorKind::TimedOut);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The first data byte; the data is mapped again right after it.
    fn data(&self) -> *mut u8 {
        // SAFETY: the header is inside the mapping, so the data start is too.
        unsafe { self.base.as_ptr().add(self.header) }
    }

    /// Reads the peer's position and checks it: the bytes it implies between the two
    /// positions must be at most `capacity`.
    fn load_peer(&mut self) -> Result<u64> {
        // SeqCst (a plain load on x86 and a load-acquire on ARM): the sleeper's flag store and
        // this load, against the peer's position store and flag load, must be in one order.
        let peer = self.line(self.side.other()).position.load(Ordering::SeqCst);
        let (tail, head) = match self.side {
            Side::Producer => (self.position, peer),
            Side::Consumer => (peer, self.position),
        };
        let used = tail.wrapping_sub(head);
        // The peer's position only moves forward, and never past what the positions allow.
        if used > self.capacity as u64 || peer.wrapping_sub(self.peer) > self.capacity as u64 {
            return Err(Error::new(
                ErrorKind::InvalidData,
                "IpcRing",
                "the peer's position in the header is impossible (a peer wrote garbage?)",
            )
            .with_limit("capacity", self.capacity as u64));
        }
        self.peer = peer;
        Ok(peer)
    }

    /// Bytes readable (consumer) or writable (producer) by what the peer's position was when
    /// last looked at: a lower bound, since the peer only moves forward.
    fn cached(&self) -> usize {
        match self.side {
            Side::Consumer => self.peer.wrapping_sub(self.position) as usize,
            Side::Producer => self.capacity - self.position.wrapping_sub(self.peer) as usize,
        }
    }

    /// Bytes readable (consumer) or writable (producer) now. The peer's line is read only
    /// when the cached figure is below `wanted`, so that a stream does not pull the peer's
    /// cache line over for every message.
    fn ready(&mut self, wanted: usize) -> Result<usize> {
        let cached = self.cached();
        if cached >= wanted {
            return Ok(cached);
        }
        self.load_peer()?;
        Ok(self.cached())
    }

    /// Whether the peer closed its side, or (when `check_process`) its process is gone
    /// without closing it.
    fn peer_gone(&self, check_process: bool) -> Option<Gone> {
        let peer = self.line(self.side.other());
        match peer.state.load(Ordering::Acquire) {
            CLOSED => Some(Gone::Closed),
            ATTACHED if check_process => {
                let pid = peer.pid.load(Ordering::Acquire);
                (pid != 0 && !os::process_alive(pid)).then_some(Gone::Died)
            }
            _ => None,
        }
    }

    /// Waits until at least `min` bytes (`1..=capacity`) are ready (readable for the
    /// consumer, free for the producer), or the peer is gone and fewer are ready. `wanted`
    /// (at least `min`) is how many the caller could use: the peer's line is read while the
    /// cached figure shows fewer.
    fn wait_ready(&mut self, operation: &'static str, min: usize, wanted: usize) -> Result<Ready> {
        let ready = self.ready(wanted)?;
        if ready >= min {
            return Ok(Ready::Bytes(ready));
        }
        for _ in 0..self.spins {
            core::hint::spin_loop();
            let ready = self.ready(min)?;
            if ready >= min {
                self.spins = (self.spins * 2).min(MAX_SPINS);
                return Ok(Ready::Bytes(ready));
            }
        }
        self.spins = (self.spins / 2).max(MIN_SPINS);
        for _ in 0..YIELDS {
            std::thread::yield_now();
            let ready = self.ready(min)?;
            if ready >= min {
                return Ok(Ready::Bytes(ready));
            }
        }
        let started = Instant::now();
        let mut last_check = started;
        loop {
            let seen = self.line(self.side.other()).signal.load(Ordering::Acquire);
            // Set the flag, then look again: the peer publishes, then reads the flag, so
            // either we see its bytes now or it sees the flag and wakes us (see `publish` for
            // the ordering that takes).
            self.line(self.side).sleeping.store(1, Ordering::SeqCst);
            // A peer that publishes without a fence may have read our flag before its
            // position store was visible: the barrier settles it (see `publish`). If it
            // cannot be issued, sleep in short slices instead, so that a missed wake-up
            // costs at most one.
            let barrier = !self.fenceless || os::sleep_barrier();
            // The peer's state first, then its position: a peer publishes its last bytes
            // before it closes, so a close seen here has its bytes visible to the position
            // load below (Acquire on the state, which the peer stored SeqCst after them).
            // The other order would take a publish-and-close that falls between the two
            // loads for a close with nothing left, and `read` would lose those bytes to an
            // end of file.
            let gone = self.peer_gone(false);
            #[cfg(all(test, unix_backend))]
            tests::between_checks();
            let outcome = match self.ready(min) {
                Ok(n) if n < min => gone.map(|gone| Ok(Ready::Gone(gone))),
                Ok(n) => Some(Ok(Ready::Bytes(n))),
                Err(err) => Some(Err(err)),
            };
            if let Some(outcome) = outcome {
                self.line(self.side).sleeping.store(0, Ordering::Relaxed);
                return outcome;
            }
            let mut slice = if barrier { LIVENESS_INTERVAL } else { UNFENCED_SLICE };
            if let Some(timeout) = self.timeout {
                let elapsed = started.elapsed();
                if elapsed >= timeout {
                    self.line(self.side).sleeping.store(0, Ordering::Relaxed);
                    return Err(Error::new(ErrorKind::TimedOut, operation, "the peer did not answer in time")
                        .with_limit("timeout in ms", timeout.as_millis() as u64));
                }
                slice = slice.min(timeout - elapsed);
            }
            os::wait_on(self.line(self.side.other()).signal, seen, slice);
            self.line(self.side).sleeping.store(0, Ordering::Relaxed);
            if last_check.elapsed() >= LIVENESS_INTERVAL {
                last_check = Instant::now();
                if let Some(gone) = self.peer_gone(true) {
                    if self.ready(min)? < min {
                        return Ok(Ready::Gone(gone));
                    }
                }
            }
        }
    }

    /// Publishes this side's new position and wakes the peer if it sleeps.
    ///
    /// The sleeper stores its flag and then loads our position; we store our position and
    /// then load its flag. At least one of us must see the other's store: either it sees the
    /// new position and does not sleep, or we see the flag, bump the signal and wake it (its
    /// futex wait compares the signal it read before setting the flag, so a wake that comes
    /// first is not lost). That needs a store-load fence on both sides. The sleeper's is its
    /// SeqCst flag store. Ours is either the SeqCst position store (an `xchg` on x86, which
    /// waits for the message's stores to drain: a fifth of the time of a 4 KiB message), or,
    /// on a `FENCELESS` ring in a registered process, the sleeper's `os::sleep_barrier`: a
    /// full barrier run in this thread at some point of that call, so our position store was
    /// visible before it (and the sleeper's next load sees it), or our flag load comes after
    /// it (and sees the flag, stored before the call).
    fn publish(&mut self, advanced: usize) {
        self.position = self.position.wrapping_add(advanced as u64);
        let me = self.line(self.side);
        if self.fenceless && os::fast_publish() {
            me.position.store(self.position, Ordering::Release);
            // The load below must stay after the store in the emitted code: the barrier
            // argument is about program order.
            core::sync::atomic::compiler_fence(Ordering::SeqCst);
        } else {
            me.position.store(self.position, Ordering::SeqCst);
        }
        if self.line(self.side.other()).sleeping.load(Ordering::SeqCst) != 0 {
            me.signal.fetch_add(1, Ordering::SeqCst);
            os::wake_all(me.signal);
        }
    }

    fn check_side(&self, operation: &'static str, side: Side) -> Result<()> {
        if self.side == side {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::PermissionDenied, operation, "this is the other side of the ring"))
        }
    }

    /// Writes as many bytes of `data` as fit (at least one, waiting for room if the ring is
    /// full) and returns how many. Zero bytes return at once.
    ///
    /// # Errors
    /// `PermissionDenied` on the consumer side; `Disconnected` when the consumer closed or
    /// died; `TimedOut` after the [timeout](Self::set_timeout); `InvalidData` when the
    /// consumer's position is impossible.
    ///
    /// ```
    /// let mut ring = vmem::IpcRing::create(1, vmem::Side::Producer)?;
    /// assert_eq!(ring.write(b"abc")?, 3);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn write(&mut self, data: &[u8]) -> Result<usize> {
        const OP: &str = "IpcRing::write";
        self.check_side(OP, Side::Producer)?;
        if data.is_empty() {
            return Ok(0);
        }
        let room = match self.peer_gone(false) {
            Some(gone) => Ready::Gone(gone),
            None => self.wait_ready(OP, 1, data.len().min(self.capacity))?,
        };
        let room = match room {
            Ready::Bytes(n) => n,
            Ready::Gone(gone) => return Err(Self::consumer_gone(OP, gone)),
        };
        let n = room.min(data.len());
        let at = (self.position % self.capacity as u64) as usize;
        // SAFETY: `at < capacity` and `n <= room <= capacity`, so `[at, at + n)` lies in the
        // double mapping of `2 * capacity` bytes; those bytes are free (the consumer has read
        // them, by the checked positions); `data` is this process's memory, not the ring.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.data().add(at), n) };
        self.publish(n);
        Ok(n)
    }

    /// Reads up to `buf.len()` bytes (at least one, waiting for data if the ring is empty)
    /// and returns how many; `Ok(0)` at end of file, when the producer closed its side and
    /// everything it wrote was read.
    ///
    /// # Errors
    /// `Disconnected` when the producer's process died without closing (after everything it
    /// wrote was read); `PermissionDenied` on the producer side; `TimedOut` after the
    /// [timeout](Self::set_timeout); `InvalidData` when the producer's position is
    /// impossible.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use std::os::fd::AsFd;
    /// let mut producer = vmem::IpcRing::create(1, vmem::Side::Producer)?;
    /// let mut consumer = vmem::IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap())?;
    /// producer.write(b"xyz")?;
    /// drop(producer);
    /// let mut buf = [0u8; 8];
    /// assert_eq!(consumer.read(&mut buf)?, 3);
    /// assert_eq!(consumer.read(&mut buf)?, 0); // end of file
    /// # }
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        const OP: &str = "IpcRing::read";
        self.check_side(OP, Side::Consumer)?;
        if buf.is_empty() {
            return Ok(0);
        }
        let available = match self.wait_ready(OP, 1, buf.len().min(self.capacity))? {
            Ready::Bytes(n) => n,
            Ready::Gone(Gone::Closed) => return Ok(0),
            Ready::Gone(Gone::Died) => {
                return Err(Error::new(
                    ErrorKind::Disconnected,
                    OP,
                    "the producer's process died without closing its side (what it wrote was read)",
                ))
            }
        };
        let n = available.min(buf.len());
        let at = (self.position % self.capacity as u64) as usize;
        // SAFETY: `at < capacity`, `n <= capacity`: inside the double mapping; the bytes were
        // published by the producer (checked positions); `buf` is this process's memory.
        unsafe { core::ptr::copy_nonoverlapping(self.data().add(at), buf.as_mut_ptr(), n) };
        self.publish(n);
        Ok(n)
    }
}

/// Zero-copy access: see [the module docs](self#zero-copy).
impl IpcRing {
    /// Every byte readable now, oldest first, as one slice (empty when there is none); then
    /// [`advance_read`](Self::advance_read). Never waits.
    ///
    /// # Safety
    /// No process may write these bytes while the slice lives: true when the producer is an
    /// `IpcRing` (see [the module docs](self#zero-copy)).
    ///
    /// # Errors
    /// `PermissionDenied` on the producer side; `InvalidData` when the producer's position is
    /// impossible.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use std::os::fd::AsFd;
    /// let mut producer = vmem::IpcRing::create(1, vmem::Side::Producer)?;
    /// let mut consumer = vmem::IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap())?;
    /// // SAFETY: both sides are `IpcRing`s.
    /// assert!(unsafe { consumer.readable()? }.is_empty());
    /// producer.write(b"abc")?;
    /// assert_eq!(unsafe { consumer.readable()? }, b"abc");
    /// # }
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub unsafe fn readable(&mut self) -> Result<&[u8]> {
        self.check_side("IpcRing::readable", Side::Consumer)?;
        self.load_peer()?;
        let n = self.cached();
        // SAFETY: `n` bytes from our position were published (checked positions), inside
        // the double mapping; the caller vouches that nobody writes them meanwhile, and
        // `&mut self` keeps `advance_read` away until the slice is gone.
        Ok(unsafe { self.slice(n) })
    }

    /// Waits until at least `min` bytes are readable and returns them as one slice, oldest
    /// first (a whole message of `min` bytes, say, however the ring wraps); then
    /// [`advance_read`](Self::advance_read). The slice holds every byte readable when the
    /// producer's position was last looked at, which happens only when the cached position
    /// shows fewer than `min` (so that a stream does not pull the producer's cache line over
    /// for every message): at least `min`, perhaps fewer than are there now. When the
    /// producer closed its side, returns what is left even if shorter than `min`: empty at
    /// end of file. Waits as [`read`](Self::read) does; `min` of zero does not wait.
    ///
    /// # Safety
    /// As [`readable`](Self::readable).
    ///
    /// # Errors
    /// `InvalidArgument` when `min` exceeds the capacity (it could never be met);
    /// `Disconnected` when the producer's process died and nothing is left to read;
    /// `TimedOut` after the [timeout](Self::set_timeout); `PermissionDenied` on the producer
    /// side; `InvalidData` when the producer's position is impossible.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use std::os::fd::AsFd;
    /// let mut producer = vmem::IpcRing::create(1, vmem::Side::Producer)?;
    /// let mut consumer = vmem::IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap())?;
    /// producer.write(b"message")?;
    /// // SAFETY: both sides are `IpcRing`s.
    /// let checksum: u32 = unsafe { consumer.wait_readable(7)? }[..7].iter().map(|&b| b as u32).sum();
    /// consumer.advance_read(7)?;
    /// assert_eq!(checksum, b"message".iter().map(|&b| b as u32).sum());
    /// drop(producer);
    /// assert!(unsafe { consumer.wait_readable(1)? }.is_empty()); // end of file
    /// # }
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub unsafe fn wait_readable(&mut self, min: usize) -> Result<&[u8]> {
        const OP: &str = "IpcRing::wait_readable";
        self.check_side(OP, Side::Consumer)?;
        self.check_min(OP, min)?;
        if min == 0 {
            // SAFETY: passed on from the caller.
            return unsafe { self.readable() };
        }
        let n = match self.wait_ready(OP, min, min)? {
            Ready::Bytes(n) => n,
            Ready::Gone(gone) => {
                // The producer is gone: its position moves no more. Hand out what is left.
                self.load_peer()?;
                match (self.cached(), gone) {
                    (0, Gone::Died) => {
                        return Err(Error::new(
                            ErrorKind::Disconnected,
                            OP,
                            "the producer's process died without closing its side (what it wrote was read)",
                        ))
                    }
                    (n, _) => n,
                }
            }
        };
        // SAFETY: as in `readable`.
        Ok(unsafe { self.slice(n) })
    }

    /// Marks the first `n` readable bytes as read, handing their space back to the producer
    /// (and waking it if it waits).
    ///
    /// # Errors
    /// `OutOfBounds` when fewer than `n` bytes are readable (nothing changes then);
    /// `PermissionDenied` on the producer side; `InvalidData` when the producer's position is
    /// impossible.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use std::os::fd::AsFd;
    /// let mut producer = vmem::IpcRing::create(1, vmem::Side::Producer)?;
    /// let mut consumer = vmem::IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap())?;
    /// producer.write(b"abc")?;
    /// consumer.advance_read(2)?;
    /// assert_eq!(unsafe { consumer.readable()? }, b"c"); // SAFETY: both are `IpcRing`s.
    /// assert_eq!(consumer.advance_read(2).unwrap_err().kind(), vmem::ErrorKind::OutOfBounds);
    /// # }
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn advance_read(&mut self, n: usize) -> Result<()> {
        const OP: &str = "IpcRing::advance_read";
        self.check_side(OP, Side::Consumer)?;
        self.advance(OP, n, "more than is readable")
    }

    /// All the free space now as one slice to write into (empty when the ring is full); then
    /// [`advance_write`](Self::advance_write). Never waits.
    ///
    /// # Safety
    /// No other process may read or write these bytes while the slice lives: true when the
    /// consumer is an `IpcRing` (see [the module docs](self#zero-copy)).
    ///
    /// # Errors
    /// `PermissionDenied` on the consumer side; `InvalidData` when the consumer's position is
    /// impossible.
    ///
    /// ```
    /// let mut producer = vmem::IpcRing::create(1, vmem::Side::Producer)?;
    /// // SAFETY: no other process has the ring.
    /// let free = unsafe { producer.writable()? };
    /// assert_eq!(free.len(), producer.capacity());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub unsafe fn writable(&mut self) -> Result<&mut [u8]> {
        self.check_side("IpcRing::writable", Side::Producer)?;
        self.load_peer()?;
        let n = self.cached();
        // SAFETY: `n` bytes from our position are free (checked positions), inside the
        // double mapping; the caller vouches that no other process touches them meanwhile,
        // and `&mut self` makes this our only reference.
        Ok(unsafe { self.slice_mut(n) })
    }

    /// Waits until at least `min` bytes are free and returns the free space as one slice
    /// (room for a whole message of `min` bytes, say, however the ring wraps), to build the
    /// message in place; then [`advance_write`](Self::advance_write). As with
    /// [`wait_readable`](Self::wait_readable), the consumer's position is looked at only when
    /// the cached one shows less than `min`: the slice is at least `min` bytes, perhaps less
    /// than is free now. Waits as [`write`](Self::write) does; `min` of zero does not wait.
    ///
    /// # Safety
    /// As [`writable`](Self::writable).
    ///
    /// # Errors
    /// `InvalidArgument` when `min` exceeds the capacity; `Disconnected` when the consumer
    /// closed or died; `TimedOut` after the [timeout](Self::set_timeout); `PermissionDenied`
    /// on the consumer side; `InvalidData` when the consumer's position is impossible.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use std::os::fd::AsFd;
    /// let mut producer = vmem::IpcRing::create(1, vmem::Side::Producer)?;
    /// let mut consumer = vmem::IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap())?;
    /// // SAFETY: both sides are `IpcRing`s.
    /// let room = unsafe { producer.wait_writable(5)? };
    /// room[..5].copy_from_slice(b"built");
    /// producer.advance_write(5)?;
    /// let mut buf = [0u8; 5];
    /// std::io::Read::read_exact(&mut consumer, &mut buf)?;
    /// assert_eq!(&buf, b"built");
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub unsafe fn wait_writable(&mut self, min: usize) -> Result<&mut [u8]> {
        const OP: &str = "IpcRing::wait_writable";
        self.check_side(OP, Side::Producer)?;
        self.check_min(OP, min)?;
        if let Some(gone) = self.peer_gone(false) {
            return Err(Self::consumer_gone(OP, gone));
        }
        if min == 0 {
            // SAFETY: passed on from the caller.
            return unsafe { self.writable() };
        }
        let n = match self.wait_ready(OP, min, min)? {
            Ready::Bytes(n) => n,
            Ready::Gone(gone) => return Err(Self::consumer_gone(OP, gone)),
        };
        // SAFETY: as in `writable`.
        Ok(unsafe { self.slice_mut(n) })
    }

    /// Publishes the first `n` free bytes (written through
    /// [`wait_writable`](Self::wait_writable) or [`writable`](Self::writable)) to the
    /// consumer, waking it if it waits.
    ///
    /// # Errors
    /// `OutOfBounds` when fewer than `n` bytes are free (nothing changes then);
    /// `PermissionDenied` on the consumer side; `InvalidData` when the consumer's position is
    /// impossible.
    ///
    /// ```
    /// let mut producer = vmem::IpcRing::create(1, vmem::Side::Producer)?;
    /// let capacity = producer.capacity();
    /// assert_eq!(producer.advance_write(capacity + 1).unwrap_err().kind(), vmem::ErrorKind::OutOfBounds);
    /// producer.advance_write(capacity)?;
    /// assert!(unsafe { producer.writable()? }.is_empty()); // SAFETY: nobody else has it.
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn advance_write(&mut self, n: usize) -> Result<()> {
        const OP: &str = "IpcRing::advance_write";
        self.check_side(OP, Side::Producer)?;
        self.advance(OP, n, "more than the free space")
    }

    fn check_min(&self, operation: &'static str, min: usize) -> Result<()> {
        if min > self.capacity {
            return Err(Error::new(ErrorKind::InvalidArgument, operation, "more bytes than the ring holds")
                .sized(min)
                .with_limit("capacity", self.capacity as u64));
        }
        Ok(())
    }

    fn advance(&mut self, operation: &'static str, n: usize, detail: &'static str) -> Result<()> {
        let ready = self.ready(n)?;
        if n > ready {
            return Err(Error::new(ErrorKind::OutOfBounds, operation, detail)
                .sized(n)
                .with_limit("available bytes", ready as u64));
        }
        if n > 0 {
            self.publish(n);
        }
        Ok(())
    }

    fn consumer_gone(operation: &'static str, gone: Gone) -> Error {
        match gone {
            Gone::Closed => Error::new(ErrorKind::Disconnected, operation, "the consumer closed its side"),
            Gone::Died => Error::new(ErrorKind::Disconnected, operation, "the consumer's process died"),
        }
    }

    /// `n` bytes from this side's position.
    ///
    /// # Safety
    /// `n <= capacity`; the bytes are this side's to read (published to the consumer) and
    /// nobody writes them while the slice lives.
    unsafe fn slice(&self, n: usize) -> &[u8] {
        let at = (self.position % self.capacity as u64) as usize;
        // SAFETY: `at < capacity` and `n <= capacity` keep `[at, at + n)` inside the double
        // mapping of `2 * capacity` bytes; the rest is the caller's promise.
        unsafe { core::slice::from_raw_parts(self.data().add(at), n) }
    }

    /// `n` bytes from this side's position, to write.
    ///
    /// # Safety
    /// `n <= capacity`; the bytes are free (the consumer has read them) and nobody else
    /// reads or writes them while the slice lives.
    unsafe fn slice_mut(&mut self, n: usize) -> &mut [u8] {
        let at = (self.position % self.capacity as u64) as usize;
        // SAFETY: as in `slice`; `&mut self` makes this our only reference.
        unsafe { core::slice::from_raw_parts_mut(self.data().add(at), n) }
    }
}

#[cfg(unix_backend)]
impl IpcRing {
    /// Takes the free side of a ring from a descriptor of its object (inherited from the
    /// creator, received with [`receive_from`](Self::receive_from), or a duplicate).
    ///
    /// # Errors
    /// `InvalidData` when the object is not an `IpcRing`, or (Linux) is one its sender could
    /// truncate under the mapping (not a `memfd` sealed against shrinking, as `create` makes);
    /// `PermissionDenied` when both sides are taken; the OS error of mapping.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// let ring = vmem::IpcRing::create(1, vmem::Side::Producer)?;
    /// let other = vmem::IpcRing::from_fd(ring.as_fd().try_clone_to_owned().unwrap())?;
    /// assert_eq!(other.side(), vmem::Side::Consumer);
    /// assert!(vmem::IpcRing::from_fd(ring.as_fd().try_clone_to_owned().unwrap()).is_err());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn from_fd(fd: std::os::fd::OwnedFd) -> Result<IpcRing> {
        IpcRing::from_memory(std::fs::File::from(fd))
    }

    /// Sends the ring's descriptor over a Unix socket (`SCM_RIGHTS`).
    ///
    /// # Errors
    /// The OS error of `sendmsg`.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// let (a, b) = UnixStream::pair().unwrap();
    /// let ring = vmem::IpcRing::create(1, vmem::Side::Producer)?;
    /// ring.send_to(&a)?;
    /// assert_eq!(vmem::IpcRing::receive_from(&b)?.side(), vmem::Side::Consumer);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn send_to(&self, socket: &std::os::unix::net::UnixStream) -> Result<()> {
        use std::os::fd::AsFd;
        os::send_fd(socket.as_fd(), self.memory.as_fd())
    }

    /// Receives a ring's descriptor sent with [`send_to`](Self::send_to) and takes its free
    /// side.
    ///
    /// # Errors
    /// `Disconnected` when the socket closes first; as [`from_fd`](Self::from_fd).
    pub fn receive_from(socket: &std::os::unix::net::UnixStream) -> Result<IpcRing> {
        use std::os::fd::AsFd;
        IpcRing::from_fd(os::recv_fd(socket.as_fd())?)
    }

    /// Whether the ring's descriptor stays open in programs this process starts (`exec`).
    ///
    /// # Errors
    /// The OS error of `fcntl`.
    ///
    /// ```
    /// vmem::IpcRing::create(1, vmem::Side::Producer)?.set_inheritable(true)?;
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn set_inheritable(&self, inheritable: bool) -> Result<()> {
        use std::os::fd::AsFd;
        os::set_inheritable(self.memory.as_fd(), inheritable)
    }
}

#[cfg(unix_backend)]
impl std::os::fd::AsFd for IpcRing {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.memory.as_fd()
    }
}

#[cfg(unix_backend)]
impl std::os::fd::AsRawFd for IpcRing {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.memory)
    }
}

#[cfg(windows)]
impl IpcRing {
    /// Takes the free side of a ring from a handle of its section.
    ///
    /// # Errors
    /// As on Unix.
    pub fn from_handle(handle: std::os::windows::io::OwnedHandle) -> Result<IpcRing> {
        IpcRing::from_memory(os::SharedMemory::from(handle))
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsHandle for IpcRing {
    fn as_handle(&self) -> std::os::windows::io::BorrowedHandle<'_> {
        self.memory.as_handle()
    }
}

impl std::io::Read for IpcRing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        IpcRing::read(self, buf).map_err(Into::into)
    }
}

impl std::io::Write for IpcRing {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        IpcRing::write(self, data).map_err(Into::into)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for IpcRing {
    fn drop(&mut self) {
        if self.attached {
            let me = self.line(self.side);
            me.state.store(CLOSED, Ordering::SeqCst);
            // Wake a peer sleeping on our signal, so it sees the close at once.
            me.signal.fetch_add(1, Ordering::SeqCst);
            os::wake_all(me.signal);
        }
        // SAFETY: the mapping came from `ipc_map(_, header, capacity)`; `&mut self` in drop
        // means nothing uses it any more.
        let _ = unsafe { os::ipc_unmap(self.base.as_ptr(), self.header, self.capacity) };
    }
}

impl core::fmt::Debug for IpcRing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IpcRing")
            .field("side", &self.side)
            .field("capacity", &self.capacity)
            .field("position", &self.position)
            .finish()
    }
}

#[cfg(all(test, unix_backend))]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::os::fd::AsFd;

    std::thread_local! {
        /// Run once by a wait of this thread about to sleep, between its look at the peer's
        /// state and its look at the peer's position: a peer that acts just then.
        static BETWEEN_CHECKS: RefCell<Option<Box<dyn FnOnce()>>> = const { RefCell::new(None) };
    }

    pub(super) fn between_checks() {
        if let Some(hook) = BETWEEN_CHECKS.with(|hook| hook.borrow_mut().take()) {
            hook();
        }
    }

    /// A producer that writes its last bytes and closes while the consumer is about to sleep
    /// (between its looks at the peer's state and position) must not make those
    /// bytes vanish behind an end of file.
    #[test]
    fn last_bytes_and_close_just_before_the_consumer_sleeps_are_read_not_end_of_file() {
        let mut producer = IpcRing::create(1, Side::Producer).unwrap();
        let mut consumer = IpcRing::from_fd(producer.as_fd().try_clone_to_owned().unwrap()).unwrap();
        BETWEEN_CHECKS.with(|hook| {
            *hook.borrow_mut() = Some(Box::new(move || {
                assert_eq!(producer.write(b"last").unwrap(), 4);
                drop(producer);
            }))
        });
        let mut buf = [0u8; 8];
        let n = consumer.read(&mut buf).unwrap();
        assert!(BETWEEN_CHECKS.with(|hook| hook.borrow().is_none()), "the wait never reached its sleep");
        assert_eq!(&buf[..n], b"last", "the producer's last bytes were lost to an end of file");
        assert_eq!(consumer.read(&mut buf).unwrap(), 0);
    }

    /// A child of `fork` (without `exec`) publishes with the fence until it registers itself:
    /// the parent's registration is not taken for the child's.
    #[cfg(linux_backend)]
    #[test]
    fn a_forked_child_publishes_with_the_fence_until_it_registers() {
        if !os::register_fast_publish() {
            return; // This kernel or sandbox refuses membarrier: every process uses the fence.
        }
        assert!(os::fast_publish());
        // SAFETY: the child only reads and writes atomics, makes the membarrier system call
        // and `_exit`s: all async-signal-safe, so fine in the child of a threaded process.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let before = os::fast_publish();
            let registered = os::register_fast_publish();
            let after = os::fast_publish();
            let code = i32::from(before) | i32::from(!registered) << 1 | i32::from(!after) << 2;
            // SAFETY: ends the forked child without running the harness's exit path.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "{status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), 0, "1: fence-less before registering; 2, 4: registering failed");
        assert!(os::fast_publish(), "the parent keeps its registration");
    }
}
