//! `Arena` and `SyncArena` (from one thread) against a model of their live allocations: every
//! allocation keeps its contents and alignment and never overlaps another; rewinds and
//! resets free exactly what they should; the typed helpers give what std gives; a lying
//! iterator is an error; the allocation limit holds; the chunks cover what is live; the
//! `Allocator` gives back, grows and shrinks without losing or overlapping anything; limits
//! give errors, never a panic or a lost allocation.
#![no_main]

use std::alloc::Layout;
use std::ptr::NonNull;

use vmem::allocator_api2::alloc::Allocator;
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vmem::arena::Checkpoint;
use vmem::{Arena, ArenaBuilder, ErrorKind, SyncArena};

#[derive(Arbitrary, Debug)]
enum Op {
    Alloc { size: u16, align_shift: u8, fill: u8 },
    Huge { size: u64, align_shift: u8 },
    /// `try_alloc_with` of a 64-byte value.
    AllocWith { fill: u8 },
    /// `try_alloc_slice_fill_iter` from an iterator that promises `len` and gives `len - short`.
    FillIter { len: u16, short: u8, fill: u8 },
    FillCopy { len: u16, fill: u8 },
    FillDefault { len: u16, fill: u8 },
    /// Through the `Allocator` interface.
    AllocatorAlloc { size: u16, align_shift: u8, fill: u8 },
    Deallocate(u8),
    Grow(u8, u16),
    Shrink(u8, u16),
    /// `None`: no limit; `Some(x)`: what is allocated now plus `x`.
    Limit(Option<u16>),
    Chunks,
    Checkpoint,
    Rewind(u8),
    Forged([u64; 4]),
    Reset,
}

#[derive(Arbitrary, Debug)]
struct Input {
    sync: bool,
    block_pages: u8,
    commit_pages: u8,
    max_pages: u16,
    retain_pages: u8,
    ops: Vec<Op>,
}

/// The calls the model makes, on either arena (their methods are inherent).
#[allow(clippy::mut_from_ref)] // as the arenas' own methods
trait Subject: Sized {
    const ROUNDS_TO: usize;
    fn build(builder: ArenaBuilder) -> Self;
    fn try_alloc_layout(&self, layout: Layout) -> vmem::Result<NonNull<u8>>;
    fn try_alloc_with(&self, fill: u8) -> vmem::Result<&mut [u8; 64]>;
    fn try_fill_iter(&self, iter: Promising, fill: u8) -> vmem::Result<&mut [u8]>;
    fn try_fill_copy(&self, len: usize, fill: u8) -> vmem::Result<&mut [u8]>;
    fn try_fill_default(&self, len: usize) -> vmem::Result<&mut [u16]>;
    fn set_limit(&self, limit: Option<usize>);
    fn limit(&self) -> Option<usize>;
    fn allocated(&self) -> usize;
    fn committed(&self) -> usize;
    fn reserved(&self) -> usize;
    fn chunks(&mut self) -> Vec<(usize, usize)>;
    fn mark(&mut self) -> Checkpoint;
    fn back(&mut self, mark: Checkpoint) -> vmem::Result<()>;
    fn clear(&mut self);
}

/// An iterator of `len` promised bytes of which it gives `gives`.
struct Promising {
    promised: usize,
    gives: usize,
}

impl Iterator for Promising {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        self.promised = self.promised.saturating_sub(1);
        self.gives = self.gives.checked_sub(1)?;
        Some(self.gives as u8)
    }
}

impl ExactSizeIterator for Promising {
    fn len(&self) -> usize {
        self.promised
    }
}

