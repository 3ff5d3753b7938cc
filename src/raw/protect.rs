//! Page protection levels, and changing the protection of committed pages.

use crate::raw::checks::{page_range, require_committed, Need};
use core::fmt;

use crate::{os, Result};

/// Sets the protection of every page that holds a byte of `[ptr, ptr + size)`.
///
/// Every page must be committed: a range with reserved (or unmapped) pages is refused with
/// nothing changed, on every OS. (Unix would otherwise give reserved pages the protection
/// and so make memory usable without a commit; Windows refuses itself.) Making pages
/// writable and executable at once may be refused (`PermissionDenied`) on hardened systems.
///
/// On Linux no system call reports commit state, so the check reads the page map
/// (`/proc/self/smaps`); a committed page made inaccessible before it was ever written is
/// uncharged by the kernel and counts as reserved (commit it again). A
/// [`Reservation`](crate::Reservation) keeps its own record instead and has neither the
/// cost nor that exception.
///
/// Cost: one system call (`mprotect` / `VirtualProtect`), plus on Unix a read of the page
/// map (see [`query`](crate::query)). Each change in the middle of a mapping splits it;
/// Linux allows `vm.max_map_count` (65530) mappings per process.
///
/// # Errors
/// `InvalidArgument` for null, a zero size, an overflowing range or pages that are not
/// committed; `PermissionDenied` when the OS forbids the protection; `OutOfMemory` when the
/// kernel runs out of mappings.
///
/// # Safety
/// The range must lie inside reservations you own, and the code that uses the memory must
/// respect the new protection.
///
/// ```
/// use vmem::Protection;
/// let page = vmem::page_size();
/// let base = vmem::reserve(page).unwrap().as_ptr();
/// // SAFETY: our reservation; we only read it while it is read-only.
/// unsafe {
///     vmem::commit(base, page).unwrap();
///     vmem::protect(base, page, Protection::Read).unwrap();
///     assert_eq!(*base, 0);
///     vmem::release(base, page).unwrap();
/// }
/// ```
pub unsafe fn protect(ptr: *mut u8, size: usize, protection: Protection) -> Result<()> {
    let (start, len) = page_range("protect", ptr, size)?;
    if !os::CHECKS_COMMIT_ITSELF {
        require_committed("protect", start, len, Need::Committed)?;
    }
    // SAFETY: checked and page-aligned; the caller owns the range and honours `protection`.
    unsafe { os::protect(start, len, protection) }
}

/// What a committed page allows: the protection levels every supported OS offers.
///
/// ```
/// use vmem::Protection;
/// assert!(Protection::ReadWrite.can_write());
/// assert!(!Protection::Read.can_write());
/// assert_eq!(Protection::ReadExecute.to_string(), "read-execute");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protection {
    /// Any access faults. Reserved pages always have this protection.
    NoAccess,
    /// Reads are allowed.
    Read,
    /// Reads and writes are allowed (what [`commit`](crate::commit) gives).
    ReadWrite,
    /// Only execution is allowed (on most CPUs this also allows reads).
    Execute,
    /// Reads and execution are allowed.
    ReadExecute,
    /// Everything is allowed. Some systems forbid it (macOS on Apple Silicon, SELinux
    /// `execmem`): you then get [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied).
    ReadWriteExecute,
}

impl Protection {
    /// Every protection, weakest first.
    ///
    /// ```
    /// assert_eq!(vmem::Protection::ALL.len(), 6);
    /// ```
    pub const ALL: [Protection; 6] = [
        Protection::NoAccess,
        Protection::Read,
        Protection::ReadWrite,
        Protection::Execute,
        Protection::ReadExecute,
        Protection::ReadWriteExecute,
    ];

    /// Whether reads are allowed.
    ///
    /// ```
    /// assert!(vmem::Protection::ReadExecute.can_read());
    /// ```
    pub const fn can_read(self) -> bool {
        matches!(
            self,
            Protection::Read | Protection::ReadWrite | Protection::ReadExecute | Protection::ReadWriteExecute
        )
    }

    /// Whether writes are allowed.
    ///
    /// ```
    /// assert!(vmem::Protection::ReadWriteExecute.can_write());
    /// ```
    pub const fn can_write(self) -> bool {
        matches!(self, Protection::ReadWrite | Protection::ReadWriteExecute)
    }

    /// Whether execution is allowed.
    ///
    /// ```
    /// assert!(!vmem::Protection::ReadWrite.can_execute());
    /// ```
    pub const fn can_execute(self) -> bool {
        matches!(self, Protection::Execute | Protection::ReadExecute | Protection::ReadWriteExecute)
    }

    /// The protection with exactly these permissions, if there is one (write without read
    /// has none).
    ///
    /// ```
    /// use vmem::Protection;
    /// assert_eq!(Protection::from_flags(true, true, false), Some(Protection::ReadWrite));
    /// assert_eq!(Protection::from_flags(false, true, false), None);
    /// ```
    pub const fn from_flags(read: bool, write: bool, execute: bool) -> Option<Protection> {
        Some(match (read, write, execute) {
            (false, false, false) => Protection::NoAccess,
            (true, false, false) => Protection::Read,
            (true, true, false) => Protection::ReadWrite,
            (false, false, true) => Protection::Execute,
            (true, false, true) => Protection::ReadExecute,
            (true, true, true) => Protection::ReadWriteExecute,
            (false, true, _) => return None,
        })
    }

    /// A short lower-case name such as `"read-write"`.
    ///
    /// ```
    /// assert_eq!(vmem::Protection::NoAccess.name(), "no-access");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Protection::NoAccess => "no-access",
            Protection::Read => "read",
            Protection::ReadWrite => "read-write",
            Protection::Execute => "execute",
            Protection::ReadExecute => "read-execute",
            Protection::ReadWriteExecute => "read-write-execute",
        }
    }
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip() {
        for p in Protection::ALL {
            assert_eq!(Protection::from_flags(p.can_read(), p.can_write(), p.can_execute()), Some(p));
        }
    }
}
