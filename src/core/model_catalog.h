// Parses one bundled-catalog model file (data/models/ORG__NAME.json).
// Pure: the caller reads the file.
#ifndef FLOPSMETER_CORE_MODEL_CATALOG_H_
#define FLOPSMETER_CORE_MODEL_CATALOG_H_

#include <string>
#include <string_view>

#include "flopsmeter/catalog.h"

namespace flopsmeter {

Result<CatalogModel> parse_catalog_model(std::string_view text, const std::string& origin);

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_MODEL_CATALOG_H_
