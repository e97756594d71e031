// The data/ directory compiled into the library (see cmake/embed_data.cmake).
#ifndef FLOPSMETER_ADAPTERS_EMBEDDED_DATA_H_
#define FLOPSMETER_ADAPTERS_EMBEDDED_DATA_H_

#include <string_view>
#include <vector>

namespace flopsmeter::embedded {

struct File {
  std::string_view path;      // relative to data/, e.g. "rules.json"
  std::string_view contents;
};

// Every embedded file, sorted by path.
const std::vector<File>& files();

}  // namespace flopsmeter::embedded

#endif  // FLOPSMETER_ADAPTERS_EMBEDDED_DATA_H_
