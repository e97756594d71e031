#include "template/builtins.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <string>
#include <vector>

#include "template/py_text.h"
#include "tokenizer/unicode.h"

namespace flopsmeter::jinja {
namespace {

// Which receivers have a method (bit per kind).
constexpr uint32_t Bit(ValueKind kind) { return uint32_t{1} << static_cast<int>(kind); }
constexpr uint32_t kStr = Bit(ValueKind::kString);
constexpr uint32_t kDictKind = Bit(ValueKind::kDict);
constexpr uint32_t kSeq = Bit(ValueKind::kList) | Bit(ValueKind::kTuple);
constexpr uint32_t kListOnly = Bit(ValueKind::kList);
constexpr uint32_t kLoopKind = Bit(ValueKind::kLoop);

struct MethodInfo {
  std::string_view name;
  MethodId id;
  uint32_t receivers;
  bool refused;  // mutates: transformers' immutable sandbox refuses it
};

constexpr std::array<MethodInfo, 43> kMethods = {{
    {"capitalize", MethodId::kCapitalize, kStr, false},
    {"count", MethodId::kCount, kStr | kSeq, false},
    {"endswith", MethodId::kEndswith, kStr, false},
    {"find", MethodId::kFind, kStr, false},
    {"format", MethodId::kFormat, kStr, false},
    {"index", MethodId::kIndex, kStr | kSeq, false},
    {"isalnum", MethodId::kIsalnum, kStr, false},
    {"isalpha", MethodId::kIsalpha, kStr, false},
    {"isdigit", MethodId::kIsdigit, kStr, false},
    {"islower", MethodId::kIslower, kStr, false},
    {"isspace", MethodId::kIsspace, kStr, false},
    {"isupper", MethodId::kIsupper, kStr, false},
    {"join", MethodId::kJoin, kStr, false},
    {"lower", MethodId::kLower, kStr, false},
    {"lstrip", MethodId::kLstrip, kStr, false},
    {"removeprefix", MethodId::kRemoveprefix, kStr, false},
    {"removesuffix", MethodId::kRemovesuffix, kStr, false},
    {"replace", MethodId::kReplace, kStr, false},
    {"rfind", MethodId::kRfind, kStr, false},
    {"rsplit", MethodId::kRsplit, kStr, false},
    {"rstrip", MethodId::kRstrip, kStr, false},
    {"split", MethodId::kSplit, kStr, false},
    {"splitlines", MethodId::kSplitlines, kStr, false},
    {"startswith", MethodId::kStartswith, kStr, false},
    {"strip", MethodId::kStrip, kStr, false},
    {"title", MethodId::kTitle, kStr, false},
    {"upper", MethodId::kUpper, kStr, false},
    {"get", MethodId::kGet, kDictKind, false},
    {"items", MethodId::kItems, kDictKind, false},
    {"keys", MethodId::kKeys, kDictKind, false},
    {"values", MethodId::kValues, kDictKind, false},
    {"cycle", MethodId::kCycle, kLoopKind, false},
    {"append", MethodId::kAppend, kListOnly, true},
    {"clear", MethodId::kClear, kListOnly | kDictKind, true},
    {"extend", MethodId::kExtend, kListOnly, true},
    {"insert", MethodId::kInsert, kListOnly, true},
    {"pop", MethodId::kPop, kListOnly | kDictKind, true},
    {"popitem", MethodId::kPopitem, kDictKind, true},
    {"remove", MethodId::kRemove, kListOnly, true},
    {"reverse", MethodId::kReverse, kListOnly, true},
    {"setdefault", MethodId::kSetdefault, kDictKind, true},
    {"sort", MethodId::kSort, kListOnly, true},
    {"update", MethodId::kUpdate, kDictKind, true},
}};

constexpr bool InEnumOrder() {
  for (size_t i = 0; i < kMethods.size(); ++i) {
    if (static_cast<size_t>(kMethods[i].id) != i) return false;
  }
  return true;
}
static_assert(InEnumOrder(), "kMethods is indexed by MethodId");

const MethodInfo& Info(MethodId id) { return kMethods[static_cast<size_t>(id)]; }

Value LoopAttribute(const LoopState& loop, std::string_view name, const Expr* origin) {
  const auto missing = [&] { return Value::Undefined(origin, ValueKind::kLoop); };
  const auto length = static_cast<int64_t>(loop.items.size());
  const auto index0 = static_cast<int64_t>(loop.index0);
  if (name == "index") return Value::Int(index0 + 1);
  if (name == "index0") return Value::Int(index0);
  if (name == "revindex") return Value::Int(length - index0);
  if (name == "revindex0") return Value::Int(length - index0 - 1);
  if (name == "first") return Value::Bool(index0 == 0);
  if (name == "last") return Value::Bool(index0 + 1 == length);
  if (name == "length") return Value::Int(length);
  if (name == "depth") return Value::Int(1);
  if (name == "depth0") return Value::Int(0);
  if (name == "previtem") return index0 > 0 ? loop.items[loop.index0 - 1] : missing();
  if (name == "nextitem") return index0 + 1 < length ? loop.items[loop.index0 + 1] : missing();
  return missing();
}

// Python's index normalization for one subscript; nullopt when out of range.
std::optional<size_t> NormalizeIndex(int64_t index, size_t size) {
  const auto n = static_cast<int64_t>(size);
  if (index < 0) index += n;
  if (index < 0 || index >= n) return std::nullopt;
  return static_cast<size_t>(index);
}

Value BindMethod(const Value& obj, MethodId method, Arena* arena) {
  return Value::Method(arena->New<BoundMethod>(BoundMethod{obj, method}));
}

}  // namespace

Status RenderEnv::Charge(uint64_t units) {
  steps += units;
  if (steps <= max_steps) return Status::Ok();
  return Status::InvalidArgument("more than " + std::to_string(max_steps) +
                                 " steps of work (loop iterations, macro calls, scans of large values)");
}

std::optional<MethodId> FindMethod(std::string_view name) {
  for (const MethodInfo& info : kMethods) {
    if (info.name == name) return info.id;
  }
  return std::nullopt;
}

std::optional<FunctionId> FindFunction(std::string_view name) {
  if (name == "range") return FunctionId::kRange;
  if (name == "namespace") return FunctionId::kNamespace;
  if (name == "dict") return FunctionId::kDict;
  if (name == "raise_exception") return FunctionId::kRaiseException;
  if (name == "strftime_now") return FunctionId::kStrftimeNow;
  return std::nullopt;
}

Result<Value> GetAttribute(const Value& obj, std::string_view name, std::optional<MethodId> method,
                           const Expr* origin, Arena* arena) {
  if (obj.is_undefined()) return Status::InvalidArgument(UndefinedMessage(obj));
  if (method && (Info(*method).receivers & Bit(obj.kind())) != 0) return BindMethod(obj, *method, arena);
  switch (obj.kind()) {
    case ValueKind::kDict: {
      const Value* found = DictFind(obj.entries(), Value::String(name));
      return found != nullptr ? *found : Value::Undefined(origin, obj.kind());
    }
    case ValueKind::kNamespace: {
      const Value* found = NamespaceFind(*obj.namespace_data(), name);
      return found != nullptr ? *found : Value::Undefined(origin, obj.kind());
    }
    case ValueKind::kLoop:
      return LoopAttribute(*obj.loop(), name, origin);
    default:
      return Value::Undefined(origin, obj.kind());
  }
}

Result<Value> GetItem(const Value& obj, const Value& key, const Expr* origin, Arena* arena) {
  if (obj.is_undefined()) return Status::InvalidArgument(UndefinedMessage(obj));
  const bool integer_key = key.is(ValueKind::kInt) || key.is(ValueKind::kBool);
  switch (obj.kind()) {
    case ValueKind::kList:
    case ValueKind::kTuple:
      if (integer_key) {
        const auto index = NormalizeIndex(key.as_int(), obj.items().size());
        return index ? obj.items()[*index] : Value::Undefined(origin, obj.kind());
      }
      break;
    case ValueKind::kString:
      if (integer_key) {
        const std::string_view text = obj.string();
        const auto index = NormalizeIndex(key.as_int(), CountCodePoints(text));
        if (!index) return Value::Undefined(origin, obj.kind());
        size_t begin = OffsetOfCodePoint(text, *index);
        size_t end = begin;
        unicode::next_code_point(text, &end);
        return Value::String(text.substr(begin, end - begin));
      }
      break;
    case ValueKind::kDict:
      if (const Value* found = DictFind(obj.entries(), key)) return *found;
      break;
    default:
      break;
  }
  // jinja2 falls back to the attribute of that name.
  if (key.is_string()) return GetAttribute(obj, key.string(), FindMethod(key.string()), origin, arena);
  return Value::Undefined(origin, obj.kind());
}

Result<Value> GetSlice(const Value& obj, const Value& start, const Value& stop, const Value& step, Arena* arena) {
  if (obj.is_undefined()) return Status::InvalidArgument(UndefinedMessage(obj));
  const auto bound = [](const Value& v) -> std::optional<std::optional<int64_t>> {
    if (v.is_undefined() || v.is(ValueKind::kNone)) return std::optional<int64_t>();
    if (v.is(ValueKind::kInt) || v.is(ValueKind::kBool)) return std::optional<int64_t>(v.as_int());
    return std::nullopt;  // not a valid bound
  };
  const auto lo = bound(start);
  const auto hi = bound(stop);
  const auto by = bound(step);
  if (!lo || !hi || !by || !(obj.is_sequence() || obj.is_string())) return Value::Undefined(nullptr);
  const int64_t stride = by->value_or(1);
  if (stride == 0) return Status::InvalidArgument("slice step cannot be zero");

  std::vector<size_t> offsets;  // strings: byte offset of each code point, plus the end
  size_t length = 0;
  if (obj.is_string()) {
    const std::string_view text = obj.string();
    for (size_t pos = 0; pos < text.size(); unicode::next_code_point(text, &pos)) offsets.push_back(pos);
    length = offsets.size();
    offsets.push_back(text.size());
  } else {
    length = obj.items().size();
  }
  // CPython's PySlice_AdjustIndices.
  const auto n = static_cast<int64_t>(length);
  const int64_t lower = stride > 0 ? 0 : -1;
  const int64_t upper = stride > 0 ? n : n - 1;
  const auto adjust = [&](std::optional<int64_t> v, int64_t absent) {
    if (!v) return absent;
    int64_t i = *v;
    if (i < 0) {
      i += n;
      if (i < lower) i = lower;
    } else if (i > upper) {
      i = upper;
    }
    return i;
  };
  const int64_t first = adjust(*lo, stride > 0 ? lower : upper);
  const int64_t last = adjust(*hi, stride > 0 ? upper : lower);
  std::vector<size_t> picked;
  for (int64_t i = first; stride > 0 ? i < last : i > last; i += stride) picked.push_back(static_cast<size_t>(i));

  if (obj.is_string()) {
    const std::string_view text = obj.string();
    if (stride == 1) {
      if (picked.empty()) return Value::String({});
      return Value::String(text.substr(offsets[picked.front()], offsets[picked.back() + 1] - offsets[picked.front()]));
    }
    std::string out;
    for (size_t i : picked) out.append(text.substr(offsets[i], offsets[i + 1] - offsets[i]));
    return Value::String(arena->Copy(out));
  }
  if (stride == 1) {
    if (picked.empty()) return MakeList({}, arena, obj.kind());
    return obj.is(ValueKind::kList) ? Value::List(obj.items().subspan(picked.front(), picked.size()))
                                    : Value::Tuple(obj.items().subspan(picked.front(), picked.size()));
  }
  std::vector<Value> items;
  items.reserve(picked.size());
  for (size_t i : picked) items.push_back(obj.items()[i]);
  return MakeList(items, arena, obj.kind());
}

Result<Value> GetAttributePath(const Value& obj, std::string_view path, Arena* arena) {
  Value current = obj;
  for (const std::string_view part : PySplit(path, std::string_view("."), -1)) {
    // Digit-only parts are list indices, as in jinja2's attribute getter.
    Value key = Value::String(part);
    int64_t index = 0;
    const auto parsed = std::from_chars(part.data(), part.data() + part.size(), index);
    if (!part.empty() && part[0] != '-' && parsed.ec == std::errc() && parsed.ptr == part.data() + part.size()) {
      key = Value::Int(index);
    }
    FM_ASSIGN_OR_RETURN(current, GetItem(current, key, nullptr, arena));
  }
  return current;
}

Status BindArguments(std::string_view function, const Arguments& args, std::span<const std::string_view> names,
                     std::span<std::optional<Value>> slots) {
  if (args.positional.size() > names.size()) {
    return Status::InvalidArgument(std::string(function) + "() takes at most " + std::to_string(names.size()) +
                                   " argument(s) (" + std::to_string(args.positional.size()) + " given)");
  }
  for (size_t i = 0; i < args.positional.size(); ++i) slots[i] = args.positional[i];
  for (const KeywordArgument& kw : args.keyword) {
    const auto it = std::find(names.begin(), names.end(), kw.name);
    if (it == names.end()) {
      return Status::InvalidArgument(std::string(function) + "() got an unexpected keyword argument '" +
                                     std::string(kw.name) + "'");
    }
    std::optional<Value>& slot = slots[static_cast<size_t>(it - names.begin())];
    if (slot) {
      return Status::InvalidArgument(std::string(function) + "() got multiple values for argument '" +
                                     std::string(kw.name) + "'");
    }
    slot = kw.value;
  }
  return Status::Ok();
}

Result<Value> MakeString(std::string text, Arena* arena) {
  if (text.size() > MaxValueBytes(*arena)) {
    return Status::InvalidArgument("string of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                                   std::to_string(MaxValueBytes(*arena)));
  }
  return Value::String(arena->Copy(text));
}

Value MakeList(std::span<const Value> items, Arena* arena, ValueKind kind) {
  Value* copy = arena->NewArray<Value>(items.size());
  std::copy(items.begin(), items.end(), copy);
  return kind == ValueKind::kTuple ? Value::Tuple({copy, items.size()}) : Value::List({copy, items.size()});
}

Value MakeIterator(std::span<const Value> items, std::string_view type_name, Arena* arena) {
  return Value::Iterator(arena->New<IteratorData>(IteratorData{MakeList(items, arena).items(), type_name, false}));
}

namespace {

Result<std::string_view> StringArgument(std::string_view function, const std::optional<Value>& v) {
  if (!v || !v->is_string()) {
    return Status::InvalidArgument(std::string(function) + "() argument must be str, not " +
                                   std::string(v ? TypeName(*v) : "nothing"));
  }
  return v->string();
}

// None or a string, for strip(chars) and split(sep).
Result<std::optional<std::string_view>> OptionalStringArgument(std::string_view function,
                                                               const std::optional<Value>& v) {
  if (!v || v->is(ValueKind::kNone)) return std::optional<std::string_view>();
  FM_ASSIGN_OR_RETURN(std::string_view s, StringArgument(function, v));
  return std::optional<std::string_view>(s);
}

Result<int64_t> IntArgument(std::string_view function, const std::optional<Value>& v, int64_t absent) {
  if (!v) return absent;
  if (!v->is(ValueKind::kInt) && !v->is(ValueKind::kBool)) {
    return Status::InvalidArgument(std::string(function) + "() expected an integer, got " +
                                   std::string(TypeName(*v)));
  }
  return v->as_int();
}

Status NoArguments(std::string_view function, const Arguments& args) {
  if (args.positional.empty() && args.keyword.empty()) return Status::Ok();
  return Status::InvalidArgument(std::string(function) + "() takes no arguments");
}

template <size_t N>
Status Bind(std::string_view function, const Arguments& args, const std::array<std::string_view, N>& names,
            std::array<std::optional<Value>, N>* slots) {
  return BindArguments(function, args, names, *slots);
}

Result<Value> StringList(const std::vector<std::string_view>& parts, Arena* arena) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (std::string_view part : parts) items.push_back(Value::String(part));
  return MakeList(items, arena);
}

// str.startswith / endswith with a string or a tuple of strings.
Result<Value> AffixTest(std::string_view text, const Arguments& args, bool prefix) {
  const std::string_view name = prefix ? "startswith" : "endswith";
  std::array<std::optional<Value>, 1> slots;
  FM_RETURN_IF_ERROR(Bind(name, args, std::array<std::string_view, 1>{"prefix"}, &slots));
  const auto matches = [&](std::string_view affix) {
    return prefix ? text.substr(0, affix.size()) == affix
                  : text.size() >= affix.size() && text.substr(text.size() - affix.size()) == affix;
  };
  if (slots[0] && slots[0]->is_sequence()) {
    for (const Value& item : slots[0]->items()) {
      FM_ASSIGN_OR_RETURN(std::string_view affix, StringArgument(name, item));
      if (matches(affix)) return Value::Bool(true);
    }
    return Value::Bool(false);
  }
  FM_ASSIGN_OR_RETURN(std::string_view affix, StringArgument(name, slots[0]));
  return Value::Bool(matches(affix));
}

// str.format with automatic ({}), numbered ({0}) and named ({name}) fields
// and !s / !r conversions; format specs are not supported.
Result<Value> FormatString(std::string_view format, const Arguments& args, Arena* arena) {
  std::string out;
  size_t next_auto = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}') ++i;
      out.push_back('}');
      continue;
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    const size_t close = format.find('}', i);
    if (close == std::string_view::npos) return Status::InvalidArgument("single '{' encountered in format string");
    std::string_view field = format.substr(i + 1, close - i - 1);
    i = close;
    char conversion = 's';
    if (const size_t bang = field.find('!'); bang != std::string_view::npos) {
      if (bang + 2 != field.size() || (field[bang + 1] != 's' && field[bang + 1] != 'r')) {
        return Status::Unsupported("format field '{" + std::string(field) + "}' is not supported");
      }
      conversion = field[bang + 1];
      field = field.substr(0, bang);
    }
    if (field.find_first_of(":.[") != std::string_view::npos) {
      return Status::Unsupported("format field '{" + std::string(field) + "}' is not supported");
    }
    const Value* arg = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      const size_t index = field.empty() ? next_auto++ : static_cast<size_t>(std::stoul(std::string(field)));
      if (index >= args.positional.size()) {
        return Status::InvalidArgument("Replacement index " + std::to_string(index) +
                                       " out of range for positional args tuple");
      }
      arg = &args.positional[index];
    } else {
      for (const KeywordArgument& kw : args.keyword) {
        if (kw.name == field) arg = &kw.value;
      }
      if (arg == nullptr) return Status::InvalidArgument("KeyError: '" + std::string(field) + "'");
    }
    FM_RETURN_IF_ERROR(conversion == 'r' ? AppendRepr(*arg, &out) : AppendStr(*arg, &out));
    if (out.size() > MaxValueBytes(*arena)) return MakeString(std::move(out), arena);
  }
  return MakeString(std::move(out), arena);
}

