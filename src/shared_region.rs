//! `SharedRegion`: shared memory between processes that grows in place in every one of them.
//!
//! The creator makes an anonymous shared-memory object (a `memfd` on Linux, a `shm_open`
//! object elsewhere, a pagefile-backed section on Windows), reserves `max_len` bytes of
//! address space for it and maps its current length into the front, as
//! [`MappedFile`](crate::MappedFile) does for files. Another process gets the object (an
//! inherited descriptor, or one sent over a Unix socket with `SCM_RIGHTS`), opens it with
//! [`from_fd`](SharedRegion::from_fd) and maps it the same way. The creator
//! [`grow`](SharedRegion::grow)s it; the others learn the new length from a header at the
//! start of the object and map the new part with [`refresh`](SharedRegion::refresh). In
//! every process the base address never changes.
//!
//! ```text
//!   object:  | header page: magic, version, max_len, len | data: len bytes ... (up to max_len)
//!   process: base - page_size                            ^ as_ptr(), the same for its life
//! ```
//!
//! ## Trust
//!
//! The other process is not trusted to be correct. Everything read from the header is
//! checked before use: a length past the `max_len` this process reserved, past the object's
//! real size, or smaller than before is refused (`InvalidData`) and the mapping stays as it
//! was. On Linux the `memfd` is sealed against shrinking (`F_SEAL_SHRINK`), so no process can
//! truncate it under another's mapping, and [`from_fd`](SharedRegion::from_fd) refuses an
//! object without that seal (`InvalidData`). Elsewhere a process holding the object can truncate
//! it, and then an access to the lost pages raises `SIGBUS`; on Windows a section cannot
//! shrink. The data itself is shared: other processes write it whenever they like, which is
//! why [`as_slice`](SharedRegion::as_slice) is `unsafe` and the copying accessors are the
//! safe way in (they may see a mix of old and new bytes, never bytes outside the region).
//!
//! ## Cost model
//!
//! | call | cost |
//! |---|---|
//! | [`create`](SharedRegion::create) | `memfd_create`, `fcntl` (seal), `ftruncate`, two `mmap`s |
//! | [`from_fd`](SharedRegion::from_fd) | `fstat`, three `mmap`s (one to read the header) |
//! | [`grow`](SharedRegion::grow) | `ftruncate`, one `mmap` (Windows: `VirtualAlloc(MEM_COMMIT)`) |
//! | [`refresh`](SharedRegion::refresh) | an atomic load; when the length changed, `fstat` and one `mmap` |
//! | reads and writes | memory accesses (the first touch of a page is a page fault) |
//!
//! macOS can size a shared-memory object only once, so there the object is `max_len` long
//! from the start (its pages cost memory only when touched).
// Type-checking the Windows backend off Windows leaves out what only Windows handles reach.
#![cfg_attr(all(vmem_check_windows, not(windows)), allow(dead_code))]

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::{os, Error, ErrorKind, Result};

const MAGIC: [u8; 8] = *b"VMEMSHRD";
const VERSION: u32 = 1;
/// Where the header's fields are, in bytes from the start of the object.
const MAX_LEN_AT: usize = 16;
const LEN_AT: usize = 24;

