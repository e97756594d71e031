// Parses one bundled-catalog model file (data/models/ORG__NAME.json).
// Pure: the caller reads the file.
#ifndef FLOPSMETER_CORE_MODEL_CATALOG_H_
#define FLOPSMETER_CORE_MODEL_CATALOG_H_

#include <string>
#include <string_view>
#include <vector>

#include "flopsmeter/catalog.h"

namespace flopsmeter {

Result<CatalogModel> parse_catalog_model(std::string_view text, const std::string& origin);

// Up to `limit` of `candidates` closest to `query` by edit distance
// (case-insensitive), best first: for "did you mean" suggestions.
std::vector<std::string> closest_names(std::string_view query, const std::vector<std::string>& candidates,
                                       size_t limit = 3);

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_MODEL_CATALOG_H_
