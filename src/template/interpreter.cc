#include "template/interpreter.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "template/builtins.h"
#include "template/filters.h"
#include "template/py_text.h"

namespace flopsmeter::jinja {

// Variables assigned in a loop iteration, a macro call or a block; the
// template's top level is Renderer::globals_ (scope nullptr).
struct Scope {
  struct Local {
    SymbolId symbol;
    Value value;
  };
  Scope* parent = nullptr;
  Local* locals = nullptr;
  size_t size = 0;
  size_t capacity = 0;
  bool captured = false;  // a macro defined here (or in a scope inside) holds on to it

  const Value* Find(SymbolId symbol) const {
    for (size_t i = 0; i < size; ++i) {
      if (locals[i].symbol == symbol) return &locals[i].value;
    }
    return nullptr;
  }

  void Set(SymbolId symbol, const Value& value, Arena* arena) {
    for (size_t i = 0; i < size; ++i) {
      if (locals[i].symbol == symbol) {
        locals[i].value = value;
        return;
      }
    }
    if (size == capacity) {
      capacity = capacity == 0 ? 4 : capacity * 2;
      Local* grown = arena->NewArray<Local>(capacity);
      std::copy(locals, locals + size, grown);
      locals = grown;
    }
    locals[size++] = Local{symbol, value};
  }
};

namespace {

class Renderer {
 public:
  Renderer(const Program& program, const std::tm& now, const RenderLimits& limits)
      : program_(program), limits_(limits), arena_(limits.max_memory_bytes), env_{&arena_, now, 0, limits.max_steps} {}

  Result<std::string> Render(const nlohmann::ordered_json& context) {
    if (!context.is_object()) {
      return Status::InvalidArgument(program_.name + ": the template context must be a JSON object");
    }
    globals_.assign(program_.symbol_names.size(), Value());
    for (auto it = context.begin(); it != context.end(); ++it) {
      const auto symbol = program_.symbols.find(it.key());
      if (symbol == program_.symbols.end()) continue;  // the template never reads it
      auto value = FromJson(it.value(), &arena_);
      if (!value.ok()) {
        return Status::InvalidArgument(program_.name + ": context variable '" + it.key() +
                                       "': " + value.status().message());
      }
      globals_[symbol->second] = *value;
    }
    std::string out;
    out_ = &out;
    FM_RETURN_IF_ERROR(ExecBody(program_.body, nullptr));
    return out;
  }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  // --- errors -------------------------------------------------------------

  // Prefixes a builtin's error with where in the template it happened.
  Status Locate(const Node& node, const Status& status) const {
    return Status(status).WithContext(program_.Where(node.text));
  }
  Status Fail(const Node& node, const std::string& message) const {
    return Status::InvalidArgument(program_.Where(node.text) + ": " + message);
  }
  template <typename T>
  Result<T> At(const Node& node, Result<T> result) const {
    if (result.ok()) return result;
    return Locate(node, result.status());
  }

  // Checks the caps that keep a render bounded; called on every output,
  // loop iteration and call.
  Status CheckLimits(const Node& node) const {
    if (out_->size() > limits_.max_output_bytes) {
      return Fail(node, "rendered text exceeds the limit of " + Mebibytes(limits_.max_output_bytes));
    }
    if (arena_.exhausted()) {
      return Fail(node, "rendering needs more than " + Mebibytes(limits_.max_memory_bytes) + " of memory");
    }
    return Status::Ok();
  }
  Status Step(const Node& node) {
    const Status status = env_.Charge(1);
    if (!status.ok()) return Locate(node, status);
    return CheckLimits(node);
  }

  // Builtins scan their operands; charging for that (see ScanCost) makes a
  // render that keeps scanning big values end at the step limit instead of
  // running for hours.
  Status Charge(const Node& node, const Value& v) {
    const Status status = env_.Charge(ScanCost(v));
    return status.ok() ? status : Locate(node, status);
  }
  Status Charge(const Node& node, const Arguments& args) {
    for (const Value& v : args.positional) FM_RETURN_IF_ERROR(Charge(node, v));
    for (const KeywordArgument& kw : args.keyword) FM_RETURN_IF_ERROR(Charge(node, kw.value));
    return Status::Ok();
  }
  Scope* NewScope(Scope* parent) {
    Scope* scope = arena_.New<Scope>();
    scope->parent = parent;
    return scope;
  }

