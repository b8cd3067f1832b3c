/* rtree: an R-tree of 3D boxes (ECEF metres, float, rounded outward)
 * mapping boxes to opaque item pointers.
 *
 * Hand-written because the engine needs one that is fast for point-sized
 * queries, supports delete, works in 3D (no antimeridian or pole cases)
 * and reports out-of-memory without corrupting itself. */
#ifndef DC_RTREE_H
#define DC_RTREE_H

#include <stddef.h>

typedef struct rtree rtree;

typedef struct {
    float min[3], max[3];
} rtree_box;

/* rtree_box_around returns the box of a ball centre c, radius r, rounded
 * outward so that it always contains the ball. */
rtree_box rtree_box_around(const double c[3], double r);

/* rtree_box_around_f is rtree_box_around of a ball whose centre is stored
 * in floats. The floats are read here, in their own compilation unit: GCC
 * 12 at -O2 was seen passing a unit's double position where the caller had
 * just stored it as floats and read them back, which gave a box 1 ulp off
 * the one the unit's stored floats define (see CMakeLists.txt). */
rtree_box rtree_box_around_f(const float c[3], double r);

/* rtree_new returns an empty tree, or NULL when out of memory. */
rtree *rtree_new(void);

/* rtree_new_bare returns an empty tree whose leaves keep no boxes: an
 * item's box is item_box(item), read whenever the tree needs it. While an
 * item is in the tree, item_box must return exactly the box it was
 * inserted with (rtree_insert refuses any other box). NULL when out of
 * memory. */
typedef rtree_box (*rtree_item_box_fn)(const void *item);
rtree *rtree_new_bare(rtree_item_box_fn item_box);

/* rtree_free frees the tree (not the items). */
void rtree_free(rtree *t);

/* rtree_insert adds item with box. Returns 0, or -1 when out of memory
 * (the tree is unchanged). */
int rtree_insert(rtree *t, const rtree_box *box, void *item);

/* rtree_delete removes item, which must have been inserted with exactly
 * box. Returns 0, or -1 when it was not found. */
int rtree_delete(rtree *t, const rtree_box *box, void *item);

/* rtree_search calls fn(item, udata) for each item whose box intersects
 * box; fn returns nonzero to stop early. */
void rtree_search(const rtree *t, const rtree_box *box, int (*fn)(void *item, void *udata),
                  void *udata);

/* rtree_count returns the number of items. */
size_t rtree_count(const rtree *t);

/* rtree_memory returns the bytes held by the tree's nodes. */
size_t rtree_memory(const rtree *t);

/* rtree_check verifies every invariant (boxes contain children, counts,
 * uniform leaf depth). Returns 0 or -1. */
int rtree_check(const rtree *t);

#endif
