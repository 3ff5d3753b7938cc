//! Helpers shared by the integration tests: running a closure in a child process, and
//! reading memory figures.
#![allow(dead_code)]
#![cfg(unix)]

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod ipc;

/// The environment variable that tells a re-executed test binary which child to run.
const CHILD_ENV: &str = "VMEM_TEST_CHILD";

/// How a child process ended.
#[derive(Debug)]
pub struct ChildOutcome {
    /// The exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// What it printed to stdout.
    pub stdout: String,
    /// What it printed to stderr.
    pub stderr: String,
}

/// Runs `body` in a fresh child process (this test binary re-executed with only the test
/// `test_name` selected) and reports how it ended. In the child itself, runs `body` and
/// exits with code 0 when it returns (a panic exits with 101).
///
/// `test_name` must be the full path of the calling test as libtest knows it (for an
/// integration test file, just the function name, or `module::name`).
///
/// Use it for anything that may crash (guard-page faults) or that changes process-wide
/// limits (`setrlimit`).
pub fn in_child(test_name: &str, body: impl FnOnce()) -> ChildOutcome {
    if std::env::var(CHILD_ENV).as_deref() == Ok(test_name) {
        body();
        std::process::exit(0);
    }
    let child = Command::new(std::env::current_exe().expect("current_exe"))
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test_name)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child test process");
    // A child that hangs must fail the test, not the whole run: kill it after the timeout.
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let deadline = Instant::now() + CHILD_TIMEOUT;
            while !done.load(Ordering::Acquire) {
                if Instant::now() >= deadline {
                    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
                    return true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            false
        })
    };
    let output = child.wait_with_output().expect("wait for child test process");
    done.store(true, Ordering::Release);
    let timed_out = watchdog.join().unwrap_or(false);
    assert!(!timed_out, "child {test_name} did not finish within {CHILD_TIMEOUT:?}: {:#?}", outcome(output));
    outcome(output)
}

/// How long a child process may run before it is killed and the test fails.
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

fn outcome(output: Output) -> ChildOutcome {
    use std::os::unix::process::ExitStatusExt;
    ChildOutcome {
        code: output.status.code(),
        signal: output.status.signal(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl ChildOutcome {
    /// Panics with the child's output unless it exited with code 0.
    pub fn assert_success(&self) {
        assert_eq!(self.code, Some(0), "child failed: {self:#?}");
    }
}

/// Sets the soft and hard limit of `resource` (for use inside `in_child` only).
///
/// Under AddressSanitizer (`VMEM_UNDER_ASAN` set, as `scripts/sanitize.sh` does), a child
/// that asks for `RLIMIT_AS` or `RLIMIT_DATA` exits successfully here instead: ASan's shadow
/// memory is terabytes of writable address space, which both limits count, so once either
/// is set no mapping at all can be made (ASan's own included). The plain test run checks them.
pub fn set_limit(resource: rustix::process::Resource, bytes: u64) {
    use rustix::process::Resource;
    if std::env::var_os("VMEM_UNDER_ASAN").is_some() && matches!(resource, Resource::As | Resource::Data) {
        println!("skipped under AddressSanitizer: {resource:?} cannot be limited");
        std::process::exit(0);
    }
    rustix::process::setrlimit(resource, rustix::process::Rlimit { current: Some(bytes), maximum: Some(bytes) })
        .expect("setrlimit");
}

/// Sets only the soft limit of `resource` (`None`: unlimited), so that it can be raised
/// again later in the same child. Skips under AddressSanitizer as [`set_limit`] does.
pub fn set_soft_limit(resource: rustix::process::Resource, bytes: Option<u64>) {
    use rustix::process::Resource;
    if std::env::var_os("VMEM_UNDER_ASAN").is_some() && matches!(resource, Resource::As | Resource::Data) {
        println!("skipped under AddressSanitizer: {resource:?} cannot be limited");
        std::process::exit(0);
    }
    let hard = rustix::process::getrlimit(resource).maximum;
    rustix::process::setrlimit(resource, rustix::process::Rlimit { current: bytes, maximum: hard }).expect("setrlimit");
}

/// Sets `RLIMIT_AS` to what the process maps now plus `headroom` bytes. Skips under
/// AddressSanitizer as [`set_limit`] does.
#[cfg(target_os = "linux")]
pub fn limit_address_space(headroom: u64) {
    let mapped = vmem::process_memory().unwrap().mapped_bytes.expect("mapped bytes (VmSize)");
    set_limit(rustix::process::Resource::As, mapped as u64 + headroom);
}

/// This process's resident set size in bytes.
pub fn rss() -> usize {
    vmem::resident_bytes().expect("resident_bytes")
}

/// The system-wide commit charge (`Committed_AS`) in bytes.
pub fn committed_as() -> u64 {
    vmem::memory_status().expect("memory_status").committed_bytes.expect("Committed_AS")
}

/// Joins the threads of a scope explicitly and returns what they returned (a panic in one
/// is passed on). A scope's own join at its end goes through the standard library's
/// synchronization, which ThreadSanitizer cannot see where std is not instrumented
/// (`scripts/sanitize.sh tsan`); `join` is a `pthread_join`, which it sees.
pub fn join_all<'scope, T>(threads: impl IntoIterator<Item = std::thread::ScopedJoinHandle<'scope, T>>) -> Vec<T> {
    threads.into_iter().map(|t| t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
}

/// Runs `body(t, stop)` on `threads` scoped threads (`t` from 0) until `duration` has
/// passed, then sets `stop` and returns what each thread returned (re-raising a panic).
pub fn race_for<T: Send>(threads: u64, duration: Duration, body: impl Fn(u64, &AtomicBool) -> T + Sync) -> Vec<T> {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (body, stop) = (&body, &stop);
                s.spawn(move || body(t, stop))
            })
            .collect();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        join_all(handles)
    })
}

