#include "core/errno_status.h"

#include <cerrno>
#include <cstring>
#include <system_error>

#include <gtest/gtest.h>

namespace vmigrate {
namespace {

TEST(ErrnoStatusTest, EnoentIsNotFound) {
  Status s = FromErrno("cannot open /x/y", ENOENT);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), std::string("cannot open /x/y: ") + std::strerror(ENOENT));
}

TEST(ErrnoStatusTest, OtherErrnosAreIoError) {
  for (int err : {EACCES, EIO, ENOSPC, EEXIST, EPERM, ENOTDIR}) {
    Status s = FromErrno("writing f", err);
    EXPECT_EQ(s.code(), Status::Code::kIoError) << err;
    EXPECT_EQ(s.message().rfind("writing f: ", 0), 0u) << s.message();
    EXPECT_NE(s.message().find(std::strerror(err)), std::string::npos);
  }
}

TEST(ErrnoStatusTest, FromErrorCodeSystemCategory) {
  Status nf = FromErrorCode("stat a", std::error_code(ENOENT, std::system_category()));
  EXPECT_EQ(nf.code(), Status::Code::kNotFound);
  EXPECT_NE(nf.message().find("stat a"), std::string::npos);
  Status io = FromErrorCode("stat b", std::make_error_code(std::errc::permission_denied));
  EXPECT_EQ(io.code(), Status::Code::kIoError);
  EXPECT_NE(io.message().find("stat b"), std::string::npos);
  Status gnf = FromErrorCode("stat c", std::make_error_code(std::errc::no_such_file_or_directory));
  EXPECT_EQ(gnf.code(), Status::Code::kNotFound);
}

TEST(ErrnoStatusTest, FromErrorCodeOtherCategoryIsIoError) {
  Status s = FromErrorCode("reading", std::make_error_code(std::io_errc::stream));
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_EQ(s.message().rfind("reading: ", 0), 0u) << s.message();
}

}  // namespace
}  // namespace vmigrate
