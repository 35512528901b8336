// vpopmail's "big dir" hashing: the .dir-control counter that decides in
// which bucket (e.g. "", "0", "A", "0/7") the next user or domain goes
// (reference §2; vpopmail bigdir.c and vcdb.c vread/vwrite_dir_control).
#ifndef VMIGRATE_VPOPMAIL_DIR_CONTROL_H_
#define VMIGRATE_VPOPMAIL_DIR_CONTROL_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmigrate::vpopmail {

struct DirControl {
  unsigned long cur_users = 0;
  int level_cur = 0;
  int level_max = 3;
  int level_start[3] = {0, 0, 0};
  int level_end[3] = {61, 61, 61};
  int level_mod[3] = {0, 2, 4};
  int level_index[3] = {0, 0, 0};
  std::string the_dir;

  /// Parses the file text the way vpopmail's reader does, quirks included:
  /// on lines 4-7 the third number is read from the same place as the
  /// second, and a 9th line, if present, replaces line 8 as the_dir.
  static DirControl Parse(std::string_view text);
  /// Parses text as Serialize() writes it, every number where it stands:
  /// how vpopmail's MySQL backend reads a dir_control row (one column per
  /// value, vmysql.c vread_dir_control), so "0 2 4" stays 0 2 4.
  static DirControl ParseExact(std::string_view text);
  /// The 8-line file vwrite_dir_control writes.
  std::string Serialize() const;
  /// One allocation (inc_dir_control): returns the bucket for it.
  std::string Next();
};

/// What vpopmail leaves behind after `count` allocations, each done as a
/// separate read / increment / write of the file (as vadduser and
/// vadddomain do). `existing` is the current file text, nullopt if absent.
struct BucketAllocation {
  std::vector<std::string> buckets;  // one per allocation, in order
  std::string final_text;            // the .dir-control contents afterwards
};
/// `exact`: the counter is a MySQL dir_control row (UserStore::
/// KeepsDirControlFiles() false), read with ParseExact instead of the file
/// reader and its quirks.
BucketAllocation AllocateBuckets(const std::optional<std::string>& existing, size_t count, bool exact = false);

/// The position of a bucket in vpopmail's fill order ("" first, then "0",
/// "1", ... "z", "0/0", ...), used to replay a source domain's creation
/// order. Unknown shapes sort last.
unsigned long BucketOrder(std::string_view bucket);

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_DIR_CONTROL_H_
