/* rtree: Guttman-style R-tree with a split along the axis of largest
 * spread (sorted halves), deletion with node condensing by re-insertion of
 * orphaned entries.
 *
 * Bare leaves (rtree_new_bare): the leaves hold item pointers only and read
 * an item's box from the item. Units are the engine's most numerous
 * objects and already keep their index ball; a leaf entry with its own box
 * cost 32 bytes against 8, about 35 of the 275 bytes a unit took in all.
 * The price is a read of the item for each leaf entry a search or split
 * looks at; the unit tree is searched when operations change, not when
 * units report. */
#include "rtree.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXE 16
#define MINE 4

typedef struct node {
    int leaf;
    int count;
    union {
        struct {
            rtree_box box[MAXE];
            union {
                struct node *child[MAXE];
                void *item[MAXE];
            };
        };
        void *bare[MAXE]; /* a leaf of a bare tree: items only */
    };
} node;

#define BARE_SIZE (offsetof(node, bare) + sizeof(void *) * MAXE)

struct rtree {
    node *root;
    int height; /* 1 = root is a leaf */
    size_t count;
    size_t nodes, bare_nodes;
    rtree_item_box_fn item_box; /* NULL: leaves keep boxes */
    /* pre-allocated so that an insert never fails half-way */
    node *spare[40];
    int nspare;
    node *spare_bare;
};

static int is_bare(const rtree *t, const node *n)
{
    return n->leaf && t->item_box;
}

/* Entry i of n: its box and its pointer (child or item). */
static rtree_box ent_box(const rtree *t, const node *n, int i)
{
    return is_bare(t, n) ? t->item_box(n->bare[i]) : n->box[i];
}

static void *ent_ptr(const rtree *t, const node *n, int i)
{
    return is_bare(t, n) ? n->bare[i] : n->leaf ? n->item[i] : (void *)n->child[i];
}

/* nextafterf(x, FLT_MAX) and nextafterf(x, -FLT_MAX), the same values,
 * by stepping the bits of a finite nonzero x (libm's call for the rest):
 * a bare leaf's search computes six of these for every unit it looks at. */
static float next_up(float x)
{
    if (x == 0 || !isfinite(x) || x == FLT_MAX)
        return nextafterf(x, FLT_MAX);
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    b = x > 0 ? b + 1 : b - 1;
    memcpy(&x, &b, sizeof x);
    return x;
}

static float next_down(float x)
{
    if (x == 0 || !isfinite(x) || x == -FLT_MAX)
        return nextafterf(x, -FLT_MAX);
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    b = x > 0 ? b - 1 : b + 1;
    memcpy(&x, &b, sizeof x);
    return x;
}

rtree_box rtree_box_around(const double c[3], double r)
{
    rtree_box b;
    for (int k = 0; k < 3; k++) {
        b.min[k] = next_down((float)(c[k] - r));
        b.max[k] = next_up((float)(c[k] + r));
    }
    return b;
}

rtree_box rtree_box_around_f(const float c[3], double r)
{
    const double cd[3] = {c[0], c[1], c[2]};
    return rtree_box_around(cd, r);
}

static node *node_new(rtree *t, int leaf)
{
    node *n;
    if (leaf && t->item_box) {
        n = t->spare_bare ? t->spare_bare : malloc(BARE_SIZE);
        t->spare_bare = NULL;
        if (n) {
            memset(n, 0, BARE_SIZE);
            t->bare_nodes++;
        }
    } else {
        n = t->nspare ? t->spare[--t->nspare] : malloc(sizeof *n);
        if (n) {
            memset(n, 0, sizeof *n);
            t->nodes++;
        }
    }
    if (n)
        n->leaf = leaf;
    return n;
}

/* node_gone counts n out (the caller frees it). */
static void node_gone(rtree *t, const node *n)
{
    if (is_bare(t, n))
        t->bare_nodes--;
    else
        t->nodes--;
}

rtree *rtree_new(void)
{
    return rtree_new_bare(NULL);
}

