#![recursion_limit = "1024"]
//! Names for the conditions that pick an OS backend, so that each is written once (here)
//! instead of at every `#[cfg]` (src/os/mod.rs and the modules with OS-specific parts).
//! `--cfg vmem_check_windows` (any host) and `--cfg vmem_check_bsd` (a Linux host) swap in
//! another family's backend so that `scripts/check-platforms.sh` can type-check it here;
//! such a build is checked, never run.
//!
//! - `windows_backend`: the Windows backend (on Windows, or type-checked elsewhere);
//! - `unix_backend`: the Unix code every Unix backend shares;
//! - `linux_backend`, `macos_backend`, `bsd_backend`: each family's extras;
//! - `stub_backend`: neither, every operation fails with `Unsupported`;
//! - `stub_files_backend`: the stub's mapped files (the stub, and the Windows check off
//!   Windows, whose file code needs `std::os::windows`).

use cfg_aliases::cfg_aliases;

fn main() {
    cfg_aliases! {
        windows_backend: { any(windows, vmem_check_windows) },
        linux_os: { any(target_os = "linux", target_os = "android") },
        macos_os: { any(target_os = "macos", target_os = "ios") },
        bsd_os: { any(target_os = "freebsd", target_os = "dragonfly", target_os = "netbsd", target_os = "openbsd", target_os = "illumos", target_os = "solaris") },
        unix_backend: { all(not(vmem_check_windows), any(linux_os, macos_os, bsd_os)) },
        linux_backend: { all(not(vmem_check_windows), not(vmem_check_bsd), linux_os) },
        macos_backend: { all(not(vmem_check_windows), macos_os) },
        bsd_backend: { all(not(vmem_check_windows), any(bsd_os, all(vmem_check_bsd, linux_os))) },
        stub_backend: { not(any(windows_backend, unix_backend)) },
        stub_files_backend: { any(stub_backend, all(vmem_check_windows, not(windows))) },
    }
}
