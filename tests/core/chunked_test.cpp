#include <gtest/gtest.h>

#include <string>
#include <unordered_map>

#include "chunked.h"
#include "id_map.h"
#include "slot_strings.h"

namespace tabvec {
namespace {

TEST(ChunkedRecords, RecordsKeepTheirAddressesAndValuesAcrossGrowth) {
  ChunkedRecords r(12, 4096);
  std::vector<uint8_t*> addresses;
  for (size_t i = 0; i < 5000; ++i) {
    ASSERT_TRUE(r.reserve(i + 1));
    r.resize(i + 1);
    std::memcpy(r.at(i), &i, sizeof(uint32_t));
    addresses.push_back(r.at(i));
  }
  for (size_t i = 0; i < 5000; ++i) {
    uint32_t v;
    std::memcpy(&v, r.at(i), 4);
    ASSERT_EQ(v, i);
    ASSERT_EQ(r.at(i), addresses[i]) << "record " << i << " moved";
  }
}

TEST(ChunkedRecords, ReservesAtMostOneChunkAhead) {
  const size_t record = 132, max_chunk = 256 * 1024;
  ChunkedRecords r(record, max_chunk);
  EXPECT_LE(r.reserved_bytes(), 64u);  // nothing before the first record
  for (size_t n : {1, 16, 17, 1000, 1985, 1986, 50000, 100000}) {
    ASSERT_TRUE(r.reserve(n));
    r.resize(n);
    EXPECT_LE(r.reserved_bytes(), r.used_bytes() + max_chunk + 4096) << n;
    EXPECT_EQ(r.bytes_to_grow(n), 0u);
  }
  ChunkedRecords small(record, max_chunk);
  ASSERT_TRUE(small.reserve(16));
  small.resize(16);
  EXPECT_LE(small.reserved_bytes(), 16 * record + 256);  // the first chunk is small
}

TEST(ChunkedRecords, BytesToGrowPredictsReservation) {
  ChunkedRecords r(100);
  for (size_t n : {1, 17, 300, 5000, 12345}) {
    const size_t before = r.reserved_bytes();
    const size_t predicted = r.bytes_to_grow(n);
    ASSERT_TRUE(r.reserve(n));
    r.resize(n);
    EXPECT_GE(predicted + before + 64, r.reserved_bytes()) << n;
  }
}

TEST(ChunkedRecords, ShrinkThenGrowZeroesRecords) {
  ChunkedArray<uint32_t> a;
  ASSERT_TRUE(a.reserve(100));
  for (uint32_t i = 0; i < 100; ++i) a.push_back(i + 1);
  a.resize(10);
  a.resize(100);
  for (size_t i = 10; i < 100; ++i) ASSERT_EQ(a.get(i), 0u);
  EXPECT_EQ(a.pop_back(), 0u);
  EXPECT_EQ(a.size(), 99u);
  // Across many chunks of every size (resize zeroes a chunk's run at a time).
  ChunkedRecords r(3, 4096);
  ASSERT_TRUE(r.reserve(20000));
  r.resize(20000);
  for (size_t i = 0; i < 20000; ++i) std::memset(r.at(i), 0xAB, 3);
  for (size_t keep : {19999, 5000, 1365, 7, 0}) {
    r.resize(keep);
    r.resize(20000);
    for (size_t i = 0; i < 20000; ++i) {
      const uint8_t want = i < keep ? 0xAB : 0;
      ASSERT_TRUE(r.at(i)[0] == want && r.at(i)[1] == want && r.at(i)[2] == want) << "keep " << keep << ", record " << i;
    }
    for (size_t i = 0; i < 20000; ++i) std::memset(r.at(i), 0xAB, 3);
  }
}

TEST(ByteArena, RoundTripsEntriesOfEverySize) {
  ByteArena arena;
  std::vector<std::pair<uint32_t, std::string>> entries;
  for (size_t len : {0, 1, 127, 128, 300, 16383, 16384, 65530, 70000, 200000, 5}) {
    std::string s(len, 'x');
    for (size_t i = 0; i < len; ++i) s[i] = char('a' + (i * 7 + len) % 26);
    entries.push_back({arena.append(s), s});
  }
  for (const auto& [handle, s] : entries) ASSERT_EQ(arena.get(handle), s);
  EXPECT_GE(arena.reserved_bytes(), arena.used_bytes());
}

// reserve() allocates exactly the chunks the appends then fill: after it,
// appending the same entries allocates nothing more.
TEST(ByteArena, ReserveCoversTheAppendsThatFollow) {
  ByteArena arena;
  ASSERT_NE(arena.append(std::string(200, 'a')), ByteArena::kNone);
  std::vector<std::string> strings;
  for (size_t len : {10, 0, 300, 70000, 5, 60000, 65000, 1, 40000}) strings.push_back(std::string(len, 'q'));
  std::vector<std::string_view> views(strings.begin(), strings.end());
  ASSERT_TRUE(arena.reserve(views.data(), views.size()));
  const size_t reserved = arena.reserved_bytes();
  std::vector<uint32_t> handles;
  for (const auto& v : views) {
    if (!v.empty()) handles.push_back(arena.append(v));
  }
  EXPECT_EQ(arena.reserved_bytes(), reserved);
  for (size_t i = 0, h = 0; i < views.size(); ++i) {
    if (!views[i].empty()) {
      ASSERT_EQ(arena.get(handles[h++]), views[i]);
    }
  }
}

TEST(IdMap, InsertFindEraseAgainstReference) {
  IdMap map;
  std::unordered_map<std::string, uint32_t> ref;
  uint64_t x = 12345;
  auto rnd = [&x] { return (x = x * 6364136223846793005ull + 1442695040888963407ull) >> 33; };
  for (uint32_t slot = 0; slot < 20000; ++slot) {
    const std::string id = "doc-" + std::to_string(rnd() % 1000000) + "-" + std::to_string(slot);
    ASSERT_EQ(map.find(id), IdMap::kNotFound);
    const std::string_view view(id);
    ASSERT_TRUE(map.reserve(slot + 1, &view, 1));
    map.insert(id, slot);
    ref[id] = slot;
    if (slot % 3 == 0) {  // erase some earlier id
      auto it = ref.begin();
      map.erase_slot(it->second);
      ref.erase(it);
    }
  }
  EXPECT_EQ(map.size(), ref.size());
  for (const auto& [id, slot] : ref) {
    ASSERT_EQ(map.find(id), slot) << id;
    ASSERT_EQ(map.id_of(slot), id);
  }
  EXPECT_EQ(map.find("missing"), IdMap::kNotFound);
  EXPECT_EQ(map.find(""), IdMap::kNotFound);
}

TEST(SlotStrings, CompactionKeepsLiveEntries) {
  SlotStrings s;
  const std::string big(1000, 'm');
  auto set = [&s](uint32_t slot, const std::string& value) {
    const std::string_view view(value);
    ASSERT_TRUE(s.reserve(slot + 1, &view, 1));
    s.set(slot, value);
  };
  for (uint32_t i = 0; i < 500; ++i) set(i, big + std::to_string(i));
  for (uint32_t i = 0; i < 500; i += 2) s.erase(i);
  for (uint32_t i = 1; i < 500; i += 2) set(i, "v" + std::to_string(i));
  const size_t before = s.reserved_bytes();
  s.compact_if_wasteful();
  EXPECT_LT(s.reserved_bytes(), before / 4);
  for (uint32_t i = 0; i < 500; ++i) {
    if (i % 2 == 0) {
      ASSERT_FALSE(s.has(i));
    } else {
      ASSERT_EQ(s.get(i), "v" + std::to_string(i));
    }
  }
}

}  // namespace
}  // namespace tabvec
