// Values of the chat-template interpreter, with Python's meaning: what is
// true, what is equal, how a value prints (str and repr) — because
// transformers renders chat templates with Python's jinja2.
//
// A Value is a small trivially-copyable handle. Everything a render creates
// (strings, lists, dicts, namespaces, scopes) lives in that render's Arena and
// is freed at once when the render ends, so values need no reference counts,
// cannot leak through cycles (a namespace may hold itself) and are never
// destroyed recursively. Strings may also point into the context JSON or the
// parsed template, both of which outlive the render.
//
// Lists, tuples and dicts are immutable once built (the sandbox transformers
// uses refuses append/pop/update); namespaces change in place, and an
// iterator is used up by iterating it, as in Python.
#ifndef FLOPSMETER_TEMPLATE_VALUE_H_
#define FLOPSMETER_TEMPLATE_VALUE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "flopsmeter/status.h"

namespace flopsmeter::jinja {

struct Expr;
struct IteratorData;
struct LoopState;
struct MacroValue;
struct BoundMethod;

// Bump allocator for one render. Allocation never fails: past the limit it
// keeps working and exhausted() turns true, which the interpreter checks at
// every loop iteration, call and output; single operations cap their own
// size (see kMaxStringBytes), so memory overshoots the limit by a bounded
// amount at most.
class Arena {
 public:
  explicit Arena(size_t limit_bytes) : limit_(limit_bytes) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  void* Allocate(size_t bytes, size_t align);

  template <typename T, typename... Args>
  T* New(Args&&... args) {
    static_assert(std::is_trivially_destructible_v<T>, "arena objects are never destroyed");
    return ::new (Allocate(sizeof(T), alignof(T))) T(std::forward<Args>(args)...);
  }
  // `count` default-constructed elements.
  template <typename T>
  T* NewArray(size_t count) {
    static_assert(std::is_trivially_destructible_v<T>, "arena objects are never destroyed");
    T* items = static_cast<T*>(Allocate(sizeof(T) * (count == 0 ? 1 : count), alignof(T)));
    for (size_t i = 0; i < count; ++i) ::new (&items[i]) T();
    return items;
  }
  std::string_view Copy(std::string_view text);

  bool exhausted() const { return used_ > limit_; }
  size_t limit() const { return limit_; }

 private:
  std::vector<std::unique_ptr<std::byte[]>> blocks_;
  std::byte* cursor_ = nullptr;
  size_t remaining_ = 0;
  size_t used_ = 0;
  size_t next_block_ = 4096;
  size_t limit_;
};

enum class ValueKind : uint8_t {
  kUndefined,  // a missing variable, key or attribute (jinja2's Undefined)
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kList,
  kTuple,
  kDict,       // insertion-ordered; keys are scalars
  kNamespace,  // namespace(): the one mutable container
  kLoop,       // the `loop` variable of a for loop
  kMacro,
  kFunction,   // a global function: range, namespace, dict, ...
  kMethod,     // a method bound to its receiver: "a b".split
  kIterator,   // what map, select, ... return: Python generators, iterable once
};

// The global functions a template can call.
enum class FunctionId : uint8_t { kRange, kNamespace, kDict, kRaiseException, kStrftimeNow };

class Value;
struct DictEntry;

class Value {
 public:
  constexpr Value() = default;  // undefined, with no origin

