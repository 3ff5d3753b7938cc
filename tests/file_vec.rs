//! `FileVec`: against a `Vec` model across reopen, crash consistency under `SIGKILL`, header
//! damage, locking, limits.

mod common;

use std::path::PathBuf;

use proptest::prelude::*;
use vmem::{ErrorKind, FileVec};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vmem-test-filevec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Clone, Debug)]
enum Op {
    Push(u32),
    Extend(Vec<u32>),
    Truncate(usize),
    Set(usize, u32),
    Pop,
    Sync,
    /// Drop without sync and open again: the model goes back to what was synced.
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u32>().prop_map(Op::Push),
        2 => proptest::collection::vec(any::<u32>(), 0..3000).prop_map(Op::Extend),
        1 => (0usize..5000).prop_map(Op::Truncate),
        1 => (0usize..5000, any::<u32>()).prop_map(|(i, v)| Op::Set(i, v)),
        1 => Just(Op::Pop),
        2 => Just(Op::Sync),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn matches_a_vec_across_reopen(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = temp_dir(&format!("model-{:?}", std::thread::current().id()).replace(['(', ')'], ""));
        let path = dir.join("v");
        let mut v = FileVec::<u32>::create(&path).unwrap();
        let mut model: Vec<u32> = Vec::new();
        let mut synced: Vec<u32> = Vec::new();
        for op in ops {
            match op {
                Op::Push(x) => { v.push(x).unwrap(); model.push(x); }
                Op::Extend(xs) => { v.extend_from_slice(&xs).unwrap(); model.extend_from_slice(&xs); }
                Op::Truncate(n) => {
                    v.truncate(n).unwrap();
                    model.truncate(n);
                    // A truncation below the synced length is written to the header at once.
                    synced.truncate(n);
                }
                Op::Set(i, x) => {
                    if i < model.len() {
                        v[i] = x;
                        model[i] = x;
                    }
                }
                Op::Pop => {
                    prop_assert_eq!(v.pop().unwrap(), model.pop());
                    synced.truncate(model.len());
                }
                Op::Sync => { v.sync().unwrap(); synced = model.clone(); }
                Op::Reopen => {
                    drop(v);
                    v = FileVec::open(&path).unwrap();
                    // Unsynced pushes are gone; in-place changes below the synced length are
                    // in the file (the process did not crash), so they stay.
                    let n = synced.len().min(model.len());
                    synced = model[..n].iter().copied().chain(synced[n..].iter().copied()).collect();
                    model = synced.clone();
                }
            }
            prop_assert_eq!(v.as_slice(), &model[..]);
            prop_assert_eq!(v.synced_len(), synced.len());
        }
        drop(v);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn the_slice_never_moves() {
    let dir = temp_dir("stable");
    let mut v = FileVec::<u64>::create(dir.join("v")).unwrap();
    v.push(0).unwrap();
    let first = v.as_ptr();
    for i in 1..2_000_000 {
        v.push(i).unwrap();
    }
    assert_eq!(v.as_ptr(), first);
    assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
    drop(v);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_filevec_on_the_file_is_refused() {
    let dir = temp_dir("lock");
    let path = dir.join("v");
    let v = FileVec::<u8>::create(&path).unwrap();
    let err = FileVec::<u8>::open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    // Not even `create` may truncate it under the holder.
    assert!(FileVec::<u8>::create(&path).is_err());
    drop(v);
    FileVec::<u8>::open(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn element_types_that_cannot_be_stored() {
    let dir = temp_dir("types");
    assert_eq!(FileVec::<()>::create(dir.join("zst")).unwrap_err().kind(), ErrorKind::InvalidArgument);

    /// A page-and-more-aligned element.
    #[derive(Clone, Copy, Debug)]
    #[repr(C, align(65536))]
    struct Huge([u8; 65536]);
    // SAFETY: a byte array with no padding (size equals alignment); all zeros is valid.
    unsafe impl bytemuck::Zeroable for Huge {}
    // SAFETY: as above: any bit pattern is valid, no padding, `Copy`, `'static`.
    unsafe impl bytemuck::Pod for Huge {}
    assert_eq!(FileVec::<Huge>::create(dir.join("huge")).unwrap_err().kind(), ErrorKind::InvalidArgument);

    /// Aligned to 256: the elements start at offset 256, past the header.
    #[derive(Clone, Copy)]
    #[repr(C, align(256))]
    struct Wide([u8; 256]);
    // SAFETY: as for `Huge`.
    unsafe impl bytemuck::Zeroable for Wide {}
    // SAFETY: as for `Huge`.
    unsafe impl bytemuck::Pod for Wide {}
    let mut v = FileVec::<Wide>::create(dir.join("wide")).unwrap();
    v.push(Wide([3; 256])).unwrap();
    assert_eq!(v.as_ptr() as usize % 256, 0);
    v.sync().unwrap();
    drop(v);
    assert_eq!(FileVec::<Wide>::open(dir.join("wide")).unwrap()[0].0, [3; 256]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn damaged_or_foreign_files_are_invalid_data() {
    let dir = temp_dir("damage");
    let path = dir.join("v");
    let mut v = FileVec::<u64>::create(&path).unwrap();
    v.extend_from_slice(&[1, 2, 3]).unwrap();
    v.sync().unwrap(); // generation 1, slot B
    v.push(4).unwrap();
    v.sync().unwrap(); // generation 2, slot A
    drop(v);
    let good = std::fs::read(&path).unwrap();

    // The newest slot damaged: the previous sync is used.
    let mut bytes = good.clone();
    bytes[40] ^= 1; // slot A's length
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(FileVec::<u64>::open(&path).unwrap().as_slice(), &[1, 2, 3]);

    // Both damaged: refused.
    bytes[64 + 40] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(FileVec::<u64>::open(&path).unwrap_err().kind(), ErrorKind::InvalidData);

    // Another element type, a foreign file, a short file, an empty file.
    std::fs::write(&path, &good).unwrap();
    assert_eq!(FileVec::<u32>::open(&path).unwrap_err().kind(), ErrorKind::InvalidData);
    assert_eq!(FileVec::<[u8; 8]>::open(&path).unwrap_err().kind(), ErrorKind::InvalidData);
    std::fs::write(&path, vec![0xAB; 10_000]).unwrap();
    assert_eq!(FileVec::<u64>::open(&path).unwrap_err().kind(), ErrorKind::InvalidData);
    std::fs::write(&path, b"short").unwrap();
    assert_eq!(FileVec::<u64>::open(&path).unwrap_err().kind(), ErrorKind::InvalidData);
    std::fs::write(&path, b"").unwrap();
    assert_eq!(FileVec::<u64>::open(&path).unwrap_err().kind(), ErrorKind::InvalidData);

    // Truncated behind its back below the recorded length.
    std::fs::write(&path, &good[..128 + 16]).unwrap();
    let err = FileVec::<u64>::open(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");

    // An empty file with `create` becomes a new vector.
    std::fs::write(&path, b"").unwrap();
    assert!(FileVec::<u64>::options().create(true).open(&path).unwrap().is_empty());
    assert_eq!(FileVec::<u64>::open(dir.join("missing")).unwrap_err().kind(), ErrorKind::InvalidArgument);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn maximum_size_is_an_error() {
    let dir = temp_dir("max");
    let mut v = FileVec::<u64>::options().create(true).max_bytes(64 << 10).open(dir.join("v")).unwrap();
    let max = v.max_len();
    v.extend_from_slice(&vec![7; max]).unwrap();
    let err = v.push(1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err}");
    assert_eq!(v.extend_from_slice(&[1, 2]).unwrap_err().kind(), ErrorKind::OutOfMemory);
    v.extend_from_slice(&[]).unwrap();
    assert_eq!(v.len(), max);
    v.truncate(max - 1).unwrap();
    v.push(9).unwrap();
    drop(v);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use common::in_child;
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    /// The value stored at index `i` by the crash test's writer.
    fn record(i: u64) -> [u64; 2] {
        [i, i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xDEAD_BEEF]
    }

    const WRITER: &str = "linux::crash_writer";

    /// The writer of `kill_9_never_corrupts` (does nothing in a normal run): appends records,
    /// syncing every few pushes and reporting each synced length on stdout, until killed.
    #[test]
    fn crash_writer() {
        if std::env::var("VMEM_TEST_CHILD").as_deref() != Ok(WRITER) {
            return;
        }
        in_child(WRITER, || {
            use std::io::Write;
            let path = std::env::var("VMEM_FILEVEC_PATH").unwrap();
            let mut seed: u64 = std::process::id() as u64 | 1;
            let mut rand = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            let mut v = FileVec::<[u64; 2]>::open(&path).unwrap();
            let mut out = std::io::stdout().lock();
            writeln!(out, "ready {}", v.len()).unwrap();
            out.flush().unwrap();
            let start = v.len() as u64;
            for i in start..start + 5_000_000 {
                v.push(record(i)).unwrap();
                if rand() % 64 == 0 {
                    if rand() % 8 == 0 {
                        // A bulk append too, to cross growth often.
                        let more: Vec<[u64; 2]> = (0..rand() % 5000).map(|k| record(v.len() as u64 + k)).collect();
                        v.extend_from_slice(&more).unwrap();
                    }
                    v.sync().unwrap();
                    writeln!(out, "{}", v.synced_len()).unwrap();
                    out.flush().unwrap();
                }
                if v.len() as u64 > i + 1 {
                    // Keep index and value in step after a bulk append.
                    break;
                }
            }
            // Ran to the end without being killed: report it and wait to be killed.
            writeln!(out, "done").unwrap();
            out.flush().unwrap();
            std::thread::sleep(Duration::from_secs(60));
        });
    }

    #[test]
    fn kill_9_never_corrupts() {
        let dir = temp_dir("crash");
        let path = dir.join("v");
        drop(FileVec::<[u64; 2]>::create(&path).unwrap());
        let iterations: u32 = std::env::var("VMEM_CRASH_ITERATIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(150);
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut kills_after_sync = 0;
        for round in 0..iterations {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args([WRITER, "--exact", "--nocapture", "--test-threads=1"])
                .env("VMEM_TEST_CHILD", WRITER)
                .env("VMEM_FILEVEC_PATH", &path)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let reader = std::thread::spawn(move || {
                let mut lines = Vec::new();
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    lines.push(line);
                }
                lines
            });
            // Kill at a random point 0..30 ms after it started writing (four times later under
            // a sanitizer, whose start-up and writes are that much slower).
            let slow = if common::under_sanitizer() { 4 } else { 1 };
            let deadline = Instant::now() + Duration::from_millis((5 + seed % 30) * slow);
            while Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(200));
            }
            let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let _ = child.wait();
            let lines = reader.join().unwrap();
            // The last length the writer saw `sync` return with (0 if it never did).
            let reported: usize = lines.iter().rev().find_map(|l| l.parse().ok()).unwrap_or(0);
            let started: usize =
                lines.iter().find_map(|l| l.strip_prefix("ready ")).and_then(|s| s.parse().ok()).unwrap_or(0);
            if reported > started {
                kills_after_sync += 1;
            }
            let v = FileVec::<[u64; 2]>::open(&path)
                .unwrap_or_else(|e| panic!("round {round}: reopen failed after kill -9: {e}"));
            assert!(v.len() >= reported, "round {round}: synced length {reported} lost, reopened with {}", v.len());
            assert!(v.len() >= started, "round {round}: shrank from {started} to {}", v.len());
            for (i, r) in v.iter().enumerate() {
                assert_eq!(*r, record(i as u64), "round {round}: element {i} is garbage");
            }
        }
        let final_len = FileVec::<[u64; 2]>::open(&path).unwrap().len();
        println!("{iterations} kills, {kills_after_sync} after a sync; {final_len} elements survived, all intact");
        // Most rounds must have been killed after at least one sync, or the test proves little.
        assert!(
            kills_after_sync > iterations / 2,
            "only {kills_after_sync} of {iterations} rounds synced before the kill"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rlimit_fsize_stops_growth_with_nothing_lost() {
        in_child("linux::rlimit_fsize_stops_growth_with_nothing_lost", || {
            let dir = temp_dir("fsize");
            let path = dir.join("v");
            let mut v = FileVec::<u64>::create(&path).unwrap();
            common::set_soft_limit(rustix::process::Resource::Fsize, Some(1 << 20));
            let mut pushed = 0u64;
            let err = loop {
                match v.push(pushed) {
                    Ok(()) => pushed += 1,
                    Err(e) => break e,
                }
            };
            assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err}");
            assert_eq!(err.limit(), Some(("RLIMIT_FSIZE", 1 << 20)), "{err}");
            assert_eq!(v.len() as u64, pushed);
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
            v.sync().unwrap();
            drop(v);
            let v = FileVec::<u64>::open(&path).unwrap();
            assert_eq!(v.len() as u64, pushed);
            std::fs::remove_dir_all(&dir).unwrap();
        })
        .assert_success();
    }

    #[test]
    fn a_full_disk_stops_growth_with_nothing_lost() {
        let dir = temp_dir("full");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            println!("skipped: cannot mount a small tmpfs (not root?)");
            return;
        }
        let result = std::panic::catch_unwind(|| {
            let path = dir.join("v");
            let mut v = FileVec::<u64>::create(&path).unwrap();
            let mut pushed = 0u64;
            let err = loop {
                match v.push(pushed) {
                    Ok(()) => pushed += 1,
                    Err(e) => break e,
                }
            };
            assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err}");
            assert!(pushed > 10_000, "{pushed}");
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64));
            v.sync().unwrap();
            drop(v);
            assert_eq!(FileVec::<u64>::open(&path).unwrap().len() as u64, pushed);
        });
        let _ = Command::new("umount").arg(&dir).status();
        let _ = std::fs::remove_dir_all(&dir);
        result.unwrap();
    }
}
