#include "template/parser.h"

#include <algorithm>
#include <initializer_list>
#include <utility>
#include <vector>

#include "template/lexer.h"

namespace flopsmeter::jinja {
namespace {

// Tags jinja2 has that this subset does not run.
constexpr std::string_view kUnsupportedTags[] = {"autoescape", "block", "call", "do",    "extends",
                                                 "from",       "import", "include", "print", "with"};

class Parser {
 public:
  Parser(Program* program, std::vector<Token> tokens) : program_(program), tokens_(std::move(tokens)) {}

  Status Run() {
    FM_ASSIGN_OR_RETURN(program_->body, Subparse({}));
    return Status::Ok();
  }

 private:
  // --- tokens -------------------------------------------------------------

  const Token& Current() const { return tokens_[index_]; }
  const Token& Look() const { return tokens_[std::min(index_ + 1, tokens_.size() - 1)]; }
  void Advance() {
    if (index_ + 1 < tokens_.size()) ++index_;
  }
  bool IsName(std::string_view name) const { return Current().kind == TokenKind::kName && Current().text == name; }
  bool IsOp(Operator op) const { return Current().kind == TokenKind::kOperator && Current().op == op; }
  bool SkipName(std::string_view name) {
    if (!IsName(name)) return false;
    Advance();
    return true;
  }
  bool SkipOp(Operator op) {
    if (!IsOp(op)) return false;
    Advance();
    return true;
  }

  static std::string Describe(const Token& token) {
    switch (token.kind) {
      case TokenKind::kEnd:
        return "end of template";
      case TokenKind::kData:
        return "template data";
      case TokenKind::kBlockEnd:
        return "end of statement block";
      case TokenKind::kVariableEnd:
        return "end of print statement";
      default:
        return "'" + std::string(token.text) + "'";
    }
  }

  Status ErrorAt(const Token& token, const std::string& message) const {
    return Status::ParseError(program_->Where(token.text) + ": " + message);
  }
  Status Unexpected(const std::string& expected) const {
    return ErrorAt(Current(), "unexpected " + Describe(Current()) + ", expected " + expected);
  }

  Status ExpectOp(Operator op, std::string_view text) {
    if (!SkipOp(op)) return Unexpected("'" + std::string(text) + "'");
    return Status::Ok();
  }
  Status ExpectKind(TokenKind kind, std::string_view what) {
    if (Current().kind != kind) return Unexpected(std::string(what));
    Advance();
    return Status::Ok();
  }
  Result<std::string_view> ExpectName() {
    if (Current().kind != TokenKind::kName) return Unexpected("a name");
    const std::string_view name = Current().text;
    Advance();
    return name;
  }

  // The source text from token `first` to the last token consumed.
  std::string_view SpanFrom(size_t first) const {
    const std::string_view begin = tokens_[first].text;
    const std::string_view last = tokens_[std::max(first, index_ - 1)].text;
    return {begin.data(), static_cast<size_t>(last.data() + last.size() - begin.data())};
  }

  // --- nodes --------------------------------------------------------------

  template <typename T, typename... Args>
  T* Make(Args&&... args) {
    auto node = std::make_unique<T>(std::forward<Args>(args)...);
    T* raw = node.get();
    program_->nodes.push_back(std::move(node));
    return raw;
  }

  // Records the height of `expr` from its children; too deep is an error.
  Result<const Expr*> Sized(Expr* expr, std::initializer_list<const Expr*> children) {
    for (const Expr* child : children) {
      if (child != nullptr) expr->depth = std::max(expr->depth, child->depth + 1);
    }
    return Checked(expr);
  }
  Result<const Expr*> Checked(Expr* expr) {
    if (expr->depth > 2 * kMaxNestingDepth) {
      return Status::ParseError(program_->Where(expr->text) + ": expression nested too deeply");
    }
    return static_cast<const Expr*>(expr);
  }
  void Grow(Expr* expr, const Expr* child) { expr->depth = std::max(expr->depth, child->depth + 1); }
  void Grow(Expr* expr, const CallArguments& args) {
    for (const Expr* e : args.positional) Grow(expr, e);
    for (const auto& [name, e] : args.keyword) Grow(expr, e);
  }

  SymbolId Intern(std::string_view name) {
    const auto [it, inserted] = program_->symbols.try_emplace(std::string(name), program_->symbol_names.size());
    if (inserted) {
      program_->symbol_names.emplace_back(name);
      if (name == "loop") program_->loop_symbol = it->second;
    }
    return it->second;
  }

  // Guards recursion: every nested expression or block passes through here.
  class Nesting {
   public:
    explicit Nesting(Parser* parser) : parser_(parser) { ++parser_->nesting_; }
    ~Nesting() { --parser_->nesting_; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;
    Status Check() const {
      if (parser_->nesting_ <= kMaxNestingDepth) return Status::Ok();
      return parser_->ErrorAt(parser_->Current(), "template nested too deeply");
    }

   private:
    Parser* parser_;
  };

