/* test_rtree: the R-tree against a brute-force list. Random inserts,
 * deletes and searches (100,000 items, ECEF-scale coordinates, duplicate
 * boxes, degenerate boxes), rtree_check() after every batch. Seeded; the
 * seed is printed (DC_TEST_SEED to replay). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "rtree.h"
#include "testlib.h"

static uint64_t rng_state;
static uint64_t rnext(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
static double uni(double lo, double hi)
{
    return lo + (hi - lo) * (double)(rnext() >> 11) / 9007199254740992.0;
}

#define N 100000

typedef struct {
    int id;
    int alive;
    rtree_box box;
} item;

static item items[N];

static rtree_box random_box(void)
{
    double c[3], r;
    int kind = (int)(rnext() % 10);
    for (int k = 0; k < 3; k++)
        c[k] = uni(-6.4e6, 6.4e6);
    if (kind == 0)
        r = 0; /* a point */
    else if (kind < 7)
        r = uni(0, 5e3);
    else
        r = uni(0, 5e5);
    if (kind == 9) { /* clustered near one spot: many overlapping boxes */
        c[0] = 4e6 + uni(-100, 100);
        c[1] = 1e6 + uni(-100, 100);
        c[2] = 4.5e6 + uni(-100, 100);
    }
    return rtree_box_around(c, r);
}

static int box_hit(const rtree_box *a, const rtree_box *b)
{
    for (int k = 0; k < 3; k++)
        if (a->min[k] > b->max[k] || b->min[k] > a->max[k])
            return 0;
    return 1;
}

typedef struct {
    unsigned char *seen;
    int count, dup, stop_after;
} search_ctx;

static int on_item(void *it, void *ud)
{
    search_ctx *s = ud;
    item *x = it;
    if (s->seen[x->id])
        s->dup++;
    s->seen[x->id] = 1;
    s->count++;
    return s->stop_after && s->count >= s->stop_after;
}

static unsigned char seen[N];

/* Search with box q and compare with brute force. Returns 0 when equal. */
static int compare_search(const rtree *t, const rtree_box *q)
{
    memset(seen, 0, sizeof seen);
    search_ctx s = {seen, 0, 0, 0};
    rtree_search(t, q, on_item, &s);
    int want = 0, missing = 0, extra = 0;
    for (int i = 0; i < N; i++) {
        int hit = items[i].alive && box_hit(&items[i].box, q);
        want += hit;
        if (hit && !seen[i])
            missing++;
        if (!hit && seen[i])
            extra++;
    }
    if (missing || extra || s.dup) {
        TL_FAIL_("search: %d found, %d expected, %d missing, %d extra, %d duplicates", s.count,
                 want, missing, extra, s.dup);
        return -1;
    }
    return 0;
}

static rtree_box query_box(void)
{
    double c[3], r = uni(0, 1) < 0.5 ? uni(0, 2e4) : uni(0, 1e6);
    for (int k = 0; k < 3; k++)
        c[k] = uni(-6.4e6, 6.4e6);
    if (rnext() % 4 == 0) { /* at the cluster */
        c[0] = 4e6;
        c[1] = 1e6;
        c[2] = 4.5e6;
        r = uni(0, 200);
    }
    return rtree_box_around(c, r);
}

TEST(box_around_contains_ball)
{
    for (int i = 0; i < 100000; i++) {
        double c[3], r = uni(0, 1) < 0.1 ? 0 : uni(0, 1e6);
        for (int k = 0; k < 3; k++)
            c[k] = uni(-6.4e6, 6.4e6);
        rtree_box b = rtree_box_around(c, r);
        for (int k = 0; k < 3; k++)
            if (!((double)b.min[k] <= c[k] - r && (double)b.max[k] >= c[k] + r)) {
                TL_FAIL_("box_around(%.17g, r %.17g) axis %d: [%.9g, %.9g]", c[k], r, k,
                         (double)b.min[k], (double)b.max[k]);
                return;
            }
    }
}

/* rtree_box_around steps the bits of the rounded bounds itself: the same
 * boxes as libm's nextafterf, for zeros, subnormals, huge and ordinary
 * values of either sign. */
