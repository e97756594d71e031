#include "template/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "template/ast.h"
#include "template/builtins.h"
#include "template/py_text.h"
#include "tokenizer/unicode.h"

namespace flopsmeter::jinja {

void* Arena::Allocate(size_t bytes, size_t align) {
  const size_t padding = (align - reinterpret_cast<uintptr_t>(cursor_) % align) % align;
  if (cursor_ == nullptr || padding + bytes > remaining_) {
    const size_t block = std::max(bytes + align, next_block_);
    blocks_.push_back(std::make_unique_for_overwrite<std::byte[]>(block));
    used_ += block;
    next_block_ = std::min<size_t>(next_block_ * 2, size_t{1} << 20);
    cursor_ = blocks_.back().get();
    remaining_ = block;
    return Allocate(bytes, align);
  }
  std::byte* result = cursor_ + padding;
  cursor_ = result + bytes;
  remaining_ -= padding + bytes;
  return result;
}

std::string_view Arena::Copy(std::string_view text) {
  if (text.empty()) return {};
  char* data = static_cast<char*>(Allocate(text.size(), 1));
  std::memcpy(data, text.data(), text.size());
  return {data, text.size()};
}

double Value::as_double() const {
  switch (kind_) {
    case ValueKind::kBool:
      return u_.b ? 1.0 : 0.0;
    case ValueKind::kInt:
      return static_cast<double>(u_.i);
    default:
      return u_.f;
  }
}

bool Truthy(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone:
      return false;
    case ValueKind::kBool:
      return v.bool_value();
    case ValueKind::kInt:
      return v.int_value() != 0;
    case ValueKind::kFloat:
      return v.float_value() != 0.0;
    case ValueKind::kString:
      return !v.string().empty();
    case ValueKind::kList:
    case ValueKind::kTuple:
      return !v.items().empty();
    case ValueKind::kDict:
      return !v.entries().empty();
    default:
      return true;
  }
}

namespace {

// Python's int == float: exact, so 2**63 - 1 != 9.223372036854776e18.
bool IntEqualsFloat(int64_t i, double d) {
  if (std::floor(d) != d || d < -9.2233720368547758e18 || d >= 9.2233720368547758e18) return false;
  return static_cast<int64_t>(d) == i;
}

bool NumbersEqual(const Value& a, const Value& b) {
  const bool a_float = a.is(ValueKind::kFloat);
  const bool b_float = b.is(ValueKind::kFloat);
  if (!a_float && !b_float) return a.as_int() == b.as_int();
  if (a_float && b_float) return a.float_value() == b.float_value();
  return a_float ? IntEqualsFloat(b.as_int(), a.float_value()) : IntEqualsFloat(a.as_int(), b.float_value());
}

bool EqualsAt(const Value& a, const Value& b, int depth) {
  if (depth > kMaxValueDepth) return false;
  if (a.is_number() && b.is_number()) return NumbersEqual(a, b);
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone:
      return true;
    case ValueKind::kString:
      return a.string() == b.string();
    case ValueKind::kList:
    case ValueKind::kTuple: {
      const auto x = a.items();
      const auto y = b.items();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!EqualsAt(x[i], y[i], depth + 1)) return false;
      }
      return true;
    }
    case ValueKind::kDict: {
      // Order does not matter for dict equality; same-order dicts (the
      // usual case) compare in one pass, others through a key index.
      const auto x = a.entries();
      const auto y = b.entries();
      if (x.size() != y.size()) return false;
      KeyPositions in_y;
      bool indexed = false;
      for (size_t i = 0; i < x.size(); ++i) {
        const DictEntry* other = &y[i];
        if (!EqualsAt(x[i].key, other->key, depth + 1)) {
          if (!indexed) {
            for (size_t j = 0; j < y.size(); ++j) in_y.Add(y[j].key, j);
            indexed = true;
          }
          const auto at = in_y.Find(x[i].key);
          if (!at) return false;
          other = &y[*at];
        }
        if (!EqualsAt(x[i].value, other->value, depth + 1)) return false;
      }
      return true;
    }
    case ValueKind::kNamespace:
      return a.namespace_data() == b.namespace_data();
    case ValueKind::kLoop:
      return a.loop() == b.loop();
    case ValueKind::kMacro:
      return a.macro() == b.macro();
    case ValueKind::kFunction:
      return a.function() == b.function();
    case ValueKind::kMethod:
      return a.method() == b.method();
    case ValueKind::kIterator:
      return a.iterator() == b.iterator();
    default:
      return false;
  }
}

}  // namespace

