// The staging ring of the CUDA backend's uploads (kernels/upload_ring.h), as bookkeeping: a
// reserved region never overlaps an upload still pending, uploads are waited for oldest first,
// and only as many as the region needs.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/upload_ring.h"
#include "util/util.h"

namespace chamber {
namespace {

// Random upload sizes (some the whole ring, some a byte) against a model of which uploads the
// device may still be reading: every upload not yet waited for.
TEST(UploadRing, ARegionNeverOverlapsAPendingUpload) {
  Rng rng(7);
  const size_t capacity = 1000;
  UploadRing<int> ring;
  ring.capacity = capacity;
  struct Upload {
    size_t begin, end;
    bool done;
  };
  std::vector<Upload> uploads;
  int waits = 0;
  for (int i = 0; i < 5000; i++) {
    size_t bytes = 1 + rng.below(i % 50 == 0 ? capacity : 300);
    int last_waited = -1;
    size_t begin = ring.reserve(bytes, [&](int token) {
      EXPECT_GT(token, last_waited) << "uploads are waited for oldest first";
      EXPECT_FALSE(uploads[token].done);
      last_waited = token;
      uploads[token].done = true;
      waits++;
    });
    ASSERT_LE(begin + bytes, capacity);
    for (const Upload& u : uploads) {
      if (!u.done) {
        ASSERT_TRUE(u.end <= begin || u.begin >= begin + bytes) << "upload " << i;
      }
    }
    uploads.push_back({begin, begin + bytes, false});
    ring.push(begin, bytes, i);
  }
  // Waits happen only when the ring wraps onto its own pending uploads: far fewer than uploads.
  EXPECT_GT(waits, 0);
  EXPECT_LT(waits, 5000);
  // Every upload was either waited for or is still pending, once.
  EXPECT_EQ((int)ring.pending.size() + waits, 5000);
}

// Small uploads go one after another without a wait until the ring is full; the next one waits
// for exactly the oldest upload it overwrites.
TEST(UploadRing, WaitsOnlyForWhatItOverwrites) {
  UploadRing<int> ring;
  ring.capacity = 100;
  std::vector<int> waited;
  auto wait = [&](int token) { waited.push_back(token); };
  for (int i = 0; i < 4; i++) {
    size_t begin = ring.reserve(25, wait);
    EXPECT_EQ(begin, 25u * i);
    ring.push(begin, 25, i);
  }
  EXPECT_TRUE(waited.empty());
  EXPECT_EQ(ring.reserve(30, wait), 0u);  // wraps: overwrites uploads 0 and 1
  EXPECT_EQ(waited, (std::vector<int>{0, 1}));
  ring.push(0, 30, 4);
  EXPECT_EQ(ring.reserve(10, wait), 30u);  // within upload 1's old region, already waited for
  EXPECT_EQ(waited, (std::vector<int>{0, 1}));
  ring.push(30, 10, 5);
  EXPECT_EQ(ring.reserve(20, wait), 40u);  // [40, 60) overlaps upload 1's old region, done, and 2
  EXPECT_EQ(waited, (std::vector<int>{0, 1, 2}));
}

}  // namespace
}  // namespace chamber