  // A fresh scope for the next loop iteration: `previous` emptied, unless a
  // macro defined in it still needs it. Long loops then allocate nothing.
  Scope* NextIterationScope(Scope* previous, Scope* parent) {
    if (previous == nullptr || previous->captured) return NewScope(parent);
    previous->size = 0;
    return previous;
  }

  // --- statements ---------------------------------------------------------

  Status ExecBody(const Body& body, Scope* scope) {
    for (const Stmt* stmt : body) {
      FM_RETURN_IF_ERROR(Exec(*stmt, scope));
      if (flow_ != Flow::kNormal) break;
    }
    return Status::Ok();
  }

  // Renders `body` into a string of its own (macros, set and filter blocks).
  Result<Value> Capture(const Body& body, Scope* scope) {
    std::string buffer;
    std::string* outer = std::exchange(out_, &buffer);
    const Status status = ExecBody(body, scope);
    out_ = outer;
    FM_RETURN_IF_ERROR(status);
    return Value::String(arena_.Copy(buffer));
  }

  Status Exec(const Stmt& stmt, Scope* scope) {
    switch (stmt.kind) {
      case StmtKind::kText:
        out_->append(static_cast<const TextStmt&>(stmt).text_data);
        return CheckLimits(stmt);
      case StmtKind::kOutput: {
        FM_ASSIGN_OR_RETURN(const Value value, Eval(*static_cast<const OutputStmt&>(stmt).expr, scope));
        if (value.is_string()) {
          out_->append(value.string());
        } else {
          FM_RETURN_IF_ERROR(Charge(stmt, value));
          const Status status = AppendStr(value, out_);
          if (!status.ok()) return Locate(stmt, status);
        }
        return CheckLimits(stmt);
      }
      case StmtKind::kIf: {
        const auto& node = static_cast<const IfStmt&>(stmt);
        for (const auto& [test, body] : node.branches) {
          FM_ASSIGN_OR_RETURN(const Value value, Eval(*test, scope));
          if (Truthy(value)) return ExecBody(body, scope);
        }
        return ExecBody(node.otherwise, scope);
      }
      case StmtKind::kFor:
        return ExecFor(static_cast<const ForStmt&>(stmt), scope);
      case StmtKind::kSet: {
        const auto& node = static_cast<const SetStmt&>(stmt);
        FM_ASSIGN_OR_RETURN(const Value value, Eval(*node.value, scope));
        return Assign(node.target, value, scope, stmt);
      }
      case StmtKind::kSetBlock: {
        const auto& node = static_cast<const SetBlockStmt&>(stmt);
        FM_ASSIGN_OR_RETURN(Value value, Capture(node.body, NewScope(scope)));
        if (node.filter != nullptr) {
          FM_ASSIGN_OR_RETURN(value, EvalFilter(*node.filter, scope, &value));
        }
        return Assign(node.target, value, scope, stmt);
      }
      case StmtKind::kMacro: {
        const auto& node = static_cast<const MacroStmt&>(stmt);
        for (Scope* s = scope; s != nullptr; s = s->parent) s->captured = true;
        SetVariable(node.symbol, Value::Macro(arena_.New<MacroValue>(MacroValue{&node, scope})), scope);
        return Status::Ok();
      }
      case StmtKind::kFilterBlock: {
        const auto& node = static_cast<const FilterBlockStmt&>(stmt);
        FM_ASSIGN_OR_RETURN(const Value body, Capture(node.body, NewScope(scope)));
        FM_ASSIGN_OR_RETURN(const Value value, EvalFilter(*node.filter, scope, &body));
        const Status status = AppendStr(value, out_);
        if (!status.ok()) return Locate(stmt, status);
        return CheckLimits(stmt);
      }
      case StmtKind::kBreak:
        flow_ = Flow::kBreak;
        return Status::Ok();
      case StmtKind::kContinue:
        flow_ = Flow::kContinue;
        return Status::Ok();
    }
    return Status::Internal("unknown statement");
  }

