//! Helpers for the tests between processes: starting this test binary again as a named
//! child (which keeps running while the parent does other things, unlike `in_child`), the
//! ring a parent hands to it, and a third mapping of a ring's header that plays a
//! misbehaving peer.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, AtomicU64};

use vmem::IpcRing;

/// Starts this test binary with only the test `name` selected, `VMEM_TEST_CHILD=name` and
/// `env` set; the named test checks [`is_child`] and does the child's part.
pub fn spawn_child(name: &str, env: &[(&str, String)]) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([name, "--exact", "--nocapture", "--test-threads=1"]).env(super::CHILD_ENV, name);
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().unwrap()
}

/// Whether this process is the child started by [`spawn_child`] for `name`.
pub fn is_child(name: &str) -> bool {
    std::env::var(super::CHILD_ENV).as_deref() == Ok(name)
}

/// Starts the child `name` with `ring`'s descriptor inherited (its number in `VMEM_RING_FD`).
pub fn spawn_with_ring(name: &str, ring: &IpcRing) -> Child {
    ring.set_inheritable(true).unwrap();
    let child = spawn_child(name, &[("VMEM_RING_FD", ring.as_raw_fd().to_string())]);
    ring.set_inheritable(false).unwrap();
    child
}

/// In a child of [`spawn_with_ring`]: the ring the parent left open for it.
pub fn inherited_ring() -> IpcRing {
    let fd: i32 = std::env::var("VMEM_RING_FD").unwrap().parse().unwrap();
    // SAFETY: the parent left this descriptor open across exec for us; nothing else owns it.
    IpcRing::from_fd(unsafe { OwnedFd::from_raw_fd(fd) }).unwrap()
}

/// The body of a child that writes `hello` into the ring it inherited, then hangs (until
/// its parent kills it): a peer that is alive but stalled.
pub fn write_hello_then_hang() {
    use std::io::Write;
    // Kept until killed: dropping it would close the producer's side, a clean end of file.
    let mut ring = inherited_ring();
    ring.write_all(b"hello").unwrap();
    std::thread::sleep(std::time::Duration::from_secs(100));
}

/// `SIGKILL` for `child` (not reaped: it stays a zombie until waited for).
pub fn kill(child: &Child) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
}

/// Offsets of the words in an `IpcRing`'s header (src/ipc_ring.rs).
pub const VERSION_AT: usize = 8;
pub const FLAGS_AT: usize = 24;
pub const TAIL_AT: usize = 128;
pub const HEAD_AT: usize = 256;
pub const PRODUCER_SLEEPING_AT: usize = 384;
pub const CONSUMER_SLEEPING_AT: usize = 512;

/// A third mapping of a shared object's first page (an `IpcRing`'s header): a peer that
/// writes whatever it likes there. Unmapped on drop.
pub struct Header {
    pub base: *mut u8,
    page: usize,
}

impl Header {
    pub fn map(object: &impl AsFd) -> Header {
        let page = vmem::allocation_granularity();
        // SAFETY: a fresh shared mapping of the object's first page, unmapped on drop.
        let base = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                page,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                object.as_fd(),
                0,
            )
        }
        .unwrap()
        .cast::<u8>();
        Header { base, page }
    }

    pub fn u32_at(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: inside the page mapped above, 4-byte aligned; the library uses these words
        // atomically (or, for the fixed fields, reads them once when a side opens).
        unsafe { AtomicU32::from_ptr(self.base.add(offset).cast()) }
    }

    pub fn u64_at(&self, offset: usize) -> &AtomicU64 {
        // SAFETY: as in `u32_at`, 8-byte aligned.
        unsafe { AtomicU64::from_ptr(self.base.add(offset).cast()) }
    }
}

impl Drop for Header {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, used no more.
        unsafe { rustix::mm::munmap(self.base.cast(), self.page).unwrap() };
    }
}
