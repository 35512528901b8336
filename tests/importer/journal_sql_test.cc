// The SQL step of the commit journal (a MySQL target): the journal names
// the domain and the dom_<uid> row, and recovery takes the domain's rows
// back through UserStore::RemoveDomain, putting dom_<uid> back the way
// domains/.dir-control is put back on a cdb target. A fake store records
// what recovery asks of it; the real MySQL store is tested on its own and
// through the crash tests.
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "importer/journal.h"
#include "support/test_support.h"
#include "vpopmail/dir_control.h"
#include "vpopmail/user_store.h"

namespace vmigrate {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

// dir_control rows and "does the domain have rows", in memory.
class FakeSqlStore : public vpopmail::UserStore {
 public:
  std::map<std::string, std::string> dir_control;  // row name -> .dir-control text
  std::map<std::string, bool> has_rows;             // domain -> users etc. present
  struct Removal {
    std::string domain;
    unsigned long uid;
    std::optional<std::string> dom_text;
  };
  std::vector<Removal> removals;

  std::string Describe() const override { return "fake MySQL"; }
  std::string Backend() const override { return "mysql"; }
  std::string Layout() const override { return "many"; }
  bool KeepsDirControlFiles() const override { return false; }
  Result<std::optional<std::string>> ReadDirControl(const qmail::DomainLocation& where) override {
    auto it = dir_control.find(where.domain);
    if (it == dir_control.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Result<std::optional<std::string>> ReadDomainsDirControl(unsigned long uid) override {
    auto it = dir_control.find("dom_" + std::to_string(uid));
    if (it == dir_control.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Result<std::vector<vpopmail::StoreFile>> ReadDomainFiles(const qmail::DomainLocation&) override {
    return std::vector<vpopmail::StoreFile>{};
  }
  Status CheckDomainAbsent(const std::string& domain) override {
    return has_rows[domain] ? Status::Conflict(domain + " has rows") : Status::OK();
  }
  Result<std::vector<VpasswdEntry>> ReadUsers(const qmail::DomainLocation&) override {
    return std::vector<VpasswdEntry>{};
  }
  Status StageUsers(const std::string&, const std::vector<VpasswdEntry>&,
                    const std::optional<FileOwner>&) override {
    return Status::OK();
  }
  Status RemoveDomain(const std::string& domain, unsigned long uid,
                      const std::optional<std::string>& old) override {
    removals.push_back({domain, uid, old});
    has_rows.erase(domain);
    dir_control.erase(domain);
    const std::string dom = "dom_" + std::to_string(uid);
    if (old) dir_control[dom] = *old;
    else dir_control.erase(dom);
    return Status::OK();
  }
  Status ReplaceUsers(const qmail::DomainLocation&, const std::vector<VpasswdEntry>&) override {
    return Status::OK();
  }
  Result<bool> InsertUser(const qmail::DomainLocation&, const VpasswdEntry&, const std::string&) override {
    return false;
  }
  std::vector<vpopmail::StoreProblem> CheckConsistency(const qmail::DomainLocation&,
                                                       const std::vector<VpasswdEntry>&) override {
    return {};
  }
};

class JournalSqlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp_.path() + "/vp/domains");
    journal_ = JournalDir(tmp_.path() + "/vp/domains", "new.test");
    vpopmail::DirControl dc;
    dc.cur_users = 1;
    old_ = dc.Serialize();
    dc.cur_users = 2;
    new_ = dc.Serialize();
    store_.dir_control["dom_89"] = old_;
  }

  JournalPlan Plan() const {
    JournalPlan plan;
    plan.final_dir = tmp_.path() + "/vp/domains/new.test";
    plan.dir_control_old = old_;
    plan.dir_control_new = new_;
    plan.sql_domain = "new.test";
    plan.sql_uid = 89;
    return plan;
  }

  // What CommitDomain does to the fake: the rows and dom_89 advanced.
  void CommitRows() {
    store_.has_rows["new.test"] = true;
    store_.dir_control["new.test"] = "user counter";
    store_.dir_control["dom_89"] = new_;
  }

  TempDir tmp_;
  std::string journal_, old_, new_;
  FakeSqlStore store_;
};

TEST_F(JournalSqlTest, TheIndexNamesTheSqlStepAndNoDirControlFile) {
  ASSERT_TRUE(WriteJournal(journal_, Plan()).ok());
  std::string index = ReadFile(journal_ + "/index");
  EXPECT_NE(index.find("\nsql\tnew.test\t89\n"), std::string::npos) << index;
  EXPECT_EQ(index.find("dircontrol"), std::string::npos) << index;
  auto read = ReadJournal(journal_);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->sql_domain, "new.test");
  EXPECT_EQ(read->sql_uid, 89u);
  EXPECT_EQ(read->dir_control, "");
  EXPECT_EQ(read->dir_control_new, new_);
}

// Killed after the transaction (marked or not): the rows go and dom_89 is
// what it was before the import.
TEST_F(JournalSqlTest, RecoveryAfterTheTransactionRemovesTheRows) {
  for (bool marked : {false, true}) {
    SCOPED_TRACE(marked ? "sql.done written" : "killed before sql.done");
    store_.removals.clear();
    ASSERT_TRUE(WriteJournal(journal_, Plan()).ok());
    fs::create_directories(Plan().final_dir + "/postmaster");
    CommitRows();
    if (marked) {
      ASSERT_TRUE(MarkSqlCommitted(journal_).ok());
    }
    auto r = RecoverJournal(journal_, &store_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(*r);
    ASSERT_EQ(store_.removals.size(), 1u);
    EXPECT_EQ(store_.removals[0].domain, "new.test");
    EXPECT_EQ(store_.removals[0].uid, 89u);
    EXPECT_EQ(store_.removals[0].dom_text, std::optional<std::string>(old_));
    EXPECT_EQ(store_.dir_control["dom_89"], old_);
    EXPECT_FALSE(store_.has_rows.count("new.test"));
    EXPECT_FALSE(fs::exists(Plan().final_dir));
    EXPECT_FALSE(fs::exists(journal_));
  }
}

// Killed before the transaction: dom_89 stays as it is (RemoveDomain is
// still asked, it is idempotent); the same when dom_89 did not exist.
TEST_F(JournalSqlTest, RecoveryBeforeTheTransactionLeavesDomAlone) {
  ASSERT_TRUE(WriteJournal(journal_, Plan()).ok());
  auto r = RecoverJournal(journal_, &store_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(store_.removals.size(), 1u);
  EXPECT_EQ(store_.removals[0].dom_text, std::optional<std::string>(old_));
  EXPECT_EQ(store_.dir_control["dom_89"], old_);

  store_.dir_control.erase("dom_89");
  store_.removals.clear();
  JournalPlan plan = Plan();
  plan.dir_control_old.reset();
  ASSERT_TRUE(WriteJournal(journal_, plan).ok());
  r = RecoverJournal(journal_, &store_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(store_.removals.size(), 1u);
  EXPECT_FALSE(store_.removals[0].dom_text.has_value());
  EXPECT_FALSE(store_.dir_control.count("dom_89"));
}

// Another domain was added after ours committed: ours is given back by
// lowering the counter, theirs stays.
TEST_F(JournalSqlTest, RecoveryKeepsTheAllocationOfADomainAddedSince) {
  ASSERT_TRUE(WriteJournal(journal_, Plan()).ok());
  CommitRows();
  ASSERT_TRUE(MarkSqlCommitted(journal_).ok());
  vpopmail::DirControl later = vpopmail::DirControl::Parse(new_);
  later.cur_users = 3;
  store_.dir_control["dom_89"] = later.Serialize();
  auto r = RecoverJournal(journal_, &store_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(vpopmail::DirControl::Parse(store_.dir_control["dom_89"]).cur_users, 2u);
  EXPECT_FALSE(store_.has_rows.count("new.test"));
}

// A journal with rows to take back but no store: refused, nothing touched.
TEST_F(JournalSqlTest, RecoveryWithoutAStoreIsRefusedAndKeepsTheJournal) {
  ASSERT_TRUE(WriteJournal(journal_, Plan()).ok());
  CommitRows();
  auto r = RecoverJournal(journal_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(r.status().message().find("new.test"), std::string::npos) << r.status().message();
  EXPECT_TRUE(fs::exists(journal_ + "/index"));
  EXPECT_TRUE(store_.has_rows["new.test"]);
}

}  // namespace
}  // namespace vmigrate
