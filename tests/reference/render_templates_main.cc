// Compares flopsmeter's chat-template renderer with @huggingface/jinja, byte
// for byte, on the cases render_templates.js wrote.
//
//   render_templates_main CASES_JSON [--known TEMPLATE=REASON]...
//
// A case matches when both renderers print the same text, or when both
// raise an error (both errors are shown; when the template raised through
// raise_exception, with the same message). `--known` names a template whose
// differences are understood (a bug in the reference); its cases are
// reported but do not fail the run — and a known template that no longer
// differs fails it, so the list stays honest. Exit status: 0 when every
// difference is known, 1 otherwise, 2 on bad input.
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "template/chat_template.h"

namespace {

using nlohmann::ordered_json;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Shows a string's bytes around `at`, escaped so that the difference is
// visible.
std::string Excerpt(const std::string& text, size_t at) {
  const size_t begin = at > 40 ? at - 40 : 0;
  return ordered_json(text.substr(begin, 100)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string DescribeDifference(const std::string& expected, const std::string& actual) {
  size_t at = 0;
  while (at < expected.size() && at < actual.size() && expected[at] == actual[at]) ++at;
  const size_t line = 1 + static_cast<size_t>(std::count(expected.begin(), expected.begin() + static_cast<long>(at), '\n'));
  std::ostringstream out;
  out << "first difference at byte " << at << " (line " << line << "; lengths " << expected.size() << " vs "
      << actual.size() << ")\n      reference: " << Excerpt(expected, at) << "\n      flopsmeter: " << Excerpt(actual, at);
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: render_templates_main CASES_JSON [--known TEMPLATE=REASON]...\n";
    return 2;
  }
  std::map<std::string, std::string> known;  // template -> why it differs
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    const size_t eq = value.find('=');
    if (flag != "--known" || eq == std::string::npos) {
      std::cerr << "render_templates_main: expected --known TEMPLATE=REASON, got " << flag << " " << value << "\n";
      return 2;
    }
    known[value.substr(0, eq)] = value.substr(eq + 1);
  }

  ordered_json manifest;
  try {
    manifest = ordered_json::parse(ReadFile(argv[1]));
  } catch (const std::exception& e) {
    std::cerr << "render_templates_main: cannot read " << argv[1] << ": " << e.what() << "\n";
    return 2;
  }
  std::tm now{};
  const ordered_json& fixed = manifest["now"];
  now.tm_year = fixed["year"].get<int>() - 1900;
  now.tm_mon = fixed["month"].get<int>() - 1;
  now.tm_mday = fixed["day"].get<int>();
  now.tm_hour = fixed["hour"].get<int>();
  now.tm_min = fixed["minute"].get<int>();
  now.tm_sec = fixed["second"].get<int>();
  std::mktime(&now);  // fills in the weekday and day of the year

  std::map<std::string, flopsmeter::Result<flopsmeter::ChatTemplate>> parsed;
  std::set<std::string> templates;
  std::set<std::string> conversations;
  std::set<std::string> differing;
  int identical = 0;
  int both_raised = 0;
  int unexpected = 0;
  int tolerated = 0;
  for (const ordered_json& c : manifest["cases"]) {
    const std::string name = c["template"].get<std::string>();
    const std::string conversation = c["conversation"].get<std::string>();
    templates.insert(name);
    conversations.insert(conversation);
    auto it = parsed.find(name);
    if (it == parsed.end()) {
      const std::string source = ReadFile(c["source_file"].get<std::string>());
      it = parsed.emplace(name, flopsmeter::ChatTemplate::Parse(source, name)).first;
    }
    flopsmeter::Result<std::string> ours = flopsmeter::Status::Internal("not rendered");
    if (it->second.ok()) {
      ours = it->second->Render(c["context"], now);
    } else {
      ours = it->second.status();
    }
    const bool reference_raised = c.contains("error");
    // raise_exception(msg) in ours: the reference must have raised msg too.
    const std::string raise_marker = "template raised: ";
    const size_t raised_at = ours.ok() ? std::string::npos : ours.status().message().find(raise_marker);
    const bool same_error =
        raised_at == std::string::npos ||
        (reference_raised && c["error"].get<std::string>().find(ours.status().message().substr(
                                 raised_at + raise_marker.size())) != std::string::npos);
    std::string problem;
    if (reference_raised && !ours.ok() && same_error) {
      ++both_raised;
      std::cout << "both raised   " << name << " / " << conversation << "\n      reference: "
                << c["error"].get<std::string>() << "\n      flopsmeter: " << ours.status().message() << "\n";
      continue;
    }
    if (reference_raised && !ours.ok()) {
      problem = "both raised, but not the same template error: the reference \"" + c["error"].get<std::string>() +
                "\", flopsmeter \"" + ours.status().message() + "\"";
    } else if (reference_raised) {
      problem = "the reference raised \"" + c["error"].get<std::string>() + "\"; flopsmeter rendered " +
                std::to_string(ours->size()) + " bytes";
    } else if (!ours.ok()) {
      problem = "flopsmeter raised \"" + ours.status().message() + "\"; the reference rendered";
    } else if (*ours != c["expected"].get<std::string>()) {
      problem = DescribeDifference(c["expected"].get<std::string>(), *ours);
    } else {
      ++identical;
      continue;
    }
    differing.insert(name);
    const auto reason = known.find(name);
    if (reason != known.end()) {
      ++tolerated;
      std::cout << "known         " << name << " / " << conversation << " (" << reason->second << ")\n      "
                << problem << "\n";
    } else {
      ++unexpected;
      std::cout << "MISMATCH      " << name << " / " << conversation << "\n      " << problem << "\n";
    }
  }
  for (const auto& [name, reason] : known) {
    if (differing.count(name) == 0) {
      ++unexpected;
      std::cout << "STALE         " << name << " is listed as known to differ but renders identically; drop it\n";
    }
  }
  std::cout << templates.size() << " templates x " << conversations.size() << " conversations: " << identical
            << " identical, " << both_raised << " raised in both, " << tolerated << " known differences, "
            << unexpected << " unexpected\n";
  return unexpected == 0 ? 0 : 1;
}