  // --- statements ---------------------------------------------------------

  // Statements up to a {% NAME %} with NAME in `end_names` (left current),
  // or the end of the template when `end_names` is empty.
  Result<Body> Subparse(std::vector<std::string_view> end_names) {
    Nesting nesting(this);
    FM_RETURN_IF_ERROR(nesting.Check());
    Body body;
    while (true) {
      const Token& token = Current();
      switch (token.kind) {
        case TokenKind::kData:
          body.push_back(Make<TextStmt>(token.text, token.text));
          Advance();
          break;
        case TokenKind::kVariableBegin: {
          Advance();
          const size_t first = index_;
          FM_ASSIGN_OR_RETURN(const Expr* expr, ParseTuple(true, {}, false));
          FM_RETURN_IF_ERROR(ExpectKind(TokenKind::kVariableEnd, "'}}'"));
          body.push_back(Make<OutputStmt>(SpanFrom(first), expr));
          break;
        }
        case TokenKind::kBlockBegin: {
          Advance();
          if (Current().kind == TokenKind::kName &&
              std::find(end_names.begin(), end_names.end(), Current().text) != end_names.end()) {
            return body;
          }
          FM_RETURN_IF_ERROR(ParseStatement(&body));
          FM_RETURN_IF_ERROR(ExpectKind(TokenKind::kBlockEnd, "'%}'"));
          break;
        }
        case TokenKind::kEnd:
          if (end_names.empty()) return body;
          return UnclosedBlock(end_names);
        default:
          return ErrorAt(token, "unexpected " + Describe(token));
      }
    }
  }

  Status UnclosedBlock(const std::vector<std::string_view>& end_names) const {
    std::string expected;
    for (size_t i = 0; i < end_names.size(); ++i) {
      if (i > 0) expected += i + 1 == end_names.size() ? " or " : ", ";
      expected += "'" + std::string(end_names[i]) + "'";
    }
    const Token& open = *open_tags_.back();
    return ErrorAt(Current(), "unexpected end of template: '" + std::string(open.text) + "' opened at " +
                                  program_->Where(open.text) + " needs " + expected);
  }

  // After the tag's own arguments: %} and the body up to one of `end_names`.
  Result<Body> ParseBody(std::vector<std::string_view> end_names) {
    SkipOp(Operator::kColon);  // jinja2 allows a Python-style colon
    FM_RETURN_IF_ERROR(ExpectKind(TokenKind::kBlockEnd, "'%}'"));
    return Subparse(std::move(end_names));
  }

  Status ParseStatement(Body* body) {
    const Token& tag = Current();
    if (tag.kind != TokenKind::kName) return ErrorAt(tag, "tag name expected");
    const std::string_view name = tag.text;
    open_tags_.push_back(&tag);
    Status status;
    if (name == "if") {
      status = ParseIf(body);
    } else if (name == "for") {
      status = ParseFor(body);
    } else if (name == "set") {
      status = ParseSet(body);
    } else if (name == "macro") {
      status = ParseMacro(body);
    } else if (name == "filter") {
      status = ParseFilterBlock(body);
    } else if (name == "generation") {
      status = ParseGeneration(body);
    } else if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) {
        status = ErrorAt(tag, "'" + std::string(name) + "' outside of a for loop");
      } else {
        Advance();
        body->push_back(name == "break" ? Make<Stmt>(StmtKind::kBreak, tag.text)
                                        : Make<Stmt>(StmtKind::kContinue, tag.text));
      }
    } else if (std::find(std::begin(kUnsupportedTags), std::end(kUnsupportedTags), name) !=
               std::end(kUnsupportedTags)) {
      status = Status::Unsupported(program_->Where(tag.text) + ": the '" + std::string(name) +
                                   "' tag is not supported in chat templates");
    } else {
      status = ErrorAt(tag, "unknown tag '" + std::string(name) + "'");
    }
    open_tags_.pop_back();
    return status;
  }

  Status ParseIf(Body* body) {
    auto* stmt = Make<IfStmt>(Current().text);
    Advance();
    while (true) {
      FM_ASSIGN_OR_RETURN(const Expr* test, ParseTuple(false, {}, false));
      FM_ASSIGN_OR_RETURN(Body branch, ParseBody({"elif", "else", "endif"}));
      stmt->branches.emplace_back(test, std::move(branch));
      if (SkipName("elif")) continue;
      if (SkipName("else")) {
        FM_ASSIGN_OR_RETURN(stmt->otherwise, ParseBody({"endif"}));
      }
      Advance();  // endif
      break;
    }
    body->push_back(stmt);
    return Status::Ok();
  }