bool Equals(const Value& a, const Value& b) { return EqualsAt(a, b, 0); }

Result<int> Compare(const Value& a, const Value& b) {
  if (a.is_undefined() || b.is_undefined()) return Status::InvalidArgument(UndefinedMessage(a.is_undefined() ? a : b));
  if (a.is_number() && b.is_number()) {
    if (!a.is(ValueKind::kFloat) && !b.is(ValueKind::kFloat)) {
      return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
    }
    const double x = a.as_double();
    const double y = b.as_double();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.string().compare(b.string());  // UTF-8 byte order is code point order
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.kind() == b.kind() && a.is_sequence()) {
    const auto x = a.items();
    const auto y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!Equals(x[i], y[i])) return Compare(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  return Status::InvalidArgument("'<' not supported between instances of '" + std::string(TypeName(a)) + "' and '" +
                                 std::string(TypeName(b)) + "'");
}

std::string_view KindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kUndefined:
      return "Undefined";
    case ValueKind::kNone:
      return "NoneType";
    case ValueKind::kBool:
      return "bool";
    case ValueKind::kInt:
      return "int";
    case ValueKind::kFloat:
      return "float";
    case ValueKind::kString:
      return "str";
    case ValueKind::kList:
      return "list";
    case ValueKind::kTuple:
      return "tuple";
    case ValueKind::kDict:
      return "dict";
    case ValueKind::kNamespace:
      return "Namespace";
    case ValueKind::kLoop:
      return "LoopContext";
    case ValueKind::kMacro:
      return "Macro";
    case ValueKind::kFunction:
      return "builtin_function_or_method";
    case ValueKind::kMethod:
      return "builtin_function_or_method";
    case ValueKind::kIterator:
      return "iterator";
  }
  return "object";
}

std::string_view TypeName(const Value& v) {
  return v.is(ValueKind::kIterator) ? v.iterator()->type_name : KindName(v.kind());
}

std::string UndefinedMessage(const Value& v) {
  const Expr* origin = v.undefined_origin();
  if (origin == nullptr) return "undefined value";
  std::string message = "'" + std::string(origin->text) + "' is undefined";
  if (const auto kind = v.undefined_missing_from()) {
    message += " (a " + std::string(KindName(*kind)) + " has no such attribute or item)";
  }
  return message;
}

namespace {

Status AppendValue(const Value& v, bool repr, int depth, std::string* out);

Status AppendItems(std::span<const Value> items, int depth, std::string* out) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out->append(", ");
    FM_RETURN_IF_ERROR(AppendValue(items[i], /*repr=*/true, depth + 1, out));
  }
  return Status::Ok();
}

Status AppendEntries(std::span<const DictEntry> entries, int depth, std::string* out) {
  out->push_back('{');
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) out->append(", ");
    FM_RETURN_IF_ERROR(AppendValue(entries[i].key, /*repr=*/true, depth + 1, out));
    out->append(": ");
    FM_RETURN_IF_ERROR(AppendValue(entries[i].value, /*repr=*/true, depth + 1, out));
  }
  out->push_back('}');
  return Status::Ok();
}

Status AppendValue(const Value& v, bool repr, int depth, std::string* out) {
  if (depth > kMaxValueDepth) return Status::InvalidArgument("value nested too deeply to print");
  if (out->size() > kMaxStringBytes) return Status::InvalidArgument("printed value exceeds the string size limit");
  char buf[32];
  switch (v.kind()) {
    case ValueKind::kUndefined:
      if (repr) out->append("Undefined");
      return Status::Ok();
    case ValueKind::kNone:
      out->append("None");
      return Status::Ok();
    case ValueKind::kBool:
      out->append(v.bool_value() ? "True" : "False");
      return Status::Ok();
    case ValueKind::kInt: {
      const auto r = std::to_chars(buf, buf + sizeof buf, v.int_value());
      out->append(buf, r.ptr);
      return Status::Ok();
    }
    case ValueKind::kFloat:
      AppendPyFloatRepr(v.float_value(), out);
      return Status::Ok();
    case ValueKind::kString:
      if (repr) {
        AppendPyStringRepr(v.string(), out);
      } else {
        out->append(v.string());
      }
      return Status::Ok();
    case ValueKind::kList:
      out->push_back('[');
      FM_RETURN_IF_ERROR(AppendItems(v.items(), depth, out));
      out->push_back(']');
      return Status::Ok();
    case ValueKind::kTuple:
      out->push_back('(');
      FM_RETURN_IF_ERROR(AppendItems(v.items(), depth, out));
      if (v.items().size() == 1) out->push_back(',');
      out->push_back(')');
      return Status::Ok();
    case ValueKind::kDict:
      return AppendEntries(v.entries(), depth, out);
    case ValueKind::kNamespace: {
      const NamespaceData& ns = *v.namespace_data();
      out->append("<Namespace ");
      FM_RETURN_IF_ERROR(AppendEntries({ns.entries, ns.size}, depth, out));
      out->push_back('>');
      return Status::Ok();
    }
    case ValueKind::kLoop: {
      const LoopState& loop = *v.loop();
      out->append("<LoopContext " + std::to_string(loop.index0 + 1) + "/" + std::to_string(loop.items.size()) + ">");
      return Status::Ok();
    }
    case ValueKind::kMacro:
      out->append("<Macro '");
      out->append(v.macro()->macro->name);
      out->append("'>");
      return Status::Ok();
    case ValueKind::kFunction:
      out->append("<built-in function>");
      return Status::Ok();
    case ValueKind::kMethod:
      out->append("<built-in method of ");
      out->append(TypeName(v.method()->receiver));
      out->append(" object>");
      return Status::Ok();
    case ValueKind::kIterator:
      out->append("<");
      out->append(v.iterator()->type_name);
      out->append(" object>");
      return Status::Ok();
  }
  return Status::Ok();
}

}  // namespace

