//! The C ABI tested from C: compiles the programs in `tests/c/` and the README's C example
//! against `libvmem` as C99, C11, C++11 and C++20 with `-Wall -Wextra -Werror -pedantic`,
//! links each statically and dynamically, runs them and checks what they report.
//!
//! The libraries are built by the test itself (`cargo build -p vmem-c`, which is up to date
//! or quick), into `target/<profile>`.
//! Set `CC`/`CXX` to use other compilers. Linux only (`libvmem.so`, `-ldl`, `nm -D`, the
//! never-mapped second page); other systems build and test the crate's Rust side.
#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use vmem_ffi::{VMemArena, VMemGrowArenaConfig, VMemRangeInfo, VMemUsageStatus};

const WARNINGS: [&str; 4] = ["-Wall", "-Wextra", "-Werror", "-pedantic"];

#[derive(Clone, Copy, Debug)]
enum Lang {
    C99,
    C11,
    Cxx11,
    Cxx20,
}

impl Lang {
    fn compiler(self) -> String {
        let (var, default) = match self {
            Lang::C99 | Lang::C11 => ("CC", "cc"),
            Lang::Cxx11 | Lang::Cxx20 => ("CXX", "c++"),
        };
        std::env::var(var).unwrap_or_else(|_| default.to_string())
    }

    fn args(self) -> [&'static str; 3] {
        match self {
            Lang::C99 => ["-x", "c", "-std=c99"],
            Lang::C11 => ["-x", "c", "-std=c11"],
            Lang::Cxx11 => ["-x", "c++", "-std=c++11"],
            Lang::Cxx20 => ["-x", "c++", "-std=c++20"],
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Link {
    Static,
    Shared,
}

fn ffi_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-abi");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `libvmem.a` and `libvmem.so` next to the test binary, or in the profile directory.
fn find_libs() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    let found = [deps, deps.parent()?]
        .into_iter()
        .find(|dir| dir.join("libvmem.a").is_file() && dir.join("libvmem.so").is_file())
        .map(Path::to_path_buf);
    found
}

/// A directory holding copies of this build's `libvmem.a` and `libvmem.so` and nothing else,
/// so that `-lvmem` finds exactly them.
fn lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // The C libraries come from the `vmem-c` package, which a test of this crate does not
        // build: build it now (quick when up to date), in this test's profile, so that the
        // programs never link a stale library.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let release = std::env::current_exe().is_ok_and(|exe| exe.components().any(|c| c.as_os_str() == "release"));
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "vmem-c"]);
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "cargo build -p vmem-c failed");
        let found = find_libs();
        let found = found.expect("libvmem.a and libvmem.so not found next to the test binary");
        let dir = out_dir().join("lib");
        fs::create_dir_all(&dir).unwrap();
        for name in ["libvmem.a", "libvmem.so"] {
            // Copy to a temporary name and rename, so a concurrent test run never links a
            // half-written file.
            let tmp = dir.join(format!("{name}.{}", std::process::id()));
            fs::copy(found.join(name), &tmp).unwrap();
            fs::rename(&tmp, dir.join(name)).unwrap();
        }
        dir
    })
}

