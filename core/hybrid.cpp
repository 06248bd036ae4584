#include "hybrid.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace tabvec {

namespace {

Result corrupt(const std::string& what) {
  return Result::failure(Status::corrupt_snapshot, "the snapshot of a store with text is corrupt: " + what);
}

// The text index asks the store's cap for its extra bytes, counting what the
// Index holds too.
Result check_both(void* context, uint64_t extra) {
  const HybridIndex* h = static_cast<const HybridIndex*>(context);
  const uint64_t cap = h->max_memory_bytes();
  if (cap == 0) return Result::success();
  const uint64_t reserved = h->index().memory().total_reserved() + h->text_memory().reserved;
  if (reserved + extra <= cap) return Result::success();
  return Result::failure(Status::memory_cap_exceeded, "this needs up to " + std::to_string(extra) + " more bytes; " +
                                                          std::to_string(reserved) + " are reserved and the cap is " +
                                                          std::to_string(cap));
}

}  // namespace

Result HybridIndex::check_text_options(const TextOptions& text) {
  if (text.language > kMaxTextLanguage)
    return Result::failure(Status::invalid_argument, "the text language " + std::to_string(text.language) + " is unknown");
  if (!(text.k1 >= 0 && text.k1 <= kMaxBm25K1))
    return Result::failure(Status::invalid_argument, "k1 must be 0.." + std::to_string(int(kMaxBm25K1)));
  if (!(text.b >= 0 && text.b <= 1)) return Result::failure(Status::invalid_argument, "b must be 0..1");
  return Result::success();
}

Result HybridIndex::create(const IndexOptions& options, const TextOptions& text, std::unique_ptr<HybridIndex>* out) {
  if (Result r = check_text_options(text); !r.ok()) return r;
  std::unique_ptr<Index> index;
  if (Result r = Index::create(options, &index); !r.ok()) return r;
  std::unique_ptr<HybridIndex> h(new (std::nothrow) HybridIndex());
  if (!h) return Result::out_of_memory();
  h->index_ = std::move(index);
  h->text_options_ = text;
  h->max_memory_bytes_ = options.max_memory_bytes;
  h->text_.set_memory_check({check_both, h.get()});
  *out = std::move(h);
  return Result::success();
}

Result HybridIndex::assemble(std::unique_ptr<Index> index, const TextOptions& text, const uint8_t* section,
                             size_t section_bytes, uint64_t max_memory_bytes, std::unique_ptr<HybridIndex>* out) {
  if (Result r = check_text_options(text); !r.ok()) return Result::failure(Status::corrupt_snapshot, r.message);
  std::unique_ptr<HybridIndex> h(new (std::nothrow) HybridIndex());
  if (!h) return Result::out_of_memory();
  h->index_ = std::move(index);
  h->text_options_ = text;
  h->max_memory_bytes_ = max_memory_bytes;
  h->text_.set_memory_check({check_both, h.get()});
  if (Result r = h->text_.deserialize(section, section_bytes); !r.ok()) return r;
  // Every text belongs to a stored vector's slot.
  const Index& ix = *h->index_;
  size_t texts = 0;
  for (uint32_t slot = 0; slot < ix.slot_count(); ++slot) {
    if (!h->text_.has(slot)) continue;
    if (ix.id_of(slot).empty()) return corrupt("slot " + std::to_string(slot) + " has a text but no vector");
    ++texts;
  }
  if (texts != h->text_.size()) return corrupt("it has texts past the last vector");
  h->cap_index();
  *out = std::move(h);
  return Result::success();
}

void HybridIndex::cap_index() {
  if (max_memory_bytes_ == 0) return;
  const uint64_t text = text_.memory().reserved;
  // A cap of 1 byte refuses every reservation: the text holds it all.
  index_->set_max_memory_bytes(text < max_memory_bytes_ ? max_memory_bytes_ - text : 1);
}

Result HybridIndex::prepare(std::string_view id, const float* vector, size_t len, std::string_view metadata,
                            DocumentText text, bool replace) {
  if (!text.present) return Result::success();
  // Bad input is refused as such before the text's memory is asked for.
  if (Result r = FullTextIndex::check_document(text.terms); !r.ok()) return r;
  if (Result r = index_->check_write(id, vector, len, metadata, replace); !r.ok()) return r;
  // A new vector's slot is at most slot_count() (upsert frees the old one first).
  return text_.prepare(uint32_t(std::min<size_t>(index_->slot_count(), kMaxTextSlots - 1)), text.terms);
}

void HybridIndex::upkeep() {
  if (text_.cleanup_due()) (void)text_.cleanup();
}

Result HybridIndex::add(std::string_view id, const float* vector, size_t len, std::string_view metadata,
                        DocumentText text, uint8_t* rows) {
  if (Result r = prepare(id, vector, len, metadata, text, false); !r.ok()) return r;
  cap_index();
  if (Result r = index_->add(id, vector, len, metadata, rows); !r.ok()) {
    // A prepare left standing would change how a later remove() behaves.
    text_.cancel();
    return r;
  }
  if (text.present) text_.commit(index_->slot_of(id));
  upkeep();
  return Result::success();
}

