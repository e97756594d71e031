// Parquet footer and page header structs from the Thrift compact protocol.
// Each decode_* reads one struct: the fields it knows by id and type, every
// other field skipped (newer writers add fields; that must not break us).
#include "dataset/parquet_metadata.h"

#include <array>

namespace flopsmeter {
namespace {

// Iterates the fields of the struct starting at the reader's position,
// calling on_field(field) for each; on_field reads or skips the value.
template <typename OnField>
Status for_each_field(ThriftCompactReader& in, OnField&& on_field) {
  FM_RETURN_IF_ERROR(in.begin_struct());
  ThriftField field;
  while (true) {
    FM_ASSIGN_OR_RETURN(const bool more, in.next_field(&field));
    if (!more) break;
    FM_RETURN_IF_ERROR(on_field(field));
  }
  in.end_struct();
  return Status::Ok();
}

bool is(const ThriftField& f, int16_t id, ThriftType type) { return f.id == id && f.type == type; }
bool is_bool(const ThriftField& f, int16_t id) {
  return f.id == id && (f.type == ThriftType::kTrue || f.type == ThriftType::kFalse);
}

ParquetAnnotation from_converted_type(int32_t converted) {
  switch (converted) {
    case 0: case 4: case 19: return ParquetAnnotation::kString;  // UTF8, ENUM, JSON
    case 1: case 2: return ParquetAnnotation::kMap;               // MAP, MAP_KEY_VALUE
    case 3: return ParquetAnnotation::kList;                      // LIST
    case 11: case 12: case 13: case 14: return ParquetAnnotation::kUnsigned;  // UINT_*
    case 5: case 20: case 21: return ParquetAnnotation::kOpaque;  // DECIMAL, BSON, INTERVAL
    default: return ParquetAnnotation::kNone;  // dates, times, INT_*: plain numbers
  }
}

// The LogicalType union: which member is set decides the annotation.
Result<ParquetAnnotation> decode_logical_type(ThriftCompactReader& in) {
  ParquetAnnotation annotation = ParquetAnnotation::kNone;
  FM_RETURN_IF_ERROR(for_each_field(in, [&](const ThriftField& f) -> Status {
    if (f.type != ThriftType::kStruct) return in.skip(f.type);
    switch (f.id) {
      case 1: case 4: case 12: annotation = ParquetAnnotation::kString; break;  // STRING, ENUM, JSON
      case 2: annotation = ParquetAnnotation::kMap; break;
      case 3: annotation = ParquetAnnotation::kList; break;
      case 10:  // INTEGER: {1: bitWidth, 2: isSigned}
        return for_each_field(in, [&](const ThriftField& g) -> Status {
          if (is_bool(g, 2) && !ThriftCompactReader::bool_value(g.type)) annotation = ParquetAnnotation::kUnsigned;
          return g.type == ThriftType::kTrue || g.type == ThriftType::kFalse ? Status::Ok() : in.skip(g.type);
        });
      case 6: case 7: case 8: case 11: break;  // DATE, TIME, TIMESTAMP, UNKNOWN (null): plain values
      default: annotation = ParquetAnnotation::kOpaque; break;  // DECIMAL, UUID, FLOAT16, BSON, ...
    }
    return in.skip(f.type);
  }));
  return annotation;
}

Result<ParquetSchemaElement> decode_schema_element(ThriftCompactReader& in) {
  ParquetSchemaElement e;
  bool has_name = false;
  std::optional<ParquetAnnotation> logical;
  ParquetAnnotation converted = ParquetAnnotation::kNone;
  FM_RETURN_IF_ERROR(for_each_field(in, [&](const ThriftField& f) -> Status {
    if (is(f, 1, ThriftType::kI32)) {
      FM_ASSIGN_OR_RETURN(const int32_t t, in.read_i32());
      if (t < 0 || t > static_cast<int32_t>(ParquetType::kFixedLenByteArray)) {
        return Status::ParseError("unknown physical type " + std::to_string(t));
      }
      e.type = static_cast<ParquetType>(t);
    } else if (is(f, 3, ThriftType::kI32)) {
      FM_ASSIGN_OR_RETURN(const int32_t r, in.read_i32());
      if (r < 0 || r > 2) return Status::ParseError("unknown repetition type " + std::to_string(r));
      e.repetition = static_cast<ParquetRepetition>(r);
    } else if (is(f, 4, ThriftType::kBinary)) {
      FM_ASSIGN_OR_RETURN(const std::string_view name, in.read_binary());
      e.name = name;
      has_name = true;
    } else if (is(f, 5, ThriftType::kI32)) {
      FM_ASSIGN_OR_RETURN(e.num_children, in.read_i32());
    } else if (is(f, 6, ThriftType::kI32)) {
      FM_ASSIGN_OR_RETURN(const int32_t c, in.read_i32());
      converted = from_converted_type(c);
    } else if (is(f, 10, ThriftType::kStruct)) {
      FM_ASSIGN_OR_RETURN(logical, decode_logical_type(in));
    } else {
      return in.skip(f.type);
    }
    return Status::Ok();
  }));
  if (!has_name) return Status::ParseError("a schema element has no name");
  e.annotation = logical.value_or(converted);
  return e;
}

Result<ParquetColumnChunk> decode_column_meta(ThriftCompactReader& in, ParquetColumnChunk chunk) {
  FM_RETURN_IF_ERROR(for_each_field(in, [&](const ThriftField& f) -> Status {
    if (is(f, 1, ThriftType::kI32)) {
      FM_ASSIGN_OR_RETURN(chunk.type, in.read_i32());
    } else if (is(f, 4, ThriftType::kI32)) {
      FM_ASSIGN_OR_RETURN(chunk.codec, in.read_i32());
    } else if (is(f, 5, ThriftType::kI64)) {
      FM_ASSIGN_OR_RETURN(chunk.num_values, in.read_i64());
    } else if (is(f, 7, ThriftType::kI64)) {
      FM_ASSIGN_OR_RETURN(chunk.total_compressed_size, in.read_i64());
    } else if (is(f, 9, ThriftType::kI64)) {
      FM_ASSIGN_OR_RETURN(chunk.data_page_offset, in.read_i64());
    } else if (is(f, 11, ThriftType::kI64)) {
      FM_ASSIGN_OR_RETURN(chunk.dictionary_page_offset, in.read_i64());
    } else {
      return in.skip(f.type);
    }
    return Status::Ok();
  }));
  return chunk;
}

Result<ParquetColumnChunk> decode_column_chunk(ThriftCompactReader& in) {
  ParquetColumnChunk chunk;
  bool has_meta = false;
  FM_RETURN_IF_ERROR(for_each_field(in, [&](const ThriftField& f) -> Status {
    if (is(f, 1, ThriftType::kBinary)) {
      chunk.in_other_file = true;
      return in.skip(f.type);
    }
    if (f.id == 8 || f.id == 9) chunk.encrypted = true;  // crypto_metadata, encrypted_column_metadata
    if (!is(f, 3, ThriftType::kStruct)) return in.skip(f.type);
    FM_ASSIGN_OR_RETURN(chunk, decode_column_meta(in, chunk));
    has_meta = true;
    return Status::Ok();
  }));
  if (!has_meta && !chunk.encrypted) return Status::ParseError("a column chunk has no metadata");
  return chunk;
}

}  // namespace

std::string codec_name(int32_t codec) {
  static constexpr std::array<const char*, 8> kNames = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                                        "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
  if (codec >= 0 && codec < static_cast<int32_t>(kNames.size())) return kNames[static_cast<size_t>(codec)];
  return "codec " + std::to_string(codec);
}

std::string encoding_name(int32_t encoding) {
  static constexpr std::array<const char*, 10> kNames = {
      "PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE", "BIT_PACKED", "DELTA_BINARY_PACKED",
      "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY", "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
  if (encoding >= 0 && encoding < static_cast<int32_t>(kNames.size())) return kNames[static_cast<size_t>(encoding)];
  return "encoding " + std::to_string(encoding);
}

Result<ParquetFileMetadata> decode_file_metadata(std::string_view footer) {
  ParquetFileMetadata meta;
  ThriftCompactReader in(footer);
  bool has_schema = false;
  Status status = for_each_field(in, [&](const ThriftField& f) -> Status {
    if (is(f, 2, ThriftType::kList)) {
      FM_ASSIGN_OR_RETURN(const ThriftList list, in.read_list_header());
      if (list.element != ThriftType::kStruct) return Status::ParseError("the schema is not a list of structs");
      if (list.size > kMaxParquetSchemaElements) {
        return Status::Unsupported("the schema has " + std::to_string(list.size) + " elements, above the limit of " +
                                   std::to_string(kMaxParquetSchemaElements));
      }
      meta.schema.reserve(list.size);
      for (uint32_t i = 0; i < list.size; ++i) {
        FM_ASSIGN_OR_RETURN(ParquetSchemaElement e, decode_schema_element(in));
        meta.schema.push_back(std::move(e));
      }
      has_schema = true;
    } else if (is(f, 3, ThriftType::kI64)) {
      FM_ASSIGN_OR_RETURN(meta.num_rows, in.read_i64());
    } else if (is(f, 4, ThriftType::kList)) {
      FM_ASSIGN_OR_RETURN(const ThriftList list, in.read_list_header());
      if (list.element != ThriftType::kStruct) return Status::ParseError("row_groups is not a list of structs");
      meta.row_group_count = list.size;
      const size_t start = in.position();
      for (uint32_t i = 0; i < list.size; ++i) FM_RETURN_IF_ERROR(in.skip(ThriftType::kStruct));
      meta.row_groups = footer.substr(start, in.position() - start);
    } else {
      if (f.id == 8) meta.encrypted = true;  // encryption_algorithm
      return in.skip(f.type);
    }
    return Status::Ok();
  });
  if (!status.ok()) return status.WithContext("file metadata");
  if (!has_schema || meta.schema.empty()) return Status::ParseError("file metadata: no schema");
  return meta;
}

Result<ParquetRowGroup> ParquetRowGroupDecoder::next() {
  if (left_ == 0) return Status::Internal("ParquetRowGroupDecoder: no row group left");
  --left_;
  ParquetRowGroup group;
  bool has_rows = false;
  FM_RETURN_IF_ERROR(for_each_field(reader_, [&](const ThriftField& f) -> Status {
    if (is(f, 1, ThriftType::kList)) {
      FM_ASSIGN_OR_RETURN(const ThriftList list, reader_.read_list_header());
      if (list.element != ThriftType::kStruct) return Status::ParseError("columns is not a list of structs");
      if (list.size > kMaxParquetSchemaElements) return Status::ParseError("more columns than schema elements");
      group.columns.reserve(list.size);
      for (uint32_t i = 0; i < list.size; ++i) {
        FM_ASSIGN_OR_RETURN(ParquetColumnChunk chunk, decode_column_chunk(reader_));
        group.columns.push_back(chunk);
      }
    } else if (is(f, 3, ThriftType::kI64)) {
      FM_ASSIGN_OR_RETURN(group.num_rows, reader_.read_i64());
      has_rows = true;
    } else {
      return reader_.skip(f.type);
    }
    return Status::Ok();
  }));
  if (!has_rows || group.num_rows < 0) return Status::ParseError("a row group has no valid num_rows");
  return group;
}

Result<ParquetPageHeader> decode_page_header(std::string_view bytes, size_t* header_bytes) {
  ParquetPageHeader h;
  ThriftCompactReader in(bytes);
  FM_RETURN_IF_ERROR(for_each_field(in, [&](const ThriftField& f) -> Status {
    if (is(f, 1, ThriftType::kI32)) {
      FM_ASSIGN_OR_RETURN(h.type, in.read_i32());
    } else if (is(f, 2, ThriftType::kI32)) {
      FM_ASSIGN_OR_RETURN(h.uncompressed_page_size, in.read_i32());
    } else if (is(f, 3, ThriftType::kI32)) {
      FM_ASSIGN_OR_RETURN(h.compressed_page_size, in.read_i32());
    } else if (is(f, 5, ThriftType::kStruct) || is(f, 7, ThriftType::kStruct)) {
      // DataPageHeader {1 num_values, 2 encoding, 3 def encoding, 4 rep encoding}
      // DictionaryPageHeader {1 num_values, 2 encoding}
      return for_each_field(in, [&](const ThriftField& g) -> Status {
        if (g.type != ThriftType::kI32 || g.id < 1 || g.id > 4) return in.skip(g.type);
        FM_ASSIGN_OR_RETURN(const int32_t v, in.read_i32());
        (g.id == 1 ? h.num_values : g.id == 2 ? h.encoding
                                 : g.id == 3 ? h.definition_level_encoding : h.repetition_level_encoding) = v;
        return Status::Ok();
      });
    } else if (is(f, 8, ThriftType::kStruct)) {
      // DataPageHeaderV2 {1 num_values, 2 num_nulls, 3 num_rows, 4 encoding,
      //                   5 def levels length, 6 rep levels length, 7 is_compressed}
      return for_each_field(in, [&](const ThriftField& g) -> Status {
        if (is_bool(g, 7)) {
          h.is_compressed = ThriftCompactReader::bool_value(g.type);
          return Status::Ok();
        }
        if (g.type != ThriftType::kI32 || g.id < 1 || g.id > 6 || g.id == 2 || g.id == 3) return in.skip(g.type);
        FM_ASSIGN_OR_RETURN(const int32_t v, in.read_i32());
        (g.id == 1 ? h.num_values : g.id == 4 ? h.encoding
                                 : g.id == 5 ? h.definition_levels_byte_length : h.repetition_levels_byte_length) = v;
        return Status::Ok();
      });
    } else {
      return in.skip(f.type);
    }
    return Status::Ok();
  }));
  *header_bytes = in.position();
  return h;
}

}  // namespace flopsmeter
