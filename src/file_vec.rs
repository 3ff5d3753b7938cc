//! `FileVec<T>`: a persistent, append-mostly vector of plain-old-data elements in a file.
//!
//! The elements live in a [`MappedFile`], so pushing is a store into mapped memory (no
//! system call until the file must grow), reading is a slice, and the addresses never move:
//! the file grows in place inside its reservation. `T` must be [`bytemuck::Pod`]: any bit
//! pattern read back from the file is a valid `T`, and `T` has no padding, pointers or
//! `Drop`.
//!
//! ## File format
//!
//! ```text
//!   offset 0     header slot A (64 bytes)   magic "VMEMFVEC", version, data offset,
//!   offset 64    header slot B (64 bytes)   element size and alignment, generation,
//!                                           length, FNV-1a checksum of the slot
//!   offset 128   elements (or the element alignment, if larger), capacity grows by doubling
//! ```
//!
//! Numbers are in the machine's byte order (so are the elements): a file moved to a machine
//! of the other byte order reads as `InvalidData`.
//!
//! ## What survives a crash
//!
//! [`sync`](FileVec::sync) does, in this order: (1) `msync` of the elements changed since the
//! last sync and waits for them; (2) writes the new length into the header slot *not* in use,
//! with a generation one higher and a checksum; (3) `msync` of the header page. Opening picks
//! the valid slot (magic and checksum right) with the higher generation. Hence:
//!
//! - **After the process is killed** (at any instruction, `SIGKILL` included), the file
//!   reopens with the length of the last [`sync`](FileVec::sync) that returned, or of one
//!   that was in progress, and every element below that length is the value pushed there.
//!   Elements pushed after the last sync are lost (their bytes are in the file, past the
//!   length). Never garbage: a slot written halfway fails its checksum and the other slot,
//!   the previous length, is used.
//! - **After the machine crashes** (power loss) the same holds for what reached the disk: an
//!   element is on disk before any header that counts it (step 1 completes before step 2
//!   starts), and the two slots lie in one 512-byte sector, which disks write whole. On
//!   macOS `msync` does not flush the drive's own cache (`F_FULLFSYNC` would), so a power
//!   loss can lose what the drive held.
//! - [`truncate`](FileVec::truncate) below the synced length writes and syncs the header at
//!   once, so an element removed and then overwritten by a new push is never counted by a
//!   header written before.
//! - Elements changed in place ([`as_mut_slice`](FileVec::as_mut_slice), `v[i] = x`) below
//!   the synced length are not atomic: after a crash each may hold its old or its new value
//!   (after a power loss, a mix at sector granularity).
//! - A file whose creation was interrupted (killed before `create` returned), or, after a
//!   machine crash, one never synced since it was created, reads as `InvalidData`, not as an
//!   empty vector (`create` does not wait for the disk; the first `sync` does).
//!
//! A `FileVec` holds an exclusive advisory lock on its file (`flock`; `LockFileEx` on
//! Windows), so a second `FileVec` on the same file, in this or another process, is refused.
//! Like every memory mapping, it cannot defend against a program that ignores the lock and
//! writes or truncates the file meanwhile: that changes elements under a slice or raises
//! `SIGBUS` (see [`MappedFile`]). Do not point two programs at one file that way.
//!
//! ## Cost model
//!
//! | call | cost |
//! |---|---|
//! | [`push`](FileVec::push), [`extend_from_slice`](FileVec::extend_from_slice) | a copy into mapped memory; every 256 KiB one `madvise(MADV_POPULATE_WRITE)` faults the next stretch in; when full, the file doubles (`fallocate` + one `mmap`) |
//! | [`as_slice`](FileVec::as_slice), indexing | none: the slice is the mapping |
//! | [`sync`](FileVec::sync) | two `msync(MS_SYNC)`: waits for the disk twice |
//! | [`truncate`](FileVec::truncate) below the synced length | one header write and `msync` |
//! | open | `open`, `flock`, `fstat`, two `mmap`s, reading the header |

