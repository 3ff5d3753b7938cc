//! Physical memory and process memory figures.

use crate::{os, Result};

/// The machine's physical memory and, where the OS reports them, its commit charge.
///
/// ```
/// let status = vmem::memory_status().unwrap();
/// assert!(status.total_physical_bytes > 0);
/// assert!(status.available_physical_bytes <= status.total_physical_bytes);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MemoryStatus {
    /// Physical memory installed (usable by the OS), in bytes.
    pub total_physical_bytes: u64,
    /// Physical memory that can be given to programs without swapping, in bytes (Linux:
    /// `MemAvailable`).
    pub available_physical_bytes: u64,
    /// Memory promised to all processes (Linux: `Committed_AS`; Windows: the system commit
    /// total), in bytes, where reported.
    pub committed_bytes: Option<u64>,
    /// The most that can be promised (Linux: `CommitLimit`, enforced only under
    /// `vm.overcommit_memory=2`; Windows: the commit limit), in bytes, where reported.
    pub commit_limit_bytes: Option<u64>,
}

/// Reads the machine's physical memory figures.
///
/// Cost: one read of `/proc/meminfo` on Linux, one system call elsewhere.
///
/// ```
/// let status = vmem::memory_status().unwrap();
/// println!("{} of {} bytes available", status.available_physical_bytes, status.total_physical_bytes);
/// ```
pub fn memory_status() -> Result<MemoryStatus> {
    os::memory_status()
}

/// The resident set size of this process in bytes: how much of its memory is in physical
/// pages now. Use it to see that [`decommit`](crate::decommit) really returned memory.
///
/// Cost: one read of `/proc/self/statm` on Linux, one system call elsewhere.
///
/// ```
/// assert!(vmem::resident_bytes().unwrap() > 0);
/// ```
pub fn resident_bytes() -> Result<usize> {
    os::resident_bytes()
}
