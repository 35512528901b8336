#include "cutover/qmail_queue.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace vmigrate::cutover {
namespace {

namespace fs = std::filesystem;
using vmigrate::testing::TempDir;
using vmigrate::testing::WriteFile;

constexpr unsigned kSplit = 23;  // conf-split's default

void SetMtime(const std::string& path, int64_t when) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(when);
  times[0].tv_nsec = times[1].tv_nsec = 0;
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// A recipient line of a channel file: 'T' while to do, 'D' once done.
struct Rcpt {
  std::string addr;
  bool done = false;
};

// Builds <dir>/queue the way qmail-queue and qmail-send leave it: the split
// dirs 0..22 under info/, local/, remote/, mess/, flat todo/ and intd/
// (NQ:qmail-queue.c, qmail-send.c todo_do, markdone; install hier.c).
class QueueTree {
 public:
  explicit QueueTree(std::string queue) : queue_(std::move(queue)) {
    for (const char* d : {"todo", "intd", "bounce", "pid", "lock"}) fs::create_directories(queue_ + "/" + d);
    for (const char* d : {"info", "local", "remote", "mess"})
      for (unsigned s = 0; s < kSplit; ++s) fs::create_directories(Split(d, s));
  }
  const std::string& path() const { return queue_; }

  std::string Split(const std::string& dir, unsigned long id_or_split) const {
    return queue_ + "/" + dir + "/" + std::to_string(id_or_split % kSplit);
  }
  std::string File(const std::string& dir, unsigned long id) const {
    return Split(dir, id) + "/" + std::to_string(id);
  }

  // A preprocessed message: mess/, info/ ("F<sender>\0", mtime = birth) and
  // a local/ and/or remote/ file with one record per recipient.
  void AddMessage(unsigned long id, int64_t birth, const std::vector<Rcpt>& local,
                  const std::vector<Rcpt>& remote, const std::string& sender = "s@x.org") {
    WriteFile(File("mess", id), "Subject: x\n\nbody\n");
    WriteFile(File("info", id), Record('F', sender));
    SetMtime(File("info", id), birth);
    if (!local.empty()) WriteFile(File("local", id), Channel(local));
    if (!remote.empty()) WriteFile(File("remote", id), Channel(remote));
  }

  // A message qmail-queue has handed over but qmail-send not preprocessed:
  // mess/ and todo/<id> "u<uid>\0p<pid>\0F<sender>\0T<rcpt>\0..." (big_todo:
  // todo/<split>/<id>).
  std::string AddTodo(unsigned long id, int64_t when, const std::vector<std::string>& rcpts,
                      bool big_todo = false) {
    WriteFile(File("mess", id), "Subject: x\n\nbody\n");
    std::string env = Record('u', "89") + Record('p', "12345") + Record('F', "s@x.org");
    for (const std::string& r : rcpts) env += Record('T', r);
    std::string path = queue_ + "/todo/" + std::to_string(id);
    if (big_todo) {
      fs::create_directories(Split("todo", id));
      path = File("todo", id);
    }
    WriteFile(path, env);
    SetMtime(path, when);
    return path;
  }

  static std::string Record(char type, const std::string& text) {
    return std::string(1, type) + text + std::string(1, '\0');
  }
  static std::string Channel(const std::vector<Rcpt>& rcpts) {
    std::string out;
    for (const Rcpt& r : rcpts) out += Record(r.done ? 'D' : 'T', r.addr);
    return out;
  }

 private:
  std::string queue_;
};

class QmailQueueTest : public ::testing::Test {
 protected:
  QmailQueueTest() : queue_(dir_ / "queue") {}

  QueueCount Count(const std::vector<std::string>& domains) {
    Result<QueueCount> r = CountQueued(queue_.path(), domains);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : QueueCount();
  }

