//! Arena and SyncArena behaviour: alignment, ZSTs, chaining, limits, reset, scopes and
//! checkpoints, the allocator interface, threads, and failure under RLIMIT_DATA.

use std::alloc::Layout;

use proptest::prelude::*;
use vmem::{Arena, ErrorKind, SyncArena};

#[test]
fn every_alignment_from_1_to_4096_is_honoured() {
    let arena = Arena::new();
    let mut shift = 0;
    while (1usize << shift) <= 4096 {
        let align = 1usize << shift;
        for size in [1, 3, align, align + 1] {
            let p = arena.alloc_layout(Layout::from_size_align(size, align).unwrap());
            assert_eq!(p.as_ptr() as usize % align, 0, "size {size} align {align}");
            // SAFETY: `size` fresh bytes.
            unsafe { p.as_ptr().write_bytes(0xEE, size) };
        }
        shift += 1;
    }
    let sync = SyncArena::new();
    for shift in 0..=12 {
        let align = 1usize << shift;
        let p = sync.alloc_layout(Layout::from_size_align(7, align).unwrap());
        assert_eq!(p.as_ptr() as usize % align, 0);
    }
}

#[test]
fn zero_sized_values_take_no_space() {
    let arena = Arena::new();
    let unit: &mut () = arena.alloc(());
    *unit = ();
    let empty: &mut [u64] = arena.alloc_slice_copy(&[]);
    assert!(empty.is_empty());
    assert_eq!(arena.alloc_slice_fill_with(10, |_| ()).len(), 10);
    assert_eq!(arena.alloc_str(""), "");
    let p = arena.alloc_layout(Layout::from_size_align(0, 256).unwrap());
    assert_eq!(p.as_ptr() as usize % 256, 0);
    assert_eq!(arena.allocated_bytes(), 0);
    assert_eq!(arena.reserved_bytes(), 0, "ZSTs must not even reserve");
}

#[test]
fn a_huge_allocation_chains_a_block_and_nothing_moves() {
    let arena = Arena::builder().block_size(1 << 20).build().unwrap();
    let first = arena.alloc(0xABCDu64) as *const u64;
    let big = arena.alloc_slice_fill_with(3 << 20, |i| i as u8);
    assert_eq!(big.len(), 3 << 20);
    assert_eq!(big[(3 << 20) - 1], ((3 << 20) - 1) as u8);
    assert!(arena.reserved_bytes() >= (1 << 20) + (3 << 20));
    let after = arena.alloc(7u32);
    *after += 1;
    // SAFETY: `first` points into the arena, which has not been reset.
    assert_eq!(unsafe { *first }, 0xABCD);
    assert_eq!(*after, 8);
}

#[test]
fn the_maximum_returns_an_error_and_keeps_earlier_allocations() {
    let arena = Arena::builder().block_size(1 << 20).max_bytes(2 << 20).build().unwrap();
    let kept = arena.alloc_slice_fill_with(1000, |i| i as u32);
    let err = arena.try_alloc_slice_fill_with(4 << 20, |_| 0u8).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert!(err.to_string().contains("max_bytes"), "{err}");
    let small = Arena::builder().max_bytes(64 << 10).build().unwrap();
    let (value, err) = small.try_alloc([7u8; 128 << 10]).unwrap_err();
    assert!(value.iter().all(|&b| b == 7), "the value comes back");
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert!(kept.iter().enumerate().all(|(i, &v)| v == i as u32));
    // Up to the maximum still works: the rest of the first block, then a second block.
    arena.alloc_slice_fill_with(512 << 10, |_| 1u8);
    arena.alloc_slice_fill_with(900 << 10, |_| 2u8);
    assert_eq!(arena.reserved_bytes(), 2 << 20);
    assert!(arena.try_alloc_slice_fill_with(200 << 10, |_| 3u8).is_err());
    assert!(kept.iter().enumerate().all(|(i, &v)| v == i as u32));
}

