//! `MappedFile`: a memory-mapped file that grows and shrinks in place.
//!
//! Other mapping libraries map a fixed length: growing a file means a new mapping at a new
//! address, so every pointer into the old one dangles. `MappedFile` reserves `max_size`
//! bytes of address space up front (address space only: no memory, no commit charge), maps
//! the file into the front of that reservation, and maps each new stretch of the file right
//! behind the last one as it grows:
//!
//! ```text
//!   base                                                         base + max_size
//!   | file pages (MAP_SHARED)       | reserved, no access  ................. |
//!   |<----------- len ---------->|  |
//!                                ^ end of the file inside its last page: never exposed
//! ```
//!
//! The base address never changes for the life of the `MappedFile`.
//!
//! ## What is exposed, and what can fault
//!
//! Only `[0, len)` is ever exposed, where `len` is the file length this `MappedFile` set or
//! found. The bytes of the last page past the end of the file are mapped (they read zero)
//! but unreachable through the API, and no page wholly past the end of the file is ever
//! mapped, so **nothing this `MappedFile` does can read past the end of the file**: no
//! `SIGBUS` is reachable from safe code through this process's own use.
//!
//! What it cannot prevent is *another process* (or another handle in this process) changing
//! the file underneath:
//! - if something else **truncates** the file below `len`, an access to a page past the new
//!   end raises `SIGBUS` (Unix), which kills the process unless handled; Windows refuses to
//!   truncate a file while it is mapped, so it cannot happen there;
//! - if something else **writes** the file, the bytes change under any slice you hold.
//!
//! That is why the slice views, [`as_slice`](MappedFile::as_slice) and
//! [`as_mut_slice`](MappedFile::as_mut_slice), are `unsafe`: a `&[u8]` promises the compiler
//! that the bytes do not change while it lives, which only the caller can know (as with
//! memmap2's `Mmap::map`, which is `unsafe` for the same reason). The copying accessors
//! [`read_at`](MappedFile::read_at) and [`write_at`](MappedFile::write_at) are safe: they are
//! bounds-checked against `len` and never hand out a reference, so a concurrent writer can
//! only make them see a mix of old and new bytes; a concurrent truncation still raises
//! `SIGBUS` there, which ends the process but reads nothing out of bounds.
//!
//! A full disk: growing allocates the new blocks where the file system can (`fallocate` on
//! Linux and FreeBSD), so `ENOSPC` is an error from [`set_len`](MappedFile::set_len), not a
//! `SIGBUS` at a later write. Where it cannot (macOS, file systems without `fallocate`), and
//! on copy-on-write file systems (btrfs, ZFS, APFS: an overwrite needs new blocks too), a
//! write through the mapping into a full disk raises `SIGBUS`; no memory-mapping design can
//! avoid that.
//!
//! `RLIMIT_FSIZE`: extending a file past it makes the kernel send `SIGXFSZ`, which kills the
//! process by default (the call only fails with `EFBIG` when the signal is ignored). This
//! library never changes signal dispositions: it checks the limit before extending, and
//! reports a length past it as an `OutOfMemory` error naming `RLIMIT_FSIZE`.
//!
//! ## Cost model
//!
//! | call | cost |
//! |---|---|
//! | open / create | `open`, `fstat`, one `mmap` to reserve, one `mmap` of the file |
//! | [`set_len`](MappedFile::set_len) growing | `fallocate` (or `ftruncate`), plus one `mmap` when the new length reaches a new page |
//! | [`set_len`](MappedFile::set_len) shrinking | one `mmap` (the tail back to reserved) when pages are dropped, `ftruncate` |
//! | [`flush`](MappedFile::flush), [`flush_range`](MappedFile::flush_range) | `msync(MS_SYNC)`: waits for the disk |
//! | [`flush_async`](MappedFile::flush_async) | `msync(MS_ASYNC)`: starts the write-back |
//! | reads and writes | memory accesses; the first touch of a page is a page fault |
//!
//! Dropping a `MappedFile` unmaps it without flushing: what was written is in the OS's page
//! cache and reaches the file in time, but only a flush makes it durable against a crash of
//! the machine.
//!
//! Platforms: Unix maps with `mmap(MAP_SHARED | MAP_FIXED)` into the reservation. Windows
//! reserves a placeholder (`VirtualAlloc2` with `MEM_RESERVE_PLACEHOLDER`) and maps the file
//! into it with `MapViewOfFile3(MEM_REPLACE_PLACEHOLDER)` (Windows 10 1803 or later); each
//! change of length maps the view again at the same address.

