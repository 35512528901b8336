// The commit journal on its own: a plan written before a commit, a commit
// cut off at various points, and RecoverJournal putting the target back
// (our lines out, other domains' lines kept, .dir-control restored or our
// allocation given back) or refusing a journal it cannot read.
#include "importer/journal.h"

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "qmail/assign.h"
#include "qmail/control_file.h"
#include "support/test_support.h"
#include "vpopmail/dir_control.h"

namespace vmigrate {
namespace {

namespace fs = std::filesystem;
using testing::CdbHas;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

constexpr const char* kOtherAssign = "+other.test-:other.test:89:89:/vp/domains/other.test:-::\n";
constexpr const char* kNewAssignLine = "+new.test-:new.test:89:89:/vp/domains/0/new.test:-::";

// Every file (path -> contents) and directory (path -> "dir") under `root`,
// except users/cdb and morercpthosts.cdb, which recovery rebuilds: those are
// checked by their keys.
std::map<std::string, std::string> State(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::string rel = fs::relative(e.path(), root).string();
    if (e.is_directory()) out[rel] = "dir";
    else if (rel != "qmail/users/cdb" && rel != "qmail/control/morercpthosts.cdb")
      out[rel] = ReadFile(e.path().string());
  }
  return out;
}

// A target with one domain (other.test) already installed by vpopmail.
class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path();
    fs::create_directories(root_ + "/qmail/users");
    fs::create_directories(root_ + "/qmail/control");
    fs::create_directories(root_ + "/vp/domains/other.test");
    WriteFile(Assign(), std::string(kOtherAssign) + ".\n");
    ASSERT_TRUE(qmail::WriteUsersCdb(ReadFile(Assign()), UsersCdb()).ok());
    WriteFile(Control("rcpthosts"), "mail.test\nother.test\n");
    WriteFile(Control("virtualdomains"), "other.test:other.test\n");
    vpopmail::DirControl dc;
    dc.cur_users = 1;
    old_dir_control_ = dc.Serialize();
    dc.cur_users = 2;
    new_dir_control_ = dc.Serialize();
    WriteFile(DirControlPath(), old_dir_control_);
    journal_ = JournalDir(root_ + "/vp/domains", "new.test");
  }

  std::string Assign() const { return root_ + "/qmail/users/assign"; }
  std::string UsersCdb() const { return root_ + "/qmail/users/cdb"; }
  std::string Control(const std::string& name) const { return root_ + "/qmail/control/" + name; }
  std::string DirControlPath() const { return root_ + "/vp/domains/.dir-control"; }
  std::string FinalDir() const { return root_ + "/vp/domains/0/new.test"; }

  // What the import of new.test into bucket 0 plans: rcpthosts (existing),
  // virtualdomains (existing), morercpthosts (new) and users/assign.
  JournalPlan Plan() const {
    JournalPlan plan;
    plan.final_dir = FinalDir();
    plan.created_dirs = {root_ + "/vp/domains/0"};
    plan.edits = {{'+', Control("rcpthosts"), "new.test"},
                  {'+', Control("morercpthosts"), "new2.test"},
                  {'+', Control("virtualdomains"), "new.test:new.test"},
                  {'+', Assign(), kNewAssignLine}};
    plan.existed = {{Control("rcpthosts"), true},
                    {Control("morercpthosts"), false},
                    {Control("virtualdomains"), true},
                    {Assign(), true}};
    plan.users_cdb = UsersCdb();
    plan.morercpthosts_cdb = Control("morercpthosts.cdb");
    plan.dir_control = DirControlPath();
    plan.dir_control_old = old_dir_control_;
    plan.dir_control_new = new_dir_control_;
    return plan;
  }

  // The commit's steps in domain_import's order, stopping after `steps` of
  // them: 1 bucket + domain dir, 2 .dir-control (+ marker), 3 control files.
  void Commit(const JournalPlan& plan, int steps) {
    if (steps < 1) return;
    for (const auto& d : plan.created_dirs) ASSERT_EQ(mkdir(d.c_str(), 0700), 0) << d;
    fs::create_directories(plan.final_dir + "/postmaster/Maildir/new");
    WriteFile(plan.final_dir + "/vpasswd", "postmaster:x:1:0:Postmaster:/d:NOQUOTA\n");
    if (steps < 2) return;
    WriteFile(plan.dir_control, plan.dir_control_new);
    ASSERT_TRUE(MarkDirControlWritten(journal_).ok());
    if (steps < 3) return;
    for (const auto& e : plan.edits) {
      bool assign = e.file == Assign();
      auto cf = qmail::ControlFile::Load(e.file, assign);
      ASSERT_TRUE(cf.ok()) << cf.status().ToString();
      cf->InsertSorted(e.line);
      ASSERT_TRUE(cf->Save().ok());
    }
    ASSERT_TRUE(qmail::WriteUsersCdb(ReadFile(Assign()), UsersCdb()).ok());
    ASSERT_TRUE(qmail::WriteMoreRcpthostsCdb(ReadFile(Control("morercpthosts")),
                                             Control("morercpthosts.cdb"))
                    .ok());
  }

  TempDir tmp_;
  std::string root_;
  std::string journal_;
  std::string old_dir_control_;
  std::string new_dir_control_;
};

