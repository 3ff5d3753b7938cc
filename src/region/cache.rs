//! The warm cache: reserved regions, with their committed pages, kept between the
//! structures that use them.
//!
//! Every data structure of this crate keeps its memory in a region of reserved address
//! space. When a structure is dropped, its region comes here with its committed (and
//! usually faulted-in) pages instead of going back to the OS; the next structure that needs
//! a region of the same size takes it. So a structure created and dropped in a loop makes no
//! system call and takes no page fault after the first round, as a `Vec` on `malloc`'s
//! retained heap does. Memory from the cache may hold what the previous structure wrote: the
//! structures never read memory they did not write (and zero what they need zeroed).
//! [`Reservation`] and the raw functions never see cached memory: a new
//! `Reservation` and fresh commits always read zero.
//!
//! # Bounds
//!
//! The cache holds at most [`max_bytes`] of committed memory (64 MiB by default) and
//! [`max_entries`] regions (64 by default, about 4 TiB of address space at the default
//! [`DEFAULT_RESERVE_BYTES`](crate::DEFAULT_RESERVE_BYTES) per region). A region given back
//! when the bytes are full makes room by releasing the regions given back longest ago (one
//! system call each: the one just dropped is the likeliest to be taken next); what still does
//! not fit (a region larger than the bound) is decommitted. One beyond the entry bound
//! releases the oldest entry of its part of the cache. A region nobody takes for
//! [`decay_ms`] (1 s by default) is released lazily: by the next region given back to the
//! same part of the cache, since no background thread runs. [`trim`] releases everything
//! now. Regions of structures that lock their memory
//! ([`ArenaBuilder::lock_memory`](crate::ArenaBuilder::lock_memory)) are never cached.
//!
//! Set the bounds with [`set_max_bytes`] and [`set_max_entries`] (0 turns the cache off), or
//! before the program starts with environment variables: `VMEM_CACHE=off`,
//! `VMEM_CACHE_BYTES` (a number of bytes, with an optional `k`, `m` or `g` suffix),
//! `VMEM_CACHE_ENTRIES`, `VMEM_CACHE_DECAY_MS`.
//!
//! When the OS refuses memory or address space to a structure, the cache is emptied and the
//! request tried once more before the error is returned.
//!
//! # Cost model
//!
//! Taking and giving back a region are a few dozen instructions under a spin lock of one of
//! eight shards (a thread uses its own shard first, so two threads creating and dropping
//! structures do not contend); a miss tries the other shards without waiting, then asks the
//! OS. Giving back reads the clock once.
//!
//! # Processes
//!
//! After `fork`, the child starts with the cache it inherited (the regions are copy-on-write
//! copies), except for a shard another thread of the parent was changing at that moment:
//! the child forgets its regions (their address space stays mapped in the child) rather
//! than trust half-changed bookkeeping.
//!
//! ```
//! use vmem::VirtualVec;
//!
//! let v: VirtualVec<u64> = (0..100_000).collect();
//! drop(v);                        // its region, 1 MiB committed, goes to the cache
//! let w: VirtualVec<u64> = (0..100_000).collect(); // takes it: no system call, no page fault
//! assert!(vmem::cache::stats().hits >= 1 || vmem::cache::max_entries() == 0);
//! drop(w);
//! let released = vmem::trim();    // everything cached goes back to the OS
//! assert_eq!(vmem::cache::stats().bytes, 0);
//! # let _ = released;
//! ```

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::sync::SpinLock;
use crate::Reservation;

/// Shards of the cache; a thread uses its own first.
const SHARDS: usize = 8;
/// Regions a shard holds at most.
const SLOTS: usize = 16;
/// The most regions the cache can hold, whatever [`set_max_entries`] says.
pub const ENTRY_LIMIT: usize = SHARDS * SLOTS;

const DEFAULT_MAX_BYTES: usize = 64 << 20;
const DEFAULT_MAX_ENTRIES: usize = 64;
const DEFAULT_DECAY_MS: u64 = 1000;

/// A region waiting in the cache: its reservation, how many bytes from its start are
/// committed, and whether it has asked for transparent huge pages.
pub(crate) struct Entry {
    pub(crate) reservation: Reservation,
    pub(crate) committed: usize,
    pub(crate) huge: bool,
    /// When it was given back, in milliseconds since the cache first read the clock.
    stamp: u64,
}

