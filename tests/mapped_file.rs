//! `MappedFile`: growth in place, shrink, reopen, read-only, bounds, limits, leaks, and data
//! seen by another process.

mod common;

use std::path::PathBuf;

use vmem::{ErrorKind, MappedFile};

/// A fresh, empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vmem-test-mapped-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn grows_in_place_from_one_mib_to_one_gib() {
    let dir = temp_dir("grow");
    let mut file = MappedFile::options().create(true).max_size(1 << 30).open(dir.join("f")).unwrap();
    let base = file.as_ptr();
    let mut len = 0;
    while len < 1 << 30 {
        len += 1 << 20;
        file.set_len(len).unwrap();
        assert_eq!(file.as_ptr(), base);
        // Mark the first byte of each MiB: every earlier mark must still be there.
        file.write_at(len - (1 << 20), &[(len >> 20) as u8]).unwrap();
    }
    for mib in 1..=1024usize {
        let mut b = [0u8];
        file.read_at((mib - 1) << 20, &mut b).unwrap();
        assert_eq!(b[0], mib as u8);
    }
    assert_eq!(std::fs::metadata(dir.join("f")).unwrap().len(), 1 << 30);
    drop(file);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lengths_that_are_not_page_multiples() {
    let dir = temp_dir("odd");
    let path = dir.join("f");
    let page = vmem::page_size();
    let mut file = MappedFile::create(&path).unwrap();
    for len in [1, page - 1, page, page + 1, 3 * page + 7, 2, 0, 5 * page - 1] {
        file.set_len(len).unwrap();
        assert_eq!(file.len(), len);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len as u64);
        if len > 0 {
            file.write_at(len - 1, &[0xEE]).unwrap();
            let mut b = [0u8];
            file.read_at(len - 1, &mut b).unwrap();
            assert_eq!(b[0], 0xEE);
        }
        // One past the end is refused, however close to the page end.
        assert_eq!(file.read_at(len, &mut [0u8]).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert_eq!(file.write_at(len, &[1]).unwrap_err().kind(), ErrorKind::OutOfBounds);
    }
    drop(file);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shrink_then_grow_reads_zero() {
    let dir = temp_dir("shrink");
    let mut file = MappedFile::create(dir.join("f")).unwrap();
    file.set_len(1 << 20).unwrap();
    file.write_at(0, &[7u8; 1 << 20]).unwrap();
    file.set_len(100).unwrap();
    file.set_len(1 << 20).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    file.read_at(0, &mut buf).unwrap();
    assert!(buf[..100].iter().all(|&b| b == 7));
    assert!(buf[100..].iter().all(|&b| b == 0), "bytes past a shrink read zero after growing again");
    drop(file);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reopen_after_drop_sees_the_data() {
    let dir = temp_dir("reopen");
    let path = dir.join("f");
    let mut file = MappedFile::create(&path).unwrap();
    file.set_len(10_000).unwrap();
    file.write_at(9_990, b"0123456789").unwrap();
    file.flush().unwrap();
    drop(file);
    let file = MappedFile::open(&path).unwrap();
    assert_eq!(file.len(), 10_000);
    let mut buf = [0u8; 10];
    file.read_at(9_990, &mut buf).unwrap();
    assert_eq!(&buf, b"0123456789");
    // SAFETY: nothing else uses the file.
    assert_eq!(&unsafe { file.as_slice() }[9_990..], b"0123456789");
    drop(file);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn read_only_refuses_changes() {
    let dir = temp_dir("ro");
    let path = dir.join("f");
    std::fs::write(&path, b"read me").unwrap();
    let mut file = MappedFile::open_read_only(&path).unwrap();
    assert!(!file.is_writable());
    assert_eq!(file.set_len(100).unwrap_err().kind(), ErrorKind::PermissionDenied);
    assert_eq!(file.write_at(0, b"x").unwrap_err().kind(), ErrorKind::PermissionDenied);
    // SAFETY: nothing else uses the file.
    assert_eq!(unsafe { file.as_mut_slice() }.unwrap_err().kind(), ErrorKind::PermissionDenied);
    // SAFETY: as above.
    assert_eq!(unsafe { file.as_slice() }, b"read me");
    assert_eq!(file.len(), 7);
    assert!(MappedFile::options().write(false).create(true).open(&path).is_err());
    drop(file);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_sizes_are_errors() {
    let dir = temp_dir("sizes");
    let path = dir.join("f");
    assert_eq!(
        MappedFile::options().create(true).max_size(0).open(&path).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    for max in [usize::MAX, usize::MAX - 1, isize::MAX as usize + 1] {
        let err = MappedFile::options().create(true).max_size(max).open(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutOfAddressSpace, "{err}");
    }
    // Near the top of the address space: the reservation itself fails, with an error.
    let err = MappedFile::options().create(true).max_size(isize::MAX as usize - 4095).open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfAddressSpace, "{err}");
    // A file longer than max_size.
    std::fs::write(&path, vec![1u8; 10_000]).unwrap();
    let err = MappedFile::options().max_size(4096).open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfBounds, "{err}");
    let mut file = MappedFile::options().max_size(10_000).open(&path).unwrap();
    let max = file.max_size();
    assert_eq!(file.set_len(max + 1).unwrap_err().kind(), ErrorKind::OutOfBounds);
    file.set_len(max).unwrap();
    assert_eq!(file.grow(10).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(file.read_at(usize::MAX, &mut [0u8; 2]).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(file.flush_range(max, 1).unwrap_err().kind(), ErrorKind::OutOfBounds);
    file.flush_range(max, 0).unwrap();
    assert!(MappedFile::open(dir.join("missing")).is_err());
    drop(file);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn zero_length_file() {
    let dir = temp_dir("zero");
    let mut file = MappedFile::create(dir.join("f")).unwrap();
    assert!(file.is_empty());
    // SAFETY: nothing else uses the file.
    assert!(unsafe { file.as_slice() }.is_empty());
    file.flush().unwrap();
    file.flush_async().unwrap();
    file.advise(0, 0, vmem::Advice::Random).unwrap();
    file.read_at(0, &mut []).unwrap();
    file.set_len(0).unwrap();
    drop(file);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use common::in_child;

    /// The descriptors and the mappings of this process.
    fn fd_count() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }

    fn mapping_count() -> usize {
        std::fs::read_to_string("/proc/self/maps").unwrap().lines().count()
    }

    #[test]
    fn no_descriptor_or_mapping_leaks() {
        // In a child: other tests of this binary open files and map memory concurrently.
        in_child("linux::no_descriptor_or_mapping_leaks", || {
            let dir = temp_dir("leaks");
            let path = dir.join("f");
            let fds = fd_count();
            let maps = mapping_count();
            for i in 0..200 {
                let mut file = MappedFile::create(&path).unwrap();
                file.set_len((i + 1) * 5000).unwrap();
                file.set_len(3000).unwrap();
                file.set_len(1 << 20).unwrap();
                let _ = MappedFile::options().max_size(10).open(&path).unwrap_err();
                drop(file);
            }
            assert_eq!(fd_count(), fds);
            // 200 rounds: a leak would be 200 mappings or more.
            assert!(mapping_count() <= maps + common::mapping_slack(), "{} mappings, {maps} before", mapping_count());
            std::fs::remove_dir_all(&dir).unwrap();
        })
        .assert_success();
    }

    #[test]
    fn a_mapping_is_one_run_after_many_grows() {
        let dir = temp_dir("runs");
        let mut file = MappedFile::options().create(true).max_size(64 << 20).open(dir.join("f")).unwrap();
        for i in 1..=64 {
            file.set_len(i << 20).unwrap();
        }
        let base = file.as_ptr() as usize;
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let runs: Vec<&str> = maps
            .lines()
            .filter(|l| {
                let range = l.split(' ').next().unwrap();
                let (s, e) = range.split_once('-').unwrap();
                let (s, e) = (usize::from_str_radix(s, 16).unwrap(), usize::from_str_radix(e, 16).unwrap());
                s < base + (64 << 20) && e > base
            })
            .collect();
        // The kernel merges the adjacent views of one file at consecutive offsets.
        assert_eq!(runs.len(), 1, "{runs:#?}");
        drop(file);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn another_process_sees_the_writes() {
        let dir = temp_dir("xproc");
        let path = dir.join("f");
        let mut file = MappedFile::create(&path).unwrap();
        file.set_len(3 << 20).unwrap();
        file.write_at(2 << 20, b"from the parent").unwrap();
        // No flush: the child maps the same page cache.
        std::env::set_var("VMEM_TEST_MAPPED_PATH", &path);
        in_child("linux::another_process_sees_the_writes_child", || {}).assert_success();
        // The child grew the file; our mapping keeps its length until we grow it too.
        assert_eq!(file.len(), 3 << 20);
        file.set_len(4 << 20).unwrap();
        let mut buf = [0u8; 5];
        file.read_at((4 << 20) - 5, &mut buf).unwrap();
        assert_eq!(&buf, b"child");
        drop(file);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The child of `another_process_sees_the_writes` (does nothing in a normal run).
    #[test]
    fn another_process_sees_the_writes_child() {
        const NAME: &str = "linux::another_process_sees_the_writes_child";
        if std::env::var("VMEM_TEST_CHILD").as_deref() != Ok(NAME) {
            return;
        }
        in_child(NAME, || {
            let path = std::env::var("VMEM_TEST_MAPPED_PATH").unwrap();
            let mut file = MappedFile::open(&path).unwrap();
            assert_eq!(file.len(), 3 << 20);
            let mut buf = [0u8; 15];
            file.read_at(2 << 20, &mut buf).unwrap();
            assert_eq!(&buf, b"from the parent");
            file.set_len(4 << 20).unwrap();
            file.write_at((4 << 20) - 5, b"child").unwrap();
        });
    }

    #[test]
    fn rlimit_fsize_is_an_error_not_a_signal() {
        in_child("linux::rlimit_fsize_is_an_error_not_a_signal", || {
            let dir = temp_dir("fsize");
            let mut file = MappedFile::create(dir.join("f")).unwrap();
            file.set_len(1 << 20).unwrap();
            file.write_at(0, b"kept").unwrap();
            // SIGXFSZ keeps its default action (terminate): a signal would kill this child.
            common::set_soft_limit(rustix::process::Resource::Fsize, Some(2 << 20));
            let err = file.set_len(3 << 20).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::OutOfMemory);
            assert_eq!(err.limit(), Some(("RLIMIT_FSIZE", 2 << 20)), "{err}");
            assert!(err.to_string().contains("RLIMIT_FSIZE"), "{err}");
            assert_eq!(file.len(), 1 << 20);
            assert_eq!(std::fs::metadata(dir.join("f")).unwrap().len(), 1 << 20);
            let mut buf = [0u8; 4];
            file.read_at(0, &mut buf).unwrap();
            assert_eq!(&buf, b"kept");
            // Up to the limit still works.
            file.set_len(2 << 20).unwrap();
            std::fs::remove_dir_all(&dir).unwrap();
        })
        .assert_success();
    }

    #[test]
    fn the_default_maximum_shrinks_under_rlimit_as() {
        in_child("linux::the_default_maximum_shrinks_under_rlimit_as", || {
            let dir = temp_dir("rlimit-as");
            common::limit_address_space(4 << 30);
            let mut file = MappedFile::create(dir.join("f")).unwrap();
            assert!(file.max_size() < 64 << 30 && file.max_size() >= 1 << 30, "{}", file.max_size());
            file.set_len(1 << 20).unwrap();
            // An explicit maximum is not shrunk: it is an error.
            let err = MappedFile::options().create(true).max_size(64 << 30).open(dir.join("g")).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::OutOfAddressSpace, "{err}");
            std::fs::remove_dir_all(&dir).unwrap();
        })
        .assert_success();
    }

    /// Mounts a 1 MiB tmpfs (needs root) for the test; `None` when it cannot.
    fn small_tmpfs(name: &str) -> Option<PathBuf> {
        let dir = temp_dir(name);
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(dir)
    }

    fn unmount(dir: &std::path::Path) {
        let _ = std::process::Command::new("umount").arg(dir).status();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_full_disk_is_an_error_and_nothing_is_lost() {
        let Some(dir) = small_tmpfs("full") else {
            println!("skipped: cannot mount a small tmpfs (not root?); RLIMIT_FSIZE covers the error path");
            return;
        };
        let result = std::panic::catch_unwind(|| {
            let mut file = MappedFile::create(dir.join("f")).unwrap();
            file.set_len(512 << 10).unwrap();
            file.write_at(0, &[5u8; 512 << 10]).unwrap();
            let err = file.set_len(4 << 20).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err}");
            assert!(err.to_string().contains("no space"), "{err}");
            assert_eq!(file.len(), 512 << 10);
            assert_eq!(std::fs::metadata(dir.join("f")).unwrap().len(), 512 << 10);
            let mut buf = vec![0u8; 512 << 10];
            file.read_at(0, &mut buf).unwrap();
            assert!(buf.iter().all(|&b| b == 5));
            // Writes into the allocated blocks never fault, and a smaller growth still fits.
            file.set_len(768 << 10).unwrap();
            file.write_at(700 << 10, &[1u8; 68 << 10]).unwrap();
            file.flush().unwrap();
        });
        unmount(&dir);
        result.unwrap();
    }
}
