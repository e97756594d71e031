// Builds the exact module and parameter list that Hugging Face transformers
// (4.x module naming) creates for a config.json, one function per family.
// Pure: takes parsed JSON, does no I/O.
#ifndef FLOPSMETER_CORE_ARCHITECTURES_H_
#define FLOPSMETER_CORE_ARCHITECTURES_H_

#include <string>
#include <vector>

#include "flopsmeter/model.h"
#include "core/json_doc.h"
#include "flopsmeter/status.h"

namespace flopsmeter {

// The model_type values build_model_from_config understands, sorted.
const std::vector<std::string>& supported_model_types();

// Builds from the config object at `pointer` in `doc` ("" for a config.json,
// "/config" for a catalog entry); errors name the file, line and field.
// Errors: kUnsupported for an unknown model_type (the message lists the
// supported ones and suggests passing the checkpoint directory), kParseError
// for a field with the wrong type, kInvalidArgument for inconsistent shapes.
Result<Model> build_model_from_config(const JsonDoc& doc, const std::string& pointer = "");

// The name transformers 5 gives a routed-expert parameter that transformers 4
// (and this module list) names per expert: the experts of a layer become two
// fused 3-D parameters, "...mlp.experts.gate_up_proj" (gate and up, or
// mixtral's w1 and w3) and "...mlp.experts.down_proj" (down, or w2), and
// mixtral's "block_sparse_moe" becomes "mlp". "" for any other parameter.
std::string transformers5_parameter_name(const std::string& name);

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_ARCHITECTURES_H_
