// vpopmail's etc/vpopmail.mysql: where its MySQL backend connects
// (reference sources-and-cutover §9.1; vpopmail 5.4.33 vmysql.c
// load_connection_info). The password read here goes into
// sql::ConnectSettings and nowhere else: no message names it.
#ifndef VMIGRATE_VPOPMAIL_MYSQL_CONFIG_H_
#define VMIGRATE_VPOPMAIL_MYSQL_CONFIG_H_

#include <string>
#include <string_view>

#include "core/host_paths.h"
#include "core/status.h"
#include "sql/connection.h"

namespace vmigrate::vpopmail {

/// Parses the text of a vpopmail.mysql the way vpopmail does: lines whose
/// first character is '#' and empty lines are skipped; the first remaining
/// line is the read server, the second (when present) the update server,
/// and the update server is the one used (a default build, without
/// --enable-mysql-replication, sends every query there). A line is
/// `host|port-or-socket|user|password|database`, split like strtok(3) on
/// '|', so an empty field makes the others shift: it is refused here rather
/// than guessed. A second field starting with '/' is a unix socket path,
/// anything else a port (atoi; 0 = the default port). `file` names the file
/// in errors. Errors: kIoError "<file> line N: ..." (never the line's text,
/// it holds the password); "<file>: no connection line" when every line is
/// a comment.
Result<sql::ConnectSettings> ParseVpopmailMysql(std::string_view text, const std::string& file);

/// The vpopmail.mysql of the host, on disk: paths.mysql_config when set
/// (--mysql-config), else <vpopmail_home>/etc/vpopmail.mysql under paths.root.
std::string VpopmailMysqlPath(const HostPaths& paths);

/// Reads and parses VpopmailMysqlPath(paths); paths.mysql_socket
/// (--mysql-socket) replaces the file's host/port/socket. Errors: kIoError
/// "MySQL settings: cannot open <file>: <errno text>", or ParseVpopmailMysql's.
Result<sql::ConnectSettings> LoadConnectSettings(const HostPaths& paths);

}  // namespace vmigrate::vpopmail

#endif  // VMIGRATE_VPOPMAIL_MYSQL_CONFIG_H_
