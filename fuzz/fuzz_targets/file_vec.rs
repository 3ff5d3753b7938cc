//! `FileVec<u32>` against `Vec<u32>` across reopen: every operation, including pushes past a
//! small maximum size, must leave both with the same contents; a reopen (drop without sync,
//! open again) must give exactly what was synced, with in-place changes kept (the process
//! did not crash, so they are in the file).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vmem::FileVec;

#[derive(Arbitrary, Debug)]
enum Op {
    Push(u32),
    Extend(Vec<u32>),
    ExtendRepeat(u16, u32),
    Truncate(u16),
    Pop,
    Set(u16, u32),
    Clear,
    Sync,
    Reopen,
}

#[derive(Arbitrary, Debug)]
struct Input {
    max_kib: u8,
    ops: Vec<Op>,
}

/// One file for the whole run, on tmpfs where there is one.
fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        dir.join(format!("vmem-fuzz-file-vec-{}", std::process::id()))
    })
}

fuzz_target!(|input: Input| {
    let max_bytes = (usize::from(input.max_kib) + 1) << 12;
    let open = |create: bool| {
        FileVec::<u32>::options().create(create).truncate(create).max_bytes(max_bytes).open(path())
    };
    let mut real = open(true).expect("a new FileVec");
    let max_len = real.max_len();
    let mut model: Vec<u32> = Vec::new();
    let mut synced: Vec<u32> = Vec::new();
    for op in input.ops {
        match op {
            Op::Push(x) => match real.push(x) {
                Ok(()) => model.push(x),
                Err(e) => {
                    assert_eq!(e.kind(), vmem::ErrorKind::OutOfMemory, "{e}");
                    assert_eq!(model.len(), max_len, "push failed below the maximum: {e}");
                }
            },
            Op::Extend(xs) => match real.extend_from_slice(&xs) {
                Ok(()) => model.extend_from_slice(&xs),
                Err(_) => assert!(model.len() + xs.len() > max_len),
            },
            Op::ExtendRepeat(n, x) => {
                let xs = vec![x; usize::from(n)];
                match real.extend_from_slice(&xs) {
                    Ok(()) => model.extend_from_slice(&xs),
                    Err(_) => assert!(model.len() + xs.len() > max_len),
                }
            }
            Op::Truncate(n) => {
                real.truncate(usize::from(n)).unwrap();
                model.truncate(usize::from(n));
                synced.truncate(usize::from(n));
            }
            Op::Pop => {
                assert_eq!(real.pop().unwrap(), model.pop());
                synced.truncate(model.len());
            }
            Op::Set(i, x) => {
                let i = usize::from(i);
                if i < model.len() {
                    real[i] = x;
                    model[i] = x;
                }
            }
            Op::Clear => {
                real.clear().unwrap();
                model.clear();
                synced.clear();
            }
            Op::Sync => {
                real.sync().unwrap();
                synced = model.clone();
            }
            Op::Reopen => {
                drop(real);
                real = open(false).expect("reopen");
                let n = synced.len().min(model.len());
                synced = model[..n].iter().copied().chain(synced[n..].iter().copied()).collect();
                model = synced.clone();
            }
        }
        assert_eq!(real.as_slice(), &model[..]);
        assert_eq!(real.synced_len(), synced.len());
        assert!(real.len() <= max_len);
    }
    drop(real);
    let reopened = open(false).expect("final reopen");
    let n = synced.len().min(model.len());
    let expected: Vec<u32> = model[..n].iter().copied().chain(synced[n..].iter().copied()).collect();
    assert_eq!(reopened.as_slice(), &expected[..]);
});
