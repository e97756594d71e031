// How training-data files are read: the choices a user makes about a
// dataset, shared by the token counter and the command line.
#ifndef FLOPSMETER_DATASET_H_
#define FLOPSMETER_DATASET_H_

namespace flopsmeter {

enum class DatasetFormat {
  // By the first bytes, then the name. Bytes that say Parquet or Arrow IPC
  // settle it whatever the name; bytes of another binary format (ORC,
  // Avro, zip, SQLite, safetensors, pickle, ...) are an error naming it.
  // Otherwise by the name, after dropping .gz/.gzip/.zst/.zstd: .txt,
  // .text, .md are plain text; .jsonl, .ndjson JSON lines; .json a JSON
  // array when its first non-blank byte is '[', JSON lines otherwise (as
  // Hugging Face datasets reads .json). Other names: '[' means a JSON
  // array, '{' JSON lines, anything else plain text.
  kAuto,
  kText,
  kJsonLines,
  kJsonArray,
  kParquet,  // each row a record: a JSON object of its columns
  kArrow,    // Arrow IPC stream or file (datasets' save_to_disk), likewise
};

// How plain text is cut into samples.
enum class TextUnit {
  kLine,       // each line, as datasets.load_dataset("text") does
  kParagraph,  // blocks separated by blank lines
  kDocument,   // the whole file
};

// Which fields of a JSON record hold the training text.
enum class RecordSchema {
  kAuto,              // detected per record (see docs/tokens.md)
  kText,              // "text"
  kMessages,          // "messages": [{role, content}]
  kPromptCompletion,  // "prompt" + "completion"
  kAlpaca,            // "instruction" + "input" + "output"
  kShareGpt,          // "conversations": [{from, value}]
};

}  // namespace flopsmeter

#endif  // FLOPSMETER_DATASET_H_
