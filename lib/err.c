/* Names and messages for the project's error codes, generated from the X-macro list in err.h. */
#include "err.h"

static const char *const err_msgs[] = {"ok",
#define ERR_MSG_(name, msg) msg,
                                       LP_ERRORS(ERR_MSG_)
#undef ERR_MSG_
};

static const char *const err_names[] = {"LP_OK",
#define ERR_NAME_(name, msg) "LP_E" #name,
                                        LP_ERRORS(ERR_NAME_)
#undef ERR_NAME_
};

const char *lp_strerror(int code)
{
    int i = -code;
    if (i < 0 || i >= LP_E_COUNT_) return "unknown error";
    return err_msgs[i];
}

const char *lp_errname(int code)
{
    int i = -code;
    if (i < 0 || i >= LP_E_COUNT_) return "LP_E?";
    return err_names[i];
}
