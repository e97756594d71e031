// Parquet rows: the footer, the schema as a tree of JSON shapes, and the
// record assembly that turns the columns' level streams back into nested
// values (the inverse of Dremel's shredding, as parquet-format describes).
#include "dataset/parquet_reader.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <optional>
#include <utility>
#include <vector>

#include "adapters/files.h"
#include "core/json_doc.h"  // printable_text
#include "dataset/json_text.h"
#include "dataset/little_endian.h"
#include "dataset/parquet_column.h"
#include "dataset/parquet_metadata.h"

namespace flopsmeter {
namespace {

// One node of the schema, with the levels at which it is defined.
struct SchemaNode {
  const ParquetSchemaElement* element = nullptr;
  std::vector<SchemaNode> children;
  uint16_t definition = 0;  // definition level when this node is present
  uint16_t repetition = 0;  // repetition level of its innermost repeated ancestor (itself included)
  size_t first_leaf = 0;    // leaves under it: [first_leaf, end_leaf)
  size_t end_leaf = 0;
};

struct LeafColumn {
  std::string path;                  // "messages.list.element.content", for messages (escaped)
  std::optional<ParquetLeaf> leaf;   // absent: not read (binary, decimal, ...)
};

// How a node's value is written as JSON, and which levels say so.
struct Shape {
  enum class Kind { kValue, kObject, kArray };
  Kind kind = Kind::kValue;
  bool nullable = false;
  uint16_t definition = 0;          // null when the driver's definition level is below this
  uint16_t repetition = 0;          // kArray: a new element starts at this repetition level
  uint16_t element_definition = 0; // kArray: empty when the definition level is below this
  std::vector<std::string> keys;    // kObject: "\"key\":" of each member
  std::vector<Shape> members;       // kObject
  std::vector<Shape> element;       // kArray: one shape
  size_t first_leaf = 0;            // the read leaves under it: [first_leaf, end_leaf)
  size_t end_leaf = 0;
  size_t driver = 0;                // the first read leaf, whose levels decide
};

std::optional<ParquetLeaf> leaf_of(const ParquetSchemaElement& e) {
  ParquetLeaf leaf;
  leaf.type = *e.type;
  if (e.annotation == ParquetAnnotation::kOpaque) return std::nullopt;
  switch (*e.type) {
    case ParquetType::kByteArray:
      if (e.annotation != ParquetAnnotation::kString) return std::nullopt;  // binary
      leaf.kind = ParquetLeafKind::kString;
      return leaf;
    case ParquetType::kInt32:
    case ParquetType::kInt64:
      leaf.kind = e.annotation == ParquetAnnotation::kUnsigned ? ParquetLeafKind::kUnsigned : ParquetLeafKind::kSigned;
      return leaf;
    case ParquetType::kFloat:
    case ParquetType::kDouble: leaf.kind = ParquetLeafKind::kFloat; return leaf;
    case ParquetType::kBoolean: leaf.kind = ParquetLeafKind::kBool; return leaf;
    case ParquetType::kInt96:
    case ParquetType::kFixedLenByteArray: return std::nullopt;
  }
  return std::nullopt;
}

class SchemaBuilder {
 public:
  explicit SchemaBuilder(const std::vector<ParquetSchemaElement>& elements) : elements_(elements) {}

  Result<SchemaNode> build() {
    const ParquetSchemaElement& root = elements_[0];
    if (root.type.has_value()) return Status::ParseError("the schema's root is not a group");
    SchemaNode node;
    node.element = &root;
    next_ = 1;
    FM_RETURN_IF_ERROR(add_children(&node, root.num_children, "", 0));
    if (next_ != elements_.size()) {
      return Status::ParseError("the schema lists " + std::to_string(elements_.size() - next_) +
                                " elements outside the root's tree");
    }
    node.end_leaf = leaves_.size();
    return node;
  }

  std::vector<LeafColumn> take_leaves() { return std::move(leaves_); }

