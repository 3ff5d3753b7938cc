//! Errors: what was asked, what limit stood in the way, and the OS error.

use core::fmt;

/// A `Result` whose error is [`Error`].
///
/// ```
/// fn pages(n: usize) -> vmem::Result<usize> {
///     n.checked_mul(vmem::page_size()).ok_or_else(|| {
///         vmem::Error::new(vmem::ErrorKind::InvalidArgument, "pages", "the byte count overflows usize")
///     })
/// }
/// assert!(pages(2).is_ok());
/// assert!(pages(usize::MAX).is_err());
/// ```
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// The class of an [`Error`]: what a caller can do about it.
///
/// ```
/// let err = vmem::align_up(10, 3).unwrap_err();
/// assert_eq!(err.kind(), vmem::ErrorKind::InvalidArgument);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument can never be right: a zero size, a null or misaligned pointer, an
    /// alignment that is not a power of two, a size that overflows.
    InvalidArgument,
    /// A range reaches outside the reservation (or collection) it names.
    OutOfBounds,
    /// The OS refused to back memory: commit charge, `RLIMIT_DATA`, a lock limit, or a
    /// maximum size chosen by the caller.
    OutOfMemory,
    /// No room in the address space: `RLIMIT_AS`, a full address space, or too many mappings.
    OutOfAddressSpace,
    /// The OS forbids the operation (for example a writable and executable mapping on a
    /// hardened system, or locking without the privilege).
    PermissionDenied,
    /// The platform does not offer this operation (for example huge pages that are not
    /// configured).
    Unsupported,
    /// Any other OS failure; [`Error::os_code`] says which.
    Os,
    /// A file or shared memory holds something this type cannot use: not its format, another
    /// element type, a corrupt header, or a length that does not fit (feature `std`).
    InvalidData,
    /// A wait ended before the peer answered (feature `std`).
    TimedOut,
    /// The other side is gone: it closed its end or its process died (feature `std`).
    Disconnected,
}

impl ErrorKind {
    /// A short lower-case description of the kind.
    ///
    /// ```
    /// assert_eq!(vmem::ErrorKind::OutOfBounds.as_str(), "out of bounds");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::OutOfBounds => "out of bounds",
            ErrorKind::OutOfMemory => "out of memory",
            ErrorKind::OutOfAddressSpace => "out of address space",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Os => "operating system error",
            ErrorKind::InvalidData => "invalid data",
            ErrorKind::TimedOut => "timed out",
            ErrorKind::Disconnected => "disconnected",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A limit that stood in the way: its name and its value in bytes (or count).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Limit {
    name: &'static str,
    value: u64,
}

/// Why a vmem call failed.
///
/// An error never allocates: it is a small `Copy` value that records the operation, the
/// address and size it was asked for, the limit that was hit (where one is known), and the
/// OS error code. Its `Display` says all of that in one line.
///
/// ```
/// let reservation = vmem::Reservation::new(vmem::page_size()).unwrap();
/// let err = reservation.commit(0, 10 * vmem::page_size()).unwrap_err();
/// assert_eq!(err.kind(), vmem::ErrorKind::OutOfBounds);
/// assert!(err.to_string().contains("commit"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Error {
    kind: ErrorKind,
    operation: &'static str,
    detail: &'static str,
    address: Option<usize>,
    size: Option<usize>,
    limit: Option<Limit>,
    os_code: Option<i32>,
}

impl Error {
    /// An error of `kind` from `operation`, with a fixed explanation.
    ///
    /// ```
    /// let err = vmem::Error::new(vmem::ErrorKind::Unsupported, "frobnicate", "not on this OS");
    /// assert_eq!(err.to_string(), "frobnicate: not on this OS");
    /// ```
    pub const fn new(kind: ErrorKind, operation: &'static str, detail: &'static str) -> Error {
        Error { kind, operation, detail, address: None, size: None, limit: None, os_code: None }
    }

    /// An error carrying the OS error `code` (an `errno` on Unix, a `GetLastError` value on
    /// Windows).
    ///
    /// ```
    /// let err = vmem::Error::from_os(vmem::ErrorKind::OutOfMemory, "commit", 12);
    /// assert_eq!(err.os_code(), Some(12));
    /// ```
    pub const fn from_os(kind: ErrorKind, operation: &'static str, code: i32) -> Error {
        let mut err = Error::new(kind, operation, "");
        err.os_code = Some(code);
        err
    }

    /// Records the range the failed call was asked about.
    pub(crate) const fn at(mut self, address: usize, size: usize) -> Error {
        self.address = Some(address);
        self.size = Some(size);
        self
    }

    /// Records the size the failed call was asked for.
    pub(crate) const fn sized(mut self, size: usize) -> Error {
        self.size = Some(size);
        self
    }

    /// Records the limit that was hit.
    pub(crate) const fn with_limit(mut self, name: &'static str, value: u64) -> Error {
        self.limit = Some(Limit { name, value });
        self
    }