use std::fs::File;
use std::path::Path;
use std::ptr::NonNull;

use crate::{os, Advice, Error, ErrorKind, Result};

/// The default maximum size: the structures' default reservation on 64-bit systems, 1 GiB on
/// 32-bit ones.
const DEFAULT_MAX_SIZE: usize = if usize::BITS >= 64 { crate::DEFAULT_RESERVE_BYTES } else { 1 << 30 };

/// How to open a [`MappedFile`]: see [`MappedFile::options`].
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("vmem-doc-options-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("data.bin");
/// let file = vmem::MappedFile::options().create(true).max_size(1 << 30).open(&path)?;
/// assert_eq!(file.max_size(), 1 << 30);
/// # drop(file); std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), vmem::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct MappedFileOptions {
    write: bool,
    create: bool,
    truncate: bool,
    max_size: Option<usize>,
}

impl MappedFileOptions {
    /// Map read-only (`false`) or read-write (`true`, the default). A read-only mapping
    /// refuses to change the length.
    pub fn write(mut self, write: bool) -> Self {
        self.write = write;
        self
    }

    /// Create the file if it does not exist (default `false`). Needs `write(true)`.
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Empty the file when opening it (default `false`). Needs `write(true)`.
    pub fn truncate(mut self, truncate: bool) -> Self {
        self.truncate = truncate;
        self
    }

    /// The most the file may grow to while mapped, in bytes: this much address space is
    /// reserved (rounded up to whole pages). Default
    /// [`DEFAULT_RESERVE_BYTES`](crate::DEFAULT_RESERVE_BYTES) on 64-bit systems (1 GiB on
    /// 32-bit ones), or the file's length if that is larger; where the address space refuses
    /// that much (`RLIMIT_AS`, valgrind), the default halves until a reservation succeeds,
    /// down to the file's length. [`MappedFile::max_size`] says what was reserved.
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.max_size = Some(max_size);
        self
    }

    /// Opens the file at `path` and maps it.
    ///
    /// # Errors
    /// The OS error of `open` (`Os`, or `PermissionDenied`); `InvalidArgument` for
    /// `create`/`truncate` without `write`, or a zero `max_size`; as [`map`](Self::map).
    pub fn open(&self, path: impl AsRef<Path>) -> Result<MappedFile> {
        const OP: &str = "MappedFile::open";
        if !self.write && (self.create || self.truncate) {
            return Err(Error::new(ErrorKind::InvalidArgument, OP, "create and truncate need write access"));
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(self.write)
            .create(self.create)
            .truncate(self.truncate)
            .open(path)
            .map_err(|e| io_error(OP, &e))?;
        self.map(file)
    }

    /// Maps an open file. It must have been opened for reading, and for writing too when
    /// these options say `write(true)`.
    ///
    /// # Errors
    /// `InvalidArgument` for a zero `max_size`; `OutOfBounds` when the file is longer than
    /// `max_size`; `OutOfAddressSpace` when `max_size` bytes cannot be reserved;
    /// `PermissionDenied` when the file's access does not allow the mapping; other OS
    /// errors as `Os`.
    pub fn map(&self, file: File) -> Result<MappedFile> {
        const OP: &str = "MappedFile::map";
        let file_len = os::file_len(&file)?;
        let len = usize::try_from(file_len).map_err(|_| {
            Error::new(ErrorKind::OutOfAddressSpace, OP, "the file is larger than the address space")
                .with_limit("usize::MAX", usize::MAX as u64)
        })?;
        let max_size = self.max_size.unwrap_or(DEFAULT_MAX_SIZE.max(len));
        if max_size == 0 {
            return Err(Error::new(ErrorKind::InvalidArgument, OP, "max_size is zero").sized(0));
        }
        if len > max_size {
            return Err(Error::new(ErrorKind::OutOfBounds, OP, "the file is longer than max_size")
                .sized(len)
                .with_limit("max_size", max_size as u64));
        }
        let reserved = crate::align_up(max_size, crate::page_size()).map_err(|_| {
            Error::new(ErrorKind::OutOfAddressSpace, OP, "max_size rounded up to whole pages overflows usize")
                .sized(max_size)
        })?;
        if reserved > isize::MAX as usize {
            return Err(Error::new(ErrorKind::OutOfAddressSpace, OP, "max_size is larger than any mapping can be")
                .sized(max_size)
                .with_limit("isize::MAX", isize::MAX as u64));
        }
        let (base, reserved) = Self::reserve(reserved, self.max_size.is_none(), len)?;
        let base = NonNull::new(base).ok_or(Error::new(ErrorKind::Os, OP, "the OS returned a null address"))?;
        let mut mapped = MappedFile { file, base, reserved, len: 0, writable: self.write };
        if len > 0 {
            // SAFETY: nothing is mapped yet; `len <= max_size <= reserved`; the file is `len`
            // bytes long. On failure `mapped` is dropped, which releases the reservation.
            unsafe { os::remap_file(base.as_ptr(), reserved, 0, len, &mapped.file, self.write)? };
            mapped.len = len;
        }
        Ok(mapped)
    }
}