Result HybridIndex::upsert(std::string_view id, const float* vector, size_t len, std::string_view metadata,
                           DocumentText text, uint8_t* rows) {
  const uint32_t old = index_->slot_of(id);
  if (Result r = prepare(id, vector, len, metadata, text, true); !r.ok()) return r;
  cap_index();
  if (Result r = index_->upsert(id, vector, len, metadata, rows); !r.ok()) {
    text_.cancel();
    return r;
  }
  if (old != IdMap::kNotFound && text_.has(old)) (void)text_.remove(old);
  if (text.present) text_.commit(index_->slot_of(id));
  upkeep();
  return Result::success();
}

Result HybridIndex::add_batch(size_t n, const std::string_view* ids, const float* vectors, size_t len,
                              const std::string_view* metadata, const DocumentText* texts, bool link_now,
                              uint8_t* rows) {
  if (texts) {
    for (size_t i = 0; i < n; ++i) {
      if (!texts[i].present) continue;
      if (Result r = FullTextIndex::check_document(texts[i].terms); !r.ok())
        return Result::failure(r.status, "the text of document " + std::to_string(i) + ": " + r.message);
    }
  }
  // Taken first, so that taking the batch back below cannot fail.
  if (Result r = index_->reserve_removals(n); !r.ok()) return r;
  cap_index();
  if (Result r = index_->add_batch(n, ids, vectors, len, metadata, link_now, rows); !r.ok()) return r;
  if (!texts) return Result::success();
  for (size_t i = 0; i < n; ++i) {
    if (!texts[i].present) continue;
    Result r = text_.add(index_->slot_of(ids[i]), texts[i].terms);
    if (r.ok()) continue;
    // Out of memory (or over the cap) for a text: take the batch back, newest first.
    for (size_t j = i; j-- > 0;) {
      if (texts[j].present) (void)text_.remove(index_->slot_of(ids[j]));
    }
    for (size_t j = n; j-- > 0;) (void)index_->remove(ids[j]);
    return r;
  }
  // No upkeep here: until the caller's batch is complete it may take the
  // batch back (newest first), which restores the text index exactly only
  // while its documents are still the delta's newest. The caller runs
  // upkeep() once the batch is written (wasm/bindings.cpp: linkDue).
  return Result::success();
}

Result HybridIndex::remove(std::string_view id) {
  const uint32_t slot = index_->slot_of(id);
  if (Result r = index_->remove(id); !r.ok()) return r;
  // No upkeep: a batch taken back is removed newest first, which restores the
  // text index exactly only while no cleanup merges the rest meanwhile.
  if (text_.has(slot)) (void)text_.remove(slot);
  return Result::success();
}

Result HybridIndex::consolidate(ConsolidateReport* report) {
  cap_index();
  if (Result r = index_->consolidate(report); !r.ok()) return r;
  // An explicit consolidate leaves the text index compact, whatever led to it.
  (void)text_.cleanup();
  return Result::success();
}

Result HybridIndex::search_text(std::string_view query, uint32_t k, TextFilter filter, PodVector<TextHit>* out) {
  // A large batch leaves a large delta, which every search would scan.
  upkeep();
  TextSearchParams p;
  p.k = k;
  p.k1 = text_options_.k1;
  p.b = text_options_.b;
  p.filter = filter;
  return text_.search(query, p, out);
}

// ---------------------------------------------------------------------------
// Snapshot.

size_t HybridIndex::serialize_start() {
  const size_t index_bytes = writer_.start(*index_);
  const size_t text_bytes = text_.serialized_size();
  text_cursor_ = {};
  header_ = {};
  std::memcpy(header_.magic, kHybridMagic, 8);
  header_.version = kHybridVersion;
  header_.header_bytes = sizeof(HybridHeader);
  header_.language = text_options_.language;
  header_.k1 = text_options_.k1;
  header_.b = text_options_.b;
  header_.tokenizer = text_options_.tokenizer;
  header_.index_bytes = index_bytes;
  header_.text_bytes = text_bytes;
  written_ = 0;
  checksum_ = {};
  return sizeof(HybridHeader) + index_bytes + text_bytes + 4;
}

