//! Model-based test of the core layer: random sequences of reserve / commit / decommit /
//! protect / lock / unlock / write / read / release on several reservations, checked after
//! every step against a model of every page's state, protection and contents, and against
//! what `query()` reports.
//!
//! `protect` of a range with a reserved page is refused and changes nothing (on every OS).
//! The model follows Linux semantics (the only platform where this runs) for `query`: a
//! committed page made inaccessible may be reported `Reserved` (the kernel uncharges pages
//! that were never written), so for those pages both states are accepted.
#![cfg(target_os = "linux")]

use proptest::prelude::*;
use vmem::{ErrorKind, PageState, Protection, Reservation};

/// Pages per reservation in the model.
const PAGES: usize = 8;
/// Reservations alive at most at once.
const MAX_LIVE: usize = 3;

/// Byte offsets inside a page that the model tracks.
fn tracked_offsets() -> [usize; 4] {
    let page = vmem::page_size();
    [0, 1, page / 2, page - 1]
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ModelPage {
    Reserved,
    Committed(Protection),
}

struct ModelReservation {
    real: Reservation,
    pages: [ModelPage; PAGES],
    /// The tracked bytes of each page.
    bytes: [[u8; 4]; PAGES],
}

#[derive(Clone, Debug)]
enum Op {
    Reserve,
    Release(usize),
    Commit(usize, usize, usize),
    Decommit(usize, usize, usize),
    Protect(usize, usize, usize, Protection),
    Lock(usize, usize, usize),
    Unlock(usize, usize, usize),
    Write(usize, usize, u8),
    Read(usize, usize),
}

fn protection() -> impl Strategy<Value = Protection> {
    prop::sample::select(vec![Protection::NoAccess, Protection::Read, Protection::ReadWrite, Protection::ReadExecute])
}

fn op() -> impl Strategy<Value = Op> {
    // Mostly valid page ranges; some empty or reaching past the end (first + count > PAGES),
    // to exercise InvalidArgument and OutOfBounds.
    let pages = prop_oneof![
        8 => (0..PAGES).prop_flat_map(|first| (Just(first), 1..=PAGES - first)),
        1 => (0..PAGES + 2, 0..PAGES + 2),
    ];
    let range = (0..4usize, pages).prop_map(|(r, (first, count))| (r, first, count));
    prop_oneof![
        2 => Just(Op::Reserve),
        1 => (0..4usize).prop_map(Op::Release),
        4 => range.clone().prop_map(|(r, a, n)| Op::Commit(r, a, n)),
        3 => range.clone().prop_map(|(r, a, n)| Op::Decommit(r, a, n)),
        3 => (range.clone(), protection()).prop_map(|((r, a, n), p)| Op::Protect(r, a, n, p)),
        1 => range.clone().prop_map(|(r, a, n)| Op::Lock(r, a, n)),
        1 => range.prop_map(|(r, a, n)| Op::Unlock(r, a, n)),
        5 => (0..4usize, 0..PAGES, any::<u8>()).prop_map(|(r, p, v)| Op::Write(r, p, v)),
        4 => (0..4usize, 0..PAGES).prop_map(|(r, p)| Op::Read(r, p)),
    ]
}

/// Checks the error for a range op: zero length is InvalidArgument, past the end
/// OutOfBounds. Returns true when the range is valid.
fn check_range_result(result: &vmem::Result<()>, first: usize, count: usize) -> bool {
    if count == 0 {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidArgument);
        false
    } else if first + count > PAGES {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::OutOfBounds, "{result:?}");
        false
    } else {
        true
    }
}

impl ModelReservation {
    fn new() -> ModelReservation {
        ModelReservation {
            real: Reservation::new(PAGES * vmem::page_size()).unwrap(),
            pages: [ModelPage::Reserved; PAGES],
            bytes: [[0; 4]; PAGES],
        }
    }

    fn byte_ptr(&self, page: usize, slot: usize) -> *mut u8 {
        self.real.as_ptr().wrapping_add(page * vmem::page_size() + tracked_offsets()[slot])
    }

    /// Compares every page with `query()` and every readable page's tracked bytes.
    fn verify(&self) {
        let page_size = vmem::page_size();
        let runs = self.real.query().unwrap();
        assert_eq!(runs.first().unwrap().start, self.real.as_ptr() as usize);
        assert_eq!(runs.iter().map(|r| r.size).sum::<usize>(), PAGES * page_size);
        for window in runs.windows(2) {
            assert_eq!(window[0].end(), window[1].start, "runs must be contiguous: {runs:?}");
            assert!(
                (window[0].state, window[0].protection) != (window[1].state, window[1].protection),
                "adjacent runs must differ: {runs:?}"
            );
        }
        for (index, expected) in self.pages.iter().enumerate() {
            let address = self.real.as_ptr() as usize + index * page_size;
            let run = runs.iter().find(|r| r.start <= address && address < r.end()).unwrap();
            match *expected {
                ModelPage::Reserved => {
                    assert_eq!((run.state, run.protection), (PageState::Reserved, Protection::NoAccess), "page {index}")
                }
                ModelPage::Committed(Protection::NoAccess) => {
                    assert_eq!(run.protection, Protection::NoAccess, "page {index}");
                    assert_ne!(run.state, PageState::Free, "page {index}");
                }
                ModelPage::Committed(p) => {
                    assert_eq!((run.state, run.protection), (PageState::Committed, p), "page {index}: {runs:?}")
                }
            }
            if let ModelPage::Committed(p) = expected {
                if p.can_read() {
                    for slot in 0..4 {
                        // SAFETY: the page is committed and readable (checked against query above).
                        let value = unsafe { self.byte_ptr(index, slot).read_volatile() };
                        assert_eq!(value, self.bytes[index][slot], "page {index} slot {slot}");
                    }
                }
            }
        }
    }
}