Result<Value> CallStringMethod(std::string_view text, MethodId method, const Arguments& args, Arena* arena) {
  std::array<std::optional<Value>, 3> slots;
  const auto bind = [&](std::string_view name, std::initializer_list<std::string_view> names) {
    return BindArguments(name, args, std::span<const std::string_view>(names.begin(), names.size()), slots);
  };
  switch (method) {
    case MethodId::kStrip:
    case MethodId::kLstrip:
    case MethodId::kRstrip: {
      FM_RETURN_IF_ERROR(bind("strip", {"chars"}));
      FM_ASSIGN_OR_RETURN(const auto chars, OptionalStringArgument("strip", slots[0]));
      return Value::String(
          PyStrip(text, chars, method != MethodId::kRstrip, method != MethodId::kLstrip));
    }
    case MethodId::kSplit:
    case MethodId::kRsplit: {
      FM_RETURN_IF_ERROR(bind("split", {"sep", "maxsplit"}));
      FM_ASSIGN_OR_RETURN(const auto sep, OptionalStringArgument("split", slots[0]));
      FM_ASSIGN_OR_RETURN(const int64_t maxsplit, IntArgument("split", slots[1], -1));
      if (sep && sep->empty()) return Status::InvalidArgument("empty separator");
      return StringList(method == MethodId::kSplit ? PySplit(text, sep, maxsplit) : PyRSplit(text, sep, maxsplit),
                        arena);
    }
    case MethodId::kSplitlines:
      FM_RETURN_IF_ERROR(NoArguments("splitlines", args));
      return StringList(PySplitLines(text), arena);
    case MethodId::kStartswith:
      return AffixTest(text, args, /*prefix=*/true);
    case MethodId::kEndswith:
      return AffixTest(text, args, /*prefix=*/false);
    case MethodId::kUpper:
      FM_RETURN_IF_ERROR(NoArguments("upper", args));
      return MakeString(unicode::to_upper(text), arena);
    case MethodId::kLower:
      FM_RETURN_IF_ERROR(NoArguments("lower", args));
      return MakeString(unicode::to_lower(text), arena);
    case MethodId::kTitle:
      FM_RETURN_IF_ERROR(NoArguments("title", args));
      return MakeString(PyTitle(text), arena);
    case MethodId::kCapitalize:
      FM_RETURN_IF_ERROR(NoArguments("capitalize", args));
      return MakeString(PyCapitalize(text), arena);
    case MethodId::kReplace: {
      FM_RETURN_IF_ERROR(bind("replace", {"old", "new", "count"}));
      FM_ASSIGN_OR_RETURN(const std::string_view old_text, StringArgument("replace", slots[0]));
      FM_ASSIGN_OR_RETURN(const std::string_view new_text, StringArgument("replace", slots[1]));
      FM_ASSIGN_OR_RETURN(const int64_t count, IntArgument("replace", slots[2], -1));
      return MakeString(PyReplace(text, old_text, new_text, count), arena);
    }
    case MethodId::kFind:
    case MethodId::kRfind:
    case MethodId::kIndex: {
      FM_RETURN_IF_ERROR(bind("find", {"sub"}));
      FM_ASSIGN_OR_RETURN(const std::string_view sub, StringArgument("find", slots[0]));
      const size_t hit = method == MethodId::kRfind ? text.rfind(sub) : text.find(sub);
      if (hit == std::string_view::npos) {
        if (method == MethodId::kIndex) return Status::InvalidArgument("substring not found");
        return Value::Int(-1);
      }
      return Value::Int(static_cast<int64_t>(CountCodePoints(text.substr(0, hit))));
    }
    case MethodId::kRemoveprefix:
    case MethodId::kRemovesuffix: {
      FM_RETURN_IF_ERROR(bind("removeprefix", {"affix"}));
      FM_ASSIGN_OR_RETURN(const std::string_view affix, StringArgument("removeprefix", slots[0]));
      if (method == MethodId::kRemoveprefix) {
        return Value::String(text.substr(0, affix.size()) == affix ? text.substr(affix.size()) : text);
      }
      const bool has = text.size() >= affix.size() && text.substr(text.size() - affix.size()) == affix;
      return Value::String(has ? text.substr(0, text.size() - affix.size()) : text);
    }
    case MethodId::kIsalnum:
    case MethodId::kIsalpha:
    case MethodId::kIsdigit:
    case MethodId::kIsspace:
      FM_RETURN_IF_ERROR(NoArguments("is...", args));
      return Value::Bool(PyIsAll(text, method == MethodId::kIsalnum   ? CharClass::kAlnum
                                       : method == MethodId::kIsalpha ? CharClass::kAlpha
                                       : method == MethodId::kIsdigit ? CharClass::kDigit
                                                                      : CharClass::kSpace));
    case MethodId::kIslower:
    case MethodId::kIsupper:
      FM_RETURN_IF_ERROR(NoArguments("is...", args));
      return Value::Bool(method == MethodId::kIslower ? PyIsLower(text) : PyIsUpper(text));
    case MethodId::kCount: {
      FM_RETURN_IF_ERROR(bind("count", {"sub"}));
      FM_ASSIGN_OR_RETURN(const std::string_view sub, StringArgument("count", slots[0]));
      if (sub.empty()) return Value::Int(static_cast<int64_t>(CountCodePoints(text)) + 1);
      int64_t count = 0;
      for (size_t at = text.find(sub); at != std::string_view::npos; at = text.find(sub, at + sub.size())) ++count;
      return Value::Int(count);
    }
    case MethodId::kJoin: {
      FM_RETURN_IF_ERROR(bind("join", {"iterable"}));
      if (!slots[0]) return Status::InvalidArgument("join() takes exactly one argument");
      FM_ASSIGN_OR_RETURN(const auto items, Iterate(*slots[0], arena));
      std::string out;
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out.append(text);
        if (!items[i].is_string()) {
          return Status::InvalidArgument("sequence item " + std::to_string(i) + ": expected str instance, " +
                                         std::string(TypeName(items[i])) + " found");
        }
        out.append(items[i].string());
        if (out.size() > MaxValueBytes(*arena)) break;
      }
      return MakeString(std::move(out), arena);
    }
    case MethodId::kFormat:
      return FormatString(text, args, arena);
    default:
      return Status::Internal("not a string method");
  }
}