/// Compiles `source` (C that is also C++) into an executable and returns its path.
fn compile(source: &Path, lang: Lang, link: Link) -> PathBuf {
    let stem = source.file_stem().unwrap().to_str().unwrap();
    let exe = out_dir().join(format!("{stem}-{lang:?}-{link:?}").to_lowercase());
    let lib = lib_dir();
    let mut cmd = Command::new(lang.compiler());
    cmd.args(lang.args()).args(WARNINGS).arg("-g").arg("-I").arg(ffi_dir().join("include")).arg(source);
    // Back to automatic language detection for the libraries.
    cmd.args(["-x", "none"]);
    match link {
        Link::Static => cmd.arg(lib.join("libvmem.a")),
        Link::Shared => cmd.arg("-L").arg(lib).arg("-lvmem").arg(format!("-Wl,-rpath,{}", lib.display())),
    };
    cmd.args(["-lpthread", "-ldl", "-lm", "-o"]).arg(&exe);
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", lang.compiler()));
    assert!(
        output.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    exe
}

fn run(exe: &Path, args: &[&str]) -> Output {
    // `cargo test` puts target/<profile> on LD_LIBRARY_PATH, which wins over the rpath: a
    // stale libvmem.so there (from an older `cargo build`) would be loaded instead of ours.
    Command::new(exe)
        .args(args)
        .env("LD_LIBRARY_PATH", lib_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `exe` and asserts it exits 0.
fn run_ok(exe: &Path) -> String {
    let output = run(exe, &[]);
    assert!(
        output.status.success(),
        "{} exited with {}:\n{}{}",
        exe.display(),
        output.status,
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(&output)
}

fn program(name: &str) -> PathBuf {
    ffi_dir().join("tests/c").join(name)
}

/// The first ```c block of the README's "## Using it from C and C++" section.
fn readme_example() -> String {
    let readme = fs::read_to_string(ffi_dir().join("../README.md")).unwrap();
    let section = readme.split("\n## Using it from C and C++\n").nth(1).expect("README section missing");
    let section = section.split("\n## ").next().unwrap();
    let code = section.split("\n```c\n").nth(1).expect("no ```c block in the README section");
    let code = code.split("\n```").next().unwrap();
    format!("{code}\n")
}

fn readme_example_file() -> PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = out_dir().join("readme_example.c");
        fs::write(&path, readme_example()).unwrap();
        path
    })
    .clone()
}

fn api(lang: Lang, link: Link) {
    let out = run_ok(&compile(&program("api.c"), lang, link));
    assert!(out.contains("checks passed"), "{out}");
}

fn readme(lang: Lang, link: Link) {
    let out = run_ok(&compile(&readme_example_file(), lang, link));
    for expected in [
        "8 pages committed, ReadWrite\n",
        "8 pages reserved, NoAccess\n",
        "refused: vmem_release: the pointer is inside a live reservation but not its base",
        "arena: 8000 bytes used, ",
    ] {
        assert!(out.contains(expected), "expected {expected:?} in:\n{out}");
    }
}

fn threads(lang: Lang, link: Link) {
    let out = run_ok(&compile(&program("threads.c"), lang, link));
    assert_eq!(out, "threads: ok\n");
}

macro_rules! every_language_and_link {
    ($program:ident) => {
        mod $program {
            use super::{Lang, Link};

            #[test]
            fn c99_static() {
                super::$program(Lang::C99, Link::Static)
            }
            #[test]
            fn c99_shared() {
                super::$program(Lang::C99, Link::Shared)
            }
            #[test]
            fn c11_static() {
                super::$program(Lang::C11, Link::Static)
            }
            #[test]
            fn c11_shared() {
                super::$program(Lang::C11, Link::Shared)
            }
            #[test]
            fn cxx11_static() {
                super::$program(Lang::Cxx11, Link::Static)
            }
            #[test]
            fn cxx11_shared() {
                super::$program(Lang::Cxx11, Link::Shared)
            }
            #[test]
            fn cxx20_static() {
                super::$program(Lang::Cxx20, Link::Static)
            }
            #[test]
            fn cxx20_shared() {
                super::$program(Lang::Cxx20, Link::Shared)
            }
        }
    };
}

every_language_and_link!(api);
every_language_and_link!(readme);
every_language_and_link!(threads);

/// Reserved, decommitted, read-only and no-access memory really faults, in a child process.
fn faults(lang: Lang, link: Link) {
    let exe = compile(&program("fault.c"), lang, link);
    for mode in ["reserved", "decommitted", "readonly", "noaccess", "arena-reset", "grow-arena-reset"] {
        let output = run(&exe, &[mode]);
        let signal = output.status.signal();
        assert!(
            signal == Some(SIGSEGV) || signal == Some(SIGBUS),
            "{mode}: expected a memory fault, got {} ({})",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let output = run(&exe, &["committed"]);
    assert!(output.status.success(), "committed memory: {}", output.status);
}

const SIGSEGV: i32 = 11;
const SIGBUS: i32 = 7;

#[test]
fn faults_c11_static() {
    faults(Lang::C11, Link::Static);
}

#[test]
fn faults_cxx20_shared() {
    faults(Lang::Cxx20, Link::Shared);
}

/// The header's types have the Rust definitions' sizes, offsets and values.
fn layout(lang: Lang, link: Link) {
    let out = run_ok(&compile(&program("layout.c"), lang, link));
    use std::mem::{offset_of, size_of};
    let mut expected = String::new();
    let mut line = |s: String| {
        expected.push_str(&s);
        expected.push('\n');
    };
    line(format!("sizeof VMemSize {}", size_of::<vmem_ffi::VMemSize>()));
    line(format!("sizeof VMemResult {}", size_of::<vmem_ffi::VMemResult>()));
    line(format!("sizeof VMemProtect {}", size_of::<vmem_ffi::VMemProtect>()));
    line(format!("sizeof VMemUsageStatus {}", size_of::<VMemUsageStatus>()));
    line(format!(
        "offsetof VMemUsageStatus.total_physical_bytes {}",
        offset_of!(VMemUsageStatus, total_physical_bytes)
    ));
    line(format!(
        "offsetof VMemUsageStatus.avail_physical_bytes {}",
        offset_of!(VMemUsageStatus, avail_physical_bytes)
    ));
    line(format!("sizeof VMemRangeInfo {}", size_of::<VMemRangeInfo>()));
    line(format!("offsetof VMemRangeInfo.ptr {}", offset_of!(VMemRangeInfo, ptr)));
    line(format!("offsetof VMemRangeInfo.size_bytes {}", offset_of!(VMemRangeInfo, size_bytes)));
    line(format!("offsetof VMemRangeInfo.is_commited {}", offset_of!(VMemRangeInfo, is_commited)));
    line(format!("offsetof VMemRangeInfo.protect {}", offset_of!(VMemRangeInfo, protect)));
    line(format!("sizeof VMemArena {}", size_of::<VMemArena>()));
    line(format!("offsetof VMemArena.mem {}", offset_of!(VMemArena, mem)));
    line(format!("offsetof VMemArena.size_bytes {}", offset_of!(VMemArena, size_bytes)));
    line(format!("offsetof VMemArena.commited {}", offset_of!(VMemArena, commited)));
    line(format!("offsetof VMemArena.used {}", offset_of!(VMemArena, used)));
    line(format!("sizeof VMemGrowArenaConfig {}", size_of::<VMemGrowArenaConfig>()));
    for (field, offset) in [
        ("block_size", offset_of!(VMemGrowArenaConfig, block_size)),
        ("commit_step", offset_of!(VMemGrowArenaConfig, commit_step)),
        ("max_bytes", offset_of!(VMemGrowArenaConfig, max_bytes)),
        ("retain_bytes", offset_of!(VMemGrowArenaConfig, retain_bytes)),
        ("huge_pages", offset_of!(VMemGrowArenaConfig, huge_pages)),
        ("no_prefault", offset_of!(VMemGrowArenaConfig, no_prefault)),
    ] {
        line(format!("offsetof VMemGrowArenaConfig.{field} {offset}"));
    }
    line(format!("sizeof VMemGrowArenaMark {}", size_of::<vmem_ffi::VMemGrowArenaMark>()));
    line(format!("value VMemResult_Error {}", vmem_ffi::VMemResult_Error));
    line(format!("value VMemResult_Success {}", vmem_ffi::VMemResult_Success));
    line(format!("value VMemProtect_Invalid {}", vmem_ffi::VMemProtect_Invalid));
    line(format!("value VMemProtect_NoAccess {}", vmem_ffi::VMemProtect_NoAccess));
    line(format!("value VMemProtect_Read {}", vmem_ffi::VMemProtect_Read));
    line(format!("value VMemProtect_ReadWrite {}", vmem_ffi::VMemProtect_ReadWrite));
    line(format!("value VMemProtect_Execute {}", vmem_ffi::VMemProtect_Execute));
    line(format!("value VMemProtect_ExecuteRead {}", vmem_ffi::VMemProtect_ExecuteRead));
    line(format!("value VMemProtect_ExecuteReadWrite {}", vmem_ffi::VMemProtect_ExecuteReadWrite));
    line(format!("value VMemProtect_COUNT {}", vmem_ffi::VMemProtect_COUNT));
    assert_eq!(out, expected);
}

#[test]
fn layout_c99() {
    layout(Lang::C99, Link::Static);
}

#[test]
fn layout_cxx11() {
    layout(Lang::Cxx11, Link::Shared);
}

/// The functions the header declares.
fn header_functions() -> BTreeSet<String> {
    let header = fs::read_to_string(ffi_dir().join("include/vmem.h")).unwrap();
    header
        .lines()
        .filter_map(|line| line.strip_prefix("VMEM_FUNC "))
        .map(|decl| {
            let name = decl.split('(').next().unwrap();
            name.rsplit([' ', '*']).next().unwrap().to_string()
        })
        .collect()
}

/// Every function the header declares is exported by the shared library, every exported
/// function is declared, and `api.c` calls each of them.
#[test]
fn header_matches_exports() {
    let declared = header_functions();
    let required = [
        // The first API.
        "vmem_reserve",
        "vmem_release",
        "vmem_commit",
        "vmem_decommit",
        "vmem_get_page_size",
        "vmem_align_forward",
        "vmem_align_backward",
        // The later API.
        "vmem_init",
        "vmem_alloc",
        "vmem_alloc_protect",
        "vmem_alloc_commited",
        "vmem_dealloc",
        "vmem_commit_protect",
        "vmem_protect",
        "vmem_query_page_size",
        "vmem_get_allocation_granularity",
        "vmem_query_allocation_granularity",
        "vmem_query_usage_status",
        "vmem_lock",
        "vmem_unlock",
        "vmem_get_error_message",
        "vmem_get_protect_name",
        "vmem_is_aligned",
        "vmem_partially_commit_region",
        "vmem_arena_init",
        "vmem_arena_init_alloc",
        "vmem_arena_deinit_dealloc",
        "vmem_arena_set_commited",
        "vmem_arena_is_valid",
        "vmem_query_range_info",
        // The arena's bump allocation.
        "vmem_arena_push",
        "vmem_arena_reset",
        "vmem_arena_checkpoint",
        "vmem_arena_rewind",
        // The Rust arena behind a handle.
        "vmem_grow_arena_create",
        "vmem_grow_arena_destroy",
        "vmem_grow_arena_push",
        "vmem_grow_arena_push_zeroed",
        "vmem_grow_arena_checkpoint",
        "vmem_grow_arena_rewind",
        "vmem_grow_arena_reset",
        "vmem_grow_arena_allocated_bytes",
        "vmem_grow_arena_committed_bytes",
        "vmem_grow_arena_reserved_bytes",
        "vmem_grow_arena_is_valid",
    ];
    let missing: Vec<_> = required.iter().filter(|f| !declared.contains(**f)).collect();
    assert!(missing.is_empty(), "the header does not declare {missing:?}");
    let nm = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib_dir().join("libvmem.so"))
        .output()
        .expect("run nm (binutils)");
    assert!(nm.status.success());
    let exported: BTreeSet<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace().rev();
            let name = fields.next()?;
            let kind = fields.next()?;
            (kind == "T" && name.starts_with("vmem_")).then(|| name.to_string())
        })
        .collect();
    assert_eq!(declared, exported, "header declarations and library exports differ");
    let api = fs::read_to_string(program("api.c")).unwrap();
    let untested: Vec<_> = declared.iter().filter(|f| !api.contains(&format!("{f}("))).collect();
    assert!(untested.is_empty(), "api.c never calls {untested:?}");
}

/// The README example really is the README's block, byte for byte.
#[test]
fn readme_example_is_extracted() {
    let example = readme_example();
    assert!(example.starts_with("#include <stdio.h>"), "{example}");
    assert!(example.contains("int main(void)"));
    assert!(example.trim_end().ends_with('}'));
}