  Status ExecFor(const ForStmt& node, Scope* scope) {
    FM_ASSIGN_OR_RETURN(const Value iterable, Eval(*node.iterable, scope));
    FM_ASSIGN_OR_RETURN(std::span<const Value> items, At(*node.iterable, Iterate(iterable, &arena_)));
    if (node.condition != nullptr) {
      // `for x in xs if cond`: loop.length and friends count what passes.
      std::vector<Value> kept;
      Scope* probe = nullptr;
      for (const Value& item : items) {
        FM_RETURN_IF_ERROR(Step(node));
        probe = NextIterationScope(probe, scope);
        FM_RETURN_IF_ERROR(Assign(node.target, item, probe, node));
        FM_ASSIGN_OR_RETURN(const Value pass, Eval(*node.condition, probe));
        if (Truthy(pass)) kept.push_back(item);
      }
      items = MakeList(kept, &arena_).items();
    }
    LoopState* loop = arena_.New<LoopState>(LoopState{items, 0});
    Scope* iteration = nullptr;
    for (size_t i = 0; i < items.size(); ++i) {
      FM_RETURN_IF_ERROR(Step(node));
      iteration = NextIterationScope(iteration, scope);
      FM_RETURN_IF_ERROR(Assign(node.target, items[i], iteration, node));
      if (program_.loop_symbol) iteration->Set(*program_.loop_symbol, Value::Loop(loop), &arena_);
      loop->index0 = i;
      FM_RETURN_IF_ERROR(ExecBody(node.body, iteration));
      const Flow flow = std::exchange(flow_, Flow::kNormal);
      if (flow == Flow::kBreak) break;
    }
    if (items.empty()) return ExecBody(node.otherwise, NewScope(scope));
    return Status::Ok();
  }

  void SetVariable(SymbolId symbol, const Value& value, Scope* scope) {
    if (scope != nullptr) {
      scope->Set(symbol, value, &arena_);
    } else {
      globals_[symbol] = value;
    }
  }

  Status Assign(const Target& target, const Value& value, Scope* scope, const Node& at) {
    switch (target.kind) {
      case Target::Kind::kName:
        SetVariable(target.symbol, value, scope);
        return Status::Ok();
      case Target::Kind::kNamespaceAttribute: {
        const Value ns = Lookup(target.symbol, scope);
        if (!ns.is(ValueKind::kNamespace)) {
          return Fail(at, "cannot assign attribute on non-namespace object '" +
                              program_.symbol_names[target.symbol] + "'");
        }
        NamespaceSet(ns.namespace_data(), Value::String(target.attribute), value, &arena_);
        return Status::Ok();
      }
      case Target::Kind::kTuple: {
        FM_ASSIGN_OR_RETURN(const std::span<const Value> items, At(at, Iterate(value, &arena_)));
        if (items.size() != target.items.size()) {
          return Fail(at, items.size() > target.items.size()
                              ? "too many values to unpack (expected " + std::to_string(target.items.size()) + ")"
                              : "not enough values to unpack (expected " + std::to_string(target.items.size()) +
                                    ", got " + std::to_string(items.size()) + ")");
        }
        for (size_t i = 0; i < items.size(); ++i) FM_RETURN_IF_ERROR(Assign(target.items[i], items[i], scope, at));
        return Status::Ok();
      }
    }
    return Status::Internal("unknown assignment target");
  }

  // --- expressions --------------------------------------------------------

  Value Lookup(SymbolId symbol, Scope* scope) const {
    for (const Scope* s = scope; s != nullptr; s = s->parent) {
      if (const Value* found = s->Find(symbol)) return *found;
    }
    return globals_[symbol];
  }