  // `origin` is the expression that produced the missing value, named in
  // the error if the value is then used (e.g. "'message.name' is undefined");
  // `missing_from` the kind of value that lacked the attribute or item.
  static Value Undefined(const Expr* origin) { return Value(ValueKind::kUndefined, origin, 0); }
  static Value Undefined(const Expr* origin, ValueKind missing_from) {
    return Value(ValueKind::kUndefined, origin, static_cast<size_t>(missing_from) + 1);
  }
  static Value None() { return Value(ValueKind::kNone, nullptr, 0); }
  static Value Bool(bool b) {
    Value v(ValueKind::kBool, nullptr, 0);
    v.u_.b = b;
    return v;
  }
  static Value Int(int64_t i) {
    Value v(ValueKind::kInt, nullptr, 0);
    v.u_.i = i;
    return v;
  }
  static Value Float(double f) {
    Value v(ValueKind::kFloat, nullptr, 0);
    v.u_.f = f;
    return v;
  }
  // REQUIRES: `text` outlives the render (arena, context JSON or template).
  static Value String(std::string_view text) { return Value(ValueKind::kString, text.data(), text.size()); }
  // A string marked safe (|safe, |escape): Python's markupsafe.Markup, which
  // HTML-escapes a plain string added to it, even with autoescape off.
  static Value Markup(std::string_view text) {
    Value v = String(text);
    v.markup_ = true;
    return v;
  }
  static Value List(std::span<const Value> items) { return Value(ValueKind::kList, items.data(), items.size()); }
  static Value Tuple(std::span<const Value> items) { return Value(ValueKind::kTuple, items.data(), items.size()); }
  static Value Dict(std::span<const DictEntry> entries);
  static Value Namespace(struct NamespaceData* ns) { return Value(ValueKind::kNamespace, ns, 0); }
  static Value Loop(LoopState* loop) { return Value(ValueKind::kLoop, loop, 0); }
  static Value Macro(const MacroValue* macro) { return Value(ValueKind::kMacro, macro, 0); }
  static Value Function(FunctionId id) { return Value(ValueKind::kFunction, nullptr, static_cast<size_t>(id)); }
  static Value Method(const BoundMethod* method) { return Value(ValueKind::kMethod, method, 0); }
  static Value Iterator(IteratorData* iterator) { return Value(ValueKind::kIterator, iterator, 0); }

  ValueKind kind() const { return kind_; }
  bool is(ValueKind kind) const { return kind_ == kind; }
  bool is_undefined() const { return kind_ == ValueKind::kUndefined; }
  bool is_string() const { return kind_ == ValueKind::kString; }
  bool is_markup() const { return markup_; }
  // list or tuple
  bool is_sequence() const { return kind_ == ValueKind::kList || kind_ == ValueKind::kTuple; }
  // bool, int or float (Python's bool is an int)
  bool is_number() const {
    return kind_ == ValueKind::kBool || kind_ == ValueKind::kInt || kind_ == ValueKind::kFloat;
  }

  bool bool_value() const { return u_.b; }
  int64_t int_value() const { return u_.i; }
  double float_value() const { return u_.f; }
  // bool, int or float as an integer; REQUIRES kind() is kBool or kInt.
  int64_t as_int() const { return kind_ == ValueKind::kBool ? static_cast<int64_t>(u_.b) : u_.i; }
  // REQUIRES: is_number().
  double as_double() const;
  std::string_view string() const { return {static_cast<const char*>(u_.p), size_}; }
  std::span<const Value> items() const { return {static_cast<const Value*>(u_.p), size_}; }
  std::span<const DictEntry> entries() const;
  NamespaceData* namespace_data() const { return static_cast<NamespaceData*>(const_cast<void*>(u_.p)); }
  LoopState* loop() const { return static_cast<LoopState*>(const_cast<void*>(u_.p)); }
  const MacroValue* macro() const { return static_cast<const MacroValue*>(u_.p); }
  FunctionId function() const { return static_cast<FunctionId>(size_); }
  const BoundMethod* method() const { return static_cast<const BoundMethod*>(u_.p); }
  IteratorData* iterator() const { return static_cast<IteratorData*>(const_cast<void*>(u_.p)); }
  const Expr* undefined_origin() const { return static_cast<const Expr*>(u_.p); }
  std::optional<ValueKind> undefined_missing_from() const {
    if (size_ == 0) return std::nullopt;
    return static_cast<ValueKind>(size_ - 1);
  }

 private:
  Value(ValueKind kind, const void* p, size_t size) : kind_(kind), size_(size) { u_.p = p; }