Result<Value> CallDictMethod(std::span<const DictEntry> entries, MethodId method, const Arguments& args,
                             Arena* arena) {
  std::array<std::optional<Value>, 2> slots;
  switch (method) {
    case MethodId::kGet: {
      FM_RETURN_IF_ERROR(Bind("get", args, std::array<std::string_view, 2>{"key", "default"}, &slots));
      if (!slots[0]) return Status::InvalidArgument("get expected at least 1 argument, got 0");
      const Value* found = DictFind(entries, *slots[0]);
      return found != nullptr ? *found : slots[1].value_or(Value::None());
    }
    case MethodId::kItems: {
      FM_RETURN_IF_ERROR(NoArguments("items", args));
      std::vector<Value> pairs;
      pairs.reserve(entries.size());
      for (const DictEntry& entry : entries) {
        const Value pair[] = {entry.key, entry.value};
        pairs.push_back(MakeList(pair, arena, ValueKind::kTuple));
      }
      return MakeList(pairs, arena);
    }
    case MethodId::kKeys:
    case MethodId::kValues: {
      FM_RETURN_IF_ERROR(NoArguments(method == MethodId::kKeys ? "keys" : "values", args));
      std::vector<Value> items;
      items.reserve(entries.size());
      for (const DictEntry& entry : entries) items.push_back(method == MethodId::kKeys ? entry.key : entry.value);
      return MakeList(items, arena);
    }
    default:
      return Status::Internal("not a dict method");
  }
}

}  // namespace

