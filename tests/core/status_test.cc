#include "core/status.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "core/exit_code.h"

namespace vmigrate {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kOk);
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_TRUE(Status::OK().ok());
}

TEST(StatusTest, FactoriesSetCodeAndMessage) {
  EXPECT_EQ(Status::NotFound("m").code(), Status::Code::kNotFound);
  EXPECT_EQ(Status::InvalidInput("m").code(), Status::Code::kInvalidInput);
  EXPECT_EQ(Status::Corrupt("m").code(), Status::Code::kCorrupt);
  EXPECT_EQ(Status::Unsupported("m").code(), Status::Code::kUnsupported);
  EXPECT_EQ(Status::Conflict("m").code(), Status::Code::kConflict);
  EXPECT_EQ(Status::IoError("m").code(), Status::Code::kIoError);
  EXPECT_EQ(Status::Interrupted("m").code(), Status::Code::kInterrupted);
  EXPECT_EQ(Status::DataRefused("m").code(), Status::Code::kDataRefused);
  Status s = Status::Corrupt("bad quota");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "bad quota");
  EXPECT_EQ(s.ToString(), "bad quota");
}

// A data limit is its own exit code, never 2 ("usage"): issue 12.
TEST(StatusTest, DataRefusedExitsWithEight) {
  EXPECT_EQ(static_cast<int>(ToExit(Status::DataRefused("m"))), 8);
  EXPECT_EQ(ToExit(Status::DataRefused("m")), Exit::kDataRefused);
}

TEST(StatusTest, WithContextReadsFromTheOutsideIn) {
  Status s = Status::Corrupt("bad quota").WithContext("vpasswd line 3").WithContext("example.com");
  EXPECT_EQ(s.code(), Status::Code::kCorrupt);
  EXPECT_EQ(s.message(), "example.com: vpasswd line 3: bad quota");
}

TEST(StatusTest, WithContextOnOkIsNoOp) {
  Status s = Status::OK().WithContext("ctx");
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.message(), "");
}

TEST(StatusTest, WithContextLeavesOriginalUnchanged) {
  Status s = Status::IoError("disk");
  Status t = s.WithContext("writing");
  EXPECT_EQ(s.message(), "disk");
  EXPECT_EQ(t.message(), "writing: disk");
}

TEST(StatusTest, ResultHoldsValue) {
  Result<std::string> r = std::string("value");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(*r, "value");
  EXPECT_EQ(r.value(), "value");
  EXPECT_EQ(r->size(), 5u);
  r.value() += "!";
  EXPECT_EQ(*r, "value!");
}

TEST(StatusTest, ResultHoldsError) {
  Result<int> r = Status::NotFound("nope");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(r.status().message(), "nope");
}

TEST(StatusTest, ResultWithMoveOnlyType) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, 7);
  std::unique_ptr<int> taken = std::move(*r);
  EXPECT_EQ(*taken, 7);
}

Status FailsWhen(bool fail, int* reached) {
  VM_RETURN_IF_ERROR(fail ? Status::Conflict("exists") : Status::OK());
  ++*reached;
  return Status::OK();
}

TEST(StatusTest, ReturnIfErrorMacro) {
  int reached = 0;
  EXPECT_TRUE(FailsWhen(false, &reached).ok());
  EXPECT_EQ(reached, 1);
  Status s = FailsWhen(true, &reached);
  EXPECT_EQ(s.code(), Status::Code::kConflict);
  EXPECT_EQ(reached, 1);
}

}  // namespace
}  // namespace vmigrate