/// Shared memory that grows in place in every process mapping it: see the
/// [module docs](self).
///
/// ```
/// use vmem::SharedRegion;
///
/// let mut region = SharedRegion::create(1 << 20, 1 << 30)?; // 1 MiB now, up to 1 GiB
/// region.write_at(0, b"shared")?;
/// let base = region.as_ptr();
/// region.grow(256 << 20)?;                                   // grown in place
/// assert_eq!(region.as_ptr(), base);
///
/// // Another process would get the descriptor (inherited or over a Unix socket); here,
/// // a second mapping in this process stands in for it.
/// # #[cfg(unix)] {
/// use std::os::fd::AsFd;
/// let mut other = SharedRegion::from_fd(region.as_fd().try_clone_to_owned().unwrap())?;
/// assert_eq!(other.len(), 256 << 20);
/// let mut word = [0u8; 6];
/// other.read_at(0, &mut word)?;
/// assert_eq!(&word, b"shared");
/// region.grow(512 << 20)?;
/// assert_eq!(other.refresh()?, 512 << 20);                 // maps the new part
/// # }
/// # Ok::<(), vmem::Error>(())
/// ```
pub struct SharedRegion {
    memory: os::SharedMemory,
    /// The start of the mapping: the header page; the data follows it.
    base: NonNull<u8>,
    /// Bytes of address space reserved: `header + max_len` rounded up to pages.
    total: usize,
    /// The header's size: one page.
    header: usize,
    /// The most data bytes this process maps.
    max_len: usize,
    /// Data bytes mapped here.
    len: usize,
    /// Whether this process created the region (and so may grow it).
    creator: bool,
}

// SAFETY: the mapping and the object are owned by this value; moving it moves them.
unsafe impl Send for SharedRegion {}
// SAFETY: `&SharedRegion` allows reads of the data (which other processes write anyway, so
// those reads are already written for concurrent writers) and an atomic load of the header;
// everything that changes the mapping or writes takes `&mut self`.
unsafe impl Sync for SharedRegion {}

fn invalid(operation: &'static str, detail: &'static str) -> Error {
    Error::new(ErrorKind::InvalidData, operation, detail)
}