Result<Value> CallMethod(const BoundMethod& bound, const Arguments& args, RenderEnv* env) {
  const Value& self = bound.receiver;
  const MethodInfo& info = Info(bound.method);
  if (info.refused) {
    return Status::InvalidArgument("access to attribute '" + std::string(info.name) + "' of '" +
                                   std::string(TypeName(self)) + "' object is unsafe");
  }
  switch (self.kind()) {
    case ValueKind::kString: {
      FM_ASSIGN_OR_RETURN(const Value result, CallStringMethod(self.string(), bound.method, args, env->arena));
      // Markup's own methods return Markup when they only transform its text.
      const bool keeps_markup = bound.method == MethodId::kStrip || bound.method == MethodId::kLstrip ||
                                bound.method == MethodId::kRstrip || bound.method == MethodId::kUpper ||
                                bound.method == MethodId::kLower || bound.method == MethodId::kTitle ||
                                bound.method == MethodId::kCapitalize;
      if (self.is_markup() && keeps_markup) return Value::Markup(result.string());
      return result;
    }
    case ValueKind::kDict:
      return CallDictMethod(self.entries(), bound.method, args, env->arena);
    case ValueKind::kList:
    case ValueKind::kTuple: {
      std::array<std::optional<Value>, 1> slots;
      FM_RETURN_IF_ERROR(Bind(info.name, args, std::array<std::string_view, 1>{"value"}, &slots));
      if (!slots[0]) return Status::InvalidArgument(std::string(info.name) + "() takes exactly one argument");
      int64_t count = 0;
      for (size_t i = 0; i < self.items().size(); ++i) {
        if (!Equals(self.items()[i], *slots[0])) continue;
        if (bound.method == MethodId::kIndex) return Value::Int(static_cast<int64_t>(i));
        ++count;
      }
      if (bound.method == MethodId::kIndex) return Status::InvalidArgument("value is not in list");
      return Value::Int(count);
    }
    case ValueKind::kLoop: {
      // loop.cycle('odd', 'even')
      if (args.positional.empty()) return Status::InvalidArgument("no items for cycling given");
      const LoopState& loop = *self.loop();
      return args.positional[loop.index0 % args.positional.size()];
    }
    default:
      return Status::Internal("method on an unexpected receiver");
  }
}