/// One shard: a stack of regions, oldest first.
struct Shard {
    slots: [Option<Entry>; SLOTS],
    len: usize,
    /// Regions taken from this shard (counted under its lock: no shared counter to bump on
    /// the hot path).
    hits: u64,
}

impl Shard {
    const EMPTY: Shard = Shard { slots: [const { None }; SLOTS], len: 0, hits: 0 };

    /// Removes and returns the entry at `index`, keeping the order of the rest.
    fn remove(&mut self, index: usize) -> Option<Entry> {
        let entry = self.slots[index].take();
        self.slots[index..self.len].rotate_left(1);
        self.len -= 1;
        entry
    }
}

static SHARD: [SpinLock<Shard>; SHARDS] = [const { SpinLock::new(Shard::EMPTY) }; SHARDS];
/// Committed bytes and regions in the cache.
static BYTES: AtomicUsize = AtomicUsize::new(0);
static ENTRIES: AtomicUsize = AtomicUsize::new(0);
static MISSES: AtomicU64 = AtomicU64::new(0);
/// The bounds; `usize::MAX` until the settings are first read.
static MAX_BYTES: AtomicUsize = AtomicUsize::new(usize::MAX);
static MAX_ENTRIES: AtomicUsize = AtomicUsize::new(usize::MAX);
/// The decay; `u64::MAX` until the settings are first read.
static DECAY_MS: AtomicU64 = AtomicU64::new(u64::MAX);

/// What the cache holds and how often it was of use, for [`stats`].
///
/// ```
/// let s = vmem::cache::stats();
/// assert!(s.entries <= vmem::cache::ENTRY_LIMIT);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Committed bytes held in the cache now.
    pub bytes: usize,
    /// Regions held in the cache now.
    pub entries: usize,
    /// Structures that took a region from the cache, since the process started.
    pub hits: u64,
    /// Structures that found none and asked the OS.
    pub misses: u64,
}

/// What the cache holds now, and how often it was of use.
///
/// ```
/// let before = vmem::cache::stats();
/// let mut v = vmem::VirtualVec::new();
/// v.push(1u8);
/// let after = vmem::cache::stats();
/// assert!(after.hits + after.misses > before.hits + before.misses);
/// ```
pub fn stats() -> CacheStats {
    settings();
    CacheStats {
        bytes: BYTES.load(Ordering::Relaxed),
        entries: ENTRIES.load(Ordering::Relaxed),
        hits: SHARD.iter().map(|shard| shard.lock().hits).sum(),
        misses: MISSES.load(Ordering::Relaxed),
    }
}

/// Returns every cached region to the OS now (address space, memory and commit charge), and
/// says how many committed bytes that was. Structures in use keep their memory.
///
/// Cost: one system call per cached region.
///
/// ```
/// drop(vmem::VirtualVec::<u8>::from_iter(0..100));
/// vmem::trim();
/// assert_eq!(vmem::cache::stats().entries, 0);
/// ```
pub fn trim() -> usize {
    // The settings first: reading them registers the `fork` handler, which must be in place
    // before any shard lock is taken (a child forked while this thread held one would wait
    // for it forever otherwise).
    settings();
    evict_while(|_| true)
}

/// The most committed bytes the cache holds (64 MiB by default, or `VMEM_CACHE_BYTES`).
///
/// ```
/// assert!(vmem::cache::max_bytes() <= usize::MAX);
/// ```
pub fn max_bytes() -> usize {
    settings().0
}

/// Sets the most committed bytes the cache holds; what it holds beyond is returned now.
/// `0` keeps no memory (regions may still be cached as bare address space, up to
/// [`max_entries`]).
///
/// ```
/// let old = vmem::cache::max_bytes();
/// vmem::cache::set_max_bytes(1 << 20);
/// assert!(vmem::cache::stats().bytes <= 1 << 20);
/// vmem::cache::set_max_bytes(old);
/// ```
pub fn set_max_bytes(bytes: usize) {
    settings();
    MAX_BYTES.store(bytes.min(usize::MAX - 1), Ordering::SeqCst);
    enforce_bounds();
}