rtree *rtree_new_bare(rtree_item_box_fn item_box)
{
    rtree *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->item_box = item_box;
    t->root = node_new(t, 1);
    if (!t->root) {
        free(t);
        return NULL;
    }
    t->height = 1;
    return t;
}

static void node_free(node *n)
{
    if (!n->leaf)
        for (int i = 0; i < n->count; i++)
            node_free(n->child[i]);
    free(n);
}

void rtree_free(rtree *t)
{
    if (!t)
        return;
    while (t->nspare)
        free(t->spare[--t->nspare]);
    free(t->spare_bare);
    node_free(t->root);
    free(t);
}

size_t rtree_count(const rtree *t)
{
    return t->count;
}

size_t rtree_memory(const rtree *t)
{
    return t->nodes * sizeof(node) + t->bare_nodes * BARE_SIZE;
}

static int box_intersects(const rtree_box *a, const rtree_box *b)
{
    for (int k = 0; k < 3; k++)
        if (a->min[k] > b->max[k] || a->max[k] < b->min[k])
            return 0;
    return 1;
}

static int box_contains(const rtree_box *a, const rtree_box *b)
{
    for (int k = 0; k < 3; k++)
        if (b->min[k] < a->min[k] || b->max[k] > a->max[k])
            return 0;
    return 1;
}

static void box_expand(rtree_box *a, const rtree_box *b)
{
    for (int k = 0; k < 3; k++) {
        if (b->min[k] < a->min[k])
            a->min[k] = b->min[k];
        if (b->max[k] > a->max[k])
            a->max[k] = b->max[k];
    }
}

static double box_volume(const rtree_box *a)
{
    double v = 1;
    for (int k = 0; k < 3; k++)
        v *= (double)a->max[k] - a->min[k] + 1.0;
    return v;
}

static rtree_box node_box(const rtree *t, const node *n)
{
    rtree_box b = ent_box(t, n, 0);
    for (int i = 1; i < n->count; i++) {
        rtree_box c = ent_box(t, n, i);
        box_expand(&b, &c);
    }
    return b;
}

static int choose(const node *n, const rtree_box *b)
{
    int best = 0;
    double best_enl = INFINITY, best_vol = INFINITY;
    for (int i = 0; i < n->count; i++) {
        rtree_box u = n->box[i];
        box_expand(&u, b);
        double vol = box_volume(&n->box[i]);
        double enl = box_volume(&u) - vol;
        if (enl < best_enl || (enl == best_enl && vol < best_vol)) {
            best = i;
            best_enl = enl;
            best_vol = vol;
        }
    }
    return best;
}

typedef struct {
    rtree_box box;
    void *ptr;
} entry;

/* Sets entry i of n (a bare leaf keeps only the pointer). */
static void ent_set(const rtree *t, node *n, int i, const entry *e)
{
    if (is_bare(t, n)) {
        n->bare[i] = e->ptr;
        return;
    }
    n->box[i] = e->box;
    if (n->leaf)
        n->item[i] = e->ptr;
    else
        n->child[i] = e->ptr;
}

/* Insertion sort of the MAXE + 1 entries by box centre along axis. */
static void sort_entries(entry *v, int n, int axis)
{
    for (int i = 1; i < n; i++) {
        entry e = v[i];
        float c = e.box.min[axis] + e.box.max[axis];
        int j = i - 1;
        while (j >= 0 && v[j].box.min[axis] + v[j].box.max[axis] > c) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = e;
    }
}

/* Splits full node n plus one extra entry into n and a new sibling. */
static node *split(rtree *t, node *n, const entry *extra)
{
    entry all[MAXE + 1];
    for (int i = 0; i < n->count; i++) {
        all[i].box = ent_box(t, n, i);
        all[i].ptr = ent_ptr(t, n, i);
    }
    all[MAXE] = *extra;
    rtree_box b = all[0].box;
    for (int i = 1; i <= MAXE; i++)
        box_expand(&b, &all[i].box);
    int axis = 0;
    float spread = -1;
    for (int k = 0; k < 3; k++)
        if (b.max[k] - b.min[k] > spread) {
            spread = b.max[k] - b.min[k];
            axis = k;
        }
    node *m = node_new(t, n->leaf);
    if (!m)
        return NULL;
    sort_entries(all, MAXE + 1, axis);
    int half = (MAXE + 1) / 2;
    n->count = 0;
    for (int i = 0; i < half; i++)
        ent_set(t, n, n->count++, &all[i]);
    for (int i = half; i <= MAXE; i++)
        ent_set(t, m, m->count++, &all[i]);
    return m;
}