 private:
  Status add_children(SchemaNode* parent, int32_t count, const std::string& prefix, int depth) {
    if (count < 0) return Status::ParseError("negative number of children in the schema");
    if (depth >= kMaxParquetNesting) {
      return Status::Unsupported("the schema nests deeper than " + std::to_string(kMaxParquetNesting) + " levels");
    }
    if (static_cast<size_t>(count) > elements_.size() - next_) {
      return Status::ParseError("a schema group claims more children than the schema has elements");
    }
    parent->first_leaf = leaves_.size();
    parent->children.reserve(static_cast<size_t>(count));
    for (int32_t i = 0; i < count; ++i) {
      // Checked again for each child: the groups before it took their own.
      if (next_ >= elements_.size()) {
        return Status::ParseError("a schema group claims more children than the schema has elements");
      }
      SchemaNode child;
      child.element = &elements_[next_++];
      const ParquetSchemaElement& e = *child.element;
      const bool repeated = e.repetition == ParquetRepetition::kRepeated;
      child.definition = static_cast<uint16_t>(parent->definition + (e.repetition != ParquetRepetition::kRequired));
      child.repetition = static_cast<uint16_t>(parent->repetition + repeated);
      const std::string shown = printable_text(e.name);
      const std::string path = prefix.empty() ? shown : prefix + "." + shown;
      if (e.type.has_value()) {
        if (e.num_children > 0) return Status::ParseError("column '" + path + "' has a type and children");
        std::optional<ParquetLeaf> leaf = leaf_of(e);
        if (leaf) {
          leaf->max_definition = child.definition;
          leaf->max_repetition = child.repetition;
        }
        child.first_leaf = leaves_.size();
        leaves_.push_back({path, leaf});
      } else {
        if (e.num_children == 0) return Status::ParseError("group '" + path + "' has no children");
        FM_RETURN_IF_ERROR(add_children(&child, e.num_children, path, depth + 1));
      }
      child.end_leaf = leaves_.size();
      parent->children.push_back(std::move(child));
    }
    return Status::Ok();
  }

  const std::vector<ParquetSchemaElement>& elements_;
  size_t next_ = 0;
  std::vector<LeafColumn> leaves_;
};

// The JSON shapes of the schema; subtrees with no read leaf are dropped.
class ShapeBuilder {
 public:
  explicit ShapeBuilder(const std::vector<LeafColumn>& leaves) : leaves_(leaves) {}

  Shape root(const SchemaNode& node) {
    Shape shape = object(node);
    shape.nullable = false;
    return shape;
  }

 private:
  std::optional<size_t> driver(const SchemaNode& node) const {
    for (size_t i = node.first_leaf; i < node.end_leaf; ++i) {
      if (leaves_[i].leaf) return i;
    }
    return std::nullopt;
  }

  Shape object(const SchemaNode& node) {
    Shape shape;
    shape.kind = Shape::Kind::kObject;
    for (const SchemaNode& child : node.children) {
      std::optional<Shape> member = field(child);
      if (!member) continue;
      std::string key;
      append_json_string(&key, child.element->name);
      key += ':';
      shape.keys.push_back(std::move(key));
      shape.members.push_back(std::move(*member));
    }
    return shape;
  }

  // A node as a member of its parent: a repeated node is an array of its
  // content, an optional one nullable.
  std::optional<Shape> field(const SchemaNode& node) {
    const std::optional<size_t> first = driver(node);
    if (!first) return std::nullopt;
    Shape shape;
    if (node.element->repetition == ParquetRepetition::kRepeated) {
      shape.kind = Shape::Kind::kArray;
      shape.repetition = node.repetition;
      shape.element_definition = node.definition;
      shape.element.push_back(content(node));
    } else {
      shape = content(node);
      shape.nullable = node.element->repetition == ParquetRepetition::kOptional;
      shape.definition = node.definition;
    }
    place(node, *first, &shape);
    return shape;
  }

  // What a node holds, whatever its own repetition.
  Shape content(const SchemaNode& node) {
    Shape shape;
    const ParquetSchemaElement& e = *node.element;
    if (e.type.has_value()) {
      shape.kind = Shape::Kind::kValue;
    } else if (const SchemaNode* repeated = list_child(node)) {
      shape.kind = Shape::Kind::kArray;
      shape.repetition = repeated->repetition;
      shape.element_definition = repeated->definition;
      shape.element.push_back(list_element(node, *repeated));
    } else {
      shape = object(node);
    }
    place(node, driver(node).value_or(node.first_leaf), &shape);
    return shape;
  }

  // The repeated child of a LIST or MAP group of the standard shape, or
  // null when the group is not one (it is then read as a struct).
  static const SchemaNode* list_child(const SchemaNode& node) {
    const ParquetAnnotation a = node.element->annotation;
    if (a != ParquetAnnotation::kList && a != ParquetAnnotation::kMap) return nullptr;
    if (node.children.size() != 1) return nullptr;
    const SchemaNode& child = node.children[0];
    return child.element->repetition == ParquetRepetition::kRepeated ? &child : nullptr;
  }

