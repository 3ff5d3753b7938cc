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

/// Parses an SVG with a real XML parser; returns its text.
fn parse_svg(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg", "{}", path.display());
    text
}

/// A time as the table prints it ("445.6 µs") in nanoseconds.
fn nanoseconds(value: &str, unit: &str) -> f64 {
    let value: f64 = value.parse().unwrap_or_else(|_| panic!("{value}"));
    value
        * match unit {
            "ns" => 1.0,
            "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            other => panic!("unit {other}"),
        }
}

#[test]
fn bench_quick_prints_a_table_whose_numbers_agree_and_writes_valid_svg() {
    let dir = tempfile::tempdir().unwrap();
    let assert = vmem().args(["bench", "--quick", "--svg"]).arg(dir.path()).assert().success();
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for peer in ["bumpalo", "Vec", "slab", "VecDeque"] {
        assert!(out.contains(peer), "missing {peer} in:\n{out}");
    }
    let header = out.lines().position(|l| l.starts_with("comparison")).expect("a header line");
    for word in ["ratio", "spread", "verdict"] {
        assert!(out.lines().nth(header).unwrap().contains(word), "{out}");
    }
    // Each row: name, vmem time, peer, peer time, ratio, spread, verdict. The ratio is the
    // ratio of the two times shown (up to their rounding), lies in the spread, and the verdict
    // says "within noise" exactly when the spread reaches both sides of 1.0.
    let rows: Vec<&str> = out.lines().skip(header + 1).take_while(|l| !l.starts_with("chart:")).collect();
    assert!(rows.len() >= 4, "{out}");
    for row in &rows {
        let t: Vec<&str> = row.split_whitespace().collect();
        let n = t.len();
        let verdict = format!("{} {}", t[n - 2], t[n - 1]);
        let (low, high) = t[n - 3].split_once("..").unwrap_or_else(|| panic!("spread in {row}"));
        let (low, high): (f64, f64) = (low.parse().unwrap(), high.parse().unwrap());
        let ratio: f64 = t[n - 4].strip_suffix('x').unwrap_or_else(|| panic!("ratio in {row}")).parse().unwrap();
        let peer_time = nanoseconds(t[n - 6], t[n - 5]);
        let vmem_time = nanoseconds(t[n - 9], t[n - 8]);
        let shown = peer_time / vmem_time;
        assert!((ratio - shown).abs() <= 0.01 + 0.02 * shown, "ratio {ratio} vs times {shown} in {row}");
        assert!(low - 0.01 <= ratio && ratio <= high + 0.01, "ratio outside its spread in {row}");
        let noise = low <= 1.0 && high >= 1.0;
        let expected = if noise {
            "within noise"
        } else if ratio > 1.0 {
            "vmem faster"
        } else {
            "peer faster"
        };
        // At the printed precision a spread ending at exactly 1.00 may go either way.
        if low != 1.0 && high != 1.0 {
            assert_eq!(verdict, expected, "{row}");
        }
    }
    // One chart per comparison and the summary, all valid SVG, each one listed.
    let svgs: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(svgs.len(), rows.len() + 1, "{svgs:?}");
    for path in &svgs {
        let text = parse_svg(path);
        assert!(text.contains("vmem"), "{}: no vmem series", path.display());
        assert!(out.contains(&format!("chart: {}", path.display())), "{} not listed in:\n{out}", path.display());
    }
    let summary = parse_svg(&dir.path().join("summary.svg"));
    for label in ["arena vs bumpalo", "VirtualVec vs Vec", "Pool vs slab", "RingBuffer vs VecDeque"] {
        assert!(summary.contains(label), "summary.svg has no {label}");
    }
    assert!(summary.contains("1.0: same speed"), "summary.svg does not mark 1.0");
    for verdict in rows.iter().map(|r| r.rsplit("  ").next().unwrap().trim()) {
        assert!(summary.contains(verdict), "summary.svg lacks {verdict:?}");
    }
}