  Result<Value> Eval(const Expr& expr, Scope* scope) {
    switch (expr.kind) {
      case ExprKind::kLiteral:
        return static_cast<const LiteralExpr&>(expr).value;
      case ExprKind::kName: {
        const auto& name = static_cast<const NameExpr&>(expr);
        const Value value = Lookup(name.symbol, scope);
        if (!value.is_undefined()) return value;
        if (name.function) return Value::Function(*name.function);
        return Value::Undefined(&expr);
      }
      case ExprKind::kList:
      case ExprKind::kTuple: {
        const auto& items = static_cast<const SequenceExpr&>(expr).items;
        Value* values = arena_.NewArray<Value>(items.size());
        for (size_t i = 0; i < items.size(); ++i) {
          FM_ASSIGN_OR_RETURN(values[i], Eval(*items[i], scope));
        }
        return expr.kind == ExprKind::kList ? Value::List({values, items.size()})
                                            : Value::Tuple({values, items.size()});
      }
      case ExprKind::kDict:
        return EvalDict(static_cast<const DictExpr&>(expr), scope);
      case ExprKind::kGetattr: {
        const auto& node = static_cast<const GetattrExpr&>(expr);
        FM_ASSIGN_OR_RETURN(const Value object, Eval(*node.object, scope));
        if (!object.is_sequence()) FM_RETURN_IF_ERROR(Charge(expr, object));  // dict lookups scan
        return At(expr, GetAttribute(object, node.attribute, node.method, &expr, &arena_));
      }
      case ExprKind::kGetitem:
        return EvalGetitem(static_cast<const GetitemExpr&>(expr), scope);
      case ExprKind::kCall:
        return EvalCall(static_cast<const CallExpr&>(expr), scope);
      case ExprKind::kFilter:
        return EvalFilter(static_cast<const FilterExpr&>(expr), scope, nullptr);
      case ExprKind::kTest:
        return EvalTest(static_cast<const TestExpr&>(expr), scope);
      case ExprKind::kUnary:
        return EvalUnary(static_cast<const UnaryExpr&>(expr), scope);
      case ExprKind::kBinary: {
        const auto& node = static_cast<const BinaryExpr&>(expr);
        FM_ASSIGN_OR_RETURN(const Value left, Eval(*node.left, scope));
        FM_ASSIGN_OR_RETURN(const Value right, Eval(*node.right, scope));
        FM_RETURN_IF_ERROR(Charge(expr, left));
        FM_RETURN_IF_ERROR(Charge(expr, right));
        return At(expr, Arithmetic(node.op, left, right));
      }
      case ExprKind::kAnd:
      case ExprKind::kOr: {
        const auto& node = static_cast<const BinaryExpr&>(expr);
        FM_ASSIGN_OR_RETURN(const Value left, Eval(*node.left, scope));
        if (Truthy(left) == (expr.kind == ExprKind::kOr)) return left;
        return Eval(*node.right, scope);
      }
      case ExprKind::kCompare:
        return EvalCompare(static_cast<const CompareExpr&>(expr), scope);
      case ExprKind::kConcat: {
        std::string text;
        for (const Expr* part : static_cast<const ConcatExpr&>(expr).parts) {
          FM_ASSIGN_OR_RETURN(const Value value, Eval(*part, scope));
          FM_RETURN_IF_ERROR(Charge(expr, value));
          const Status status = AppendStr(value, &text);
          if (!status.ok()) return Locate(expr, status);
        }
        return At(expr, MakeString(std::move(text), &arena_));
      }
      case ExprKind::kCondition: {
        const auto& node = static_cast<const ConditionExpr&>(expr);
        FM_ASSIGN_OR_RETURN(const Value test, Eval(*node.test, scope));
        if (Truthy(test)) return Eval(*node.if_true, scope);
        if (node.if_false == nullptr) return Value::Undefined(&expr);
        return Eval(*node.if_false, scope);
      }
      case ExprKind::kSlice:
        break;  // only ever the key of a Getitem
    }
    return Status::Internal("unexpected expression");
  }

  Result<Value> EvalDict(const DictExpr& node, Scope* scope) {
    std::vector<DictEntry> entries;
    entries.reserve(node.items.size());
    for (const auto& [key_expr, value_expr] : node.items) {
      FM_ASSIGN_OR_RETURN(const Value key, Eval(*key_expr, scope));
      FM_ASSIGN_OR_RETURN(const Value value, Eval(*value_expr, scope));
      if (!IsHashable(key)) return Fail(*key_expr, "unhashable type: '" + std::string(TypeName(key)) + "'");
      // A repeated key keeps its first position and takes the last value.
      auto same = std::find_if(entries.begin(), entries.end(), [&](const DictEntry& e) { return Equals(e.key, key); });
      if (same != entries.end()) {
        same->value = value;
      } else {
        entries.push_back({key, value});
      }
    }
    DictEntry* copy = arena_.NewArray<DictEntry>(entries.size());
    std::copy(entries.begin(), entries.end(), copy);
    return Value::Dict({copy, entries.size()});
  }

  // What Python accepts as a dict key: scalars and tuples of them.
  static bool IsHashable(const Value& v) {
    if (v.is_string() || v.is_number() || v.is(ValueKind::kNone)) return true;
    if (!v.is(ValueKind::kTuple)) return false;
    return std::all_of(v.items().begin(), v.items().end(), IsHashable);
  }

  Result<Value> EvalGetitem(const GetitemExpr& node, Scope* scope) {
    FM_ASSIGN_OR_RETURN(const Value object, Eval(*node.object, scope));
    // Lists index in constant time; strings (by code point) and dicts scan.
    if (!object.is_sequence()) FM_RETURN_IF_ERROR(Charge(node, object));
    if (node.key->kind != ExprKind::kSlice) {
      FM_ASSIGN_OR_RETURN(const Value key, Eval(*node.key, scope));
      return At(node, GetItem(object, key, &node, &arena_));
    }
    const auto& slice = static_cast<const SliceExpr&>(*node.key);
    Value bounds[3];
    const Expr* parts[3] = {slice.start, slice.stop, slice.step};
    for (int i = 0; i < 3; ++i) {
      if (parts[i] != nullptr) {
        FM_ASSIGN_OR_RETURN(bounds[i], Eval(*parts[i], scope));
      }
    }
    return At(node, GetSlice(object, bounds[0], bounds[1], bounds[2], &arena_));
  }

