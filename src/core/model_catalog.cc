#include "core/model_catalog.h"

#include "core/architectures.h"
#include "core/json_doc.h"

namespace flopsmeter {
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
