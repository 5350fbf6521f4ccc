#ifndef SESSIONCTL_CSQLITE_SHIM_H
#define SESSIONCTL_CSQLITE_SHIM_H
// SQLite 3 from Debian (libsqlite3-dev).
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a cast macro Swift cannot import: SQLite copies the bound bytes.
static inline sqlite3_destructor_type csq_transient(void) { return SQLITE_TRANSIENT; }
#endif
