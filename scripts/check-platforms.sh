#!/usr/bin/env bash
# Type-checks the backends this Linux machine cannot run, as far as it can:
#
# - `--cfg vmem_check_windows`: src/os/windows.rs in place of the Unix backends. windows-sys
#   is declarations and constants only, so this is the real Windows backend checked against
#   the real windows-sys declarations; only the Linux target's types (usize is 64 bits) are
#   assumed.
# - `--cfg vmem_check_bsd`: src/os/bsd.rs in place of src/os/linux.rs, checked against the
#   libc crate's *Linux* declarations. That covers the code shared by the BSDs, illumos and
#   Solaris (memory_status, the ring's shm_open, unix.rs under the BSDs' cfgs), not the
#   FreeBSD-only parts (kinfo_getvmmap, kinfo_proc, SHM_ANON, sysctl) nor NetBSD's: libc
#   declares those only when the target is FreeBSD or NetBSD.
# - src/os/macos.rs cannot be checked this way at all: mach2 refuses to build for anything
#   but macOS and iOS, and libc's Apple declarations are target-gated too.
#
# Each configuration: `cargo clippy -D warnings` of the libraries (vmem, vmem-ffi), with and
# without default features. Each one is a library build only (the tests need the host's
# backend and are not built).
#
# Where real targets are installed (`rustup target add x86_64-unknown-freebsd ...`, as the
# GitHub workflow does; not possible on the project's machines), the same clippy runs for
# each of them, which checks every backend against its own libc declarations.
#
#   bash scripts/check-platforms.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/check-platforms"
base_rustflags=${RUSTFLAGS:-}

check() {
    # check LABEL RUSTFLAGS [cargo args...]
    local label=$1 flags=$2
    shift 2
    for features in "" "--no-default-features"; do
        printf -- '-- %s %s\n' "$label" "${features:-(default features)}"
        RUSTFLAGS="$base_rustflags $flags" cargo clippy -q -p vmem -p vmem-ffi --lib $features "$@" -- -D warnings
    done
}

check "Windows backend (--cfg vmem_check_windows)" "--cfg vmem_check_windows"
check "BSD backend, shared parts (--cfg vmem_check_bsd)" "--cfg vmem_check_bsd"

installed=$(rustup target list --installed 2>/dev/null || true)
for target in x86_64-unknown-freebsd x86_64-unknown-netbsd x86_64-unknown-illumos x86_64-pc-solaris \
    x86_64-pc-windows-msvc x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin; do
    if grep -qx "$target" <<<"$installed"; then
        check "target $target" "" --target "$target"
    fi
done
echo "check-platforms: ok"
