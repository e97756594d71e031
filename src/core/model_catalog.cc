#include "core/model_catalog.h"

#include <algorithm>
#include <cctype>

#include "core/architectures.h"
#include "core/json_doc.h"

namespace flopsmeter {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::vector<std::string> closest_names(std::string_view query, const std::vector<std::string>& candidates,
                                       size_t limit) {
  std::string q = lower(query);
  std::vector<std::pair<size_t, std::string>> scored;
  for (const std::string& c : candidates) scored.emplace_back(edit_distance(q, lower(c)), c);
  std::stable_sort(scored.begin(), scored.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < limit; ++i) out.push_back(scored[i].second);
  return out;
}

Result<CatalogModel> parse_catalog_model(std::string_view text, const std::string& origin) {
  FM_ASSIGN_OR_RETURN(JsonDoc doc, parse_json_document(text, origin));
  const nlohmann::json& root = doc.root;
  FM_ASSIGN_OR_RETURN(std::string schema, doc.get_string(root, "", "schema"));
  if (schema != "flopsmeter.model/1") {
    return doc.error("/schema", "is '" + schema + "'; this version reads 'flopsmeter.model/1'");
  }
  CatalogModel m;
  m.origin = origin;
  FM_ASSIGN_OR_RETURN(m.id, doc.get_string(root, "", "id"));
  if (JsonDoc::has(root, "aliases")) {
    FM_ASSIGN_OR_RETURN(const nlohmann::json* aliases, doc.get_array(root, "", "aliases"));
    for (size_t i = 0; i < aliases->size(); ++i) {
      FM_ASSIGN_OR_RETURN(std::string a, doc.as_string((*aliases)[i], JsonDoc::child("/aliases", i)));
      m.aliases.push_back(a);
    }
  }
  FM_ASSIGN_OR_RETURN(const nlohmann::json* config, doc.get_object(root, "", "config"));
  m.config_json = config->dump();
  FM_ASSIGN_OR_RETURN(m.config_source, doc.get_string(root, "", "config_source"));
  // The config must build: a catalog entry that cannot be used is a data bug.
  FM_RETURN_IF_ERROR(build_model_from_config(doc, "/config").status());

  if (JsonDoc::has(root, "published_params")) {
    FM_ASSIGN_OR_RETURN(const nlohmann::json* p, doc.get_object(root, "", "published_params"));
    FM_ASSIGN_OR_RETURN(std::string value, doc.get_string(*p, "/published_params", "value"));
    auto parsed = parse_exact_integer(value, doc.where("/published_params/value"));
    if (!parsed.ok()) return parsed.status();
    m.published_params = static_cast<uint64_t>(*parsed);
    FM_ASSIGN_OR_RETURN(m.published_params_source, doc.get_string(*p, "/published_params", "source"));
  }
  if (JsonDoc::has(root, "pretraining")) {
    FM_ASSIGN_OR_RETURN(const nlohmann::json* p, doc.get_object(root, "", "pretraining"));
    FM_ASSIGN_OR_RETURN(m.pretraining.status, doc.get_string(*p, "/pretraining", "status"));
    if (m.pretraining.status != "published" && m.pretraining.status != "third_party_estimate" &&
        m.pretraining.status != "not_published") {
      return doc.error("/pretraining/status", "is '" + m.pretraining.status +
                                                  "'; expected published, third_party_estimate or not_published");
    }
    if (JsonDoc::has(*p, "flop")) {
      FM_ASSIGN_OR_RETURN(std::string flop, doc.get_string(*p, "/pretraining", "flop"));
      auto parsed = parse_exact_integer(flop, doc.where("/pretraining/flop"));
      if (!parsed.ok()) return parsed.status();
      m.pretraining.flop = *parsed;
      FM_ASSIGN_OR_RETURN(m.pretraining.source, doc.get_string(*p, "/pretraining", "source"));
      FM_ASSIGN_OR_RETURN(m.pretraining.method, doc.get_string(*p, "/pretraining", "method", std::string()));
    } else if (m.pretraining.status != "not_published") {
      return doc.error("/pretraining", "has status '" + m.pretraining.status + "' but no 'flop'");
    }
  } else {
    m.pretraining.status = "not_published";
  }
  FM_ASSIGN_OR_RETURN(m.systemic_risk_designated, doc.get_bool(root, "", "systemic_risk_designated", false));
  FM_ASSIGN_OR_RETURN(m.base_model, doc.get_string(root, "", "base_model", std::string()));
  return m;
}

}  // namespace flopsmeter