impl SharedRegion {
    /// Creates a region of `len` bytes (reading zero) that can grow to `max_len` bytes.
    ///
    /// # Errors
    /// `InvalidArgument` for a zero `max_len` or `len > max_len`; `OutOfAddressSpace` when
    /// `max_len` cannot be reserved; the OS error of creating or sizing the object
    /// (`OutOfMemory` past `RLIMIT_FSIZE`).
    ///
    /// ```
    /// let region = vmem::SharedRegion::create(0, 1 << 20)?;
    /// assert!(region.is_empty());
    /// assert!(vmem::SharedRegion::create(10, 5).is_err());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn create(len: usize, max_len: usize) -> Result<SharedRegion> {
        const OP: &str = "SharedRegion::create";
        if max_len == 0 {
            return Err(Error::new(ErrorKind::InvalidArgument, OP, "max_len is zero").sized(0));
        }
        if len > max_len {
            return Err(Error::new(ErrorKind::InvalidArgument, OP, "the length is larger than max_len")
                .sized(len)
                .with_limit("max_len", max_len as u64));
        }
        let header = crate::page_size();
        let total = Self::total(OP, header, max_len)?;
        let memory = os::shared_create(total)?;
        os::shared_extend(&memory, 0, (header + len) as u64)?;
        // SAFETY: `total` is a non-zero page multiple, `header + len <= total`, and the object
        // was just made that long.
        let base = unsafe { os::shared_map(&memory, total, header + len)? };
        let base = NonNull::new(base).ok_or(Error::new(ErrorKind::Os, OP, "the OS returned a null address"))?;
        let region = SharedRegion { memory, base, total, header, max_len, len, creator: true };
        // SAFETY: the header page is mapped read-write and nobody else has the object yet.
        unsafe {
            let p = base.as_ptr();
            p.copy_from_nonoverlapping(MAGIC.as_ptr(), 8);
            p.add(8).cast::<u32>().write(VERSION);
            p.add(12).cast::<u32>().write(header as u32);
            p.add(MAX_LEN_AT).cast::<u64>().write(max_len as u64);
        }
        region.len_cell().store(len as u64, Ordering::Release);
        Ok(region)
    }

    /// The address space for a header page and `max_len` data bytes, page-rounded.
    fn total(operation: &'static str, header: usize, max_len: usize) -> Result<usize> {
        header
            .checked_add(max_len)
            .and_then(|n| crate::align_up(n, crate::page_size()).ok())
            .filter(|&n| n <= isize::MAX as usize)
            .ok_or_else(|| {
                Error::new(ErrorKind::OutOfAddressSpace, operation, "max_len is larger than any mapping can be")
                    .sized(max_len)
                    .with_limit("isize::MAX", isize::MAX as u64)
            })
    }

    /// Maps a region another process created, from its shared-memory object: checks the
    /// header, reserves the `max_len` it records, and maps the current length.
    fn from_memory(memory: os::SharedMemory) -> Result<SharedRegion> {
        const OP: &str = "SharedRegion::open";
        let header = crate::page_size();
        let size = os::shared_len(&memory)?;
        if size.is_some_and(|s| s < header as u64) {
            return Err(invalid(OP, "the object is too small to be a SharedRegion"));
        }
        os::shared_check_sealed(&memory, OP)?;
        // Map the header page alone first, to learn the maximum.
        // SAFETY: one page, and the object is at least that long (checked above; on Windows
        // the section's first page is committed by its creator).
        let peek = unsafe { os::shared_map(&memory, header, header)? };
        let mut fields = [0u8; 32];
        // SAFETY: the header page is mapped and readable; 32 bytes lie inside it.
        unsafe { peek.copy_to_nonoverlapping(fields.as_mut_ptr(), 32) };
        // SAFETY: the one-page mapping made above, used no more.
        unsafe { os::shared_unmap(peek, header, header)? };
        let word = |at: usize| u64::from_ne_bytes(fields[at..at + 8].try_into().unwrap_or([0; 8]));
        if fields[..8] != MAGIC {
            return Err(invalid(OP, "the object is not a SharedRegion"));
        }
        if u32::from_ne_bytes(fields[8..12].try_into().unwrap_or([0; 4])) != VERSION {
            return Err(invalid(OP, "the SharedRegion is of another version or byte order"));
        }
        if u32::from_ne_bytes(fields[12..16].try_into().unwrap_or([0; 4])) as usize != header {
            return Err(invalid(OP, "the SharedRegion was made with another page size"));
        }
        let max_len =
            usize::try_from(word(MAX_LEN_AT)).map_err(|_| invalid(OP, "the header's maximum does not fit usize"))?;
        if max_len == 0 {
            return Err(invalid(OP, "the header's maximum is zero"));
        }
        let total = Self::total(OP, header, max_len)?;
        // SAFETY: one page, as above.
        let base = unsafe { os::shared_map(&memory, total, header)? };
        let base = NonNull::new(base).ok_or(Error::new(ErrorKind::Os, OP, "the OS returned a null address"))?;
        let mut region = SharedRegion { memory, base, total, header, max_len, len: 0, creator: false };
        region.refresh()?;
        Ok(region)
    }

    /// The header's length field. It lives in the mapped header page, 8-byte aligned.
    fn len_cell(&self) -> &AtomicU64 {
        // SAFETY: the header page is mapped read-write for the life of `self`; offset 24 is
        // 8-byte aligned (the mapping is page-aligned); other processes access it only
        // atomically (or, if they misbehave, write garbage, which is checked before use).
        unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(LEN_AT).cast()) }
    }

    /// The data bytes mapped in this process.
    ///
    /// ```
    /// let region = vmem::SharedRegion::create(100, 4096)?;
    /// assert_eq!(region.len(), 100);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no data bytes are mapped.
    ///
    /// ```
    /// assert!(vmem::SharedRegion::create(0, 4096)?.is_empty());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most the region can grow to.
    ///
    /// ```
    /// assert_eq!(vmem::SharedRegion::create(0, 12345)?.max_len(), 12345);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Whether this process created the region (only the creator grows it).
    ///
    /// ```
    /// assert!(vmem::SharedRegion::create(0, 4096)?.is_creator());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn is_creator(&self) -> bool {
        self.creator
    }

    /// The first data byte. It never changes while this value lives. Only `[as_ptr(),
    /// as_ptr() + len())` may be accessed.
    ///
    /// ```
    /// let region = vmem::SharedRegion::create(10, 4096)?;
    /// assert_eq!(region.as_ptr() as usize % vmem::page_size(), 0);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn as_ptr(&self) -> *mut u8 {
        // SAFETY: the header page is inside the reservation, so one page past the base is too.
        unsafe { self.base.as_ptr().add(self.header) }
    }

    /// The data bytes as a slice.
    ///
    /// # Safety
    /// While the slice lives, no other process (or other mapping of the region in this one)
    /// may write the bytes: that would change memory behind a shared reference. On systems
    /// other than Linux, another process must also not truncate the object (`SIGBUS`).
    ///
    /// ```
    /// let mut region = vmem::SharedRegion::create(3, 4096)?;
    /// region.write_at(0, b"abc")?;
    /// // SAFETY: nobody else has the region.
    /// assert_eq!(unsafe { region.as_slice() }, b"abc");
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: `[as_ptr, as_ptr + len)` is mapped, readable and inside the object (checked
        // when it was mapped); `len <= max_len < isize::MAX`; the caller promises no writer.
        unsafe { core::slice::from_raw_parts(self.as_ptr(), self.len) }
    }

    /// The data bytes as a mutable slice.
    ///
    /// # Safety
    /// As [`as_slice`](Self::as_slice): nothing else may read or write the bytes meanwhile.
    ///
    /// ```
    /// let mut region = vmem::SharedRegion::create(3, 4096)?;
    /// // SAFETY: nobody else has the region.
    /// unsafe { region.as_mut_slice() }.copy_from_slice(b"xyz");
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and the mapping is writable.
        unsafe { core::slice::from_raw_parts_mut(self.as_ptr(), self.len) }
    }

    fn check_range(&self, operation: &'static str, offset: usize, count: usize) -> Result<()> {
        match offset.checked_add(count) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::new(ErrorKind::OutOfBounds, operation, "the range runs past the end of the region")
                .at(offset, count)
                .with_limit("region length", self.len as u64)),
        }
    }

    /// Copies bytes out of the region at `offset`. Another process writing them meanwhile can
    /// make this see a mix of old and new bytes.
    ///
    /// # Errors
    /// `OutOfBounds` past [`len`](Self::len).
    ///
    /// ```
    /// let mut region = vmem::SharedRegion::create(5, 4096)?;
    /// region.write_at(0, b"hello")?;
    /// let mut b = [0u8; 2];
    /// region.read_at(3, &mut b)?;
    /// assert_eq!(&b, b"lo");
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.check_range("SharedRegion::read_at", offset, buf.len())?;
        // SAFETY: the range is inside the mapped data; `buf` is this process's own memory.
        unsafe { core::ptr::copy_nonoverlapping(self.as_ptr().add(offset), buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies `data` into the region at `offset`.
    ///
    /// # Errors
    /// `OutOfBounds` past [`len`](Self::len).
    ///
    /// ```
    /// let mut region = vmem::SharedRegion::create(5, 4096)?;
    /// assert!(region.write_at(4, b"xy").is_err());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> Result<()> {
        self.check_range("SharedRegion::write_at", offset, data.len())?;
        // SAFETY: the range is inside the mapped, writable data; safe code cannot borrow it
        // while we hold `&mut self`, so `data` does not overlap it.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.as_ptr().add(offset), data.len()) };
        Ok(())
    }

    /// Grows the region to `new_len` bytes in place (the creator only), and publishes the new
    /// length in the header for the other processes' [`refresh`](Self::refresh). New bytes
    /// read zero.
    ///
    /// # Errors
    /// `PermissionDenied` when this process did not create the region; `InvalidArgument` when
    /// `new_len` is smaller than [`len`](Self::len); `OutOfBounds` past
    /// [`max_len`](Self::max_len); the OS error of sizing the object or mapping it. On
    /// failure nothing changed.
    ///
    /// ```
    /// let mut region = vmem::SharedRegion::create(0, 1 << 20)?;
    /// region.grow(4096)?;
    /// assert_eq!(region.len(), 4096);
    /// assert!(region.grow(2 << 20).is_err());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn grow(&mut self, new_len: usize) -> Result<()> {
        const OP: &str = "SharedRegion::grow";
        if !self.creator {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                OP,
                "only the process that created the region grows it",
            ));
        }
        if new_len < self.len {
            return Err(Error::new(ErrorKind::InvalidArgument, OP, "a shared region does not shrink")
                .sized(new_len)
                .with_limit("region length", self.len as u64));
        }
        if new_len > self.max_len {
            return Err(Error::new(ErrorKind::OutOfBounds, OP, "the length is larger than max_len")
                .sized(new_len)
                .with_limit("max_len", self.max_len as u64));
        }
        if new_len == self.len {
            return Ok(());
        }
        let (old, new) = (self.header + self.len, self.header + new_len);
        os::shared_extend(&self.memory, old as u64, new as u64)?;
        // SAFETY: the reservation is `total >= new` bytes; views cover `[0, old)`; the object is
        // now `new` long; only the reserved tail is mapped.
        unsafe { os::shared_remap(self.base.as_ptr(), self.total, old, new, &self.memory)? };
        self.len = new_len;
        self.len_cell().store(new_len as u64, Ordering::Release);
        Ok(())
    }

    /// Maps what another process grew: reads the length from the header, checks it, and maps
    /// the new part in place. Returns the length mapped now.
    ///
    /// # Errors
    /// `InvalidData` when the header's length is smaller than before, past the
    /// [`max_len`](Self::max_len) this process reserved, or past the object's real size (a
    /// peer writing garbage); the mapping stays as it was then. The OS error of mapping.
    ///
    /// ```
    /// let mut region = vmem::SharedRegion::create(10, 4096)?;
    /// assert_eq!(region.refresh()?, 10);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn refresh(&mut self) -> Result<usize> {
        const OP: &str = "SharedRegion::refresh";
        let published = self.len_cell().load(Ordering::Acquire);
        let new_len = usize::try_from(published)
            .ok()
            .filter(|&n| n <= self.max_len)
            .ok_or_else(|| invalid(OP, "the header's length is past the maximum (a peer wrote garbage?)"))?;
        if new_len < self.len {
            return Err(invalid(OP, "the header's length went down (a peer wrote garbage?)"));
        }
        if new_len == self.len {
            return Ok(new_len);
        }
        let new = self.header + new_len;
        if os::shared_len(&self.memory)?.is_some_and(|size| size < new as u64) {
            return Err(invalid(OP, "the header's length is past the object's size (a peer wrote garbage?)"));
        }
        // SAFETY: `new <= total`; views cover `[0, header + len)`; the object is at least
        // `new` long (checked just now; it cannot shrink on Linux, where it is sealed).
        unsafe { os::shared_remap(self.base.as_ptr(), self.total, self.header + self.len, new, &self.memory)? };
        self.len = new_len;
        Ok(new_len)
    }
}

