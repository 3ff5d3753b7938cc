//! Physical memory and process memory figures.

use alloc::vec::Vec;

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

/// This process's memory figures beyond [`resident_bytes`], where the OS reports them.
///
/// ```
/// let m = vmem::process_memory().unwrap();
/// assert!(m.resident_bytes > 0);
/// if let Some(peak) = m.peak_resident_bytes {
///     assert!(peak >= m.resident_bytes / 2); // sampled at different moments
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ProcessMemory {
    /// Resident memory now, as [`resident_bytes`].
    pub resident_bytes: usize,
    /// The most resident memory since the process started or since
    /// [`reset_peak_resident`] (Linux `VmHWM`, Windows peak working set, macOS
    /// `resident_size_max`).
    pub peak_resident_bytes: Option<usize>,
    /// Address space mapped, reserved or not (Linux `VmSize`, macOS `virtual_size`).
    pub mapped_bytes: Option<usize>,
    /// Private writable memory: the process's share of the commit charge (Linux `VmData`,
    /// what `RLIMIT_DATA` counts; Windows `PagefileUsage`).
    pub private_bytes: Option<usize>,
    /// Memory locked in RAM (Linux `VmLck`).
    pub locked_bytes: Option<usize>,
}

/// This process's memory figures: see [`ProcessMemory`].
///
/// Cost: one read of `/proc/self/status` on Linux, one system call elsewhere.
///
/// ```
/// let before = vmem::process_memory().unwrap();
/// let r = vmem::Reservation::new(1 << 30).unwrap(); // address space only
/// let after = vmem::process_memory().unwrap();
/// if let (Some(a), Some(b)) = (after.mapped_bytes, before.mapped_bytes) {
///     assert!(a >= b + (1 << 30) - (64 << 20)); // other threads may unmap meanwhile
/// }
/// # drop(r);
/// ```
pub fn process_memory() -> Result<ProcessMemory> {
    let resident_bytes = os::resident_bytes()?;
    let figures = os::process_figures();
    Ok(ProcessMemory {
        resident_bytes,
        peak_resident_bytes: figures.peak_resident,
        mapped_bytes: figures.mapped,
        private_bytes: figures.private,
        locked_bytes: figures.locked,
    })
}

/// Restarts [`ProcessMemory::peak_resident_bytes`] from the current resident size, to
/// measure the peak of what follows (Linux 4.0+: `/proc/self/clear_refs`).
///
/// # Errors
/// `Unsupported` where the OS cannot restart it.
///
/// ```
/// if vmem::reset_peak_resident().is_ok() {
///     let m = vmem::process_memory().unwrap();
///     assert!(m.peak_resident_bytes.unwrap() >= m.resident_bytes / 2);
/// }
/// ```
pub fn reset_peak_resident() -> Result<()> {
    os::reset_peak_resident()
}

/// A resource limit: the soft value, which applies, and the hard one, how far the soft one may
/// be raised. `None` means unlimited.
///
/// ```
/// let limits = vmem::resource_limits();
/// if let Some(l) = limits.address_space {
///     assert!(l.soft <= l.hard || l.hard.is_none());
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResourceLimit {
    /// The limit that applies (`None`: unlimited).
    pub soft: Option<u64>,
    /// The most the soft limit may be raised to (`None`: unlimited).
    pub hard: Option<u64>,
}

/// The limits that bound what this crate can reserve, commit and lock, where the OS has them
/// (Unix `getrlimit`).
///
/// ```
/// let limits = vmem::resource_limits();
/// println!("RLIMIT_AS {:?}", limits.address_space);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ResourceLimits {
    /// Address space the process may map (`RLIMIT_AS`), reserved or not.
    pub address_space: Option<ResourceLimit>,
    /// Private writable memory (`RLIMIT_DATA`; Linux 4.7+ counts every such mapping): what
    /// commit is checked against.
    pub data: Option<ResourceLimit>,
    /// Memory the process may lock (`RLIMIT_MEMLOCK`).
    pub locked: Option<ResourceLimit>,
}