  Result<Arguments> EvalArguments(const CallArguments& args, Scope* scope) {
    Value* positional = arena_.NewArray<Value>(args.positional.size());
    for (size_t i = 0; i < args.positional.size(); ++i) {
      FM_ASSIGN_OR_RETURN(positional[i], Eval(*args.positional[i], scope));
    }
    KeywordArgument* keyword = arena_.NewArray<KeywordArgument>(args.keyword.size());
    for (size_t i = 0; i < args.keyword.size(); ++i) {
      keyword[i].name = args.keyword[i].first;
      FM_ASSIGN_OR_RETURN(keyword[i].value, Eval(*args.keyword[i].second, scope));
    }
    return Arguments{{positional, args.positional.size()}, {keyword, args.keyword.size()}};
  }

  Result<Value> EvalCall(const CallExpr& node, Scope* scope) {
    FM_ASSIGN_OR_RETURN(const Value callee, Eval(*node.callee, scope));
    FM_ASSIGN_OR_RETURN(const Arguments args, EvalArguments(node.args, scope));
    FM_RETURN_IF_ERROR(Charge(node, args));
    if (callee.is(ValueKind::kMethod)) FM_RETURN_IF_ERROR(Charge(node, callee.method()->receiver));
    switch (callee.kind()) {
      case ValueKind::kMacro:
        return CallMacro(*callee.macro(), args, node);
      case ValueKind::kMethod:
        return At(node, CallMethod(*callee.method(), args, &env_));
      case ValueKind::kFunction:
        if (callee.function() == FunctionId::kRaiseException) {
          std::string message;
          if (!args.positional.empty()) {
            const Status status = AppendStr(args.positional.front(), &message);
            if (!status.ok()) return Locate(node, status);
          }
          return Status::InvalidArgument(program_.name + ": template raised: " + message);
        }
        return At(node, CallFunction(callee.function(), args, &env_));
      case ValueKind::kUndefined:
        return Fail(node, UndefinedMessage(callee));
      default:
        return Fail(node, "'" + std::string(TypeName(callee)) + "' object is not callable");
    }
  }

  // jinja2's macro call: positional then keyword arguments bind to the
  // parameters; defaults are evaluated in the call's scope, so they see the
  // parameters before them; missing ones are undefined.
  Result<Value> CallMacro(const MacroValue& macro_value, const Arguments& args, const Node& at) {
    const MacroStmt& macro = *macro_value.macro;
    FM_RETURN_IF_ERROR(Step(at));
    if (call_depth_ >= limits_.max_call_depth) {
      return Fail(at, "macro calls nested deeper than " + std::to_string(limits_.max_call_depth) +
                          " (runaway recursion?)");
    }
    Scope* scope = NewScope(macro_value.closure);
    const std::string name = "macro '" + std::string(macro.name) + "'";
    const size_t bound_positionally = std::min(args.positional.size(), macro.parameters.size());
    if (args.positional.size() > macro.parameters.size()) {
      if (!macro.varargs) {
        return Fail(at, name + " takes not more than " + std::to_string(macro.parameters.size()) + " argument(s)");
      }
    }
    std::vector<std::optional<Value>> values(macro.parameters.size());
    for (size_t i = 0; i < bound_positionally; ++i) values[i] = args.positional[i];
    std::vector<DictEntry> extra_keywords;
    for (const KeywordArgument& kw : args.keyword) {
      const auto param = std::find_if(macro.parameters.begin(), macro.parameters.end(),
                                      [&](const MacroParameter& p) { return p.name == kw.name; });
      if (param == macro.parameters.end()) {
        if (!macro.kwargs) return Fail(at, name + " takes no keyword argument '" + std::string(kw.name) + "'");
        extra_keywords.push_back({Value::String(kw.name), kw.value});
        continue;
      }
      std::optional<Value>& slot = values[static_cast<size_t>(param - macro.parameters.begin())];
      if (slot) return Fail(at, name + " got multiple values for argument '" + std::string(kw.name) + "'");
      slot = kw.value;
    }
    if (macro.varargs) {
      const auto extra = args.positional.subspan(bound_positionally);
      scope->Set(*macro.varargs, MakeList(extra, &arena_, ValueKind::kTuple), &arena_);
    }
    if (macro.kwargs) {
      DictEntry* entries = arena_.NewArray<DictEntry>(extra_keywords.size());
      std::copy(extra_keywords.begin(), extra_keywords.end(), entries);
      scope->Set(*macro.kwargs, Value::Dict({entries, extra_keywords.size()}), &arena_);
    }
    for (size_t i = 0; i < macro.parameters.size(); ++i) {
      const MacroParameter& param = macro.parameters[i];
      Value value = values[i].value_or(Value::Undefined(nullptr));
      if (!values[i] && param.default_value != nullptr) {
        FM_ASSIGN_OR_RETURN(value, Eval(*param.default_value, scope));
      }
      scope->Set(param.symbol, value, &arena_);
    }
    ++call_depth_;
    Result<Value> rendered = Capture(macro.body, scope);
    --call_depth_;
    return rendered;
  }

