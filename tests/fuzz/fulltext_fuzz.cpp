// libFuzzer target: FullTextIndex under random operation sequences, checked
// against a plain BM25 model, and its section loader on hostile bytes.
//
// Terms come from a 12-word vocabulary (plus one long and one non-ASCII
// word), slots from 0..31, so lists collide, slots are reused and cleanup
// has work. After every step: a search equals the model's top-k exactly
// (skipping or not); a failed call leaves the section bytes as they were.
// Every so often the section is written, one byte of it changed as the input
// says, and loaded: refused, or loaded as an index that works and writes the
// same bytes back; unchanged, it must load and behave as the original.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fulltext.h"
#include "fuzz_input.h"

namespace tabvec::fuzz {
namespace {

using Terms = std::vector<std::string>;

void check(bool condition, const char* what, const std::string& detail = {}) {
  if (!condition) {
    std::fprintf(stderr, "fulltext_fuzz: %s %s\n", what, detail.c_str());
    std::abort();
  }
}

std::vector<uint8_t> bytes_of(const FullTextIndex& ix) {
  std::vector<uint8_t> out(ix.serialized_size());
  ix.serialize(out.data());
  return out;
}

std::string joined(const Terms& terms) {
  std::string out;
  for (const std::string& t : terms) out += t + '\0';
  return out;
}

struct Model {
  std::map<uint32_t, Terms> live;
  std::vector<Terms> removed;
  // Slots in the order they got documents since the last cleanup: removing
  // the newest takes it back whole (FullTextIndex::remove).
  std::vector<uint32_t> added;
  uint32_t main_end = 0;  // main's documents are below this slot

  std::vector<TextHit> search(const Terms& query, uint32_t k, double k1, double b) const {
    std::vector<const Terms*> held;
    for (const auto& [slot, terms] : live) held.push_back(&terms);
    for (const Terms& terms : removed) held.push_back(&terms);
    double n = double(held.size()), total = 0;
    for (const Terms* t : held) total += double(t->size());
    if (n == 0) return {};
    const double avgdl = total / n;
    Terms distinct;
    for (const std::string& q : query)
      if (std::find(distinct.begin(), distinct.end(), q) == distinct.end()) distinct.push_back(q);
    std::vector<double> idf;
    for (const std::string& q : distinct) {
      double df = 0;
      for (const Terms* t : held) df += std::find(t->begin(), t->end(), q) != t->end() ? 1 : 0;
      idf.push_back(std::log(1.0 + (n - df + 0.5) / (df + 0.5)));
    }
    std::vector<TextHit> hits;
    for (const auto& [slot, terms] : live) {
      double score = 0;
      bool any = false;
      for (size_t i = 0; i < distinct.size(); ++i) {
        const double tf = double(std::count(terms.begin(), terms.end(), distinct[i]));
        if (tf == 0) continue;
        any = true;
        score += idf[i] * (tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * double(terms.size()) / avgdl)));
      }
      if (any) hits.push_back({slot, float(score)});
    }
    std::sort(hits.begin(), hits.end(), better);
    if (hits.size() > k) hits.resize(k);
    return hits;
  }
};

const char* const kWords[] = {"a", "b", "c", "d", "e", "f", "g", "h", "deploy", "fiori", "caf\xC3\xA9",
                              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};

class Session {
 public:
  explicit Session(FuzzInput& in) : in_(in) {}

  void step() {
    const uint32_t op = in_.below(7);
    if (trace_) std::fprintf(stderr, "op %u\n", op);
    switch (op) {
      case 0:
      case 1: add(); break;
      case 2: remove(); break;
      case 3: cleanup(); break;
      case 4: reload(); break;
      case 5: bad_add(); break;
      default: break;
    }
    search();
  }

 private:
  Terms terms(uint32_t most) {
    Terms t;
    // Skewed: early words often, so some terms get long lists and large tfs.
    for (uint32_t i = 0, n = in_.below(most + 1); i < n; ++i) {
      const uint32_t r = in_.below(64);
      t.push_back(kWords[r < 40 ? r % 4 : r < 60 ? 4 + r % 6 : 10 + r % 2]);
    }
    return t;
  }
  uint32_t slot() { return in_.below(32); }