    /// Replaces the explanation.
    pub(crate) const fn because(mut self, detail: &'static str) -> Error {
        self.detail = detail;
        self
    }

    /// The class of the error.
    ///
    /// ```
    /// let err = vmem::reserve(0).unwrap_err();
    /// assert_eq!(err.kind(), vmem::ErrorKind::InvalidArgument);
    /// ```
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The name of the operation that failed, such as `"commit"`.
    ///
    /// ```
    /// assert_eq!(vmem::reserve(0).unwrap_err().operation(), "reserve");
    /// ```
    pub const fn operation(&self) -> &'static str {
        self.operation
    }

    /// The OS error code, where the OS reported one.
    ///
    /// ```
    /// assert_eq!(vmem::reserve(0).unwrap_err().os_code(), None);
    /// ```
    pub const fn os_code(&self) -> Option<i32> {
        self.os_code
    }

    /// The start address the failed call was asked about, if it named one.
    ///
    /// ```
    /// let r = vmem::Reservation::new(vmem::page_size()).unwrap();
    /// let err = r.commit(0, 2 * vmem::page_size()).unwrap_err();
    /// assert_eq!(err.address(), Some(r.as_ptr() as usize));
    /// ```
    pub const fn address(&self) -> Option<usize> {
        self.address
    }

    /// The size in bytes the failed call was asked for, if it named one.
    ///
    /// ```
    /// assert_eq!(vmem::reserve(0).unwrap_err().size(), Some(0));
    /// ```
    pub const fn size(&self) -> Option<usize> {
        self.size
    }

    /// The limit that stood in the way, as `(name, value)`, where known: for example
    /// `("RLIMIT_DATA", 268435456)` or `("reservation length", 65536)`.
    ///
    /// ```
    /// let r = vmem::Reservation::new(vmem::page_size()).unwrap();
    /// let err = r.commit(0, 2 * vmem::page_size()).unwrap_err();
    /// assert_eq!(err.limit(), Some(("reservation length", vmem::page_size() as u64)));
    /// assert_eq!(vmem::reserve(0).unwrap_err().limit(), None);
    /// ```
    pub fn limit(&self) -> Option<(&'static str, u64)> {
        self.limit.map(|l| (l.name, l.value))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.operation)?;
        match (self.size, self.address) {
            (Some(size), Some(address)) => write!(f, " of {size} bytes at {address:#x}")?,
            (Some(size), None) => write!(f, " of {size} bytes")?,
            (None, Some(address)) => write!(f, " at {address:#x}")?,
            (None, None) => {}
        }
        f.write_str(": ")?;
        if self.detail.is_empty() {
            f.write_str(self.kind.as_str())?;
        } else {
            f.write_str(self.detail)?;
        }
        if let Some(limit) = self.limit {
            write!(f, " ({} is {})", limit.name, limit.value)?;
        }
        if let Some(code) = self.os_code {
            write_os_error(f, code)?;
        }
        Ok(())
    }
}

#[cfg(feature = "std")]
fn write_os_error(f: &mut fmt::Formatter<'_>, code: i32) -> fmt::Result {
    write!(f, ": {}", std::io::Error::from_raw_os_error(code))
}

#[cfg(not(feature = "std"))]
fn write_os_error(f: &mut fmt::Formatter<'_>, code: i32) -> fmt::Result {
    write!(f, ": os error {code}")
}

impl core::error::Error for Error {}

#[cfg(feature = "std")]
impl From<Error> for std::io::Error {
    /// Converts to an `io::Error`, keeping the OS code where there is one.
    fn from(err: Error) -> std::io::Error {
        use std::io::ErrorKind as Io;
        let kind = match err.kind {
            ErrorKind::InvalidArgument => Io::InvalidInput,
            ErrorKind::OutOfBounds => Io::InvalidInput,
            ErrorKind::OutOfMemory | ErrorKind::OutOfAddressSpace => Io::OutOfMemory,
            ErrorKind::PermissionDenied => Io::PermissionDenied,
            ErrorKind::Unsupported => Io::Unsupported,
            ErrorKind::Os => Io::Other,
            ErrorKind::InvalidData => Io::InvalidData,
            ErrorKind::TimedOut => Io::TimedOut,
            ErrorKind::Disconnected => Io::BrokenPipe,
        };
        std::io::Error::new(kind, err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn display_names_everything_known() {
        let err = Error::from_os(ErrorKind::OutOfMemory, "commit", 12).at(0x1000, 8192).with_limit("RLIMIT_DATA", 4096);
        let text = err.to_string();
        assert!(text.starts_with("commit of 8192 bytes at 0x1000: out of memory (RLIMIT_DATA is 4096)"), "{text}");
        assert!(text.contains("12"), "{text}");
    }

    #[test]
    fn detail_replaces_kind_text() {
        let err = Error::new(ErrorKind::InvalidArgument, "reserve", "size is zero").sized(0);
        assert_eq!(err.to_string(), "reserve of 0 bytes: size is zero");
    }
}
