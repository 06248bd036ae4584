// The Vamana graph (DiskANN): the beam search every insert and query walks,
// RobustPrune, linking new slots in one or two passes, and FreshDiskANN's
// repair of the graph around deleted slots.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "index.h"

namespace tabvec {

// The visited set and candidate list a walk with this list size needs.
bool Index::reserve_walk(uint32_t list_size) {
  return visited_.reserve(slot_count_) && candidates_.reserve(list_size);
}

// Room for linking or re-pruning one node whose candidate pool starts with
// `pool_size` entries: the pool and RobustPrune's factors, for that node and
// for each neighbour inter_insert re-prunes (R + 1 each), and the kept list.
bool Index::reserve_link_scratch(size_t pool_size) {
  const size_t room = std::max(pool_size, size_t(options_.max_degree) + 1);
  return pool_.reserve(room) && occlusion_.reserve(room) && pruned_.reserve(options_.max_degree);
}

// Beam search from the entry point keeping the `list_size` closest candidates
// (DiskANN's iterate_to_fixed_point). Expanded nodes go to `expanded` (the
// pool RobustPrune draws from); with result_params every scored node is
// offered to the result heap, so a filter is applied during traversal and
// rejected nodes still serve as stepping stones.
// Needs reserve_walk(list_size). Returns false only when `expanded` could not
// grow, before anything but scratch changed.
bool Index::greedy_search(const Query& q, uint32_t list_size, PodVector<Neighbor>* expanded,
                          const SearchParams* result_params) {
  visited_.start_walk();
  candidates_.reset(list_size);
  if (expanded) expanded->clear();
  const Neighbor entry{entry_point_, distance_to(q, entry_point_)};
  visited_.visit(entry_point_);
  candidates_.insert(entry);
  if (result_params) offer_result(entry.slot, entry.distance, *result_params);

  while (candidates_.has_unexpanded()) {
    const Neighbor node = candidates_.closest_unexpanded();
    if (expanded && !expanded->try_push_back(node)) return false;
    const NeighborsRef nbrs = graph_.neighbors(node.slot);
#if defined(__GNUC__) && !defined(__wasm__)
    // Native builds fetch the neighbours' vectors ahead of the distance loop
    // (hnswlib does the same); WASM has no prefetch instruction.
    for (const uint32_t n : nbrs) __builtin_prefetch(vectors_.at(n));
#endif
    for (const uint32_t n : nbrs) {
      if (!visited_.visit(n)) continue;
      const float d = distance_to(q, n);
      if (result_params) offer_result(n, d, *result_params);
      candidates_.insert({n, d});
    }
  }
  return true;
}

// RobustPrune: keep the closest candidate, set aside every candidate it
// "occludes" (alpha * d(kept, c) < d(p, c)), repeat until R are kept. Only
// linked slots qualify: tombstones are never given new edges. The choice
// lands in pruned_, for the caller to store.
// Needs reserve_link_scratch(pool.size()).
void Index::robust_prune(uint32_t p, PodVector<Neighbor>& pool, float alpha) {
  std::sort(pool.begin(), pool.end(), closer);
  size_t kept_candidates = 0;
  for (size_t i = 0; i < pool.size(); ++i) {
    const Neighbor c = pool[i];
    if (c.slot == p || state(c.slot) != SlotState::linked) continue;
    if (kept_candidates > 0 && pool[kept_candidates - 1].slot == c.slot) continue;
    bool duplicate = false;  // equal distances can separate two copies of a slot
    for (size_t j = kept_candidates; j-- > 0 && pool[j].distance == c.distance;)
      if (pool[j].slot == c.slot) duplicate = true;
    if (!duplicate) pool[kept_candidates++] = c;
  }
  pool.resize(kept_candidates);

  // DiskANN's occlude_list: a candidate's occlusion factor is the largest
  // d(p, c) / d(kept, c) over the neighbours kept so far. Candidates are taken
  // at alpha = 1 first (the most diverse, longest edges) and only then, if
  // slots remain, at factors growing by 1.2 up to alpha. Taking alpha in one
  // step would fill R with near-equidistant cluster mates in high dimensions
  // and leave clusters as islands.
  const uint32_t R = options_.max_degree;
  pruned_.clear();
  occlusion_.resize(pool.size());
  std::fill(occlusion_.begin(), occlusion_.end(), 0.0f);
  constexpr float kKept = std::numeric_limits<float>::infinity();
  // Inner product distances can be negative, where a ratio means nothing:
  // there only alpha = 1 (plain occlusion) applies.
  const float max_alpha = options_.metric == Metric::inner_product ? 1.0f : alpha;
  float current = 1.0f;
  for (;;) {
    for (size_t i = 0; i < pool.size() && pruned_.size() < R; ++i) {
      if (occlusion_[i] > current) continue;  // occluded at this alpha (or already kept)
      occlusion_[i] = kKept;
      pruned_.push_back(pool[i].slot);
      for (size_t j = i + 1; j < pool.size(); ++j) {
        if (occlusion_[j] > max_alpha) continue;
        const float d = slot_distance(pool[i].slot, pool[j].slot);
        if (options_.metric == Metric::inner_product) {
          if (d <= pool[j].distance) occlusion_[j] = kKept;
        } else {
          const float factor = d > 0 ? pool[j].distance / d : kKept;
          occlusion_[j] = std::max(occlusion_[j], factor);
        }
      }
    }
    if (pruned_.size() >= R || current >= max_alpha) break;
    current = std::min(current * 1.2f, max_alpha);
  }
}

// Adds the back edge j -> p for every new neighbour j of p, pruning j when full.
void Index::inter_insert(uint32_t p, float alpha) {
  const uint32_t R = options_.max_degree;
  const NeighborsRef added = graph_.neighbors(p);
  for (const uint32_t j : added) {
    NeighborsRef nj = graph_.neighbors(j);
    if (nj.contains(p)) continue;
    if (nj.size() < R) {
      nj.push_back(p);
      continue;
    }
    pool_.clear();  // room for R + 1 was reserved by reserve_link_scratch
    for (const uint32_t k : nj) pool_.push_back({k, slot_distance(j, k)});
    pool_.push_back({p, slot_distance(j, p)});
    robust_prune(j, pool_, alpha);
    graph_.assign(j, pruned_.data(), uint32_t(pruned_.size()));
  }
}

// Links buffered slot p into the graph; false (graph unchanged) when memory
// for it cannot be had.
bool Index::link_one(uint32_t p, float alpha) {
  if (!graph_.reserve(slot_count_)) return false;
  graph_.grow_to(slot_count_);
  // With no live slot in the graph (empty, or only tombstones) p starts it
  // afresh as the entry: linked from a tombstone it would get no edges and no
  // walk could reach it.
  if (linked_count_ == deleted_count_) {
    graph_.neighbors(p).clear();
    entry_point_ = p;
    set_state(p, SlotState::linked);
    ++linked_count_;
    return true;
  }
  if (!reserve_walk(options_.build_list_size) ||
      !greedy_search(query_for_slot(p), options_.build_list_size, &expanded_, nullptr) ||
      !reserve_link_scratch(expanded_.size()))
    return false;
  pool_.clear();
  for (const Neighbor& n : expanded_) pool_.push_back(n);
  set_state(p, SlotState::linked);
  ++linked_count_;
  robust_prune(p, pool_, alpha);
  graph_.assign(p, pruned_.data(), uint32_t(pruned_.size()));
  inter_insert(p, alpha);
  return true;
}

// Second Vamana pass: search for p in the finished first-pass graph and
// re-prune with alpha > 1, which adds the long edges that make search converge fast.
bool Index::refine_one(uint32_t p) {
  const NeighborsRef current = graph_.neighbors(p);
  if (!reserve_walk(options_.build_list_size) ||
      !greedy_search(query_for_slot(p), options_.build_list_size, &expanded_, nullptr) ||
      !reserve_link_scratch(expanded_.size() + current.size()))
    return false;
  pool_.clear();
  for (const Neighbor& n : expanded_) pool_.push_back(n);
  for (const uint32_t n : current) pool_.push_back({n, slot_distance(p, n)});
  robust_prune(p, pool_, options_.alpha);
  graph_.assign(p, pruned_.data(), uint32_t(pruned_.size()));
  inter_insert(p, options_.alpha);
  return true;
}

// Entry point: the stored vector nearest the centroid (an approximate medoid),
// among linked slots and, at the start of a bulk build, buffered ones too.
// False (entry point unchanged) when memory for the centroid cannot be had.
bool Index::refresh_entry_point(bool include_buffered) {
  if (!centroid_.try_resize(options_.dim) || !decoded_.try_resize(options_.dim) ||
      !normalized_.try_resize(options_.dim))
    return false;
  std::fill(centroid_.begin(), centroid_.end(), 0.0);
  size_t count = 0;
  auto eligible = [this, include_buffered](uint32_t s) {
    const SlotState st = state(s);
    return st == SlotState::linked || (st == SlotState::unlinked && include_buffered);
  };
  auto load = [this](uint32_t s) {
    if (options_.storage == Storage::int8) {
      quantizer_.decode(reinterpret_cast<const int8_t*>(vectors_.at(s)), options_.dim, decoded_.data());
    } else {
      std::memcpy(decoded_.data(), vectors_.at(s), size_t(options_.dim) * 4);
    }
  };
  for (uint32_t s = 0; s < slot_count_; ++s) {
    if (!eligible(s)) continue;
    load(s);
    for (uint32_t i = 0; i < options_.dim; ++i) centroid_[i] += decoded_[i];
    ++count;
  }
  if (count == 0) {
    // Only tombstones (or nothing) left in the graph: a tombstone stays the
    // entry, as search walks through tombstones, until consolidate frees it.
    entry_point_ = kNoSlot;
    for (uint32_t s = 0; s < slot_count_ && entry_point_ == kNoSlot; ++s) {
      if (state(s) == SlotState::deleted) entry_point_ = s;
    }
    return true;
  }
  PodVector<float>& mean = normalized_;
  for (uint32_t i = 0; i < options_.dim; ++i) mean[i] = float(centroid_[i] / double(count));
  float best = INFINITY;
  uint32_t best_slot = kNoSlot;
  for (uint32_t s = 0; s < slot_count_; ++s) {
    if (!eligible(s)) continue;
    load(s);
    const float d = scalar::l2_sq_f32(decoded_.data(), mean.data(), options_.dim);
    if (best_slot == kNoSlot || d < best) {
      best = d;
      best_slot = s;
    }
  }
  entry_point_ = best_slot;
  entry_refresh_at_ = std::max<size_t>(2 * linked_count_, 64);
  return true;
}

size_t Index::pending() const {
  // A storage tier's staged vectors wait for a write to train the quantizer:
  // their rows must reach the writer (see link_pending).
  const size_t buffered = (stores_rows() ? 0 : staged_slots_.size()) + unlinked_.size();
  // A bulk round (see link_pending) also re-prunes every node in pass 2.
  const bool two_pass = round_.active ? round_.two_pass : (buffered > linked_count_ && buffered > 1);
  if (!two_pass) return buffered;
  // Before pass 2 starts: it will visit every slot there is by then.
  const size_t pass2 = round_.pass2_end > 0 ? round_.pass2_end - round_.pass2_cursor : slot_count_;
  return buffered + pass2;
}

size_t Index::link_pending(size_t budget) {
  link_stalled_ = false;
  auto stall = [this] {
    link_stalled_ = true;
    return pending();
  };
  if (!staged_slots_.empty() && !stores_rows()) {
    if (!unlinked_.reserve(unlinked_.size() + staged_slots_.size())) return stall();
    if (!quantizer_.trained()) quantizer_.train(options_.metric, [this] {
        QuantizerRange r;
        for (size_t i = 0; i < staged_slots_.size(); ++i) extend_range(r, &staged_vectors_[i * options_.dim], options_.dim);
        return r;
      }());
    encode_staged(nullptr);
  }
  size_t done = 0;
  while (done < budget) {
    if (!round_.active) {
      if (unlinked_.size() == 0) break;
      // A round that brings more new vectors than the graph holds is a bulk
      // build: pass 1 with alpha = 1 then pass 2 with alpha, as in Vamana.
      const bool two_pass = unlinked_.size() > linked_count_ && unlinked_.size() > 1;
      if (two_pass) {
        // Link the medoid first so that it can be the entry point; the old
        // entry (none, for an empty graph) leads the search that links it.
        const uint32_t old_entry = entry_point_;
        const size_t old_refresh_at = entry_refresh_at_;
        if (!refresh_entry_point(/*include_buffered=*/true)) return stall();
        const uint32_t medoid = entry_point_;
        entry_point_ = old_entry;
        if (state(medoid) == SlotState::unlinked) {
          if (!link_one(medoid, 1.0f)) {
            entry_point_ = old_entry;
            entry_refresh_at_ = old_refresh_at;
            return stall();
          }
          for (size_t i = 0; i < unlinked_.size(); ++i) {
            if (unlinked_.get(i) != medoid) continue;
            unlinked_.set(i, unlinked_.back());
            unlinked_.pop_back();
            break;
          }
          ++done;
        }
        entry_point_ = medoid;
      }
      round_ = LinkRound();
      round_.active = true;
      round_.two_pass = two_pass;
      round_.pass1_alpha = two_pass ? 1.0f : options_.alpha;
      continue;
    }
    if (unlinked_.size() > 0) {
      if (!link_one(unlinked_.back(), round_.pass1_alpha)) return stall();
      unlinked_.pop_back();
      ++done;
      continue;
    }
    if (round_.two_pass) {
      if (round_.pass2_end == 0) round_.pass2_end = slot_count_;
      if (round_.pass2_cursor < round_.pass2_end) {
        const uint32_t s = uint32_t(round_.pass2_cursor);
        if (state(s) == SlotState::linked) {
          if (!refine_one(s)) return stall();
          ++done;
        }
        ++round_.pass2_cursor;
        continue;
      }
    }
    round_ = LinkRound();
    // Upkeep: without memory for it the entry point stays as it is.
    if (linked_count_ >= entry_refresh_at_) (void)refresh_entry_point();
  }
  return pending();
}

// FreshDiskANN's delete consolidation: every live node that points at a
// tombstone is repaired (repair_node); then the tombstones' slots are freed
// for reuse.
Result Index::consolidate(ConsolidateReport* out) {
  ConsolidateReport report;
  if (deleted_count_ > 0) {
    const uint32_t R = options_.max_degree;
    // A repaired node's pool takes at most R candidates from each of its R
    // neighbours; the entry point may need a new medoid.
    if (!reserve_link_scratch(size_t(R) * R) || !free_slots_.reserve(free_slots_.size() + deleted_count_) ||
        !centroid_.reserve(options_.dim) || !decoded_.reserve(options_.dim) || !normalized_.reserve(options_.dim))
      return Result::out_of_memory();
    for (uint32_t p = 0; p < slot_count_; ++p) {
      if (state(p) == SlotState::linked && repair_node(p)) ++report.nodes_repaired;
    }
    bool entry_removed = false;
    // Last slot first: tombstones at the end shrink the slot count, and their
    // chunks go back (free_slot), rather than all joining the free list.
    for (uint32_t s = uint32_t(slot_count_); s-- > 0;) {
      if (state(s) != SlotState::deleted) continue;
      entry_removed |= s == entry_point_;
      free_slot(s);
      --linked_count_;
      ++report.tombstones_removed;
    }
    deleted_count_ = 0;
    if (entry_removed || linked_count_ == 0) (void)refresh_entry_point();  // reserved above: cannot fail
  }
  ids_.compact_if_wasteful();
  metadata_.compact_if_wasteful();
  if (out) *out = report;
  return Result::success();
}

// If linked slot p points at a tombstone, replaces its neighbours with its
// live ones plus the tombstones' live neighbours, pruned to R; true if it did.
// Needs reserve_link_scratch(R * R).
bool Index::repair_node(uint32_t p) {
  const NeighborsRef nbrs = graph_.neighbors(p);
  bool touches_tombstone = false;
  for (const uint32_t n : nbrs) touches_tombstone |= state(n) == SlotState::deleted;
  if (!touches_tombstone) return false;
  pool_.clear();
  for (const uint32_t n : nbrs) {
    if (state(n) == SlotState::linked) {
      pool_.push_back({n, slot_distance(p, n)});
      continue;
    }
    for (const uint32_t m : graph_.neighbors(n)) {
      if (m != p && state(m) == SlotState::linked) pool_.push_back({m, slot_distance(p, m)});
    }
  }
  std::sort(pool_.begin(), pool_.end(), [](const Neighbor& a, const Neighbor& b) { return a.slot < b.slot; });
  const Neighbor* distinct_end =
      std::unique(pool_.begin(), pool_.end(), [](const Neighbor& a, const Neighbor& b) { return a.slot == b.slot; });
  pool_.resize(size_t(distinct_end - pool_.begin()));
  if (pool_.size() <= options_.max_degree) {
    pruned_.clear();
    for (const Neighbor& n : pool_) pruned_.push_back(n.slot);
  } else {
    robust_prune(p, pool_, options_.alpha);
  }
  graph_.assign(p, pruned_.data(), uint32_t(pruned_.size()));
  return true;
}

}  // namespace tabvec
