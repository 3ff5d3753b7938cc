//! Every bad input to the core layer comes back as an error, never a panic or UB.

use vmem::{ErrorKind, Protection, Reservation};

fn kind<T: std::fmt::Debug>(result: vmem::Result<T>) -> ErrorKind {
    result.unwrap_err().kind()
}

#[test]
fn zero_sizes_are_invalid_everywhere() {
    let r = Reservation::new(vmem::page_size()).unwrap();
    let p = r.as_ptr();
    assert_eq!(kind(vmem::reserve(0)), ErrorKind::InvalidArgument);
    assert_eq!(kind(vmem::reserve_aligned(0, 1 << 21)), ErrorKind::InvalidArgument);
    assert_eq!(kind(Reservation::new(0)), ErrorKind::InvalidArgument);
    // SAFETY: every call below is refused before it reaches the OS.
    unsafe {
        assert_eq!(kind(vmem::commit(p, 0)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::decommit(p, 0)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::protect(p, 0, Protection::Read)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::lock(p, 0)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::unlock(p, 0)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::prefault(p, 0)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::advise_huge_pages(p, 0)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::release(p, 0)), ErrorKind::InvalidArgument);
    }
    assert_eq!(kind(vmem::query(p, 0)), ErrorKind::InvalidArgument);
    assert_eq!(kind(r.commit(0, 0)), ErrorKind::InvalidArgument);
    assert_eq!(kind(r.decommit(0, 0)), ErrorKind::InvalidArgument);
    assert_eq!(kind(r.protect(0, 0, Protection::Read)), ErrorKind::InvalidArgument);
    assert_eq!(kind(r.guard(0, 0)), ErrorKind::InvalidArgument);
    assert_eq!(kind(r.lock(0, 0)), ErrorKind::InvalidArgument);
    assert_eq!(kind(r.unlock(0, 0)), ErrorKind::InvalidArgument);
    assert_eq!(kind(r.prefault(0, 0)), ErrorKind::InvalidArgument);
    assert_eq!(kind(r.advise_huge_pages(0, 0)), ErrorKind::InvalidArgument);
    assert_eq!(kind(r.query_range(0, 0)), ErrorKind::InvalidArgument);
}

#[test]
fn null_pointers_are_invalid_everywhere() {
    let null = std::ptr::null_mut();
    // SAFETY: every call below is refused before it reaches the OS.
    unsafe {
        assert_eq!(kind(vmem::commit(null, 4096)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::decommit(null, 4096)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::protect(null, 4096, Protection::ReadWrite)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::lock(null, 4096)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::unlock(null, 4096)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::prefault(null, 4096)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::advise_huge_pages(null, 4096)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::release(null, 4096)), ErrorKind::InvalidArgument);
    }
    assert_eq!(kind(vmem::query(null, 4096)), ErrorKind::InvalidArgument);
    let err = vmem::query(null, 4096).unwrap_err();
    assert!(err.to_string().contains("null"), "{err}");
}

#[test]
fn ranges_outside_the_reservation_are_out_of_bounds() {
    let page = vmem::page_size();
    let r = Reservation::new(4 * page).unwrap();
    let len = r.len();
    let cases =
        [(0, len + 1), (len, 1), (len - 1, 2), (usize::MAX, 1), (1, usize::MAX), (usize::MAX / 2, usize::MAX / 2 + 2)];
    for (offset, size) in cases {
        assert_eq!(kind(r.commit(offset, size)), ErrorKind::OutOfBounds, "commit {offset} {size}");
        assert_eq!(kind(r.decommit(offset, size)), ErrorKind::OutOfBounds);
        assert_eq!(kind(r.protect(offset, size, Protection::Read)), ErrorKind::OutOfBounds);
        assert_eq!(kind(r.guard(offset, size)), ErrorKind::OutOfBounds);
        assert_eq!(kind(r.lock(offset, size)), ErrorKind::OutOfBounds);
        assert_eq!(kind(r.unlock(offset, size)), ErrorKind::OutOfBounds);
        assert_eq!(kind(r.prefault(offset, size)), ErrorKind::OutOfBounds);
        assert_eq!(kind(r.advise_huge_pages(offset, size)), ErrorKind::OutOfBounds);
        assert_eq!(kind(r.query_range(offset, size)), ErrorKind::OutOfBounds);
    }
    let err = r.commit(0, len + 1).unwrap_err();
    assert_eq!(err.limit(), Some(("reservation length", len as u64)));
    assert!(err.to_string().contains("past the end of the reservation"), "{err}");
    // The whole reservation is fine.
    r.commit(0, len).unwrap();
}

