// What a chat template can reach besides its own variables: attributes and
// items of values (jinja2's getattr/getitem rules), the methods of strings,
// dicts, lists and `loop`, and the global functions (range, namespace, dict,
// strftime_now). Filters and tests are in filters.h.
//
// Errors are returned without a location; the interpreter adds the template
// position of the expression that failed.
#ifndef FLOPSMETER_TEMPLATE_BUILTINS_H_
#define FLOPSMETER_TEMPLATE_BUILTINS_H_

#include <ctime>
#include <optional>
#include <span>
#include <string_view>

#include "flopsmeter/status.h"
#include "template/value.h"

namespace flopsmeter::jinja {

struct MacroStmt;
struct Scope;

// Methods by name. Which receiver type has which method is in builtins.cc;
// the mutating ones are there only to be refused as transformers' sandbox
// refuses them.
enum class MethodId : uint8_t {
  // str (index and count also for lists and tuples)
  kCapitalize,
  kCount,
  kEndswith,
  kFind,
  kFormat,
  kIndex,
  kIsalnum,
  kIsalpha,
  kIsdigit,
  kIslower,
  kIsspace,
  kIsupper,
  kJoin,
  kLower,
  kLstrip,
  kRemoveprefix,
  kRemovesuffix,
  kReplace,
  kRfind,
  kRsplit,
  kRstrip,
  kSplit,
  kSplitlines,
  kStartswith,
  kStrip,
  kTitle,
  kUpper,
  // dict
  kGet,
  kItems,
  kKeys,
  kValues,
  // loop
  kCycle,
  // refused (they would mutate a list or dict)
  kAppend,
  kClear,
  kExtend,
  kInsert,
  kPop,
  kPopitem,
  kRemove,
  kReverse,
  kSetdefault,
  kSort,
  kUpdate,
};

std::optional<MethodId> FindMethod(std::string_view name);
std::optional<FunctionId> FindFunction(std::string_view name);

struct KeywordArgument {
  std::string_view name;
  Value value;
};

struct Arguments {
  std::span<const Value> positional;
  std::span<const KeywordArgument> keyword;
};

// The state of a running for loop, shared by every `loop` value of it.
struct LoopState {
  std::span<const Value> items;
  size_t index0 = 0;
};

struct BoundMethod {
  Value receiver;
  MethodId method;
};

struct MacroValue {
  const MacroStmt* macro;
  Scope* closure;  // the scope the macro was defined in
};

// What builtins need from the render in progress.
struct RenderEnv {
  Arena* arena;
  std::tm now;  // what strftime_now() formats
  // Work done so far (loop iterations, macro calls, values scanned) and the
  // most allowed; filters that run a test or filter per item add to it.
  uint64_t steps = 0;
  uint64_t max_steps = 0;

  // Adds `units`; an error (without a location) once past max_steps.
  Status Charge(uint64_t units);
};

// obj.name: a method of obj's type, else the item `name` (dicts), else the
// attribute (namespaces, loop); undefined if there is none. An error only
// when obj itself is undefined.
Result<Value> GetAttribute(const Value& obj, std::string_view name, std::optional<MethodId> method,
                           const Expr* origin, Arena* arena);
// obj[key]: an element, slice is separate; falls back to the attribute named
// `key`. Undefined when missing; an error only when obj is undefined.
Result<Value> GetItem(const Value& obj, const Value& key, const Expr* origin, Arena* arena);
// obj[start:stop:step] with Python's rules; absent bounds are undefined.
Result<Value> GetSlice(const Value& obj, const Value& start, const Value& stop, const Value& step, Arena* arena);
// jinja2's environment.getattr with a dotted path ("function.name", "0"),
// as selectattr, map and sort(attribute=) use it.
Result<Value> GetAttributePath(const Value& obj, std::string_view path, Arena* arena);

Result<Value> CallMethod(const BoundMethod& bound, const Arguments& args, RenderEnv* env);
// Every global function except raise_exception, which the interpreter handles.
Result<Value> CallFunction(FunctionId id, const Arguments& args, RenderEnv* env);

// Binds `args` to the named parameters of a Python function, in order:
// slots[i] receives the argument for names[i], if one was passed.
Status BindArguments(std::string_view function, const Arguments& args, std::span<const std::string_view> names,
                     std::span<std::optional<Value>> slots);

// Python's strftime for the directives templates use (%Y %m %d %H %M %S %b
// %B %a %A %y %j %p %I %e %%); other directives are copied as written.
std::string FormatTime(std::string_view format, const std::tm& time);

// A string built by a builtin, copied into the arena; fails past MaxValueBytes().
Result<Value> MakeString(std::string text, Arena* arena);
// A list built by a builtin, copied into the arena.
Value MakeList(std::span<const Value> items, Arena* arena, ValueKind kind = ValueKind::kList);
// A Python iterator over `items` (see IteratorData), copied into the arena.
Value MakeIterator(std::span<const Value> items, std::string_view type_name, Arena* arena);

}  // namespace flopsmeter::jinja

#endif  // FLOPSMETER_TEMPLATE_BUILTINS_H_