namespace {

Result<Value> Range(const Arguments& args, Arena* arena) {
  if (!args.keyword.empty()) return Status::InvalidArgument("range() takes no keyword arguments");
  if (args.positional.empty() || args.positional.size() > 3) {
    return Status::InvalidArgument("range expected 1 to 3 arguments, got " + std::to_string(args.positional.size()));
  }
  std::array<int64_t, 3> bounds = {0, 0, 1};
  for (size_t i = 0; i < args.positional.size(); ++i) {
    const Value& v = args.positional[i];
    if (!v.is(ValueKind::kInt) && !v.is(ValueKind::kBool)) {
      return Status::InvalidArgument("'" + std::string(TypeName(v)) + "' object cannot be interpreted as an integer");
    }
    bounds[args.positional.size() == 1 ? 1 : i] = v.as_int();
  }
  const auto [start, stop, step] = bounds;
  if (step == 0) return Status::InvalidArgument("range() arg 3 must not be zero");
  // Unsigned arithmetic: the distance between two int64 always fits.
  uint64_t count = 0;
  if (step > 0 && start < stop) {
    count = (static_cast<uint64_t>(stop) - static_cast<uint64_t>(start) - 1) / static_cast<uint64_t>(step) + 1;
  } else if (step < 0 && start > stop) {
    count = (static_cast<uint64_t>(start) - static_cast<uint64_t>(stop) - 1) / (0 - static_cast<uint64_t>(step)) + 1;
  }
  // transformers renders in jinja2's sandbox, which refuses larger ranges.
  constexpr uint64_t kMaxRange = 100000;
  if (count > kMaxRange) {
    return Status::InvalidArgument("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  }
  std::vector<Value> items;
  items.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    items.push_back(Value::Int(static_cast<int64_t>(static_cast<uint64_t>(start) + i * static_cast<uint64_t>(step))));
  }
  return MakeList(items, arena);
}

// dict(mapping_or_pairs, **kwargs), the entries namespace() and dict() build.
Status CollectEntries(std::string_view function, const Arguments& args, std::vector<DictEntry>* entries) {
  if (args.positional.size() > 1) {
    return Status::InvalidArgument(std::string(function) + " expected at most 1 argument, got " +
                                   std::to_string(args.positional.size()));
  }
  KeyPositions positions;
  Status failure;
  const auto put = [&](const Value& key, const Value& value) {
    if (!Hash(key)) {
      failure = Status::InvalidArgument("unhashable type: '" + std::string(TypeName(key)) + "'");
      return;
    }
    if (const auto at = positions.Find(key)) {
      (*entries)[*at].value = value;
      return;
    }
    positions.Add(key, entries->size());
    entries->push_back({key, value});
  };
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is(ValueKind::kDict)) {
      for (const DictEntry& entry : source.entries()) put(entry.key, entry.value);
    } else if (source.is_sequence()) {
      for (const Value& pair : source.items()) {
        if (!pair.is_sequence() || pair.items().size() != 2) {
          return Status::InvalidArgument(std::string(function) +
                                         ": dictionary update sequence element has the wrong length");
        }
        put(pair.items()[0], pair.items()[1]);
      }
    } else {
      return Status::InvalidArgument("'" + std::string(TypeName(source)) + "' object is not iterable");
    }
  }
  for (const KeywordArgument& kw : args.keyword) put(Value::String(kw.name), kw.value);
  return failure;
}

}  // namespace