TEST(box_around_is_nextafterf)
{
    static const double special[] = {0.0, -0.0, 1e-45, -1e-45, 1.2e-38, -1.2e-38, 3.4e38, -3.4e38,
                                     3.5e38, -3.5e38, 1e39, 1.0, -1.0, 6.4e6};
    size_t ns = sizeof special / sizeof *special;
    for (int i = 0; i < 200000; i++) {
        double c[3], r;
        for (int k = 0; k < 3; k++)
            c[k] = i < 3000 ? special[rnext() % ns] : uni(-6.4e6, 6.4e6);
        r = i < 3000 ? special[rnext() % 4] : uni(0, 1) < 0.2 ? 0 : uni(0, 1e6);
        rtree_box b = rtree_box_around(c, r);
        for (int k = 0; k < 3; k++) {
            float lo = nextafterf((float)(c[k] - r), -FLT_MAX),
                  hi = nextafterf((float)(c[k] + r), FLT_MAX);
            if (memcmp(&lo, &b.min[k], sizeof lo) || memcmp(&hi, &b.max[k], sizeof hi)) {
                TL_FAIL_("box_around(%.17g, r %.17g): [%a, %a], nextafterf [%a, %a]", c[k], r,
                         (double)b.min[k], (double)b.max[k], (double)lo, (double)hi);
                return;
            }
        }
    }
}

TEST(empty_tree)
{
    rtree *t = rtree_new();
    ASSERT(t != NULL);
    EXPECT_EQ(rtree_count(t), 0);
    EXPECT_EQ(rtree_check(t), 0);
    rtree_box q = query_box();
    EXPECT_EQ(compare_search(t, &q), 0);
    int x;
    EXPECT_EQ(rtree_delete(t, &q, &x), -1);
    EXPECT_EQ(rtree_check(t), 0);
    rtree_free(t);
}

static rtree_box item_box_of(const void *it)
{
    return ((const item *)it)->box;
}

/* The whole sequence on a tree with boxes in its leaves, or a bare one
 * (rtree_new_bare: leaves read each item's box from the item). */