#[test]
fn bad_builder_settings_are_errors() {
    assert_eq!(Arena::builder().block_size(0).build().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(Arena::builder().commit_step(0).build().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(Arena::builder().max_bytes(0).build().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(Arena::builder().block_size(usize::MAX).build().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert!(Arena::builder().commit_step(usize::MAX - 1).build_sync().is_err());
    // Absurd requests are errors, not panics.
    let arena = Arena::new();
    assert!(arena.try_alloc_layout(Layout::from_size_align(isize::MAX as usize - 100, 1).unwrap()).is_err());
    assert!(arena.try_alloc_slice_fill_with(usize::MAX / 2, |_| 0u64).is_err());
    assert!(SyncArena::new().try_alloc_layout(Layout::from_size_align(isize::MAX as usize - 100, 1).unwrap()).is_err());
}

#[cfg(target_os = "linux")]
#[test]
fn reset_returns_memory_down_to_the_kept_amount() {
    // In a child process: RSS is process-wide, and sibling tests allocate concurrently.
    common::in_child("reset_returns_memory_down_to_the_kept_amount", reset_returns_memory_body).assert_success();
}

#[cfg(target_os = "linux")]
fn reset_returns_memory_body() {
    let mut arena = Arena::builder().retain_bytes(1 << 20).build().unwrap();
    let rss_before = vmem::resident_bytes().unwrap();
    for _ in 0..3 {
        let block = arena.alloc_slice_fill_with(64 << 20, |i| i as u8);
        assert_eq!(block[12345], 12345u32 as u8);
        assert!(arena.committed_bytes() >= 64 << 20);
        assert!(vmem::resident_bytes().unwrap() >= rss_before + (60 << 20));
        arena.reset();
        assert_eq!(arena.committed_bytes(), 1 << 20);
        assert_eq!(arena.allocated_bytes(), 0);
        let rss = vmem::resident_bytes().unwrap();
        assert!(rss < rss_before + (4 << 20), "RSS after reset {rss} vs {rss_before} before");
    }
    // Chained blocks are given up by reset; with `retain_bytes(0)` the first block returns
    // everything too.
    let mut chained = Arena::builder().block_size(1 << 20).retain_bytes(0).build().unwrap();
    for _ in 0..5 {
        chained.alloc_slice_fill_with(900 << 10, |_| 1u8);
    }
    assert!(chained.reserved_bytes() >= 5 << 20);
    chained.reset();
    assert_eq!(chained.reserved_bytes(), 1 << 20);
    assert_eq!(chained.committed_bytes(), 0);
}

#[test]
fn scopes_and_checkpoints_restore_the_position() {
    let mut arena = Arena::builder().block_size(1 << 20).build().unwrap();
    let keep = arena.alloc(5u64) as *const u64;
    let before = arena.allocated_bytes();
    let sum = arena.scope(|a| a.alloc_slice_fill_with(100, |i| i as u64).iter().sum::<u64>());
    assert_eq!(sum, 4950);
    assert_eq!(arena.allocated_bytes(), before);
    let mark = arena.checkpoint();
    // Chain two more blocks, then rewind across them.
    arena.alloc_slice_fill_with(2 << 20, |_| 0u8);
    arena.alloc_slice_fill_with(2 << 20, |_| 0u8);
    assert!(arena.reserved_bytes() > 1 << 20);
    let late = arena.checkpoint();
    arena.rewind(mark).unwrap();
    assert_eq!(arena.allocated_bytes(), before);
    assert_eq!(arena.reserved_bytes(), 1 << 20);
    // The later checkpoint is stale now; another arena's checkpoint is refused.
    assert_eq!(arena.rewind(late).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(arena.rewind(Arena::new().checkpoint()).unwrap_err().kind(), ErrorKind::InvalidArgument);
    // SAFETY: the allocation before the checkpoint survives.
    assert_eq!(unsafe { *keep }, 5);
    // Memory after a rewind is reused.
    let again = arena.alloc(6u64) as *const u64 as usize;
    assert!(again < keep as usize + 64);
}

#[test]
fn checkpoints_round_trip_through_words_and_forged_ones_are_refused() {
    use vmem::arena::Checkpoint;
    let mut arena = Arena::builder().block_size(1 << 20).build().unwrap();
    arena.alloc(1u64);
    let mark = arena.checkpoint();
    let words = mark.to_words();
    assert_eq!(Checkpoint::from_words(words), mark);
    arena.alloc_slice_fill_with(3 << 20, |_| 0u8); // chains a block
    let later = arena.checkpoint().to_words();
    let allocated = arena.allocated_bytes();
    let edits: [(usize, usize); 5] = [
        (2, words[2] + 1),    // misaligned: later allocations would be too
        (2, usize::MAX),      // outside every block
        (3, words[3] + 1),    // bytes-before that do not match the block
        (1, 7),               // a block that does not exist
        (0, words[0] + 1000), // another arena
    ];
    for (index, value) in edits {
        let mut forged = words;
        forged[index] = value;
        let err = arena.rewind(Checkpoint::from_words(forged)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{forged:?}");
        assert_eq!(arena.allocated_bytes(), allocated, "a refused rewind changes nothing");
    }
    let mut forged = later;
    forged[3] = later[3] + 8; // the current block, with the wrong bytes-before
    assert!(arena.rewind(Checkpoint::from_words(forged)).is_err());
    arena.rewind(Checkpoint::from_words(later)).unwrap();
    arena.rewind(Checkpoint::from_words(words)).unwrap();
    assert_eq!(arena.allocated_bytes(), 8);
    let p = arena.alloc(2u64) as *const u64 as usize;
    assert_eq!(p % 8, 0);
}

#[test]
fn the_allocator_interface_works_with_vec_and_hashbrown() {
    let arena = Arena::new();
    let mut v: allocator_api2::vec::Vec<u32, &Arena> = allocator_api2::vec::Vec::new_in(&arena);
    for i in 0..10_000 {
        v.push(i);
    }
    assert_eq!(v.iter().map(|&x| x as u64).sum::<u64>(), 49_995_000);
    // The vector was the last allocation throughout, so it grew in place: one region.
    assert!(arena.allocated_bytes() < 2 * 10_000 * 4);
    let mut map = hashbrown::HashMap::new_in(&arena);
    for i in 0..1000 {
        map.insert(i, i * 2);
    }
    assert_eq!(map[&999], 1998);
    let mut s = allocator_api2::vec::Vec::with_capacity_in(4, &arena);
    s.extend_from_slice(b"abcdefgh");
    s.shrink_to_fit();
    assert_eq!(&s[..], b"abcdefgh");
}

#[test]
fn growing_the_last_allocation_happens_in_place() {
    let arena = Arena::new();
    let mut v: allocator_api2::vec::Vec<u8, &Arena> = allocator_api2::vec::Vec::with_capacity_in(16, &arena);
    v.extend_from_slice(&[1; 16]);
    let before = v.as_ptr();
    v.reserve(1 << 22); // 4 MiB: past the first commit step
    assert_eq!(v.as_ptr(), before, "grew by moving");
    v.extend(std::iter::repeat_n(2, 1 << 22));
    assert_eq!(v.len(), 16 + (1 << 22));
}

#[test]
fn sync_arena_threads_never_overlap() {
    for threads in [2usize, 8] {
        let mut arena = Arena::builder().commit_step(64 << 10).block_size(1 << 20).build_sync().unwrap();
        let per_thread = 100_000usize;
        // Twice, with a reset between: per-thread chunks of the old state must not be reused.
        for _round in 0..2 {
            let ranges: Vec<Vec<(usize, usize)>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let arena = &arena;
                        s.spawn(move || {
                            let mut mine = Vec::with_capacity(per_thread);
                            for i in 0..per_thread {
                                let len = 1 + (i * 7 + t) % 61;
                                let slice = arena.alloc_slice_fill_with(len, |_| (t * 31 + i) as u8);
                                mine.push((slice.as_ptr() as usize, len));
                            }
                            // Check every value after all this thread's allocations.
                            for (i, &(p, len)) in mine.iter().enumerate() {
                                // SAFETY: the slice lives as long as the arena.
                                let slice = unsafe { std::slice::from_raw_parts(p as *const u8, len) };
                                assert!(slice.iter().all(|&b| b == (t * 31 + i) as u8), "thread {t} item {i}");
                            }
                            mine
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let mut all: Vec<(usize, usize)> = ranges.into_iter().flatten().collect();
            all.sort_unstable();
            assert!(all.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0), "{threads} threads: overlapping allocations");
            assert_eq!(all.len(), threads * per_thread);
            assert!(arena.reserved_bytes() > 1 << 20, "expected chained blocks");
            assert!(arena.allocated_bytes() >= all.iter().map(|r| r.1).sum::<usize>());
            arena.reset();
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Alloc(usize, usize),
    /// `try_alloc_with` of a 40-byte value.
    AllocWith(u8),
    /// `try_alloc_slice_fill_iter` from an iterator that promises `.0` elements and gives
    /// `.0 - .1` of them.
    FillIter(usize, usize),
    FillCopy(usize, u8),
    FillDefault(usize),
    Clone(usize),
    /// Through the `Allocator` interface.
    AllocatorAlloc(usize, usize),
    /// Deallocate, grow or shrink (by the amount) the `Allocator` allocation picked by the
    /// index, if there is one.
    Deallocate(usize),
    Grow(usize, usize),
    Shrink(usize, usize),
    /// `None`: no limit; `Some(x)`: `allocated_bytes() + x`.
    Limit(Option<usize>),
    Chunks,
    Checkpoint,
    Rewind,
    Reset,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            10 => (0usize..3000, 0u32..13).prop_map(|(size, shift)| Op::Alloc(size, 1 << shift)),
            2 => any::<u8>().prop_map(Op::AllocWith),
            2 => (0usize..300, prop_oneof![3 => Just(0usize), 1 => 1usize..4]).prop_map(|(n, short)| Op::FillIter(n, short)),
            2 => (0usize..2000, any::<u8>()).prop_map(|(n, b)| Op::FillCopy(n, b)),
            1 => (0usize..500).prop_map(Op::FillDefault),
            1 => (0usize..100).prop_map(Op::Clone),
            4 => (1usize..2000, 0u32..8).prop_map(|(size, shift)| Op::AllocatorAlloc(size, 1 << shift)),
            2 => any::<usize>().prop_map(Op::Deallocate),
            3 => (any::<usize>(), 1usize..5000).prop_map(|(i, n)| Op::Grow(i, n)),
            2 => (any::<usize>(), 1usize..500).prop_map(|(i, n)| Op::Shrink(i, n)),
            1 => prop::option::of(0usize..20_000).prop_map(Op::Limit),
            1 => Just(Op::Chunks),
            1 => Just(Op::Checkpoint),
            1 => Just(Op::Rewind),
            1 => Just(Op::Reset),
        ],
        1..200,
    )
}

/// What the model drives: `Arena` and `SyncArena` through the same calls (their methods
/// are inherent; this trait only lets one test run both).
#[allow(clippy::mut_from_ref)] // as the arenas' own methods: fresh memory each call
trait ModelArena {
    fn build() -> Self;
    fn try_alloc_layout(&self, layout: Layout) -> vmem::Result<std::ptr::NonNull<u8>>;
    fn try_alloc_with(&self, byte: u8) -> vmem::Result<&mut [u8; 40]>;
    fn try_fill_iter(&self, iter: std::iter::Take<std::ops::Range<u16>>, promised: usize) -> vmem::Result<&mut [u16]>;
    fn try_fill_copy(&self, len: usize, byte: u8) -> vmem::Result<&mut [u8]>;
    fn try_fill_default(&self, len: usize) -> vmem::Result<&mut [u32]>;
    fn try_clone(&self, src: &[u16]) -> vmem::Result<&mut [u16]>;
    fn set_limit(&self, limit: Option<usize>);
    fn limit(&self) -> Option<usize>;
    fn allocated(&self) -> usize;
    fn chunks(&mut self) -> Vec<(usize, usize)>;
    fn mark(&mut self) -> Checkpoint;
    fn back(&mut self, mark: Checkpoint) -> vmem::Result<()>;
    fn clear(&mut self);
    /// What an allocation of `size` bytes aligned to `align` may add to `allocated_bytes`
    /// at most (size rounding and alignment padding).
    fn most_added(size: usize, align: usize) -> usize;
}

/// An iterator that says it has more elements than it gives.
struct Promising<I> {
    inner: I,
    promised: usize,
}

impl<I: Iterator> Iterator for Promising<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        self.promised = self.promised.saturating_sub(1);
        self.inner.next()
    }
}

impl<I: Iterator> ExactSizeIterator for Promising<I> {
    fn len(&self) -> usize {
        self.promised
    }
}

macro_rules! model_arena {
    ($Arena:ty, $build:expr, $most_added:expr) => {
        #[allow(clippy::mut_from_ref)] // as the arenas' own methods: fresh memory each call
        impl ModelArena for $Arena {
            fn build() -> Self {
                $build
            }
            fn try_alloc_layout(&self, layout: Layout) -> vmem::Result<std::ptr::NonNull<u8>> {
                <$Arena>::try_alloc_layout(self, layout)
            }
            fn try_alloc_with(&self, byte: u8) -> vmem::Result<&mut [u8; 40]> {
                <$Arena>::try_alloc_with(self, || [byte; 40])
            }
            fn try_fill_iter(
                &self,
                iter: std::iter::Take<std::ops::Range<u16>>,
                promised: usize,
            ) -> vmem::Result<&mut [u16]> {
                <$Arena>::try_alloc_slice_fill_iter(self, Promising { inner: iter, promised })
            }
            fn try_fill_copy(&self, len: usize, byte: u8) -> vmem::Result<&mut [u8]> {
                <$Arena>::try_alloc_slice_fill_copy(self, len, byte)
            }
            fn try_fill_default(&self, len: usize) -> vmem::Result<&mut [u32]> {
                <$Arena>::try_alloc_slice_fill_default(self, len)
            }
            fn try_clone(&self, src: &[u16]) -> vmem::Result<&mut [u16]> {
                <$Arena>::try_alloc_slice_clone(self, src)
            }
            fn set_limit(&self, limit: Option<usize>) {
                <$Arena>::set_allocation_limit(self, limit)
            }
            fn limit(&self) -> Option<usize> {
                <$Arena>::allocation_limit(self)
            }
            fn allocated(&self) -> usize {
                <$Arena>::allocated_bytes(self)
            }
            fn chunks(&mut self) -> Vec<(usize, usize)> {
                <$Arena>::iter_allocated_chunks(self).map(|c| (c.as_ptr() as usize, c.len())).collect()
            }
            fn mark(&mut self) -> Checkpoint {
                <$Arena>::checkpoint(self)
            }
            fn back(&mut self, mark: Checkpoint) -> vmem::Result<()> {
                <$Arena>::rewind(self, mark)
            }
            fn clear(&mut self) {
                <$Arena>::reset(self)
            }
            fn most_added(size: usize, align: usize) -> usize {
                $most_added(size, align)
            }
        }
    };
}

model_arena!(
    Arena,
    Arena::builder().block_size(64 << 10).commit_step(4096).build().unwrap(),
    |size: usize, align: usize| size.next_multiple_of(8) + align.saturating_sub(8)
);
model_arena!(
    SyncArena,
    Arena::builder().block_size(64 << 10).commit_step(4096).build_sync().unwrap(),
    |size: usize, align: usize| size + align - 1
);

/// A live allocation of the model.
struct Live {
    address: usize,
    len: usize,
    fill: u8,
    /// The alignment it was allocated with, if through the `Allocator` interface.
    allocator_align: Option<usize>,
    /// The op that last grew it (after a rewind to a checkpoint taken before that, its
    /// grown part may be handed out again).
    grown_at: usize,
}

fn write_fill(address: usize, len: usize, fill: u8) {
    // SAFETY: the caller just got `len` writable bytes at `address` from the arena.
    unsafe { std::ptr::write_bytes(address as *mut u8, fill, len) };
}

/// Runs `ops` against the model: every allocation keeps its contents and alignment and
/// overlaps no other; the typed helpers give what std gives; the limit holds; a lying
/// iterator is an error; the chunks cover what is live; rewinds and resets free exactly
/// what they should.
fn run_model<A: ModelArena>(ops: Vec<Op>) -> Result<(), TestCaseError>
where
    for<'a> &'a A: Allocator,
{
    let mut arena = A::build();
    let mut live: Vec<Live> = Vec::new();
    // (checkpoint, live allocations then, op index then)
    let mut marks: Vec<(Checkpoint, usize, usize)> = Vec::new();
    for (n, op) in ops.into_iter().enumerate() {
        let fill = n as u8;
        let before = arena.allocated();
        // The size and alignment asked for by an allocating op, and whether it succeeded.
        let mut asked: Option<(usize, usize, bool)> = None;
        // Allocations made through the `Allocator` may only be given back or shrunk after the
        // last checkpoint (a rewind to a checkpoint ahead of the position is refused).
        let floor = marks.last().map_or(0, |m| m.1);
        match op {
            Op::Alloc(size, align) => {
                let result = arena.try_alloc_layout(Layout::from_size_align(size, align).unwrap());
                if let Ok(p) = result {
                    let address = p.as_ptr() as usize;
                    prop_assert_eq!(address % align, 0);
                    write_fill(address, size, fill);
                    live.push(Live { address, len: size, fill, allocator_align: None, grown_at: 0 });
                }
                asked = Some((size, align, result.is_ok()));
            }
            Op::AllocWith(byte) => {
                let result = arena.try_alloc_with(byte).map(|v| {
                    assert_eq!(*v, [byte; 40]);
                    v.as_ptr() as usize
                });
                if let Ok(address) = result {
                    live.push(Live { address, len: 40, fill: byte, allocator_align: None, grown_at: 0 });
                }
                asked = Some((40, 1, result.is_ok()));
            }
            Op::FillIter(len, short) => {
                let model: Vec<u16> = (0..(len - short.min(len)) as u16).collect();
                match arena.try_fill_iter((0..u16::MAX).take(len - short.min(len)), len) {
                    Ok(slice) => {
                        prop_assert_eq!(short.min(len), 0, "a short iterator was accepted");
                        prop_assert_eq!(&slice[..], &model[..]);
                        // The elements are `0, 1, 2...`; the model only keeps bytes: overwrite.
                        let address = slice.as_mut_ptr() as usize;
                        write_fill(address, len * 2, fill);
                        live.push(Live { address, len: len * 2, fill, allocator_align: None, grown_at: 0 });
                        asked = Some((len * 2, 2, true));
                    }
                    Err(e) if short.min(len) > 0 && e.kind() == ErrorKind::InvalidArgument => {}
                    Err(e) => {
                        prop_assert_eq!(e.kind(), ErrorKind::OutOfMemory, "{}", e);
                        asked = Some((len * 2, 2, false));
                    }
                }
            }
            Op::FillCopy(len, byte) => {
                let result = arena.try_fill_copy(len, byte).map(|s| {
                    assert!(s.iter().all(|&b| b == byte));
                    s.as_ptr() as usize
                });
                if let Ok(address) = result {
                    live.push(Live { address, len, fill: byte, allocator_align: None, grown_at: 0 });
                }
                asked = Some((len, 1, result.is_ok()));
            }
            Op::FillDefault(len) => {
                let result = arena.try_fill_default(len).map(|s| {
                    assert!(s.iter().all(|&x| x == 0));
                    s.as_mut_ptr() as usize
                });
                if let Ok(address) = result {
                    write_fill(address, len * 4, fill);
                    live.push(Live { address, len: len * 4, fill, allocator_align: None, grown_at: 0 });
                }
                asked = Some((len * 4, 4, result.is_ok()));
            }
            Op::Clone(len) => {
                let src: Vec<u16> = (0..len as u16).map(|i| i.wrapping_mul(31)).collect();
                let result = arena.try_clone(&src).map(|s| {
                    assert_eq!(&s[..], &src[..]);
                    s.as_mut_ptr() as usize
                });
                if let Ok(address) = result {
                    write_fill(address, len * 2, fill);
                    live.push(Live { address, len: len * 2, fill, allocator_align: None, grown_at: 0 });
                }
                asked = Some((len * 2, 2, result.is_ok()));
            }
            Op::AllocatorAlloc(size, align) => {
                let result = (&arena).allocate(Layout::from_size_align(size, align).unwrap());
                if let Ok(p) = result {
                    let address = p.cast::<u8>().as_ptr() as usize;
                    prop_assert_eq!(address % align, 0);
                    write_fill(address, size, fill);
                    live.push(Live { address, len: size, fill, allocator_align: Some(align), grown_at: 0 });
                }
                asked = Some((size, align, result.is_ok()));
            }
            Op::Deallocate(pick) | Op::Grow(pick, _) | Op::Shrink(pick, _) => {
                let candidates: Vec<usize> =
                    (0..live.len()).filter(|&i| live[i].allocator_align.is_some() && live[i].len > 0).collect();
                if !candidates.is_empty() {
                    let i = candidates[pick % candidates.len()];
                    let (address, len, align) = (live[i].address, live[i].len, live[i].allocator_align.unwrap());
                    let old = Layout::from_size_align(len, align).unwrap();
                    let ptr = std::ptr::NonNull::new(address as *mut u8).unwrap();
                    match op {
                        Op::Deallocate(_) if i >= floor => {
                            // SAFETY: allocated through this allocator with `old`, not used again.
                            unsafe { (&arena).deallocate(ptr, old) };
                            live[i].len = 0; // dead
                        }
                        Op::Grow(_, extra) => {
                            let new = Layout::from_size_align(len + extra, align).unwrap();
                            // SAFETY: allocated through this allocator with `old`.
                            match unsafe { (&arena).grow(ptr, old, new) } {
                                Ok(p) => {
                                    let address = p.cast::<u8>().as_ptr() as usize;
                                    prop_assert_eq!(address % align, 0);
                                    // SAFETY: `len + extra` bytes, the first `len` kept.
                                    let kept = unsafe { std::slice::from_raw_parts(address as *const u8, len) };
                                    prop_assert!(kept.iter().all(|&b| b == live[i].fill), "grow lost the contents");
                                    write_fill(address, len + extra, live[i].fill);
                                    live[i].address = address;
                                    live[i].len = len + extra;
                                    live[i].grown_at = n;
                                    asked = Some((len + extra, align, true));
                                }
                                Err(_) => asked = Some((len + extra, align, false)),
                            }
                        }
                        Op::Shrink(_, less) if i >= floor => {
                            let new = Layout::from_size_align(len - less.min(len), align).unwrap();
                            // SAFETY: allocated through this allocator with `old`.
                            if let Ok(p) = unsafe { (&arena).shrink(ptr, old, new) } {
                                let address = p.cast::<u8>().as_ptr() as usize;
                                // SAFETY: `new.size()` bytes kept from the old allocation.
                                let kept = unsafe { std::slice::from_raw_parts(address as *const u8, new.size()) };
                                prop_assert!(kept.iter().all(|&b| b == live[i].fill), "shrink lost the contents");
                                live[i].address = address;
                                live[i].len = new.size();
                            }
                        }
                        _ => {}
                    }
                }
            }
            Op::Limit(extra) => {
                let limit = extra.map(|x| arena.allocated() + x);
                arena.set_limit(limit);
                prop_assert_eq!(arena.limit(), limit);
            }
            Op::Chunks => {
                let chunks = arena.chunks();
                let spans: Vec<(usize, usize)> = live.iter().map(|l| (l.address, l.len)).collect();
                check_chunks(&chunks, &spans, arena.allocated());
            }
            Op::Checkpoint => {
                let mark = arena.mark();
                marks.push((mark, live.len(), n));
            }
            Op::Rewind => {
                if let Some((mark, count, taken_at)) = marks.pop() {
                    arena.back(mark).unwrap();
                    live.truncate(count);
                    // Grown after the checkpoint: its new part may be handed out again. (Marked
                    // dead rather than removed, so that the counts of older marks still hold.)
                    for l in live.iter_mut().filter(|l| l.grown_at > taken_at) {
                        l.len = 0;
                    }
                }
            }
            Op::Reset => {
                arena.clear();
                live.clear();
                marks.clear();
            }
        }
        // The limit: an allocation that succeeded stays under it; one that failed (no
        // `max_bytes` here, and the memory is there) would have passed it.
        if let (Some((size, align, ok)), Some(limit)) = (asked, arena.limit()) {
            if ok && size > 0 {
                prop_assert!(arena.allocated() <= limit, "{} allocated, limit {}", arena.allocated(), limit);
            }
            if !ok {
                prop_assert!(before + A::most_added(size, align) > limit, "refused {} under limit {}", size, limit);
            }
        }
        if let Some((_, _, ok)) = asked {
            prop_assert!(ok || arena.limit().is_some(), "an allocation failed with no limit");
        }
        // Every live allocation holds what was written to it; none overlap.
        for l in &live {
            // SAFETY: live allocations stay valid until a rewind or reset frees them, which the
            // model has removed.
            let bytes = unsafe { std::slice::from_raw_parts(l.address as *const u8, l.len) };
            prop_assert!(bytes.iter().all(|&b| b == l.fill), "an allocation changed");
        }
        let mut spans: Vec<(usize, usize)> = live.iter().filter(|l| l.len > 0).map(|l| (l.address, l.len)).collect();
        spans.sort_unstable();
        prop_assert!(spans.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0), "overlapping allocations");
        prop_assert!(arena.allocated() >= spans.iter().map(|s| s.1).sum::<usize>());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn allocations_never_overlap_or_get_corrupted(ops in ops()) {
        run_model::<Arena>(ops)?;
    }

    #[test]
    fn sync_arena_allocations_never_overlap_or_get_corrupted(ops in ops()) {
        run_model::<SyncArena>(ops)?;
    }
}

#[cfg(target_os = "linux")]
mod common;

#[cfg(target_os = "linux")]
mod limits {
    use super::*;

    #[test]
    fn rlimit_data_makes_try_alloc_fail_cleanly() {
        let outcome = common::in_child("limits::rlimit_data_makes_try_alloc_fail_cleanly", || {
            common::set_limit(rustix::process::Resource::Data, 96 << 20);
            let arena = Arena::new();
            let early = arena.alloc_slice_fill_with(1 << 20, |i| (i % 251) as u8);
            let mut total = 0usize;
            // 16 bytes short of 4 MiB, so committed memory is left over at the end.
            let chunk = (4 << 20) - 16;
            let err = loop {
                match arena.try_alloc_slice_fill_with(chunk, |_| 0xAAu8) {
                    Ok(_) => total += chunk,
                    Err(e) => break e,
                }
                assert!(total < 1 << 30, "RLIMIT_DATA was not enforced");
            };
            assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err}");
            assert!(err.to_string().contains("RLIMIT_DATA"), "{err}");
            assert!(early.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
            // The failure consumed nothing; small allocations that fit in committed memory still work.
            assert_eq!(arena.allocated_bytes(), (1 << 20) + total);
            let small = arena.try_alloc(5u8).expect("a byte of committed memory");
            assert_eq!(*small, 5);
            let sync = SyncArena::new();
            let mut failed = false;
            for _ in 0..64 {
                if sync.try_alloc_slice_fill_with(4 << 20, |_| 1u8).is_err() {
                    failed = true;
                    break;
                }
            }
            assert!(failed, "SyncArena did not hit RLIMIT_DATA");
        });
        outcome.assert_success();
    }
}

/// The same worker threads allocate from one `SyncArena` after another; each new arena
/// takes the region its predecessor gave to the warm cache (same address), while every
/// worker still holds a per-thread chunk of the old one. No chunk of a dropped arena is
/// used again: every allocation of a round is disjoint from the others and keeps its value.
/// (Synchronized with atomics only, so that ThreadSanitizer sees every edge.)
#[test]
fn sync_arena_chunks_never_outlive_their_arena() {
    use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
    const THREADS: usize = 4;
    const ROUNDS: usize = 20;
    /// Spins until `count` reaches `target`.
    fn wait_for(count: &AtomicUsize, target: usize) {
        while count.load(Ordering::Acquire) < target {
            std::thread::yield_now();
        }
    }
    let arena = AtomicPtr::<vmem::SyncArena>::new(std::ptr::null_mut());
    // Per round: the arena is published (`started`), every worker has written (`written`),
    // every worker has checked and let go of it (`done`).
    let (started, written, done) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    let mut bases = Vec::new();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (arena, started, written, done) = (&arena, &started, &written, &done);
                s.spawn(move || {
                    for round in 0..ROUNDS {
                        wait_for(started, round + 1);
                        // SAFETY: published before `started` was raised, dropped only after
                        // every worker raised `done` for this round.
                        let arena = unsafe { &*arena.load(Ordering::Acquire) };
                        let mark = (t * ROUNDS + round) as u64;
                        let mine: Vec<&mut [u64]> =
                            (0..2000).map(|i| arena.alloc_slice_fill_with(1 + i % 9, |_| mark)).collect();
                        written.fetch_add(1, Ordering::AcqRel);
                        wait_for(written, (round + 1) * THREADS);
                        assert!(mine.iter().all(|s| s.iter().all(|&x| x == mark)), "thread {t} round {round}");
                        done.fetch_add(1, Ordering::AcqRel);
                    }
                })
            })
            .collect();
        for round in 0..ROUNDS {
            let fresh = Box::new(vmem::SyncArena::new());
            bases.push(fresh.alloc(0u8) as *mut u8 as usize >> 20);
            arena.store(Box::into_raw(fresh), Ordering::Release);
            started.fetch_add(1, Ordering::AcqRel);
            wait_for(&done, (round + 1) * THREADS);
            // SAFETY: made by `Box::into_raw` above; every worker is done with it.
            drop(unsafe { Box::from_raw(arena.swap(std::ptr::null_mut(), Ordering::AcqRel)) });
        }
        for worker in workers {
            worker.join().unwrap();
        }
    });
    bases.dedup();
    println!("{} distinct block addresses over {ROUNDS} arenas", bases.len());
}

// ---------------------------------------------------------------------------------------
// API parity with bumpalo (issue 16): the typed helpers, with_capacity, the allocation
// limit, iter_allocated_chunks, and SyncArena's checkpoints and Allocator.

use allocator_api2::alloc::Allocator;
use std::cell::Cell;
use vmem::arena::Checkpoint;

/// An `ExactSizeIterator` whose `len()` says `promised` but that gives only `gives`
/// elements, counting how many it gave and how many of those were dropped.
struct Liar<'a> {
    promised: usize,
    gives: usize,
    given: usize,
    drops: &'a Cell<usize>,
}