  // A list's elements. Three levels (list<element>) is the standard form;
  // the older two-level forms are recognised by parquet-format's
  // backward-compatibility rules (LogicalTypes.md, "Lists").
  Shape list_element(const SchemaNode& list, const SchemaNode& repeated) {
    const std::string& name = repeated.element->name;
    const bool two_level = repeated.element->type.has_value() || repeated.children.size() != 1 ||
                           name == "array" || name == list.element->name + "_tuple" ||
                           list.element->annotation == ParquetAnnotation::kMap;
    if (two_level) return content(repeated);
    std::optional<Shape> element = field(repeated.children[0]);
    return element ? std::move(*element) : content(repeated);
  }

  void place(const SchemaNode& node, size_t driver_leaf, Shape* shape) const {
    shape->first_leaf = node.first_leaf;
    shape->end_leaf = node.end_leaf;
    shape->driver = driver_leaf;
  }

  const std::vector<LeafColumn>& leaves_;
};

class ParquetRowReader final : public TableReader {
 public:
  ParquetRowReader(InputFile file, std::string shown_path, const ParquetReaderOptions& options)
      : file_(std::move(file)), shown_path_(std::move(shown_path)), options_(options) {
    memory_.limit = options.max_decoded_bytes;
  }

  Status open();
  Result<bool> next_row(RawRecord* record) override;
  uint64_t file_bytes_read() const override {
    uint64_t total = bytes_read_;
    for (const auto& reader : readers_) total += reader ? reader->bytes_read() : 0;
    return total;
  }
  uint64_t bytes_decoded() const override { return bytes_decoded_; }

 private:
  Status error(const Status& status) const { return status.WithContext(shown_path_); }
  Status column_error(size_t leaf, const Status& status) const;
  Status start_row_group();
  Status finish_row_group();
  Status emit(const Shape& shape, std::string* json);
  Status emit_object(const Shape& shape, std::string* json);
  Status consume_each(const Shape& shape, std::string_view value, std::string* json);
  Result<const ParquetLevels*> peek(size_t leaf);

  InputFile file_;
  std::string shown_path_;
  ParquetReaderOptions options_;
  std::string footer_;
  ParquetFileMetadata metadata_;
  std::optional<ParquetRowGroupDecoder> row_groups_;
  std::vector<LeafColumn> leaves_;
  Shape root_;
  uint64_t data_end_ = 0;  // where the footer begins
  uint64_t bytes_read_ = 0;
  uint64_t bytes_decoded_ = 0;
  ParquetMemory memory_;

