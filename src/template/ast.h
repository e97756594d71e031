// The parsed form of a chat template: statements and expressions as jinja2
// parses them. Built once by ParseTemplate() and never changed afterwards,
// so one Program may be rendered from many threads at once.
//
// Every node keeps the source text it was parsed from (`text`, a view into
// Program::source), which locates runtime errors and names undefined values.
// Names of filters, tests, methods and global functions are resolved to ids
// here, so rendering never looks a name up by string.
#ifndef FLOPSMETER_TEMPLATE_AST_H_
#define FLOPSMETER_TEMPLATE_AST_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "template/builtins.h"
#include "template/filters.h"
#include "template/value.h"

namespace flopsmeter::jinja {

// Variable names are interned per template: a SymbolId indexes
// Program::symbol_names.
using SymbolId = uint32_t;

// Base of every node, for ownership by Program only.
struct Node {
  explicit Node(std::string_view source_text) : text(source_text) {}
  virtual ~Node() = default;
  std::string_view text;
};

enum class ExprKind : uint8_t {
  kLiteral,
  kName,
  kList,
  kTuple,
  kDict,
  kGetattr,  // a.b
  kGetitem,  // a[b], a.0
  kSlice,    // only as the key of a Getitem: a[1:-1:2]
  kCall,
  kFilter,
  kTest,
  kUnary,
  kBinary,
  kAnd,
  kOr,
  kCompare,
  kConcat,  // a ~ b ~ c
  kCondition,  // a if b else c
};

struct Expr : Node {
  Expr(ExprKind k, std::string_view source_text) : Node(source_text), kind(k) {}
  ExprKind kind;
  // Height of this expression tree; the parser bounds it so that evaluating
  // never recurses without limit (a + b + ... nests to the left).
  int depth = 1;
};

struct LiteralExpr : Expr {
  LiteralExpr(std::string_view source_text, Value v) : Expr(ExprKind::kLiteral, source_text), value(v) {}
  // Literal strings point into `storage` (or the source) for the template's life.
  std::string storage;
  Value value;
};

struct NameExpr : Expr {
  NameExpr(std::string_view source_text, SymbolId s) : Expr(ExprKind::kName, source_text), symbol(s) {}
  SymbolId symbol;
  std::optional<FunctionId> function;  // the global function of that name, if any
};

// List and tuple displays.
struct SequenceExpr : Expr {
  using Expr::Expr;
  std::vector<const Expr*> items;
};

struct DictExpr : Expr {
  explicit DictExpr(std::string_view source_text) : Expr(ExprKind::kDict, source_text) {}
  std::vector<std::pair<const Expr*, const Expr*>> items;
};

struct GetattrExpr : Expr {
  GetattrExpr(std::string_view source_text, const Expr* obj, std::string_view name)
      : Expr(ExprKind::kGetattr, source_text), object(obj), attribute(name), method(FindMethod(name)) {}
  const Expr* object;
  std::string_view attribute;
  std::optional<MethodId> method;  // the method of that name, if any type has one
};

struct GetitemExpr : Expr {
  GetitemExpr(std::string_view source_text, const Expr* obj, const Expr* k)
      : Expr(ExprKind::kGetitem, source_text), object(obj), key(k) {}
  const Expr* object;
  const Expr* key;  // may be a SliceExpr
};

struct SliceExpr : Expr {
  explicit SliceExpr(std::string_view source_text) : Expr(ExprKind::kSlice, source_text) {}
  const Expr* start = nullptr;  // each optional
  const Expr* stop = nullptr;
  const Expr* step = nullptr;
};

struct CallArguments {
  std::vector<const Expr*> positional;
  std::vector<std::pair<std::string_view, const Expr*>> keyword;
};

struct CallExpr : Expr {
  CallExpr(std::string_view source_text, const Expr* c) : Expr(ExprKind::kCall, source_text), callee(c) {}
  const Expr* callee;
  CallArguments args;
};

struct FilterExpr : Expr {
  FilterExpr(std::string_view source_text, const Expr* operand_expr, std::string_view filter_name)
      : Expr(ExprKind::kFilter, source_text), operand(operand_expr), name(filter_name), filter(FindFilter(filter_name)) {}
  // nullptr for the first filter of a {% filter %} or {% set x | f %} block:
  // the rendered block is its operand.
  const Expr* operand;
  std::string_view name;
  std::optional<FilterId> filter;  // absent: unknown, an error when applied
  CallArguments args;
};

struct TestExpr : Expr {
  TestExpr(std::string_view source_text, const Expr* operand_expr, std::string_view test_name)
      : Expr(ExprKind::kTest, source_text), operand(operand_expr), name(test_name), test(FindTest(test_name)) {}
  const Expr* operand;
  std::string_view name;
  std::optional<TestId> test;
  CallArguments args;
};

enum class UnaryOp : uint8_t { kNot, kNegate, kPlus };

struct UnaryExpr : Expr {
  UnaryExpr(std::string_view source_text, UnaryOp o, const Expr* operand_expr)
      : Expr(ExprKind::kUnary, source_text), op(o), operand(operand_expr) {}
  UnaryOp op;
  const Expr* operand;
};

enum class BinaryOp : uint8_t { kAdd, kSubtract, kMultiply, kDivide, kFloorDivide, kModulo, kPower };

// Arithmetic, and (kind kAnd / kOr, op unused) the short-circuit operators.
struct BinaryExpr : Expr {
  BinaryExpr(ExprKind k, std::string_view source_text, BinaryOp o, const Expr* l, const Expr* r)
      : Expr(k, source_text), op(o), left(l), right(r) {}
  BinaryOp op;
  const Expr* left;
  const Expr* right;
};

enum class CompareOp : uint8_t { kEqual, kNotEqual, kLess, kLessEqual, kGreater, kGreaterEqual, kIn, kNotIn };

// a < b <= c: chained as in Python.
struct CompareExpr : Expr {
  CompareExpr(std::string_view source_text, const Expr* first_operand)
      : Expr(ExprKind::kCompare, source_text), first(first_operand) {}
  const Expr* first;
  std::vector<std::pair<CompareOp, const Expr*>> rest;
};

struct ConcatExpr : Expr {
  explicit ConcatExpr(std::string_view source_text) : Expr(ExprKind::kConcat, source_text) {}
  std::vector<const Expr*> parts;
};

struct ConditionExpr : Expr {
  ConditionExpr(std::string_view source_text, const Expr* t, const Expr* yes, const Expr* no)
      : Expr(ExprKind::kCondition, source_text), test(t), if_true(yes), if_false(no) {}
  const Expr* test;
  const Expr* if_true;
  const Expr* if_false;  // nullptr: undefined when the test fails
};

// What `set` and `for` assign to: a name, ns.attr, or a tuple of targets.
struct Target {
  enum class Kind : uint8_t { kName, kNamespaceAttribute, kTuple };
  Kind kind = Kind::kName;
  SymbolId symbol = 0;          // kName; kNamespaceAttribute: the namespace
  std::string_view attribute;   // kNamespaceAttribute
  std::vector<Target> items;    // kTuple
  std::string_view text;
};

enum class StmtKind : uint8_t {
  kText,
  kOutput,
  kIf,
  kFor,
  kSet,
  kSetBlock,
  kMacro,
  kFilterBlock,
  kBreak,
  kContinue,
};

struct Stmt : Node {
  Stmt(StmtKind k, std::string_view source_text) : Node(source_text), kind(k) {}
  StmtKind kind;
};

using Body = std::vector<const Stmt*>;

// Template data between tags, after whitespace control.
struct TextStmt : Stmt {
  TextStmt(std::string_view source_text, std::string_view data) : Stmt(StmtKind::kText, source_text), text_data(data) {}
  std::string_view text_data;
};

struct OutputStmt : Stmt {
  OutputStmt(std::string_view source_text, const Expr* e) : Stmt(StmtKind::kOutput, source_text), expr(e) {}
  const Expr* expr;
};

struct IfStmt : Stmt {
  explicit IfStmt(std::string_view source_text) : Stmt(StmtKind::kIf, source_text) {}
  std::vector<std::pair<const Expr*, Body>> branches;  // if, elif, ...
  Body otherwise;
};

struct ForStmt : Stmt {
  explicit ForStmt(std::string_view source_text) : Stmt(StmtKind::kFor, source_text) {}
  Target target;
  const Expr* iterable = nullptr;
  const Expr* condition = nullptr;  // `for x in xs if cond`
  Body body;
  Body otherwise;  // {% else %}: when nothing was iterated
};

struct SetStmt : Stmt {
  explicit SetStmt(std::string_view source_text) : Stmt(StmtKind::kSet, source_text) {}
  Target target;
  const Expr* value = nullptr;
};

// {% set x | filter %}...{% endset %}
struct SetBlockStmt : Stmt {
  explicit SetBlockStmt(std::string_view source_text) : Stmt(StmtKind::kSetBlock, source_text) {}
  Target target;
  const FilterExpr* filter = nullptr;  // optional
  Body body;
};

struct MacroParameter {
  SymbolId symbol;
  std::string_view name;
  const Expr* default_value;  // nullptr: undefined when not passed
};

struct MacroStmt : Stmt {
  explicit MacroStmt(std::string_view source_text) : Stmt(StmtKind::kMacro, source_text) {}
  SymbolId symbol = 0;
  std::string_view name;
  std::vector<MacroParameter> parameters;
  Body body;
  // Whether the body reads `varargs` / `kwargs`; only then does a call
  // accept extra positional / keyword arguments (jinja2's rule).
  std::optional<SymbolId> varargs;
  std::optional<SymbolId> kwargs;
};

struct FilterBlockStmt : Stmt {
  explicit FilterBlockStmt(std::string_view source_text) : Stmt(StmtKind::kFilterBlock, source_text) {}
  const FilterExpr* filter = nullptr;
  Body body;
};

// The whole template.
struct Program {
  std::string name;    // for error messages
  std::string source;  // newlines normalized to \n; node texts point here
  std::vector<size_t> line_starts;
  std::vector<std::string> symbol_names;
  std::unordered_map<std::string, SymbolId> symbols;
  std::optional<SymbolId> loop_symbol;  // `loop`, when the template uses it
  std::vector<std::unique_ptr<Node>> nodes;
  Body body;

  // "NAME:LINE:COL" for a position inside `source`.
  std::string Where(std::string_view at) const;
};

}  // namespace flopsmeter::jinja

#endif  // FLOPSMETER_TEMPLATE_AST_H_