  Status ParseFor(Body* body) {
    auto* stmt = Make<ForStmt>(Current().text);
    Advance();
    FM_ASSIGN_OR_RETURN(stmt->target, ParseAssignTarget(false, {"in"}));
    if (!SkipName("in")) return Unexpected("'in'");
    FM_ASSIGN_OR_RETURN(stmt->iterable, ParseTuple(false, {"recursive"}, false));
    if (SkipName("if")) {
      FM_ASSIGN_OR_RETURN(stmt->condition, ParseExpression(true));
    }
    if (IsName("recursive")) {
      return Status::Unsupported(program_->Where(Current().text) + ": recursive loops are not supported");
    }
    ++loop_depth_;
    auto loop_body = ParseBody({"endfor", "else"});
    --loop_depth_;
    if (!loop_body.ok()) return loop_body.status();
    stmt->body = std::move(loop_body).value();
    if (SkipName("else")) {
      FM_ASSIGN_OR_RETURN(stmt->otherwise, ParseBody({"endfor"}));
    }
    Advance();  // endfor
    body->push_back(stmt);
    return Status::Ok();
  }

  Status ParseSet(Body* body) {
    const std::string_view tag_text = Current().text;
    Advance();
    FM_ASSIGN_OR_RETURN(Target target, ParseAssignTarget(true, {}));
    if (SkipOp(Operator::kAssign)) {
      auto* stmt = Make<SetStmt>(tag_text);
      stmt->target = std::move(target);
      FM_ASSIGN_OR_RETURN(stmt->value, ParseTuple(true, {}, false));
      body->push_back(stmt);
      return Status::Ok();
    }
    auto* stmt = Make<SetBlockStmt>(tag_text);
    stmt->target = std::move(target);
    if (IsOp(Operator::kPipe)) {
      FM_ASSIGN_OR_RETURN(const Expr* filter, ParseFilter(nullptr, false));
      stmt->filter = static_cast<const FilterExpr*>(filter);
    }
    FM_ASSIGN_OR_RETURN(stmt->body, ParseBody({"endset"}));
    Advance();  // endset
    body->push_back(stmt);
    return Status::Ok();
  }

  Status ParseMacro(Body* body) {
    auto* stmt = Make<MacroStmt>(Current().text);
    Advance();
    FM_ASSIGN_OR_RETURN(stmt->name, ExpectName());
    stmt->symbol = Intern(stmt->name);
    FM_RETURN_IF_ERROR(ExpectOp(Operator::kLeftParen, "("));
    while (!IsOp(Operator::kRightParen)) {
      if (!stmt->parameters.empty()) FM_RETURN_IF_ERROR(ExpectOp(Operator::kComma, ","));
      if (IsOp(Operator::kRightParen)) break;
      const Token& param = Current();
      FM_ASSIGN_OR_RETURN(std::string_view param_name, ExpectName());
      const Expr* default_value = nullptr;
      if (SkipOp(Operator::kAssign)) {
        FM_ASSIGN_OR_RETURN(default_value, ParseExpression(true));
      } else if (!stmt->parameters.empty() && stmt->parameters.back().default_value != nullptr) {
        return ErrorAt(param, "non-default argument follows default argument");
      }
      stmt->parameters.push_back({Intern(param_name), param_name, default_value});
    }
    Advance();  // )
    // A macro body is a function of its own: no loop to break out of.
    const int outer_loops = std::exchange(loop_depth_, 0);
    macros_.push_back(stmt);
    auto macro_body = ParseBody({"endmacro"});
    macros_.pop_back();
    loop_depth_ = outer_loops;
    if (!macro_body.ok()) return macro_body.status();
    stmt->body = std::move(macro_body).value();
    Advance();  // endmacro
    body->push_back(stmt);
    return Status::Ok();
  }

  Status ParseFilterBlock(Body* body) {
    auto* stmt = Make<FilterBlockStmt>(Current().text);
    Advance();
    FM_ASSIGN_OR_RETURN(const Expr* filter, ParseFilter(nullptr, true));
    stmt->filter = static_cast<const FilterExpr*>(filter);
    FM_ASSIGN_OR_RETURN(stmt->body, ParseBody({"endfilter"}));
    Advance();  // endfilter
    body->push_back(stmt);
    return Status::Ok();
  }

  // transformers' {% generation %} marks assistant text for masks; rendering
  // is unchanged, so its body joins the enclosing one.
  Status ParseGeneration(Body* body) {
    Advance();
    FM_ASSIGN_OR_RETURN(Body inner, ParseBody({"endgeneration"}));
    Advance();  // endgeneration
    body->insert(body->end(), inner.begin(), inner.end());
    return Status::Ok();
  }

