/* Project error codes: one X-macro list yields the enum, the names and the messages.
 * Every fallible function returns 0 (or a count) on success and a negative LP_E* code. */
#ifndef LP_ERR_H
#define LP_ERR_H

/* X(name, message) — codes are negative and numbered in list order from -1. */
#define LP_ERRORS(X)                                                                               \
    X(NOMEM, "out of memory")                                                                      \
    X(IO, "input/output error")                                                                    \
    X(ARG, "invalid argument")                                                                     \
    X(NO_HEADER, "header begin marker not found")                                                  \
    X(BAD_HEADER, "malformed header")                                                              \
    X(HEADER_TOO_BIG, "header too large")                                                          \
    X(UNDECLARED_TYPE, "undeclared event type")                                                    \
    X(BAD_EVENT, "malformed event")                                                                \
    X(TRUNCATED, "truncated event")                                                                \
    X(SCRIPT, "report script error")                                                               \
    X(REGEX, "invalid regular expression")                                                         \
    X(RANGE, "value out of range")                                                                 \
    X(NOT_FOUND, "not found")                                                                      \
    X(NET, "network error")                                                                        \
    X(TIMEOUT, "timed out")                                                                        \
    X(PROTO, "protocol error")                                                                     \
    X(CONFLICT, "conflicts with existing data")                                                    \
    X(CORRUPT, "corrupt data (checksum mismatch)")                                                 \
    X(NOSPACE, "no room to store it (disk full, quota or file size limit)")

enum {
    LP_OK = 0,
#define LP_ERR_ENUM_(name, msg) LP_E##name##_IDX_,
    LP_ERRORS(LP_ERR_ENUM_)
#undef LP_ERR_ENUM_
        LP_E_COUNT_
};

enum {
#define LP_ERR_CODE_(name, msg) LP_E##name = -(LP_E##name##_IDX_),
    LP_ERRORS(LP_ERR_CODE_)
#undef LP_ERR_CODE_
};

/* Returns the static message for a code ("ok" for 0, "unknown error" otherwise). Any thread. */
const char *lp_strerror(int code);
/* Returns the static symbolic name ("LP_ETRUNCATED") of a code. Any thread. */
const char *lp_errname(int code);

#endif
