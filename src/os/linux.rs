//! Linux and Android extras: `/proc` and `/sys` figures, `/proc/self/smaps` queries,
//! `MADV_POPULATE_WRITE` and transparent huge pages.

use alloc::vec::Vec;
use core::ffi::CStr;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mm::{self, Advice};

use super::unix::{os_error, page_size, touch_pages};
use crate::raw::query::push_run;
use crate::{Error, ErrorKind, MemoryStatus, PageState, Protection, RegionInfo, Result};

/// Reads a whole (small, virtual) file such as `/proc/meminfo`.
fn read_file(operation: &'static str, path: &CStr) -> Result<Vec<u8>> {
    let fail = |errno: Errno| {
        Error::from_os(ErrorKind::Os, operation, errno.raw_os_error())
            .because("cannot read /proc or /sys (is /proc mounted?)")
    };
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(fail)?;
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match rustix::io::read(&fd, &mut chunk) {
            Ok(0) => return Ok(data),
            Ok(n) => {
                if data.try_reserve(n).is_err() {
                    return Err(Error::new(ErrorKind::OutOfMemory, operation, "no heap memory to read /proc"));
                }
                data.extend_from_slice(&chunk[..n]);
            }
            Err(Errno::INTR) => continue,
            Err(errno) => return Err(fail(errno)),
        }
    }
}

fn parse_u64(text: &[u8]) -> Option<u64> {
    let text = core::str::from_utf8(text).ok()?.trim();
    text.parse().ok()
}

/// The value in bytes of a `Name:   1234 kB` line of `/proc/meminfo`.
fn meminfo_field(meminfo: &[u8], name: &[u8]) -> Option<u64> {
    meminfo.split(|&b| b == b'\n').find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(b":")?;
        let rest = core::str::from_utf8(rest).ok()?.trim();
        let (number, unit) = rest.split_once(' ').unwrap_or((rest, ""));
        let number: u64 = number.parse().ok()?;
        Some(if unit.trim() == "kB" { number.saturating_mul(1024) } else { number })
    })
}

