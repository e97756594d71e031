// libFuzzer harness for the parsers of untrusted bytes.
//
// The first input byte picks the parser: even -> parse_json_document, odd ->
// parse_safetensors_header (its upper bits also set how many data bytes the
// pretend file has after the input). The rest of the input is the text, which
// the parsers of what exports read also get, whatever the first byte: the
// AWS shared files' INI, S3's XML answers, export and endpoint URLs.
//
// Beyond crashes and sanitizer reports, the harness checks properties that
// must hold for every input, and traps when one does not:
//  - a message always starts with the origin and holds no control bytes;
//  - JSON: we accept only what nlohmann accepts, and we refuse what it
//    accepts only for our own stricter rules (duplicate keys, NUL bytes,
//    depth); every key in the tree has a recorded position;
//  - safetensors: every returned tensor is consistent with its dtype, shape
//    and offsets, inside the data region, and overlaps no other tensor;
//  - INI: an error is one of its three messages (it never quotes the text,
//    which holds secrets); XML: an element's text holds no markup;
//    URLs: what is accepted is what the rules allow.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/safetensors.h"
#include "core/architectures.h"
#include "core/export_target.h"
#include "core/ini_text.h"
#include "core/json_doc.h"
#include "core/xml_text.h"
#include "flopsmeter/flops.h"
#include "flopsmeter/gpus.h"
#include "flopsmeter/rules.h"

namespace {

using flopsmeter::JsonDoc;
using Json = nlohmann::json;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

void CheckMessage(const flopsmeter::Status& status, std::string_view origin) {
  Check(!status.ok());
  Check(StartsWith(status.message(), origin));
  for (char c : status.message()) Check(static_cast<unsigned char>(c) >= 0x20);
}

// Walks the tree (a bounded number of nodes) checking that positions were
// recorded and that the readers and where() cope with every value.
void WalkJson(const JsonDoc& doc, const Json& value, const std::string& pointer, int* budget) {
  if (--*budget < 0) return;
  if (value.is_object()) {
    for (const auto& [key, member] : value.items()) {
      const std::string child = JsonDoc::child(pointer, key);
      Check(doc.position_of(child).has_value());
      Check(StartsWith(doc.where(child), "fuzz.json:"));
      // Every reader either succeeds or explains itself.
      for (const flopsmeter::Status& status :
           {doc.get_uint(value, pointer, key).status(), doc.get_int(value, pointer, key).status(),
            doc.get_double(value, pointer, key).status(),
            doc.get_bool(value, pointer, key).status(),
            doc.get_string(value, pointer, key).status()}) {
        if (!status.ok()) CheckMessage(status, "fuzz.json");
      }
      WalkJson(doc, member, child, budget);
    }
    Check(!doc.get_uint(value, pointer, "\x01missing").ok());
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      const std::string child = JsonDoc::child(pointer, i);
      const Json& element = value[i];
      if (element.is_structured()) Check(doc.position_of(child).has_value());
      Check(StartsWith(doc.where(child), "fuzz.json"));
      WalkJson(doc, element, child, budget);
    }
  }
}

// The same text as a model config (then accounted and estimated), a rules
// file and a GPU catalog: each accepts it or explains why, never crashes.
void FuzzInterpreters(const JsonDoc& doc, std::string_view text) {
  flopsmeter::Result<flopsmeter::Model> model = flopsmeter::build_model_from_config(doc);
  if (!model.ok()) {
    CheckMessage(model.status(), "fuzz.json");
  } else {
    flopsmeter::ParamBreakdown b = flopsmeter::count_parameters(*model);
    Check(b.active_per_token <= b.total);
    auto plan = flopsmeter::plan_training(*model, flopsmeter::MethodSpec{});
    Check(plan.ok() && plan->params_trainable == b.total);
    flopsmeter::Workload w;
    w.sequences[17] = 2;
    w.tokens = 34;
    auto flops = flopsmeter::estimate_flops(*model, *plan, w);
    Check(flops.ok() || flops.status().code() == flopsmeter::StatusCode::kOverflow);
  }
  auto rules = flopsmeter::parse_rules(text, "fuzz.json");
  if (!rules.ok()) CheckMessage(rules.status(), "fuzz.json");
  auto gpus = flopsmeter::parse_gpu_catalog(text, "fuzz.json");
  if (!gpus.ok()) CheckMessage(gpus.status(), "fuzz.json");
}