static void random_run(int bare)
{
    rtree *t = bare ? rtree_new_bare(item_box_of) : rtree_new();
    ASSERT(t != NULL);
    size_t alive = 0;
    for (int i = 0; i < N; i++) {
        items[i].id = i;
        items[i].alive = 0;
    }
    /* duplicate boxes with different items */
    rtree_box dup = random_box();
    int phases = 0;
    for (int round = 0; round < 6; round++) {
        /* insert a batch */
        int want_alive = round % 2 == 0 ? N * (round + 2) / 8 : N / 4;
        for (int i = 0; i < N && (int)alive < want_alive; i++) {
            int j = (int)(rnext() % N);
            if (items[j].alive)
                continue;
            items[j].box = j % 97 == 0 ? dup : random_box();
            if (rtree_insert(t, &items[j].box, &items[j]) != 0) {
                TL_FAIL_("insert failed");
                rtree_free(t);
                return;
            }
            items[j].alive = 1;
            alive++;
        }
        /* delete a batch */
        if (round % 2 == 1) {
            int del = (int)alive / 2;
            for (int i = 0; i < N && del > 0; i++) {
                int j = (int)(rnext() % N);
                if (!items[j].alive)
                    continue;
                if (rtree_delete(t, &items[j].box, &items[j]) != 0) {
                    TL_FAIL_("delete of a present item failed");
                    rtree_free(t);
                    return;
                }
                items[j].alive = 0;
                alive--;
                del--;
            }
        }
        phases++;
        EXPECT_EQ(rtree_count(t), alive);
        if (rtree_check(t) != 0) {
            TL_FAIL_("rtree_check failed after batch %d", round);
            rtree_free(t);
            return;
        }
        EXPECT(rtree_memory(t) > 0);
        for (int q = 0; q < 60; q++) {
            rtree_box b = query_box();
            if (compare_search(t, &b)) {
                rtree_free(t);
                return;
            }
        }
        EXPECT_EQ(compare_search(t, &dup), 0);
    }
    /* deleting an item that is absent fails and changes nothing (the box
     * given must be the inserted one, so a wrong box is not tested) */
    for (int i = 0, done = 0; i < N && done < 1000; i++)
        if (!items[i].alive) {
            EXPECT_EQ(rtree_delete(t, &items[i].box, &items[i]), -1);
            done++;
        }
    EXPECT_EQ(rtree_count(t), alive);
    EXPECT_EQ(rtree_check(t), 0);
    /* early stop */
    {
        rtree_box all = {{-1e30f, -1e30f, -1e30f}, {1e30f, 1e30f, 1e30f}};
        memset(seen, 0, sizeof seen);
        search_ctx s = {seen, 0, 0, 7};
        rtree_search(t, &all, on_item, &s);
        EXPECT_EQ(s.count, 7);
        EXPECT_EQ(compare_search(t, &all), 0);
    }
    /* interleaved single operations with a check every 1000 */
    for (int op = 0; op < 40000; op++) {
        int j = (int)(rnext() % N);
        if (items[j].alive) {
            ASSERT_EQ(rtree_delete(t, &items[j].box, &items[j]), 0);
            items[j].alive = 0;
            alive--;
        } else {
            items[j].box = random_box();
            ASSERT_EQ(rtree_insert(t, &items[j].box, &items[j]), 0);
            items[j].alive = 1;
            alive++;
        }
        if (op % 1000 == 999) {
            ASSERT_EQ(rtree_check(t), 0);
            ASSERT_EQ(rtree_count(t), alive);
            rtree_box b = query_box();
            ASSERT_EQ(compare_search(t, &b), 0);
        }
    }
    /* empty it completely */
    for (int i = 0; i < N; i++)
        if (items[i].alive) {
            ASSERT_EQ(rtree_delete(t, &items[i].box, &items[i]), 0);
            items[i].alive = 0;
            alive--;
            if (alive % 20000 == 0)
                ASSERT_EQ(rtree_check(t), 0);
        }
    EXPECT_EQ(rtree_count(t), 0);
    EXPECT_EQ(rtree_check(t), 0);
    rtree_box b = query_box();
    EXPECT_EQ(compare_search(t, &b), 0);
    /* and reuse it */
    for (int i = 0; i < 1000; i++) {
        items[i].box = random_box();
        ASSERT_EQ(rtree_insert(t, &items[i].box, &items[i]), 0);
        items[i].alive = 1;
    }
    EXPECT_EQ(rtree_check(t), 0);
    EXPECT_EQ(rtree_count(t), 1000);
    if (bare) {
        /* a box other than the item's own is refused, and changes nothing */
        size_t mem = rtree_memory(t);
        items[1000].box = random_box();
        rtree_box other = items[1000].box;
        other.max[0] = nextafterf(other.max[0], 1e30f);
        EXPECT_EQ(rtree_insert(t, &other, &items[1000]), -1);
        EXPECT_EQ(rtree_count(t), 1000);
        EXPECT_EQ(rtree_memory(t), mem);
        EXPECT_EQ(rtree_check(t), 0);
    }
    rtree_free(t);
    (void)phases;
}

TEST(random_against_brute_force)
{
    random_run(0);
}

TEST(bare_leaves_against_brute_force)
{
    random_run(1);
}

TEST(bare_leaves_hold_less)
{
    /* the same items take less room in a bare tree: 8 bytes per leaf
     * entry instead of 32 */
    rtree *full = rtree_new(), *bare = rtree_new_bare(item_box_of);
    ASSERT(full && bare);
    for (int i = 0; i < 20000; i++) {
        items[i].box = random_box();
        ASSERT_EQ(rtree_insert(full, &items[i].box, &items[i]), 0);
        ASSERT_EQ(rtree_insert(bare, &items[i].box, &items[i]), 0);
    }
    EXPECT(rtree_memory(bare) * 2 < rtree_memory(full));
    rtree_free(full);
    rtree_free(bare);
}

int main(void)
{
    const char *env = getenv("DC_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : 20170209ULL;
    if (!seed)
        seed = 1;
    rng_state = seed;
    printf("seed %llu (set DC_TEST_SEED to replay)\n", (unsigned long long)seed);
    RUN(box_around_contains_ball);
    RUN(box_around_is_nextafterf);
    RUN(empty_tree);
    RUN(random_against_brute_force);
    RUN(bare_leaves_against_brute_force);
    RUN(bare_leaves_hold_less);
    if (tl_failed)
        printf("seed %llu\n", (unsigned long long)seed);
    return TL_DONE();
}