pub(crate) fn huge_page_size() -> Option<usize> {
    let from_thp = read_file("huge_page_size", c"/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
        .ok()
        .and_then(|text| parse_u64(&text));
    let size = from_thp.or_else(|| {
        let meminfo = read_file("huge_page_size", c"/proc/meminfo").ok()?;
        meminfo_field(&meminfo, b"Hugepagesize")
    })?;
    usize::try_from(size).ok().filter(|&s| s > page_size())
}

pub(crate) fn memory_status() -> Result<MemoryStatus> {
    let meminfo = read_file("memory_status", c"/proc/meminfo")?;
    let total = meminfo_field(&meminfo, b"MemTotal").ok_or(Error::new(
        ErrorKind::Os,
        "memory_status",
        "/proc/meminfo has no MemTotal line",
    ))?;
    // MemAvailable exists since Linux 3.14; before it, free memory is the best estimate.
    let available =
        meminfo_field(&meminfo, b"MemAvailable").or_else(|| meminfo_field(&meminfo, b"MemFree")).unwrap_or(0);
    Ok(MemoryStatus {
        total_physical_bytes: total,
        available_physical_bytes: available.min(total),
        committed_bytes: meminfo_field(&meminfo, b"Committed_AS"),
        commit_limit_bytes: meminfo_field(&meminfo, b"CommitLimit"),
    })
}

pub(crate) fn resident_bytes() -> Result<usize> {
    let statm = read_file("resident_bytes", c"/proc/self/statm")?;
    let pages = statm.split(|&b| b == b' ').nth(1).and_then(parse_u64).ok_or(Error::new(
        ErrorKind::Os,
        "resident_bytes",
        "cannot parse /proc/self/statm",
    ))?;
    Ok(usize::try_from(pages).unwrap_or(usize::MAX).saturating_mul(page_size()))
}

fn parse_hex(text: &[u8]) -> Option<usize> {
    usize::from_str_radix(core::str::from_utf8(text).ok()?, 16).ok()
}

/// One mapping of `/proc/self/smaps`: its range, protection and whether it is charged
/// (`ac` in `VmFlags`).
struct Mapping {
    start: usize,
    end: usize,
    protection: Protection,
    accounted: bool,
}

/// Parses a header line `start-end perms offset dev inode [path]`.
fn parse_header(line: &[u8]) -> Option<Mapping> {
    let mut fields = line.split(|&b| b == b' ');
    let range = fields.next()?;
    let perms = fields.next()?;
    let dash = range.iter().position(|&b| b == b'-')?;
    let start = parse_hex(&range[..dash])?;
    let end = parse_hex(&range[dash + 1..])?;
    if perms.len() != 4 {
        return None;
    }
    let protection = Protection::from_flags(perms[0] == b'r', perms[1] == b'w', perms[2] == b'x')?;
    Some(Mapping { start, end, protection, accounted: false })
}

/// Appends the part of `mapping` inside `[*cursor, end)`, after the free gap before it.
fn push_mapping(out: &mut Vec<RegionInfo>, mapping: &Mapping, cursor: &mut usize, end: usize) -> Result<()> {
    let from = mapping.start.max(*cursor);
    let to = mapping.end.min(end);
    if from >= to {
        return Ok(());
    }
    push_run(out, *cursor, from, PageState::Free, Protection::NoAccess)?;
    let state = if mapping.protection != Protection::NoAccess || mapping.accounted {
        PageState::Committed
    } else {
        PageState::Reserved
    };
    push_run(out, from, to, state, mapping.protection)?;
    *cursor = to;
    Ok(())
}

/// Appends the runs of pages of `[ptr, ptr + size)`, from `/proc/self/smaps`.
///
/// A mapping with access is committed. A `PROT_NONE` mapping is committed if the kernel
/// still charges it (`ac`), and reserved otherwise: Linux uncharges private pages made
/// inaccessible before they were ever written, so those read as reserved, which is what
/// they then are.
pub(crate) fn query(ptr: *mut u8, size: usize, out: &mut Vec<RegionInfo>) -> Result<()> {
    let smaps = read_file("query", c"/proc/self/smaps")?;
    let start = ptr as usize;
    let end = start + size;
    let mut cursor = start;
    let mut current: Option<Mapping> = None;
    for line in smaps.split(|&b| b == b'\n') {
        if let Some(flags) = line.strip_prefix(b"VmFlags:") {
            if let Some(mapping) = current.as_mut() {
                mapping.accounted = flags.split(|&b| b == b' ').any(|flag| flag == b"ac");
            }
        } else if line.first().is_some_and(u8::is_ascii_hexdigit) && line.contains(&b'-') {
            if let Some(header) = parse_header(line) {
                if let Some(mapping) = current.take() {
                    push_mapping(out, &mapping, &mut cursor, end)?;
                }
                if header.start >= end {
                    break;
                }
                current = Some(header);
            }
        }
    }
    if let Some(mapping) = current.take() {
        push_mapping(out, &mapping, &mut cursor, end)?;
    }
    push_run(out, cursor, end, PageState::Free, Protection::NoAccess)
}

/// A `kB` field of `/proc/self/status` (`VmHWM:   1234 kB`), in bytes.
fn status_field(status: &[u8], name: &[u8]) -> Option<usize> {
    usize::try_from(meminfo_field(status, name)?).ok()
}

pub(crate) fn process_figures() -> super::ProcessFigures {
    let Ok(status) = read_file("process_memory", c"/proc/self/status") else { return super::ProcessFigures::default() };
    super::ProcessFigures {
        peak_resident: status_field(&status, b"VmHWM"),
        mapped: status_field(&status, b"VmSize"),
        private: status_field(&status, b"VmData"),
        locked: status_field(&status, b"VmLck"),
    }
}

/// Writing 5 to `/proc/self/clear_refs` resets the peak resident size (Linux 4.0+).
pub(crate) fn reset_peak_resident() -> Result<()> {
    let fail = |errno: Errno| {
        let kind = if errno == Errno::INVAL || errno == Errno::NOENT { ErrorKind::Unsupported } else { ErrorKind::Os };
        Error::from_os(kind, "reset_peak_resident", errno.raw_os_error())
            .because("cannot write /proc/self/clear_refs (Linux 4.0+)")
    };
    let fd =
        rustix::fs::open(c"/proc/self/clear_refs", OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty()).map_err(fail)?;
    loop {
        match rustix::io::write(&fd, b"5") {
            Ok(_) => return Ok(()),
            Err(Errno::INTR) => continue,
            Err(errno) => return Err(fail(errno)),
        }
    }
}

pub(crate) fn system_memory() -> Result<crate::SystemMemory> {
    use crate::{HugePageMode, Overcommit};
    let text = |path: &CStr| read_file("system_memory", path).ok();
    let transparent_huge_pages = text(c"/sys/kernel/mm/transparent_hugepage/enabled").and_then(|line| {
        let start = line.iter().position(|&b| b == b'[')?;
        let end = line.iter().position(|&b| b == b']')?;
        match line.get(start + 1..end)? {
            b"always" => Some(HugePageMode::Always),
            b"madvise" => Some(HugePageMode::Madvise),
            b"never" => Some(HugePageMode::Never),
            _ => None,
        }
    });
    let overcommit = text(c"/proc/sys/vm/overcommit_memory").and_then(|t| match parse_u64(&t)? {
        0 => Some(Overcommit::Heuristic),
        1 => Some(Overcommit::Always),
        2 => Some(Overcommit::Never),
        _ => None,
    });
    let mut huge_page_sizes = Vec::new();
    if let Ok(dir) = rustix::fs::open(
        c"/sys/kernel/mm/hugepages",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        if let Ok(mut entries) = rustix::fs::Dir::read_from(&dir) {
            while let Some(Ok(entry)) = entries.read() {
                let name = entry.file_name().to_bytes();
                let kib = name.strip_prefix(b"hugepages-").and_then(|n| n.strip_suffix(b"kB")).and_then(parse_u64);
                if let Some(bytes) = kib.and_then(|k| usize::try_from(k.saturating_mul(1024)).ok()) {
                    huge_page_sizes.try_reserve(1).map_err(|_| {
                        Error::new(ErrorKind::OutOfMemory, "system_memory", "no heap memory for the result")
                    })?;
                    huge_page_sizes.push(bytes);
                }
            }
        }
    }
    huge_page_sizes.sort_unstable();
    // The stack sits just below the end of user space: the end of the highest mapping,
    // rounded up to a power of two, is the space a process gets by default (47 bits on
    // x86-64 even with 5-level paging, which only mappings that ask get).
    let user_address_space_bytes = text(c"/proc/self/maps").and_then(|maps| {
        let top = maps
            .split(|&b| b == b'\n')
            .filter(|line| !line.ends_with(b"[vsyscall]"))
            .filter_map(parse_header)
            .map(|m| m.end as u64)
            .max()?;
        let bits = u64::BITS - top.checked_sub(1)?.leading_zeros();
        1u64.checked_shl(bits)
    });
    let cpu_virtual_address_bits = text(c"/proc/cpuinfo").and_then(|info| {
        let text = core::str::from_utf8(&info).ok()?;
        let line = text.lines().find(|l| l.starts_with("address sizes"))?;
        let part = line.split(',').find(|p| p.contains("virtual"))?;
        part.split_whitespace().find_map(|w| w.parse().ok())
    });
    Ok(crate::SystemMemory {
        transparent_huge_pages,
        huge_page_sizes,
        overcommit,
        user_address_space_bytes,
        cpu_virtual_address_bits,
    })
}

/// `struct procmap_query` of `<linux/fs.h>` (Linux 6.11+): one mapping, asked by address.
#[repr(C)]
#[derive(Default)]
struct ProcmapQuery {
    size: u64,
    query_flags: u64,
    query_addr: u64,
    vma_start: u64,
    vma_end: u64,
    vma_flags: u64,
    vma_page_size: u64,
    vma_offset: u64,
    inode: u64,
    dev_major: u32,
    dev_minor: u32,
    vma_name_size: u32,
    build_id_size: u32,
    vma_name_addr: u64,
    build_id_addr: u64,
}

/// `PROCMAP_QUERY = _IOWR('f', 17, struct procmap_query)`.
const PROCMAP_QUERY: rustix::ioctl::Opcode = rustix::ioctl::opcode::read_write::<ProcmapQuery>(b'f', 17);
const PROCMAP_QUERY_VMA_READABLE: u64 = 0x01;
const PROCMAP_QUERY_VMA_WRITABLE: u64 = 0x02;
const PROCMAP_QUERY_VMA_EXECUTABLE: u64 = 0x04;
/// Whether `PROCMAP_QUERY` works here: 0 not known yet, 1 yes, 2 no.
static PROCMAP_QUERY_WORKS: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// Like `query`, but cheap: the mappings' protections only, from `PROCMAP_QUERY` (one
/// `ioctl` per mapping, Linux 6.11+) or else `/proc/self/maps`, without the per-page work of
/// `/proc/self/smaps`. Pages with access are committed; inaccessible mapped pages come back
/// `Reserved` even if they are committed (no commit-charge information): callers that must
/// tell those apart ask `query`.
pub(crate) fn quick_query(ptr: *mut u8, size: usize, out: &mut Vec<RegionInfo>) -> Result<()> {
    use core::sync::atomic::Ordering;
    let start = ptr as usize;
    let end = start + size;
    let maps =
        rustix::fs::open(c"/proc/self/maps", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(|errno| {
            Error::from_os(ErrorKind::Os, "query", errno.raw_os_error())
                .because("cannot read /proc or /sys (is /proc mounted?)")
        })?;
    if PROCMAP_QUERY_WORKS.load(Ordering::Relaxed) != 2 {
        let mut cursor = start;
        loop {
            if cursor >= end {
                return Ok(());
            }
            let mut q = ProcmapQuery {
                size: core::mem::size_of::<ProcmapQuery>() as u64,
                // PROCMAP_QUERY_COVERING_OR_NEXT_VMA: the mapping at `cursor`, or the next.
                query_flags: 0x10,
                query_addr: cursor as u64,
                ..ProcmapQuery::default()
            };
            // SAFETY: `q` is the `struct procmap_query` this opcode reads and writes, with
            // its `size` set; the kernel writes no pointer fields (name and build id sizes
            // are 0).
            let answer =
                unsafe { rustix::ioctl::ioctl(&maps, rustix::ioctl::Updater::<PROCMAP_QUERY, _>::new(&mut q)) };
            match answer {
                Ok(()) => {
                    PROCMAP_QUERY_WORKS.store(1, Ordering::Relaxed);
                    let (vma_start, vma_end) = (q.vma_start as usize, q.vma_end as usize);
                    if vma_start >= end {
                        break;
                    }
                    push_run(out, cursor, vma_start.max(cursor), PageState::Free, Protection::NoAccess)?;
                    let protection = Protection::from_flags(
                        q.vma_flags & PROCMAP_QUERY_VMA_READABLE != 0,
                        q.vma_flags & PROCMAP_QUERY_VMA_WRITABLE != 0,
                        q.vma_flags & PROCMAP_QUERY_VMA_EXECUTABLE != 0,
                    )
                    .unwrap_or(Protection::ReadWrite);
                    let state =
                        if protection == Protection::NoAccess { PageState::Reserved } else { PageState::Committed };
                    let to = vma_end.min(end);
                    push_run(out, vma_start.max(cursor), to, state, protection)?;
                    cursor = to;
                }
                // No mapping at or after `cursor`.
                Err(Errno::NOENT) => break,
                Err(_) if PROCMAP_QUERY_WORKS.load(Ordering::Relaxed) == 0 => {
                    // Not this kernel's ioctl (before 6.11): read the text instead, from now on.
                    PROCMAP_QUERY_WORKS.store(2, Ordering::Relaxed);
                    out.clear();
                    return quick_query(ptr, size, out);
                }
                Err(errno) => {
                    return Err(os_error(ErrorKind::Os, "query", errno, ptr, size).because("PROCMAP_QUERY failed"))
                }
            }
        }
        return push_run(out, cursor, end, PageState::Free, Protection::NoAccess);
    }
    drop(maps);
    let text = read_file("query", c"/proc/self/maps")?;
    let mut cursor = start;
    for line in text.split(|&b| b == b'\n') {
        let Some(mut mapping) = parse_header(line) else { continue };
        if mapping.start >= end {
            break;
        }
        // Inaccessible mappings count as reserved here; see the doc comment.
        mapping.accounted = false;
        push_mapping(out, &mapping, &mut cursor, end)?;
    }
    push_run(out, cursor, end, PageState::Free, Protection::NoAccess)
}

/// Whether `MADV_POPULATE_WRITE` exists here: 0 not known yet, 1 yes, 2 no (before Linux
/// 5.14). Asked of a private page of our own, because the advice's `EINVAL` means both "no
/// such advice" and "these pages are not writable", and only the first may lead to touching
/// the pages.
static POPULATE_WRITE: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// Tests force the touch fallback with this, to prove it faults pages in.
#[cfg(test)]
pub(crate) static FORCE_TOUCH_FALLBACK: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether the kernel knows `MADV_POPULATE_WRITE`, asked once with a fresh writable page
/// (yes, for now, when no page can be mapped to ask: a wrong yes is an error, a wrong no a
/// touch of pages that may not be writable).
fn populate_write_supported() -> bool {
    use core::sync::atomic::Ordering;
    match POPULATE_WRITE.load(Ordering::Relaxed) {
        1 => return true,
        2 => return false,
        _ => {}
    }
    let page = page_size();
    // SAFETY: a fresh private mapping the kernel places where nothing else is; unmapped below.
    let probe = unsafe {
        mm::mmap_anonymous(
            core::ptr::null_mut(),
            page,
            mm::ProtFlags::READ | mm::ProtFlags::WRITE,
            mm::MapFlags::PRIVATE,
        )
    };
    // Cannot tell (no map slot, RLIMIT_AS): take the advice as known, so that this EINVAL is
    // an error and never a touch. Not remembered: a later EINVAL asks again.
    let Ok(probe) = probe else { return true };
    // SAFETY: the page is ours and writable; the advice only faults it in.
    let answer = unsafe { mm::madvise(probe, page, Advice::LinuxPopulateWrite) };
    // SAFETY: the probe mapping is ours and unused.
    let _ = unsafe { mm::munmap(probe, page) };
    let supported = answer != Err(Errno::INVAL);
    POPULATE_WRITE.store(if supported { 1 } else { 2 }, Ordering::Relaxed);
    supported
}

/// # Safety
/// `[ptr, ptr + size)` is committed and writable, owned by the caller, and stays so during
/// the call (no other thread decommits or write-protects it meanwhile).
pub(crate) unsafe fn prefault(ptr: *mut u8, size: usize) -> Result<()> {
    #[cfg(test)]
    if FORCE_TOUCH_FALLBACK.load(core::sync::atomic::Ordering::Relaxed) {
        // SAFETY: forwarded from the caller.
        unsafe { touch_pages(ptr, size) };
        return Ok(());
    }
    // SAFETY: MADV_POPULATE_WRITE faults pages in as a write would, without changing data;
    // on pages that are not writable it fails instead of faulting.
    match unsafe { mm::madvise(ptr.cast(), size, Advice::LinuxPopulateWrite) } {
        Ok(()) => Ok(()),
        // Before Linux 5.14 the advice does not exist: touch one byte per page instead. With
        // the advice known, EINVAL means pages that are not writable: never touch those.
        Err(Errno::INVAL) if !populate_write_supported() => {
            // SAFETY: the caller promised the range is committed and writable.
            unsafe { touch_pages(ptr, size) };
            Ok(())
        }
        Err(errno) => {
            let kind = match errno {
                Errno::NOMEM => ErrorKind::OutOfMemory,
                Errno::INVAL | Errno::FAULT => ErrorKind::InvalidArgument,
                _ => ErrorKind::Os,
            };
            Err(os_error(kind, "prefault", errno, ptr, size)
                .because("could not fault the pages in (are they committed and writable?)"))
        }
    }
}

/// # Safety
/// `[ptr, ptr + size)` lies inside reservations owned by the caller, who no longer relies on
/// the contents for `Free`.
pub(crate) unsafe fn advise(ptr: *mut u8, size: usize, advice: crate::Advice) -> Result<()> {
    use crate::Advice as A;
    let how = match advice {
        A::Normal => Advice::Normal,
        A::Sequential => Advice::Sequential,
        A::Random => Advice::Random,
        A::WillNeed => Advice::WillNeed,
        A::Free => Advice::LinuxFree,
        A::DontDump => Advice::LinuxDontDump,
        A::DoDump => Advice::LinuxDoDump,
        A::HugePages => Advice::LinuxHugepage,
        A::NoHugePages => Advice::LinuxNoHugepage,
    };
    let hint = matches!(advice, A::Normal | A::Sequential | A::Random | A::WillNeed);
    // SAFETY: advice only; the caller accepts what `Free` does to the contents.
    match unsafe { mm::madvise(ptr.cast(), size, how) } {
        // A hint the kernel does not know is ignored, as the contract says.
        Err(Errno::INVAL) if hint => return Ok(()),
        result => result,
    }
    .map_err(|errno| {
        let kind = match errno {
            Errno::INVAL if matches!(advice, A::Free | A::HugePages) => ErrorKind::InvalidArgument,
            Errno::INVAL => ErrorKind::Unsupported,
            Errno::NOMEM => ErrorKind::InvalidArgument,
            _ => ErrorKind::Os,
        };
        os_error(kind, "advise", errno, ptr, size).because(match (kind, advice) {
            (ErrorKind::InvalidArgument, A::Free) => "MADV_FREE needs committed, private, writable pages (Linux 4.5+)",
            (ErrorKind::InvalidArgument, A::HugePages) => "the kernel has no transparent huge pages for this range",
            (ErrorKind::InvalidArgument, _) => "part of the range is not mapped",
            (ErrorKind::Unsupported, _) => "this kernel does not know the advice",
            _ => "",
        })
    })
}

/// # Safety
/// `[ptr, ptr + size)` lies inside reservations owned by the caller.
pub(crate) unsafe fn advise_huge_pages(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: MADV_HUGEPAGE is advice about page size only; contents stay as they are.
    unsafe { mm::madvise(ptr.cast(), size, Advice::LinuxHugepage) }.map_err(|errno| {
        if errno == Errno::INVAL {
            os_error(ErrorKind::Unsupported, "advise_huge_pages", errno, ptr, size)
                .because("transparent huge pages are not available (CONFIG_TRANSPARENT_HUGEPAGE off?)")
        } else {
            os_error(ErrorKind::Os, "advise_huge_pages", errno, ptr, size)
        }
    })
}

/// `/proc/self/smaps` answers queries.
pub(crate) const QUERY_SUPPORTED: bool = true;
/// `mlock` accepts `PROT_NONE` pages, so the public layer checks commit state itself.
pub(crate) const CHECKS_COMMIT_ITSELF: bool = false;

/// A `2 * size` double mapping of a `memfd` (Linux 3.17+), or of an unlinked temporary file
/// where `memfd_create` is missing. No descriptor stays open.
#[cfg(feature = "std")]
pub(crate) fn ring_map(size: usize) -> Result<*mut u8> {
    let fd = match rustix::fs::memfd_create(c"vmem-ring", rustix::fs::MemfdFlags::CLOEXEC) {
        Ok(fd) => fd,
        Err(Errno::NOSYS) => anonymous_temp_file()?,
        Err(errno) => {
            return Err(
                os_error(ErrorKind::Os, "ring_map", errno, core::ptr::null_mut(), size).because("memfd_create failed")
            )
        }
    };
    size_fd(&fd, size)?;
    super::unix::map_fd_twice(rustix::fd::AsFd::as_fd(&fd), size)
}

/// Sets the length of the file behind `fd` to `size` bytes.
#[cfg(feature = "std")]
fn size_fd(fd: &rustix::fd::OwnedFd, size: usize) -> Result<()> {
    rustix::fs::ftruncate(fd, size as u64).map_err(|errno| {
        let kind = if errno == Errno::NOSPC || errno == Errno::FBIG { ErrorKind::OutOfMemory } else { ErrorKind::Os };
        os_error(kind, "ring_map", errno, core::ptr::null_mut(), size).because("cannot size the shared memory file")
    })
}

/// Undoes `ring_map`.
///
/// # Safety
/// `ptr` came from `ring_map(size)` and nothing uses it any more.
#[cfg(feature = "std")]
pub(crate) unsafe fn ring_unmap(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: forwarded from the caller.
    unsafe { super::unix::unmap_twice(ptr, size) }
}

/// An unnamed file in `/dev/shm` (or the temporary directory) that vanishes when closed:
/// the fallback for kernels without `memfd_create`.
#[cfg(feature = "std")]
pub(crate) fn anonymous_temp_file() -> Result<rustix::fd::OwnedFd> {
    use rustix::fs::{open, Mode, OFlags};
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
    let mode = Mode::RUSR | Mode::WUSR;
    let temp_dir = std::env::temp_dir();
    let mut last = Errno::NOENT;
    for dir in [std::path::Path::new("/dev/shm"), temp_dir.as_path()] {
        match open(dir, flags, mode) {
            Ok(fd) => return Ok(fd),
            Err(errno) => last = errno,
        }
    }
    Err(os_error(ErrorKind::Unsupported, "ring_map", last, core::ptr::null_mut(), 0)
        .because("neither memfd_create nor an O_TMPFILE file in /dev/shm or the temporary directory is available"))
}

// ---- mapped files and shared memory ----

/// A `memfd` (Linux 3.17+) sealed against shrinking, so that no process holding it can
/// truncate it under another's mapping (which would raise `SIGBUS` there); an unlinked
/// `O_TMPFILE` file where `memfd_create` is missing (that one cannot be sealed).
#[cfg(feature = "std")]
pub(crate) fn shared_create(_total: usize) -> Result<super::unix::SharedMemory> {
    use rustix::fs::{fcntl_add_seals, memfd_create, MemfdFlags, SealFlags};
    match memfd_create(c"vmem-shared", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING) {
        Ok(fd) => {
            fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::SEAL).map_err(|errno| {
                os_error(ErrorKind::Os, "SharedRegion::create", errno, core::ptr::null_mut(), 0)
                    .because("cannot seal the memfd against shrinking")
            })?;
            Ok(std::fs::File::from(fd))
        }
        Err(Errno::NOSYS) => anonymous_temp_file().map(std::fs::File::from),
        Err(errno) => Err(os_error(ErrorKind::Os, "SharedRegion::create", errno, core::ptr::null_mut(), 0)
            .because("memfd_create failed")),
    }
}

/// Refuses an object that a process holding it could truncate under this process's mapping
/// (every later access of the lost pages would raise `SIGBUS`): `shared_create` makes a
/// `memfd` sealed against shrinking, so an object without that seal did not come from it.
/// Only where the kernel has no `memfd` at all (before 3.17), and `shared_create` falls back
/// to an unsealable file, is an object that cannot be sealed taken.
#[cfg(feature = "std")]
pub(crate) fn shared_check_sealed(memory: &super::unix::SharedMemory, operation: &'static str) -> Result<()> {
    use rustix::fs::{fcntl_get_seals, memfd_create, MemfdFlags, SealFlags};
    use rustix::io::Errno;
    let refused = |detail| Error::new(ErrorKind::InvalidData, operation, detail);
    match fcntl_get_seals(memory) {
        Ok(seals) if seals.contains(SealFlags::SHRINK) => Ok(()),
        Ok(_) => Err(refused("the object is not sealed against shrinking: its sender could truncate it under the mapping")),
        Err(Errno::INVAL) => match memfd_create(c"vmem-probe", MemfdFlags::CLOEXEC) {
            Err(Errno::NOSYS) => Ok(()),
            _ => Err(refused("the object is not a sealed memfd: its sender could truncate it under the mapping")),
        },
        Err(errno) => Err(Error::from_os(ErrorKind::Os, operation, errno.raw_os_error())),
    }
}

/// Grows the object to `new` bytes. `ftruncate`, not `fallocate`: memory pages of a memfd
/// are allocated when first touched, so growing costs nothing until used.
#[cfg(feature = "std")]
pub(crate) fn shared_extend(memory: &super::unix::SharedMemory, _old: u64, new: u64) -> Result<()> {
    super::unix::file_set_len(memory, new)
}

/// Sleeps until `word` is woken or no longer holds `expected`, or `timeout` passes: a shared
/// (not process-private) `FUTEX_WAIT`, so it works across processes on shared memory.
/// Spurious returns are fine: the caller checks its condition again.
#[cfg(feature = "std")]
pub(crate) fn wait_on(word: &core::sync::atomic::AtomicU32, expected: u32, timeout: core::time::Duration) {
    use rustix::thread::futex;
    let timeout = futex::Timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    // EAGAIN (the word changed), EINTR and ETIMEDOUT all mean: look again.
    let _ = futex::wait(word, futex::Flags::empty(), expected, Some(&timeout));
}

/// Wakes every waiter of `word`, in any process.
#[cfg(feature = "std")]
pub(crate) fn wake_all(word: &core::sync::atomic::AtomicU32) {
    use rustix::thread::futex;
    let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
}

/// Set once this process is registered for `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`;
/// cleared in a `fork`ed child (which has not registered itself).
#[cfg(feature = "std")]
static FAST_PUBLISH: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Registers this process for `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)` (Linux 4.16+):
/// a peer about to sleep then issues that barrier (`sleep_barrier`), which puts a full
/// memory barrier into every running thread of this process, so this process can publish
/// its positions without one. Registering again is harmless; a kernel or sandbox without it
/// says no, and positions are then published with a fence.
#[cfg(feature = "std")]
pub(crate) fn register_fast_publish() -> bool {
    use core::sync::atomic::{AtomicBool, Ordering};
    use rustix::thread::{membarrier, MembarrierCommand};
    if FAST_PUBLISH.load(Ordering::Acquire) {
        return true;
    }
    if membarrier(MembarrierCommand::RegisterGlobalExpedited).is_err() {
        return false;
    }
    // A child of `fork` has its own memory map, which the registration may not cover:
    // it publishes with the fence until it registers itself.
    static AT_FORK: AtomicBool = AtomicBool::new(false);
    extern "C" fn after_fork_in_child() {
        FAST_PUBLISH.store(false, Ordering::Relaxed);
    }
    if !AT_FORK.swap(true, Ordering::AcqRel) {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe and fine
        // in a child of a multi-threaded fork.
        if unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) } != 0 {
            AT_FORK.store(false, Ordering::Release);
            return false;
        }
    }
    FAST_PUBLISH.store(true, Ordering::Release);
    true
}

