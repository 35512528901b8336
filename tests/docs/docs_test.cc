// The documentation matches the program (issue 15, item 7):
// - every option that `vmigrate CMD --help` lists (for every command and
//   subcommand) is described in the man page, in that command's section or
//   in OPTIONS (the options common to many commands);
// - the exit-code tables of README.md, share/doc/exit-codes.md, the man page
//   and `vmigrate --help` list exactly the codes and names of
//   lib/core/exit_code.h (the enum and kExitCodes, which must agree too).
#include <algorithm>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/exit_code.h"
#include "support/test_support.h"

namespace vmigrate {
namespace {

using testing::CommandResult;
using testing::ReadFile;
using testing::RunVmigrate;

const std::string kSource = VMIGRATE_SOURCE_DIR;
const std::string kManPage = kSource + "/share/man/man1/vmigrate.1";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// roff source -> plain text: font escapes dropped, \- and \e resolved,
// quotes of macro arguments removed.
std::string Unroff(std::string s) {
  s = std::regex_replace(s, std::regex(R"(\\f[BIRP])"), "");
  s = std::regex_replace(s, std::regex(R"(\\-)"), "-");
  s = std::regex_replace(s, std::regex(R"(\\e)"), "\\");
  s = std::regex_replace(s, std::regex(R"(\\\(dq)"), "\"");
  s.erase(std::remove(s.begin(), s.end(), '"'), s.end());
  return s;
}

struct ManSection {
  std::string level;  // "SH" or "SS"
  std::string title;  // unroffed
  std::string text;   // unroffed body
};

std::vector<ManSection> ManSections() {
  std::vector<ManSection> out;
  for (const std::string& line : Lines(ReadFile(kManPage))) {
    if (line.rfind(".SH ", 0) == 0 || line.rfind(".SS ", 0) == 0) {
      out.push_back({line.substr(1, 2), Unroff(line.substr(4)), ""});
    } else if (!out.empty()) {
      out.back().text += Unroff(line) + "\n";
    }
  }
  return out;
}

// The subcommand names in a CLI11 help text ("Subcommands:" then
// "  name    description" lines).
std::vector<std::string> Subcommands(const std::string& help) {
  std::vector<std::string> out;
  bool in = false;
  for (const std::string& line : Lines(help)) {
    if (line.rfind("Subcommands:", 0) == 0) {
      in = true;
      continue;
    }
    if (!in) continue;
    std::smatch m;
    if (std::regex_match(line, m, std::regex(R"(\s+([a-z][a-z0-9-]*)(\s.*)?)"))) {
      out.push_back(m[1]);
    } else if (!line.empty() && line[0] != ' ') {
      in = false;
    }
  }
  return out;
}

// The option names in a CLI11 help text: the first column of every
// "  -o,--output FILE ..." line of the Options section.
std::vector<std::string> OptionNames(const std::string& help) {
  std::vector<std::string> out;
  bool in = false;
  for (const std::string& line : Lines(help)) {
    if (line.rfind("Options:", 0) == 0 || line.rfind("OPTIONS:", 0) == 0) {
      in = true;
      continue;
    }
    if (!in) continue;
    if (!line.empty() && line[0] != ' ') {
      in = false;
      continue;
    }
    std::smatch m;
    if (!std::regex_match(line, m, std::regex(R"(\s+(-[^\s]+)(\s.*)?)"))) continue;
    std::string names = m[1];
    std::smatch n;
    std::string rest = names;
    while (std::regex_search(rest, n, std::regex(R"(--?[A-Za-z][A-Za-z0-9-]*)"))) {
      out.push_back(n[0]);
      rest = n.suffix();
    }
  }
  return out;
}

bool Mentions(const std::string& text, const std::string& option) {
  std::regex re("(^|[^A-Za-z0-9-])" + option + "($|[^A-Za-z0-9-])");
  return std::regex_search(text, re);
}

// The man page text that documents `path` ("export", "cutover forward"):
// every .SS section whose title starts with the command and, for a
// subcommand, names it among its '|'-separated words; plus .SH OPTIONS.
std::string ManTextFor(const std::vector<ManSection>& sections, const std::vector<std::string>& path) {
  std::string text;
  for (const ManSection& s : sections) {
    if (s.level == "SH" && s.title == "OPTIONS") text += s.text;
    if (s.level != "SS") continue;
    std::vector<std::string> words;
    std::string w;
    for (char c : s.title) {
      if (c == ' ' || c == '|') {
        if (!w.empty()) words.push_back(w);
        w.clear();
      } else {
        w += c;
      }
    }
    if (!w.empty()) words.push_back(w);
    if (words.empty() || words[0] != path[0]) continue;
    if (path.size() > 1 && std::find(words.begin(), words.end(), path[1]) == words.end()) continue;
    text += s.title + "\n" + s.text;
  }
  return text;
}

// Every command path of the program: {"export"}, {"cutover", "hold"}, ...
std::vector<std::vector<std::string>> CommandPaths() {
  std::vector<std::vector<std::string>> out;
  CommandResult top = RunVmigrate({"--help"});
  EXPECT_EQ(top.exit_code, 0) << top.err;
  for (const std::string& cmd : Subcommands(top.out)) {
    CommandResult r = RunVmigrate({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    std::vector<std::string> subs = Subcommands(r.out);
    out.push_back({cmd});
    for (const std::string& sub : subs) out.push_back({cmd, sub});
  }
  return out;
}

TEST(DocsTest, TheProgramHasTheCommandsTheManPageIsAbout) {
  std::set<std::string> names;
  for (const auto& p : CommandPaths()) names.insert(p[0]);
  for (const char* cmd : {"export", "import", "inspect", "verify", "state", "cutover", "move"})
    EXPECT_TRUE(names.count(cmd)) << cmd << " is not in `vmigrate --help`";
}

TEST(DocsTest, EveryCommandHasAManSectionAndEveryHelpOptionIsInIt) {
  const std::vector<ManSection> sections = ManSections();
  for (const auto& path : CommandPaths()) {
    std::string name = path[0] + (path.size() > 1 ? " " + path[1] : "");
    std::vector<std::string> argv = path;
    argv.push_back("--help");
    CommandResult r = RunVmigrate(argv);
    ASSERT_EQ(r.exit_code, 0) << name << " --help: " << r.err;
    // A command with subcommands is documented through them.
    if (!Subcommands(r.out).empty()) continue;
    std::string text = ManTextFor(sections, path);
    ASSERT_FALSE(text.empty()) << "no man page section (.SS \"" << name << " ...\") for `vmigrate "
                               << name << "`";
    std::vector<std::string> options = OptionNames(r.out);
    EXPECT_FALSE(options.empty()) << name << " --help lists no options:\n" << r.out;
    for (const std::string& option : options)
      EXPECT_TRUE(Mentions(text, option))
          << "`vmigrate " << name << " --help` lists " << option
          << ", but the man page does not describe it in the section of `" << name << "` or in OPTIONS";
  }
}

// The bash completion (share/bash-completion/vmigrate) offers every command,
// cutover step and option that --help lists.
TEST(DocsTest, BashCompletionKnowsEveryCommandAndOption) {
  const std::string completion = ReadFile(kSource + "/share/bash-completion/vmigrate");
  for (const auto& path : CommandPaths()) {
    std::string name = path[0] + (path.size() > 1 ? " " + path[1] : "");
    for (const std::string& word : path)
      EXPECT_TRUE(Mentions(completion, word)) << "the bash completion does not know `" << name << "`";
    std::vector<std::string> argv = path;
    argv.push_back("--help");
    for (const std::string& option : OptionNames(RunVmigrate(argv).out))
      EXPECT_TRUE(Mentions(completion, option))
          << "the bash completion does not offer " << option << " of `" << name << "`";
  }
}

using CodeName = std::pair<int, std::string>;

std::vector<CodeName> Table() {
  std::vector<CodeName> out;
  for (const ExitCodeInfo& e : kExitCodes) out.push_back({static_cast<int>(e.code), e.name});
  return out;
}

std::string Show(const std::vector<CodeName>& t) {
  std::string out;
  for (const auto& [code, name] : t) out += std::to_string(code) + " " + name + "\n";
  return out;
}

// The rows `| N | name | ...` of the markdown table that follows `heading`.
std::vector<CodeName> MarkdownTable(const std::string& text, const std::string& heading) {
  std::vector<CodeName> out;
  size_t at = heading.empty() ? 0 : text.find(heading);
  EXPECT_NE(at, std::string::npos) << "no '" << heading << "'";
  if (at == std::string::npos) return out;
  bool seen = false;
  for (const std::string& line : Lines(text.substr(at))) {
    std::smatch m;
    if (std::regex_match(line, m, std::regex(R"(\|\s*(\d+)\s*\|\s*([^|]*?)\s*\|.*)"))) {
      out.push_back({std::stoi(m[1]), m[2]});
      seen = true;
    } else if (seen && line.rfind("|", 0) != 0) {
      break;
    }
  }
  return out;
}

TEST(DocsTest, ExitCodeTableHasEveryCodeOfTheEnumOnce) {
  // The enum's entries, read from the header itself.
  std::string header = ReadFile(kSource + "/lib/core/exit_code.h");
  size_t begin = header.find("enum class Exit");
  ASSERT_NE(begin, std::string::npos);
  std::string body = header.substr(begin, header.find("};", begin) - begin);
  std::vector<int> enum_codes;
  for (std::sregex_iterator it(body.begin(), body.end(), std::regex(R"(k[A-Za-z]+ = (\d+),)")), end;
       it != end; ++it)
    enum_codes.push_back(std::stoi((*it)[1]));
  std::vector<int> table_codes;
  std::set<std::string> names;
  for (const auto& [code, name] : Table()) {
    table_codes.push_back(code);
    EXPECT_TRUE(names.insert(name).second) << "name '" << name << "' used twice";
  }
  EXPECT_EQ(table_codes, enum_codes) << "kExitCodes and enum class Exit differ";
  EXPECT_EQ(ExitCodeHelp().substr(0, 11), "Exit codes:");
}

TEST(DocsTest, ReadmeExitCodesAreTheTable) {
  EXPECT_EQ(Show(MarkdownTable(ReadFile(kSource + "/README.md"), "## Exit codes")), Show(Table()));
}

TEST(DocsTest, ExitCodesMdIsTheTable) {
  EXPECT_EQ(Show(MarkdownTable(ReadFile(kSource + "/share/doc/exit-codes.md"), "| Code | Name |")),
            Show(Table()));
}

TEST(DocsTest, ManPageExitStatusIsTheTable) {
  std::vector<CodeName> man;
  bool in = false;
  for (const std::string& line : Lines(ReadFile(kManPage))) {
    if (line.rfind(".SH ", 0) == 0) in = line == ".SH EXIT STATUS";
    std::smatch m;
    if (in && std::regex_match(line, m, std::regex(R"(\.BR (\d+) " \((.+)\)")")))
      man.push_back({std::stoi(m[1]), m[2]});
  }
  EXPECT_EQ(Show(man), Show(Table()));
}

TEST(DocsTest, HelpExitCodesAreTheTable) {
  CommandResult r = RunVmigrate({"--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t at = r.out.find("Exit codes:");
  ASSERT_NE(at, std::string::npos) << r.out;
  std::vector<CodeName> help;
  for (const std::string& line : Lines(r.out.substr(at))) {
    std::smatch m;
    if (std::regex_match(line, m, std::regex(R"(\s+(\d+) ([a-z ]+): .*)")))
      help.push_back({std::stoi(m[1]), m[2]});
  }
  EXPECT_EQ(Show(help), Show(Table()));
}

}  // namespace
}  // namespace vmigrate
