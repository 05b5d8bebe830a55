/* The server's resources, each declared once: one F(name, type, flags, constraints...) line per
 * field. The schema, validation, JSON mapping and REST handlers follow from these lines, so a new
 * field needs only its line here (existing databases get the column on the next start). */
#ifndef LP_RESOURCES_H
#define LP_RESOURCES_H

#include "resource.h"

#include <stdint.h>

/* Users: a unique name, a write-only password (argon2id hash) and a role. */
#define RESOURCE_USERS(F)                                                                          \
    F(id, RT_INT, RF_KEY | RF_RO)                                                                  \
    F(name, RT_TEXT, RF_REQUIRED | RF_UNIQUE, .min = 1, .max = 63, .charset = RC_NAME)             \
    F(password, RT_PASSWORD, RF_REQUIRED | RF_WO, .min = 8, .max = 1024)                           \
    F(role, RT_ENUM, 0, .values = RESOURCE_VALUES("admin", "user"), .def = "user")                 \
    F(created, RT_TIME, RF_RO | RF_NOW)

/* Bearer tokens, stored only as a hash; login tokens expire, API tokens do not. */
#define RESOURCE_TOKENS(F)                                                                         \
    F(id, RT_INT, RF_KEY | RF_RO)                                                                  \
    F(user, RT_USER, RF_RO | RF_CASCADE)                                                           \
    F(hash, RT_TEXT, RF_HIDDEN | RF_UNIQUE, .min = 64, .max = 64, .charset = RC_HEX)               \
    F(kind, RT_ENUM, RF_RO, .values = RESOURCE_VALUES("api", "login"))                             \
    F(created, RT_TIME, RF_RO | RF_NOW)                                                            \
    F(expires, RT_TIME, RF_RO | RF_NULL)                                                           \
    F(revoked, RT_BOOL, RF_RO, .def = "0")

/* Monitors the server dials; `wanted` records the last connect/disconnect request. */
#define RESOURCE_CONNECTIONS(F)                                                                    \
    F(id, RT_INT, RF_KEY | RF_RO)                                                                  \
    F(owner, RT_USER, RF_RO | RF_CASCADE)                                                          \
    F(name, RT_TEXT, RF_REQUIRED, .min = 1, .max = 255)                                            \
    F(host, RT_TEXT, RF_REQUIRED, .min = 1, .max = 255, .charset = RC_HOST)                        \
    F(port, RT_INT, RF_REQUIRED, .min = 1, .max = 65535)                                           \
    F(token, RT_TEXT, RF_WO | RF_NULL, .min = 1, .max = 1024, .charset = RC_VISIBLE)               \
    F(wanted, RT_ENUM, RF_RO, .values = RESOURCE_VALUES("disconnected", "connected"),              \
      .def = "disconnected")                                                                       \
    F(last_used, RT_TIME, RF_RO | RF_NULL)                                                         \
    F(created, RT_TIME, RF_RO | RF_NOW)

/* Sessions' metadata (their data lives in DIR/sessions/<id>/); owner 0 is a guest. */
#define RESOURCE_SESSIONS(F)                                                                       \
    F(id, RT_TEXT, RF_KEY | RF_RO, .min = 32, .max = 32, .charset = RC_HEX)                        \
    F(name, RT_TEXT, 0, .max = 255, .def = "")                                                     \
    F(owner, RT_USER, RF_RO)                                                                       \
    F(visibility, RT_ENUM, 0, .values = RESOURCE_VALUES("public", "private"), .def = "private")    \
    F(state, RT_ENUM, RF_RO, .values = RESOURCE_VALUES("ingesting", "live", "done", "failed"))     \
    F(bytes_ingested, RT_INT, RF_RO, .min = 0, .max = INT64_MAX, .def = "0")                       \
    F(events, RT_INT, RF_RO, .min = 0, .max = INT64_MAX, .def = "0")                               \
    F(error, RT_TEXT, RF_RO | RF_NULL, .max = 255)                                                 \
    F(created, RT_TIME, RF_RO | RF_NOW)

extern const resource_t resource_users, resource_tokens, resource_connections, resource_sessions;
/* Every resource, in table creation order. */
extern const resource_t *const resource_all[];
extern const size_t resource_nall;

#endif
