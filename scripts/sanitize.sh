#!/usr/bin/env bash
# Runs the whole test suite under AddressSanitizer (nightly), then the C ABI tests under
# valgrind's memcheck. Exits non-zero on any finding.
#
#   bash scripts/sanitize.sh            # both
#   bash scripts/sanitize.sh asan       # AddressSanitizer only
#   bash scripts/sanitize.sh valgrind   # valgrind only
#   bash scripts/sanitize.sh tsan       # the concurrent tests under ThreadSanitizer (not in "all")
#
# Needs the nightly toolchain (no rust-src needed: std itself is not instrumented, our code
# and the tests are) and, for the second part, cc, c++ and valgrind.
#
# Under ASan:
# - tests that set RLIMIT_AS or RLIMIT_DATA skip their check (VMEM_UNDER_ASAN=1): ASan's
#   shadow memory is terabytes of address space, counted by both limits, so no limit can
#   be set that leaves the process able to map anything;
# - the C programs of the vmem-ffi tests are not built (the Rust library they link would
#   need the ASan runtime linked into every C program); valgrind covers them instead.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
target=x86_64-unknown-linux-gnu

if [[ $what == all || $what == asan ]]; then
    echo "== cargo +nightly test under AddressSanitizer =="
    export RUSTFLAGS="-Zsanitizer=address"
    export RUSTDOCFLAGS="-Zsanitizer=address"
    # handle_segv=0: the guard-page tests fault on purpose and expect the child to die of
    # SIGSEGV, not of an ASan report.
    export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:handle_segv=0:handle_sigbus=0"
    # Leaks that tests make on purpose (each explained in the file).
    export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
    export VMEM_UNDER_ASAN=1
    # A separate target directory: sanitized and plain builds must not mix.
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/asan}
    cargo +nightly test --no-fail-fast --target "$target" --workspace --exclude vmem-ffi
    # vmem-ffi's Rust-side tests (registry, messages, arena, handles), without the C programs.
    cargo +nightly test --no-fail-fast --target "$target" -p vmem-ffi --lib --test abi --test attacks
    unset RUSTFLAGS RUSTDOCFLAGS CARGO_TARGET_DIR
fi

if [[ $what == tsan ]]; then
    # The tests where threads share the crate's structures: the review's races
    # (tests/correctness.rs, tests/reservation_attacks.rs, tests/attacks_2.rs), the warm cache (tests/warm_cache.rs,
    # the crate's lock in src/sync.rs), ConcurrentVec, the arenas (SyncArena), the ring's
    # `spsc_*` tests and the C arena's push racing a decommit.
    #
    # The standard library is not instrumented (that needs -Zbuild-std), so TSan does not see
    # synchronization inside it: `scripts/tsan.supp` suppresses the two such places the ring
    # tests met. Other std synchronization (scoped threads' end, Barrier, Mutex) is invisible
    # too; a report whose other side is in std or in a test's own bookkeeping after such a
    # join is not a finding until checked.
    echo "== cargo +nightly test of the concurrent tests under ThreadSanitizer =="
    # --cfg vmem_tsan: the crate's own lock is its spin lock (src/sync.rs), which TSan sees.
    # --cfg rustix_use_libc: rustix makes its system calls through libc, where TSan intercepts
    # them; with its raw system calls TSan never sees a region unmapped, and takes the next
    # owner of the same addresses (a new reservation placed there) for a racing thread.
    export RUSTFLAGS="-Zsanitizer=thread -Cunsafe-allow-abi-mismatch=sanitizer --cfg vmem_tsan --cfg rustix_use_libc"
    # die_after_fork=0: the warm cache's fork tests fork a multithreaded process on purpose.
    export TSAN_OPTIONS="suppressions=$PWD/scripts/tsan.supp:die_after_fork=0:report_signal_unsafe=0"
    # TSan's shadow memory, like ASan's, is terabytes of address space: tests that set
    # RLIMIT_AS or RLIMIT_DATA skip their check (the variable's name is ASan's, its meaning
    # is "a sanitizer maps the address space").
    export VMEM_UNDER_ASAN=1
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/tsan}
    tsan_test() { cargo +nightly test --target "$target" "$@"; }
    # The spin lock's tests (`excludes_other_threads` tests std's Mutex, which TSan cannot see).
    tsan_test -p vmem --lib -- sync::tests::spin_lock sync::tests::a_failed_try_lock
    tsan_test -p vmem --test correctness
    tsan_test -p vmem --test reservation_attacks
    tsan_test -p vmem --test attacks_2
    # Not the tests that measure RSS: TSan's shadow memory is resident too.
    tsan_test -p vmem --test warm_cache -- --skip the_cache_is_bounded --skip trim_returns_the_memory \
        --skip a_cache_turned_off_keeps_nothing
    tsan_test -p vmem --test concurrent_vec
    tsan_test -p vmem --test arena sync_
    tsan_test -p vmem --test ring spsc
    # The IPC ring between threads and processes (the zero-copy calls, fence-less publishing,
    # close and kill during waits). One test at a time: two tests' rings can be mapped at the
    # same addresses one after the other, which TSan would take for a race.
    tsan_test -p vmem --test ipc_ring --test ipc_attacks -- --test-threads=1
    tsan_test -p vmem-ffi --test abi arena_push
    unset RUSTFLAGS CARGO_TARGET_DIR
    echo "sanitize: tsan clean"
    exit 0
fi

if [[ $what == all || $what == valgrind ]]; then
    echo "== C ABI tests under valgrind =="
    bash ffi/tests/valgrind.sh
fi
echo "sanitize: clean"