#[cfg(unix_backend)]
impl SharedRegion {
    /// Maps a region from a descriptor of its object: inherited from the creator, received
    /// with [`receive_from`](Self::receive_from), or a duplicate. The region does not grow
    /// here; [`refresh`](Self::refresh) follows the creator.
    ///
    /// # Errors
    /// `InvalidData` when the object is not a `SharedRegion` (see [`refresh`](Self::refresh)
    /// for the checks), or (Linux) is one its sender could truncate under the mapping (not a
    /// `memfd` sealed against shrinking, as `create` makes); `OutOfAddressSpace` when its
    /// maximum cannot be reserved; the OS error.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// let region = vmem::SharedRegion::create(10, 4096)?;
    /// let other = vmem::SharedRegion::from_fd(region.as_fd().try_clone_to_owned().unwrap())?;
    /// assert_eq!(other.len(), 10);
    /// assert!(!other.is_creator());
    /// // A descriptor of something else is refused.
    /// let file = std::fs::File::open("/dev/null").unwrap();
    /// assert!(vmem::SharedRegion::from_fd(file.into()).is_err());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn from_fd(fd: std::os::fd::OwnedFd) -> Result<SharedRegion> {
        SharedRegion::from_memory(std::fs::File::from(fd))
    }

    /// Sends the region's descriptor over a Unix socket (`SCM_RIGHTS`); the process at the
    /// other end maps it with [`receive_from`](Self::receive_from).
    ///
    /// # Errors
    /// The OS error of `sendmsg` (`Disconnected` when the other end is closed).
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// let (a, b) = UnixStream::pair().unwrap();
    /// let mut region = vmem::SharedRegion::create(5, 4096)?;
    /// region.write_at(0, b"hello")?;
    /// region.send_to(&a)?;
    /// let received = vmem::SharedRegion::receive_from(&b)?;
    /// let mut buf = [0u8; 5];
    /// received.read_at(0, &mut buf)?;
    /// assert_eq!(&buf, b"hello");
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn send_to(&self, socket: &std::os::unix::net::UnixStream) -> Result<()> {
        use std::os::fd::AsFd;
        os::send_fd(socket.as_fd(), self.memory.as_fd())
    }

    /// Receives a region's descriptor sent with [`send_to`](Self::send_to) and maps it.
    ///
    /// # Errors
    /// `Disconnected` when the socket closes first; as [`from_fd`](Self::from_fd).
    pub fn receive_from(socket: &std::os::unix::net::UnixStream) -> Result<SharedRegion> {
        use std::os::fd::AsFd;
        SharedRegion::from_fd(os::recv_fd(socket.as_fd())?)
    }

    /// Whether the region's descriptor stays open in programs this process starts (`exec`).
    /// Off by default; turn it on before spawning a child that should inherit it (and pass
    /// it the descriptor's number, [`AsRawFd::as_raw_fd`](std::os::fd::AsRawFd::as_raw_fd)).
    ///
    /// # Errors
    /// The OS error of `fcntl`.
    ///
    /// ```
    /// let region = vmem::SharedRegion::create(0, 4096)?;
    /// region.set_inheritable(true)?;
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn set_inheritable(&self, inheritable: bool) -> Result<()> {
        use std::os::fd::AsFd;
        os::set_inheritable(self.memory.as_fd(), inheritable)
    }
}