macro_rules! subject {
    ($Arena:ty, $build:ident, $rounds_to:expr) => {
        #[allow(clippy::mut_from_ref)]
        impl Subject for $Arena {
            const ROUNDS_TO: usize = $rounds_to;
            fn build(builder: ArenaBuilder) -> Self {
                builder.$build().expect("valid settings")
            }
            fn try_alloc_layout(&self, layout: Layout) -> vmem::Result<NonNull<u8>> {
                <$Arena>::try_alloc_layout(self, layout)
            }
            fn try_alloc_with(&self, fill: u8) -> vmem::Result<&mut [u8; 64]> {
                <$Arena>::try_alloc_with(self, || [fill; 64])
            }
            fn try_fill_iter(&self, iter: Promising, _fill: u8) -> vmem::Result<&mut [u8]> {
                <$Arena>::try_alloc_slice_fill_iter(self, iter)
            }
            fn try_fill_copy(&self, len: usize, fill: u8) -> vmem::Result<&mut [u8]> {
                <$Arena>::try_alloc_slice_fill_copy(self, len, fill)
            }
            fn try_fill_default(&self, len: usize) -> vmem::Result<&mut [u16]> {
                <$Arena>::try_alloc_slice_fill_default(self, len)
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
            fn committed(&self) -> usize {
                <$Arena>::committed_bytes(self)
            }
            fn reserved(&self) -> usize {
                <$Arena>::reserved_bytes(self)
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
        }
    };
}

subject!(Arena, build, 8);
subject!(SyncArena, build_sync, 1);

struct Live {
    ptr: *mut u8,
    len: usize,
    fill: u8,
    /// The alignment, if allocated through the `Allocator` interface.
    allocator_align: Option<usize>,
    /// The op that last grew it.
    grown_at: usize,
}

fn fill_bytes(ptr: *mut u8, len: usize, fill: u8) {
    // SAFETY: the arena just handed out `len` writable bytes at `ptr`.
    unsafe { ptr.write_bytes(fill, len) };
}

fn run<A: Subject>(input: Input)
where
    for<'a> &'a A: Allocator,
{
    let page = vmem::page_size();
    let mut builder = Arena::builder()
        .block_size((usize::from(input.block_pages) + 1) * page)
        .commit_step((usize::from(input.commit_pages % 16) + 1) * page)
        .retain_bytes(usize::from(input.retain_pages % 8) * page)
        .prefault(false);
    if input.max_pages != 0 {
        builder = builder.max_bytes(usize::from(input.max_pages % 2048) * page + page);
    }
    let mut arena = A::build(builder);
    let mut live: Vec<Live> = Vec::new();
    // (checkpoint, number of live allocations when it was taken, op index then)
    let mut marks: Vec<(Checkpoint, usize, usize)> = Vec::new();
    let bounded = input.max_pages != 0;
    for (n, op) in input.ops.into_iter().enumerate() {
        let before = arena.allocated();
        // (size, alignment, succeeded) of an allocating op.
        let mut asked: Option<(usize, usize, bool)> = None;
        // The `Allocator` may give back and shrink only what was allocated after the last
        // checkpoint (a rewind to a checkpoint ahead of the position is refused).
        let floor = marks.last().map_or(0, |m| m.1);
        match op {
            Op::Alloc { size, align_shift, fill } => {
                let align = 1usize << (align_shift % 13);
                let size = usize::from(size);
                let result = arena.try_alloc_layout(Layout::from_size_align(size, align).unwrap());
                if let Ok(p) = result {
                    let ptr = p.as_ptr();
                    assert_eq!(ptr as usize % align, 0, "misaligned");
                    fill_bytes(ptr, size, fill);
                    live.push(Live { ptr, len: size, fill, allocator_align: None, grown_at: 0 });
                }
                asked = Some((size, align, result.is_ok()));
            }
            Op::Huge { size, align_shift } => {
                let align = 1usize << (align_shift % 24);
                if let Ok(layout) = Layout::from_size_align(size as usize | (1 << 40), align) {
                    assert!(arena.try_alloc_layout(layout).is_err(), "a terabyte allocation succeeded");
                }
            }
            Op::AllocWith { fill } => {
                let result = arena.try_alloc_with(fill).map(|v| {
                    assert_eq!(*v, [fill; 64]);
                    v.as_mut_ptr()
                });
                if let Ok(ptr) = result {
                    live.push(Live { ptr, len: 64, fill, allocator_align: None, grown_at: 0 });
                }
                asked = Some((64, 1, result.is_ok()));
            }
            Op::FillIter { len, short, fill } => {
                let len = usize::from(len);
                let short = usize::from(short % 4).min(len);
                let model: Vec<u8> = Promising { promised: len, gives: len - short }.collect();
                match arena.try_fill_iter(Promising { promised: len, gives: len - short }, fill) {
                    Ok(slice) => {
                        assert_eq!(short, 0, "a short iterator was accepted");
                        assert_eq!(&slice[..], &model[..], "not what the iterator gave");
                        fill_bytes(slice.as_mut_ptr(), len, fill);
                        live.push(Live { ptr: slice.as_mut_ptr(), len, fill, allocator_align: None, grown_at: 0 });
                        asked = Some((len, 1, true));
                    }
                    Err(e) if short > 0 && e.kind() == ErrorKind::InvalidArgument => {}
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::OutOfMemory, "{e}");
                        asked = Some((len, 1, false));
                    }
                }
            }
            Op::FillCopy { len, fill } => {
                let len = usize::from(len);
                let result = arena.try_fill_copy(len, fill).map(|s| {
                    assert!(s.iter().all(|&b| b == fill), "not the copies asked for");
                    s.as_mut_ptr()
                });
                if let Ok(ptr) = result {
                    live.push(Live { ptr, len, fill, allocator_align: None, grown_at: 0 });
                }
                asked = Some((len, 1, result.is_ok()));
            }
            Op::FillDefault { len, fill } => {
                let len = usize::from(len);
                let result = arena.try_fill_default(len).map(|s| {
                    assert!(s.iter().all(|&x| x == 0), "not the defaults");
                    s.as_mut_ptr().cast::<u8>()
                });
                if let Ok(ptr) = result {
                    fill_bytes(ptr, 2 * len, fill);
                    live.push(Live { ptr, len: 2 * len, fill, allocator_align: None, grown_at: 0 });
                }
                asked = Some((2 * len, 2, result.is_ok()));
            }
            Op::AllocatorAlloc { size, align_shift, fill } => {
                let align = 1usize << (align_shift % 8);
                let size = usize::from(size);
                let result = (&arena).allocate(Layout::from_size_align(size, align).unwrap());
                if let Ok(p) = result {
                    let ptr = p.cast::<u8>().as_ptr();
                    assert_eq!(ptr as usize % align, 0, "misaligned");
                    fill_bytes(ptr, size, fill);
                    live.push(Live { ptr, len: size, fill, allocator_align: Some(align), grown_at: 0 });
                }
                asked = Some((size, align, result.is_ok()));
            }
            Op::Deallocate(pick) | Op::Grow(pick, _) | Op::Shrink(pick, _) => {
                let candidates: Vec<usize> =
                    (0..live.len()).filter(|&i| live[i].allocator_align.is_some() && live[i].len > 0).collect();
                if !candidates.is_empty() {
                    let i = candidates[usize::from(pick) % candidates.len()];
                    let (ptr, len, align) = (live[i].ptr, live[i].len, live[i].allocator_align.unwrap());
                    let old = Layout::from_size_align(len, align).unwrap();
                    let non_null = NonNull::new(ptr).unwrap();
                    match op {
                        Op::Deallocate(_) if i >= floor => {
                            // SAFETY: allocated through this allocator with `old`, not used again.
                            unsafe { (&arena).deallocate(non_null, old) };
                            live[i].len = 0;
                        }
                        Op::Grow(_, extra) => {
                            let new = Layout::from_size_align(len + usize::from(extra), align).unwrap();
                            // SAFETY: allocated through this allocator with `old`.
                            match unsafe { (&arena).grow(non_null, old, new) } {
                                Ok(p) => {
                                    let ptr = p.cast::<u8>().as_ptr();
                                    assert_eq!(ptr as usize % align, 0, "misaligned after grow");
                                    // SAFETY: the first `len` bytes were kept.
                                    let kept = unsafe { std::slice::from_raw_parts(ptr, len) };
                                    assert!(kept.iter().all(|&b| b == live[i].fill), "grow lost the contents");
                                    fill_bytes(ptr, new.size(), live[i].fill);
                                    live[i].ptr = ptr;
                                    live[i].len = new.size();
                                    live[i].grown_at = n;
                                    asked = Some((new.size(), align, true));
                                }
                                Err(_) => asked = Some((new.size(), align, false)),
                            }
                        }
                        Op::Shrink(_, less) if i >= floor => {
                            let new = Layout::from_size_align(len - usize::from(less).min(len), align).unwrap();
                            // SAFETY: allocated through this allocator with `old`.
                            if let Ok(p) = unsafe { (&arena).shrink(non_null, old, new) } {
                                let ptr = p.cast::<u8>().as_ptr();
                                // SAFETY: the first `new.size()` bytes were kept.
                                let kept = unsafe { std::slice::from_raw_parts(ptr, new.size()) };
                                assert!(kept.iter().all(|&b| b == live[i].fill), "shrink lost the contents");
                                live[i].ptr = ptr;
                                live[i].len = new.size();
                            }
                        }
                        _ => {}
                    }
                }
            }
            Op::Limit(extra) => {
                let limit = extra.map(|x| arena.allocated() + usize::from(x));
                arena.set_limit(limit);
                assert_eq!(arena.limit(), limit);
            }
            Op::Chunks => {
                let allocated = arena.allocated();
                let mut chunks = arena.chunks();
                assert_eq!(chunks.iter().map(|c| c.1).sum::<usize>(), allocated, "chunks do not add up");
                for a in live.iter().filter(|a| a.len > 0) {
                    let p = a.ptr as usize;
                    let holders = chunks.iter().filter(|c| p >= c.0 && p + a.len <= c.0 + c.1).count();
                    assert_eq!(holders, 1, "a live allocation in {holders} chunks");
                }
                chunks.sort_unstable();
                assert!(chunks.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0), "chunks overlap");
            }
            Op::Checkpoint => {
                let mark = arena.mark();
                marks.push((mark, live.len(), n));
            }
            Op::Rewind(i) => {
                if !marks.is_empty() {
                    let k = usize::from(i) % marks.len();
                    let (mark, count, taken_at) = marks[k];
                    arena.back(mark).expect("a checkpoint still in the model is valid");
                    live.truncate(count);
                    // Grown since: its new part may be handed out again.
                    for a in live.iter_mut().filter(|a| a.grown_at > taken_at) {
                        a.len = 0;
                    }
                    marks.truncate(k + 1);
                }
            }
            Op::Forged(words) => {
                let words = words.map(|w| w as usize);
                let real: Vec<[usize; 4]> = marks.iter().map(|(m, _, _)| m.to_words()).collect();
                if !real.contains(&words) && arena.back(Checkpoint::from_words(words)).is_ok() {
                    // Accepted words name a position the arena holds: the model no longer
                    // knows what is live past it; start over.
                    arena.clear();
                    live.clear();
                    marks.clear();
                }
            }
            Op::Reset => {
                arena.clear();
                live.clear();
                marks.clear();
            }
        }
        if let Some((size, align, ok)) = asked {
            match arena.limit() {
                Some(limit) if ok && size > 0 => {
                    assert!(arena.allocated() <= limit, "{} allocated past the limit {limit}", arena.allocated());
                }
                Some(limit) if !ok && !bounded => {
                    let most = size.next_multiple_of(A::ROUNDS_TO) + align - 1;
                    assert!(before + most > limit, "refused {size} bytes under the limit {limit}");
                }
                None => assert!(ok || bounded, "an allocation failed with no limit"),
                _ => {}
            }
        }
        // Every live allocation holds what was written; none overlap.
        let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(live.len());
        for a in &live {
            // SAFETY: live allocations stay valid until a rewind or reset past them, which
            // the model has removed from `live`.
            let bytes = unsafe { std::slice::from_raw_parts(a.ptr, a.len) };
            assert!(bytes.iter().all(|&b| b == a.fill), "an allocation changed");
            if a.len != 0 {
                ranges.push((a.ptr as usize, a.len));
            }
        }
        ranges.sort_unstable();
        assert!(ranges.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0), "overlapping allocations");
        assert!(arena.allocated() >= ranges.iter().map(|r| r.1).sum::<usize>());
        assert!(arena.committed() <= arena.reserved());
    }
}

fuzz_target!(|input: Input| {
    if input.sync {
        run::<SyncArena>(input)
    } else {
        run::<Arena>(input)
    }
});