/* Inserts e at the given level (0 = leaf level) below n, at depth d.
 * Returns the new sibling when n split, NULL otherwise; *oom on failure. */
static node *insert_rec(rtree *t, node *n, int depth, int level, const entry *e, int *oom)
{
    if (t->height - 1 - depth == level) {
        if (n->count < MAXE) {
            ent_set(t, n, n->count++, e);
            return NULL;
        }
        node *m = split(t, n, e);
        if (!m)
            *oom = 1;
        return m;
    }
    int i = choose(n, &e->box);
    node *m = insert_rec(t, n->child[i], depth + 1, level, e, oom);
    if (*oom)
        return NULL;
    if (!m) {
        /* the child's box grew by e's box, no more (a bare leaf's box is
         * not recomputed from its items on every insert) */
        box_expand(&n->box[i], &e->box);
        return NULL;
    }
    n->box[i] = node_box(t, n->child[i]);
    entry me = {node_box(t, m), m};
    if (n->count < MAXE) {
        n->box[n->count] = me.box;
        n->child[n->count++] = m;
        return NULL;
    }
    node *s = split(t, n, &me);
    if (!s)
        *oom = 1; /* the tree now misses m's subtree; see rtree_insert */
    return s;
}

static int insert_level(rtree *t, const entry *e, int level)
{
    int oom = 0;
    node *m = insert_rec(t, t->root, 0, level, e, &oom);
    if (oom)
        return -1;
    if (m) {
        node *r = node_new(t, 0);
        if (!r)
            return -1;
        r->box[0] = node_box(t, t->root);
        r->child[0] = t->root;
        r->box[1] = node_box(t, m);
        r->child[1] = m;
        r->count = 2;
        t->root = r;
        t->height++;
    }
    return 0;
}

int rtree_insert(rtree *t, const rtree_box *box, void *item)
{
    /* Reserve the worst case up front (one node per level plus a root) so
     * that a split can never fail half-way and leave the tree inconsistent. */
    int need = t->height + 1;
    if (need > 40)
        return -1;
    if (t->item_box) {
        /* the box must be the one the tree will read back */
        rtree_box b = t->item_box(item);
        if (memcmp(&b, box, sizeof b) != 0)
            return -1;
        if (!t->spare_bare && !(t->spare_bare = malloc(BARE_SIZE)))
            return -1;
    }
    while (t->nspare < need) {
        node *n = malloc(sizeof(node));
        if (!n)
            return -1;
        t->spare[t->nspare++] = n;
    }
    entry e = {*box, item};
    if (insert_level(t, &e, 0))
        return -1;
    t->count++;
    return 0;
}

typedef struct {
    entry *v;
    int *lvl;
    int n, cap;
} orphans;

static int orphan_push(orphans *o, entry e, int lvl)
{
    if (o->n == o->cap) {
        int cap = o->cap ? o->cap * 2 : 32;
        entry *v = realloc(o->v, sizeof *v * cap);
        if (!v)
            return -1;
        o->v = v;
        int *l = realloc(o->lvl, sizeof *l * cap);
        if (!l)
            return -1;
        o->lvl = l;
        o->cap = cap;
    }
    o->v[o->n] = e;
    o->lvl[o->n++] = lvl;
    return 0;
}

static void collect(const rtree *t, node *n, int lvl, orphans *o)
{
    for (int i = 0; i < n->count; i++) {
        entry e = {ent_box(t, n, i), ent_ptr(t, n, i)};
        orphan_push(o, e, lvl);
    }
}

/* Returns 1 when found and removed. Underfull children are dissolved into
 * o for re-insertion. */
