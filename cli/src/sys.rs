//! What the OS says about memory, asked of the vmem library (which knows where each OS keeps
//! it): the huge-page and overcommit settings, the address-space size, resource limits, and
//! this process's own memory figures. Every reader returns `None` when the OS does not say,
//! never an error.

use serde::Serialize;

/// A resource limit: the soft value (what applies) and the hard one (how far it may be
/// raised). `None` means unlimited.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Limit {
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

impl From<vmem::ResourceLimit> for Limit {
    fn from(l: vmem::ResourceLimit) -> Limit {
        Limit { soft: l.soft, hard: l.hard }
    }
}

fn system() -> Option<vmem::SystemMemory> {
    vmem::system_memory().ok()
}

/// Transparent huge pages: the selected mode (`always`, `madvise` or `never`).
pub fn transparent_huge_pages() -> Option<String> {
    Some(system()?.transparent_huge_pages?.name().to_string())
}

/// The huge page sizes the kernel offers (explicit huge pages, `hugetlbfs`), in bytes.
pub fn huge_page_sizes() -> Vec<u64> {
    system().map(|s| s.huge_page_sizes.iter().map(|&b| b as u64).collect()).unwrap_or_default()
}

/// The overcommit policy: its number and what it means.
pub fn overcommit() -> Option<(u8, &'static str)> {
    let o = system()?.overcommit?;
    Some((o.mode(), o.meaning()))
}

/// Bits of virtual address the CPU implements.
pub fn virtual_address_bits() -> Option<u32> {
    system()?.cpu_virtual_address_bits
}

/// Bytes of address space a process can map: what the OS says, else all of a 32-bit space.
pub fn user_address_space() -> Option<u64> {
    system().and_then(|s| s.user_address_space_bytes).or(if cfg!(target_pointer_width = "64") {
        None
    } else {
        Some(1 << 32)
    })
}

/// `RLIMIT_AS`: the most address space the process may map.
pub fn address_space_limit() -> Option<Limit> {
    vmem::resource_limits().address_space.map(Limit::from)
}

/// `RLIMIT_DATA`: the most private writable memory (Linux ≥ 4.7 counts every such mapping).
pub fn data_limit() -> Option<Limit> {
    vmem::resource_limits().data.map(Limit::from)
}

/// `RLIMIT_MEMLOCK`: the most memory the process may lock.
pub fn memlock_limit() -> Option<Limit> {
    vmem::resource_limits().locked.map(Limit::from)
}

/// Address space this process maps.
pub fn mapped_bytes() -> Option<u64> {
    vmem::process_memory().ok()?.mapped_bytes.map(|b| b as u64)
}

/// The most resident memory this process has had since the last [`reset_peak_resident`].
pub fn peak_resident_bytes() -> Option<u64> {
    vmem::process_memory().ok()?.peak_resident_bytes.map(|b| b as u64)
}

/// Restarts [`peak_resident_bytes`] from the current RSS. `false` if the OS does not allow it.
pub fn reset_peak_resident() -> bool {
    vmem::reset_peak_resident().is_ok()
}
