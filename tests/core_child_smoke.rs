//! Checks the child-process helper itself: a fault in the child is seen by the parent.
#![cfg(unix)]
mod common;

#[test]
fn reading_reserved_memory_faults() {
    let outcome = common::in_child("reading_reserved_memory_faults", || {
        let r = vmem::Reservation::new(vmem::page_size()).unwrap();
        // SAFETY: deliberately not: this read must fault, killing the child.
        let value = unsafe { r.as_ptr().read_volatile() };
        println!("read {value} from reserved memory");
    });
    assert_eq!(outcome.signal, Some(rustix::process::Signal::SEGV.as_raw()), "{outcome:#?}");
}