Result<Value> CallFunction(FunctionId id, const Arguments& args, RenderEnv* env) {
  switch (id) {
    case FunctionId::kRange:
      return Range(args, env->arena);
    case FunctionId::kNamespace: {
      std::vector<DictEntry> entries;
      FM_RETURN_IF_ERROR(CollectEntries("namespace", args, &entries));
      auto* ns = env->arena->New<NamespaceData>();
      ns->entries = env->arena->NewArray<DictEntry>(entries.size());
      std::copy(entries.begin(), entries.end(), ns->entries);  // already distinct
      ns->size = ns->capacity = entries.size();
      return Value::Namespace(ns);
    }
    case FunctionId::kDict: {
      std::vector<DictEntry> entries;
      FM_RETURN_IF_ERROR(CollectEntries("dict", args, &entries));
      DictEntry* copy = env->arena->NewArray<DictEntry>(entries.size());
      std::copy(entries.begin(), entries.end(), copy);
      return Value::Dict({copy, entries.size()});
    }
    case FunctionId::kStrftimeNow: {
      std::array<std::optional<Value>, 1> slots;
      FM_RETURN_IF_ERROR(Bind("strftime_now", args, std::array<std::string_view, 1>{"format"}, &slots));
      FM_ASSIGN_OR_RETURN(const std::string_view format, StringArgument("strftime_now", slots[0]));
      return MakeString(FormatTime(format, env->now), env->arena);
    }
    case FunctionId::kRaiseException:
      break;
  }
  return Status::Internal("raise_exception is handled by the interpreter");
}

