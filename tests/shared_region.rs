//! `SharedRegion`: growth seen by another process (inherited descriptor and `SCM_RIGHTS`), a
//! peer writing garbage into the header, leaks.
#![cfg(unix)]

mod common;

use common::ipc::{is_child, spawn_child};

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use vmem::{ErrorKind, SharedRegion};

/// Polls `done` every 100 µs for up to 30 s.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_micros(100));
    }
}

fn read(region: &SharedRegion, offset: usize, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    region.read_at(offset, &mut buf).unwrap();
    buf
}

/// What the child of both cross-process tests does with the region it got: check the
/// parent's bytes, answer, follow the parent's growth to 256 MiB without moving, answer.
fn child_side(mut region: SharedRegion) {
    assert!(!region.is_creator());
    assert_eq!(read(&region, 0, 6), b"parent");
    let base = region.as_ptr();
    region.write_at(100, b"child").unwrap();
    wait_for("the parent to grow the region", || region.refresh().unwrap() == 256 << 20);
    assert_eq!(region.as_ptr(), base);
    assert_eq!(read(&region, (256 << 20) - 1, 1), [0xAB]);
    assert_eq!(region.grow(512 << 20).unwrap_err().kind(), ErrorKind::PermissionDenied);
    region.write_at(200, b"done").unwrap();
}

/// The parent side: wait for the child's answer, grow, wait for the second answer.
fn parent_side(region: &mut SharedRegion, child: &mut std::process::Child) {
    let base = region.as_ptr();
    wait_for("the child's answer", || read(region, 100, 5) == b"child");
    region.grow(256 << 20).unwrap();
    assert_eq!(region.as_ptr(), base);
    region.write_at((256 << 20) - 1, &[0xAB]).unwrap();
    wait_for("the child's second answer", || read(region, 200, 4) == b"done");
    let status = child.wait().unwrap();
    assert!(status.success(), "child failed: {status:?}");
}

#[test]
fn a_child_inherits_the_descriptor_and_follows_growth() {
    let mut region = SharedRegion::create(4096, 1 << 30).unwrap();
    region.write_at(0, b"parent").unwrap();
    region.set_inheritable(true).unwrap();
    let mut child = spawn_child("inherited_child", &[("VMEM_REGION_FD", region.as_raw_fd().to_string())]);
    region.set_inheritable(false).unwrap();
    parent_side(&mut region, &mut child);
}

/// The child of `a_child_inherits_the_descriptor_and_follows_growth`.
#[test]
fn inherited_child() {
    if !is_child("inherited_child") {
        return;
    }
    let fd: i32 = std::env::var("VMEM_REGION_FD").unwrap().parse().unwrap();
    // SAFETY: the parent left this descriptor open across exec for us; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    child_side(SharedRegion::from_fd(fd).unwrap());
}

