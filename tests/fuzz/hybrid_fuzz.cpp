// libFuzzer target: HybridIndex (an Index and a FullTextIndex in step) under
// random writes, checked against a plain model of which ids hold which text,
// and its snapshot loader on hostile bytes.
//
// Ids come from 0..23, texts from a 10-word vocabulary (each id's text also
// carries the word "id<N>", so a search for it finds that id alone), and some
// writes carry a malformed text or a wrong-length vector. After every step:
// the documents with text are exactly the model's, and a failed write left the
// snapshot bytes as they were. Every so often the snapshot is written, one
// byte changed as the input says, and loaded: refused, or loaded as a store
// that writes the same bytes back; unchanged, it must load and write itself
// back byte for byte.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.h"
#include "hybrid.h"

namespace tabvec::fuzz {
namespace {

constexpr uint32_t kDim = 4;
const char* const kWords[] = {"deploy", "app", "fiori", "table", "key", "cert", "run", "cache", "übung", "x"};

void check(bool condition, const char* what, const std::string& detail = {}) {
  if (!condition) {
    std::fprintf(stderr, "hybrid_fuzz: %s %s\n", what, detail.c_str());
    std::abort();
  }
}

std::vector<uint8_t> bytes_of(HybridIndex& h) {
  std::vector<uint8_t> out(h.serialize_start());
  check(h.serialize_write(out.data(), out.size()) == out.size(), "the snapshot came out short");
  return out;
}

Result load(const std::vector<uint8_t>& bytes, std::unique_ptr<HybridIndex>* out) {
  HybridLoader loader;
  if (Result r = HybridLoader::start(bytes.size(), 0, &loader); !r.ok()) return r;
  // In two pieces, as storage feeds it.
  const size_t half = bytes.size() / 2;
  if (Result r = loader.feed(bytes.data(), half); !r.ok()) return r;
  if (Result r = loader.feed(bytes.data() + half, bytes.size() - half); !r.ok()) return r;
  return loader.finish(out);
}

// The ids search_text finds for a query of one term, any number of them.
std::vector<std::string> found(HybridIndex& h, const std::string& term) {
  PodVector<TextHit> hits;
  const std::string query = term + std::string(1, '\0');
  check(h.search_text(query, kMaxTextK, {}, &hits).ok(), "a search failed");
  std::vector<std::string> ids;
  for (const TextHit& hit : hits) ids.emplace_back(h.index().id_of(hit.slot));
  return ids;
}

void check_model(HybridIndex& h, const std::map<std::string, std::optional<std::string>>& model) {
  size_t with_text = 0;
  for (const auto& [id, text] : model) {
    check(h.index().contains(id), "a stored id is missing", id);
    if (!text) continue;
    ++with_text;
    const std::vector<std::string> ids = found(h, "id" + id.substr(1));
    check(ids.size() == 1 && ids[0] == id, "an id's own word does not find it alone", id);
  }
  check(h.text().size() == with_text, "the text index holds a different number of documents");
  check(h.index().size() == model.size(), "the index holds a different number of vectors");
}

void run(FuzzInput& in) {
  IndexOptions o;
  o.dim = kDim;
  o.max_buffer = 8;
  o.metric = Metric(in.below(3));
  std::unique_ptr<HybridIndex> h;
  check(HybridIndex::create(o, TextOptions{}, &h).ok(), "create failed");
  std::map<std::string, std::optional<std::string>> model;
  float vector[kDim];
  auto make_vector = [&] {
    for (float& x : vector) x = in.value();
    vector[in.below(kDim)] = 1.0f;  // never all zero (cosine)
  };
  auto make_text = [&](const std::string& id) -> std::optional<std::string> {
    const uint32_t kind = in.below(8);
    if (kind == 0) return std::nullopt;
    std::string terms = "id" + id.substr(1) + std::string(1, '\0');
    for (uint32_t n = in.below(6); n > 0; --n) terms += std::string(kWords[in.below(10)]) + std::string(1, '\0');
    if (kind == 1) terms += std::string("\xff\xfe", 2) + std::string(1, '\0');  // not UTF-8
    if (kind == 2) terms += "unterminated";
    return terms;
  };
  auto valid = [](const std::optional<std::string>& t) { return !t || FullTextIndex::check_document(*t).ok(); };

  for (int step = 0; step < 64 && !in.done(); ++step) {
    const std::vector<uint8_t> before = bytes_of(*h);
    const std::string id = "d" + std::to_string(in.below(24));
    const uint32_t op = in.below(8);
    Result r;
    bool expect_ok = true;
    if (op <= 2) {  // add or upsert
      make_vector();
      const std::optional<std::string> text = make_text(id);
      const DocumentText doc{text ? std::string_view(*text) : std::string_view(), text.has_value()};
      const bool upsert = op == 2;
      const size_t len = in.below(16) == 0 ? kDim - 1 : kDim;
      r = upsert ? h->upsert(id, vector, len, {}, doc, nullptr) : h->add(id, vector, len, {}, doc, nullptr);
      expect_ok = len == kDim && valid(text) && (upsert || !model.count(id));
      if (r.ok()) model[id] = text;
    } else if (op <= 4) {  // a batch of new ids
      const size_t n = 1 + in.below(4);
      std::vector<std::string> ids;
      std::vector<std::optional<std::string>> texts;
      std::vector<float> vectors;
      bool fresh = true;
      for (size_t i = 0; i < n; ++i) {
        ids.push_back(id + "b" + std::to_string(i));
        texts.push_back(make_text(ids.back()));
        make_vector();
        vectors.insert(vectors.end(), vector, vector + kDim);
        if (model.count(ids.back())) fresh = false;
      }
      std::vector<std::string_view> views(ids.begin(), ids.end());
      std::vector<DocumentText> docs;
      bool all_valid = true;
      for (const auto& t : texts) {
        docs.push_back({t ? std::string_view(*t) : std::string_view(), t.has_value()});
        all_valid = all_valid && valid(t);
      }
      r = h->add_batch(n, views.data(), vectors.data(), vectors.size(), nullptr, docs.data(), in.below(2) == 0, nullptr);
      expect_ok = fresh && all_valid;
      if (r.ok())
        for (size_t i = 0; i < n; ++i) model[ids[i]] = texts[i];
    } else if (op <= 6) {
      r = h->remove(id);
      expect_ok = model.count(id) > 0;
      if (r.ok()) model.erase(id);
    } else {
      ConsolidateReport report;
      r = h->consolidate(&report);
    }
    check(r.ok() == expect_ok, "a write succeeded or failed unexpectedly", r.message);
    if (!r.ok()) check(bytes_of(*h) == before, "a failed write changed the store", r.message);
    check_model(*h, model);

    if (in.below(8) == 0) {
      const std::vector<uint8_t> bytes = bytes_of(*h);
      std::unique_ptr<HybridIndex> copy;
      check(load(bytes, &copy).ok(), "a snapshot does not load");
      check(bytes_of(*copy) == bytes, "a loaded snapshot writes different bytes");
      check_model(*copy, model);
      std::vector<uint8_t> damaged = bytes;
      damaged[(size_t(in.byte()) << 8 | in.byte()) % damaged.size()] ^= uint8_t(1 + in.below(255));
      std::unique_ptr<HybridIndex> loaded;
      if (load(damaged, &loaded).ok()) {
        // Past the checksum only by an equal checksum: it must then work.
        check(bytes_of(*loaded) == damaged, "a damaged snapshot loaded but writes other bytes");
      }
    }
  }
}

}  // namespace
}  // namespace tabvec::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tabvec::fuzz::FuzzInput in(data, size);
  tabvec::fuzz::run(in);
  return 0;
}
