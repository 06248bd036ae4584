#include <gtest/gtest.h>

#include <cctype>
#include <iterator>
#include <string>

#include "index.h"
#include "text.h"

namespace tabvec {
namespace {

TEST(Text, Utf8) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));      // a UTF-16 surrogate, encoded
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(valid_utf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(valid_utf8("\x80"));              // lone continuation
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // beyond U+10FFFF
  EXPECT_FALSE(valid_utf8("\xEF\xBF\xBD\xFF"));
}

TEST(Text, JsonGrammar) {
  for (const char* ok : {"0", "-0.5e+3", "\"a\\u00e9\\n\"", "true", "null", "[]", "{}", " [1, {\"a\": [false]}] ",
                         "{\"k\":{\"k\":{\"k\":[[[]]]}}}", "\"\xC3\xA9\""}) {
    EXPECT_EQ(check_json(ok), JsonCheck::valid) << ok;
  }
  for (const char* bad : {"", "x", "01", "1.", "[1,]", "{\"a\"}", "{\"a\":1,}", "[", "]", "{1:2}", "\"\\x\"",
                          "\"tab\there\"", "[1] 2", "\"\xED\xA0\x80\"", "NaN", "{\"a\":1}}", "'s'"}) {
    EXPECT_EQ(check_json(bad), JsonCheck::invalid) << bad;
  }
  // Depth is not limited: JSON.stringify writes whatever nesting an object has.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(check_json(deep), JsonCheck::valid);
  EXPECT_EQ(check_json(deep + "]"), JsonCheck::invalid);
}

// The scans skip eight plain bytes at a time: they must judge every text as a
// byte-at-a-time reading does, wherever the bytes that matter fall in a word.
namespace reference {

bool valid_utf8(const std::string& t) {
  size_t i = 0;
  while (i < t.size()) {
    const auto b = uint8_t(t[i++]);
    if (b < 0x80) continue;
    int more = b >= 0xC2 && b <= 0xDF ? 1 : b >= 0xE0 && b <= 0xEF ? 2 : b >= 0xF0 && b <= 0xF4 ? 3 : -1;
    if (more < 0 || t.size() - i < size_t(more)) return false;
    uint32_t code = b & (more == 1 ? 0x1F : more == 2 ? 0x0F : 0x07);
    for (int k = 0; k < more; ++k) {
      if ((uint8_t(t[i + k]) & 0xC0) != 0x80) return false;
      code = code << 6 | (uint8_t(t[i + k]) & 0x3F);
    }
    i += size_t(more);
    const uint32_t least[4] = {0, 0x80, 0x800, 0x10000};
    if (code < least[more] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
  }
  return true;
}

// A JSON document that is one string: quote, content, quote.
bool json_string(const std::string& doc) {
  if (doc.size() < 2 || doc[0] != '"') return false;
  size_t i = 1;
  while (i < doc.size() && doc[i] != '"') {
    const auto c = uint8_t(doc[i]);
    if (c < 0x20) return false;
    if (c != '\\') {
      ++i;
      continue;
    }
    if (++i == doc.size()) return false;
    const char e = doc[i++];
    if (e == 'u') {
      for (int k = 0; k < 4; ++k, ++i) {
        if (i == doc.size() || !std::isxdigit(uint8_t(doc[i]))) return false;
      }
    } else if (std::string("\"\\/bfnrt").find(e) == std::string::npos) {
      return false;
    }
  }
  return i + 1 == doc.size() && valid_utf8(doc.substr(1, i - 1));
}

}  // namespace reference

TEST(Text, WordAtATimeScansAgreeWithByteAtATime) {
  const std::string pieces[] = {"a", "abcdefgh", " ", "\"", "\\", "\\n", "\\u00e9", "\\x", "\x01", "\x7f", "\x1f",
                                "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xC3", "\x80", "\xFF", "\xED\xA0\x80"};
  uint64_t state = 12345;
  auto next = [&state] { state = state * 6364136223846793005ull + 1442695040888963407ull; return uint32_t(state >> 33); };
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const int parts = int(next() % 12);
    // Mostly plain bytes, a special one now and then, at any offset in a word.
    for (int k = 0; k < parts; ++k) text += next() % 3 ? std::string(next() % 11, char('a' + next() % 26)) : pieces[next() % std::size(pieces)];
    ASSERT_EQ(valid_utf8(text), reference::valid_utf8(text)) << round;
    const std::string doc = "\"" + text + "\"";
    ASSERT_EQ(check_json(doc) == JsonCheck::valid, reference::json_string(doc)) << round;
  }
}

// Bytes the wrapper could not read back as they were are refused on the way in.
TEST(Text, IndexRefusesIdsThatAreNotUtf8AndMetadataThatIsNotJson) {
  IndexOptions o;
  o.dim = 2;
  std::unique_ptr<Index> ix;
  ASSERT_TRUE(Index::create(o, &ix).ok());
  const float v[2] = {1, 2};
  EXPECT_EQ(ix->add("\xED\xA0\x80", v, 2).status, Status::invalid_argument);
  EXPECT_EQ(ix->add("a", v, 2, "{not json}").status, Status::invalid_argument);
  ASSERT_TRUE(ix->add("a", v, 2, "{\"ok\":1}").ok());
  EXPECT_EQ(ix->set_metadata("a", "{").status, Status::invalid_argument);
  EXPECT_EQ(ix->upsert("a", v, 2, "nope").status, Status::invalid_argument);
  EXPECT_EQ(ix->metadata_of(ix->slot_of("a")), "{\"ok\":1}");
  EXPECT_EQ(ix->size(), 1u);
}

}  // namespace
}  // namespace tabvec
