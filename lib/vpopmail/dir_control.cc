#include "vpopmail/dir_control.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <vector>

namespace vmigrate::vpopmail {
namespace {

// bigdir.c's alphabet and limits.
constexpr char kDirList[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr int kDirListSize = 62;
constexpr unsigned long kUsersPerLevel = 100;
// vpopmail keeps the_dir in a fixed, zero-filled buffer; writes past the
// current end simply grow the string.
constexpr size_t kTheDirBuffer = 256;

// C atol(): leading blanks, an optional sign, then digits up to the first
// other character. Wraps instead of overflowing.
long long Atol(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ||
                          s[i] == '\v' || s[i] == '\f')) {
    ++i;
  }
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  unsigned long long v = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) v = v * 10 + (s[i] - '0');
  return negative ? -static_cast<long long>(v) : static_cast<long long>(v);
}

int Atoi(std::string_view s) { return static_cast<int>(Atol(s)); }

// Lines 4-7 as vpopmail reads them: the first number from the start, and
// both others from just after the FIRST space (the scan restarts at 0).
void ParseTriple(std::string_view line, int out[3]) {
  out[0] = Atoi(line);
  size_t space = line.find(' ');
  int rest = space == std::string_view::npos ? 0 : Atoi(line.substr(space + 1));
  out[1] = rest;
  out[2] = rest;
}

char DirChar(int i) { return i >= 0 && i < kDirListSize ? kDirList[i] : '\0'; }

int Clamp(int level) { return level < 0 ? 0 : (level > 2 ? 2 : level); }

// next_char(): the character after `c` in [start, end], wrapping to start;
// a character not in the range restarts at start.
char NextChar(char c, int start, int end) {
  int i = start;
  while (i <= end && DirChar(i) != c) ++i;
  ++i;
  if (i >= end + 1) i = start;
  return DirChar(i);
}

// The allocator's working state: the DirControl plus the_dir as a buffer.
class Allocator {
 public:
  explicit Allocator(DirControl* dc) : dc_(dc), buf_(kTheDirBuffer, '\0') {
    size_t n = std::min(dc->the_dir.size(), kTheDirBuffer - 1);
    buf_.replace(0, n, dc->the_dir, 0, n);
  }

  void Increment() {
    ++dc_->cur_users;
    if (dc_->cur_users % kUsersPerLevel != 0) return Store();
    if (buf_[0] == '\0') {
      buf_[0] = DirChar(dc_->level_start[0]);
      return Store();
    }
    int cur = Clamp(dc_->level_cur);
    if (dc_->level_index[cur] == dc_->level_end[cur]) {
      if (dc_->level_cur == 0) {
        IncDir(0);
        ++dc_->level_cur;
        Append('/');
      } else if (dc_->level_cur == 1 && dc_->level_index[0] == dc_->level_end[0] &&
                 dc_->level_index[1] == dc_->level_end[1]) {
        IncDir(1);
        ++dc_->level_cur;
        Append('/');
      }
    }
    IncDir(Clamp(dc_->level_cur));
    Store();
  }

 private:
  void IncDir(int level) {
    int pos = dc_->level_mod[level];
    if (pos < 0 || static_cast<size_t>(pos) >= kTheDirBuffer - 1) return;  // vpopmail: UB
    if (buf_[pos] == DirChar(dc_->level_end[level])) {
      buf_[pos] = DirChar(dc_->level_start[level]);
      dc_->level_index[level] = dc_->level_start[level];
      if (level > 0) IncDir(level - 1);
    } else {
      buf_[pos] = NextChar(buf_[pos], dc_->level_start[level], dc_->level_end[level]);
      ++dc_->level_index[level];
    }
  }

  void Append(char c) {
    size_t len = buf_.find('\0');
    if (len < kTheDirBuffer - 1) buf_[len] = c;
  }

  void Store() { dc_->the_dir = buf_.substr(0, buf_.find('\0')); }

  DirControl* dc_;
  std::string buf_;
};

}  // namespace