  // `block`: the rendered block, for the first filter of a filter or set
  // block (whose operand is nullptr).
  Result<Value> EvalFilter(const FilterExpr& node, Scope* scope, const Value* block) {
    Value operand;
    if (node.operand == nullptr) {
      operand = *block;
    } else if (block != nullptr) {
      FM_ASSIGN_OR_RETURN(operand, EvalFilter(static_cast<const FilterExpr&>(*node.operand), scope, block));
    } else {
      FM_ASSIGN_OR_RETURN(operand, Eval(*node.operand, scope));
    }
    if (!node.filter) return Locate(node, UnknownFilter(node.name));
    FM_ASSIGN_OR_RETURN(const Arguments args, EvalArguments(node.args, scope));
    FM_RETURN_IF_ERROR(Charge(node, operand));
    FM_RETURN_IF_ERROR(Charge(node, args));
    return At(node, ApplyFilter(*node.filter, operand, args, &env_));
  }

  Result<Value> EvalTest(const TestExpr& node, Scope* scope) {
    FM_ASSIGN_OR_RETURN(const Value operand, Eval(*node.operand, scope));
    if (!node.test) return Locate(node, UnknownTest(node.name));
    FM_ASSIGN_OR_RETURN(const Arguments args, EvalArguments(node.args, scope));
    FM_RETURN_IF_ERROR(Charge(node, operand));
    FM_RETURN_IF_ERROR(Charge(node, args));
    FM_ASSIGN_OR_RETURN(const bool passed, At(node, ApplyTest(*node.test, operand, args, &env_)));
    return Value::Bool(passed);
  }

  Result<Value> EvalUnary(const UnaryExpr& node, Scope* scope) {
    FM_ASSIGN_OR_RETURN(const Value operand, Eval(*node.operand, scope));
    if (node.op == UnaryOp::kNot) return Value::Bool(!Truthy(operand));
    if (operand.is_undefined()) return Fail(node, UndefinedMessage(operand));
    if (operand.is(ValueKind::kFloat)) {
      return Value::Float(node.op == UnaryOp::kNegate ? -operand.float_value() : operand.float_value());
    }
    if (operand.is(ValueKind::kInt) || operand.is(ValueKind::kBool)) {
      const int64_t i = operand.as_int();
      if (node.op == UnaryOp::kPlus) return Value::Int(i);
      if (i == std::numeric_limits<int64_t>::min()) return Fail(node, "integer overflow");
      return Value::Int(-i);
    }
    return Fail(node, std::string("bad operand type for unary ") + (node.op == UnaryOp::kNegate ? "-" : "+") +
                          ": '" + std::string(TypeName(operand)) + "'");
  }

  Result<Value> EvalCompare(const CompareExpr& node, Scope* scope) {
    FM_ASSIGN_OR_RETURN(Value left, Eval(*node.first, scope));
    for (const auto& [op, right_expr] : node.rest) {
      FM_ASSIGN_OR_RETURN(const Value right, Eval(*right_expr, scope));
      FM_RETURN_IF_ERROR(Charge(node, left));
      FM_RETURN_IF_ERROR(Charge(node, right));
      bool holds = false;
      switch (op) {
        case CompareOp::kEqual:
          holds = Equals(left, right);
          break;
        case CompareOp::kNotEqual:
          holds = !Equals(left, right);
          break;
        case CompareOp::kIn:
        case CompareOp::kNotIn: {
          FM_ASSIGN_OR_RETURN(const bool contained, At(node, Contains(right, left)));
          holds = contained == (op == CompareOp::kIn);
          break;
        }
        default: {
          FM_ASSIGN_OR_RETURN(const int c, At(node, Compare(left, right)));
          holds = op == CompareOp::kLess           ? c < 0
                  : op == CompareOp::kLessEqual    ? c <= 0
                  : op == CompareOp::kGreater      ? c > 0
                                                   : c >= 0;
        }
      }
      if (!holds) return Value::Bool(false);
      left = right;
    }
    return Value::Bool(true);
  }