static int delete_rec(rtree *t, node *n, int depth, const rtree_box *box, void *item, orphans *o)
{
    if (n->leaf) {
        for (int i = 0; i < n->count; i++)
            if (ent_ptr(t, n, i) == item) {
                int last = n->count - 1;
                entry e = {ent_box(t, n, last), ent_ptr(t, n, last)};
                ent_set(t, n, i, &e);
                n->count--;
                return 1;
            }
        return 0;
    }
    for (int i = 0; i < n->count; i++) {
        if (!box_contains(&n->box[i], box))
            continue;
        if (delete_rec(t, n->child[i], depth + 1, box, item, o)) {
            node *c = n->child[i];
            if (c->count < MINE) {
                collect(t, c, t->height - 2 - depth, o);
                node_gone(t, c);
                free(c);
                n->box[i] = n->box[n->count - 1];
                n->child[i] = n->child[n->count - 1];
                n->count--;
            } else {
                n->box[i] = node_box(t, c);
            }
            return 1;
        }
    }
    return 0;
}

int rtree_delete(rtree *t, const rtree_box *box, void *item)
{
    orphans o = {0};
    if (!delete_rec(t, t->root, 0, box, item, &o)) {
        free(o.v);
        free(o.lvl);
        return -1;
    }
    t->count--;
    while (!t->root->leaf && t->root->count == 1) {
        node *r = t->root;
        t->root = r->child[0];
        node_gone(t, r);
        free(r);
        t->height--;
    }
    if (!t->root->leaf && t->root->count == 0) {
        /* an empty inner root becomes the (leaf) root: counted as one
         * kind or the other; a bare leaf's layout fits in a full node */
        node_gone(t, t->root);
        t->root->leaf = 1;
        if (t->item_box)
            t->bare_nodes++;
        else
            t->nodes++;
        t->height = 1;
    }
    for (int i = 0; i < o.n; i++) {
        int lvl = o.lvl[i];
        if (lvl > t->height - 1) {
            /* The tree shrank below this subtree's level: re-insert its
             * items one by one. */
            orphans sub = {0};
            node *n = o.v[i].ptr;
            collect(t, n, lvl - 1, &sub);
            node_gone(t, n);
            free(n);
            for (int j = 0; j < sub.n; j++) {
                orphan_push(&o, sub.v[j], sub.lvl[j]);
            }
            free(sub.v);
            free(sub.lvl);
            continue;
        }
        insert_level(t, &o.v[i], lvl);
    }
    free(o.v);
    free(o.lvl);
    return 0;
}

static int search_rec(const rtree *t, const node *n, const rtree_box *box,
                      int (*fn)(void *, void *), void *ud)
{
    if (is_bare(t, n)) {
        for (int i = 0; i < n->count; i++) {
            rtree_box b = t->item_box(n->bare[i]);
            if (box_intersects(&b, box) && fn(n->bare[i], ud))
                return 1;
        }
        return 0;
    }
    for (int i = 0; i < n->count; i++) {
        if (!box_intersects(&n->box[i], box))
            continue;
        if (n->leaf) {
            if (fn(n->item[i], ud))
                return 1;
        } else if (search_rec(t, n->child[i], box, fn, ud)) {
            return 1;
        }
    }
    return 0;
}

void rtree_search(const rtree *t, const rtree_box *box, int (*fn)(void *item, void *udata),
                  void *udata)
{
    search_rec(t, t->root, box, fn, udata);
}

static long check_rec(const rtree *t, const node *n, int depth, int height, const node *root)
{
    if (n != root && (n->count < 1 || n->count > MAXE))
        return -1;
    if (n->leaf != (depth == height - 1))
        return -1;
    if (n->leaf)
        return n->count;
    long total = 0;
    for (int i = 0; i < n->count; i++) {
        rtree_box b = node_box(t, n->child[i]);
        if (n->child[i]->count && !box_contains(&n->box[i], &b))
            return -1;
        long c = check_rec(t, n->child[i], depth + 1, height, root);
        if (c < 0)
            return -1;
        total += c;
    }
    return total;
}

int rtree_check(const rtree *t)
{
    long c = check_rec(t, t->root, 0, t->height, t->root);
    return c == (long)t->count ? 0 : -1;
}
