#!/usr/bin/env bash
# flopsmeter installs like a library of the ecosystem: `cmake --install` into
# a fresh prefix gives the CLI, the headers, libflopsmeter.so (soname from the
# ABI version, only fm_* exported), a relocatable pkg-config file and a CMake
# package that a C and a C++ consumer build against; `pip install ./python`
# bundles the library, and the package loads it with nothing else set.
#
#   bash tests/install/install_contract.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
BUILD=$1
SRC=$2
WORK=$(mktemp -d "${TMPDIR:-/tmp}/install_contract.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FM=$BUILD/flopsmeter
# shellcheck source=../cli/lib/contract.sh
source "$SRC/tests/cli/lib/contract.sh"
isolate_environment "$WORK/env"
unset FLOPSMETER_LIBRARY
PREFIX=$WORK/prefix
ABI=$(sed -n 's/^#define FM_ABI_VERSION \([0-9]*\).*/\1/p' "$SRC/include/flopsmeter/c_api.h")

installed() {
  cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log" || { cat "$WORK/install.log"; return 1; }
  local f
  for f in bin/flopsmeter include/flopsmeter/c_api.h include/flopsmeter/meter.h "lib/libflopsmeter.so.$ABI" \
    lib/libflopsmeter.so lib/libflopsmeter.a lib/pkgconfig/flopsmeter.pc lib/cmake/flopsmeter/flopsmeterConfig.cmake \
    lib/cmake/flopsmeter/flopsmeterConfigVersion.cmake share/flopsmeter/rules.json share/doc/flopsmeter/LICENSE; do
    [[ -e $PREFIX/$f ]] || { echo "not installed: $f"; return 1; }
  done
  [[ $("$PREFIX/bin/flopsmeter" --version) == "flopsmeter "* ]]
}
check "cmake --install gives the CLI, headers, libraries, pkg-config and CMake files, data and licence" installed

abi() {
  # Whole outputs into variables: grep -q ending a pipe early fails it under pipefail.
  local soname
  soname=$(objdump -p "$PREFIX/lib/libflopsmeter.so" | awk '$1 == "SONAME" {print $2}')
  [[ $soname == "libflopsmeter.so.$ABI" ]] || { echo "soname is '$soname', not libflopsmeter.so.$ABI"; return 1; }
  local others
  others=$(nm -D --defined-only "$PREFIX/lib/libflopsmeter.so" | awk '{print $3}' | grep -v '^fm_')
  [[ -z $others ]] || { echo "exported besides fm_*:"; echo "$others" | head; return 1; }
}
check "the soname follows the ABI version and only fm_* is exported" abi

c_by_pkg_config() {
  printf '#include <stdio.h>\n#include <flopsmeter/c_api.h>\nint main(void) {\n  printf("%%d %%s\\n", fm_abi_version(), fm_version());\n  return fm_abi_version() == FM_ABI_VERSION ? 0 : 1;\n}\n' >"$WORK/use.c"
  # shellcheck disable=SC2046
  cc -std=c11 -Wall -Werror "$WORK/use.c" -o "$WORK/use" $(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --cflags --libs flopsmeter) &&
    [[ $(LD_LIBRARY_PATH=$PREFIX/lib "$WORK/use") == "$ABI "* ]]
}
check "a C program builds with pkg-config flopsmeter against the installed prefix" c_by_pkg_config

cmake_package() {
  mkdir -p "$WORK/consumer" &&
    cat >"$WORK/consumer/CMakeLists.txt" <<'CMAKE' &&
cmake_minimum_required(VERSION 3.25)
project(consumer LANGUAGES C CXX)
find_package(flopsmeter 0.1 REQUIRED)
add_executable(use_c use.c)
target_link_libraries(use_c PRIVATE flopsmeter::flopsmeter_c)
add_executable(use_cpp use.cc)
set_target_properties(use_cpp PROPERTIES CXX_STANDARD 20)
target_link_libraries(use_cpp PRIVATE flopsmeter::flopsmeter)
CMAKE
    cp "$WORK/use.c" "$WORK/consumer/use.c" &&
    printf '#include <cstdio>\n#include "flopsmeter/catalog.h"\n#include "flopsmeter/load.h"\n#include "flopsmeter/model.h"\nint main() {\n  auto catalog = flopsmeter::Catalog::Load("");\n  if (!catalog.ok()) return 1;\n  auto m = flopsmeter::load_model("meta-llama/Llama-3.2-1B", *catalog);\n  if (!m.ok()) return 2;\n  std::printf("%%llu\\n", static_cast<unsigned long long>(flopsmeter::count_parameters(m->model).total));\n}\n' >"$WORK/consumer/use.cc" &&
    cmake -S "$WORK/consumer" -B "$WORK/consumer/build" -G Ninja -DCMAKE_PREFIX_PATH="$PREFIX" >"$WORK/consumer.log" 2>&1 &&
    cmake --build "$WORK/consumer/build" >>"$WORK/consumer.log" 2>&1 || { tail -30 "$WORK/consumer.log"; return 1; }
  [[ $(LD_LIBRARY_PATH=$PREFIX/lib "$WORK/consumer/build/use_c") == "$ABI "* ]] &&
    [[ $("$WORK/consumer/build/use_cpp") == 1235814400 ]]
}
check "find_package(flopsmeter): a C consumer of the ABI and a C++ consumer of the static library" cmake_package

pip_install() {
  cp -r "$SRC/python" "$WORK/python" && rm -rf "$WORK/python/build" "$WORK/python"/*.egg-info &&
    FLOPSMETER_SOURCE_DIR=$SRC FLOPSMETER_PREBUILT=$BUILD/libflopsmeter.so \
      /usr/bin/python3 -m pip install --quiet --no-index --no-build-isolation --target "$WORK/site" "$WORK/python" \
      >"$WORK/pip.log" 2>&1 || { tail -20 "$WORK/pip.log"; return 1; }
  [[ -f $WORK/site/flopsmeter/libflopsmeter.so && ! -L $WORK/site/flopsmeter/libflopsmeter.so ]] || {
    echo "the library is not bundled as a file"; return 1; }
  (cd "$WORK" && PYTHONPATH=$WORK/site /usr/bin/python3 -c "
import flopsmeter, flopsmeter._native as native, os, sys
assert native.library()._name == os.path.join('$WORK/site', 'flopsmeter', 'libflopsmeter.so'), native.library()._name
assert flopsmeter.version() == '$("$FM" --version | cut -d' ' -f2)', flopsmeter.version()
assert flopsmeter.ABI_VERSION == $ABI
")
}
check "pip install ./python bundles libflopsmeter.so, which the package loads with nothing set" pip_install

report_checks install_contract
