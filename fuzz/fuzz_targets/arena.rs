//! `Arena` against a model of its live allocations: every allocation keeps its contents and
//! alignment and never overlaps another; rewinds and resets free exactly what they should;
//! limits give errors, never a panic or a lost allocation.
#![no_main]

use std::alloc::Layout;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vmem::arena::Checkpoint;
use vmem::Arena;

#[derive(Arbitrary, Debug)]
enum Op {
    Alloc { size: u16, align_shift: u8, fill: u8 },
    Huge { size: u64, align_shift: u8 },
    Checkpoint,
    Rewind(u8),
    Forged([u64; 4]),
    Reset,
}

#[derive(Arbitrary, Debug)]
struct Input {
    block_pages: u8,
    commit_pages: u8,
    max_pages: u16,
    retain_pages: u8,
    ops: Vec<Op>,
}

struct Live {
    ptr: *mut u8,
    len: usize,
    fill: u8,
}

fuzz_target!(|input: Input| {
    let page = vmem::page_size();
    let mut builder = Arena::builder()
        .block_size((usize::from(input.block_pages) + 1) * page)
        .commit_step((usize::from(input.commit_pages % 16) + 1) * page)
        .retain_bytes(usize::from(input.retain_pages % 8) * page)
        .prefault(false);
    if input.max_pages != 0 {
        builder = builder.max_bytes(usize::from(input.max_pages % 2048) * page + page);
    }
    let mut arena = builder.build().expect("valid settings");
    let mut live: Vec<Live> = Vec::new();
    // (checkpoint, number of live allocations when it was taken)
    let mut marks: Vec<(Checkpoint, usize)> = Vec::new();
    for op in input.ops {
        match op {
            Op::Alloc { size, align_shift, fill } => {
                let align = 1usize << (align_shift % 13);
                let layout = Layout::from_size_align(usize::from(size), align).unwrap();
                match arena.try_alloc_layout(layout) {
                    Ok(p) => {
                        let ptr = p.as_ptr();
                        assert_eq!(ptr as usize % align, 0, "misaligned");
                        // SAFETY: the arena just handed out `size` writable bytes.
                        unsafe { ptr.write_bytes(fill, usize::from(size)) };
                        live.push(Live { ptr, len: usize::from(size), fill });
                    }
                    Err(err) => assert!(input.max_pages != 0, "no limit, yet: {err}"),
                }
            }
            Op::Huge { size, align_shift } => {
                let align = 1usize << (align_shift % 24);
                if let Ok(layout) = Layout::from_size_align(size as usize | (1 << 40), align) {
                    assert!(arena.try_alloc_layout(layout).is_err(), "a terabyte allocation succeeded");
                }
            }
            Op::Checkpoint => marks.push((arena.checkpoint(), live.len())),
            Op::Rewind(i) => {
                if !marks.is_empty() {
                    let k = usize::from(i) % marks.len();
                    let (mark, count) = marks[k];
                    arena.rewind(mark).expect("a checkpoint still in the model is valid");
                    live.truncate(count);
                    marks.truncate(k + 1);
                }
            }
            Op::Forged(words) => {
                let words = words.map(|w| w as usize);
                let real: Vec<[usize; 4]> = marks.iter().map(|(m, _)| m.to_words()).collect();
                if !real.contains(&words) && arena.rewind(Checkpoint::from_words(words)).is_ok() {
                    // Accepted words name a position the arena holds: the model no longer
                    // knows what is live past it; start over.
                    arena.reset();
                    live.clear();
                    marks.clear();
                }
            }
            Op::Reset => {
                arena.reset();
                live.clear();
                marks.clear();
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
        assert!(arena.allocated_bytes() >= ranges.iter().map(|r| r.1).sum::<usize>());
        assert!(arena.committed_bytes() <= arena.reserved_bytes());
    }
});
