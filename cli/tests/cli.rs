//! The `vmem` tool run as a process: output, exit codes, JSON, SVG, and errors.

use assert_cmd::Command;
use predicates::prelude::*;

fn vmem() -> Command {
    Command::cargo_bin("vmem").expect("the vmem binary")
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = vmem().args(args).assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&out)))
}

#[test]
fn info_prints_the_facts() {
    let page = vmem::page_size();
    vmem()
        .arg("info")
        .assert()
        .success()
        .stdout(predicate::str::contains("page size"))
        .stdout(predicate::str::contains("allocation granularity"))
        .stdout(predicate::str::contains("RLIMIT_AS"))
        .stdout(predicate::str::contains("RLIMIT_DATA"))
        .stdout(predicate::str::contains("RLIMIT_MEMLOCK"))
        .stdout(predicate::str::contains(format!("{} KiB", page / 1024)));
}

#[test]
fn info_json_parses_with_the_expected_keys() {
    let v = json(&["info", "--json"]);
    assert_eq!(v["page_size"].as_u64(), Some(vmem::page_size() as u64));
    assert_eq!(v["allocation_granularity"].as_u64(), Some(vmem::allocation_granularity() as u64));
    assert!(v["physical_total_bytes"].as_u64().unwrap() > 0);
    for key in [
        "huge_page_sizes",
        "transparent_huge_pages",
        "overcommit_mode",
        "user_address_space_bytes",
        "rlimit_as",
        "rlimit_data",
        "rlimit_memlock",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    if cfg!(target_os = "linux") {
        assert!(v["commit_charge_bytes"].as_u64().is_some());
        assert!(v["rlimit_memlock"].get("soft").is_some());
        // What a process can map, not what the CPU implements: 128 TiB on x86-64 Linux
        // whether or not the CPU has 5-level paging.
        let user = v["user_address_space_bytes"].as_u64().unwrap();
        assert!(user.is_power_of_two() && user >= 1 << 32, "{user}");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(user, 1 << 47);
        }
    }
}

#[test]
fn tour_does_every_step() {
    let assert = vmem().arg("tour").assert().success();
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for step in [
        "reserve 64 GiB",
        "commit 256 MiB",
        "touch every page",
        "decommit",
        "arena: 10 million allocations",
        "arena: reset",
        "VirtualVec vs Vec: grow to 1 GiB",
        "VirtualVec moves: 0",
        "ring buffer: write across the end",
        "RingBuffer readable: one slice of",
    ] {
        assert!(out.contains(step), "missing {step:?} in:\n{out}");
    }
}

#[test]
fn tour_json_reports_what_the_os_saw() {
    let steps = json(&["tour", "--json"]);
    let steps = steps.as_array().expect("an array of steps");
    let rss = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .and_then(|s| s["rss_bytes"].as_u64())
            .unwrap_or_else(|| panic!("{name}"))
    };
    let touched = rss("touch every page");
    let decommitted = rss("decommit");
    // Touching 256 MiB raised RSS by about that; decommitting gave it back.
    assert!(touched >= decommitted + (200 << 20), "touched {touched}, decommitted {decommitted}");
    if cfg!(target_os = "linux") {
        let mapped =
            |name: &str| steps.iter().find(|s| s["step"] == name).and_then(|s| s["mapped_bytes"].as_u64()).unwrap();
        assert!(mapped("reserve 64 GiB") >= mapped("start") + (64 << 30));
    }
}

#[test]
fn bench_quick_prints_a_table_and_writes_valid_svg() {
    let dir = tempfile::tempdir().unwrap();
    let assert = vmem().args(["bench", "--quick", "--svg"]).arg(dir.path()).assert().success();
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for peer in ["bumpalo", "Vec", "slab", "VecDeque"] {
        assert!(out.contains(peer), "missing {peer} in:\n{out}");
    }
    assert!(out.contains("ratio"));
    let svgs: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(svgs.len() >= 4, "{svgs:?}");
    for path in svgs {
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(text.contains("vmem"), "{}: no vmem series", path.display());
    }
}

#[test]
fn bench_json_has_medians_and_ratios() {
    let v = json(&["bench", "--quick", "--rounds", "2", "--json"]);
    assert_eq!(v["rounds"], 2);
    let results = v["results"].as_array().unwrap();
    assert!(results.len() >= 4);
    for r in results {
        assert_eq!(r["vmem_ns"].as_array().unwrap().len(), 2, "{r}");
        for key in ["vmem_median_ns", "peer_median_ns", "ratio_median", "ratio_min", "ratio_max"] {
            assert!(r[key].as_f64().is_some_and(|x| x > 0.0), "{key} in {r}");
        }
    }
}

#[test]
fn bad_arguments_fail_with_one_clear_line() {
    vmem().arg("frobnicate").assert().failure().stderr(predicate::str::contains("error:"));
    vmem().args(["bench", "--rounds", "0"]).assert().failure().stderr(predicate::str::contains("--rounds"));
    vmem().args(["bench", "--rounds", "many"]).assert().failure().stderr(predicate::str::contains("invalid value"));
    // A file where the chart directory should be: an error line, no panic.
    let file = tempfile::NamedTempFile::new().unwrap();
    let assert = vmem().args(["bench", "--quick", "--svg"]).arg(file.path()).assert().failure();
    let err = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(err.starts_with("error: creating "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn every_command_has_help_with_an_example() {
    for args in [vec!["--help"], vec!["info", "--help"], vec!["tour", "--help"], vec!["bench", "--help"]] {
        vmem().args(&args).assert().success().stdout(predicate::str::contains("Example"));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn tour_under_a_low_address_space_limit_fails_cleanly() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("VMEM_UNDER_ASAN").is_some() {
        // AddressSanitizer's shadow memory cannot be mapped under any RLIMIT_AS.
        eprintln!("skipped under AddressSanitizer");
        return;
    }
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("vmem"));
    cmd.arg("tour");
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = rustix::process::Rlimit { current: Some(1 << 30), maximum: Some(1 << 30) };
            rustix::process::setrlimit(rustix::process::Resource::As, limit).map_err(std::io::Error::from)
        });
    }
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.starts_with("error: reserve 64 GiB: "), "{err}");
    assert!(err.contains("RLIMIT_AS"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // The steps before the failure were printed.
    assert!(String::from_utf8_lossy(&output.stdout).contains("start"));
}

#[test]
fn output_to_a_closed_pipe_is_not_a_panic() {
    use std::io::Read;
    use std::process::{Command as Std, Stdio};
    let mut child = Std::new(assert_cmd::cargo::cargo_bin("vmem"))
        .arg("info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}