void FuzzJson(std::string_view text) {
  flopsmeter::Result<JsonDoc> doc = flopsmeter::parse_json_document(text, "fuzz.json");
  const bool nlohmann_accepts = Json::accept(text.begin(), text.end());
  if (!doc.ok()) {
    CheckMessage(doc.status(), "fuzz.json");
    if (nlohmann_accepts) {
      const std::string& message = doc.status().message();
      Check(message.find("duplicate key") != std::string::npos ||
            message.find("NUL byte") != std::string::npos ||
            message.find("nesting deeper") != std::string::npos);
    }
    return;
  }
  Check(nlohmann_accepts);
  int budget = 2000;
  WalkJson(*doc, doc->root, "", &budget);
  FuzzInterpreters(*doc, text);
}

void FuzzSafetensors(std::string_view bytes, uint64_t extra_data_bytes) {
  const uint64_t file_size = bytes.size() + extra_data_bytes;
  flopsmeter::Result<std::vector<flopsmeter::TensorHeader>> tensors =
      flopsmeter::parse_safetensors_header(bytes, file_size, "fuzz.safetensors");
  if (!tensors.ok()) {
    CheckMessage(tensors.status(), "fuzz.safetensors");
    return;
  }
  Check(bytes.size() >= 8);
  uint64_t header_length = 0;
  for (size_t i = 0; i < 8; ++i) {
    header_length |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  const uint64_t data_region = file_size - 8 - header_length;
  for (size_t i = 0; i < tensors->size(); ++i) {
    const flopsmeter::TensorHeader& tensor = (*tensors)[i];
    if (i > 0) Check((*tensors)[i - 1].name < tensor.name);
    Check(tensor.data_begin <= tensor.data_end && tensor.data_end <= data_region);
    const uint64_t item = flopsmeter::safetensors_dtype_size(tensor.dtype).value_or(0);
    Check(item > 0);
    Check(flopsmeter::tensor_element_count(tensor) * item == tensor.data_end - tensor.data_begin);
    for (size_t j = 0; j < i; ++j) {
      const flopsmeter::TensorHeader& other = (*tensors)[j];
      const bool disjoint =
          tensor.data_end <= other.data_begin || other.data_end <= tensor.data_begin;
      const bool empty_at_edge = (tensor.data_begin == tensor.data_end ||
                                  other.data_begin == other.data_end);
      Check(disjoint || empty_at_edge);
    }
    if (i > 64) break;  // quadratic check: enough on the first few
  }
}

void FuzzExportParsers(std::string_view text) {
  flopsmeter::Result<flopsmeter::IniSections> ini = flopsmeter::parse_ini_text(text, "fuzz.ini");
  if (!ini.ok()) {
    const std::string& m = ini.status().message();
    CheckMessage(ini.status(), "fuzz.ini:");
    Check(m.ends_with(": expected [section], key = value or a comment") || m.ends_with(": a setting before any [section]") ||
          m.ends_with(": a section header without its closing ']'"));
  }
  for (const char* name : {"Code", "UploadId", "ETag"}) {
    const std::optional<std::string> element = flopsmeter::xml_element_text(text, name);
    if (element) Check(element->find('<') == std::string::npos);
  }
  flopsmeter::Result<flopsmeter::ExportTarget> target = flopsmeter::parse_export_target(text);
  if (!target.ok()) {
    CheckMessage(target.status(), "export target '");
  } else {
    Check(!target->name.empty() && (target->prefix.empty() || target->prefix.back() == '/'));
  }
  flopsmeter::Result<std::string> endpoint = flopsmeter::parse_endpoint_url(text);
  if (endpoint.ok()) {
    Check(endpoint->find('@') == std::string::npos || endpoint->find('@') > endpoint->find('/', 8));
    Check(!flopsmeter::endpoint_host(*endpoint).empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  FuzzExportParsers(rest);
  if ((selector & 1) == 0) {
    FuzzJson(rest);
  } else {
    FuzzSafetensors(rest, static_cast<uint64_t>(selector >> 1) * 8);
  }
  return 0;
}
