/* A small SVG document model for tests: it loads a snapshot, applies delta items as a browser
 * would (find by id, insert before a sibling, replace, set or remove attributes) and writes the
 * document back, so tests can compare the result with a full render byte for byte. The layout
 * rule it mirrors: children of the root <svg> are each followed by a newline. */
#ifndef LP_SVGAPPLY_H
#define LP_SVGAPPLY_H

#include "wsmsg.h"

#include <stddef.h>

typedef struct sa_node sa_node_t;
typedef struct svgapply {
    char *prolog; /* everything before the root element */
    sa_node_t *root;
} svgapply_t;

/* Loads a document (borrowed). Returns 0 or -1 when it is not well nested. */
int svgapply_load(svgapply_t *s, const char *svg, size_t len);
/* Applies one item. Returns 0, or -1 when it names an element that is not there, adds a
 * duplicate id, or carries markup that does not parse. */
int svgapply_item(svgapply_t *s, const wsmsg_item_t *it);
/* The document as text (malloc'd, NUL-terminated; *len without the NUL). */
char *svgapply_text(const svgapply_t *s, size_t *len);
/* Frees everything (safe on a zeroed one). */
void svgapply_free(svgapply_t *s);

#endif