Status AppendStr(const Value& v, std::string* out) { return AppendValue(v, /*repr=*/false, 0, out); }
Status AppendRepr(const Value& v, std::string* out) { return AppendValue(v, /*repr=*/true, 0, out); }

std::optional<size_t> Hash(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone:
      return size_t{0x9e3779b97f4a7c15ull};
    case ValueKind::kBool:
    case ValueKind::kInt:
    case ValueKind::kFloat: {
      const double d = v.as_double();
      return std::hash<double>()(d == 0 ? 0.0 : d);  // -0.0 == 0.0
    }
    case ValueKind::kString:
      return std::hash<std::string_view>()(v.string());
    case ValueKind::kTuple: {
      size_t h = 0x345678;
      for (const Value& item : v.items()) {
        const auto item_hash = Hash(item);
        if (!item_hash) return std::nullopt;
        h = (h ^ *item_hash) * 1000003;
      }
      return h;
    }
    default:
      return std::nullopt;
  }
}

std::optional<size_t> KeyPositions::Find(const Value& key) const {
  const auto [first, last] = positions_.equal_range(*Hash(key));
  for (auto it = first; it != last; ++it) {
    if (Equals(it->second.first, key)) return it->second.second;
  }
  return std::nullopt;
}

void KeyPositions::Add(const Value& key, size_t position) { positions_.emplace(*Hash(key), std::pair(key, position)); }

const Value* DictFind(std::span<const DictEntry> entries, const Value& key) {
  if (key.is_string()) {
    const std::string_view name = key.string();
    for (const DictEntry& entry : entries) {
      if (entry.key.is_string() && entry.key.string() == name) return &entry.value;
    }
    return nullptr;
  }
  for (const DictEntry& entry : entries) {
    if (Equals(entry.key, key)) return &entry.value;
  }
  return nullptr;
}

const Value* NamespaceFind(const NamespaceData& ns, std::string_view name) {
  return DictFind({ns.entries, ns.size}, Value::String(name));
}

void NamespaceSet(NamespaceData* ns, const Value& key, const Value& value, Arena* arena) {
  for (size_t i = 0; i < ns->size; ++i) {
    if (Equals(ns->entries[i].key, key)) {
      ns->entries[i].value = value;
      return;
    }
  }
  if (ns->size == ns->capacity) {
    const size_t capacity = ns->capacity == 0 ? 4 : ns->capacity * 2;
    DictEntry* grown = arena->NewArray<DictEntry>(capacity);
    std::copy(ns->entries, ns->entries + ns->size, grown);
    ns->entries = grown;
    ns->capacity = capacity;
  }
  ns->entries[ns->size++] = DictEntry{key, value};
}