  // Python's arithmetic. Integers are 64-bit: overflow is an error where
  // Python would grow the integer.
  Result<Value> Arithmetic(BinaryOp op, const Value& a, const Value& b) {
    if (a.is_undefined() || b.is_undefined()) return Status::InvalidArgument(UndefinedMessage(a.is_undefined() ? a : b));
    static constexpr std::string_view kSymbols[] = {"+", "-", "*", "/", "//", "%", "**"};
    const auto unsupported = [&] {
      return Status::InvalidArgument("unsupported operand type(s) for " + std::string(kSymbols[static_cast<int>(op)]) +
                                     ": '" + std::string(TypeName(a)) + "' and '" + std::string(TypeName(b)) + "'");
    };
    if (a.is_number() && b.is_number()) return NumericArithmetic(op, a, b);
    if (op == BinaryOp::kAdd) {
      if (a.is_string() && b.is_string()) {
        if (a.string().size() + b.string().size() > MaxValueBytes(arena_)) {
          return Status::InvalidArgument("string concatenation exceeds the size limit");
        }
        // Markup + str escapes the plain string (markupsafe), either side.
        const bool markup = a.is_markup() || b.is_markup();
        std::string joined;
        joined.append(markup && !a.is_markup() ? HtmlEscape(a.string()) : std::string(a.string()));
        joined.append(markup && !b.is_markup() ? HtmlEscape(b.string()) : std::string(b.string()));
        const std::string_view text = arena_.Copy(joined);
        return markup ? Value::Markup(text) : Value::String(text);
      }
      if (a.is_sequence() && a.kind() == b.kind()) {
        std::vector<Value> items(a.items().begin(), a.items().end());
        items.insert(items.end(), b.items().begin(), b.items().end());
        return MakeList(items, &arena_, a.kind());
      }
      if (a.is_string()) {
        return Status::InvalidArgument("can only concatenate str (not \"" + std::string(TypeName(b)) + "\") to str");
      }
      return unsupported();
    }
    if (op == BinaryOp::kMultiply) {
      const bool a_count = a.is(ValueKind::kInt) || a.is(ValueKind::kBool);
      const bool b_count = b.is(ValueKind::kInt) || b.is(ValueKind::kBool);
      if ((a.is_string() || a.is_sequence()) && b_count) return Repeat(a, b.as_int());
      if ((b.is_string() || b.is_sequence()) && a_count) return Repeat(b, a.as_int());
    }
    if (op == BinaryOp::kModulo && a.is_string()) {
      return Status::Unsupported("printf-style string formatting ('...' % value) is not supported");
    }
    return unsupported();
  }

  Result<Value> Repeat(const Value& v, int64_t times) {
    const size_t count = times <= 0 ? 0 : static_cast<size_t>(times);
    const size_t unit = v.is_string() ? v.string().size() : v.items().size() * sizeof(Value);
    if (unit != 0 && count > MaxValueBytes(arena_) / unit) {
      return Status::InvalidArgument("repetition result exceeds the size limit");
    }
    if (v.is_string()) {
      // Doubling copies each byte about twice, however short the unit.
      const size_t total = unit * count;
      if (total == 0) return Value::String({});
      std::string out;
      out.reserve(total);
      out.append(v.string());
      while (out.size() * 2 <= total) out.append(out);
      out.append(out, 0, total - out.size());
      return v.is_markup() ? Value::Markup(arena_.Copy(out)) : Value::String(arena_.Copy(out));
    }
    std::vector<Value> items;
    items.reserve(v.items().size() * count);
    for (size_t i = 0; i < count; ++i) items.insert(items.end(), v.items().begin(), v.items().end());
    return MakeList(items, &arena_, v.kind());
  }

