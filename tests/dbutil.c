/* A fresh metadata database for the tests of the server's resources and auth. */
#include "dbutil.h"

#include "err.h"
#include "test.h"

db_t *tu_open_db(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tu_tmpdir(), name);
    db_t *db = NULL;
    int ret = db_open(path, &db);
    CHECKF(ret == 0, "db_open: %s", lp_errname(ret));
    REQUIRE(db);
    return db;
}
