/* Test helper: a fresh metadata database in the test's temporary directory. */
#ifndef LP_DBUTIL_H
#define LP_DBUTIL_H

#include "db.h"

/* Opens (creating) tu_tmpdir()/name with every declared table; fails the test otherwise. */
db_t *tu_open_db(const char *name);

#endif