  // A name, ns.attr (with_namespace), or a tuple of those, as `set` and
  // `for` assign to.
  Result<Target> ParseAssignTarget(bool with_namespace, std::vector<std::string_view> extra_end) {
    const size_t first = index_;
    std::vector<Target> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) FM_RETURN_IF_ERROR(ExpectOp(Operator::kComma, ","));
      if (IsTupleEnd(extra_end)) break;
      FM_ASSIGN_OR_RETURN(Target item, ParseTargetPrimary(with_namespace));
      items.push_back(std::move(item));
      if (!IsOp(Operator::kComma)) break;
      is_tuple = true;
    }
    if (items.empty()) return Unexpected("a name to assign to");
    if (!is_tuple) return std::move(items.front());
    Target target;
    target.kind = Target::Kind::kTuple;
    target.items = std::move(items);
    target.text = SpanFrom(first);
    return target;
  }

  Result<Target> ParseTargetPrimary(bool with_namespace) {
    Nesting nesting(this);
    FM_RETURN_IF_ERROR(nesting.Check());
    const size_t first = index_;
    if (SkipOp(Operator::kLeftParen)) {
      FM_ASSIGN_OR_RETURN(Target target, ParseAssignTarget(with_namespace, {}));
      FM_RETURN_IF_ERROR(ExpectOp(Operator::kRightParen, ")"));
      return target;
    }
    const Token& token = Current();
    FM_ASSIGN_OR_RETURN(std::string_view name, ExpectName());
    if (name == "true" || name == "false" || name == "none" || name == "True" || name == "False" || name == "None") {
      return ErrorAt(token, "cannot assign to '" + std::string(name) + "'");
    }
    Target target;
    target.symbol = Intern(name);
    if (with_namespace && SkipOp(Operator::kDot)) {
      target.kind = Target::Kind::kNamespaceAttribute;
      FM_ASSIGN_OR_RETURN(target.attribute, ExpectName());
    }
    target.text = SpanFrom(first);
    return target;
  }

  // --- expressions --------------------------------------------------------

  bool IsTupleEnd(const std::vector<std::string_view>& extra_end) const {
    const Token& token = Current();
    if (token.kind == TokenKind::kVariableEnd || token.kind == TokenKind::kBlockEnd ||
        (token.kind == TokenKind::kOperator && token.op == Operator::kRightParen)) {
      return true;
    }
    return token.kind == TokenKind::kName && std::find(extra_end.begin(), extra_end.end(), token.text) != extra_end.end();
  }

  // Expressions separated by commas: one alone is itself, more a tuple.
  Result<const Expr*> ParseTuple(bool with_condition, std::vector<std::string_view> extra_end,
                                 bool explicit_parentheses) {
    const size_t first = index_;
    std::vector<const Expr*> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) FM_RETURN_IF_ERROR(ExpectOp(Operator::kComma, ","));
      if (IsTupleEnd(extra_end)) break;
      FM_ASSIGN_OR_RETURN(const Expr* item, ParseExpression(with_condition));
      items.push_back(item);
      if (!IsOp(Operator::kComma)) break;
      is_tuple = true;
    }
    if (!is_tuple) {
      if (!items.empty()) return items.front();
      if (!explicit_parentheses) return Unexpected("an expression");
    }
    auto* tuple = Make<SequenceExpr>(ExprKind::kTuple, SpanFrom(first));
    for (const Expr* item : items) Grow(tuple, item);
    tuple->items = std::move(items);
    return Checked(tuple);
  }

  Result<const Expr*> ParseExpression(bool with_condition) {
    return with_condition ? ParseCondition() : ParseOr();
  }

  Result<const Expr*> ParseCondition() {
    Nesting nesting(this);
    FM_RETURN_IF_ERROR(nesting.Check());
    const size_t first = index_;
    FM_ASSIGN_OR_RETURN(const Expr* expr, ParseOr());
    while (SkipName("if")) {
      FM_ASSIGN_OR_RETURN(const Expr* test, ParseOr());
      const Expr* otherwise = nullptr;
      if (SkipName("else")) {
        FM_ASSIGN_OR_RETURN(otherwise, ParseCondition());
      }
      FM_ASSIGN_OR_RETURN(expr, Sized(Make<ConditionExpr>(SpanFrom(first), test, expr, otherwise),
                                      {test, expr, otherwise}));
    }
    return expr;
  }

  Result<const Expr*> ParseOr() {
    const size_t first = index_;
    FM_ASSIGN_OR_RETURN(const Expr* left, ParseAnd());
    while (SkipName("or")) {
      FM_ASSIGN_OR_RETURN(const Expr* right, ParseAnd());
      FM_ASSIGN_OR_RETURN(left, Sized(Make<BinaryExpr>(ExprKind::kOr, SpanFrom(first), BinaryOp::kAdd, left, right),
                                      {left, right}));
    }
    return left;
  }

  Result<const Expr*> ParseAnd() {
    const size_t first = index_;
    FM_ASSIGN_OR_RETURN(const Expr* left, ParseNot());
    while (SkipName("and")) {
      FM_ASSIGN_OR_RETURN(const Expr* right, ParseNot());
      FM_ASSIGN_OR_RETURN(left, Sized(Make<BinaryExpr>(ExprKind::kAnd, SpanFrom(first), BinaryOp::kAdd, left, right),
                                      {left, right}));
    }
    return left;
  }

  Result<const Expr*> ParseNot() {
    if (!IsName("not")) return ParseCompare();
    Nesting nesting(this);
    FM_RETURN_IF_ERROR(nesting.Check());
    const size_t first = index_;
    Advance();
    FM_ASSIGN_OR_RETURN(const Expr* operand, ParseNot());
    return Sized(Make<UnaryExpr>(SpanFrom(first), UnaryOp::kNot, operand), {operand});
  }

  Result<const Expr*> ParseCompare() {
    const size_t first = index_;
    FM_ASSIGN_OR_RETURN(const Expr* expr, ParseMath1());
    CompareExpr* compare = nullptr;
    while (true) {
      CompareOp op;
      const Token& token = Current();
      if (token.kind == TokenKind::kOperator && token.op == Operator::kEqual) {
        op = CompareOp::kEqual;
      } else if (token.kind == TokenKind::kOperator && token.op == Operator::kNotEqual) {
        op = CompareOp::kNotEqual;
      } else if (token.kind == TokenKind::kOperator && token.op == Operator::kLess) {
        op = CompareOp::kLess;
      } else if (token.kind == TokenKind::kOperator && token.op == Operator::kLessEqual) {
        op = CompareOp::kLessEqual;
      } else if (token.kind == TokenKind::kOperator && token.op == Operator::kGreater) {
        op = CompareOp::kGreater;
      } else if (token.kind == TokenKind::kOperator && token.op == Operator::kGreaterEqual) {
        op = CompareOp::kGreaterEqual;
      } else if (IsName("in")) {
        op = CompareOp::kIn;
      } else if (IsName("not") && Look().kind == TokenKind::kName && Look().text == "in") {
        op = CompareOp::kNotIn;
        Advance();
      } else {
        break;
      }
      Advance();
      FM_ASSIGN_OR_RETURN(const Expr* operand, ParseMath1());
      if (compare == nullptr) {
        compare = Make<CompareExpr>(std::string_view(), expr);
        Grow(compare, expr);
      }
      compare->rest.emplace_back(op, operand);
      Grow(compare, operand);
    }
    if (compare == nullptr) return expr;
    compare->text = SpanFrom(first);
    return Checked(compare);
  }

  Result<const Expr*> MakeBinary(size_t first, BinaryOp op, const Expr* left, const Expr* right) {
    return Sized(Make<BinaryExpr>(ExprKind::kBinary, SpanFrom(first), op, left, right), {left, right});
  }

  Result<const Expr*> ParseMath1() {
    const size_t first = index_;
    FM_ASSIGN_OR_RETURN(const Expr* left, ParseConcat());
    while (IsOp(Operator::kAdd) || IsOp(Operator::kSubtract)) {
      const BinaryOp op = IsOp(Operator::kAdd) ? BinaryOp::kAdd : BinaryOp::kSubtract;
      Advance();
      FM_ASSIGN_OR_RETURN(const Expr* right, ParseConcat());
      FM_ASSIGN_OR_RETURN(left, MakeBinary(first, op, left, right));
    }
    return left;
  }

  Result<const Expr*> ParseConcat() {
    const size_t first = index_;
    FM_ASSIGN_OR_RETURN(const Expr* part, ParseMath2());
    if (!IsOp(Operator::kTilde)) return part;
    auto* concat = Make<ConcatExpr>(std::string_view());
    concat->parts.push_back(part);
    Grow(concat, part);
    while (SkipOp(Operator::kTilde)) {
      FM_ASSIGN_OR_RETURN(part, ParseMath2());
      concat->parts.push_back(part);
      Grow(concat, part);
    }
    concat->text = SpanFrom(first);
    return Checked(concat);
  }

  Result<const Expr*> ParseMath2() {
    const size_t first = index_;
    FM_ASSIGN_OR_RETURN(const Expr* left, ParsePower());
    while (true) {
      BinaryOp op;
      if (IsOp(Operator::kMultiply)) {
        op = BinaryOp::kMultiply;
      } else if (IsOp(Operator::kDivide)) {
        op = BinaryOp::kDivide;
      } else if (IsOp(Operator::kFloorDivide)) {
        op = BinaryOp::kFloorDivide;
      } else if (IsOp(Operator::kModulo)) {
        op = BinaryOp::kModulo;
      } else {
        break;
      }
      Advance();
      FM_ASSIGN_OR_RETURN(const Expr* right, ParsePower());
      FM_ASSIGN_OR_RETURN(left, MakeBinary(first, op, left, right));
    }
    return left;
  }

  // jinja2's ** is left-associative: 2 ** 3 ** 2 == 64.
  Result<const Expr*> ParsePower() {
    const size_t first = index_;
    FM_ASSIGN_OR_RETURN(const Expr* left, ParseUnary(true));
    while (SkipOp(Operator::kPower)) {
      FM_ASSIGN_OR_RETURN(const Expr* right, ParseUnary(true));
      FM_ASSIGN_OR_RETURN(left, MakeBinary(first, BinaryOp::kPower, left, right));
    }
    return left;
  }

  // -x|f is (-x)|f: filters apply after the sign, as in jinja2.
  Result<const Expr*> ParseUnary(bool with_filter) {
    Nesting nesting(this);
    FM_RETURN_IF_ERROR(nesting.Check());
    const size_t first = index_;
    const Expr* node = nullptr;
    if (IsOp(Operator::kSubtract) || IsOp(Operator::kAdd)) {
      const UnaryOp op = IsOp(Operator::kSubtract) ? UnaryOp::kNegate : UnaryOp::kPlus;
      Advance();
      FM_ASSIGN_OR_RETURN(const Expr* operand, ParseUnary(false));
      FM_ASSIGN_OR_RETURN(node, Sized(Make<UnaryExpr>(SpanFrom(first), op, operand), {operand}));
    } else {
      FM_ASSIGN_OR_RETURN(node, ParsePrimary());
    }
    FM_ASSIGN_OR_RETURN(node, ParsePostfix(first, node));
    if (with_filter) {
      FM_ASSIGN_OR_RETURN(node, ParseFilterAndTests(first, node));
    }
    return node;
  }

  Result<const Expr*> ParsePrimary() {
    const Token& token = Current();
    const size_t first = index_;
    switch (token.kind) {
      case TokenKind::kName: {
        Advance();
        const std::string_view name = token.text;
        if (name == "true" || name == "True") return MakeLiteral(token.text, Value::Bool(true));
        if (name == "false" || name == "False") return MakeLiteral(token.text, Value::Bool(false));
        if (name == "none" || name == "None") return MakeLiteral(token.text, Value::None());
        auto* expr = Make<NameExpr>(token.text, Intern(name));
        expr->function = FindFunction(name);
        for (MacroStmt* macro : macros_) {
          if (name == "varargs") macro->varargs = expr->symbol;
          if (name == "kwargs") macro->kwargs = expr->symbol;
        }
        return static_cast<const Expr*>(expr);
      }
      case TokenKind::kString: {
        // Adjacent literals join: "a" "b" is "ab".
        std::string value = token.string_value;
        Advance();
        while (Current().kind == TokenKind::kString) {
          value += Current().string_value;
          Advance();
        }
        auto* literal = Make<LiteralExpr>(SpanFrom(first), Value::None());
        literal->storage = std::move(value);
        literal->value = Value::String(literal->storage);
        return static_cast<const Expr*>(literal);
      }
      case TokenKind::kInteger:
        Advance();
        return MakeLiteral(token.text, Value::Int(token.int_value));
      case TokenKind::kFloat:
        Advance();
        return MakeLiteral(token.text, Value::Float(token.float_value));
      case TokenKind::kOperator:
        if (token.op == Operator::kLeftParen) {
          Advance();
          FM_ASSIGN_OR_RETURN(const Expr* expr, ParseTuple(true, {}, true));
          FM_RETURN_IF_ERROR(ExpectOp(Operator::kRightParen, ")"));
          return expr;
        }
        if (token.op == Operator::kLeftBracket) return ParseList();
        if (token.op == Operator::kLeftBrace) return ParseDict();
        break;
      default:
        break;
    }
    return ErrorAt(token, "unexpected " + Describe(token));
  }

  Result<const Expr*> MakeLiteral(std::string_view text, Value value) {
    return static_cast<const Expr*>(Make<LiteralExpr>(text, value));
  }

  Result<const Expr*> ParseList() {
    const size_t first = index_;
    Advance();  // [
    std::vector<const Expr*> items;
    while (!IsOp(Operator::kRightBracket)) {
      if (!items.empty()) FM_RETURN_IF_ERROR(ExpectOp(Operator::kComma, ","));
      if (IsOp(Operator::kRightBracket)) break;
      FM_ASSIGN_OR_RETURN(const Expr* item, ParseExpression(true));
      items.push_back(item);
    }
    Advance();  // ]
    auto* list = Make<SequenceExpr>(ExprKind::kList, SpanFrom(first));
    for (const Expr* item : items) Grow(list, item);
    list->items = std::move(items);
    return Checked(list);
  }

  Result<const Expr*> ParseDict() {
    const size_t first = index_;
    Advance();  // {
    auto* dict = Make<DictExpr>(std::string_view());
    while (!IsOp(Operator::kRightBrace)) {
      if (!dict->items.empty()) FM_RETURN_IF_ERROR(ExpectOp(Operator::kComma, ","));
      if (IsOp(Operator::kRightBrace)) break;
      FM_ASSIGN_OR_RETURN(const Expr* key, ParseExpression(true));
      FM_RETURN_IF_ERROR(ExpectOp(Operator::kColon, ":"));
      FM_ASSIGN_OR_RETURN(const Expr* value, ParseExpression(true));
      dict->items.emplace_back(key, value);
      Grow(dict, key);
      Grow(dict, value);
    }
    Advance();  // }
    dict->text = SpanFrom(first);
    return Checked(dict);
  }

  Result<const Expr*> ParsePostfix(size_t first, const Expr* node) {
    while (true) {
      if (IsOp(Operator::kDot) || IsOp(Operator::kLeftBracket)) {
        FM_ASSIGN_OR_RETURN(node, ParseSubscript(first, node));
      } else if (IsOp(Operator::kLeftParen)) {
        FM_ASSIGN_OR_RETURN(node, ParseCall(first, node));
      } else {
        return node;
      }
    }
  }

  Result<const Expr*> ParseFilterAndTests(size_t first, const Expr* node) {
    while (true) {
      if (IsOp(Operator::kPipe)) {
        FM_ASSIGN_OR_RETURN(node, ParseFilter(node, false, first));
      } else if (IsName("is")) {
        FM_ASSIGN_OR_RETURN(node, ParseTest(first, node));
      } else if (IsOp(Operator::kLeftParen)) {
        FM_ASSIGN_OR_RETURN(node, ParseCall(first, node));
      } else {
        return node;
      }
    }
  }

  Result<const Expr*> ParseSubscript(size_t first, const Expr* object) {
    if (SkipOp(Operator::kDot)) {
      const Token& token = Current();
      if (token.kind == TokenKind::kName) {
        Advance();
        return Sized(Make<GetattrExpr>(SpanFrom(first), object, token.text), {object});
      }
      if (token.kind != TokenKind::kInteger) return Unexpected("a name or number after '.'");
      Advance();
      FM_ASSIGN_OR_RETURN(const Expr* key, MakeLiteral(token.text, Value::Int(token.int_value)));
      return Sized(Make<GetitemExpr>(SpanFrom(first), object, key), {object});
    }
    Advance();  // [
    const size_t key_first = index_;
    std::vector<const Expr*> keys;
    while (!IsOp(Operator::kRightBracket)) {
      if (!keys.empty()) FM_RETURN_IF_ERROR(ExpectOp(Operator::kComma, ","));
      FM_ASSIGN_OR_RETURN(const Expr* key, ParseSubscribed());
      keys.push_back(key);
    }
    if (keys.empty()) return Unexpected("a subscript");
    const Expr* key = keys.front();
    if (keys.size() > 1) {
      auto* tuple = Make<SequenceExpr>(ExprKind::kTuple, SpanFrom(key_first));
      for (const Expr* k : keys) Grow(tuple, k);
      tuple->items = std::move(keys);
      key = tuple;
    }
    Advance();  // ]
    return Sized(Make<GetitemExpr>(SpanFrom(first), object, key), {object, key});
  }

  // One subscript: an expression or a slice start:stop:step.
  Result<const Expr*> ParseSubscribed() {
    const size_t first = index_;
    const Expr* start = nullptr;
    if (!IsOp(Operator::kColon)) {
      FM_ASSIGN_OR_RETURN(start, ParseExpression(true));
      if (!IsOp(Operator::kColon)) return start;
    }
    Advance();  // :
    auto* slice = Make<SliceExpr>(std::string_view());
    slice->start = start;
    const auto ends_part = [&] {
      return IsOp(Operator::kRightBracket) || IsOp(Operator::kComma) || IsOp(Operator::kColon);
    };
    if (!ends_part()) {
      FM_ASSIGN_OR_RETURN(slice->stop, ParseExpression(true));
    }
    if (SkipOp(Operator::kColon) && !IsOp(Operator::kRightBracket) && !IsOp(Operator::kComma)) {
      FM_ASSIGN_OR_RETURN(slice->step, ParseExpression(true));
    }
    slice->text = SpanFrom(first);
    return Sized(slice, {slice->start, slice->stop, slice->step});
  }

  Status ParseCallArguments(CallArguments* args) {
    const Token& open = Current();
    FM_RETURN_IF_ERROR(ExpectOp(Operator::kLeftParen, "("));
    bool need_comma = false;
    while (!IsOp(Operator::kRightParen)) {
      if (need_comma) {
        FM_RETURN_IF_ERROR(ExpectOp(Operator::kComma, ","));
        if (IsOp(Operator::kRightParen)) break;
      }
      if (IsOp(Operator::kMultiply) || IsOp(Operator::kPower)) {
        return Status::Unsupported(program_->Where(Current().text) + ": *args and **kwargs in calls are not supported");
      }
      if (Current().kind == TokenKind::kName && Look().kind == TokenKind::kOperator &&
          Look().op == Operator::kAssign) {
        const std::string_view name = Current().text;
        Advance();
        Advance();
        FM_ASSIGN_OR_RETURN(const Expr* value, ParseExpression(true));
        args->keyword.emplace_back(name, value);
      } else {
        if (!args->keyword.empty()) return ErrorAt(open, "positional argument follows keyword argument");
        FM_ASSIGN_OR_RETURN(const Expr* value, ParseExpression(true));
        args->positional.push_back(value);
      }
      need_comma = true;
    }
    Advance();  // )
    return Status::Ok();
  }

  Result<const Expr*> ParseCall(size_t first, const Expr* callee) {
    CallArguments args;
    FM_RETURN_IF_ERROR(ParseCallArguments(&args));
    auto* call = Make<CallExpr>(SpanFrom(first), callee);
    Grow(call, callee);
    Grow(call, args);
    call->args = std::move(args);
    return Checked(call);
  }

  // `| name(args)` chains; `operand` is nullptr for {% filter %} blocks, where
  // the first name comes without a pipe (`inline_first`).
  Result<const Expr*> ParseFilter(const Expr* operand, bool inline_first, size_t first = SIZE_MAX) {
    while (IsOp(Operator::kPipe) || inline_first) {
      if (!inline_first) Advance();
      inline_first = false;
      const size_t name_first = index_;
      FM_ASSIGN_OR_RETURN(std::string_view name, ExpectName());
      while (SkipOp(Operator::kDot)) {
        FM_ASSIGN_OR_RETURN(std::string_view part, ExpectName());
        name = {name.data(), static_cast<size_t>(part.data() + part.size() - name.data())};
      }
      CallArguments args;
      if (IsOp(Operator::kLeftParen)) FM_RETURN_IF_ERROR(ParseCallArguments(&args));
      auto* filter = Make<FilterExpr>(SpanFrom(first == SIZE_MAX ? name_first : first), operand, name);
      if (operand != nullptr) Grow(filter, operand);
      Grow(filter, args);
      filter->args = std::move(args);
      FM_ASSIGN_OR_RETURN(operand, Checked(filter));
    }
    return operand;
  }

  // `is [not] name`, `is name(args)` or `is name arg`.
  Result<const Expr*> ParseTest(size_t first, const Expr* operand) {
    Advance();  // is
    const bool negated = SkipName("not");
    FM_ASSIGN_OR_RETURN(std::string_view name, ExpectName());
    CallArguments args;
    const Token& token = Current();
    const bool starts_argument =
        token.kind == TokenKind::kName || token.kind == TokenKind::kString || token.kind == TokenKind::kInteger ||
        token.kind == TokenKind::kFloat ||
        (token.kind == TokenKind::kOperator &&
         (token.op == Operator::kLeftBracket || token.op == Operator::kLeftBrace));
    if (IsOp(Operator::kLeftParen)) {
      FM_RETURN_IF_ERROR(ParseCallArguments(&args));
    } else if (starts_argument && !IsName("else") && !IsName("or") && !IsName("and")) {
      if (IsName("is")) return ErrorAt(token, "tests cannot be chained with 'is'");
      const size_t arg_first = index_;
      FM_ASSIGN_OR_RETURN(const Expr* arg, ParsePrimary());
      FM_ASSIGN_OR_RETURN(arg, ParsePostfix(arg_first, arg));
      args.positional.push_back(arg);
    }
    auto* test = Make<TestExpr>(SpanFrom(first), operand, name);
    Grow(test, operand);
    Grow(test, args);
    test->args = std::move(args);
    FM_ASSIGN_OR_RETURN(const Expr* result, Checked(test));
    if (!negated) return result;
    return Sized(Make<UnaryExpr>(SpanFrom(first), UnaryOp::kNot, result), {result});
  }

  Program* program_;
  std::vector<Token> tokens_;
  size_t index_ = 0;
  int nesting_ = 0;
  int loop_depth_ = 0;
  std::vector<const Token*> open_tags_;  // for "not closed" messages
  std::vector<MacroStmt*> macros_;       // macros whose body is being parsed
};

}  // namespace

Result<std::shared_ptr<const Program>> ParseTemplate(std::string_view source, std::string name) {
  auto program = std::make_shared<Program>();
  program->name = std::move(name);
  program->source = NormalizeSource(source);
  program->line_starts.push_back(0);
  for (size_t i = 0; i < program->source.size(); ++i) {
    if (program->source[i] == '\n') program->line_starts.push_back(i + 1);
  }
  FM_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(*program));
  Parser parser(program.get(), std::move(tokens));
  FM_RETURN_IF_ERROR(parser.Run());
  return std::shared_ptr<const Program>(std::move(program));
}

}  // namespace flopsmeter::jinja
