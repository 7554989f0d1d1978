#include "cli/journal.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace cli {
namespace {

std::vector<std::string> ReadAll(const std::string& path, JournalScan* scan) {
  std::vector<std::string> records;
  absl::StatusOr<JournalScan> result = ReadJournal(path, [&](uint64_t, std::string_view payload) {
    records.emplace_back(payload);
    return absl::OkStatus();
  });
  EXPECT_TRUE(result.ok()) << result.status();
  if (result.ok()) *scan = *result;
  return records;
}

// Records read back in order; a torn or corrupt tail is dropped, and a
// writer reopened at the good prefix appends after it.
TEST(JournalTest, TornTailIsDroppedAndResumed) {
  const std::string path = testing::TempDir() + "/journal";
  std::filesystem::remove(path);
  {
    JournalWriter writer;
    ASSERT_TRUE(writer.Open(path, 0).ok());
    const std::vector<std::string> payloads = {"one", "", "three", std::string(100000, 'x')};
    for (const std::string& payload : payloads) {
      ASSERT_TRUE(writer.Append(payload).ok());
    }
  }
  JournalScan scan;
  std::vector<std::string> records = ReadAll(path, &scan);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[2], "three");
  EXPECT_EQ(records[3].size(), 100000u);
  EXPECT_FALSE(scan.torn_tail);
  const uint64_t whole = scan.good_bytes;
  EXPECT_EQ(whole, std::filesystem::file_size(path));

  // A crash in the middle of the last record.
  std::filesystem::resize_file(path, whole - 10);
  records = ReadAll(path, &scan);
  EXPECT_EQ(records.size(), 3u);
  EXPECT_TRUE(scan.torn_tail);
  const uint64_t three = scan.good_bytes;

  // A flipped byte in the third record's payload, now the last: its
  // checksum fails, and a bad last record is a torn tail too.
  std::filesystem::resize_file(path, three);
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(three - 2));
    file.put('?');
  }
  records = ReadAll(path, &scan);
  EXPECT_EQ(records.size(), 2u);
  EXPECT_TRUE(scan.torn_tail);

  JournalWriter writer;
  ASSERT_TRUE(writer.Open(path, scan.good_bytes).ok());
  ASSERT_TRUE(writer.Append("four").ok());
  writer.Close();
  records = ReadAll(path, &scan);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2], "four");
  EXPECT_FALSE(scan.torn_tail);
}

// A bad record with whole records after it is corruption, not a crash's
// torn tail: the scan fails rather than drop the good ones.
TEST(JournalTest, CorruptionInTheMiddleIsAnError) {
  const std::string path = testing::TempDir() + "/journal-middle";
  std::filesystem::remove(path);
  {
    JournalWriter writer;
    ASSERT_TRUE(writer.Open(path, 0).ok());
    for (const char* payload : {"first", "second", "third"}) ASSERT_TRUE(writer.Append(payload).ok());
  }
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(8 + 5 + 8 + 2);  // inside "second"
    file.put('?');
  }
  absl::StatusOr<JournalScan> scan = ReadJournal(path, [](uint64_t, std::string_view) { return absl::OkStatus(); });
  EXPECT_EQ(scan.status().code(), absl::StatusCode::kDataLoss) << scan.status();
}

TEST(JournalTest, MissingFileIsNotFound) {
  absl::StatusOr<JournalScan> scan =
      ReadJournal(testing::TempDir() + "/no-such-journal", [](uint64_t, std::string_view) { return absl::OkStatus(); });
  EXPECT_EQ(scan.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cli
