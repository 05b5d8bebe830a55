/* The metadata database: one SQLite connection (WAL, foreign keys on) whose tables come from the
 * resource declarations. Used only from the HTTP thread. */
#ifndef LP_DB_H
#define LP_DB_H

#include <sqlite3.h>
#include <stdint.h>

typedef struct db db_t;

/* Opens (creating when missing) the database at `path` and creates or extends every declared
 * table. Returns 0 and the handle in *out (the caller closes it), or a negative code. */
int db_open(const char *path, db_t **out);
/* Closes the database; NULL is a no-op. */
void db_close(db_t *db);
/* The SQLite connection (borrowed). */
sqlite3 *db_handle(db_t *db);
/* A number no other database opened by this process has had (from 1). Any thread. */
uint64_t db_serial(const db_t *db);
/* Rows the connection has inserted, changed or deleted since it opened (sqlite3_total_changes64):
 * unchanged means nothing was written meanwhile. */
int64_t db_changes(db_t *db);
/* A prepared statement for `sql`, in *st: one kept from an earlier call with the same text
 * (reset, its bindings cleared) when there is one not in use, else a new one that is kept
 * (the least recently used goes). Returns 0 or a negative code (db_status). Hand it back
 * with db_finish, never sqlite3_finalize. */
int db_prepare(db_t *db, const char *sql, sqlite3_stmt **st);
/* Hands a statement from db_prepare back: reset and kept, or finalized when it was not kept.
 * NULL is a no-op. */
void db_finish(db_t *db, sqlite3_stmt *st);
/* Runs SQL text without results. Returns 0 or a negative code (db_status). */
int db_exec(db_t *db, const char *sql);
/* Starts (BEGIN IMMEDIATE), commits or rolls back a transaction. Return 0 or a negative code. */
int db_begin(db_t *db);
int db_commit(db_t *db);
int db_rollback(db_t *db);
/* Starts a transaction whose commit does not wait for the disk (PRAGMA synchronous = NORMAL for
 * it; the WAL stays consistent, and the next full commit syncs it too): for values a restart
 * derives again anyway. Commit or roll back with the calls above, which restore the full sync.
 * Returns 0 or a negative code. */
int db_begin_lazy(db_t *db);
/* Maps an SQLite result code to 0 or a project code: LP_ECONFLICT for unique and primary key
 * violations, LP_EARG for other constraints, LP_ENOMEM, else LP_EIO. */
int db_status(int sqlite_rc);
/* The message of the last SQLite error (borrowed; valid until the next call). */
const char *db_errmsg(db_t *db);

#endif