use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use std::path::Path;

use bytemuck::Pod;

use crate::{os, Error, ErrorKind, MappedFile, Result};

const MAGIC: [u8; 8] = *b"VMEMFVEC";
const VERSION: u32 = 1;
const SLOT_SIZE: usize = 64;
/// Where the elements start unless their alignment asks for more.
const HEADER_SIZE: usize = 2 * SLOT_SIZE;
/// The smallest capacity the file grows to, in bytes of elements.
const MIN_CAPACITY_BYTES: usize = 4096;
/// How far ahead of the last element `push` faults the file in, in bytes.
const PREFAULT_BYTES: usize = 1 << 20;

/// One header slot, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    data_offset: u32,
    element_size: u64,
    element_align: u64,
    generation: u64,
    len: u64,
}

impl Slot {
    fn encode(&self) -> [u8; SLOT_SIZE] {
        let mut bytes = [0u8; SLOT_SIZE];
        bytes[0..8].copy_from_slice(&MAGIC);
        bytes[8..12].copy_from_slice(&VERSION.to_ne_bytes());
        bytes[12..16].copy_from_slice(&self.data_offset.to_ne_bytes());
        bytes[16..24].copy_from_slice(&self.element_size.to_ne_bytes());
        bytes[24..32].copy_from_slice(&self.element_align.to_ne_bytes());
        bytes[32..40].copy_from_slice(&self.generation.to_ne_bytes());
        bytes[40..48].copy_from_slice(&self.len.to_ne_bytes());
        let checksum = fnv1a(&bytes[..56]);
        bytes[56..64].copy_from_slice(&checksum.to_ne_bytes());
        bytes
    }

    /// The slot in `bytes`, if its magic and checksum are right (its version is checked by
    /// the caller, to say what is wrong).
    fn decode(bytes: &[u8; SLOT_SIZE]) -> Option<(u32, Slot)> {
        let u32_at = |at: usize| u32::from_ne_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let u64_at = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            u64::from_ne_bytes(word)
        };
        if bytes[0..8] != MAGIC || u64_at(56) != fnv1a(&bytes[..56]) {
            return None;
        }
        let slot = Slot {
            data_offset: u32_at(12),
            element_size: u64_at(16),
            element_align: u64_at(24),
            generation: u64_at(32),
            len: u64_at(40),
        };
        Some((u32_at(8), slot))
    }
}

/// 64-bit FNV-1a: enough to tell a slot written halfway from a whole one.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// How to open a [`FileVec`] of `T`: see [`FileVec::options`].
#[derive(Clone, Debug)]
pub struct FileVecOptions<T> {
    create: bool,
    truncate: bool,
    max_bytes: Option<usize>,
    _elements: PhantomData<fn() -> T>,
}

impl<T: Pod> FileVecOptions<T> {
    fn new() -> Self {
        FileVecOptions { create: false, truncate: false, max_bytes: None, _elements: PhantomData }
    }

    /// Create a new, empty vector if the file does not exist (default `false`).
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Start a new, empty vector even if the file exists, discarding its contents (default
    /// `false`).
    pub fn truncate(mut self, truncate: bool) -> Self {
        self.truncate = truncate;
        self
    }

    /// The most bytes the file may grow to (header included): this much address space is
    /// reserved. Default [`DEFAULT_RESERVE_BYTES`](crate::DEFAULT_RESERVE_BYTES) on 64-bit
    /// systems (1 GiB on 32-bit ones), or the file's length if larger.
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = Some(max_bytes);
        self
    }