/// The most regions the cache holds (64 by default, or `VMEM_CACHE_ENTRIES`; at most
/// [`ENTRY_LIMIT`]). `0` means the cache is off.
///
/// ```
/// assert!(vmem::cache::max_entries() <= vmem::cache::ENTRY_LIMIT);
/// ```
pub fn max_entries() -> usize {
    settings().1
}

/// Sets the most regions the cache holds (clamped to [`ENTRY_LIMIT`]); `0` turns the cache
/// off. What it holds beyond is returned now.
///
/// ```
/// let old = vmem::cache::max_entries();
/// vmem::cache::set_max_entries(0); // off: every structure gets fresh memory from the OS
/// drop(vmem::VirtualVec::<u8>::from_iter(0..10));
/// assert_eq!(vmem::cache::stats().entries, 0);
/// vmem::cache::set_max_entries(old);
/// ```
pub fn set_max_entries(entries: usize) {
    settings();
    MAX_ENTRIES.store(entries.min(ENTRY_LIMIT), Ordering::SeqCst);
    enforce_bounds();
}

/// How long a region may wait in the cache before it is released (1 s by default, or
/// `VMEM_CACHE_DECAY_MS`), in milliseconds. Released lazily: see the [module docs](self).
///
/// ```
/// assert!(vmem::cache::decay_ms() > 0);
/// ```
pub fn decay_ms() -> u64 {
    settings();
    DECAY_MS.load(Ordering::Relaxed)
}

/// Sets how long, in milliseconds, a region may wait in the cache before it is released.
///
/// ```
/// let old = vmem::cache::decay_ms();
/// vmem::cache::set_decay_ms(10);
/// vmem::cache::set_decay_ms(old);
/// ```
pub fn set_decay_ms(ms: u64) {
    settings();
    DECAY_MS.store(ms, Ordering::Relaxed);
}

/// The bounds, read from the environment the first time.
///
/// The bounds and the counters are stored and read `SeqCst` where a setter and a `give` meet
/// (the setter stores a bound and then reads the counters; `give` claims with the counters
/// and then reads the bounds): so one of the two sees the other's change, and a region given
/// back while the bounds are lowered is returned by one of them. (On x86 only the setter's
/// stores cost more; its loads and the claims are what they were.)
fn settings() -> (usize, usize) {
    let (bytes, entries) = (MAX_BYTES.load(Ordering::SeqCst), MAX_ENTRIES.load(Ordering::SeqCst));
    if bytes != usize::MAX && entries != usize::MAX {
        return (bytes, entries);
    }
    init();
    (MAX_BYTES.load(Ordering::SeqCst), MAX_ENTRIES.load(Ordering::SeqCst))
}

/// Reads the settings from the environment and registers the `fork` handler. Every thread
/// that finds the bounds unset runs this for itself and nobody waits for another thread to
/// finish it: a thread of the parent that was in here (or inside `std::env`'s lock, or a
/// `Once`) at a `fork` does not exist in the child, which would wait for it forever.
#[cfg(feature = "std")]
fn init() {
    let bytes = env_var("VMEM_CACHE_BYTES").and_then(|v| parse_bytes(&v)).unwrap_or(DEFAULT_MAX_BYTES);
    let entries = env_var("VMEM_CACHE_ENTRIES").and_then(|v| v.trim().parse().ok()).unwrap_or(DEFAULT_MAX_ENTRIES);
    let off = env_var("VMEM_CACHE").is_some_and(|v| matches!(v.trim(), "off" | "0" | "no" | "false"));
    let (bytes, entries) = if off { (0, 0) } else { (bytes, entries) };
    let decay = env_var("VMEM_CACHE_DECAY_MS").and_then(|v| v.trim().parse().ok()).unwrap_or(DEFAULT_DECAY_MS);
    #[cfg(unix)]
    register_fork_handler();
    // Only where nothing set them yet: a setter reads the settings first, so it runs this
    // before it stores, and its value wins. The decay before the bounds, which say "done".
    let _ = DECAY_MS.compare_exchange(u64::MAX, decay.min(u64::MAX - 1), Ordering::SeqCst, Ordering::Relaxed);
    let _ = MAX_BYTES.compare_exchange(usize::MAX, bytes.min(usize::MAX - 1), Ordering::SeqCst, Ordering::Relaxed);
    let _ = MAX_ENTRIES.compare_exchange(usize::MAX, entries.min(ENTRY_LIMIT), Ordering::SeqCst, Ordering::Relaxed);
}