/// Whether this process registered (`register_fast_publish`) and is not a child forked since.
#[cfg(feature = "std")]
pub(crate) fn fast_publish() -> bool {
    FAST_PUBLISH.load(core::sync::atomic::Ordering::Relaxed)
}

/// `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`: every thread of a registered process that
/// is running passes a full memory barrier before this returns (one not running is in such
/// a state already). A publisher's position store is then either visible to the caller's
/// next load, or after the barrier, in which case the publisher's flag load comes after it
/// too and sees the caller's flag. Costs an inter-processor interrupt per CPU running a
/// registered process (16 µs in this VM when the other CPU runs one; 0.14 µs when not).
#[cfg(feature = "std")]
pub(crate) fn sleep_barrier() -> bool {
    use rustix::thread::{membarrier, MembarrierCommand};
    membarrier(MembarrierCommand::GlobalExpedited).is_ok()
}

/// Whether process `pid` is alive: it exists and is not a zombie (a dead child its parent
/// has not reaped yet still has a pid; `/proc/PID/stat` says `Z` for it).
#[cfg(feature = "std")]
pub(crate) fn process_alive(pid: u32) -> bool {
    let Ok(path) = std::ffi::CString::new(std::format!("/proc/{pid}/stat")) else { return true };
    match read_file("process_alive", &path) {
        // The state is the field after the command name, which is in parentheses and may hold
        // anything, so look after the last ')'.
        Ok(stat) => {
            !matches!(stat.iter().rposition(|&b| b == b')').and_then(|i| stat.get(i + 2)), Some(b'Z' | b'X' | b'x'))
        }
        Err(_) => rustix::process::Pid::from_raw(pid as i32)
            .is_some_and(|p| rustix::process::test_kill_process(p) != Err(Errno::SRCH)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_lines_parse() {
        let text = b"MemTotal:       24000000 kB\nMemAvailable:   1000 kB\nHugePages_Total:       0\n";
        assert_eq!(meminfo_field(text, b"MemTotal"), Some(24_000_000 * 1024));
        assert_eq!(meminfo_field(text, b"MemAvailable"), Some(1000 * 1024));
        assert_eq!(meminfo_field(text, b"HugePages_Total"), Some(0));
        assert_eq!(meminfo_field(text, b"Mem"), None);
    }

    /// Pages in `[ptr, ptr + size)` that are resident, by `mincore`.
    fn resident_pages(ptr: *mut u8, size: usize) -> usize {
        let page = page_size();
        let mut vec = vec![0u8; size.div_ceil(page)];
        // SAFETY: `vec` has one byte per page of the range, which is mapped.
        let rc = unsafe { libc::mincore(ptr.cast(), size, vec.as_mut_ptr()) };
        assert_eq!(rc, 0);
        vec.iter().filter(|&&b| b & 1 != 0).count()
    }

    /// The fallback that touches pages (kernels before 5.14, other OSes) really faults them
    /// in, also in release builds, where an `fetch_or(0)` the optimiser could see through
    /// was deleted. (Run with `--release` to check the optimised code: CI does.)
    #[test]
    fn touch_fallback_faults_pages_in() {
        use core::sync::atomic::Ordering;
        let page = page_size();
        let r = crate::Reservation::new(64 * page).unwrap();
        r.commit(0, 64 * page).unwrap();
        assert_eq!(resident_pages(r.as_ptr(), 64 * page), 0);
        FORCE_TOUCH_FALLBACK.store(true, Ordering::Relaxed);
        let result = r.prefault(0, 64 * page);
        FORCE_TOUCH_FALLBACK.store(false, Ordering::Relaxed);
        result.unwrap();
        assert_eq!(resident_pages(r.as_ptr(), 64 * page), 64);
        // And the touch is a write: the pages are private copies, not the shared zero page.
        // SAFETY: `r` is committed and writable; `touch_pages` is called directly.
        unsafe { super::touch_pages(r.as_ptr(), page) };
    }

    #[test]
    fn populate_write_is_probed_not_guessed() {
        // This kernel is far newer than 5.14: the probe must say so.
        assert!(populate_write_supported());
        // And an EINVAL on pages that are not writable is an error, never a touch.
        let page = page_size();
        let r = crate::Reservation::new(4 * page).unwrap();
        r.commit(0, 4 * page).unwrap();
        r.protect(0, 4 * page, Protection::Read).unwrap();
        // SAFETY: deliberately breaks the contract to see the backend refuse, not fault.
        let err = unsafe { prefault(r.as_ptr(), 4 * page) }.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }

    /// The quick query agrees with the full one wherever pages have access, through
    /// `PROCMAP_QUERY` and through the `/proc/self/maps` text.
    #[test]
    fn quick_query_agrees_with_query() {
        use core::sync::atomic::Ordering;
        let page = page_size();
        let r = crate::Reservation::new(8 * page).unwrap();
        r.commit(page, 3 * page).unwrap();
        r.protect(2 * page, page, Protection::Read).unwrap();
        r.commit(6 * page, page).unwrap();
        r.protect(6 * page, page, Protection::NoAccess).unwrap();
        // What the quick query must say: the full answer with inaccessible runs "reserved".
        let expected = |ptr: *mut u8, size: usize| {
            let mut full = Vec::new();
            query(ptr, size, &mut full).unwrap();
            let mut merged: Vec<RegionInfo> = Vec::new();
            for run in full {
                let state = if run.protection == Protection::NoAccess && run.state == PageState::Committed {
                    PageState::Reserved
                } else {
                    run.state
                };
                push_run(&mut merged, run.start, run.end(), state, run.protection).unwrap();
            }
            merged
        };
        // The whole reservation, and ranges that start and end inside it. (Not past its end:
        // other tests map and unmap there between the two queries.)
        let ranges = [(r.as_ptr(), 8 * page), (r.as_ptr().wrapping_add(2 * page), 5 * page)];
        for way in [0u8, 2] {
            PROCMAP_QUERY_WORKS.store(way, Ordering::Relaxed);
            for (ptr, size) in ranges {
                let mut quick = Vec::new();
                quick_query(ptr, size, &mut quick).unwrap();
                assert_eq!(quick, expected(ptr, size), "PROCMAP_QUERY_WORKS = {way}");
                assert_eq!(quick.iter().map(|run| run.size).sum::<usize>(), size);
            }
        }
        PROCMAP_QUERY_WORKS.store(0, Ordering::Relaxed);
    }

    #[test]
    fn smaps_header_parses() {
        let m = parse_header(b"7f0000000000-7f0000002000 r-xp 00000000 00:00 0    [vdso]").unwrap();
        assert_eq!((m.start, m.end, m.protection), (0x7f00_0000_0000, 0x7f00_0000_2000, Protection::ReadExecute));
        assert!(parse_header(b"Rss:   4 kB").is_none());
    }
}