#[test]
fn bench_json_has_medians_and_the_ratio_of_the_medians() {
    let v = json(&["bench", "--quick", "--rounds", "2", "--json"]);
    assert_eq!(v["rounds"], 2);
    let results = v["results"].as_array().unwrap();
    assert!(results.len() >= 4);
    for r in results {
        assert_eq!(r["vmem_ns"].as_array().unwrap().len(), 2, "{r}");
        for key in ["vmem_median_ns", "peer_median_ns", "ratio", "ratio_min", "ratio_max"] {
            assert!(r[key].as_f64().is_some_and(|x| x > 0.0), "{key} in {r}");
        }
        let f = |key: &str| r[key].as_f64().unwrap();
        assert!((f("ratio") - f("peer_median_ns") / f("vmem_median_ns")).abs() < 1e-9, "{r}");
        let noise = f("ratio_min") <= 1.0 && f("ratio_max") >= 1.0;
        assert_eq!(r["within_noise"].as_bool(), Some(noise), "{r}");
        assert!(r["label"].as_str().is_some_and(|l| l.contains(" vs ")), "{r}");
    }
}

#[test]
fn tour_svg_charts_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let assert = vmem().args(["tour", "--svg"]).arg(dir.path()).assert().success();
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    let path = dir.path().join("tour.svg");
    assert!(out.contains(&format!("chart: {}", path.display())), "{out}");
    let text = parse_svg(&path);
    for part in [
        "RSS",
        "commit charge",
        "mapped",
        "start",
        "reserve 64 GiB",
        "touch every page",
        "ring buffer: write across the end",
        "64 GiB",
    ] {
        assert!(text.contains(part), "tour.svg has no {part:?}");
    }
    // With --json the chart is written too, and stdout stays pure JSON.
    let dir = tempfile::tempdir().unwrap();
    let out = vmem().args(["tour", "--json", "--svg"]).arg(dir.path()).assert().success().get_output().stdout.clone();
    serde_json::from_slice::<serde_json::Value>(&out).expect("JSON");
    parse_svg(&dir.path().join("tour.svg"));
}

#[test]
fn usage_errors_exit_2_and_failures_exit_1_with_one_clear_line() {
    // Usage errors: clap's exit code 2, as the README says.
    for args in [
        vec!["frobnicate"],
        vec!["bench", "--rounds", "0"],
        vec!["bench", "--rounds", "many"],
        vec!["bench", "--no-such-flag"],
        vec!["tour", "--svg"],
    ] {
        let assert = vmem().args(&args).assert().code(2);
        let err = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(err.starts_with("error:"), "{args:?}: {err}");
    }
    // No command at all: the usage, on stderr, also with code 2.
    vmem().assert().code(2).stderr(predicate::str::contains("Usage: vmem <COMMAND>"));
    vmem().args(["bench", "--rounds", "0"]).assert().code(2).stderr(predicate::str::contains("--rounds"));
    vmem().args(["bench", "--rounds", "many"]).assert().code(2).stderr(predicate::str::contains("invalid value"));
    // Failures: exit code 1 and one line that says what is wrong, before any work is done.
    let file = tempfile::NamedTempFile::new().unwrap();
    for path in [file.path(), std::path::Path::new("/dev/null")] {
        for command in [&["bench", "--quick"][..], &["tour"][..]] {
            let assert = vmem().args(command).arg("--svg").arg(path).assert().code(1);
            let output = assert.get_output();
            let err = String::from_utf8_lossy(&output.stderr).into_owned();
            assert_eq!(
                err.trim_end(),
                format!("error: --svg {}: not a directory (charts need a directory to go into)", path.display())
            );
            assert!(output.stdout.is_empty(), "{command:?}: {}", String::from_utf8_lossy(&output.stdout));
        }
    }
    // A directory that cannot be created, under a file: one line that says why.
    let assert = vmem().args(["bench", "--quick", "--svg"]).arg(file.path().join("charts")).assert().code(1);
    let err = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(err.starts_with("error: --svg ") && err.contains("is a file, not a directory"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_readme_states_the_exit_codes_the_tool_uses() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    assert!(readme.contains("the exit code is 2 for a usage error"), "README: usage errors");
    assert!(readme.contains("1 when a command fails"), "README: failures");
    assert!(!readme.contains("exit code 1."), "README still says exit code 1 for everything");
}

#[test]
fn every_command_has_help_with_an_example() {
    for args in [vec!["--help"], vec!["info", "--help"], vec!["tour", "--help"], vec!["bench", "--help"]] {
        vmem().args(&args).assert().code(0).stdout(predicate::str::contains("Example"));
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