#[test]
fn a_region_sent_over_a_unix_socket() {
    let dir = std::env::temp_dir().join(format!("vmem-test-shared-sock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let socket_path = dir.join("s");
    let listener = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
    let mut region = SharedRegion::create(4096, 1 << 30).unwrap();
    region.write_at(0, b"parent").unwrap();
    let mut child = spawn_child("socket_child", &[("VMEM_REGION_SOCKET", socket_path.display().to_string())]);
    let (stream, _) = listener.accept().unwrap();
    region.send_to(&stream).unwrap();
    parent_side(&mut region, &mut child);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The child of `a_region_sent_over_a_unix_socket`.
#[test]
fn socket_child() {
    if !is_child("socket_child") {
        return;
    }
    let stream = std::os::unix::net::UnixStream::connect(std::env::var("VMEM_REGION_SOCKET").unwrap()).unwrap();
    child_side(SharedRegion::receive_from(&stream).unwrap());
}

#[test]
fn a_closed_socket_is_disconnected() {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(a);
    assert_eq!(SharedRegion::receive_from(&b).unwrap_err().kind(), ErrorKind::Disconnected);
}

/// The header's length field, as a misbehaving peer would write it.
fn header_len(region: &SharedRegion) -> *mut u64 {
    region.as_ptr().wrapping_sub(vmem::page_size()).wrapping_add(24).cast()
}

#[test]
fn garbage_in_the_header_never_maps_outside() {
    let mut creator = SharedRegion::create(8192, 1 << 20).unwrap();
    creator.write_at(0, b"intact").unwrap();
    let mut follower = SharedRegion::from_fd(creator.as_fd().try_clone_to_owned().unwrap()).unwrap();
    let len = header_len(&creator);
    for garbage in [u64::MAX, (1 << 20) + 1, 1 << 40, 100, 0, 1 << 19] {
        // SAFETY: the header page is mapped read-write; this plays the misbehaving peer (the
        // field is only accessed atomically by the library, and this test is single-threaded).
        unsafe { len.write_volatile(garbage) };
        let err = follower.refresh().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{garbage}: {err}");
        assert_eq!(follower.len(), 8192);
        assert_eq!(read(&follower, 0, 6), b"intact");
    }
    // A length within max_len but past the object's real size (1 << 19 above) is refused too;
    // the honest value works again.
    // SAFETY: as above.
    unsafe { len.write_volatile(8192) };
    assert_eq!(follower.refresh().unwrap(), 8192);
    creator.grow(1 << 20).unwrap();
    assert_eq!(follower.refresh().unwrap(), 1 << 20);

    // A wrong magic or maximum is refused at open.
    let header = creator.as_ptr().wrapping_sub(vmem::page_size());
    // SAFETY: as above.
    unsafe { header.add(16).cast::<u64>().write_volatile(u64::MAX) };
    let err = SharedRegion::from_fd(creator.as_fd().try_clone_to_owned().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfAddressSpace, "{err}");
    // SAFETY: as above.
    unsafe { header.write_volatile(b'X') };
    let err = SharedRegion::from_fd(creator.as_fd().try_clone_to_owned().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
}

#[test]
fn bad_arguments() {
    assert_eq!(SharedRegion::create(0, 0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(SharedRegion::create(2, 1).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(SharedRegion::create(0, usize::MAX).unwrap_err().kind(), ErrorKind::OutOfAddressSpace);
    let mut region = SharedRegion::create(10, 100).unwrap();
    assert_eq!(region.grow(5).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(region.grow(101).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(region.read_at(usize::MAX, &mut [0; 2]).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(region.write_at(10, b"x").unwrap_err().kind(), ErrorKind::OutOfBounds);
    region.grow(100).unwrap();
    region.write_at(99, b"x").unwrap();
    // A zero-length region maps only its header.
    let empty = SharedRegion::create(0, 1).unwrap();
    // SAFETY: nobody else has it.
    assert!(unsafe { empty.as_slice() }.is_empty());
    let file = std::fs::File::open("/dev/null").unwrap();
    assert!(SharedRegion::from_fd(file.into()).is_err());
}

#[cfg(target_os = "linux")]
#[test]
fn no_descriptor_or_mapping_leaks() {
    common::in_child("no_descriptor_or_mapping_leaks", || {
        let count = |path: &str| std::fs::read_dir(path).map(|d| d.count()).unwrap_or(0);
        let maps = || std::fs::read_to_string("/proc/self/maps").unwrap().lines().count();
        let (fds, mappings) = (count("/proc/self/fd"), maps());
        for _ in 0..200 {
            let mut region = SharedRegion::create(4096, 1 << 30).unwrap();
            let mut other = SharedRegion::from_fd(region.as_fd().try_clone_to_owned().unwrap()).unwrap();
            region.grow(1 << 20).unwrap();
            other.refresh().unwrap();
            let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
            region.send_to(&a).unwrap();
            drop(SharedRegion::receive_from(&b).unwrap());
        }
        assert_eq!(count("/proc/self/fd"), fds);
        // 200 rounds: a leak would be 200 mappings or more.
        assert!(maps() <= mappings + common::mapping_slack(), "{} mappings, {mappings} before", maps());
    })
    .assert_success();
}

#[cfg(target_os = "linux")]
#[test]
fn the_memfd_cannot_be_shrunk_by_a_peer() {
    let region = SharedRegion::create(1 << 20, 1 << 20).unwrap();
    let err = rustix::fs::ftruncate(region.as_fd(), 4096).unwrap_err();
    assert_eq!(err, rustix::io::Errno::PERM);
}

/// A peer that sends an object it can truncate later (a `memfd` without the shrink seal,
/// holding a copy of a real region's header) would make a later `read_at` of the lost pages
/// a `SIGBUS` from safe code: such an object is refused; the same object sealed is taken.
#[cfg(target_os = "linux")]
#[test]
fn an_object_the_sender_could_truncate_is_refused() {
    use rustix::fs::{fcntl_add_seals, ftruncate, memfd_create, MemfdFlags, SealFlags};
    let real = SharedRegion::create(4096, 1 << 20).unwrap();
    let page = vmem::page_size();
    let forge = |sealed: bool| {
        let forged = memfd_create(c"forged", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING).unwrap();
        ftruncate(&forged, (page + 4096) as u64).unwrap();
        let mut header = vec![0u8; page];
        // SAFETY: the real region's header page is mapped readable right before `as_ptr()`.
        unsafe { real.as_ptr().sub(page).copy_to_nonoverlapping(header.as_mut_ptr(), page) };
        rustix::io::pwrite(&forged, &header, 0).unwrap();
        if sealed {
            fcntl_add_seals(&forged, SealFlags::SHRINK).unwrap();
        }
        forged
    };
    let err = SharedRegion::from_fd(forge(false)).unwrap_err();
    assert_eq!(err.kind(), vmem::ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("sealed"), "{err}");
    let taken = SharedRegion::from_fd(forge(true)).unwrap();
    assert_eq!(taken.len(), 4096);
}