  static Result<Value> NumericArithmetic(BinaryOp op, const Value& a, const Value& b) {
    const bool floating = a.is(ValueKind::kFloat) || b.is(ValueKind::kFloat);
    const auto overflow = [] { return Status::InvalidArgument("integer overflow"); };
    if (!floating) {
      const int64_t x = a.as_int();
      const int64_t y = b.as_int();
      int64_t r = 0;
      switch (op) {
        case BinaryOp::kAdd:
          if (__builtin_add_overflow(x, y, &r)) return overflow();
          return Value::Int(r);
        case BinaryOp::kSubtract:
          if (__builtin_sub_overflow(x, y, &r)) return overflow();
          return Value::Int(r);
        case BinaryOp::kMultiply:
          if (__builtin_mul_overflow(x, y, &r)) return overflow();
          return Value::Int(r);
        case BinaryOp::kDivide:
          if (y == 0) return Status::InvalidArgument("division by zero");
          return Value::Float(static_cast<double>(x) / static_cast<double>(y));
        case BinaryOp::kFloorDivide:
        case BinaryOp::kModulo: {
          if (y == 0) return Status::InvalidArgument("integer division or modulo by zero");
          if (x == std::numeric_limits<int64_t>::min() && y == -1) {
            return op == BinaryOp::kModulo ? Result<Value>(Value::Int(0)) : Result<Value>(overflow());
          }
          int64_t quotient = x / y;
          int64_t remainder = x % y;
          if (remainder != 0 && ((remainder < 0) != (y < 0))) {
            --quotient;  // Python floors toward negative infinity
            remainder += y;
          }
          return Value::Int(op == BinaryOp::kFloorDivide ? quotient : remainder);
        }
        case BinaryOp::kPower: {
          if (y < 0) {
            if (x == 0) return Status::InvalidArgument("0.0 cannot be raised to a negative power");
            return Value::Float(std::pow(static_cast<double>(x), static_cast<double>(y)));
          }
          int64_t result = 1;
          int64_t base = x;
          for (int64_t e = y; e > 0; e >>= 1) {
            if ((e & 1) != 0 && __builtin_mul_overflow(result, base, &result)) return overflow();
            if (e > 1 && __builtin_mul_overflow(base, base, &base)) return overflow();
          }
          return Value::Int(result);
        }
      }
    }
    const double x = a.as_double();
    const double y = b.as_double();
    switch (op) {
      case BinaryOp::kAdd:
        return Value::Float(x + y);
      case BinaryOp::kSubtract:
        return Value::Float(x - y);
      case BinaryOp::kMultiply:
        return Value::Float(x * y);
      case BinaryOp::kDivide:
        if (y == 0) return Status::InvalidArgument("float division by zero");
        return Value::Float(x / y);
      case BinaryOp::kFloorDivide:
        if (y == 0) return Status::InvalidArgument("float floor division by zero");
        return Value::Float(std::floor(x / y));
      case BinaryOp::kModulo: {
        if (y == 0) return Status::InvalidArgument("float modulo");
        double r = std::fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return Value::Float(r);
      }
      case BinaryOp::kPower:
        if (x == 0 && y < 0) return Status::InvalidArgument("0.0 cannot be raised to a negative power");
        return Value::Float(std::pow(x, y));
    }
    return Status::Internal("unknown operator");
  }

  static std::string Mebibytes(size_t bytes) {
    return bytes % (size_t{1} << 20) == 0 ? std::to_string(bytes >> 20) + " MiB" : std::to_string(bytes) + " bytes";
  }

  const Program& program_;
  const RenderLimits limits_;
  Arena arena_;
  RenderEnv env_;
  std::vector<Value> globals_;  // the top level's variables, by symbol
  std::string* out_ = nullptr;  // where text goes: the output or a capture
  Flow flow_ = Flow::kNormal;
  int call_depth_ = 0;
};

}  // namespace

RenderLimits RenderLimits::ForInput(size_t input_bytes) {
  const RenderLimits most;
  // Saturates instead of wrapping for absurd sizes.
  auto scaled = [input_bytes](uint64_t base, uint64_t per_byte, uint64_t cap) -> uint64_t {
    if (input_bytes > (cap - base) / per_byte) return cap;
    return base + per_byte * input_bytes;
  };
  RenderLimits limits;
  limits.max_output_bytes = scaled(size_t{1} << 20, 64, most.max_output_bytes);
  limits.max_memory_bytes = scaled(size_t{32} << 20, 256, most.max_memory_bytes);
  limits.max_steps = scaled(100'000, 1'000, most.max_steps);
  return limits;
}

Result<std::string> RenderProgram(const Program& program, const nlohmann::ordered_json& context, const std::tm& now,
                                  const RenderLimits& limits) {
  return Renderer(program, now, limits).Render(context);
}

}  // namespace flopsmeter::jinja