namespace {

Result<Value> FromJsonAt(const nlohmann::ordered_json& json, Arena* arena, int depth) {
  if (depth > kMaxValueDepth) return Status::InvalidArgument("context nested too deeply");
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null:
    case nlohmann::ordered_json::value_t::discarded:
      return Value::None();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::Bool(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::Int(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const uint64_t u = json.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return Value::Float(static_cast<double>(u));
      return Value::Int(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value::Float(json.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value::String(json.get_ref<const std::string&>());
    case nlohmann::ordered_json::value_t::array: {
      Value* items = arena->NewArray<Value>(json.size());
      size_t i = 0;
      for (const auto& element : json) {
        FM_ASSIGN_OR_RETURN(items[i++], FromJsonAt(element, arena, depth + 1));
      }
      return Value::List({items, json.size()});
    }
    case nlohmann::ordered_json::value_t::object: {
      DictEntry* entries = arena->NewArray<DictEntry>(json.size());
      size_t i = 0;
      for (auto it = json.begin(); it != json.end(); ++it, ++i) {
        entries[i].key = Value::String(it.key());
        FM_ASSIGN_OR_RETURN(entries[i].value, FromJsonAt(it.value(), arena, depth + 1));
      }
      return Value::Dict({entries, json.size()});
    }
    case nlohmann::ordered_json::value_t::binary:
      break;
  }
  return Status::InvalidArgument("binary JSON values cannot be template variables");
}

}  // namespace

Result<Value> FromJson(const nlohmann::ordered_json& json, Arena* arena) { return FromJsonAt(json, arena, 0); }

Result<std::span<const Value>> Iterate(const Value& v, Arena* arena) {
  switch (v.kind()) {
    case ValueKind::kUndefined:
      return std::span<const Value>();
    case ValueKind::kList:
    case ValueKind::kTuple:
      return v.items();
    case ValueKind::kDict: {
      const auto entries = v.entries();
      Value* keys = arena->NewArray<Value>(entries.size());
      for (size_t i = 0; i < entries.size(); ++i) keys[i] = entries[i].key;
      return std::span<const Value>(keys, entries.size());
    }
    case ValueKind::kString: {
      const std::string_view text = v.string();
      const size_t count = CountCodePoints(text);
      // One Value per character: cap the list like any other built list.
      if (count > kMaxStringBytes / sizeof(Value)) {
        return Status::InvalidArgument("string of " + std::to_string(count) + " characters is too long to iterate");
      }
      Value* chars = arena->NewArray<Value>(count);
      size_t i = 0;
      for (size_t pos = 0; pos < text.size();) {
        const size_t start = pos;
        unicode::next_code_point(text, &pos);
        chars[i++] = Value::String(text.substr(start, pos - start));
      }
      return std::span<const Value>(chars, count);
    }
    case ValueKind::kIterator: {
      IteratorData& iterator = *v.iterator();
      if (iterator.consumed) return std::span<const Value>();
      iterator.consumed = true;
      return iterator.items;
    }
    default:
      return Status::InvalidArgument("'" + std::string(TypeName(v)) + "' object is not iterable");
  }
}

uint64_t ScanCost(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kString:
      return v.string().size() >> 6;
    case ValueKind::kList:
    case ValueKind::kTuple:
      return v.items().size() >> 6;
    case ValueKind::kDict:
      return v.entries().size() >> 6;
    case ValueKind::kNamespace:
      return v.namespace_data()->size >> 6;
    case ValueKind::kIterator:
      return v.iterator()->items.size() >> 6;
    default:
      return 0;
  }
}

Result<bool> Contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case ValueKind::kUndefined:
      return false;
    case ValueKind::kString:
      if (!item.is_string()) {
        return Status::InvalidArgument("'in <string>' requires string as left operand, not " +
                                       std::string(TypeName(item)));
      }
      return container.string().find(item.string()) != std::string_view::npos;
    case ValueKind::kList:
    case ValueKind::kTuple:
      return std::any_of(container.items().begin(), container.items().end(),
                         [&](const Value& element) { return Equals(element, item); });
    case ValueKind::kDict:
      return DictFind(container.entries(), item) != nullptr;
    case ValueKind::kIterator: {
      FM_ASSIGN_OR_RETURN(const auto items, Iterate(container, nullptr));
      return std::any_of(items.begin(), items.end(), [&](const Value& element) { return Equals(element, item); });
    }
    default:
      return Status::InvalidArgument("argument of type '" + std::string(TypeName(container)) +
                                     "' is not iterable");
  }
}

Result<int64_t> Length(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kUndefined:
      return int64_t{0};
    case ValueKind::kString:
      return static_cast<int64_t>(CountCodePoints(v.string()));
    case ValueKind::kList:
    case ValueKind::kTuple:
      return static_cast<int64_t>(v.items().size());
    case ValueKind::kDict:
      return static_cast<int64_t>(v.entries().size());
    default:
      return Status::InvalidArgument("object of type '" + std::string(TypeName(v)) + "' has no len()");
  }
}

}  // namespace flopsmeter::jinja