  ValueKind kind_ = ValueKind::kUndefined;
  bool markup_ = false;
  union {
    bool b;
    int64_t i;
    double f;
    const void* p = nullptr;
  } u_;
  size_t size_ = 0;
};
static_assert(std::is_trivially_copyable_v<Value>);
static_assert(std::is_trivially_destructible_v<Value>);

struct DictEntry {
  Value key;
  Value value;
};

inline Value Value::Dict(std::span<const DictEntry> entries) {
  return Value(ValueKind::kDict, entries.data(), entries.size());
}
inline std::span<const DictEntry> Value::entries() const { return {static_cast<const DictEntry*>(u_.p), size_}; }

// Attributes of a namespace, in assignment order; grows inside the arena.
struct NamespaceData {
  DictEntry* entries = nullptr;
  size_t size = 0;
  size_t capacity = 0;
};

// A Python iterator (a generator, or reversed(list)): always true, no
// len(), not JSON serializable, and empty once iterated. The items are
// computed up front; only that Python-visible behaviour is kept.
struct IteratorData {
  std::span<const Value> items;
  std::string_view type_name;  // "generator", "list_reverseiterator"
  bool consumed = false;
};

// Deepest nesting of lists, dicts and namespaces that printing, comparing or
// converting will walk; deeper (or cyclic, through a namespace) values are
// an error rather than a stack overflow.
inline constexpr int kMaxValueDepth = 256;
// Largest string or list one operation may build.
inline constexpr size_t kMaxStringBytes = size_t{64} << 20;

// The same for one render: no more than its memory limit either, so a
// small render cannot build a 64 MiB string in one step ('a' * 60000000).
inline size_t MaxValueBytes(const Arena& arena) { return std::min(kMaxStringBytes, arena.limit()); }

// Python truthiness: empty strings and containers, zero, None and undefined
// are false.
bool Truthy(const Value& v);

// Python ==, deep for containers; 1 == 1.0 == True. Undefined equals only
// undefined. Values nested deeper than kMaxValueDepth compare unequal.
bool Equals(const Value& a, const Value& b);

// Python's ordering (<): numbers with numbers, strings by code point, lists
// and tuples element-wise. Returns <0, 0 or >0, or a TypeError as in Python.
Result<int> Compare(const Value& a, const Value& b);

// Python's type name ('str', 'int', 'NoneType', 'dict', ...).
std::string_view TypeName(const Value& v);
std::string_view KindName(ValueKind kind);

// "'messages[0].name' is undefined": the message Python's jinja2 gives when
// an undefined value is used where a value is needed.
std::string UndefinedMessage(const Value& v);

// Appends Python's str(v) (what {{ v }} prints): None, True, 1.5, strings as
// they are, containers as their repr. Undefined prints as nothing.
Status AppendStr(const Value& v, std::string* out);
// Appends Python's repr(v): strings quoted.
Status AppendRepr(const Value& v, std::string* out);

// Python's hash() where it exists: for scalars and tuples of them (what
// may be a dict key), consistent with Equals (1, 1.0 and True hash alike);
// nullopt for the unhashable (lists, dicts, namespaces).
std::optional<size_t> Hash(const Value& v);

// Where distinct keys were first seen: deduplicates in linear time (unique,
// dict(), namespace()) where comparing every pair would be quadratic.
class KeyPositions {
 public:
  // The position recorded for a key equal to `key`; REQUIRES Hash(key).
  std::optional<size_t> Find(const Value& key) const;
  void Add(const Value& key, size_t position);

 private:
  std::unordered_multimap<size_t, std::pair<Value, size_t>> positions_;
};

// The value a dict holds for `key`, or nullptr.
const Value* DictFind(std::span<const DictEntry> entries, const Value& key);
const Value* NamespaceFind(const NamespaceData& ns, std::string_view name);
void NamespaceSet(NamespaceData* ns, const Value& key, const Value& value, Arena* arena);

// Converts the render context: objects become dicts (member order kept),
// arrays lists. Strings are not copied: they point into `json`.
Result<Value> FromJson(const nlohmann::ordered_json& json, Arena* arena);

// The elements `for x in v` visits: list and tuple items, dict keys, the
// characters of a string, an iterator's items (once); nothing for
// undefined. TypeError otherwise.
Result<std::span<const Value>> Iterate(const Value& v, Arena* arena);

// The work a builtin does scanning `v`: one unit per 64 bytes of a string
// or 64 entries of a container (nested values are not counted); small
// values cost nothing.
uint64_t ScanCost(const Value& v);

// Python's `item in container`: substrings, list elements, dict keys;
// false for undefined; TypeError for what cannot contain.
Result<bool> Contains(const Value& container, const Value& item);

// len(v) for strings (code points), lists, tuples, dicts; 0 for undefined.
Result<int64_t> Length(const Value& v);

}  // namespace flopsmeter::jinja

#endif  // FLOPSMETER_TEMPLATE_VALUE_H_
