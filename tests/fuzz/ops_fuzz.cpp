// libFuzzer target: random sequences of operations on a small index, checked
// against a plain model of what the index should hold.
//
// Properties checked after every step:
//   - size, membership and metadata match the model;
//   - a failed call leaves the snapshot bytes exactly as they were;
//   - search returns distinct live slots, sorted, exactly min(k, matches) of
//     them (the exact fallback guarantees it);
//   - a snapshot loads back and serializes to the same bytes;
//   - with a memory cap, reserved bytes never exceed it.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "index.h"

namespace tabvec::fuzz {
namespace {

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "ops_fuzz: %s %s\n", what, detail.c_str());
  std::abort();
}
void check(bool condition, const char* what, const std::string& detail = {}) {
  if (!condition) fail(what, detail);
}

std::vector<uint8_t> snapshot(const Index& ix) {
  std::vector<uint8_t> bytes(ix.serialized_size());
  ix.serialize(bytes.data());
  return bytes;
}

struct Entry {
  std::vector<float> vector;
  std::string metadata;
};

class Session {
 public:
  Session(FuzzInput& in, std::unique_ptr<Index> ix) : in_(in), ix_(std::move(ix)), dim_(ix_->options().dim) {}

  void step() {
    const uint32_t op = in_.below(10);
    if (trace_) std::fprintf(stderr, "step %u (size %zu, tombstones %zu, pending %zu)\n", op, ix_->size(), ix_->tombstones(), ix_->pending());
    switch (op) {
      case 0: add(); break;
      case 1: add_batch(); break;
      case 2: upsert(); break;
      case 3: remove(); break;
      case 4: set_metadata(); break;
      case 5: search(); break;
      case 6: consolidate(); break;
      case 7: ix_->link_pending(in_.below(8)); break;
      case 8: reload(); break;
      case 9: bad_vector(); break;
    }
    check_invariants();
  }

