// Writes valid snapshots of several shapes (staged only, buffer only, graph
// with tombstones and free slots, each metric and storage) into a directory:
// a seed corpus from which the snapshot fuzzer mutates its way into every
// section of the format. Format 1 seeds, which this build can no longer
// write, come from seeds-v1/ beside this file (written by the format 1
// writer of commit 4146c2d with this program's recipe). Format 3 is format
// 4 without a re-ranking tier, and format 2 is format 3 with a CRC-32
// trailer, so their seeds are the tierless format 4 seeds relabelled and
// resealed.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "index.h"
#include "snapshot_crc.h"

using namespace tabvec;

namespace {

bool write_bytes(const std::string& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
  const std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

bool copy_v1_seed(const std::string& dir, const std::string& name) {
  std::string source(__FILE__);
  source = source.substr(0, source.find_last_of('/') + 1) + "seeds-v1/" + name + ".tabvec";
  FILE* f = std::fopen(source.c_str(), "rb");
  if (!f) return false;
  std::vector<uint8_t> bytes;
  uint8_t buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  std::fclose(f);
  return write_bytes(dir, "v1-" + name, bytes);
}

// Returns how many seeds it wrote, 0 on failure.
int write_seed(const std::string& dir, const std::string& name, const Index& ix) {
  std::vector<uint8_t> bytes(ix.serialized_size());
  ix.serialize(bytes.data());
  if (!write_bytes(dir, name, bytes)) return 0;
  if (ix.options().rerank != Rerank::none) return 1;
  for (uint8_t version : {2, 3}) {
    bytes[offsetof(SnapshotHeader, version)] = version;
    testing::reseal(bytes);
    if (!write_bytes(dir, "v" + std::to_string(version) + "-" + name, bytes)) return 0;
  }
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
    return 2;
  }
  int written = 0;
  for (int metric = 0; metric < 3; ++metric) {
    // int8 without and with each re-ranking tier, then float32.
    for (int kind = 0; kind < 4; ++kind) {
      const int storage = kind == 3 ? 1 : 0, rerank = kind == 3 ? 0 : kind;
      // 15: all staged, so the fuzzer's one add trains the quantizer and moves them into the codes and the tier.
      for (size_t n : {3, 15, 20, 90}) {
        IndexOptions o;
        o.dim = 3;
        o.metric = Metric(metric);
        o.storage = Storage(storage);
        o.rerank = Rerank(rerank);
        o.max_degree = 4;
        o.build_list_size = 8;
        o.max_buffer = 8;
        std::unique_ptr<Index> ix;
        if (!Index::create(o, &ix).ok()) return 1;
        for (size_t i = 0; i < n; ++i) {
          const float v[3] = {float(i % 7) - 3.0f, float(i % 5) * 0.5f + 0.25f, float(i % 3)};
          const std::string meta = i % 4 == 0 ? "[" + std::to_string(i) + "]" : std::string();
          if (!ix->add("v" + std::to_string(i), v, 3, meta).ok()) return 1;
        }
        // Tombstones, then a consolidation that leaves free slots, then more
        // tombstones (not at 15, which must stay 15 staged vectors).
        for (size_t i = 1; i < n && n != 15; i += 6) (void)ix->remove("v" + std::to_string(i));
        if (n > 20 && !ix->consolidate().ok()) return 1;
        for (size_t i = 2; i < n && n != 15; i += 9) (void)ix->remove("v" + std::to_string(i));
        const std::string name = "m" + std::to_string(metric) + "-s" + std::to_string(storage) +
                                 (rerank ? "-r" + std::to_string(rerank) : std::string()) + "-n" + std::to_string(n);
        const int seeds = write_seed(argv[1], name, *ix);
        if (seeds == 0) return 1;
        written += seeds;
      }
    }
  }
  // Slot counts that ask for far more memory than the bytes justify, in both formats.
  for (uint32_t version : {1u, 2u, 3u, 4u}) {
    const std::string v = "-v" + std::to_string(version);
    if (!write_bytes(argv[1], "forged-free-slots-truncated" + v, testing::forged_free_slots(3900, true, version))) return 1;
    if (!write_bytes(argv[1], "forged-free-slots" + v, testing::forged_free_slots(700, false, version))) return 1;
    written += 2;
  }
  for (const char* name : {"m0-s0-n90", "m2-s1-n90", "m1-s0-n20", "m2-s0-n3", "m1-s1-n90", "m0-s1-n20"}) {
    if (!copy_v1_seed(argv[1], name)) {
      std::fprintf(stderr, "cannot read the format 1 seed %s\n", name);
      return 1;
    }
    ++written;
  }
  std::printf("wrote %d seed snapshots to %s\n", written, argv[1]);
  return 0;
}
