//! What the OS says about memory, read where the vmem library has no function for it: the
//! huge-page and overcommit settings, the address-space size, resource limits, and this
//! process's own memory figures. Every reader returns `None` when the OS does not say
//! (another OS, a container without /sys), never an error.

use serde::Serialize;

/// A resource limit: the soft value (what applies) and the hard one (how far it may be
/// raised). `None` means unlimited.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Limit {
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// Transparent huge pages: the selected mode (`always`, `madvise` or `never`).
pub fn transparent_huge_pages() -> Option<String> {
    let line = read_trimmed("/sys/kernel/mm/transparent_hugepage/enabled")?;
    let start = line.find('[')?;
    let end = line[start..].find(']')? + start;
    Some(line[start + 1..end].to_string())
}

/// The huge page sizes the kernel offers (explicit huge pages, `hugetlbfs`), in bytes.
pub fn huge_page_sizes() -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir("/sys/kernel/mm/hugepages") else { return Vec::new() };
    let mut sizes: Vec<u64> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let kib: u64 = name.strip_prefix("hugepages-")?.strip_suffix("kB")?.parse().ok()?;
            Some(kib * 1024)
        })
        .collect();
    sizes.sort_unstable();
    sizes
}

/// The overcommit policy: its number and what it means.
pub fn overcommit() -> Option<(u8, &'static str)> {
    let mode: u8 = read_trimmed("/proc/sys/vm/overcommit_memory")?.parse().ok()?;
    let meaning = match mode {
        0 => "heuristic: commits that obviously cannot be backed are refused",
        1 => "always: every commit succeeds; memory runs out at first touch",
        2 => "never: commits beyond CommitLimit are refused",
        _ => "unknown",
    };
    Some((mode, meaning))
}

/// Bits of virtual address the CPU implements (`/proc/cpuinfo`, x86).
pub fn virtual_address_bits() -> Option<u32> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = cpuinfo.lines().find(|l| l.starts_with("address sizes"))?;
    let part = line.split(',').find(|p| p.contains("virtual"))?;
    part.split_whitespace().find_map(|w| w.parse().ok())
}

/// Bits of address space a process gets by default: the end of its highest mapping (the
/// stack sits just below the end of user space), rounded up to a power of two. On x86-64
/// Linux that is 47 bits (128 TiB) even where the CPU implements 57: with 5-level paging the
/// kernel hands out addresses above 128 TiB only to `mmap` calls that ask for them.
pub fn user_address_bits() -> Option<u32> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let top = maps
        .lines()
        .filter(|line| !line.ends_with("[vsyscall]"))
        .filter_map(|line| u64::from_str_radix(line.split(['-', ' ']).nth(1)?, 16).ok())
        .max()?;
    Some(u64::BITS - top.checked_sub(1)?.leading_zeros())
}

/// Bytes of address space a process can map: from [`user_address_bits`] where the OS says,
/// else half of what the CPU implements (the upper half is the kernel's on x86-64 and
/// AArch64), else all of a 32-bit space.
pub fn user_address_space(cpu_bits: Option<u32>) -> Option<u64> {
    let bits = user_address_bits()
        .or(cpu_bits.and_then(|bits| bits.checked_sub(1)))
        .or(if cfg!(target_pointer_width = "64") { None } else { Some(32) })?;
    1u64.checked_shl(bits)
}

#[cfg(unix)]
fn limit(resource: rustix::process::Resource) -> Option<Limit> {
    let l = rustix::process::getrlimit(resource);
    Some(Limit { soft: l.current, hard: l.maximum })
}

/// `RLIMIT_AS`: the most address space the process may map.
#[cfg(unix)]
pub fn address_space_limit() -> Option<Limit> {
    limit(rustix::process::Resource::As)
}

/// `RLIMIT_DATA`: the most private writable memory (Linux ≥ 4.7 counts every such mapping).
#[cfg(unix)]
pub fn data_limit() -> Option<Limit> {
    limit(rustix::process::Resource::Data)
}

/// `RLIMIT_MEMLOCK`: the most memory the process may lock.
#[cfg(unix)]
pub fn memlock_limit() -> Option<Limit> {
    limit(rustix::process::Resource::Memlock)
}

#[cfg(not(unix))]
pub fn address_space_limit() -> Option<Limit> {
    None
}

#[cfg(not(unix))]
pub fn data_limit() -> Option<Limit> {
    None
}

#[cfg(not(unix))]
pub fn memlock_limit() -> Option<Limit> {
    None
}

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_field(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rest = status.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))?;
    let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// Address space this process maps (`VmSize`).
pub fn mapped_bytes() -> Option<u64> {
    status_field("VmSize")
}

/// The most resident memory this process has had (`VmHWM`) since the last
/// [`reset_peak_resident`].
pub fn peak_resident_bytes() -> Option<u64> {
    status_field("VmHWM")
}

/// Restarts [`peak_resident_bytes`] from the current RSS (Linux ≥ 4.0). `false` if the
/// kernel does not allow it.
pub fn reset_peak_resident() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
