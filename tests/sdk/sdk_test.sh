#!/bin/sh
# tests/sdk/sdk_test.sh BUILD_DIR SOURCE_DIR WORK_DIR: the installed SDK, as a plugin author
# meets it. Installs the build into a temporary prefix; runs the installed `tranche new`, builds
# that project against the prefix with CMake (find_package(tranche)) and runs its ctest; runs the
# README's out-of-tree examples as written (its plugin built with one pkg-config line into
# `pkg-config --variable=plugindir` and run by name, its CMakeLists.txt); builds a
# two-file plugin with tranche_add_plugin and checks it exports nothing but its descriptor; then
# runs all three by name through the installed tranche, with no TRANCHE_PLUGIN_PATH, against
# rev and sed. Also checks that the man page documents every option of every --help text.
set -eu

build=$1
src=$2
work=$3
prefix=$work/prefix

fail() {
    echo "sdk_test: $*" >&2
    exit 1
}

unset TRANCHE_PLUGIN_PATH || true
export LC_ALL=C
rm -rf "$work"
mkdir -p "$work"
cd "$work"

# 1. The install: CLI, bundled plugins, header, pkg-config file, CMake package, man pages.
cmake --install "$build" --prefix "$prefix" >install.log || fail "cmake --install failed"
tranche=$prefix/bin/tranche
for f in bin/tranche include/tranche/plugin.h lib/pkgconfig/tranche-plugin.pc \
    lib/cmake/tranche/trancheConfig.cmake lib/cmake/tranche/trancheConfigVersion.cmake \
    lib/cmake/tranche/TranchePlugin.cmake share/man/man1/tranche.1 \
    share/man/man7/tranche-plugin.7 lib/tranche/plugins/upper.so; do
    [ -f "$prefix/$f" ] || fail "not installed: $prefix/$f"
done

# 2. pkg-config: the README's one line builds the README's plugin into the plugin directory,
# and the README's commands run it by name with the installed tranche.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
plugindir=$(pkg-config --variable=plugindir tranche-plugin)
[ "$plugindir" = "$prefix/lib/tranche/plugins" ] ||
    fail "pkg-config plugindir is '$plugindir', not $prefix/lib/tranche/plugins"
readme_block() { # the fenced block after <!-- example-NAME -->, without its fences
    sed -n "/^<!-- example-$1 -->/,/^<!-- end -->/p" "$src/README.md" | sed '1,2d;$d' | sed '$d'
}
readme_block plugin >rev.c
readme_block pkg-config >pkg-config.sh
readme_block cmake >CMakeLists.txt
grep -q TRANCHE_PLUGIN rev.c || fail "no example plugin between the README's markers"
grep -q 'pkg-config --cflags tranche-plugin' pkg-config.sh || fail "no pkg-config example"
grep -q 'tranche_add_plugin(rev' CMakeLists.txt || fail "no CMake example"
# shellcheck disable=SC2046 # the flags are words
cc -std=c11 -Wall -Wextra -Werror -O2 -shared -fPIC $(pkg-config --cflags tranche-plugin) rev.c \
    -o rev-check.so || fail "the README's plugin does not build warning-free"
printf 'abc\n\nhello world\n' >in.txt
PATH="$prefix/bin:$PATH" sh -e pkg-config.sh || fail "the README's pkg-config lines failed"
[ -f "$plugindir/rev.so" ] || fail "the README's pkg-config line did not install rev.so"
rev in.txt | cmp - out.txt || fail "the README's rev.yaml: out.txt differs from rev"
mkdir rev-cmake && mv CMakeLists.txt rev-cmake/ && cp rev.c rev-cmake/
cmake -S rev-cmake -B rev-cmake/build -DCMAKE_PREFIX_PATH="$prefix" >rev-cmake.log 2>&1 &&
    cmake --build rev-cmake/build >>rev-cmake.log 2>&1 ||
    fail "the README's CMakeLists.txt does not build: $(cat rev-cmake.log)"
[ -f rev-cmake/build/rev.so ] || fail "the README's CMake project did not build rev.so"

# 3. The CMake package: the project `tranche new` writes builds and passes as written.
"$tranche" new demo >new.out || fail "tranche new demo failed"
grep -q "CMAKE_PREFIX_PATH=$prefix\$" new.out ||
    fail "tranche new does not name the prefix: $(cat new.out)"
cmake -S demo -B demo/build -DCMAKE_PREFIX_PATH="$prefix" >demo.log 2>&1 ||
    fail "configuring the project of tranche new failed: $(cat demo.log)"
cmake --build demo/build >>demo.log 2>&1 || fail "building demo failed: $(cat demo.log)"
ctest --test-dir demo/build --output-on-failure >>demo.log 2>&1 ||
    fail "the ctest of the project of tranche new failed: $(cat demo.log)"