/// An environment variable, read without `std::env`'s lock where a `fork` can happen.
#[cfg(feature = "std")]
fn env_var(name: &str) -> Option<std::string::String> {
    #[cfg(unix)]
    {
        let name = std::ffi::CString::new(name).ok()?;
        // SAFETY: `name` is a NUL-terminated string that lives across the call. `getenv` takes
        // no lock; a concurrent `setenv` would race it, which is why `std::env::set_var` is
        // `unsafe` and its caller promises that no other thread reads the environment.
        let value = unsafe { libc::getenv(name.as_ptr()) };
        if value.is_null() {
            return None;
        }
        // SAFETY: not null: `getenv` returned a NUL-terminated string in the environment.
        unsafe { std::ffi::CStr::from_ptr(value) }.to_str().ok().map(std::string::String::from)
    }
    #[cfg(not(unix))]
    std::env::var(name).ok()
}

/// Registers [`after_fork`] once, before any shard lock is taken (every path to a lock reads
/// the settings first). Threads that lose the race wait until it is registered, unless the
/// thread registering it is in another process (they are a forked child of a parent that
/// was registering): then they register it themselves. Twice is harmless: the handler only
/// takes over free locks and recounts.
#[cfg(all(unix, feature = "std"))]
fn register_fork_handler() {
    use core::sync::atomic::{AtomicI32, AtomicU8};
    /// 0: not registered; 1: a thread is registering it; 2: registered.
    static STATE: AtomicU8 = AtomicU8::new(0);
    /// The process of the thread registering it.
    static OWNER: AtomicI32 = AtomicI32::new(0);
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let register = || {
        // SAFETY: `after_fork` is an `extern "C"` function that may run in a forked child.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork)) };
        STATE.store(2, Ordering::Release);
    };
    match STATE.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            OWNER.store(me, Ordering::Release);
            register();
        }
        Err(_) => {
            while STATE.load(Ordering::Acquire) == 1 {
                if OWNER.load(Ordering::Acquire) != me {
                    register();
                    return;
                }
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(not(feature = "std"))]
fn init() {
    let _ = DECAY_MS.compare_exchange(u64::MAX, DEFAULT_DECAY_MS, Ordering::SeqCst, Ordering::Relaxed);
    let _ = MAX_BYTES.compare_exchange(usize::MAX, DEFAULT_MAX_BYTES, Ordering::Relaxed, Ordering::Relaxed);
    let _ = MAX_ENTRIES.compare_exchange(usize::MAX, DEFAULT_MAX_ENTRIES, Ordering::Relaxed, Ordering::Relaxed);
}

/// `"64m"`, `"1g"`, `"4096"`: a byte count.
#[cfg(feature = "std")]
fn parse_bytes(text: &str) -> Option<usize> {
    let text = text.trim().to_ascii_lowercase();
    let (number, shift) = if let Some(number) = text.strip_suffix('k') {
        (number, 10)
    } else if let Some(number) = text.strip_suffix('m') {
        (number, 20)
    } else if let Some(number) = text.strip_suffix('g') {
        (number, 30)
    } else {
        (text.as_str(), 0)
    };
    number.trim().parse::<usize>().ok()?.checked_mul(1 << shift)
}

/// In a forked child: take over every shard; forget the regions of one that a thread of the
/// parent was changing.
#[cfg(all(unix, feature = "std"))]
extern "C" fn after_fork() {
    let mut bytes = 0;
    let mut entries = 0;
    for shard in &SHARD {
        // SAFETY: the child has only this thread, which is inside `fork`, not in the cache.
        let (mut guard, held) = unsafe { shard.after_fork() };
        if held {
            // Its bookkeeping may be half-changed: forget it without reading the regions.
            let hits = guard.hits;
            core::mem::forget(core::mem::replace(&mut *guard, Shard::EMPTY));
            guard.hits = hits;
        }
        for entry in guard.slots[..guard.len].iter().flatten() {
            bytes += entry.committed;
            entries += 1;
        }
    }
    BYTES.store(bytes, Ordering::Relaxed);
    ENTRIES.store(entries, Ordering::Relaxed);
}

/// This thread's shard.
fn home() -> usize {
    #[cfg(feature = "std")]
    {
        use core::cell::Cell;
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        std::thread_local! {
            static HOME: Cell<usize> = const { Cell::new(usize::MAX) };
        }
        HOME.try_with(|home| {
            if home.get() == usize::MAX {
                home.set(NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS);
            }
            home.get()
        })
        .unwrap_or(0)
    }
    #[cfg(not(feature = "std"))]
    0
}

/// Milliseconds on a clock that only moves forward (0 without `std`). No lazily made start
/// time (a `OnceLock` that a parent thread was filling at a `fork` would hang the child).
fn now_ms() -> u64 {
    #[cfg(all(unix, feature = "std"))]
    {
        // The coarse clock where there is one: a decay of a second needs no better than its
        // few milliseconds, and it is read without the hardware counter.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let clock = rustix::time::ClockId::MonotonicCoarse;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let clock = rustix::time::ClockId::Monotonic;
        let now = rustix::time::clock_gettime(clock);
        u64::try_from(now.tv_sec).unwrap_or(0).saturating_mul(1000).saturating_add(now.tv_nsec as u64 / 1_000_000)
    }
    #[cfg(all(not(unix), feature = "std"))]
    {
        // No `fork` here, so a lazily made start time is fine.
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let start = START.get_or_init(std::time::Instant::now);
        u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
    #[cfg(not(feature = "std"))]
    0
}

/// Takes a cached region of exactly `size` reserved bytes whose base is aligned to `align`,
/// the most recently given back first.
pub(crate) fn take(size: usize, align: usize) -> Option<Entry> {
    if settings().1 == 0 {
        return None;
    }
    let home = home();
    for i in 0..SHARDS {
        let index = (home + i) % SHARDS;
        // Our own shard we wait for (briefly: nobody holds it long); others only if free.
        let guard = if i == 0 { Some(SHARD[index].lock()) } else { SHARD[index].try_lock() };
        let Some(mut shard) = guard else { continue };
        let found = (0..shard.len).rev().find(|&j| {
            shard.slots[j]
                .as_ref()
                .is_some_and(|e| e.reservation.len() == size && (e.reservation.as_ptr() as usize) & (align - 1) == 0)
        });
        if let Some(j) = found {
            let entry = shard.remove(j);
            shard.hits += u64::from(entry.is_some());
            drop(shard);
            if let Some(entry) = &entry {
                BYTES.fetch_sub(entry.committed, Ordering::Relaxed);
                ENTRIES.fetch_sub(1, Ordering::Relaxed);
            }
            return entry;
        }
    }
    MISSES.fetch_add(1, Ordering::Relaxed);
    None
}

/// Gives a region back: it is cached with its committed memory, the oldest entries released
/// to make room under the byte bound (what still does not fit is decommitted), or released
/// when the cache is off.
pub(crate) fn give(reservation: Reservation, committed: usize, huge: bool) {
    let (max_bytes, max_entries) = settings();
    if max_entries == 0 {
        return; // dropping the reservation releases it
    }
    // Least recently given back goes first: the region just dropped is the likeliest to be
    // taken next (the same structure made again), so older entries make room for its pages
    // rather than it being decommitted and refaulted by the next user. Bounded, so that
    // threads giving back at the same time cannot keep one another evicting.
    let page = crate::page_size();
    let wanted = committed.min(max_bytes) & !(page - 1);
    if BYTES.load(Ordering::SeqCst).saturating_add(wanted) > max_bytes {
        let mut budget = ENTRY_LIMIT;
        evict_while(|_| {
            budget = budget.saturating_sub(1);
            budget > 0 && BYTES.load(Ordering::SeqCst).saturating_add(wanted) > max_bytes
        });
    }
    // Claim room for the bytes; decommit what does not fit.
    let mut current = BYTES.load(Ordering::Relaxed);
    let kept = loop {
        let kept = committed.min(max_bytes.saturating_sub(current)) & !(page - 1);
        match BYTES.compare_exchange_weak(current, current + kept, Ordering::SeqCst, Ordering::Relaxed) {
            Ok(_) => break kept,
            Err(now) => current = now,
        }
    };
    if kept < committed && reservation.decommit(kept, committed - kept).is_err() {
        BYTES.fetch_sub(kept, Ordering::Relaxed);
        return;
    }
    let now = now_ms();
    let decay = DECAY_MS.load(Ordering::Relaxed);
    let mut entry = Some(Entry { reservation, committed: kept, huge, stamp: now });
    // One entry leaves per turn (what waited too long, or the oldest to make room), released
    // with the lock dropped (no system call under a spin lock); usually there is none, and
    // the first turn puts the region in. Bounded, as a thread that keeps losing the last
    // entry to others gives up and releases its region.
    for _ in 0..=SLOTS {
        let leaving = {
            let mut shard = SHARD[home()].lock();
            let expired = shard.slots[0].as_ref().is_some_and(|e| now.saturating_sub(e.stamp) > decay);
            // The entry bound is process-wide, the slots per shard.
            let full = ENTRIES.load(Ordering::Relaxed) >= max_entries || shard.len == SLOTS;
            if shard.len > 0 && (expired || full) {
                leave(&mut shard, 0)
            } else {
                // Claim the entry in one atomic step: a check and a later increment would
                // let a thread in another shard take the same last entry.
                let claimed = shard.len < SLOTS
                    && ENTRIES
                        .fetch_update(Ordering::SeqCst, Ordering::Relaxed, |n| (n < max_entries).then_some(n + 1))
                        .is_ok();
                if claimed {
                    let len = shard.len;
                    shard.slots[len] = entry.take();
                    shard.len += 1;
                }
                None
            }
        };
        match leaving {
            // Counted off already (under the lock); released now, with no lock held.
            Some(old) => drop(old),
            None => break,
        }
    }
    if let Some(entry) = entry {
        // Never counted as an entry; its bytes were claimed above.
        BYTES.fetch_sub(entry.committed, Ordering::Relaxed);
    }
    // The bounds may have been lowered since they were read above, after the setter emptied
    // what was over them: then this region may be over the new ones, and nobody else would
    // return it. If the setter read the counters before this claim (all `SeqCst`, see
    // `settings`), it stored its bound before that too, and the bound is read here. If it read
    // them after, it counted this region: it stopped only within its bounds, and if it passed
    // this shard before the region went in, the shard's lock makes its bound visible here.
    let (max_bytes, max_entries) = settings();
    if BYTES.load(Ordering::SeqCst) > max_bytes || ENTRIES.load(Ordering::SeqCst) > max_entries {
        enforce_bounds();
    }
}

/// Removes the entry at `index` of a locked shard and takes it off the counters.
fn leave(shard: &mut Shard, index: usize) -> Option<Entry> {
    let entry = shard.remove(index);
    if let Some(entry) = &entry {
        forget_accounting(entry);
    }
    entry
}

/// Takes `entry`, which is leaving the cache, off the counters.
fn forget_accounting(entry: &Entry) {
    BYTES.fetch_sub(entry.committed, Ordering::Relaxed);
    ENTRIES.fetch_sub(1, Ordering::Relaxed);
}

/// Releases cached regions, oldest first in each shard, while `more(committed bytes released
/// so far)` says so; returns the bytes released.
fn evict_while(mut more: impl FnMut(usize) -> bool) -> usize {
    let mut released_bytes = 0;
    for shard in &SHARD {
        loop {
            if !more(released_bytes) {
                return released_bytes;
            }
            let entry = {
                let mut shard = shard.lock();
                if shard.len == 0 {
                    break;
                }
                shard.remove(0)
            };
            if let Some(entry) = entry {
                forget_accounting(&entry);
                released_bytes += entry.committed;
                drop(entry); // releases it: no lock held
            }
        }
    }
    released_bytes
}

/// Releases regions until the cache is within its bounds.
fn enforce_bounds() {
    let (max_bytes, max_entries) = settings();
    evict_while(|_| BYTES.load(Ordering::SeqCst) > max_bytes || ENTRIES.load(Ordering::SeqCst) > max_entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_parse() {
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes(" 64m "), Some(64 << 20));
        assert_eq!(parse_bytes("1G"), Some(1 << 30));
        assert_eq!(parse_bytes("8k"), Some(8 << 10));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes(&format!("{}g", usize::MAX)), None);
    }
}
