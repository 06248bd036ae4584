// libFuzzer target: Index::deserialize on hostile bytes.
//
// The checksum would reject almost every mutation before the structural
// checks run, so the target reseals it first (by the version the bytes
// state): what it explores is bytes that pass the checksum, i.e. a forged or
// buggy writer. A snapshot that loads must behave as an index (search, add,
// remove, consolidate) and must serialize back to the very bytes it was read
// from (an older format: to current-format bytes that load and serialize
// back to themselves). Fed to the
// streaming loader in pieces (of a size the input picks), it must reach the
// same verdict and the same index as fed whole.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "index.h"
#include "snapshot.h"
#include "snapshot_crc.h"

using tabvec::Index;

namespace {

void check(bool condition, const char* what, const std::string& detail = {}) {
  if (!condition) {
    std::fprintf(stderr, "snapshot_fuzz: %s %s\n", what, detail.c_str());
    std::abort();
  }
}

tabvec::Result load_in_pieces(const std::vector<uint8_t>& bytes, size_t piece, uint64_t cap, std::unique_ptr<Index>* out) {
  tabvec::SnapshotLoader loader;
  if (tabvec::Result r = tabvec::SnapshotLoader::start(bytes.size(), cap, &loader); !r.ok()) return r;
  for (size_t at = 0; at < bytes.size(); at += piece)
    if (tabvec::Result r = loader.feed(bytes.data() + at, std::min(piece, bytes.size() - at)); !r.ok()) return r;
  return loader.finish(out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  tabvec::testing::reseal(bytes);

  // A cap keeps forged counts from asking for gigabytes; rejecting them is the point.
  constexpr uint64_t kCap = 64u << 20;
  std::unique_ptr<Index> ix, streamed;
  const tabvec::Result whole = Index::deserialize(bytes.data(), bytes.size(), kCap, &ix);
  const size_t piece = 1 + (size == 0 ? 0 : size_t(data[size / 2]) * 7 % 251);
  const tabvec::Result pieces = load_in_pieces(bytes, piece, kCap, &streamed);
  check(pieces.status == whole.status, "fed in pieces, the loader reached another verdict:",
        whole.message + " | " + pieces.message + " | piece " + std::to_string(piece));
  if (!whole.ok()) return 0;

  std::vector<uint8_t> again(ix->serialized_size());
  ix->serialize(again.data());
  std::vector<uint8_t> streamed_bytes(streamed->serialized_size());
  streamed->serialize(streamed_bytes.data());
  check(streamed_bytes == again, "fed in pieces, the loader built another index");
  if (bytes[offsetof(tabvec::SnapshotHeader, version)] != tabvec::kSnapshotVersion) {
    // An older format: what it saves as now must load and keep its bytes.
    std::unique_ptr<Index> converted;
    const tabvec::Result r = Index::deserialize(again.data(), again.size(), kCap, &converted);
    check(r.ok(), "a converted snapshot does not load:", r.message);
    std::vector<uint8_t> twice(converted->serialized_size());
    converted->serialize(twice.data());
    check(twice == again, "a converted snapshot does not serialize back to its own bytes");
    bytes = again;
  }
  if (again != bytes) {
    size_t at = 0;
    while (at < again.size() && at < bytes.size() && again[at] == bytes[at]) ++at;
    check(false, "a loaded snapshot does not serialize back to its own bytes; first difference at byte",
          std::to_string(at) + " of " + std::to_string(bytes.size()));
  }

  const uint32_t dim = ix->options().dim;
  std::vector<float> q(dim);
  for (uint32_t i = 0; i < dim; ++i) q[i] = 0.25f * float(i % 5) - 0.5f;
  q[0] = 1.0f;  // never the zero vector, which cosine rejects
  tabvec::SearchHits hits;
  tabvec::SearchParams params;
  params.k = 5;
  check(ix->search(q.data(), dim, params, &hits).ok(), "search failed on a loaded snapshot");
  check(hits.size() <= ix->size(), "search returned more hits than live vectors");
  for (const tabvec::Neighbor& h : hits) check(!ix->id_of(h.slot).empty(), "search returned a slot without an id");

  if (ix->size() > 0 && !hits.empty()) {
    const std::string victim(ix->id_of(hits[0].slot));
    check(ix->remove(victim).ok(), "removing a listed id failed");
    check(!ix->contains(victim), "a removed id is still present");
  }
  check(ix->consolidate().ok(), "consolidate failed");
  const tabvec::Result added = ix->add("fuzz-after-load", q.data(), dim);
  check(added.ok() || added.status == tabvec::Status::memory_cap_exceeded || added.status == tabvec::Status::duplicate_id,
        "adding to a loaded snapshot failed");
  ix->link_pending();
  check(ix->search(q.data(), dim, params, &hits).ok(), "search failed after changes");

  std::vector<uint8_t> changed(ix->serialized_size());
  ix->serialize(changed.data());
  std::unique_ptr<Index> reloaded;
  const tabvec::Result r = Index::deserialize(changed.data(), changed.size(), 0, &reloaded);
  check(r.ok(), "a snapshot written after changes does not load:", r.message);
  return 0;
}
