//! Numbers for people.

use crate::sys::Limit;

/// `bytes` in the largest binary unit that keeps it at least 1 (exact units without
/// decimals: "4 KiB", "2 MiB", "1.5 GiB").
pub fn bytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    // 1023.96 MiB would print as "1024.0 MiB": take the next unit once rounding reaches it.
    while value >= 1023.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A signed change: "+256 MiB", "-1.5 GiB", "+0 bytes".
pub fn delta(now: u64, before: u64) -> String {
    if now >= before {
        format!("+{}", bytes(now - before))
    } else {
        format!("-{}", bytes(before - now))
    }
}

/// A limit as "soft (hard max)", with "unlimited".
pub fn limit(l: Option<Limit>) -> String {
    let one = |v: Option<u64>| v.map(bytes).unwrap_or_else(|| "unlimited".into());
    match l {
        None => "unknown".into(),
        Some(Limit { soft, hard }) if soft == hard => one(soft),
        Some(Limit { soft, hard }) => format!("{} (can be raised to {})", one(soft), one(hard)),
    }
}

/// A duration in the unit that suits it.
pub fn duration_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(bytes(4096), "4 KiB");
        assert_eq!(bytes(1536 << 20), "1.5 GiB");
        assert_eq!(bytes(12), "12 bytes");
        assert_eq!(bytes((1 << 30) - 4096), "1.0 GiB");
        assert_eq!(bytes(1023), "1023 bytes");
        assert_eq!(delta(3 << 20, 1 << 20), "+2 MiB");
        assert_eq!(delta(1 << 30, 3 << 29), "-512 MiB");
        assert_eq!(limit(Some(Limit { soft: None, hard: None })), "unlimited");
        assert_eq!(duration_ns(2_500_000.0), "2.50 ms");
    }
}