size_t HybridIndex::serialize_write(uint8_t* out, size_t len) {
  const size_t header_end = sizeof(HybridHeader);
  const size_t index_end = header_end + header_.index_bytes;
  const size_t text_end = index_end + header_.text_bytes;
  size_t done = 0;
  while (done < len) {
    const size_t at = written_;
    size_t n = 0;
    if (at < header_end) {
      n = std::min(len - done, header_end - at);
      std::memcpy(out + done, reinterpret_cast<const uint8_t*>(&header_) + at, n);
    } else if (at < index_end) {
      n = writer_.write(out + done, std::min(len - done, index_end - at));
    } else if (at < text_end) {
      n = text_.serialize_piece(&text_cursor_, out + done, std::min(len - done, text_end - at));
    } else if (at < text_end + 4) {
      if (at == text_end) {
        const uint32_t sum = uint32_t(checksum_.digest());
        std::memcpy(trailer_, &sum, 4);
      }
      n = std::min(len - done, text_end + 4 - at);
      std::memcpy(out + done, trailer_ + (at - text_end), n);
    }
    if (n == 0) break;
    if (at < text_end) checksum_.update(out + done, n);
    done += n;
    written_ += n;
  }
  return done;
}

// ---------------------------------------------------------------------------
// Loading.

Result HybridLoader::start(uint64_t length, uint64_t max_memory_bytes, HybridLoader* out) {
  if (length < sizeof(HybridHeader) + 4) return corrupt("it is " + std::to_string(length) + " bytes, too short");
  *out = HybridLoader();
  out->length_ = length;
  out->max_memory_bytes_ = max_memory_bytes;
  return Result::success();
}

Result HybridLoader::fail(Result r) {
  failure_ = r;
  return r;
}

Result HybridLoader::feed(const uint8_t* bytes, size_t n) {
  if (!failure_.ok()) return failure_;
  if (n > length_ - fed_) return fail(corrupt("it is longer than its stated " + std::to_string(length_) + " bytes"));
  const uint64_t header_end = sizeof(HybridHeader);
  while (n > 0) {
    const uint64_t at = fed_;
    size_t take;
    if (at < header_end) {
      take = size_t(std::min<uint64_t>(n, header_end - at));
      std::memcpy(reinterpret_cast<uint8_t*>(&header_) + at, bytes, take);
      if (at + take == header_end) {
        const HybridHeader& h = header_;
        if (std::memcmp(h.magic, kHybridMagic, 8) != 0) return fail(corrupt("its magic is wrong"));
        if (h.version != kHybridVersion)
          return fail(Result::failure(Status::unsupported_version,
                                      "the store's text was saved in format " + std::to_string(h.version) +
                                          "; this version of tabvec reads format " + std::to_string(kHybridVersion)));
        if (h.header_bytes != sizeof(HybridHeader)) return fail(corrupt("its header size is wrong"));
        if (h.index_bytes > length_ || h.text_bytes > length_ ||
            header_end + h.index_bytes + h.text_bytes + 4 != length_)
          return fail(corrupt("its sections do not add up to its length"));
        if (max_memory_bytes_ != 0 && h.text_bytes > max_memory_bytes_)
          return fail(Result::failure(Status::memory_cap_exceeded, "its text section alone is over the memory cap"));
        if (Result r = SnapshotLoader::start(h.index_bytes, max_memory_bytes_, &index_); !r.ok()) return fail(r);
        if (!section_.reserve(size_t(h.text_bytes))) return fail(Result::out_of_memory());
      }
    } else if (at < header_end + header_.index_bytes) {
      take = size_t(std::min<uint64_t>(n, header_end + header_.index_bytes - at));
      if (Result r = index_.feed(bytes, take); !r.ok()) return fail(r);
    } else if (at < header_end + header_.index_bytes + header_.text_bytes) {
      take = size_t(std::min<uint64_t>(n, header_end + header_.index_bytes + header_.text_bytes - at));
      const size_t was = section_.size();
      section_.resize(was + take);
      std::memcpy(section_.data() + was, bytes, take);
    } else {
      const uint64_t trailer_at = at - (header_end + header_.index_bytes + header_.text_bytes);
      take = size_t(std::min<uint64_t>(n, 4 - trailer_at));
      std::memcpy(trailer_ + trailer_at, bytes, take);
    }
    if (at < length_ - 4) checksum_.update(bytes, size_t(std::min<uint64_t>(take, length_ - 4 - at)));
    bytes += take;
    n -= take;
    fed_ += take;
  }
  return Result::success();
}

Result HybridLoader::finish(std::unique_ptr<HybridIndex>* out) {
  if (!failure_.ok()) return failure_;
  if (fed_ != length_) return fail(corrupt("it ended after " + std::to_string(fed_) + " of " + std::to_string(length_) + " bytes"));
  uint32_t stored;
  std::memcpy(&stored, trailer_, 4);
  if (stored != uint32_t(checksum_.digest())) return fail(corrupt("its checksum does not match its bytes"));
  std::unique_ptr<Index> index;
  if (Result r = index_.finish(&index); !r.ok()) return fail(r);
  TextOptions text;
  text.language = header_.language;
  text.k1 = header_.k1;
  text.b = header_.b;
  text.tokenizer = header_.tokenizer;
  Result r = HybridIndex::assemble(std::move(index), text, section_.data(), section_.size(), max_memory_bytes_, out);
  section_ = PodVector<uint8_t>();
  return r.ok() ? r : fail(r);
}

}  // namespace tabvec