  int64_t row_group_index_ = -1;
  int64_t rows_left_ = 0;  // in the current row group
  int64_t row_group_rows_ = 0;
  uint64_t row_number_ = 0;
  std::vector<std::unique_ptr<ParquetColumnReader>> readers_;  // per leaf; null when not read
};

Status ParquetRowReader::column_error(size_t leaf, const Status& status) const {
  std::string where = "row group " + std::to_string(row_group_index_) + ", column '" + leaves_[leaf].path + "'";
  if (readers_[leaf]) where += ", " + readers_[leaf]->page_name();
  return error(status.WithContext(where));
}

Status ParquetRowReader::open() {
  const uint64_t size = file_.size();
  if (size < 12) return error(Status::ParseError("too short for a Parquet file (" + std::to_string(size) + " bytes)"));
  FM_ASSIGN_OR_RETURN(const std::string head, file_.read_at(0, 4));
  FM_ASSIGN_OR_RETURN(const std::string tail, file_.read_at(size - 8, 8));
  bytes_read_ += 12;
  if (head != kParquetMagic) return error(Status::ParseError("does not start with the Parquet magic PAR1"));
  if (tail.substr(4) == "PARE") {
    return error(Status::Unsupported("is an encrypted Parquet file (encrypted footer); it cannot be read"));
  }
  if (tail.substr(4) != kParquetMagic) {
    return error(Status::ParseError("does not end with the Parquet magic PAR1 (truncated file?)"));
  }
  const uint32_t footer_length = load_u32(tail.data());
  if (footer_length > size - 12) {
    return error(Status::ParseError("footer of " + std::to_string(footer_length) + " bytes is longer than the file"));
  }
  if (footer_length > options_.max_footer_bytes) {
    return error(Status::Unsupported("footer of " + std::to_string(footer_length) + " bytes is above the limit of " +
                                     std::to_string(options_.max_footer_bytes)));
  }
  data_end_ = size - 8 - footer_length;
  FM_ASSIGN_OR_RETURN(footer_, file_.read_at(data_end_, footer_length));
  bytes_read_ += footer_length;
  Result<ParquetFileMetadata> metadata = decode_file_metadata(footer_);
  if (!metadata.ok()) return error(metadata.status());
  metadata_ = std::move(*metadata);
  if (metadata_.encrypted) return error(Status::Unsupported("has encrypted columns; they cannot be read"));
  SchemaBuilder schema(metadata_.schema);
  Result<SchemaNode> root = schema.build();
  if (!root.ok()) return error(root.status().WithContext("schema"));
  leaves_ = schema.take_leaves();
  root_ = ShapeBuilder(leaves_).root(*root);
  row_groups_.emplace(metadata_);
  return Status::Ok();
}

Status ParquetRowReader::start_row_group() {
  ++row_group_index_;
  Result<ParquetRowGroup> group = row_groups_->next();
  if (!group.ok()) return error(group.status().WithContext("row group " + std::to_string(row_group_index_)));
  const std::string where = "row group " + std::to_string(row_group_index_);
  if (group->columns.size() != leaves_.size()) {
    return error(Status::ParseError(where + " has " + std::to_string(group->columns.size()) +
                                    " columns, the schema " + std::to_string(leaves_.size())));
  }
  readers_.clear();
  readers_.resize(leaves_.size());
  for (size_t i = 0; i < leaves_.size(); ++i) {
    if (!leaves_[i].leaf) continue;
    const ParquetColumnChunk& chunk = group->columns[i];
    const ParquetLeaf& leaf = *leaves_[i].leaf;
    auto fail = [&](Status status) { return column_error(i, status); };
    if (chunk.encrypted) return fail(Status::Unsupported("the column is encrypted"));
    if (chunk.in_other_file) return fail(Status::Unsupported("the column chunk is stored in another file"));
    if (chunk.type != static_cast<int32_t>(leaf.type)) {
      return fail(Status::ParseError("the column chunk's type does not match the schema"));
    }
    std::optional<PageCodec> codec;
    switch (static_cast<ParquetCodec>(chunk.codec)) {
      case ParquetCodec::kUncompressed: codec = PageCodec::kUncompressed; break;
      case ParquetCodec::kSnappy: codec = PageCodec::kSnappy; break;
      case ParquetCodec::kGzip: codec = PageCodec::kGzip; break;
      case ParquetCodec::kZstd: codec = PageCodec::kZstd; break;
      default: break;
    }
    if (!codec) {
      return fail(Status::Unsupported("codec " + codec_name(chunk.codec) +
                                      " is not supported (UNCOMPRESSED, SNAPPY, GZIP and ZSTD are)"));
    }
    int64_t begin = chunk.data_page_offset;
    if (chunk.dictionary_page_offset && *chunk.dictionary_page_offset > 0) {
      begin = std::min(begin, *chunk.dictionary_page_offset);
    }
    const int64_t length = chunk.total_compressed_size;
    if (begin < 4 || length < 0 || static_cast<uint64_t>(begin) > data_end_ ||
        static_cast<uint64_t>(length) > data_end_ - static_cast<uint64_t>(begin)) {
      return fail(Status::ParseError("the column chunk's bytes (offset " + std::to_string(begin) + ", length " +
                                     std::to_string(length) + ") lie outside the file's data"));
    }
    readers_[i] = std::make_unique<ParquetColumnReader>(file_, static_cast<uint64_t>(begin),
                                                        static_cast<uint64_t>(begin + length), *codec, leaf, &memory_);
  }
  rows_left_ = row_group_rows_ = group->num_rows;
  return Status::Ok();
}

Result<const ParquetLevels*> ParquetRowReader::peek(size_t leaf) {
  Result<const ParquetLevels*> levels = readers_[leaf]->peek();
  if (!levels.ok()) return column_error(leaf, levels.status());
  return *levels;
}

// Every read leaf must have ended with the row group's last row.
Status ParquetRowReader::finish_row_group() {
  for (size_t i = 0; i < readers_.size(); ++i) {
    if (!readers_[i]) continue;
    FM_ASSIGN_OR_RETURN(const ParquetLevels* levels, peek(i));
    if (levels != nullptr) {
      return column_error(i, Status::ParseError("holds more values than the row group's " +
                                                std::to_string(row_group_rows_) + " rows"));
    }
    bytes_read_ += readers_[i]->bytes_read();
  }
  readers_.clear();
  return Status::Ok();
}

// One triple of each read leaf under `shape`, for a null or empty value,
// written as `value`.
Status ParquetRowReader::consume_each(const Shape& shape, std::string_view value, std::string* json) {
  for (size_t i = shape.first_leaf; i < shape.end_leaf; ++i) {
    if (!readers_[i]) continue;
    FM_ASSIGN_OR_RETURN(const ParquetLevels* levels, peek(i));
    if (levels == nullptr) return column_error(i, Status::ParseError("ends inside a row"));
    Status status = readers_[i]->consume(nullptr);
    if (!status.ok()) return column_error(i, status);
  }
  json->append(value);
  return Status::Ok();
}

Status ParquetRowReader::emit_object(const Shape& shape, std::string* json) {
  json->push_back('{');
  for (size_t i = 0; i < shape.members.size(); ++i) {
    if (i > 0) json->push_back(',');
    json->append(shape.keys[i]);
    FM_RETURN_IF_ERROR(emit(shape.members[i], json));
  }
  json->push_back('}');
  return Status::Ok();
}

Status ParquetRowReader::emit(const Shape& shape, std::string* json) {
  // A required struct has no levels of its own to look at (and the root
  // may have no read column at all).
  if (shape.kind == Shape::Kind::kObject && !shape.nullable) return emit_object(shape, json);
  FM_ASSIGN_OR_RETURN(const ParquetLevels* levels, peek(shape.driver));
  if (levels == nullptr) return column_error(shape.driver, Status::ParseError("ends inside a row"));
  if (shape.nullable && levels->definition < shape.definition) return consume_each(shape, "null", json);
  switch (shape.kind) {
    case Shape::Kind::kValue: {
      Status status = readers_[shape.driver]->consume(json);
      return status.ok() ? status : column_error(shape.driver, status);
    }
    case Shape::Kind::kObject: return emit_object(shape, json);
    case Shape::Kind::kArray: break;
  }
  if (levels->definition < shape.element_definition) return consume_each(shape, "[]", json);
  json->push_back('[');
  for (bool first = true;; first = false) {
    if (!first) json->push_back(',');
    FM_RETURN_IF_ERROR(emit(shape.element[0], json));
    if (json->size() > options_.max_record_bytes) {
      return error(Status::InvalidArgument("row " + std::to_string(row_number_) +
                                           " is larger than the limit of " +
                                           std::to_string(options_.max_record_bytes) + " bytes"));
    }
    FM_ASSIGN_OR_RETURN(const ParquetLevels* next, peek(shape.driver));
    if (next == nullptr || next->repetition != shape.repetition) break;
  }
  json->push_back(']');
  return Status::Ok();
}

Result<bool> ParquetRowReader::next_row(RawRecord* record) {
  while (rows_left_ == 0) {
    if (row_group_index_ >= 0) FM_RETURN_IF_ERROR(finish_row_group());
    if (row_groups_->left() == 0) return false;
    FM_RETURN_IF_ERROR(start_row_group());
  }
  --rows_left_;
  ++row_number_;
  // Each read leaf must start a new row here.
  for (size_t i = 0; i < readers_.size(); ++i) {
    if (!readers_[i]) continue;
    FM_ASSIGN_OR_RETURN(const ParquetLevels* levels, peek(i));
    if (levels == nullptr) {
      return column_error(i, Status::ParseError("ends after " + std::to_string(row_group_rows_ - rows_left_ - 1) +
                                                " of the row group's " + std::to_string(row_group_rows_) + " rows"));
    }
    if (levels->repetition != 0) {
      return column_error(i, Status::ParseError("its values do not line up with the other columns' rows"));
    }
  }
  record->text.clear();
  record->line = row_number_;
  record->column = 1;
  try {
    FM_RETURN_IF_ERROR(emit(root_, &record->text));
  } catch (const std::bad_alloc&) {
    return error(Status::IoError("out of memory for row " + std::to_string(row_number_)));
  }
  bytes_decoded_ += record->text.size();
  return true;
}

}  // namespace

Result<std::unique_ptr<TableReader>> open_parquet(const std::string& path, const std::string& shown_path,
                                                  const ParquetReaderOptions& options) {
  FM_ASSIGN_OR_RETURN(InputFile file, InputFile::open(path));
  auto reader = std::make_unique<ParquetRowReader>(std::move(file), shown_path, options);
  FM_RETURN_IF_ERROR(reader->open());
  return std::unique_ptr<TableReader>(std::move(reader));
}

}  // namespace flopsmeter
