# The library's sources, one file a line, grouped by folder (paths relative to lib/).
# Included by lib/CMakeLists.txt and by fuzz/CMakeLists.txt, which compiles the same
# list a second time with fuzzer instrumentation; a new file is added here only.
set(VMIGRATE_LIB_SOURCES
  # archive/
  archive/archive_reader.cc
  archive/archive_writer.cc
  archive/checksums.cc
  archive/member_sink.cc
  archive/layout.cc
  # core/
  core/atomic_file.cc
  core/crash_point.cc
  core/errno_status.cc
  core/file_lock.cc
  core/host_paths.cc
  core/json.cc
  core/progress.cc
  core/rate_limit.cc
  core/resolve_path.cc
  core/sha256.cc
  core/strings.cc
  core/subprocess.cc
  core/text_spool.cc
  core/writeback.cc
  # cutover/
  cutover/cutover.cc
  cutover/move_record.cc
  cutover/move_support.cc
  cutover/qmail_queue.cc
  cutover/remote.cc
  cutover/smtp_probe.cc
  # exporter/
  exporter/exporter.cc
  exporter/source_tree.cc
  exporter/state_collector.cc
  exporter/storage_walk.cc
  # importer/
  importer/delta_apply.cc
  importer/delta_journal.cc
  importer/domain_discard.cc
  importer/domain_import.cc
  importer/domain_staging.cc
  importer/import_context.cc
  importer/import_record.cc
  importer/importer.cc
  importer/journal.cc
  importer/mailbox_restore.cc
  importer/outside_refs_check.cc
  importer/rehash_weak.cc
  importer/server_restore.cc
  importer/tail_apply.cc
  importer/user_merge.cc
  importer/target_owner.cc
  # mailsource/
  mailsource/imap_session.cc
  mailsource/mail_source_url.cc
  mailsource/pop3_session.cc
  mailsource/tls_verify.cc
  mailsource/transport.cc
  # mbox/
  mbox/from_line.cc
  mbox/line_reader.cc
  mbox/mbox_reader.cc
  mbox/pop3_uidl.cc
  mbox/uid_rules.cc
  # model/
  model/manifest.cc
  model/manifest_yaml.cc
  model/outside_refs.cc
  model/path_rewrite.cc
  # pull/
  pull/pull.cc
  pull/pulled_folder.cc
  # qmail/
  qmail/assign.cc
  qmail/control_file.cc
  qmail/control_update.cc
  qmail/domains.cc
  # sql/
  sql/connection.cc
  # state/
  state/state_diff.cc
  state/state_file.cc
  # verify/
  verify/delivery_check.cc
  verify/delta_check.cc
  verify/installed_domain.cc
  verify/member_check.cc
  verify/qmail_check.cc
  verify/uidl_report.cc
  verify/uidlist.cc
  verify/user_check.cc
  verify/verifier.cc
  # unixhost/
  unixhost/accounts.cc
  unixhost/crypt_check.cc
  unixhost/forward.cc
  unixhost/mail_folders.cc
  unixhost/unix_export.cc
  # vpopmail/
  vpopmail/add_user.cc
  vpopmail/dir_control.cc
  vpopmail/flags.cc
  vpopmail/host_listing.cc
  vpopmail/limits_file.cc
  vpopmail/login_lock.cc
  vpopmail/mysql_config.cc
  vpopmail/mysql_store.cc
  vpopmail/mysql_store_write.cc
  vpopmail/names.cc
  vpopmail/password.cc
  vpopmail/rehash.cc
  vpopmail/user_store.cc
  vpopmail/vpasswd.cc
  vpopmail/vpasswd_lock.cc
)
list(TRANSFORM VMIGRATE_LIB_SOURCES PREPEND "${CMAKE_CURRENT_LIST_DIR}/")
