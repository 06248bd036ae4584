#include <gtest/gtest.h>

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