#[test]
fn sizes_near_usize_max_are_errors() {
    for size in [usize::MAX, usize::MAX - 1, usize::MAX - 4096, isize::MAX as usize + 1] {
        let err = vmem::reserve(size).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutOfAddressSpace, "{size}: {err}");
        assert_eq!(kind(Reservation::new(size)), ErrorKind::OutOfAddressSpace);
        assert!(vmem::reserve_aligned(size, 1 << 21).is_err());
    }
    let r = Reservation::new(vmem::page_size()).unwrap();
    let p = r.as_ptr();
    // SAFETY: every call below is refused before it reaches the OS.
    unsafe {
        assert_eq!(kind(vmem::commit(p, usize::MAX)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::decommit(p, usize::MAX - 10)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::protect(p, usize::MAX, Protection::Read)), ErrorKind::InvalidArgument);
        assert_eq!(kind(vmem::lock(p, usize::MAX)), ErrorKind::InvalidArgument);
        assert!(vmem::release(p, usize::MAX).is_err());
    }
    assert_eq!(kind(vmem::query(p, usize::MAX)), ErrorKind::InvalidArgument);
    // An aligned reservation whose padding overflows is refused too.
    assert!(vmem::reserve_aligned(isize::MAX as usize - 4095, 1 << 40).is_err());
}

#[test]
fn misaligned_release_is_invalid() {
    let page = vmem::page_size();
    let r = Reservation::new(2 * page).unwrap();
    // SAFETY: refused before it reaches the OS: the pointer is not page-aligned.
    let err = unsafe { vmem::release(r.as_ptr().add(1), page) }.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("misaligned"), "{err}");
    // The reservation is untouched.
    r.commit(0, 2 * page).unwrap();
}

#[test]
fn bad_alignments_are_invalid() {
    assert_eq!(kind(vmem::align_up(1, 0)), ErrorKind::InvalidArgument);
    assert_eq!(kind(vmem::align_up(1, 3)), ErrorKind::InvalidArgument);
    assert_eq!(kind(vmem::align_down(1, 0)), ErrorKind::InvalidArgument);
    assert_eq!(kind(vmem::align_down(1, 12)), ErrorKind::InvalidArgument);
    assert_eq!(kind(vmem::align_up(usize::MAX, 2)), ErrorKind::InvalidArgument);
    assert_eq!(kind(vmem::reserve_aligned(4096, 3)), ErrorKind::InvalidArgument);
    assert_eq!(kind(vmem::reserve_aligned(4096, 0)), ErrorKind::InvalidArgument);
    assert_eq!(kind(Reservation::with_alignment(4096, 6000)), ErrorKind::InvalidArgument);
}

#[test]
fn aligned_reservations_are_aligned() {
    for shift in [12, 16, 21, 26, 30] {
        let align = 1usize << shift;
        let r = Reservation::with_alignment(3 * vmem::page_size(), align).unwrap();
        assert!(vmem::is_aligned(r.as_ptr() as usize, align), "{align}");
        r.commit(0, r.len()).unwrap();
    }
}

#[test]
fn sizes_round_up_to_pages() {
    let page = vmem::page_size();
    for size in [1, page - 1, page, page + 1, 10 * page + 7] {
        let r = Reservation::new(size).unwrap();
        assert_eq!(r.len(), size.div_ceil(page) * page);
        assert!(vmem::is_aligned(r.as_ptr() as usize, vmem::allocation_granularity()));
    }
}

#[test]
fn commit_acts_on_every_page_touched_by_the_range() {
    let page = vmem::page_size();
    let r = Reservation::new(4 * page).unwrap();
    // Two bytes straddling the boundary of pages 1 and 2 commit both pages.
    r.commit(2 * page - 1, 2).unwrap();
    // SAFETY: pages 1 and 2 are committed.
    unsafe {
        r.as_ptr().add(page).write(1);
        r.as_ptr().add(3 * page - 1).write(1);
    }
    #[cfg(target_os = "linux")]
    {
        let runs = r.query().unwrap();
        assert_eq!(runs.len(), 3, "{runs:?}");
        assert_eq!(runs[1].size, 2 * page);
    }
}

#[test]
fn errors_convert_to_io_errors() {
    let err: std::io::Error = vmem::reserve(0).unwrap_err().into();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("reserve"));
}