std::string FormatTime(std::string_view format, const std::tm& time) {
  static constexpr std::array<std::string_view, 12> kMonths = {"January", "February", "March",     "April",
                                                               "May",     "June",     "July",      "August",
                                                               "September", "October", "November", "December"};
  static constexpr std::array<std::string_view, 7> kDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                            "Thursday", "Friday", "Saturday"};
  const auto pad = [](int v, int width, char fill = '0') {
    std::string s = std::to_string(v);
    if (static_cast<int>(s.size()) < width) s.insert(0, static_cast<size_t>(width) - s.size(), fill);
    return s;
  };
  const auto month = static_cast<size_t>(std::clamp(time.tm_mon, 0, 11));
  const auto day = static_cast<size_t>(std::clamp(time.tm_wday, 0, 6));
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 == format.size()) {
      out.push_back(format[i]);
      continue;
    }
    const char directive = format[++i];
    switch (directive) {
      case 'Y':
        out += std::to_string(time.tm_year + 1900);
        break;
      case 'y':
        out += pad((time.tm_year + 1900) % 100, 2);
        break;
      case 'm':
        out += pad(time.tm_mon + 1, 2);
        break;
      case 'd':
        out += pad(time.tm_mday, 2);
        break;
      case 'e':
        out += pad(time.tm_mday, 2, ' ');
        break;
      case 'j':
        out += pad(time.tm_yday + 1, 3);
        break;
      case 'H':
        out += pad(time.tm_hour, 2);
        break;
      case 'I':
        out += pad(time.tm_hour % 12 == 0 ? 12 : time.tm_hour % 12, 2);
        break;
      case 'p':
        out += time.tm_hour < 12 ? "AM" : "PM";
        break;
      case 'M':
        out += pad(time.tm_min, 2);
        break;
      case 'S':
        out += pad(time.tm_sec, 2);
        break;
      case 'b':
        out += kMonths[month].substr(0, 3);
        break;
      case 'B':
        out += kMonths[month];
        break;
      case 'a':
        out += kDays[day].substr(0, 3);
        break;
      case 'A':
        out += kDays[day];
        break;
      case '%':
        out.push_back('%');
        break;
      default:
        out.push_back('%');
        out.push_back(directive);
    }
  }
  return out;
}

}  // namespace flopsmeter::jinja
