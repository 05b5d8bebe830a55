/* The metadata database: opening the SQLite file in WAL mode with foreign keys enforced, creating
 * the declared tables, statements kept prepared, and small transaction helpers. HTTP thread
 * only. */
#include "db.h"

#include "err.h"
#include "resources.h"
#include "xmalloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Statements kept prepared by their SQL text (db_prepare), so that the queries a server runs
 * for every request are parsed and planned once; the least recently used one goes first. */
#define STMTS 32

typedef struct stmt {
    char *sql; /* NULL: an empty place */
    sqlite3_stmt *st;
    uint64_t used; /* when it was last handed out (db->clock) */
    bool busy;     /* handed out and not yet finished */
} stmt_t;

struct db {
    sqlite3 *h;
    uint64_t serial; /* this opening's number (db_serial) */
    stmt_t stmts[STMTS];
    uint64_t clock;
};

static _Atomic uint64_t openings; /* relaxed: a counter; only its uniqueness matters */

int db_status(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_CONSTRAINT:
        return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY ? LP_ECONFLICT
                                                                                    : LP_EARG;
    case SQLITE_NOMEM:
        return LP_ENOMEM;
    default:
        return LP_EIO;
    }
}

int db_exec(db_t *db, const char *sql)
{
    return db_status(sqlite3_exec(db->h, sql, NULL, NULL, NULL));
}

int db_begin(db_t *db)
{
    return db_exec(db, "BEGIN IMMEDIATE");
}

int db_begin_lazy(db_t *db)
{
    int rc = db_exec(db, "PRAGMA synchronous = NORMAL");
    if (rc == 0) rc = db_begin(db);
    if (rc < 0) db_exec(db, "PRAGMA synchronous = FULL");
    return rc;
}

/* Every transaction but a lazy one commits with a full sync: restored after each end. */
static int end_tx(db_t *db, const char *sql)
{
    int rc = db_exec(db, sql);
    db_exec(db, "PRAGMA synchronous = FULL"); /* a no-op when it was FULL */
    return rc;
}

int db_commit(db_t *db)
{
    return end_tx(db, "COMMIT");
}

int db_rollback(db_t *db)
{
    return end_tx(db, "ROLLBACK");
}

const char *db_errmsg(db_t *db)
{
    return sqlite3_errmsg(db->h);
}

sqlite3 *db_handle(db_t *db)
{
    return db->h;
}

uint64_t db_serial(const db_t *db)
{
    return db->serial;
}

int64_t db_changes(db_t *db)
{
    return sqlite3_total_changes64(db->h);
}

int db_prepare(db_t *db, const char *sql, sqlite3_stmt **st)
{
    *st = NULL;
    stmt_t *free_at = NULL;
    for (size_t i = 0; i < STMTS; i++) {
        stmt_t *k = &db->stmts[i];
        if (k->sql && !k->busy && strcmp(k->sql, sql) == 0) {
            k->busy = true;
            k->used = ++db->clock;
            *st = k->st;
            return 0;
        }
        /* an empty place, else the least recently used idle statement */
        if (!k->busy && (!free_at || (free_at->sql && (!k->sql || k->used < free_at->used))))
            free_at = k;
    }
    int rc = sqlite3_prepare_v3(db->h, sql, -1, free_at ? SQLITE_PREPARE_PERSISTENT : 0, st, NULL);
    if (rc != SQLITE_OK || !free_at) return db_status(rc);
    char *copy = xstrndup(sql, strlen(sql));
    if (free_at->sql) {
        sqlite3_finalize(free_at->st);
        free(free_at->sql);
    }
    *free_at = (stmt_t){copy, *st, ++db->clock, true};
    return 0;
}

void db_finish(db_t *db, sqlite3_stmt *st)
{
    if (!st) return;
    for (size_t i = 0; i < STMTS; i++) {
        stmt_t *k = &db->stmts[i];
        if (k->sql && k->st == st) {
            sqlite3_reset(st); /* ends its read or write at once (a WAL checkpoint waits for it) */
            sqlite3_clear_bindings(st);
            k->busy = false;
            return;
        }
    }
    sqlite3_finalize(st);
}

/* Reads back a one-value PRAGMA and checks it took effect. */
static int pragma_is(db_t *db, const char *sql, const char *want)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return db_status(rc);
    int ret = LP_EIO;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (v && sqlite3_stricmp(v, want) == 0) ret = 0;
    }
    sqlite3_finalize(st);
    return ret;
}

int db_open(const char *path, db_t **out)
{
    *out = NULL;
    db_t *db = calloc(1, sizeof *db);
    if (!db) return LP_ENOMEM;
    db->serial = atomic_fetch_add_explicit(&openings, 1, memory_order_relaxed) + 1;
    int rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    int ret = db_status(rc);
    if (ret == 0) sqlite3_extended_result_codes(db->h, 1);
    if (ret == 0) ret = db_exec(db, "PRAGMA busy_timeout = 5000");
    if (ret == 0) ret = pragma_is(db, "PRAGMA journal_mode = WAL", "wal");
    if (ret == 0) ret = db_exec(db, "PRAGMA synchronous = FULL");
    if (ret == 0) ret = db_exec(db, "PRAGMA foreign_keys = ON");
    if (ret == 0) ret = pragma_is(db, "PRAGMA foreign_keys", "1");
    for (size_t i = 0; ret == 0 && i < resource_nall; i++) {
        char err[200];
        ret = resource_check(resource_all[i], err, sizeof err);
        if (ret < 0) fprintf(stderr, "resource %s: %s\n", resource_all[i]->name, err);
        if (ret == 0) ret = resource_create_table(db, resource_all[i]);
    }
    if (ret < 0) {
        db_close(db);
        return ret;
    }
    *out = db;
    return 0;
}

void db_close(db_t *db)
{
    if (!db) return;
    for (size_t i = 0; i < STMTS; i++) {
        sqlite3_finalize(db->stmts[i].st);
        free(db->stmts[i].sql);
    }
    sqlite3_close(db->h);
    free(db);
}