 private:
  std::string id() { return "id" + std::to_string(in_.below(24)); }
  std::string metadata() {
    const uint32_t n = in_.below(4);
    return n == 0 ? std::string() : '"' + std::string(n * 3, char('a' + in_.below(26))) + '"';  // JSON text
  }
  std::vector<float> vector() {
    std::vector<float> v(dim_);
    for (float& x : v) x = in_.value();
    return v;
  }
  bool zero(const std::vector<float>& v) const {
    return std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; });
  }

  // Runs a call whose outcome the model predicts: `expected` is the status it
  // must return, except that a memory cap may refuse any call that grows the
  // index. A refused call must leave every byte as it was.
  template <typename Call>
  bool expect(Status expected, Call call, const char* what) {
    const std::vector<uint8_t> before = snapshot(*ix_);
    const Result r = call();
    if (trace_) std::fprintf(stderr, "  %s -> %s\n", what, status_name(r.status));
    if (r.status == expected) {
      if (!r.ok()) check(snapshot(*ix_) == before, what, "failed but changed the index");
      return r.ok();
    }
    const bool capped = r.status == Status::memory_cap_exceeded && ix_->options().max_memory_bytes > 0;
    check(capped, what, std::string("returned ") + status_name(r.status) + " (" + r.message + "), expected " +
                            status_name(expected));
    check(snapshot(*ix_) == before, what, "was refused by the cap but changed the index");
    return false;
  }

  // A float16 tier refuses components beyond its range (under cosine it keeps unit vectors).
  bool beyond_float16(const std::vector<float>& v) const {
    return ix_->options().rerank == Rerank::float16 && ix_->options().metric != Metric::cosine &&
           std::any_of(v.begin(), v.end(), [](float x) { return std::fabs(x) > kMaxFloat16; });
  }

  Status status_for_new(const std::string& key, const std::vector<float>& v) const {
    // The index validates the vector before it looks the id up.
    if (ix_->options().metric == Metric::cosine && zero(v)) return Status::zero_vector;
    if (beyond_float16(v)) return Status::invalid_argument;
    if (model_.count(key)) return Status::duplicate_id;
    return Status::ok;
  }

  void add() {
    const std::string key = id();
    const std::vector<float> v = vector();
    const std::string meta = metadata();
    if (expect(status_for_new(key, v), [&] { return ix_->add(key, v.data(), dim_, meta); }, "add"))
      model_[key] = {v, meta};
  }

  void add_batch() {
    const uint32_t n = 1 + in_.below(8);
    std::vector<std::string> keys(n), metas(n);
    std::vector<float> flat;
    Status expected = Status::ok;
    std::set<std::string> seen;
    bool repeated = false;
    for (uint32_t i = 0; i < n; ++i) {
      keys[i] = id();
      metas[i] = metadata();
      const std::vector<float> v = vector();
      flat.insert(flat.end(), v.begin(), v.end());
      // The first problem in item order decides the status, as the index checks
      // items in order; repeats within the batch are looked for after that pass.
      const Status s = status_for_new(keys[i], v);
      if (expected == Status::ok && s != Status::ok) expected = s;
      repeated |= !seen.insert(keys[i]).second;
    }
    if (expected == Status::ok && repeated) expected = Status::duplicate_id;
    std::vector<std::string_view> key_views(keys.begin(), keys.end()), meta_views(metas.begin(), metas.end());
    const bool link_now = in_.below(2) == 0;
    if (expect(expected,
               [&] { return ix_->add_batch(n, key_views.data(), flat.data(), flat.size(), meta_views.data(), link_now); },
               "add_batch")) {
      for (uint32_t i = 0; i < n; ++i)
        model_[keys[i]] = {std::vector<float>(flat.begin() + i * dim_, flat.begin() + (i + 1) * dim_), metas[i]};
    }
  }

  void upsert() {
    const std::string key = id();
    const std::vector<float> v = vector();
    const std::string meta = metadata();
    const Status expected = ix_->options().metric == Metric::cosine && zero(v) ? Status::zero_vector
                            : beyond_float16(v)                                   ? Status::invalid_argument
                                                                                  : Status::ok;
    if (expect(expected, [&] { return ix_->upsert(key, v.data(), dim_, meta); }, "upsert")) model_[key] = {v, meta};
  }

  void remove() {
    const std::string key = id();
    const Status expected = model_.count(key) ? Status::ok : Status::unknown_id;
    if (expect(expected, [&] { return ix_->remove(key); }, "remove")) model_.erase(key);
  }

  void set_metadata() {
    const std::string key = id();
    const std::string meta = metadata();
    const Status expected = model_.count(key) ? Status::ok : Status::unknown_id;
    if (expect(expected, [&] { return ix_->set_metadata(key, meta); }, "set_metadata")) model_[key].metadata = meta;
  }

  static bool accept_all(void*, uint32_t) { return true; }
  static bool accept_even(void* self, uint32_t slot) {
    const std::string_view id = static_cast<Session*>(self)->ix_->id_of(slot);
    return !id.empty() && (id.back() - '0') % 2 == 0;
  }

  void search() {
    std::vector<float> q = vector();
    q[0] = 1.0f;  // cosine rejects the zero vector
    SearchParams params;
    params.k = 1 + in_.below(12);
    params.list_size = in_.below(40);
    params.rerank_factor = 1 + in_.below(4);
    const uint32_t filter = in_.below(3);
    if (filter == 1) params.filter = {accept_all, nullptr};
    if (filter == 2) params.filter = {accept_even, this};
    SearchHits hits;
    const Result r = ix_->search(q.data(), dim_, params, &hits);
    check(r.ok(), "search failed", r.message);

    size_t eligible = 0;
    for (const auto& [key, entry] : model_) eligible += filter != 2 || (key.back() - '0') % 2 == 0;
    check(hits.size() <= std::min<size_t>(params.k, eligible), "search returned too many hits");
    check(hits.size() == std::min<size_t>(params.k, eligible), "search missed hits",
          std::to_string(hits.size()) + " of " + std::to_string(std::min<size_t>(params.k, eligible)));
    std::set<uint32_t> slots;
    for (size_t i = 0; i < hits.size(); ++i) {
      const std::string key(ix_->id_of(hits[i].slot));
      check(model_.count(key) == 1, "search returned a slot that is not live", key);
      check(filter != 2 || (key.back() - '0') % 2 == 0, "search returned a slot its filter rejected");
      check(slots.insert(hits[i].slot).second, "search returned a slot twice");
      check(std::isfinite(hits[i].distance), "search returned a non-finite distance");
      if (i > 0) {
        const Neighbor& a = hits[i - 1];
        const Neighbor& b = hits[i];
        check(a.distance < b.distance || (a.distance == b.distance && a.slot < b.slot), "hits are not in order");
      }
    }
  }

  void consolidate() {
    const size_t size = ix_->size();
    check(ix_->consolidate().ok(), "consolidate failed");
    check(ix_->size() == size, "consolidate changed the size");
    check(ix_->tombstones() == 0, "consolidate left tombstones");
  }

  void reload() {
    const std::vector<uint8_t> bytes = snapshot(*ix_);
    std::unique_ptr<Index> copy;
    const Result r = Index::deserialize(bytes.data(), bytes.size(), ix_->options().max_memory_bytes, &copy);
    check(r.ok(), "a snapshot did not load", r.message);
    check(snapshot(*copy) == bytes, "a reloaded snapshot serializes differently");
    ix_ = std::move(copy);
  }

  void bad_vector() {
    std::vector<float> v = vector();
    const bool wrong_length = in_.below(2) == 0;
    if (!wrong_length) v[in_.below(dim_)] = in_.below(2) ? NAN : -INFINITY;
    const size_t len = wrong_length ? dim_ + 1 : dim_;
    if (wrong_length) v.push_back(0.5f);
    const Status expected = wrong_length ? Status::dimension_mismatch : Status::non_finite_value;
    const std::string key = id();
    expect(expected, [&] { return ix_->add("fresh-" + key, v.data(), len); }, "add of a bad vector");
    if (model_.count(key)) expect(expected, [&] { return ix_->upsert(key, v.data(), len); }, "upsert of a bad vector");
    SearchHits hits;
    check(ix_->search(v.data(), len, SearchParams(), &hits).status == expected, "search of a bad vector");
  }

  void check_invariants() {
    check(ix_->size() == model_.size(), "size differs from the model",
          std::to_string(ix_->size()) + " vs " + std::to_string(model_.size()));
    for (const auto& [key, entry] : model_) {
      check(ix_->contains(key), "an id is missing", key);
      check(ix_->metadata_of(ix_->slot_of(key)) == entry.metadata, "metadata differs", key);
      std::vector<float> out(dim_);
      check(ix_->get_vector(key, out.data(), dim_).ok(), "get_vector failed", key);
      for (float x : out) check(std::isfinite(x), "get_vector returned a non-finite value", key);
      const bool kept_whole = ix_->options().storage == Storage::float32 || ix_->options().rerank == Rerank::float32;
      if (kept_whole && ix_->options().metric != Metric::cosine)
        check(out == entry.vector, "a float32 vector did not round-trip", key);
    }
    const uint64_t cap = ix_->options().max_memory_bytes;
    if (cap > 0)
      check(ix_->memory().total_reserved() <= cap, "reserved bytes exceed the cap",
            std::to_string(ix_->memory().total_reserved()) + " > " + std::to_string(cap));
  }

  FuzzInput& in_;
  std::unique_ptr<Index> ix_;
  uint32_t dim_;
  std::map<std::string, Entry> model_;
  // TABVEC_FUZZ_TRACE=1 prints each step, for reading a crashing input.
  const bool trace_ = std::getenv("TABVEC_FUZZ_TRACE") != nullptr;
};

}  // namespace
}  // namespace tabvec::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tabvec;
  fuzz::FuzzInput in(data, size);
  IndexOptions o;
  o.dim = 1 + in.below(6);
  o.metric = Metric(in.below(3));
  o.storage = Storage(in.below(2));
  o.rerank = o.storage == Storage::int8 ? Rerank(in.below(3)) : Rerank::none;
  o.max_degree = 2 + in.below(7);
  o.build_list_size = 1 + in.below(32);
  o.search_list_size = 1 + in.below(32);
  o.alpha = 1.0f + 0.25f * float(in.below(5));
  o.max_buffer = 1 + in.below(12);
  o.max_memory_bytes = in.below(4) == 0 ? 16384 + 4096 * uint64_t(in.below(16)) : 0;
  std::unique_ptr<Index> ix;
  if (!Index::create(o, &ix).ok()) std::abort();
  fuzz::Session session(in, std::move(ix));
  for (int steps = 0; steps < 400 && !in.done(); ++steps) session.step();
  return 0;
}