DirControl DirControl::Parse(std::string_view text) {
  // fgets() into one buffer: at end of file the buffer keeps the previous
  // line, which is what makes a 9th line (or a short file) matter.
  std::string_view buffer;
  size_t pos = 0;
  auto next_line = [&]() {
    if (pos >= text.size()) return;
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    buffer = text.substr(pos, end - pos);
    pos = end;
  };
  DirControl dc;
  next_line();
  dc.cur_users = static_cast<unsigned long>(Atol(buffer));
  next_line();
  dc.level_cur = Atoi(buffer);
  next_line();
  dc.level_max = Atoi(buffer);
  next_line();
  ParseTriple(buffer, dc.level_start);
  next_line();
  ParseTriple(buffer, dc.level_end);
  next_line();
  ParseTriple(buffer, dc.level_mod);
  next_line();
  ParseTriple(buffer, dc.level_index);
  next_line();
  next_line();
  std::string_view dir = buffer;
  if (!dir.empty() && dir.back() == '\n') dir.remove_suffix(1);
  dc.the_dir.assign(dir);
  return dc;
}

DirControl DirControl::ParseExact(std::string_view text) {
  DirControl dc;
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  auto line = [&lines](size_t i) { return i < lines.size() ? lines[i] : std::string_view(); };
  auto triple = [&line](size_t i, int out[3]) {
    std::string_view l = line(i);
    for (int k = 0; k < 3; ++k) {
      out[k] = Atoi(l);
      size_t space = l.find(' ');
      l = space == std::string_view::npos ? std::string_view() : l.substr(space + 1);
    }
  };
  dc.cur_users = static_cast<unsigned long>(Atol(line(0)));
  dc.level_cur = Atoi(line(1));
  dc.level_max = Atoi(line(2));
  triple(3, dc.level_start);
  triple(4, dc.level_end);
  triple(5, dc.level_mod);
  triple(6, dc.level_index);
  dc.the_dir.assign(line(7));
  return dc;
}

std::string DirControl::Serialize() const {
  std::string dir = the_dir.substr(0, the_dir.find('\0'));
  char head[512];
  std::snprintf(head, sizeof head, "%lu\n%d\n%d\n%d %d %d\n%d %d %d\n%d %d %d\n%d %d %d\n",
                cur_users, level_cur, level_max, level_start[0], level_start[1], level_start[2],
                level_end[0], level_end[1], level_end[2], level_mod[0], level_mod[1],
                level_mod[2], level_index[0], level_index[1], level_index[2]);
  return std::string(head) + dir + "\n";
}

std::string DirControl::Next() {
  Allocator(this).Increment();
  return the_dir;
}

BucketAllocation AllocateBuckets(const std::optional<std::string>& existing, size_t count, bool exact) {
  BucketAllocation out;
  // No allocation leaves the file as it was (absent stays absent: "").
  out.final_text = existing.value_or("");
  std::optional<std::string> text = existing;
  for (size_t i = 0; i < count; ++i) {
    // One vadduser run each: read, increment, write, so the reader's quirks
    // apply between allocations.
    DirControl dc = !text ? DirControl() : exact ? DirControl::ParseExact(*text) : DirControl::Parse(*text);
    out.buckets.push_back(dc.Next());
    text = dc.Serialize();
  }
  if (text) out.final_text = *text;
  return out;
}

unsigned long BucketOrder(std::string_view bucket) {
  constexpr unsigned long kBase = kDirListSize;
  auto index = [](char c) -> long {
    for (int i = 0; i < kDirListSize; ++i)
      if (kDirList[i] == c) return i;
    return -1;
  };
  if (bucket.empty()) return 0;
  // Accept exactly "c", "c/c" or "c/c/c".
  std::vector<unsigned long> digits;
  for (size_t i = 0; i < bucket.size(); ++i) {
    if (i % 2 == 1) {
      if (bucket[i] != '/') return ULONG_MAX;
      continue;
    }
    long d = index(bucket[i]);
    if (d < 0) return ULONG_MAX;
    digits.push_back(static_cast<unsigned long>(d));
  }
  if (bucket.size() % 2 == 0 || digits.size() > 3) return ULONG_MAX;
  // Every shorter shape comes first: 1 empty bucket, 62 one-level, 62^2 two-level.
  unsigned long offset = 1;
  unsigned long level_size = kBase;
  for (size_t n = 1; n < digits.size(); ++n) {
    offset += level_size;
    level_size *= kBase;
  }
  unsigned long rank = 0;
  for (unsigned long d : digits) rank = rank * kBase + d;
  return offset + rank;
}

}  // namespace vmigrate::vpopmail
