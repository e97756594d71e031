"""Builds the flopsmeter wheel with libflopsmeter.so inside the package,
where flopsmeter._native looks first after FLOPSMETER_LIBRARY.

The library comes from FLOPSMETER_PREBUILT (a libflopsmeter.so), else the
repository's build/ directory, else a CMake build of the C ABI alone
(cmake and the Debian -dev packages scripts/setup.sh installs). The version is
include/flopsmeter/version.h's, the one place it is defined.
"""
import os
import re
import shutil
import subprocess
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
# The repository this python/ directory belongs to, or FLOPSMETER_SOURCE_DIR
# for a copy of it built elsewhere.
REPO = os.environ.get("FLOPSMETER_SOURCE_DIR") or os.path.dirname(HERE)


def version():
    with open(os.path.join(REPO, "include", "flopsmeter", "version.h"), encoding="utf-8") as header:
        return re.search(r'FLOPSMETER_VERSION_STRING "([0-9.]+)"', header.read()).group(1)


def built_library():
    """A libflopsmeter.so to bundle: given, already built, or built now."""
    given = os.environ.get("FLOPSMETER_PREBUILT")
    if given:
        if not os.path.isfile(given):
            raise SystemExit(f"FLOPSMETER_PREBUILT={given}: no such file")
        return given
    in_build = os.path.join(REPO, "build", "libflopsmeter.so")
    if os.path.isfile(in_build):
        return in_build
    build_dir = tempfile.mkdtemp(prefix="flopsmeter-build-")
    subprocess.run(["cmake", "-S", REPO, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DFM_BUILD_TESTS=OFF"],
                   check=True)
    subprocess.run(["cmake", "--build", build_dir, "--target", "flopsmeter_c", "-j", str(os.cpu_count() or 2)],
                   check=True)
    return os.path.join(build_dir, "libflopsmeter.so")


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "flopsmeter", "libflopsmeter.so")
        # copyfile follows the libflopsmeter.so -> .so.N -> .so.N.x links: one real file.
        shutil.copyfile(built_library(), target)


class BinaryDistribution(Distribution):
    """The wheel holds a native library: tag it for this platform."""

    def has_ext_modules(self):
        return True


setup(version=version(), packages=["flopsmeter"], cmdclass={"build_py": BuildWithLibrary},
      distclass=BinaryDistribution)
