#include "template/json_dump.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "template/py_text.h"
#include "tokenizer/unicode.h"

namespace flopsmeter::jinja {
namespace {

void AppendHex4(uint32_t unit, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->append("\\u");
  for (int shift = 12; shift >= 0; shift -= 4) out->push_back(kHex[(unit >> shift) & 0xF]);
}

void AppendJsonString(std::string_view text, bool ensure_ascii, std::string* out) {
  out->push_back('"');
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const char32_t cp = unicode::next_code_point(text, &pos);
    switch (cp) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (cp < 0x20) {
          AppendHex4(cp, out);
        } else if (cp < 0x80 || !ensure_ascii) {
          out->append(text.substr(start, pos - start));
        } else if (cp < 0x10000) {
          AppendHex4(cp, out);
        } else {
          const char32_t v = cp - 0x10000;
          AppendHex4(0xD800 + (v >> 10), out);
          AppendHex4(0xDC00 + (v & 0x3FF), out);
        }
    }
  }
  out->push_back('"');
}

void AppendJsonFloat(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v < 0 ? "-Infinity" : "Infinity");
  } else {
    AppendPyFloatRepr(v, out);
  }
}

Status NotSerializable(const Value& v) {
  return Status::InvalidArgument("Object of type " + std::string(TypeName(v)) + " is not JSON serializable");
}

// Object keys as Python's json converts them: numbers, booleans and None
// become strings.
Status AppendKey(const Value& key, const JsonStyle& style, std::string* out) {
  std::string text;
  switch (key.kind()) {
    case ValueKind::kString:
      AppendJsonString(key.string(), style.ensure_ascii, out);
      return Status::Ok();
    case ValueKind::kInt:
      text = std::to_string(key.int_value());
      break;
    case ValueKind::kFloat:
      AppendJsonFloat(key.float_value(), &text);
      break;
    case ValueKind::kBool:
      text = key.bool_value() ? "true" : "false";
      break;
    case ValueKind::kNone:
      text = "null";
      break;
    default:
      return Status::InvalidArgument("keys must be str, int, float, bool or None, not " +
                                     std::string(TypeName(key)));
  }
  AppendJsonString(text, false, out);
  return Status::Ok();
}

class Dumper {
 public:
  Dumper(const JsonStyle& style, std::string* out) : style_(style), out_(out) {}

  Status Dump(const Value& v, int depth) {
    if (depth > kMaxValueDepth) return Status::InvalidArgument("value nested too deeply for JSON");
    if (out_->size() > kMaxStringBytes) return Status::InvalidArgument("JSON text exceeds the string size limit");
    switch (v.kind()) {
      case ValueKind::kNone:
        out_->append("null");
        return Status::Ok();
      case ValueKind::kBool:
        out_->append(v.bool_value() ? "true" : "false");
        return Status::Ok();
      case ValueKind::kInt: {
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, v.int_value());
        out_->append(buf, r.ptr);
        return Status::Ok();
      }
      case ValueKind::kFloat:
        AppendJsonFloat(v.float_value(), out_);
        return Status::Ok();
      case ValueKind::kString:
        AppendJsonString(v.string(), style_.ensure_ascii, out_);
        return Status::Ok();
      case ValueKind::kList:
      case ValueKind::kTuple:
        return DumpArray(v.items(), depth);
      case ValueKind::kDict:
        return DumpObject(v.entries(), depth);
      default:
        return NotSerializable(v);
    }
  }

 private:
  void NewLine(int depth) {
    if (!style_.indent) return;
    out_->push_back('\n');
    for (int i = 0; i < depth; ++i) out_->append(*style_.indent);
  }

  Status DumpArray(std::span<const Value> items, int depth) {
    if (items.empty()) {
      out_->append("[]");
      return Status::Ok();
    }
    out_->push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out_->append(style_.item_separator);
      NewLine(depth + 1);
      FM_RETURN_IF_ERROR(Dump(items[i], depth + 1));
    }
    NewLine(depth);
    out_->push_back(']');
    return Status::Ok();
  }

  Status DumpObject(std::span<const DictEntry> entries, int depth) {
    if (entries.empty()) {
      out_->append("{}");
      return Status::Ok();
    }
    std::vector<const DictEntry*> order;
    order.reserve(entries.size());
    for (const DictEntry& entry : entries) order.push_back(&entry);
    if (style_.sort_keys) {
      Status failure;
      std::stable_sort(order.begin(), order.end(), [&](const DictEntry* a, const DictEntry* b) {
        const Result<int> c = Compare(a->key, b->key);
        if (!c.ok()) failure = c.status();
        return c.ok() && *c < 0;
      });
      FM_RETURN_IF_ERROR(failure);
    }
    out_->push_back('{');
    for (size_t i = 0; i < order.size(); ++i) {
      if (i > 0) out_->append(style_.item_separator);
      NewLine(depth + 1);
      FM_RETURN_IF_ERROR(AppendKey(order[i]->key, style_, out_));
      out_->append(style_.key_separator);
      FM_RETURN_IF_ERROR(Dump(order[i]->value, depth + 1));
    }
    NewLine(depth);
    out_->push_back('}');
    return Status::Ok();
  }

  const JsonStyle& style_;
  std::string* out_;
};

}  // namespace

Status AppendJson(const Value& v, const JsonStyle& style, std::string* out) { return Dumper(style, out).Dump(v, 0); }

}  // namespace flopsmeter::jinja
