/* The route tables of the session, upload and metrics handlers, and helpers they share. */
#ifndef LP_ROUTES_H
#define LP_ROUTES_H

#include "http.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct session session_t;

extern const http_route_t api_session_routes[];
extern const size_t api_session_nroutes;
extern const http_route_t api_upload_routes[];
extern const size_t api_upload_nroutes;
extern const http_route_t api_metrics_routes[];
extern const size_t api_metrics_nroutes;
extern const http_route_t api_retention_routes[];
extern const size_t api_retention_nroutes;

/* The session named by the first path parameter when the caller may see it; else sends 404 and
 * returns NULL. HTTP thread. */
session_t *api_visible_session(http_req_t *r);
/* True when the body's content type suits raw eventlog bytes; else sends 415. */
bool api_raw_body_ok(http_req_t *r);
/* Answers a failure to store a session's bytes (session_append's code other than LP_ERANGE):
 * 507 when the server's disk has no room (LP_ENOSPACE), else 500. HTTP thread. */
void api_store_failed(http_req_t *r, int rc);

#endif