impl MappedFileOptions {
    /// Reserves `size` bytes; with the default maximum (`fall_back`), halves the size while
    /// the address space refuses it (`RLIMIT_AS`, valgrind), down to the file's length.
    fn reserve(mut size: usize, fall_back: bool, len: usize) -> Result<(*mut u8, usize)> {
        let page = crate::page_size();
        let floor = crate::align_up(len.max(1), page).unwrap_or(size);
        loop {
            // SAFETY: `size` is a non-zero multiple of the page size.
            match unsafe { os::map_reserve(size) } {
                Ok(base) => return Ok((base, size)),
                Err(err) if fall_back && err.kind() == ErrorKind::OutOfAddressSpace && size / 2 >= floor => {
                    size = (size / 2).div_ceil(page) * page;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// The error of a failed `std::fs` call.
fn io_error(operation: &'static str, err: &std::io::Error) -> Error {
    let kind = match err.kind() {
        std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        std::io::ErrorKind::NotFound => ErrorKind::InvalidArgument,
        _ => ErrorKind::Os,
    };
    match err.raw_os_error() {
        Some(code) => Error::from_os(kind, operation, code),
        None => Error::new(kind, operation, "the file could not be opened"),
    }
}

/// A memory-mapped file that grows and shrinks in place: see the [module docs](self).
///
/// ```
/// use vmem::MappedFile;
///
/// # let dir = std::env::temp_dir().join(format!("vmem-doc-mapped-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("grow.bin");
/// let mut file = MappedFile::create(&path)?;          // empty, its default maximum size reserved
/// file.set_len(1 << 20)?;                             // the file is 1 MiB now, mapped
/// let base = file.as_ptr();
/// file.write_at(0, b"hello")?;
/// file.set_len(64 << 20)?;                            // 64 MiB: mapped in place
/// assert_eq!(file.as_ptr(), base);                    // same address
/// let mut word = [0u8; 5];
/// file.read_at(0, &mut word)?;
/// assert_eq!(&word, b"hello");
/// file.flush()?;                                      // durable on disk
/// drop(file);
/// assert_eq!(std::fs::metadata(&path).unwrap().len(), 64 << 20);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), vmem::Error>(())
/// ```
pub struct MappedFile {
    file: File,
    base: NonNull<u8>,
    /// Bytes of address space reserved: a non-zero page multiple.
    reserved: usize,
    /// The exposed length: `len <= reserved`; `[0, page_round(len))` is mapped to the file,
    /// which is at least `len` long (unless something else truncated it).
    len: usize,
    writable: bool,
}

// SAFETY: the mapping is owned by this value; moving it to another thread moves the
// ownership. It holds a raw pointer only because the memory is a mapping.
unsafe impl Send for MappedFile {}
// SAFETY: `&MappedFile` allows reading (`read_at`, `as_slice`) and system calls that do not
// change the mapping (`flush`, `advise`); everything that changes it or writes takes `&mut`.
unsafe impl Sync for MappedFile {}

impl MappedFile {
    /// Options to open a file: read-only or read-write, create, truncate, maximum size.
    ///
    /// ```
    /// let options = vmem::MappedFile::options().write(false);
    /// assert!(options.open("/no/such/file").is_err());
    /// ```
    pub fn options() -> MappedFileOptions {
        MappedFileOptions { write: true, create: false, truncate: false, max_size: None }
    }

    /// Creates the file at `path` (emptying it if it exists) and maps it read-write, with the
    /// default maximum size.
    ///
    /// # Errors
    /// As [`MappedFileOptions::open`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-create-{}", std::process::id()));
    /// let file = vmem::MappedFile::create(&path)?;
    /// assert_eq!(file.len(), 0);
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn create(path: impl AsRef<Path>) -> Result<MappedFile> {
        MappedFile::options().create(true).truncate(true).open(path)
    }

    /// Opens the existing file at `path` and maps it read-write, with the default maximum
    /// size (or the file's length, if larger).
    ///
    /// # Errors
    /// As [`MappedFileOptions::open`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-open-{}", std::process::id()));
    /// std::fs::write(&path, b"abc").unwrap();
    /// let file = vmem::MappedFile::open(&path)?;
    /// assert_eq!(file.len(), 3);
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<MappedFile> {
        MappedFile::options().open(path)
    }

    /// Opens the existing file at `path` and maps it read-only. Changing its length is
    /// refused.
    ///
    /// # Errors
    /// As [`MappedFileOptions::open`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-ro-{}", std::process::id()));
    /// std::fs::write(&path, b"abc").unwrap();
    /// let mut file = vmem::MappedFile::open_read_only(&path)?;
    /// assert_eq!(file.set_len(10).unwrap_err().kind(), vmem::ErrorKind::PermissionDenied);
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<MappedFile> {
        MappedFile::options().write(false).open(path)
    }

    /// The length of the file, in bytes: the exposed part of the mapping.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-len-{}", std::process::id()));
    /// let mut file = vmem::MappedFile::create(&path)?;
    /// file.set_len(5000)?;
    /// assert_eq!(file.len(), 5000);
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the file is empty.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-empty-{}", std::process::id()));
    /// assert!(vmem::MappedFile::create(&path)?.is_empty());
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most the file can grow to while mapped: the address space reserved, in bytes.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-max-{}", std::process::id()));
    /// let file = vmem::MappedFile::options().create(true).max_size(10_000).open(&path)?;
    /// assert_eq!(file.max_size() % vmem::page_size(), 0);
    /// assert!(file.max_size() >= 10_000);
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn max_size(&self) -> usize {
        self.reserved
    }

    /// Whether the mapping is writable (opened with `write(true)`).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-wr-{}", std::process::id()));
    /// assert!(vmem::MappedFile::create(&path)?.is_writable());
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The first byte of the mapping. It never changes while the `MappedFile` lives, however
    /// the file grows or shrinks. Only `[as_ptr(), as_ptr() + len())` may be accessed (and
    /// written only when [`is_writable`](Self::is_writable)).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-ptr-{}", std::process::id()));
    /// let mut file = vmem::MappedFile::create(&path)?;
    /// let base = file.as_ptr();
    /// file.set_len(1 << 20)?;
    /// assert_eq!(file.as_ptr(), base);
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// The underlying file.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-file-{}", std::process::id()));
    /// let file = vmem::MappedFile::create(&path)?;
    /// assert_eq!(file.file().metadata().unwrap().len(), 0);
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The file's bytes `[0, len)` as a slice.
    ///
    /// # Safety
    /// While the slice lives, nothing else may write the file's bytes `[0, len)` (another
    /// process, another mapping or handle of the same file) and nothing may truncate the file
    /// below `len`. A write would change memory behind a shared reference (undefined
    /// behaviour); a truncation makes reads of the lost pages raise `SIGBUS`.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-slice-{}", std::process::id()));
    /// std::fs::write(&path, b"abc").unwrap();
    /// let file = vmem::MappedFile::open(&path)?;
    /// // SAFETY: no other process uses this file.
    /// assert_eq!(unsafe { file.as_slice() }, b"abc");
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: `[base, base + len)` is mapped to the file, readable, and
        // inside the file (this value sets and tracks the length); `len <= reserved <=
        // isize::MAX`. The caller promises nothing else changes or truncates it meanwhile,
        // and `&self` keeps this value's own writers (`&mut self`) out.
        unsafe { core::slice::from_raw_parts(self.base.as_ptr(), self.len) }
    }

    /// The file's bytes `[0, len)` as a mutable slice.
    ///
    /// # Errors
    /// `PermissionDenied` for a read-only mapping.
    ///
    /// # Safety
    /// As [`as_slice`](Self::as_slice): while the slice lives nothing else may read or write
    /// the bytes through another mapping or handle, and nothing may truncate the file.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-mslice-{}", std::process::id()));
    /// let mut file = vmem::MappedFile::create(&path)?;
    /// file.set_len(3)?;
    /// // SAFETY: no other process uses this file.
    /// unsafe { file.as_mut_slice()? }.copy_from_slice(b"xyz");
    /// # drop(file);
    /// assert_eq!(std::fs::read(&path).unwrap(), b"xyz");
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub unsafe fn as_mut_slice(&mut self) -> Result<&mut [u8]> {
        self.check_writable("MappedFile::as_mut_slice")?;
        // SAFETY: as in `as_slice`, and the mapping is writable; `&mut self` makes this the
        // only reference this process's safe code holds.
        Ok(unsafe { core::slice::from_raw_parts_mut(self.base.as_ptr(), self.len) })
    }

    fn check_range(&self, operation: &'static str, offset: usize, count: usize) -> Result<()> {
        match offset.checked_add(count) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::new(ErrorKind::OutOfBounds, operation, "the range runs past the end of the file")
                .at(offset, count)
                .with_limit("file length", self.len as u64)),
        }
    }

    fn check_writable(&self, operation: &'static str) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::PermissionDenied, operation, "the file is mapped read-only"))
        }
    }

    /// Copies `buf.len()` bytes from the file at `offset` into `buf`.
    ///
    /// A concurrent write by another process can make it see a mix of old and new bytes; a
    /// concurrent truncation by another process raises `SIGBUS` (see the module docs).
    ///
    /// # Errors
    /// `OutOfBounds` when the range reaches past [`len`](Self::len) (the error's address is
    /// the offset).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-read-{}", std::process::id()));
    /// std::fs::write(&path, b"hello").unwrap();
    /// let file = vmem::MappedFile::open(&path)?;
    /// let mut buf = [0u8; 3];
    /// file.read_at(2, &mut buf)?;
    /// assert_eq!(&buf, b"llo");
    /// assert!(file.read_at(3, &mut buf).is_err());
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.check_range("MappedFile::read_at", offset, buf.len())?;
        // SAFETY: `[offset, offset + buf.len())` lies inside `[0, len)`, which is mapped and
        // readable; `buf` is a separate allocation of this process, so they do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(self.base.as_ptr().add(offset), buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies `data` into the file at `offset`. The file does not grow: use
    /// [`set_len`](Self::set_len) first.
    ///
    /// # Errors
    /// `OutOfBounds` when the range reaches past [`len`](Self::len); `PermissionDenied` for a
    /// read-only mapping.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-write-{}", std::process::id()));
    /// let mut file = vmem::MappedFile::create(&path)?;
    /// assert!(file.write_at(0, b"x").is_err());
    /// file.set_len(1)?;
    /// file.write_at(0, b"x")?;
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> Result<()> {
        self.check_writable("MappedFile::write_at")?;
        self.check_range("MappedFile::write_at", offset, data.len())?;
        // SAFETY: the range lies inside `[0, len)`, which is mapped read-write; `data` is not
        // inside our mapping's exposed range while we hold `&mut self` (safe code cannot
        // borrow it), so the copies do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.base.as_ptr().add(offset), data.len()) };
        Ok(())
    }

    /// Sets the file's length to `new_len` and the mapping with it, in place: the base
    /// address stays the same. Growing extends the file (new bytes read zero, their blocks
    /// allocated where the file system can) and maps the new pages right behind the old
    /// ones; shrinking unmaps the pages past the new end (back to reserved address space)
    /// and then truncates the file.
    ///
    /// On failure nothing changed: the file and the mapping keep their length and contents.
    /// (One exception: if the truncation after a shrink fails, the mapping is already
    /// shorter; `len` is then the new length and the file may still be longer.)
    ///
    /// # Errors
    /// `PermissionDenied` for a read-only mapping; `OutOfBounds` past
    /// [`max_size`](Self::max_size); `OutOfMemory` for a full disk (`ENOSPC`, `EDQUOT`) or a
    /// length past `RLIMIT_FSIZE`; other OS errors as `Os`.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-setlen-{}", std::process::id()));
    /// let mut file = vmem::MappedFile::options().create(true).max_size(1 << 20).open(&path)?;
    /// file.set_len(100)?;
    /// file.set_len(10)?;
    /// assert_eq!(file.len(), 10);
    /// assert_eq!(file.set_len(2 << 20).unwrap_err().kind(), vmem::ErrorKind::OutOfBounds);
    /// assert_eq!(file.len(), 10);
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn set_len(&mut self, new_len: usize) -> Result<()> {
        const OP: &str = "MappedFile::set_len";
        self.check_writable(OP)?;
        if new_len > self.reserved {
            return Err(Error::new(ErrorKind::OutOfBounds, OP, "the length is larger than max_size")
                .sized(new_len)
                .with_limit("max_size", self.reserved as u64));
        }
        if new_len > self.len {
            os::file_extend(&self.file, self.len as u64, new_len as u64)?;
            // SAFETY: the reservation came from `map_reserve(reserved)` and `new_len <=
            // reserved`; our views cover `[0, len)` of this file; the file is now `new_len`
            // long; `&mut self` guarantees no slice of this value is alive while views move.
            let remapped =
                unsafe { os::remap_file(self.base.as_ptr(), self.reserved, self.len, new_len, &self.file, true) };
            if let Err(err) = remapped {
                let _ = os::file_set_len(&self.file, self.len as u64);
                return Err(err);
            }
        } else if new_len < self.len {
            // SAFETY: as above; the pages past `page_round(new_len)` are unmapped, and `&mut
            // self` guarantees no slice of this value points into them.
            unsafe { os::remap_file(self.base.as_ptr(), self.reserved, self.len, new_len, &self.file, true)? };
            self.len = new_len;
            os::file_set_len(&self.file, new_len as u64)?;
        }
        self.len = new_len;
        Ok(())
    }

    /// Grows the file to `new_len` bytes in place: [`set_len`](Self::set_len), refusing a
    /// smaller length.
    ///
    /// # Errors
    /// `InvalidArgument` when `new_len` is below [`len`](Self::len); as `set_len`.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-grow-{}", std::process::id()));
    /// let mut file = vmem::MappedFile::create(&path)?;
    /// file.grow(4096)?;
    /// assert!(file.grow(10).is_err());
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn grow(&mut self, new_len: usize) -> Result<()> {
        if new_len < self.len {
            return Err(Error::new(ErrorKind::InvalidArgument, "MappedFile::grow", "the new length is smaller")
                .sized(new_len)
                .with_limit("file length", self.len as u64));
        }
        self.set_len(new_len)
    }

    /// Writes every modified page back to the file and waits until it is on disk
    /// (`msync(MS_SYNC)`; `FlushViewOfFile` and `FlushFileBuffers` on Windows). Nothing to do
    /// for an empty file.
    ///
    /// # Errors
    /// The OS error (`OutOfMemory` for a full disk found at write-back).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-flush-{}", std::process::id()));
    /// let mut file = vmem::MappedFile::create(&path)?;
    /// file.set_len(10)?;
    /// file.write_at(0, b"durable")?;
    /// file.flush()?;
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn flush(&self) -> Result<()> {
        self.flush_range(0, self.len)
    }

    /// Starts writing every modified page back and returns without waiting
    /// (`msync(MS_ASYNC)`; `FlushViewOfFile` on Windows).
    ///
    /// # Errors
    /// The OS error.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-flusha-{}", std::process::id()));
    /// let mut file = vmem::MappedFile::create(&path)?;
    /// file.set_len(10)?;
    /// file.flush_async()?;
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn flush_async(&self) -> Result<()> {
        self.flush_pages("MappedFile::flush_async", 0, self.len, false)
    }

    /// Writes the modified pages holding the bytes `[offset, offset + count)` back to the file
    /// and waits for them. A zero `count` does nothing.
    ///
    /// # Errors
    /// `OutOfBounds` when the range reaches past [`len`](Self::len); the OS error.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-flushr-{}", std::process::id()));
    /// let mut file = vmem::MappedFile::create(&path)?;
    /// file.set_len(3 << 20)?;
    /// file.write_at(1 << 20, b"x")?;
    /// file.flush_range(1 << 20, 1)?;
    /// assert!(file.flush_range(3 << 20, 1).is_err());
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn flush_range(&self, offset: usize, count: usize) -> Result<()> {
        self.flush_pages("MappedFile::flush_range", offset, count, true)
    }

    fn flush_pages(&self, operation: &'static str, offset: usize, count: usize, wait: bool) -> Result<()> {
        self.check_range(operation, offset, count)?;
        if count == 0 {
            return Ok(());
        }
        let page = crate::page_size();
        let start = offset / page * page;
        // No overflow: `offset + count <= len <= reserved`, a page multiple.
        let end = (offset + count).div_ceil(page) * page;
        // SAFETY: `[start, end)` is page-aligned and lies inside `[0, page_round(len))`, our
        // views.
        unsafe { os::flush_file(self.base.as_ptr().add(start), end - start, &self.file, wait) }
    }

    /// Faults the pages holding the bytes `[offset, offset + count)` in now, writable, so
    /// that writes to them take no page fault: Linux asks with one
    /// `madvise(MADV_POPULATE_WRITE)` (5.14 and later); elsewhere, and before that, one byte of
    /// each page is rewritten with its own value. The pages become dirty (they are written
    /// back even if unchanged). A zero `count` does nothing.
    ///
    /// # Errors
    /// `PermissionDenied` for a read-only mapping; `OutOfBounds` past [`len`](Self::len); the
    /// OS error (`OutOfMemory` when the pages cannot be allocated).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-prefault-{}", std::process::id()));
    /// let mut file = vmem::MappedFile::create(&path)?;
    /// file.set_len(1 << 20)?;
    /// file.prefault(0, 1 << 20)?;     // one system call instead of 256 page faults
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn prefault(&mut self, offset: usize, count: usize) -> Result<()> {
        self.check_writable("MappedFile::prefault")?;
        self.check_range("MappedFile::prefault", offset, count)?;
        if count == 0 {
            return Ok(());
        }
        let page = crate::page_size();
        let start = offset / page * page;
        // No overflow, as in `flush_pages`.
        let end = (offset + count).div_ceil(page) * page;
        // SAFETY: the page range lies inside our writable views of the file, which is at least
        // `len` long (so no page past its end); populating or rewriting a byte with its own
        // value changes no data, and `&mut self` keeps this process's slices away.
        unsafe { os::prefault(self.base.as_ptr().add(start), end - start) }
    }

    /// Tells the OS how the bytes `[offset, offset + count)` will be used. A zero `count` does
    /// nothing.
    ///
    /// # Errors
    /// `OutOfBounds` when the range reaches past [`len`](Self::len); the OS error.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-advise-{}", std::process::id()));
    /// let mut file = vmem::MappedFile::create(&path)?;
    /// file.set_len(1 << 20)?;
    /// file.advise(0, 1 << 20, vmem::Advice::Sequential)?;
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn advise(&self, offset: usize, count: usize, advice: Advice) -> Result<()> {
        self.check_range("MappedFile::advise", offset, count)?;
        if count == 0 {
            return Ok(());
        }
        let page = crate::page_size();
        let start = offset / page * page;
        // No overflow, as in `flush_pages`.
        let end = (offset + count).div_ceil(page) * page;
        if advice == Advice::Free {
            // `MADV_FREE` is for private memory: on a shared view it would do nothing or drop
            // data that belongs to the file.
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "MappedFile::advise",
                "Advice::Free is for private memory, not file views",
            )
            .at(self.base.as_ptr() as usize + start, end - start));
        }
        // SAFETY: the page range lies inside our views; every advice but `Free` (refused above)
        // leaves the data alone.
        unsafe { os::advise(self.base.as_ptr().add(start), end - start, advice) }
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        // SAFETY: the reservation came from `map_reserve(reserved)`; `&mut self` in drop means
        // no slice of it is alive.
        let _ = unsafe { os::map_release(self.base.as_ptr(), self.reserved, self.len) };
    }
}

impl core::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MappedFile")
            .field("base", &self.base)
            .field("len", &self.len)
            .field("max_size", &self.reserved)
            .field("writable", &self.writable)
            .finish()
    }
}