/// The live reservation that index `i` names, if any is alive.
fn pick(live: &mut [ModelReservation], i: usize) -> Option<&mut ModelReservation> {
    let len = live.len();
    live.get_mut(i.checked_rem(len)?)
}

/// The tests of this file take turns: a release is checked by asking whether the range is
/// free, which a reservation made by a test on another thread in between would spoil.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(ops: Vec<Op>) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let page = vmem::page_size();
    let mut live: Vec<ModelReservation> = Vec::new();
    for op in ops {
        match op {
            Op::Reserve => {
                if live.len() < MAX_LIVE {
                    live.push(ModelReservation::new());
                }
            }
            Op::Release(i) => {
                if !live.is_empty() {
                    let gone = live.remove(i % live.len());
                    let (base, len) = (gone.real.as_ptr() as usize, gone.real.len());
                    drop(gone);
                    // Released address space is free, unless something else was mapped there
                    // since: nothing in a plain run, but AddressSanitizer's allocator maps
                    // memory anywhere, at any time.
                    let runs = vmem::query(base as *const u8, len).unwrap();
                    let asan = std::env::var_os("VMEM_UNDER_ASAN").is_some();
                    assert!(asan || runs.iter().all(|r| r.state == PageState::Free), "{runs:?}");
                }
            }
            Op::Commit(i, first, count) => {
                let Some(m) = pick(&mut live, i) else { continue };
                let result = m.real.commit(first * page, count * page);
                if check_range_result(&result, first, count) {
                    result.unwrap();
                    for p in first..first + count {
                        if m.pages[p] == ModelPage::Reserved {
                            m.bytes[p] = [0; 4];
                        }
                        m.pages[p] = ModelPage::Committed(Protection::ReadWrite);
                    }
                }
            }
            Op::Decommit(i, first, count) => {
                let Some(m) = pick(&mut live, i) else { continue };
                let result = m.real.decommit(first * page, count * page);
                if check_range_result(&result, first, count) {
                    result.unwrap();
                    for p in first..first + count {
                        m.pages[p] = ModelPage::Reserved;
                        m.bytes[p] = [0; 4];
                    }
                }
            }
            Op::Protect(i, first, count, protection) => {
                let Some(m) = pick(&mut live, i) else { continue };
                let result = m.real.protect(first * page, count * page, protection);
                if check_range_result(&result, first, count) {
                    if m.pages[first..first + count].contains(&ModelPage::Reserved) {
                        // Protecting reserved pages would make them usable without a commit.
                        assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidArgument);
                    } else {
                        result.unwrap();
                        m.pages[first..first + count].fill(ModelPage::Committed(protection));
                    }
                }
            }
            Op::Lock(i, first, count) => {
                let Some(m) = pick(&mut live, i) else { continue };
                let result = m.real.lock(first * page, count * page);
                if check_range_result(&result, first, count) {
                    let lockable = m.pages[first..first + count]
                        .iter()
                        .all(|p| matches!(p, ModelPage::Committed(p) if *p != Protection::NoAccess));
                    if lockable {
                        // A lock limit may refuse even lockable pages; then it is a limit error.
                        if let Err(e) = result {
                            assert!(matches!(e.kind(), ErrorKind::OutOfMemory | ErrorKind::PermissionDenied), "{e}");
                        }
                    } else {
                        assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidArgument);
                    }
                }
            }
            Op::Unlock(i, first, count) => {
                let Some(m) = pick(&mut live, i) else { continue };
                let result = m.real.unlock(first * page, count * page);
                if check_range_result(&result, first, count) {
                    result.unwrap();
                }
            }
            Op::Write(i, p, value) => {
                let Some(m) = pick(&mut live, i) else { continue };
                if matches!(m.pages[p], ModelPage::Committed(prot) if prot.can_write()) {
                    for slot in 0..4 {
                        let v = value.wrapping_add(slot as u8);
                        // SAFETY: the model says the page is committed and writable, and
                        // `verify` checked the model against the OS after the last step.
                        unsafe { m.byte_ptr(p, slot).write_volatile(v) };
                        m.bytes[p][slot] = v;
                    }
                }
            }
            Op::Read(i, p) => {
                let Some(m) = pick(&mut live, i) else { continue };
                if matches!(m.pages[p], ModelPage::Committed(prot) if prot.can_read()) {
                    // SAFETY: committed and readable per the verified model.
                    let first = unsafe { m.byte_ptr(p, 0).read_volatile() };
                    assert_eq!(first, m.bytes[p][0]);
                }
            }
        }
        for m in &live {
            m.verify();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("VMEM_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        .. ProptestConfig::default()
    })]

    #[test]
    fn core_layer_matches_the_model(ops in prop::collection::vec(op(), 1..60)) {
        run(ops);
    }
}

/// The example sequence of issue 2, as a fixed case.
#[test]
fn fixed_sequence_commit_protect_decommit() {
    run(vec![
        Op::Reserve,
        Op::Commit(0, 1, 3),
        Op::Write(0, 2, 9),
        Op::Protect(0, 2, 1, Protection::Read),
        Op::Read(0, 2),
        Op::Protect(0, 2, 1, Protection::NoAccess),
        Op::Protect(0, 2, 1, Protection::ReadWrite),
        Op::Read(0, 2),
        Op::Decommit(0, 0, 8),
        Op::Commit(0, 0, 8),
        Op::Read(0, 2),
        Op::Lock(0, 0, 1),
        Op::Unlock(0, 0, 1),
        Op::Release(0),
    ]);
}
