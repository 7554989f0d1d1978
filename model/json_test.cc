// The JSON reader shared by etcd's member records and BR's deltas.
#include "model/json.h"

#include <gtest/gtest.h>

namespace model {
namespace {

// Nesting, string escapes as Go writes them, and literals kept as text (a
// uint64 member ID above 2^63 survives).
TEST(JsonTest, ReadsWhatEtcdAndBrWrite) {
  absl::StatusOr<JsonValue> value =
      ParseJson(R"( {"id":18446744073709551615,"name":"a\u003cb\"c\\","isLearner":true,"list":[{"x":[1,-2]},"s"]} )");
  ASSERT_TRUE(value.ok()) << value.status();
  ASSERT_EQ(value->kind, JsonValue::Kind::kObject);
  EXPECT_EQ(value->Find("id")->text, "18446744073709551615");
  EXPECT_EQ(value->Find("name")->text, "a<b\"c\\");
  EXPECT_EQ(value->Find("isLearner")->text, "true");
  const JsonValue* list = value->Find("list");
  ASSERT_EQ(list->array.size(), 2u);
  EXPECT_EQ(list->array[0].Find("x")->array[1].text, "-2");
  EXPECT_EQ(list->array[1].kind, JsonValue::Kind::kString);
  EXPECT_EQ(value->Find("missing"), nullptr);
}

// Malformed input is DataLoss, never a crash.
TEST(JsonTest, RefusesMalformedInput) {
  for (const char* bad : {"", "{", "[1,", "{\"a\" 1}", "{\"a\":}", "\"open", "[1] 2", "\"\\u00zz\"", "\"\\u0100\"",
                          "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]"}) {
    absl::StatusOr<JsonValue> value = ParseJson(bad);
    EXPECT_FALSE(value.ok()) << bad;
    if (!value.ok()) {
      EXPECT_TRUE(absl::IsDataLoss(value.status())) << bad;
    }
  }
}

}  // namespace
}  // namespace model
