//! Page protection levels.

use core::fmt;

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