TEST_F(JournalTest, NoJournalIsNothingToRecover) {
  auto before = State(root_);
  auto r = RecoverJournal(journal_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(*r);
  EXPECT_EQ(State(root_), before);
}

TEST_F(JournalTest, WriteJournalRecordsThePlanBesideTheDomains) {
  ASSERT_TRUE(WriteJournal(journal_, Plan()).ok());
  EXPECT_EQ(journal_, root_ + "/vp/domains/.vmigrate-journal.new.test");
  std::string index = ReadFile(journal_ + "/index");
  EXPECT_EQ(index.rfind("vmigrate-journal 2\nfinal\t" + FinalDir() + "\n", 0), 0u) << index;
  EXPECT_NE(index.find("edit\t+\t" + Control("rcpthosts") + "\tnew.test\n"), std::string::npos) << index;
  EXPECT_NE(index.find("existed\t0\t" + Control("morercpthosts") + "\n"), std::string::npos) << index;
  EXPECT_EQ(ReadFile(journal_ + "/dircontrol.old"), old_dir_control_);
  EXPECT_EQ(ReadFile(journal_ + "/dircontrol.new"), new_dir_control_);
  EXPECT_FALSE(fs::exists(journal_ + "/dircontrol.done"));
  ASSERT_TRUE(RemoveJournal(journal_).ok());
  EXPECT_FALSE(fs::exists(journal_));
}

// A crash at each point of the commit: recovery gives back exactly the tree
// from before the journal was written.
TEST_F(JournalTest, RecoveryRollsBackACommitCutOffAtAnyStep) {
  for (int steps = 0; steps <= 3; ++steps) {
    SCOPED_TRACE("commit steps done: " + std::to_string(steps));
    auto before = State(root_);
    JournalPlan plan = Plan();
    ASSERT_TRUE(WriteJournal(journal_, plan).ok());
    Commit(plan, steps);
    ASSERT_NE(State(root_), before);  // the journal at least

    auto r = RecoverJournal(journal_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(*r);
    EXPECT_EQ(State(root_), before);
    EXPECT_FALSE(fs::exists(journal_));
    EXPECT_TRUE(CdbHas(UsersCdb(), "!other.test-"));
    EXPECT_FALSE(CdbHas(UsersCdb(), "!new.test-"));
    EXPECT_FALSE(fs::exists(Control("morercpthosts.cdb")));
  }
}

// Lines another import added after ours stay, and so does its share of
// .dir-control: our allocation is given back by lowering the counter.
TEST_F(JournalTest, RecoveryKeepsWhatAnotherImportAddedSince) {
  JournalPlan plan = Plan();
  ASSERT_TRUE(WriteJournal(journal_, plan).ok());
  Commit(plan, 3);
  auto rcpt = qmail::ControlFile::Load(Control("rcpthosts"));
  ASSERT_TRUE(rcpt.ok());
  rcpt->InsertSorted("later.test");
  ASSERT_TRUE(rcpt->Save().ok());
  auto mrh = qmail::ControlFile::Load(Control("morercpthosts"));
  ASSERT_TRUE(mrh.ok());
  mrh->InsertSorted("later2.test");
  ASSERT_TRUE(mrh->Save().ok());
  vpopmail::DirControl dc = vpopmail::DirControl::Parse(new_dir_control_);
  dc.cur_users = 3;
  WriteFile(DirControlPath(), dc.Serialize());

  auto r = RecoverJournal(journal_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ReadFile(Control("rcpthosts")), "later.test\nmail.test\nother.test\n");
  EXPECT_EQ(ReadFile(Control("morercpthosts")), "later2.test\n");
  EXPECT_TRUE(CdbHas(Control("morercpthosts.cdb"), "later2.test"));
  EXPECT_FALSE(CdbHas(Control("morercpthosts.cdb"), "new2.test"));
  EXPECT_EQ(ReadFile(Assign()), std::string(kOtherAssign) + ".\n");
  EXPECT_EQ(vpopmail::DirControl::Parse(ReadFile(DirControlPath())).cur_users, 2u);
  EXPECT_FALSE(fs::exists(FinalDir()));
}

// Without the marker our .dir-control write never happened, even when the
// file holds the same text (another import may have written it).
TEST_F(JournalTest, DirControlIsLeftAloneUnlessOurWriteWasMarked) {
  JournalPlan plan = Plan();
  ASSERT_TRUE(WriteJournal(journal_, plan).ok());
  Commit(plan, 1);
  WriteFile(DirControlPath(), new_dir_control_);
  auto r = RecoverJournal(journal_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ReadFile(DirControlPath()), new_dir_control_);
  EXPECT_FALSE(fs::exists(FinalDir()));
}

// A .dir-control that did not exist before the commit is removed again.
TEST_F(JournalTest, DirControlCreatedByTheCommitIsRemoved) {
  fs::remove(DirControlPath());
  JournalPlan plan = Plan();
  plan.dir_control_old.reset();
  ASSERT_TRUE(WriteJournal(journal_, plan).ok());
  EXPECT_FALSE(fs::exists(journal_ + "/dircontrol.old"));
  Commit(plan, 2);
  auto r = RecoverJournal(journal_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(fs::exists(DirControlPath()));
}

// The run died while writing the journal: no index, so nothing was changed
// yet; the leftovers are removed.
TEST_F(JournalTest, JournalWithoutIndexIsRemovedAndNothingElseTouched) {
  auto before = State(root_);
  ASSERT_EQ(mkdir(journal_.c_str(), 0700), 0);
  WriteFile(journal_ + "/dircontrol.old", old_dir_control_);
  auto r = RecoverJournal(journal_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r);
  EXPECT_FALSE(fs::exists(journal_));
  EXPECT_EQ(State(root_), before);
}

// An index recovery cannot read is refused with the file named, and the
// target (and the journal, for the admin) stay as they are.
TEST_F(JournalTest, UnreadableIndexIsRefusedAndKept) {
  struct Case {
    const char* name;
    std::string index;
    const char* error;
  };
  const Case cases[] = {
      {"other format", "vmigrate-journal 1\nfinal\t/x\n", "unknown journal format"},
      {"empty", "", "unknown journal format"},
      {"unknown line", "vmigrate-journal 2\nfinal\t/x\nrename\t/a\t/b\n", "bad line 'rename"},
      {"cut short", "vmigrate-journal 2\nfinal\t/x\nedit\t+\t/a\n", "bad line 'edit"},
      {"bad escape", "vmigrate-journal 2\nfinal\t/x\\q\n", "bad line 'final"},
  };
  JournalPlan plan = Plan();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(WriteJournal(journal_, plan).ok());
    Commit(plan, 3);
    WriteFile(journal_ + "/index", c.index);
    auto before = State(root_);
    auto r = RecoverJournal(journal_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kCorrupt);
    EXPECT_NE(r.status().message().find(journal_ + "/index: "), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(c.error), std::string::npos) << r.status().message();
    EXPECT_EQ(State(root_), before);
    // Put the target back for the next case.
    fs::remove_all(journal_);
    ASSERT_TRUE(WriteJournal(journal_, plan).ok());
    ASSERT_TRUE(MarkDirControlWritten(journal_).ok());
    ASSERT_TRUE(RecoverJournal(journal_).ok());
  }
}

}  // namespace
}  // namespace vmigrate