cmake --install demo/build >>demo.log 2>&1 || fail "installing demo failed: $(cat demo.log)"
[ -f "$plugindir/demo.so" ] || fail "cmake --install put demo.so elsewhere than $plugindir"

# The build tree holds the package too: a project of the build tree's tranche new builds against
# it, and its test runs with build/bin/tranche (nothing is installed into the build tree).
"$build/bin/tranche" new in_build >new-build.out || fail "build/bin/tranche new failed"
grep -q "CMAKE_PREFIX_PATH=$(cd "$build" && pwd -P)\$" new-build.out ||
    fail "build/bin/tranche new does not name the build directory: $(cat new-build.out)"
cmake -S in_build -B in_build/build -DCMAKE_PREFIX_PATH="$build" >in-build.log 2>&1 &&
    cmake --build in_build/build >>in-build.log 2>&1 &&
    ctest --test-dir in_build/build --output-on-failure >>in-build.log 2>&1 ||
    fail "a project against the build tree: $(cat in-build.log)"
grep -q -- "-DTRANCHE=$build/bin/tranche\"" in_build/build/CTestTestfile.cmake ||
    fail "the build tree's package does not name build/bin/tranche"

# 4. tranche_add_plugin: NAME.so without "lib", hidden by default: of two files' functions,
# only the descriptor is exported.
mkdir vis
cat >vis/CMakeLists.txt <<'EOF'
cmake_minimum_required(VERSION 3.20)
project(vis C)
find_package(tranche REQUIRED)
tranche_add_plugin(vis SOURCES vis.c helper.c)
EOF
cat >vis/helper.c <<'EOF'
#include <stddef.h>
size_t vis_helper(size_t len) { return len; }
EOF
cat >vis/vis.c <<'EOF'
#include <tranche/plugin.h>
size_t vis_helper(size_t len);
static const struct tranche_host *host;
static int vis_init(tranche_ctx *ctx, const struct tranche_host *h, void **state)
{
    (void)ctx, (void)state;
    host = h;
    return TRANCHE_OK;
}
static int vis_record(void *state, tranche_ctx *ctx, char *data, size_t len)
{
    (void)state;
    return host->emit(ctx, data, vis_helper(len));
}
TRANCHE_PLUGIN = {TRANCHE_PLUGIN_ABI, .name = "vis", .init = vis_init, .record = vis_record};
EOF
cmake -S vis -B vis/build -DCMAKE_PREFIX_PATH="$prefix" >vis.log 2>&1 &&
    cmake --build vis/build >>vis.log 2>&1 && cmake --install vis/build >>vis.log 2>&1 ||
    fail "a two-file plugin with tranche_add_plugin: $(cat vis.log)"
[ -f vis/build/vis.so ] || fail "tranche_add_plugin did not build vis.so: $(ls vis/build)"
exported=$(nm -D --defined-only "$plugindir/vis.so" | awk '{ print $3 }' | sort | tr '\n' ' ')
[ "$exported" = "tranche_plugin " ] ||
    fail "vis.so should export only tranche_plugin, exports: $exported"

# 5. All three by name, through the installed tranche, with no TRANCHE_PLUGIN_PATH.
printf 'first line\nsecond\n\nlast without newline' >input.txt
cat >job.yaml <<'EOF'
input:
  path: input.txt
output:
  path: out.txt
log_dir: logs
steps:
  - plugin: rev
  - plugin: vis
  - plugin: demo
    options: { prefix: "p: " }
EOF
"$tranche" run job.yaml --workers 2 || fail "the job of installed plugins failed"
{ cat input.txt; echo; } | rev | sed 's/^/p: /' | cmp - out.txt ||
    fail "installed plugins by name: out.txt differs from rev | sed"

# 6. The man page names every option of every --help text: those that start a line of a list
# ("  -w, --workers N", "  --version") or are in brackets ("[--jobs N]"), not the options of
# other commands in examples (gdb --args, cmake --build).
for cmd in "" run filter new plugins index report submit; do
    if [ -z "$cmd" ]; then "$tranche" --help; else "$tranche" help "$cmd"; fi
done | grep -oE -- '(^ *(-[a-zA-Z], )?|\[)--[a-z][a-z-]*' | sed 's/.*--/--/' | sort -u >options.txt
[ -s options.txt ] || fail "no options found in the help texts"
while read -r opt; do
    roff=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
    grep -q -- "$roff" "$prefix/share/man/man1/tranche.1" ||
        fail "tranche.1 does not document $opt (from tranche --help or a command's --help)"
done <options.txt
if command -v groff >/dev/null; then
    warnings=$(groff -man -ww -z "$prefix/share/man/man1/tranche.1" 2>&1)
    [ -z "$warnings" ] || fail "groff warns on tranche.1: $warnings"
fi

# (SDK_TEST_KEEP=1 keeps the work directory, to look into)
[ -n "${SDK_TEST_KEEP:-}" ] || rm -rf "$work"
echo "sdk_test: ok"
