//! `vmem info`: the facts about this machine's virtual memory that decide what vmem can do.

use crate::output::outln;
use serde::Serialize;

use crate::format::{bytes, limit};
use crate::sys::{self, Limit};

#[derive(Debug, Serialize)]
pub struct Info {
    pub os: &'static str,
    pub arch: &'static str,
    pub page_size: usize,
    pub allocation_granularity: usize,
    /// The huge page size vmem's arena and `advise_huge_pages` use, if any.
    pub huge_page_size: Option<usize>,
    /// Every explicit huge page size the kernel offers.
    pub huge_page_sizes: Vec<u64>,
    pub transparent_huge_pages: Option<String>,
    pub overcommit_mode: Option<u8>,
    pub overcommit_meaning: Option<&'static str>,
    pub physical_total_bytes: u64,
    pub physical_available_bytes: u64,
    pub commit_charge_bytes: Option<u64>,
    pub commit_limit_bytes: Option<u64>,
    pub virtual_address_bits: Option<u32>,
    pub user_address_space_bytes: Option<u64>,
    pub rlimit_as: Option<Limit>,
    pub rlimit_data: Option<Limit>,
    pub rlimit_memlock: Option<Limit>,
}

pub fn gather() -> anyhow::Result<Info> {
    let status = vmem::memory_status().map_err(|e| anyhow::anyhow!("reading the memory status: {e}"))?;
    let overcommit = sys::overcommit();
    let bits = sys::virtual_address_bits();
    Ok(Info {
        os: std::env::consts::OS,
        arch: std::env::consts::ARCH,
        page_size: vmem::page_size(),
        allocation_granularity: vmem::allocation_granularity(),
        huge_page_size: vmem::huge_page_size(),
        huge_page_sizes: sys::huge_page_sizes(),
        transparent_huge_pages: sys::transparent_huge_pages(),
        overcommit_mode: overcommit.map(|o| o.0),
        overcommit_meaning: overcommit.map(|o| o.1),
        physical_total_bytes: status.total_physical_bytes,
        physical_available_bytes: status.available_physical_bytes,
        commit_charge_bytes: status.committed_bytes,
        commit_limit_bytes: status.commit_limit_bytes,
        virtual_address_bits: bits,
        user_address_space_bytes: sys::user_address_space(),
        rlimit_as: sys::address_space_limit(),
        rlimit_data: sys::data_limit(),
        rlimit_memlock: sys::memlock_limit(),
    })
}

pub fn run(json: bool) -> anyhow::Result<()> {
    let info = gather()?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    let unknown = || "unknown".to_string();
    let opt = |v: Option<u64>| v.map(bytes).unwrap_or_else(unknown);
    let rows: Vec<(&str, String)> = vec![
        ("system", format!("{} {}", info.os, info.arch)),
        ("page size", bytes(info.page_size as u64)),
        ("allocation granularity", bytes(info.allocation_granularity as u64)),
        ("huge page size", info.huge_page_size.map(|h| bytes(h as u64)).unwrap_or_else(|| "none".into())),
        (
            "huge page sizes (hugetlbfs)",
            if info.huge_page_sizes.is_empty() {
                "none".into()
            } else {
                info.huge_page_sizes.iter().map(|&s| bytes(s)).collect::<Vec<_>>().join(", ")
            },
        ),
        ("transparent huge pages", info.transparent_huge_pages.clone().unwrap_or_else(unknown)),
        (
            "overcommit",
            match (info.overcommit_mode, info.overcommit_meaning) {
                (Some(mode), Some(meaning)) => format!("{mode} ({meaning})"),
                _ => unknown(),
            },
        ),
        ("physical memory", bytes(info.physical_total_bytes)),
        ("available", bytes(info.physical_available_bytes)),
        ("commit charge (system)", opt(info.commit_charge_bytes)),
        ("commit limit", opt(info.commit_limit_bytes)),
        (
            "address space (user)",
            match (info.user_address_space_bytes, info.virtual_address_bits) {
                (Some(size), Some(bits)) => {
                    format!("{} (the CPU implements {bits}-bit virtual addresses)", bytes(size))
                }
                (Some(size), None) => bytes(size),
                _ => unknown(),
            },
        ),
        ("RLIMIT_AS", limit(info.rlimit_as)),
        ("RLIMIT_DATA", limit(info.rlimit_data)),
        ("RLIMIT_MEMLOCK", limit(info.rlimit_memlock)),
    ];
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in rows {
        outln!("{key:<width$}  {value}");
    }
    Ok(())
}