    /// Opens (or creates) the vector in the file at `path`.
    ///
    /// # Errors
    /// `InvalidArgument` for a zero-sized `T` or one aligned to more than a page;
    /// `PermissionDenied` when another `FileVec` holds the file; `InvalidData` when the file
    /// is not a `FileVec` of elements of `T`'s size and alignment (or its header is corrupt,
    /// or the length it records does not fit the file); the errors of
    /// [`MappedFile`] otherwise.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvopt-{}", std::process::id()));
    /// let v = vmem::FileVec::<u32>::options().create(true).max_bytes(1 << 20).open(&path)?;
    /// assert!(v.is_empty());
    /// # drop(v); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn open(&self, path: impl AsRef<Path>) -> Result<FileVec<T>> {
        const OP: &str = "FileVec::open";
        let data_offset = FileVec::<T>::data_offset()?;
        let path = path.as_ref();
        let mut options = MappedFile::options().create(self.create);
        if let Some(max) = self.max_bytes {
            options = options.max_size(max);
        }
        // Open without truncating first: the lock must be ours before anything is changed.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(self.create)
            .open(path)
            .map_err(|e| open_error(OP, &e))?;
        os::file_lock(&file)?;
        let len = os::file_len(&file)?;
        if self.truncate || (self.create && len == 0) {
            os::file_set_len(&file, 0)?;
            let mut map = options.map(file)?;
            FileVec::<T>::initialize(&mut map, data_offset)?;
            return Ok(FileVec::from_parts(map, data_offset, 0, 0, 0));
        }
        let map = options.map(file)?;
        FileVec::load(map, data_offset)
    }
}