/// Whether a sanitizer runs this test (`scripts/sanitize.sh` sets `VMEM_UNDER_ASAN`): its
/// shadow memory is terabytes of address space (so no `RLIMIT_AS` or `RLIMIT_DATA` can
/// apply), its runtime maps memory of its own as the heap grows and keeps freed heap memory
/// resident in quarantine, so mapping counts move a little and RSS says nothing about ours.
#[allow(dead_code)]
pub fn under_sanitizer() -> bool {
    std::env::var_os("VMEM_UNDER_ASAN").is_some()
}

/// A small deterministic generator (xorshift64) for the tests that pick random operations.
pub struct Xorshift(u64);

impl Xorshift {
    /// A generator from `seed`, which must not be zero (xorshift would stay at zero).
    pub fn new(seed: u64) -> Xorshift {
        assert_ne!(seed, 0, "xorshift needs a seed other than zero");
        Xorshift(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A byte range of a reservation of `pages` pages of `page` bytes: one to `pages` pages
    /// long, starting and ending inside pages too, and ending by the reservation's end.
    pub fn byte_range(&mut self, pages: usize, page: usize) -> (usize, usize) {
        let first = self.below(pages);
        let count = 1 + self.below(pages - first);
        let offset = first * page + self.below(page);
        (offset, (count * page - page + 1).min(pages * page - offset))
    }
}

/// Asserts that `e` is an error a `Reservation` call may return while other threads race
/// it on the same pages: a range no longer in the state the call needs, or no memory.
pub fn assert_race_error(e: &vmem::Error) {
    use vmem::ErrorKind;
    assert!(
        matches!(e.kind(), ErrorKind::InvalidArgument | ErrorKind::PermissionDenied | ErrorKind::OutOfMemory),
        "{e}"
    );
}

/// How many mappings a loop of many rounds may add without leaking one per round: none
/// normally, some that a sanitizer's runtime maps for itself (ThreadSanitizer added 22 over
/// `IpcRing`'s 200 rounds). The loops that use it run at least 100 rounds, so a leak of one
/// mapping per round still shows.
#[allow(dead_code)]
pub fn mapping_slack() -> usize {
    if under_sanitizer() {
        64
    } else {
        0
    }
}

/// Whether two values lie in a common 128-byte block (a pair of cache lines, which x86
/// fetches together): values written by two threads should not.
pub fn share_a_128_byte_block<A, B>(a: &A, b: &B) -> bool {
    let blocks = |at: usize, len: usize| (at / 128, (at + len.max(1) - 1) / 128);
    let (a_first, a_last) = blocks(a as *const A as usize, size_of_val(a));
    let (b_first, b_last) = blocks(b as *const B as usize, size_of_val(b));
    a_first <= b_last && b_first <= a_last
}

/// Whether the kernel can write the byte at `ptr` (a `read` from a pipe into it: `EFAULT`
/// if the page is not writable). Needs no memory and no mapping, unlike a query.
#[cfg(target_os = "linux")]
#[allow(dead_code)]
pub fn os_writable(ptr: *mut u8) -> bool {
    let mut fds = [0; 2];
    // SAFETY: plain system calls on a fresh pipe; `read` copies one byte to `ptr` only if
    // the page is writable, and fails with EFAULT otherwise.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        assert_eq!(libc::write(fds[1], b"x".as_ptr().cast(), 1), 1);
        let n = libc::read(fds[0], ptr.cast(), 1);
        libc::close(fds[0]);
        libc::close(fds[1]);
        n == 1
    }
}

/// Whether a sanitizer runs this (`scripts/sanitize.sh` sets `VMEM_UNDER_ASAN` for ASan and
/// TSan): they map memory of their own all the time, so the tests that use up the map slots
/// cannot run under them.
#[cfg(target_os = "linux")]
#[allow(dead_code)]
pub fn skipped_under_a_sanitizer() -> bool {
    let under = under_sanitizer() || cfg!(vmem_tsan);
    if under {
        println!("skipped under a sanitizer: it needs map slots of its own");
    }
    under
}

/// The process's map slots used up (Linux `vm.max_map_count`), until dropped: every other
/// page of a filler reservation made readable is a mapping of its own, then single mappings
/// (of two protections in turn, so that neighbours do not merge) take the last slots.
#[cfg(target_os = "linux")]
#[allow(dead_code)]
pub struct MapSlotsUsedUp {
    filler: *mut u8,
    filler_len: usize,
    singles: Vec<*mut libc::c_void>,
}

#[cfg(target_os = "linux")]
impl MapSlotsUsedUp {
    #[allow(dead_code)]
    pub fn new() -> MapSlotsUsedUp {
        let page = vmem::page_size();
        let filler_pages = 200_000;
        let filler = vmem::reserve(filler_pages * page).unwrap().as_ptr();
        let mut made = 0;
        for i in (0..filler_pages).step_by(2) {
            // SAFETY: a page of our own filler reservation.
            if unsafe { libc::mprotect(filler.add(i * page).cast(), page, libc::PROT_READ) } != 0 {
                break;
            }
            made += 1;
        }
        assert!(made < filler_pages / 2, "never ran out of map slots");
        let mut singles = Vec::with_capacity(64);
        for i in 0..64 {
            let prot = if i % 2 == 0 { libc::PROT_READ } else { libc::PROT_READ | libc::PROT_EXEC };
            // SAFETY: a fresh private mapping where the kernel likes; unmapped on drop.
            let p =
                unsafe { libc::mmap(std::ptr::null_mut(), page, prot, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
            if p == libc::MAP_FAILED {
                break;
            }
            singles.push(p);
        }
        MapSlotsUsedUp { filler, filler_len: filler_pages * page, singles }
    }
}

#[cfg(target_os = "linux")]
impl Drop for MapSlotsUsedUp {
    fn drop(&mut self) {
        // SAFETY: our filler reservation and single mappings, whole, unused.
        unsafe {
            vmem::release(self.filler, self.filler_len).unwrap();
            for &p in &self.singles {
                libc::munmap(p, vmem::page_size());
            }
        }
    }
}