/// An element that counts its drops.
#[derive(Debug)]
struct Counted<'a>(u8, &'a Cell<usize>);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.1.set(self.1.get() + 1);
    }
}

impl<'a> Iterator for Liar<'a> {
    type Item = Counted<'a>;
    fn next(&mut self) -> Option<Counted<'a>> {
        (self.given < self.gives).then(|| {
            self.given += 1;
            Counted(self.given as u8, self.drops)
        })
    }
}

impl ExactSizeIterator for Liar<'_> {
    fn len(&self) -> usize {
        self.promised - self.given.min(self.promised)
    }
}

#[test]
fn the_typed_helpers_match_std_on_both_arenas() {
    fn check<A>(arena: &A, fill_iter: impl Fn(&A, Vec<u32>) -> Vec<u32>, fill_copy: impl Fn(&A, usize, u64) -> Vec<u64>)
    where
        A: ?Sized,
    {
        for len in [0usize, 1, 7, 1000, 100_000] {
            let model: Vec<u32> = (0..len as u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
            assert_eq!(fill_iter(arena, model.clone()), model);
            assert_eq!(fill_copy(arena, len, 0xDEAD_BEEF), vec![0xDEAD_BEEFu64; len]);
        }
    }
    let arena = Arena::new();
    check(&arena, |a, v| a.alloc_slice_fill_iter(v).to_vec(), |a, n, x| a.alloc_slice_fill_copy(n, x).to_vec());
    let sync = SyncArena::new();
    check(&sync, |a, v| a.alloc_slice_fill_iter(v).to_vec(), |a, n, x| a.alloc_slice_fill_copy(n, x).to_vec());
    // clone, default, with, str, slice clone: against what std makes.
    let s = String::from("clone me");
    assert_eq!(arena.alloc_slice_fill_clone(3, &s).to_vec(), vec![s.clone(); 3]);
    assert_eq!(sync.alloc_slice_fill_clone(3, &s).to_vec(), vec![s.clone(); 3]);
    assert_eq!(arena.alloc_slice_fill_default::<Option<u8>>(5), &vec![None; 5][..]);
    assert_eq!(sync.alloc_slice_fill_default::<String>(2), &vec![String::new(); 2][..]);
    assert_eq!(sync.alloc_slice_clone(&[s.clone(), s.clone()]), &[s.clone(), s.clone()][..]);
    assert_eq!(*arena.alloc_with(|| [9u16; 3000]), [9u16; 3000]);
    assert_eq!(*sync.alloc_with(|| (1u8, 2u64, "three")), (1, 2, "three"));
    assert_eq!(sync.alloc_str("text"), "text");
    // Zero-sized types and empty slices take no space.
    assert_eq!(arena.alloc_slice_fill_iter(std::iter::repeat_n((), 10)).len(), 10);
    assert_eq!(sync.alloc_slice_fill_copy(0, 1u8).len(), 0);
    assert_eq!(*arena.alloc_with(|| ()), ());
    // Absurd lengths are errors, not panics or UB.
    assert_eq!(arena.try_alloc_slice_fill_copy(usize::MAX / 4, 0u64).unwrap_err().kind(), ErrorKind::OutOfMemory);
    assert_eq!(sync.try_alloc_slice_fill_default::<u32>(usize::MAX / 2).unwrap_err().kind(), ErrorKind::OutOfMemory);
}

#[test]
fn a_lying_iterator_is_an_error_never_undefined_behaviour() {
    let drops = Cell::new(0);
    let arena = Arena::new();
    // Fewer elements than promised: an error, and the elements it gave are dropped.
    let liar = Liar { promised: 10, gives: 4, given: 0, drops: &drops };
    let err = arena.try_alloc_slice_fill_iter(liar).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("fewer elements"), "{err}");
    assert_eq!(drops.get(), 4, "the 4 elements given were dropped");
    let sync = SyncArena::new();
    let err = sync.try_alloc_slice_fill_iter(Liar { promised: 3, gives: 0, given: 0, drops: &drops }).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    // The panicking form panics with the same message.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        arena.alloc_slice_fill_iter(Liar { promised: 2, gives: 1, given: 0, drops: &drops });
    }));
    let message = caught.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("fewer elements"), "{message}");
    // More elements than promised: only `len()` of them are taken.
    let mut long = Liar { promised: 5, gives: 9, given: 0, drops: &drops };
    let slice = arena.alloc_slice_fill_iter(&mut long);
    assert_eq!(slice.iter().map(|c| c.0).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert_eq!(long.given, 5, "no element past len() was taken");
}