fn open_error(operation: &'static str, err: &std::io::Error) -> Error {
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

/// A persistent vector of plain-old-data elements in a file: see the [module docs](self).
///
/// ```
/// use vmem::FileVec;
///
/// # let dir = std::env::temp_dir().join(format!("vmem-doc-filevec-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("points.vec");
/// let mut v = FileVec::<[f32; 2]>::create(&path)?;
/// v.push([1.0, 2.0])?;
/// v.extend_from_slice(&[[3.0, 4.0], [5.0, 6.0]])?;
/// v.sync()?;                                      // these three survive any crash now
/// v.push([7.0, 8.0])?;                            // not synced: lost if we crash here
/// drop(v);                                        // dropping does not sync
///
/// let v = FileVec::<[f32; 2]>::open(&path)?;
/// assert_eq!(v.as_slice(), &[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
/// # drop(v); std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), vmem::Error>(())
/// ```
pub struct FileVec<T: Pod> {
    map: MappedFile,
    /// Where the elements start in the file.
    data_offset: usize,
    len: usize,
    /// Elements that fit in the file as it is.
    capacity: usize,
    /// Elements below this index have their pages faulted in (`<= capacity`): `push` takes
    /// its slow path (grow, fault the next stretch in) when it reaches it.
    prefaulted: usize,
    /// The length the active header slot records.
    synced_len: usize,
    /// Elements below this index are unchanged since the last sync.
    clean_below: usize,
    /// The generation of the active slot; the active slot is `generation % 2`.
    generation: u64,
    _elements: PhantomData<T>,
}

impl<T: Pod> FileVec<T> {
    /// Options: create, truncate, maximum size.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvo-{}", std::process::id()));
    /// let v = vmem::FileVec::<u8>::options().create(true).open(&path)?;
    /// # drop(v); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn options() -> FileVecOptions<T> {
        FileVecOptions::new()
    }

    /// Creates an empty vector in the file at `path`, replacing what the file held.
    ///
    /// # Errors
    /// As [`FileVecOptions::open`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvc-{}", std::process::id()));
    /// let v = vmem::FileVec::<u64>::create(&path)?;
    /// assert_eq!(v.len(), 0);
    /// # drop(v); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn create(path: impl AsRef<Path>) -> Result<FileVec<T>> {
        FileVecOptions::new().create(true).truncate(true).open(path)
    }

    /// Opens the vector in the existing file at `path`, with the length of its last sync.
    ///
    /// # Errors
    /// As [`FileVecOptions::open`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvopen-{}", std::process::id()));
    /// let mut v = vmem::FileVec::<u16>::create(&path)?;
    /// v.push(7)?;
    /// v.sync()?;
    /// drop(v);
    /// assert_eq!(vmem::FileVec::<u16>::open(&path)?.as_slice(), &[7]);
    /// // Another element type is refused.
    /// assert_eq!(vmem::FileVec::<u32>::open(&path).unwrap_err().kind(), vmem::ErrorKind::InvalidData);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<FileVec<T>> {
        FileVecOptions::new().open(path)
    }

    /// Where elements of `T` start in the file.
    fn data_offset() -> Result<usize> {
        const OP: &str = "FileVec::open";
        if size_of::<T>() == 0 {
            return Err(Error::new(ErrorKind::InvalidArgument, OP, "zero-sized elements have nothing to store"));
        }
        if align_of::<T>() > crate::page_size() {
            return Err(Error::new(ErrorKind::InvalidArgument, OP, "the element type is aligned to more than a page")
                .with_limit("page size", crate::page_size() as u64));
        }
        Ok(HEADER_SIZE.max(align_of::<T>()))
    }

    fn from_parts(map: MappedFile, data_offset: usize, len: usize, capacity: usize, generation: u64) -> FileVec<T> {
        FileVec {
            map,
            data_offset,
            len,
            capacity,
            prefaulted: len,
            synced_len: len,
            clean_below: len,
            generation,
            _elements: PhantomData,
        }
    }

    fn slot(data_offset: usize, generation: u64, len: usize) -> Slot {
        Slot {
            data_offset: data_offset as u32,
            element_size: size_of::<T>() as u64,
            element_align: align_of::<T>() as u64,
            generation,
            len: len as u64,
        }
    }

    /// Writes the first header (generation 0 in slot A, an invalid slot B) into an empty file.
    /// It is not synced: the first [`sync`](Self::sync) makes it durable with the elements
    /// (a machine crash before that leaves a file that reads as `InvalidData`).
    fn initialize(map: &mut MappedFile, data_offset: usize) -> Result<()> {
        map.set_len(data_offset)?;
        map.write_at(0, &Self::slot(data_offset, 0, 0).encode())
    }

    /// Reads the header of an existing file.
    fn load(map: MappedFile, data_offset: usize) -> Result<FileVec<T>> {
        const OP: &str = "FileVec::open";
        let invalid = |detail| Error::new(ErrorKind::InvalidData, OP, detail);
        if map.len() < HEADER_SIZE {
            return Err(invalid("the file is too short to be a FileVec (or its creation was interrupted)"));
        }
        let mut best: Option<Slot> = None;
        for index in 0..2 {
            let mut bytes = [0u8; SLOT_SIZE];
            map.read_at(index * SLOT_SIZE, &mut bytes)?;
            let Some((version, slot)) = Slot::decode(&bytes) else { continue };
            if version != VERSION {
                return Err(invalid("the file is a FileVec of another version or byte order"));
            }
            // The generation decides the slot it belongs in; one found in the wrong place
            // was not written by this format.
            if (slot.generation % 2) as usize != index {
                continue;
            }
            if best.is_none_or(|b| slot.generation > b.generation) {
                best = Some(slot);
            }
        }
        let slot = best.ok_or_else(|| {
            invalid("the file is not a FileVec (or its header is corrupt, or its creation was interrupted)")
        })?;
        if slot.element_size != size_of::<T>() as u64 || slot.element_align != align_of::<T>() as u64 {
            return Err(invalid("the file holds elements of another size or alignment"));
        }
        if slot.data_offset as usize != data_offset {
            return Err(invalid("the file's elements start at another offset than this type needs"));
        }
        let room =
            map.len().checked_sub(data_offset).ok_or_else(|| invalid("the file is shorter than its header says"))?;
        let capacity = room / size_of::<T>();
        let len = usize::try_from(slot.len)
            .ok()
            .filter(|&len| len <= capacity)
            .ok_or_else(|| invalid("the length in the header does not fit in the file (was it truncated?)"))?;
        Ok(FileVec::from_parts(map, data_offset, len, capacity, slot.generation))
    }

    /// The number of elements.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvlen-{}", std::process::id()));
    /// let mut v = vmem::FileVec::<u8>::create(&path)?;
    /// v.extend_from_slice(b"abc")?;
    /// assert_eq!(v.len(), 3);
    /// # drop(v); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvempty-{}", std::process::id()));
    /// assert!(vmem::FileVec::<u8>::create(&path)?.is_empty());
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of elements the file holds room for now (it grows by doubling).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvcap-{}", std::process::id()));
    /// let mut v = vmem::FileVec::<u64>::create(&path)?;
    /// v.push(1)?;
    /// assert!(v.capacity() >= 1);
    /// # drop(v); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The length recorded by the last [`sync`](Self::sync) (or truncation): what a reopen
    /// after a crash now would find.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvsl-{}", std::process::id()));
    /// let mut v = vmem::FileVec::<u8>::create(&path)?;
    /// v.push(1)?;
    /// assert_eq!(v.synced_len(), 0);
    /// v.sync()?;
    /// assert_eq!(v.synced_len(), 1);
    /// # drop(v); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn synced_len(&self) -> usize {
        self.synced_len
    }

    /// The most elements the vector can hold: its reserved address space.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvmax-{}", std::process::id()));
    /// let v = vmem::FileVec::<u64>::options().create(true).max_bytes(1 << 20).open(&path)?;
    /// assert!(v.max_len() < (1 << 20) / 8);
    /// # drop(v); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn max_len(&self) -> usize {
        (self.map.max_size() - self.data_offset) / size_of::<T>()
    }

    fn data(&self) -> *mut T {
        // SAFETY: `data_offset <= map.len()` (checked at open, kept by growth), so the pointer
        // stays inside the reservation; it is aligned to `T` because the mapping is
        // page-aligned and `data_offset` is a multiple of `align_of::<T>()` (both are powers
        // of two and `data_offset >= align_of::<T>()`).
        unsafe { self.map.as_ptr().add(self.data_offset).cast() }
    }

    /// The elements, as one slice. It stays at the same address as the vector grows.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvas-{}", std::process::id()));
    /// let mut v = vmem::FileVec::<i32>::create(&path)?;
    /// v.extend_from_slice(&[1, 2, 3])?;
    /// assert_eq!(v.as_slice().iter().sum::<i32>(), 6);
    /// # drop(v); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: `[data, data + len)` lies in the mapped file (`len <= capacity`), is aligned
        // (see `data`), and every bit pattern is a valid `T` (`Pod`). The file is locked
        // against other FileVecs; `&self` keeps this one's writers out (see the module docs
        // for programs that ignore the lock).
        unsafe { core::slice::from_raw_parts(self.data(), self.len) }
    }

    /// The elements, as one mutable slice. Changes below [`synced_len`](Self::synced_len)
    /// are made in place and are not atomic across a crash (see the module docs).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvmut-{}", std::process::id()));
    /// let mut v = vmem::FileVec::<u8>::create(&path)?;
    /// v.extend_from_slice(b"abc")?;
    /// v.as_mut_slice()[0] = b'x';
    /// assert_eq!(v.as_slice(), b"xbc");
    /// # drop(v); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.clean_below = 0;
        // SAFETY: as in `as_slice`; the mapping is writable (a FileVec is always opened
        // read-write), and `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.data(), self.len) }
    }

    /// Makes room for `additional` more elements, doubling the file as needed.
    fn reserve(&mut self, additional: usize) -> Result<()> {
        const OP: &str = "FileVec::push";
        let needed = self.len.checked_add(additional).filter(|&n| n <= self.max_len()).ok_or_else(|| {
            Error::new(ErrorKind::OutOfMemory, OP, "the vector would grow past its maximum size")
                .sized(additional.saturating_mul(size_of::<T>()))
                .with_limit("max_bytes", self.map.max_size() as u64)
        })?;
        if needed <= self.capacity {
            return Ok(());
        }
        let min = MIN_CAPACITY_BYTES.div_ceil(size_of::<T>());
        let capacity = needed.max(self.capacity.saturating_mul(2)).max(min).min(self.max_len());
        // No overflow: `capacity <= max_len`, so the bytes fit in the reservation.
        self.map.set_len(self.data_offset + capacity * size_of::<T>())?;
        self.capacity = capacity;
        Ok(())
    }

    /// Appends `value`. A store into mapped memory unless the file must grow.
    ///
    /// # Errors
    /// `OutOfMemory` past the maximum size, on a full disk or past `RLIMIT_FSIZE`; the vector
    /// is unchanged then.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvpush-{}", std::process::id()));
    /// let mut v = vmem::FileVec::<u64>::create(&path)?;
    /// for i in 0..100_000 {
    ///     v.push(i)?;
    /// }
    /// assert_eq!(v[99_999], 99_999);
    /// # drop(v); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn push(&mut self, value: T) -> Result<()> {
        if self.len == self.prefaulted {
            self.push_slow()?;
        }
        // SAFETY: `len < prefaulted <= capacity`, so the slot lies in the mapped, writable
        // file; aligned.
        unsafe { self.data().add(self.len).write(value) };
        self.len += 1;
        Ok(())
    }

    /// Makes room for one more element and faults the next `PREFAULT_BYTES` of the file in
    /// with one system call, instead of a page fault per page as pushes reach them.
    #[cold]
    fn push_slow(&mut self) -> Result<()> {
        if self.len == self.capacity {
            self.reserve(1)?;
        }
        let size = size_of::<T>();
        let end = (self.len + PREFAULT_BYTES.div_ceil(size)).min(self.capacity);
        // A failure to fault in is not an error of the push: the pages fault on first touch.
        let _ = self.map.prefault(self.data_offset + self.len * size, (end - self.len) * size);
        self.prefaulted = end;
        Ok(())
    }

    /// Appends every element of `values`.
    ///
    /// # Errors
    /// As [`push`](Self::push); nothing is appended then.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvext-{}", std::process::id()));
    /// let mut v = vmem::FileVec::<u8>::create(&path)?;
    /// v.extend_from_slice(&[0u8; 10_000])?;
    /// assert_eq!(v.len(), 10_000);
    /// # drop(v); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn extend_from_slice(&mut self, values: &[T]) -> Result<()> {
        self.reserve(values.len())?;
        let size = size_of::<T>();
        if self.len + values.len() > self.prefaulted {
            // Fault in what the copy will write, in one system call.
            let from = self.prefaulted.max(self.len);
            let _ = self.map.prefault(self.data_offset + from * size, (self.len + values.len() - from) * size);
            self.prefaulted = self.len + values.len();
        }
        // SAFETY: room for `values.len()` more was made; `values` cannot point into our
        // unused capacity (safe code cannot borrow it), so the copies do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(values.as_ptr(), self.data().add(self.len), values.len()) };
        self.len += values.len();
        Ok(())
    }

    /// Removes and returns the last element.
    ///
    /// # Errors
    /// As [`truncate`](Self::truncate) (below the synced length it writes the header).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvpop-{}", std::process::id()));
    /// let mut v = vmem::FileVec::<u8>::create(&path)?;
    /// v.push(5)?;
    /// assert_eq!(v.pop()?, Some(5));
    /// assert_eq!(v.pop()?, None);
    /// # drop(v); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn pop(&mut self) -> Result<Option<T>> {
        let Some(&last) = self.as_slice().last() else { return Ok(None) };
        self.truncate(self.len - 1)?;
        Ok(Some(last))
    }

    /// Shortens the vector to `len` elements (nothing happens if it is not longer). The file
    /// keeps its size. Below the synced length the new length is written to the header and
    /// synced at once, so a crash never brings removed elements back.
    ///
    /// # Errors
    /// The OS error of writing the header back; the vector then still has its old length.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvtr-{}", std::process::id()));
    /// let mut v = vmem::FileVec::<u8>::create(&path)?;
    /// v.extend_from_slice(b"hello")?;
    /// v.sync()?;
    /// v.truncate(2)?;
    /// drop(v);
    /// assert_eq!(vmem::FileVec::<u8>::open(&path)?.as_slice(), b"he");
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len >= self.len {
            return Ok(());
        }
        if len < self.synced_len {
            self.write_header(len)?;
        }
        self.len = len;
        self.clean_below = self.clean_below.min(len);
        Ok(())
    }

    /// Removes every element: [`truncate`](Self::truncate)`(0)`.
    ///
    /// # Errors
    /// As `truncate`.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvclr-{}", std::process::id()));
    /// let mut v = vmem::FileVec::<u8>::create(&path)?;
    /// v.push(1)?;
    /// v.clear()?;
    /// assert!(v.is_empty());
    /// # drop(v); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn clear(&mut self) -> Result<()> {
        self.truncate(0)
    }

    /// Writes `len` into the inactive header slot with the next generation and syncs the
    /// header page; then that slot is the active one.
    fn write_header(&mut self, len: usize) -> Result<()> {
        let generation = self.generation + 1;
        let slot = Self::slot(self.data_offset, generation, len).encode();
        let at = (generation % 2) as usize * SLOT_SIZE;
        self.map.write_at(at, &slot)?;
        self.map.flush_range(0, HEADER_SIZE)?;
        self.generation = generation;
        self.synced_len = len;
        Ok(())
    }

    /// Makes the current contents durable: syncs the elements changed since the last sync,
    /// then writes the length into the header and syncs it (see the module docs for what
    /// this promises after a crash). Nothing to do if nothing changed.
    ///
    /// # Errors
    /// The OS error (`OutOfMemory` for a full disk found at write-back); the synced length
    /// is then still the old one.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("vmem-doc-fvsync-{}", std::process::id()));
    /// let mut v = vmem::FileVec::<u32>::create(&path)?;
    /// v.push(42)?;
    /// v.sync()?;
    /// assert_eq!(v.synced_len(), 1);
    /// # drop(v); std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn sync(&mut self) -> Result<()> {
        let dirty_from = self.clean_below.min(self.len);
        if dirty_from == self.len && self.len == self.synced_len && self.generation > 0 {
            return Ok(());
        }
        if dirty_from < self.len {
            let size = size_of::<T>();
            // No overflow: both ends lie inside the mapped file.
            self.map.flush_range(self.data_offset + dirty_from * size, (self.len - dirty_from) * size)?;
        }
        self.write_header(self.len)?;
        self.clean_below = self.len;
        Ok(())
    }
}

impl<T: Pod> core::ops::Deref for FileVec<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: Pod> core::ops::DerefMut for FileVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

impl<T: Pod + core::fmt::Debug> core::fmt::Debug for FileVec<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_round_trip_and_detect_damage() {
        let slot = Slot { data_offset: 128, element_size: 8, element_align: 8, generation: 5, len: 77 };
        let bytes = slot.encode();
        assert_eq!(Slot::decode(&bytes), Some((VERSION, slot)));
        for i in 0..SLOT_SIZE {
            let mut damaged = bytes;
            damaged[i] ^= 0x10;
            assert_eq!(Slot::decode(&damaged), None, "a flipped bit at byte {i} is caught");
        }
        assert_eq!(Slot::decode(&[0; SLOT_SIZE]), None);
    }
}
