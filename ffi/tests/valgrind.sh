#!/usr/bin/env bash
# Builds libvmem, compiles the C test programs (tests/c/*.c and the README's C example) as
# C11 and C++20, links them statically and dynamically, and runs each under valgrind's
# memcheck: any invalid access, use of uninitialized memory or leak fails the script.
#
#   bash ffi/tests/valgrind.sh          (from anywhere; .ci/run calls it)
#
# Needs cargo, cc, c++ and valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }

cargo build -p vmem-c
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
libs=$target_dir/debug

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/lib"
cp "$libs/libvmem.a" "$libs/libvmem.so" "$work/lib/"

# The first ```c block of the README section "## Using it from C and C++".
awk '
    /^## / { in_section = ($0 == "## Using it from C and C++") }
    in_section && !done && /^```c$/ { in_code = 1; next }
    in_code && /^```$/ { in_code = 0; done = 1 }
    in_code { print }
' README.md >"$work/readme_example.c"
[[ -s $work/readme_example.c ]] || { echo "no C example in the README" >&2; exit 1; }

flags=(-Wall -Wextra -Werror -pedantic -g -I "$root/ffi/include")
valgrind_flags=(--error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible
    --track-origins=yes --quiet)
failed=0
for source in ffi/tests/c/api.c ffi/tests/c/threads.c ffi/tests/c/layout.c "$work/readme_example.c"; do
    name=$(basename "$source" .c)
    for lang in c11 c++20; do
        case $lang in
            c11) compiler=(cc -x c -std=c11) ;;
            c++20) compiler=(c++ -x c++ -std=c++20) ;;
        esac
        for link in static shared; do
            exe=$work/$name-$lang-$link
            case $link in
                static) libs_args=("$work/lib/libvmem.a") ;;
                shared) libs_args=(-L "$work/lib" -lvmem "-Wl,-rpath,$work/lib") ;;
            esac
            "${compiler[@]}" "${flags[@]}" "$source" -x none "${libs_args[@]}" -lpthread -ldl -lm -o "$exe"
            printf '%-40s ' "$name ($lang, $link)"
            if valgrind "${valgrind_flags[@]}" --log-file="$exe.log" "$exe" >"$exe.out" 2>&1; then
                echo "ok: $(tail -n 1 "$exe.out")"
            else
                echo "FAILED"
                cat "$exe.out" "$exe.log"
                failed=1
            fi
        done
    done
done
# The fault probe's control case (the others end in SIGSEGV by design).
cc -std=c11 "${flags[@]}" ffi/tests/c/fault.c "$work/lib/libvmem.a" -lpthread -ldl -lm -o "$work/fault"
printf '%-40s ' "fault committed (c11, static)"
if valgrind "${valgrind_flags[@]}" --log-file="$work/fault.log" "$work/fault" committed; then
    echo ok
else
    echo FAILED
    cat "$work/fault.log"
    failed=1
fi

if ((failed)); then
    echo "valgrind found problems" >&2
    exit 1
fi
echo "valgrind: all clean"