#[cfg(unix_backend)]
impl std::os::fd::AsFd for SharedRegion {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.memory.as_fd()
    }
}

#[cfg(unix_backend)]
impl std::os::fd::AsRawFd for SharedRegion {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.memory)
    }
}

#[cfg(windows)]
impl SharedRegion {
    /// Maps a region from a handle of its section (inherited, or duplicated into this process
    /// with `DuplicateHandle`).
    ///
    /// # Errors
    /// As on Unix: `InvalidData` when it is not a `SharedRegion`; the OS error.
    pub fn from_handle(handle: std::os::windows::io::OwnedHandle) -> Result<SharedRegion> {
        SharedRegion::from_memory(os::SharedMemory::from(handle))
    }
}

#[cfg(windows)]
impl std::os::windows::io::AsHandle for SharedRegion {
    fn as_handle(&self) -> std::os::windows::io::BorrowedHandle<'_> {
        self.memory.as_handle()
    }
}

impl Drop for SharedRegion {
    fn drop(&mut self) {
        // SAFETY: the mapping came from `shared_map(_, total, _)` and covers `header + len`;
        // `&mut self` in drop means no slice of it is alive.
        let _ = unsafe { os::shared_unmap(self.base.as_ptr(), self.total, self.header + self.len) };
    }
}

impl core::fmt::Debug for SharedRegion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedRegion")
            .field("data", &self.as_ptr())
            .field("len", &self.len)
            .field("max_len", &self.max_len)
            .field("creator", &self.creator)
            .finish()
    }
}
