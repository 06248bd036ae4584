// The demo corpus (web-demo/public/corpus/docs.jsonl: 778 chunks of SAP
// Fiori documentation) and its labelled queries (bench/relevance), as term
// lists for FullTextIndex: the full-text tests and benchmark share them.
//
// The tokenizer stands in for the JS one (Intl.Segmenter and lower-casing):
// ASCII letters and digits are lower-cased, every other ASCII byte
// separates terms, and bytes >= 0x80 belong to terms (so UTF-8 stays whole).
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fulltext.h"

namespace tabvec::testing {

// The string value of "key" in one JSON line, with escapes decoded (\uXXXX
// to UTF-8, surrogate pairs joined); empty if absent.
inline std::string json_field(const std::string& line, const std::string& key) {
  const std::string pattern = "\"" + key + "\": \"";
  size_t at = line.find(pattern);
  if (at == std::string::npos) return {};
  at += pattern.size();
  std::string out;
  auto put_utf8 = [&out](uint32_t c) {
    if (c < 0x80) {
      out += char(c);
    } else if (c < 0x800) {
      out += char(0xC0 | c >> 6), out += char(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += char(0xE0 | c >> 12), out += char(0x80 | (c >> 6 & 0x3F)), out += char(0x80 | (c & 0x3F));
    } else {
      out += char(0xF0 | c >> 18), out += char(0x80 | (c >> 12 & 0x3F)), out += char(0x80 | (c >> 6 & 0x3F));
      out += char(0x80 | (c & 0x3F));
    }
  };
  while (at < line.size() && line[at] != '"') {
    if (line[at] != '\\') {
      out += line[at++];
      continue;
    }
    const char e = line[at + 1];
    at += 2;
    switch (e) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'u': {
        uint32_t c = uint32_t(std::stoul(line.substr(at, 4), nullptr, 16));
        at += 4;
        if (c >= 0xD800 && c < 0xDC00 && line.compare(at, 2, "\\u") == 0) {
          const uint32_t low = uint32_t(std::stoul(line.substr(at + 2, 4), nullptr, 16));
          c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
          at += 6;
        }
        put_utf8(c);
        break;
      }
      default: out += e;
    }
  }
  return out;
}

inline std::vector<std::string> tokenize(const std::string& text) {
  std::vector<std::string> terms;
  std::string term;
  for (const char ch : text + " ") {
    const auto c = uint8_t(ch);
    if (c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) {
      term += char(c);
    } else if (c >= 'A' && c <= 'Z') {
      term += char(c - 'A' + 'a');
    } else if (!term.empty()) {
      if (term.size() <= kMaxTermBytes) terms.push_back(term);
      term.clear();
    }
  }
  return terms;
}

// The core's input form: every term followed by a 0 byte.
inline std::string joined(const std::vector<std::string>& terms) {
  std::string out;
  for (const std::string& t : terms) out += t + '\0';
  return out;
}

inline std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// Each document's terms (title, then text), in file order.
inline std::vector<std::vector<std::string>> demo_documents(const std::string& source_dir) {
  std::vector<std::vector<std::string>> docs;
  for (const std::string& line : read_lines(source_dir + "/web-demo/public/corpus/docs.jsonl"))
    docs.push_back(tokenize(json_field(line, "title") + "\n" + json_field(line, "text")));
  return docs;
}

inline std::vector<std::vector<std::string>> demo_queries(const std::string& source_dir) {
  std::vector<std::vector<std::string>> queries;
  for (const std::string& line : read_lines(source_dir + "/bench/relevance/demo-queries.jsonl"))
    queries.push_back(tokenize(json_field(line, "query")));
  return queries;
}

}  // namespace tabvec::testing