  TempDir dir_;
  QueueTree queue_;
  const std::vector<std::string> domains_{"example.com", "alias.org"};
};

TEST_F(QmailQueueTest, EmptyQueueCountsNothing) {
  QueueCount c = Count(domains_);
  EXPECT_EQ(c.todo, 0u);
  EXPECT_EQ(c.local, 0u);
  EXPECT_EQ(c.remote, 0u);
  EXPECT_EQ(c.oldest_birth, 0);
}

TEST_F(QmailQueueTest, CountsMessagesNotRecipients) {
  queue_.AddMessage(100, 1000,
                    {{"example.com-joe@example.com"}, {"example.com-ann@example.com"},
                     {"example.com-bob@example.com"}},
                    {});
  queue_.AddMessage(101, 1000, {}, {{"joe@example.com"}, {"ann@example.com"}});
  QueueCount c = Count(domains_);
  EXPECT_EQ(c.local, 1u);
  EXPECT_EQ(c.remote, 1u);
  EXPECT_EQ(c.todo, 0u);
}

TEST_F(QmailQueueTest, DoneRecipientsDoNotCount) {
  // All done for the domain, one to do for another domain: not ours.
  queue_.AddMessage(200, 1000,
                    {{"example.com-joe@example.com", true}, {"other.net-x@other.net", false}}, {});
  // Done and to-do mixed: one recipient of ours still to do.
  queue_.AddMessage(201, 1000,
                    {{"example.com-joe@example.com", true}, {"example.com-ann@example.com", false},
                     {"example.com-bob@example.com", true}},
                    {});
  // Every recipient done (qmail-send is about to unlink the file).
  queue_.AddMessage(202, 1000, {}, {{"joe@example.com", true}, {"ann@alias.org", true}});
  QueueCount c = Count(domains_);
  EXPECT_EQ(c.local, 1u);
  EXPECT_EQ(c.remote, 0u);
}

TEST_F(QmailQueueTest, AliasDomainAddressesMatchByTheirOwnDomain) {
  // virtualdomains "alias.org:example.com" rewrites joe@alias.org to
  // example.com-joe@alias.org (qmail-send.c rewrite).
  queue_.AddMessage(300, 1000, {{"example.com-joe@alias.org"}}, {});
  EXPECT_EQ(Count(domains_).local, 1u);
  EXPECT_EQ(Count({"example.com"}).local, 0u);
  EXPECT_EQ(Count({"alias.org"}).local, 1u);
}

TEST_F(QmailQueueTest, OtherDomainsDoNotCount) {
  queue_.AddMessage(400, 1000, {{"other.net-joe@other.net"}}, {});
  queue_.AddMessage(401, 1000, {{"example.com-joe@other.org"}}, {});  // prepend is not the domain
  queue_.AddMessage(402, 1000, {}, {{"joe@sub.example.com"}});
  queue_.AddMessage(403, 1000, {}, {{"joe@example.com.evil.net"}});
  queue_.AddMessage(404, 1000, {}, {{"joe@notexample.com"}});
  queue_.AddMessage(405, 1000, {}, {{"joe@example.com@other.net"}});
  QueueCount c = Count(domains_);
  EXPECT_EQ(c.local, 0u);
  EXPECT_EQ(c.remote, 0u);
  EXPECT_EQ(c.oldest_birth, 0);
}

TEST_F(QmailQueueTest, DomainsMatchCaseInsensitively) {
  queue_.AddMessage(500, 1000, {}, {{"Joe@EXAMPLE.Com"}});
  EXPECT_EQ(Count({"Example.COM"}).remote, 1u);
}

TEST_F(QmailQueueTest, MessageOnBothChannelsCountsInEach) {
  queue_.AddMessage(600, 1000, {{"example.com-joe@example.com"}}, {{"ann@alias.org"}});
  queue_.AddMessage(601, 1000, {{"example.com-joe@example.com"}}, {{"x@other.net"}});
  QueueCount c = Count(domains_);
  EXPECT_EQ(c.local, 2u);
  EXPECT_EQ(c.remote, 1u);
}

TEST_F(QmailQueueTest, ReadsEverySplitDir) {
  // 100 consecutive ids land in all 23 split dirs (id % 23).
  for (unsigned long id = 7000; id < 7100; ++id)
    queue_.AddMessage(id, 5000, {{"example.com-u" + std::to_string(id) + "@example.com"}}, {});
  for (unsigned s = 0; s < kSplit; ++s) ASSERT_FALSE(fs::is_empty(queue_.Split("local", s)));
  EXPECT_EQ(Count(domains_).local, 100u);
}

TEST_F(QmailQueueTest, OldestBirthIsTheOldestCountedInfoMtime) {
  queue_.AddMessage(800, 1700000300, {{"example.com-joe@example.com"}}, {});
  queue_.AddMessage(801, 1700000100, {}, {{"joe@example.com"}});
  queue_.AddMessage(802, 1600000000, {}, {{"joe@other.net"}});  // not ours: ignored
  EXPECT_EQ(Count(domains_).oldest_birth, 1700000100);
}

TEST_F(QmailQueueTest, TodoEnvelopeCountsUnrewrittenRecipients) {
  queue_.AddTodo(900, 1700000050, {"x@other.net", "Joe@Example.com"});
  queue_.AddTodo(901, 1700000000, {"x@other.net"});
  queue_.AddTodo(902, 1700000000, {"joe"});  // envnoathost is appended later: no domain yet
  queue_.AddTodo(903, 1700000010, {"ann@alias.org"}, /*big_todo=*/true);
  QueueCount c = Count(domains_);
  EXPECT_EQ(c.todo, 2u);
  EXPECT_EQ(c.oldest_birth, 1700000010);
}

TEST_F(QmailQueueTest, InterruptedPreprocessingCountsOnlyAsTodo) {
  // qmail-send crashed in todo_do after writing info/ and local/: it ignores
  // those while todo/<id> exists and redoes them (qmail-send.c pqadd).
  queue_.AddTodo(1000, 1700000000, {"joe@example.com"});
  queue_.AddMessage(1000, 1700000000, {{"example.com-joe@example.com"}}, {});
  queue_.AddTodo(1001, 1700000000, {"joe@example.com"}, /*big_todo=*/true);
  queue_.AddMessage(1001, 1700000000, {}, {{"joe@example.com"}});
  QueueCount c = Count(domains_);
  EXPECT_EQ(c.todo, 2u);
  EXPECT_EQ(c.local, 0u);
  EXPECT_EQ(c.remote, 0u);
}

TEST_F(QmailQueueTest, UnterminatedLastRecordIsIgnored) {
  // qmail-send's getln loop stops at a record without its '\0'.
  queue_.AddMessage(1100, 1000, {{"other.net-a@other.net"}}, {});
  WriteFile(queue_.File("local", 1100),
            QueueTree::Record('T', "other.net-a@other.net") + "Texample.com-joe@example.com");
  EXPECT_EQ(Count(domains_).local, 0u);
}

TEST_F(QmailQueueTest, VanishedFilesAreSkipped) {
  // A dangling symlink is an entry readdir lists but open() finds gone: what
  // qmail-send's unlink between our readdir and open looks like.
  queue_.AddMessage(1200, 1000, {{"example.com-joe@example.com"}}, {});
  fs::remove(queue_.File("local", 1200));
  fs::create_symlink("gone", queue_.File("local", 1200));  // channel file done
  queue_.AddMessage(1201, 1000, {}, {{"joe@example.com"}});
  fs::remove(queue_.File("info", 1201));
  fs::create_symlink("gone", queue_.File("info", 1201));  // message finished
  fs::create_symlink("gone", queue_.path() + "/todo/1202");  // todo/ preprocessed
  queue_.AddMessage(1203, 1000, {{"example.com-ann@example.com"}}, {});  // still there
  QueueCount c = Count(domains_);
  EXPECT_EQ(c.local, 1u);
  EXPECT_EQ(c.remote, 0u);
  EXPECT_EQ(c.todo, 0u);
}

TEST_F(QmailQueueTest, NonNumericNamesAreIgnoredAsQmailDoes) {
  WriteFile(queue_.path() + "/todo/README", QueueTree::Record('T', "joe@example.com"));
  WriteFile(queue_.Split("local", 0) + "/12x", QueueTree::Record('T', "joe@example.com"));
  EXPECT_EQ(Count(domains_).todo, 0u);
  EXPECT_EQ(Count(domains_).local, 0u);
}

TEST_F(QmailQueueTest, MissingQueueIsNotFound) {
  Result<QueueCount> r = CountQueued(dir_ / "nonexistent", domains_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_NE(r.status().message().find("nonexistent"), std::string::npos) << r.status().message();
}

TEST_F(QmailQueueTest, MissingChannelDirIsNotFound) {
  fs::remove_all(queue_.path() + "/remote");
  Result<QueueCount> r = CountQueued(queue_.path(), domains_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_NE(r.status().message().find("/remote"), std::string::npos) << r.status().message();
}

TEST_F(QmailQueueTest, UnreadableFileIsIoErrorNamingIt) {
  // A directory where a channel file belongs: open works, read fails (EISDIR).
  queue_.AddMessage(1300, 1000, {}, {});
  fs::create_directory(queue_.File("local", 1300));
  Result<QueueCount> r = CountQueued(queue_.path(), domains_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIoError);
  EXPECT_NE(r.status().message().find(queue_.File("local", 1300)), std::string::npos)
      << r.status().message();
}

class QueueLifetimeTest : public ::testing::Test {
 protected:
  int64_t Lifetime(const std::string& contents) {
    WriteFile(dir_ / "queuelifetime", contents);
    Result<int64_t> r = ReadQueueLifetime(dir_.path());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : -12345;
  }
  TempDir dir_;
};

TEST_F(QueueLifetimeTest, MissingFileIsTheDefault) {
  Result<int64_t> r = ReadQueueLifetime(dir_.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 604800);
}

TEST_F(QueueLifetimeTest, ReadsTheLeadingNumberOfTheFirstLine) {
  EXPECT_EQ(Lifetime("3600\n"), 3600);
  EXPECT_EQ(Lifetime("3600"), 3600);
  EXPECT_EQ(Lifetime("3600s\n"), 3600);
  EXPECT_EQ(Lifetime("3600 # one hour\n"), 3600);
  EXPECT_EQ(Lifetime("0\n"), 0);
  EXPECT_EQ(Lifetime("86400\n1\n"), 86400);
}

TEST_F(QueueLifetimeTest, NoLeadingDigitKeepsTheDefault) {
  // control_readint returns 0 when scan_ulong reads no digit.
  EXPECT_EQ(Lifetime(""), 604800);
  EXPECT_EQ(Lifetime("\n3600\n"), 604800);
  EXPECT_EQ(Lifetime(" 3600\n"), 604800);
  EXPECT_EQ(Lifetime("one week\n"), 604800);
  EXPECT_EQ(Lifetime("-5\n"), 604800);
}

TEST_F(QueueLifetimeTest, HugeNumbersWrapIntoAnIntAsQmailDoes) {
  EXPECT_EQ(Lifetime("4294967295\n"), -1);
  EXPECT_EQ(Lifetime("4294967296\n"), 0);
  EXPECT_EQ(Lifetime("2147483647\n"), 2147483647);
}

TEST_F(QueueLifetimeTest, UnreadableFileIsIoError) {
  fs::create_directory(dir_ / "queuelifetime");
  Result<int64_t> r = ReadQueueLifetime(dir_.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIoError);
  EXPECT_NE(r.status().message().find("queuelifetime"), std::string::npos);
}

}  // namespace
}  // namespace vmigrate::cutover