  void add() {
    const uint32_t s = slot();
    Terms t = terms(in_.below(2) ? 40 : 6);
    const Result r = ix_.add(s, joined(t));
    if (trace_) std::fprintf(stderr, "  add %u: %s\n", s, joined(t).c_str());
    check(r.ok() == !model_.live.count(s), "add", r.message);
    if (r.ok()) {
      model_.live[s] = t;
      model_.added.push_back(s);
    }
  }
  void remove() {
    const uint32_t s = slot();
    const Result r = ix_.remove(s);
    if (trace_) std::fprintf(stderr, "  remove %u\n", s);
    check(r.ok() == (model_.live.count(s) > 0), "remove", r.message);
    if (r.ok()) {
      if (!model_.added.empty() && model_.added.back() == s && s >= model_.main_end &&
          std::count(model_.added.begin(), model_.added.end(), s) == 1) {
        model_.added.pop_back();
      } else {
        model_.removed.push_back(model_.live[s]);
      }
      model_.live.erase(s);
    }
  }
  void cleanup() {
    check(ix_.cleanup().ok(), "cleanup");
    model_.removed.clear();
    model_.added.clear();
    model_.main_end = model_.live.empty() ? 0 : model_.live.rbegin()->first + 1;
  }
  void bad_add() {
    const std::vector<uint8_t> before = bytes_of(ix_);
    // No final 0, empty terms, bytes that are not UTF-8.
    static const std::string_view kBad[] = {{"a", 1}, {"\0", 1}, {"a\0\0", 3}, {"\xFF\0", 2}, {"\xC3\0", 2}};
    const Result r = ix_.add(32 + in_.below(4), kBad[in_.below(5)]);
    check(r.status == Status::invalid_argument, "a bad add was not refused");
    check(bytes_of(ix_) == before, "a refused add changed the index");
  }
  void reload() {
    std::vector<uint8_t> bytes = bytes_of(ix_);
    FullTextIndex copy;
    const Result whole = copy.deserialize(bytes.data(), bytes.size());
    check(whole.ok(), "a written section does not load:", whole.message);
    check(bytes_of(copy) == bytes, "a loaded section writes other bytes");
    if (in_.below(2) && !bytes.empty()) {
      // One byte changed: refused, or another index that works.
      const size_t at = (size_t(in_.byte()) << 8 | in_.byte()) % bytes.size();
      bytes[at] ^= uint8_t(1 + in_.below(255));
      FullTextIndex bad;
      const Result r = bad.deserialize(bytes.data(), bytes.size());
      if (r.ok()) {
        check(bytes_of(bad) == bytes, "a changed section loaded but writes other bytes");
        PodVector<TextHit> hits;
        check(bad.search(joined({"a", "b", "deploy"}), {}, &hits).ok(), "search on a changed section");
        check(bad.add(40, joined({"a", "a", "c"})).ok(), "add on a changed section");
        check(bad.cleanup().ok(), "cleanup on a changed section");
      } else {
        check(r.status == Status::corrupt_snapshot || r.status == Status::unsupported_version, "status", r.message);
      }
    }
    ix_ = std::move(copy);
  }
  void search() {
    const Terms q = terms(5);
    TextSearchParams p;
    p.k = 1 + in_.below(12);
    p.k1 = float(in_.below(5)) * 0.5f;
    p.b = float(in_.below(5)) * 0.25f;
    p.skip = in_.below(4) != 0;
    PodVector<TextHit> hits;
    const Result r = ix_.search(joined(q), p, &hits);
    if (trace_) std::fprintf(stderr, "  search k %u k1 %g b %g skip %d: %zu terms\n", p.k, p.k1, p.b, p.skip, q.size());
    check(r.ok(), "search", r.message);
    const std::vector<TextHit> want = model_.search(q, p.k, p.k1, p.b);
    bool same = hits.size() == want.size();
    for (size_t i = 0; same && i < want.size(); ++i) same = hits[i].slot == want[i].slot && hits[i].score == want[i].score;
    std::string detail;
    if (!same) {
      for (const TextHit& h : hits) detail += std::to_string(h.slot) + ":" + std::to_string(h.score) + " ";
      detail += "| want ";
      for (const TextHit& h : want) detail += std::to_string(h.slot) + ":" + std::to_string(h.score) + " ";
    }
    check(same, "search differs from the model:", detail);
    check(ix_.size() == model_.live.size(), "size");
  }

  const bool trace_ = std::getenv("TABVEC_FUZZ_TRACE") != nullptr;
  FuzzInput& in_;
  FullTextIndex ix_;
  Model model_;
};

}  // namespace
}  // namespace tabvec::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tabvec::fuzz::FuzzInput in(data, size);
  if (size > 0 && data[0] == 0xFF) {
    // Raw bytes as a section.
    tabvec::FullTextIndex ix;
    if (ix.deserialize(data + 1, size - 1).ok()) {
      std::vector<uint8_t> again(ix.serialized_size());
      ix.serialize(again.data());
      if (again.size() != size - 1 || std::memcmp(again.data(), data + 1, size - 1) != 0) std::abort();
    }
    return 0;
  }
  tabvec::fuzz::Session session(in);
  for (int steps = 0; !in.done() && steps < 200; ++steps) session.step();
  return 0;
}