/// The process's resource limits: see [`ResourceLimits`]. Cost: a system call per limit.
///
/// ```
/// let _ = vmem::resource_limits().locked;
/// ```
pub fn resource_limits() -> ResourceLimits {
    os::resource_limits()
}

/// The transparent huge page setting of the system.
///
/// ```
/// let m = vmem::system_memory().unwrap();
/// if let Some(mode) = m.transparent_huge_pages {
///     println!("THP: {}", mode.name());
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HugePageMode {
    /// Every large enough anonymous mapping may get huge pages.
    Always,
    /// Only ranges advised with `MADV_HUGEPAGE` ([`advise_huge_pages`](crate::advise_huge_pages)).
    Madvise,
    /// None.
    Never,
}

impl HugePageMode {
    /// The kernel's name for it: `always`, `madvise`, `never`.
    ///
    /// ```
    /// assert_eq!(vmem::HugePageMode::Madvise.name(), "madvise");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            HugePageMode::Always => "always",
            HugePageMode::Madvise => "madvise",
            HugePageMode::Never => "never",
        }
    }
}

/// How the system promises memory (Linux `vm.overcommit_memory`).
///
/// ```
/// assert_eq!(vmem::Overcommit::Never.mode(), 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Overcommit {
    /// 0: commits that obviously cannot be backed are refused.
    Heuristic,
    /// 1: every commit succeeds; memory runs out at first touch.
    Always,
    /// 2: commits beyond the commit limit are refused (and `MAP_NORESERVE` is ignored).
    Never,
}

impl Overcommit {
    /// The number `vm.overcommit_memory` holds.
    ///
    /// ```
    /// assert_eq!(vmem::Overcommit::Heuristic.mode(), 0);
    /// ```
    pub const fn mode(self) -> u8 {
        match self {
            Overcommit::Heuristic => 0,
            Overcommit::Always => 1,
            Overcommit::Never => 2,
        }
    }

    /// What it means, in a few words.
    ///
    /// ```
    /// assert!(vmem::Overcommit::Always.meaning().contains("first touch"));
    /// ```
    pub const fn meaning(self) -> &'static str {
        match self {
            Overcommit::Heuristic => "heuristic: commits that obviously cannot be backed are refused",
            Overcommit::Always => "always: every commit succeeds; memory runs out at first touch",
            Overcommit::Never => "never: commits beyond CommitLimit are refused",
        }
    }
}

/// The system's virtual-memory settings, where the OS reports them.
///
/// ```
/// let m = vmem::system_memory().unwrap();
/// assert!(m.huge_page_sizes.iter().all(|&s| s > vmem::page_size()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SystemMemory {
    /// The transparent huge page mode (Linux).
    pub transparent_huge_pages: Option<HugePageMode>,
    /// The explicit huge page sizes the kernel offers (Linux `hugetlbfs`), in bytes, smallest
    /// first.
    pub huge_page_sizes: Vec<usize>,
    /// The overcommit policy (Linux).
    pub overcommit: Option<Overcommit>,
    /// Address space a process can map, in bytes: 128 TiB on x86-64 Linux, even where the CPU
    /// implements more (the kernel hands out higher addresses only to mappings that ask for
    /// them).
    pub user_address_space_bytes: Option<u64>,
    /// Bits of virtual address the CPU implements (x86 `/proc/cpuinfo`).
    pub cpu_virtual_address_bits: Option<u32>,
}

/// The system's virtual-memory settings: see [`SystemMemory`].
///
/// Cost: a few reads of `/proc` and `/sys` on Linux.
///
/// # Errors
/// Only for lack of heap memory; figures the OS does not give are `None`.
///
/// ```
/// let m = vmem::system_memory().unwrap();
/// if let Some(space) = m.user_address_space_bytes {
///     assert!(space >= 1 << 31);
/// }
/// ```
pub fn system_memory() -> Result<SystemMemory> {
    os::system_memory()
}