#[test]
fn alloc_with_does_not_call_the_closure_when_allocation_fails() {
    let called = Cell::new(false);
    let arena = Arena::builder().max_bytes(64 << 10).build().unwrap();
    let err = arena
        .try_alloc_with(|| {
            called.set(true);
            [0u8; 128 << 10]
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert!(!called.get());
    let sync = SyncArena::new();
    sync.set_allocation_limit(Some(16));
    assert!(sync.try_alloc_with(|| -> [u64; 3] { unreachable!() }).is_err());
    assert_eq!(*sync.try_alloc_with(|| [1u64; 2]).unwrap(), [1, 1]);
    // The value is built in the arena: a large one works on a small stack (in an optimized
    // build the closure writes straight into the arena; in a debug build this still fits).
    let big = std::thread::Builder::new()
        .stack_size(4 << 20)
        .spawn(|| {
            let arena = Arena::new();
            let table = arena.alloc_with(|| [3u32; 256 << 10]); // 1 MiB
            table.iter().map(|&x| x as u64).sum::<u64>()
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(big, 3 * (256 << 10));
}

#[test]
fn with_capacity_commits_up_front_and_reset_keeps_it() {
    let mib = 1 << 20;
    let mut arena = Arena::with_capacity(mib);
    assert!(arena.committed_bytes() >= mib);
    assert!(arena.reserved_bytes() >= mib);
    let committed = arena.committed_bytes();
    for _ in 0..(mib / 4096) {
        arena.alloc([0u8; 4096]);
    }
    assert_eq!(arena.committed_bytes(), committed, "the first capacity bytes need no commit");
    for _ in 0..6 {
        arena.reset();
        arena.alloc(1u8);
    }
    assert!(arena.committed_bytes() >= mib, "reset keeps the capacity committed");
    // With `retain_bytes`, that wins.
    let mut lean = Arena::builder().capacity(mib).retain_bytes(0).build().unwrap();
    lean.reset();
    assert_eq!(lean.committed_bytes(), 0);
    // Zero is `new`; too much is an error, never a panic from `try_`.
    assert_eq!(Arena::with_capacity(0).reserved_bytes(), 0);
    assert!(Arena::try_with_capacity(usize::MAX).is_err());
    assert!(Arena::try_with_capacity(isize::MAX as usize).is_err());
    let err = Arena::builder().max_bytes(mib).capacity(2 * mib).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    // SyncArena, the same.
    let sync = SyncArena::with_capacity(mib);
    let committed = sync.committed_bytes();
    assert!(committed >= mib);
    sync.alloc_slice_fill_copy(mib / 2, 1u8);
    assert_eq!(sync.committed_bytes(), committed);
    assert!(SyncArena::try_with_capacity(usize::MAX).is_err());
    let built = Arena::builder().capacity(64 << 10).build_sync().unwrap();
    assert!(built.committed_bytes() >= 64 << 10);
    assert_eq!(built.allocated_bytes(), 0);
}

#[test]
fn the_allocation_limit_holds_exactly_on_arena() {
    let arena = Arena::builder().block_size(64 << 10).build().unwrap();
    assert_eq!(arena.allocation_limit(), None);
    arena.set_allocation_limit(Some(1000));
    let mut n = 0;
    while arena.try_alloc(0u64).is_ok() {
        n += 1;
    }
    assert_eq!(n, 125, "exactly 1000 bytes of 8-byte allocations");
    assert_eq!(arena.allocated_bytes(), 1000);
    let err = arena.try_alloc(0u8).unwrap_err().1;
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert_eq!(err.limit(), Some(("allocation_limit", 1000)));
    // Zero-sized allocations still work at the limit.
    arena.alloc(());
    // Raising the limit makes room; across chained blocks too.
    arena.set_allocation_limit(Some(300 << 10));
    let mut total = arena.allocated_bytes();
    while let Ok(s) = arena.try_alloc_slice_fill_copy(10_000, 7u8) {
        assert!(s.iter().all(|&b| b == 7));
        total += 10_000; // a multiple of 8: no padding
    }
    assert!(arena.reserved_bytes() > 64 << 10, "blocks were chained");
    assert_eq!(arena.allocated_bytes(), total);
    assert!(total <= 300 << 10 && total + 10_000 > 300 << 10, "{total}");
    // A limit below what is allocated: nothing more, until it is raised again.
    arena.set_allocation_limit(Some(4096));
    assert!(arena.try_alloc(1u8).is_err());
    arena.set_allocation_limit(None);
    arena.alloc(1u8);
    // Reset keeps the limit; the budget is whole again.
    let mut arena = arena;
    arena.set_allocation_limit(Some(64));
    arena.reset();
    assert_eq!(arena.allocation_limit(), Some(64));
    assert!(arena.try_alloc([0u8; 64]).is_ok());
    assert!(arena.try_alloc(0u8).is_err());
    // Giving memory back under a limit that was set below what is allocated: the room
    // that frees is the limit's, not the old position's.
    arena.reset();
    arena.set_allocation_limit(None);
    let layout = Layout::from_size_align(1000, 8).unwrap();
    let p = (&arena).allocate(layout).unwrap().cast::<u8>();
    arena.set_allocation_limit(Some(64));
    // SAFETY: allocated above with `layout`, not used again.
    unsafe { (&arena).deallocate(p, layout) };
    assert_eq!(arena.allocated_bytes(), 0);
    assert!(arena.try_alloc([0u8; 200]).is_err(), "200 > 64, though the freed room would hold it");
    assert!(arena.try_alloc([0u8; 64]).is_ok());
    // The limit counts alignment padding.
    arena.reset();
    arena.alloc(1u8); // 8 bytes
    assert!(arena.try_alloc_layout(Layout::from_size_align(40, 32).unwrap()).is_err(), "8 + 24 padding + 40 > 64");
    assert!(arena.try_alloc_layout(Layout::from_size_align(40, 8).unwrap()).is_ok(), "8 + 40 <= 64");
}

#[test]
fn the_allocation_limit_holds_on_sync_arena_from_many_threads() {
    for limit in [0usize, 1, 4000, 100_000, 3 << 20] {
        let arena = Arena::builder().block_size(1 << 20).build_sync().unwrap();
        arena.set_allocation_limit(Some(limit));
        let counted: usize = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|t| {
                    let arena = &arena;
                    s.spawn(move || {
                        let mut mine = 0;
                        for i in 0.. {
                            let len = 1 + (i * 13 + t) % 200;
                            match arena.try_alloc_slice_fill_copy(len, t as u8) {
                                Ok(s) => {
                                    assert!(s.iter().all(|&b| b == t as u8));
                                    mine += len;
                                }
                                Err(e) => {
                                    assert_eq!(e.kind(), ErrorKind::OutOfMemory);
                                    if len == 1 {
                                        break;
                                    }
                                }
                            }
                        }
                        mine
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).sum()
        });
        assert!(arena.allocated_bytes() <= limit, "{} > {limit}", arena.allocated_bytes());
        assert!(counted <= arena.allocated_bytes());
        // A thread stops when even one byte is refused: then the budget is used up exactly
        // (near the limit, threads stop taking chunks and allocate what they ask for).
        assert_eq!(arena.allocated_bytes(), limit);
    }
}

/// Every live allocation lies in exactly one chunk, the chunks do not overlap and their
/// lengths add up to `allocated_bytes`.
fn check_chunks(chunks: &[(usize, usize)], live: &[(usize, usize)], allocated: usize) {
    assert_eq!(chunks.iter().map(|c| c.1).sum::<usize>(), allocated);
    let mut sorted = chunks.to_vec();
    sorted.sort_unstable();
    assert!(sorted.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0), "chunks overlap");
    for &(p, len) in live.iter().filter(|l| l.1 > 0) {
        let holders = chunks.iter().filter(|c| p >= c.0 && p + len <= c.0 + c.1).count();
        assert_eq!(holders, 1, "allocation {p:#x}+{len} in {holders} chunks");
    }
}

#[test]
fn iter_allocated_chunks_covers_every_allocation_in_order() {
    let mut arena = Arena::builder().block_size(64 << 10).build().unwrap();
    assert_eq!(arena.iter_allocated_chunks().count(), 0, "no block yet");
    let mut live = Vec::new();
    for i in 0..20_000u64 {
        let p = arena.alloc(i) as *mut u64 as usize;
        live.push((p, 8));
    }
    let chunks: Vec<(usize, usize)> = arena.iter_allocated_chunks().map(|c| (c.as_ptr() as usize, c.len())).collect();
    assert!(chunks.len() >= 3, "160 KB of u64s span blocks of 64 KiB");
    check_chunks(&chunks, &live, arena.allocated_bytes());
    // The contents, in allocation order: only u64s were allocated, so every byte was written.
    let mut next = 0u64;
    for chunk in arena.iter_allocated_chunks() {
        for word in chunk.chunks(8) {
            // SAFETY: every byte belongs to a `u64` written in full.
            let bytes: [u8; 8] = std::array::from_fn(|i| unsafe { word[i].assume_init() });
            assert_eq!(u64::from_ne_bytes(bytes), next);
            next += 1;
        }
    }
    assert_eq!(next, 20_000);
    // The raw form agrees; after a reset there is one, empty, chunk.
    // SAFETY: only the pointers and lengths are compared.
    let raw: Vec<(usize, usize)> = unsafe { arena.iter_allocated_chunks_raw() }.map(|(p, n)| (p as usize, n)).collect();
    assert_eq!(raw, chunks);
    arena.reset();
    assert_eq!(arena.iter_allocated_chunks().map(|c| c.len()).collect::<Vec<_>>(), [0]);
    // SyncArena: the same, with chunks of contending threads inside the blocks.
    let mut sync = Arena::builder().block_size(1 << 20).build_sync().unwrap();
    let live: Vec<(usize, usize)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let sync = &sync;
                s.spawn(move || {
                    (0..20_000)
                        .map(|i| {
                            let v = sync.alloc_slice_fill_copy(1 + i % 50, 1u8);
                            (v.as_ptr() as usize, v.len())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let allocated = sync.allocated_bytes();
    let chunks: Vec<(usize, usize)> = sync.iter_allocated_chunks().map(|c| (c.as_ptr() as usize, c.len())).collect();
    assert!(chunks.len() >= 2);
    check_chunks(&chunks, &live, allocated);
}

#[test]
fn allocator_api2_is_reexported() {
    let arena = Arena::new();
    let mut v = vmem::allocator_api2::vec::Vec::new_in(&arena);
    v.extend([1u8, 2, 3]);
    let sync = SyncArena::new();
    let mut w: vmem::allocator_api2::vec::Vec<u8, &SyncArena> = vmem::allocator_api2::vec::Vec::new_in(&sync);
    w.extend_from_slice(&v);
    assert_eq!(&w[..], [1, 2, 3]);
}

#[test]
fn sync_arena_scopes_and_checkpoints_restore_the_position() {
    let mut arena = Arena::builder().block_size(1 << 20).build_sync().unwrap();
    let keep = arena.alloc(5u64) as *const u64;
    let before = arena.allocated_bytes();
    let sum = arena.scope(|a| a.alloc_slice_fill_with(100, |i| i as u64).iter().sum::<u64>());
    assert_eq!(sum, 4950);
    assert_eq!(arena.allocated_bytes(), before);
    let mark = arena.checkpoint();
    arena.alloc_slice_fill_copy(2 << 20, 0u8); // chains
    arena.alloc_slice_fill_copy(2 << 20, 0u8); // chains
    assert!(arena.reserved_bytes() > 1 << 20);
    let late = arena.checkpoint();
    arena.rewind(mark).unwrap();
    assert_eq!(arena.allocated_bytes(), before);
    assert_eq!(arena.reserved_bytes(), 1 << 20);
    assert_eq!(arena.rewind(late).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(arena.rewind(SyncArena::new().checkpoint()).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(arena.rewind(Arena::new().checkpoint()).unwrap_err().kind(), ErrorKind::InvalidArgument);
    // SAFETY: the allocation before the checkpoint survives.
    assert_eq!(unsafe { *keep }, 5);
    let again = arena.alloc(6u64) as *const u64 as usize;
    assert!(again < keep as usize + 64, "memory after a rewind is reused");
    // Forged words are refused unless they name a position the arena holds.
    let words = arena.checkpoint().to_words();
    for (index, value) in [(2, usize::MAX), (3, words[3] + 1), (1, 7), (0, words[0] + 1000)] {
        let mut forged = words;
        forged[index] = value;
        let allocated = arena.allocated_bytes();
        assert!(arena.rewind(Checkpoint::from_words(forged)).is_err(), "{forged:?}");
        assert_eq!(arena.allocated_bytes(), allocated);
    }
    // A checkpoint of a fresh arena rewinds to the very start.
    let mut fresh = SyncArena::new();
    let start = fresh.checkpoint();
    fresh.alloc(1u8);
    fresh.rewind(start).unwrap();
    assert_eq!(fresh.allocated_bytes(), 0);
}

#[test]
fn sync_arena_rewind_voids_the_chunks_of_every_thread() {
    // Threads contend, so they take chunks; after a rewind (and after a checkpoint) no
    // thread may go on bumping in a chunk of the old state: every allocation of the next
    // round must be disjoint from every other. The workers are new threads each round (their
    // chunks die with them), but the main thread allocates too, and its chunk would outlive
    // the rewind if it were not voided.
    fn work(arena: &SyncArena, t: usize) -> Vec<(usize, usize)> {
        let mut mine = Vec::with_capacity(20_000);
        for i in 0..20_000usize {
            let len = 1 + (i * 7 + t) % 61;
            let v = arena.alloc_slice_fill_copy(len, (t * 31 + i) as u8);
            mine.push((v.as_ptr() as usize, len));
        }
        for (i, &(p, len)) in mine.iter().enumerate() {
            // SAFETY: lives as long as the arena, which is not rewound yet.
            let v = unsafe { std::slice::from_raw_parts(p as *const u8, len) };
            assert!(v.iter().all(|&b| b == (t * 31 + i) as u8), "thread {t} item {i}");
        }
        mine
    }
    let mut arena = Arena::builder().commit_step(64 << 10).block_size(4 << 20).build_sync().unwrap();
    arena.alloc(0u64);
    let base_allocated = arena.allocated_bytes();
    for _round in 0..4 {
        let mark = arena.checkpoint();
        let mut all: Vec<(usize, usize)> = std::thread::scope(|s| {
            let workers: Vec<_> = (1..4)
                .map(|t| {
                    let arena = &arena;
                    s.spawn(move || work(arena, t))
                })
                .collect();
            let mut all = work(&arena, 0);
            all.extend(workers.into_iter().flat_map(|w| w.join().unwrap()));
            all
        });
        all.sort_unstable();
        assert!(all.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0), "overlapping allocations");
        arena.rewind(mark).unwrap();
        assert_eq!(arena.allocated_bytes(), base_allocated);
    }
    // Deterministically: one thread alone takes a chunk when it reaches the committed end
    // (commit steps of 64 KiB). After a rewind its next allocation must come from the
    // shared position, right at the checkpoint, not from that chunk.
    // Allocates until this thread bumps in a chunk with room left (the arena's count stops
    // moving: a chunk counts as allocated when taken).
    fn into_a_chunk(arena: &SyncArena) {
        for i in 0..1_000_000u64 {
            let before = arena.allocated_bytes();
            arena.alloc([i, i]);
            if arena.allocated_bytes() == before {
                return;
            }
        }
        panic!("never took a chunk");
    }
    let mark = arena.checkpoint();
    into_a_chunk(&arena);
    arena.rewind(mark).unwrap();
    let next = arena.alloc(7u64) as *mut u64 as usize;
    assert_eq!(next, mark.to_words()[2], "allocated from a chunk of the rewound state");
    // The same after a checkpoint: allocations after it lie past it.
    into_a_chunk(&arena);
    let mark = arena.checkpoint();
    let next = arena.alloc(7u64) as *mut u64 as usize;
    assert_eq!(next, mark.to_words()[2], "allocated from a chunk taken before the checkpoint");
}

#[test]
fn sync_arena_allocator_grows_in_place_and_gives_back_the_last_allocation() {
    let arena = SyncArena::new();
    let mut v: allocator_api2::vec::Vec<u32, &SyncArena> = allocator_api2::vec::Vec::with_capacity_in(16, &arena);
    v.extend(0..16);
    let before = v.as_ptr();
    v.reserve(1 << 20); // 4 MiB: past the first commit step
    assert_eq!(v.as_ptr(), before, "grew by moving");
    v.extend(16..(1 << 20));
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32));
    assert!(arena.allocated_bytes() < (4 << 20) + 4096);
    let mut map = hashbrown::HashMap::new_in(&arena);
    for i in 0..1000 {
        map.insert(i, i * 2);
    }
    assert_eq!(map[&999], 1998);
    drop(map);
    // Deallocating the last allocation gives it back; a shrink gives back its tail. (Byte
    // alignment: no padding, so the counts are exact.)
    let allocated = arena.allocated_bytes();
    let layout = Layout::from_size_align(1000, 1).unwrap();
    let p = (&arena).allocate(layout).unwrap().cast::<u8>();
    assert_eq!(arena.allocated_bytes(), allocated + 1000);
    // SAFETY: allocated above with `layout`.
    let p = unsafe { (&arena).shrink(p, layout, Layout::from_size_align(100, 1).unwrap()) }.unwrap().cast::<u8>();
    assert_eq!(arena.allocated_bytes(), allocated + 100);
    // SAFETY: shrunk to 100 bytes above.
    unsafe { (&arena).deallocate(p, Layout::from_size_align(100, 1).unwrap()) };
    assert_eq!(arena.allocated_bytes(), allocated);
    // Not the last one: stays allocated, and nothing breaks.
    let a = (&arena).allocate(layout).unwrap().cast::<u8>();
    let b = (&arena).allocate(layout).unwrap().cast::<u8>();
    // SAFETY: both allocated above with `layout`.
    unsafe { (&arena).deallocate(a, layout) };
    assert_eq!(arena.allocated_bytes(), allocated + 2000);
    // SAFETY: as above.
    unsafe { (&arena).deallocate(b, layout) };
    assert_eq!(arena.allocated_bytes(), allocated + 1000);
}

/// Many threads, each growing, shrinking and dropping `Vec`s in the arena and allocating
/// plain values between, so that every check-then-act of the `Allocator` (is this the last
/// allocation? is there room?) races with other threads' bumps, chunk takes, commits and
/// new blocks. Every buffer is checked for its contents, and all that is alive at the end
/// must be disjoint. (Run under ThreadSanitizer too: see TESTING.md.)
#[test]
fn sync_arena_allocator_from_many_threads_never_overlaps() {
    let arena = Arena::builder().commit_step(64 << 10).block_size(2 << 20).build_sync().unwrap();
    let threads = 4usize;
    let rounds = if cfg!(debug_assertions) { 300 } else { 2000 };
    let kept: Vec<(usize, usize)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let arena = &arena;
                s.spawn(move || {
                    let mut kept = Vec::new();
                    let tag = |i: usize| (t * 64 + i % 64) as u8;
                    for round in 0..rounds {
                        let mut v: allocator_api2::vec::Vec<u8, &SyncArena> = allocator_api2::vec::Vec::new_in(arena);
                        let n = 1 + (round * 37 + t * 11) % 3000;
                        for i in 0..n {
                            v.push(tag(i));
                            if i % 97 == 0 {
                                // Plain allocations between the pushes: chunks and the shared
                                // position both move.
                                let x = arena.alloc([round as u8; 24]);
                                assert_eq!(x[23], round as u8);
                            }
                        }
                        assert!(v.iter().enumerate().all(|(i, &b)| b == tag(i)), "thread {t} round {round}");
                        v.truncate(n / 2 + 1);
                        v.shrink_to_fit();
                        assert!(v.iter().enumerate().all(|(i, &b)| b == tag(i)), "after shrink");
                        if round % 3 == 0 {
                            let p = v.as_ptr() as usize;
                            let len = v.len();
                            std::mem::forget(v); // stays allocated: checked at the end
                            kept.push((p, len, t));
                        } // else dropped: given back if it was the last allocation
                    }
                    for &(p, len, t) in &kept {
                        // SAFETY: forgotten vectors stay allocated until the arena is dropped.
                        let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, len) };
                        assert!(
                            bytes.iter().enumerate().all(|(i, &b)| b == (t * 64 + i % 64) as u8),
                            "a kept vector changed"
                        );
                    }
                    kept.into_iter().map(|(p, len, _)| (p, len)).collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let mut sorted = kept;
    sorted.sort_unstable();
    assert!(sorted.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0), "kept vectors overlap");
    assert!(arena.reserved_bytes() > 2 << 20, "expected chained blocks");
}

/// The `SyncArena` version of the 14.4 regression (`arena_allocator_never_rewinds_into_the_
/// previous_block` in tests/correctness.rs): with block 2 placed right above block 1, an
/// allocation that filled block 1 to its end ends exactly at block 2's start; giving it back
/// must not move block 2's position into block 1.
#[cfg(target_os = "linux")]
#[test]
fn sync_arena_allocator_never_rewinds_into_the_previous_block() {
    common::in_child("sync_arena_allocator_never_rewinds_into_the_previous_block", || {
        vmem::cache::set_max_entries(0);
        let block = 1 << 20;
        let arena = Arena::builder().block_size(block).commit_step(block).build_sync().unwrap();
        let mut placed = false;
        for _ in 0..20 {
            let hole = vmem::Reservation::new(block).unwrap();
            let hole_start = hole.as_ptr() as usize;
            let first = (&arena).allocate(Layout::new::<u64>()).unwrap().cast::<u8>().as_ptr() as usize;
            drop(hole);
            if first + block == hole_start {
                placed = true;
                break;
            }
        }
        // Under a sanitizer the runtime's own mappings take the addresses (see correctness.rs).
        let under_sanitizer = common::under_sanitizer();
        assert!(placed || under_sanitizer, "the OS never placed a block right below a hole");
        if !placed {
            return;
        }
        let used = arena.allocated_bytes();
        // The last block is the one right below the hole: fill it to its very end.
        let rest = Layout::from_size_align(block - used % block, 8).unwrap();
        let filler = (&arena).allocate(rest).unwrap().cast::<u8>();
        let next = (&arena).allocate(Layout::new::<u64>()).unwrap().cast::<u8>();
        assert_eq!(next.as_ptr() as usize, filler.as_ptr() as usize + rest.size(), "block 2 is right above block 1");
        let allocated = arena.allocated_bytes();
        // SAFETY: allocated above with this layout, not used again.
        unsafe { (&arena).deallocate(next, Layout::new::<u64>()) };
        assert_eq!(arena.allocated_bytes(), allocated - 8);
        // SAFETY: as above.
        unsafe { (&arena).deallocate(filler, rest) };
        assert_eq!(arena.allocated_bytes(), allocated - 8, "the filler is not in the current block: it stays");
        // Nor does a shrink give back its tail.
        let smaller = Layout::from_size_align(rest.size() - 8, 8).unwrap();
        // SAFETY: as above.
        let same = unsafe { (&arena).shrink(filler, rest, smaller) }.unwrap().cast::<u8>();
        assert_eq!(same, filler);
        assert_eq!(arena.allocated_bytes(), allocated - 8, "the tail is not in the current block: it stays");
        let mut arena = arena;
        let mark = arena.checkpoint();
        let p = arena.alloc(5u64) as *mut u64 as usize;
        assert!(p >= next.as_ptr() as usize, "new memory comes from block 2");
        arena.rewind(mark).unwrap();
    })
    .assert_success();
}

/// `fresh_memory_reads_zero`: an arena built with it, after structures of every size left
/// dirty regions in the warm cache, hands out only zero bytes the first time, in its first
/// and in chained blocks, for `Arena` and `SyncArena`; without it, the same set-up may not
/// (the cache is what the option skips).
#[test]
fn fresh_memory_reads_zero_when_asked_even_after_dirty_structures() {
    use std::alloc::Layout;
    fn leave_dirty_regions() {
        for &len in &[4usize << 10, 64 << 10, 1 << 20, 4 << 20] {
            drop(vmem::VirtualVec::from(vec![0xCDu8; len]));
            let a = vmem::Arena::builder().block_size(1 << 20).build().unwrap();
            a.alloc_slice_fill_copy(len.min(900 << 10), 0xCDu8);
            drop(a);
        }
    }
    let check = |p: std::ptr::NonNull<u8>, len: usize, what: &str| {
        // SAFETY: the arena promises (fresh_memory_reads_zero) that the `len` fresh bytes read zero.
        let bytes = unsafe { std::slice::from_raw_parts(p.as_ptr(), len) };
        assert_eq!(bytes.iter().filter(|&&b| b != 0).count(), 0, "{what}");
    };
    for round in 0..3 {
        leave_dirty_regions();
        let arena = vmem::Arena::builder().fresh_memory_reads_zero(true).block_size(1 << 20).build().unwrap();
        for i in 0..6 {
            let len = 300 << 10;
            check(arena.alloc_layout(Layout::from_size_align(len, 8).unwrap()), len, &format!("Arena {round}/{i}"));
        }
        leave_dirty_regions();
        let sync = vmem::Arena::builder().fresh_memory_reads_zero(true).block_size(1 << 20).build_sync().unwrap();
        for i in 0..6 {
            let len = 300 << 10;
            check(sync.alloc_layout(Layout::from_size_align(len, 8).unwrap()), len, &format!("SyncArena {round}/{i}"));
        }
    }
}
