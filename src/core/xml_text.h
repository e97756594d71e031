// The little XML that S3's responses need: the text of a named element
// (<UploadId>, <ETag>, an <Error>'s <Code> and <Message>) and escaping for
// the one body flopsmeter sends (CompleteMultipartUpload). Not a parser:
// S3's answers are flat documents, and anything unexpected (a missing or
// unclosed element, markup inside it, an unknown entity) reads as absent,
// so a malformed or hostile answer is never mistaken for a confirmation.
// Pure: no I/O.
#ifndef FLOPSMETER_CORE_XML_TEXT_H_
#define FLOPSMETER_CORE_XML_TEXT_H_

#include <optional>
#include <string>
#include <string_view>

namespace flopsmeter {

// The text of the first element named `name` (<name> or <name attr="...">)
// with its character and entity references decoded; nullopt when there is
// none, it is not closed, or it holds markup or an unknown reference.
std::optional<std::string> xml_element_text(std::string_view xml, std::string_view name);

// `text` with &, <, >, " and ' escaped for an element's content.
std::string xml_escaped(std::string_view text);

}  // namespace flopsmeter

#endif  // FLOPSMETER_CORE_XML_TEXT_H_
