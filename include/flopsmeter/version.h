// flopsmeter version: the single source of the version number.
// CMake parses FLOPSMETER_VERSION_* from this file; the CLI's --version,
// the C ABI and the JSON outputs report it.
#ifndef FLOPSMETER_VERSION_H_
#define FLOPSMETER_VERSION_H_

#define FLOPSMETER_VERSION_MAJOR 0
#define FLOPSMETER_VERSION_MINOR 1
#define FLOPSMETER_VERSION_PATCH 0
#define FLOPSMETER_VERSION_STRING "0.1.0"

#endif  // FLOPSMETER_VERSION_H_
