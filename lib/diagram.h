/* A rendered diagram as a set of elements addressed by their stable ids, and the delta between
 * two renders: the items (add, update, remove by id; proto/ws.fbs) that turn the first document
 * into the second exactly. The model is the layout lib/aggr_svg.c writes: an XML prolog, the
 * root <svg id="root"> on its own line, then one element with an id per line; a root-level <g>
 * whose children all carry ids is diffed child by child. */
#ifndef LP_DIAGRAM_H
#define LP_DIAGRAM_H

#include "aggr_svg.h"
#include "wsmsg.h"

#include <stddef.h>
#include <stdint.h>

/* One element: its markup text[start, end), opening tag text[start, tag_end), its id. */
typedef struct diagram_node {
    uint32_t start, end, tag_end;
    uint32_t id, id_len; /* the id's bytes in text */
    int32_t first;       /* children (a split <g>): nodes[first, first + n); n = -1: opaque */
    int32_t n;
} diagram_node_t;

/* A parsed document: nodes[0] is the root <svg>, nodes[1, 1 + nodes[0].n) its children. */
typedef struct diagram {
    char *text; /* owned, NUL-terminated */
    size_t len;
    diagram_node_t *nodes;
    size_t nnodes;
} diagram_t;

/* Parses `len` bytes of `text`, taking ownership of the malloc'd buffer (freed by
 * diagram_dispose, also on failure). Returns 0, or LP_EPROTO when the text is not in the layout
 * above (an element without an id, a duplicate id at one level, text between elements). Out of
 * memory is fatal. Any thread. */
int diagram_parse(diagram_t *d, char *text, size_t len);
/* Frees what the diagram holds and zeroes it (safe on a zeroed one). */
void diagram_dispose(diagram_t *d);

/* The items of a delta: strings point into the two diagrams (borrowed while both live). */
typedef struct diagram_delta {
    wsmsg_item_t *items;
    size_t n, cap;
    wsmsg_attr_t *attrs;
    size_t nattrs, acap;
} diagram_delta_t;

void diagram_delta_init(diagram_delta_t *x);
void diagram_delta_dispose(diagram_delta_t *x);

/* Fills `x` (emptied first) with the items that turn `from` into `to` when applied in order:
 * first every Remove, then the Updates (attribute changes where the opening tag alone changed
 * and the result is the same bytes, else the whole element; the root <svg> is "root"), then the
 * Adds, each placed before its next sibling. Returns 0, or LP_ERANGE (no items) when a delta
 * cannot express the change (an empty diagram, a changed prolog or root element name): send a
 * snapshot instead. Out of memory is fatal. Any thread. */
int diagram_diff(const diagram_t *from, const diagram_t *to, diagram_delta_t *x);

/* Draws queried data (aggr_svg_query; borrowed) into `d`, replacing what it held. Returns 0,
 * LP_EIO, LP_ENOMEM or LP_EPROTO (see diagram_parse). Any thread, no lock needed. */
int diagram_draw(diagram_t *d, const aggr_svg_data_t *data);

#endif
