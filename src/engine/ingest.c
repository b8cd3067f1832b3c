/* ingest: position reports in batches, with software prefetching.
 *
 * A position report does little arithmetic; most of its time is spent
 * waiting for memory, one dependent pointer after another: the unit's hash
 * slot, the unit block and its key, its conflict list, each conflict, the
 * operation on the other side, its neighbour list, each listed volume, that
 * volume's operation and the witness's vertices (bench/README.md, ingest).
 * A single call cannot overlap those waits; a batch can, because it knows
 * which units come next. So while report i is applied, the CPU is asked
 * for what report i + k will read, one level of pointers per k: the hash
 * slot AHEAD_HASH reports ahead, the unit block AHEAD_UNIT ahead, its lists
 * AHEAD_LISTS ahead, their items and then the objects those point to in
 * the last reports before i. Each stage follows only pointers that an
 * earlier stage has brought into cache, and reads them fresh from current
 * state (never a copy kept from an earlier stage), so a report applied
 * meanwhile that reallocated a list costs at most a wasted prefetch.
 *
 * Hand-written because it was measured: bench_engine A (2M reports, seed
 * 20170209, 2 shared cores, median of 3) went from 2,080 to 1,253 ns of
 * CPU per report (1.66x; wall clock 405k -> 603k reports/s) against one
 * dc_position_report per report. Finding the unit (hash slots, unit
 * block, key) fell from ~26 % of the profile to ~11 %, gathering the
 * candidates (conflicts, other sides, neighbour lists) from ~22 % to the
 * ~13 % the prefetch stages now spend; the rest is the geometry.
 * Distances: a sweep of nearer and farther settings measured the same
 * within the machine's noise. Prefetches are hints: the
 * results are those of dc_position_report for each report in order (a
 * report never creates or deletes a unit, so a unit found a few reports
 * early is the one the report would find), and test_ingest compares the
 * two, change by change. */
#include <stddef.h>
#include <string.h>

#include "engine_int.h"

/* How many reports ahead of the one being applied each stage runs. Tuned
 * on bench_engine A; a stage needs the one before it to have landed (a
 * main-memory miss is a few hundred ns, a report about 1.2 us). */
enum {
    AHEAD_ID = 14,
    AHEAD_HASH = 10,
    AHEAD_UNIT = 7,
    AHEAD_LISTS = 4,
    AHEAD_ITEMS = 2,
    AHEAD_SIDES = 1
};
/* dc_units_find does nothing but lookups: stages closer together. */
enum { FIND_ID = 12, FIND_HASH = 8, FIND_UNIT = 4 };
#define RING 16 /* a power of two above AHEAD_HASH: the reports in flight */
/* Lists longer than this are prefetched in part (they are ~1-2 long). */
#define PF_MAX_ITEMS 8

typedef struct {
    uint64_t h;
    int ok;        /* 0: no key (no party, or an id engine_lookup refuses) */
    char key[100]; /* "PARTY/ID": up to 32 + 1 + 64 + NUL */
} lookup;

/* lookup_start builds the key exactly as engine_lookup does and asks for
 * the hash slot where its probe starts. */
static void lookup_start(lookup *l, const dc_engine *e, const party *p, size_t np, const char *id)
{
    l->ok = 0;
    if (!p || !id)
        return;
    size_t ni = strlen(id);
    if (ni > 64 || np > 32)
        return;
    memcpy(l->key, p->id, np);
    l->key[np] = '/';
    memcpy(l->key + np + 1, id, ni + 1);
    l->h = hmap_hash(l->key);
    l->ok = 1;
    hmap_prefetch(&e->units, l->h);
}

/* unit_prefetch asks for the unit block: the header, position and box a
 * report reads and writes, and the key the lookup compares (stored at the
 * end of the block). */
static void unit_prefetch(const unit *u)
{
    for (size_t off = 0; off < offsetof(unit, key); off += 64)
        __builtin_prefetch((const char *)u + off, 1);
    __builtin_prefetch(u->key);
}

/* lookup_peek: the slot has landed; ask for the unit it most likely holds. */
static void lookup_peek(const lookup *l, const dc_engine *e)
{
    if (!l->ok)
        return;
    const unit *u = hmap_peek(&e->units, l->h);
    if (u)
        unit_prefetch(u);
}

/* lookup_finish is engine_lookup(e, OBJ_UNIT, p, id) on the prepared key. */
static unit *lookup_finish(const lookup *l, const dc_engine *e)
{
    return l->ok ? hmap_get_h(&e->units, l->key, l->h) : NULL;
}

/* lists_prefetch: what gather and reconcile read from u's lists, a level
 * per stage: 0 the conflict list and the neighbour list; 1 each conflict
 * and each listed volume; 2 the object on the other side of each conflict
 * (its owner and mark, then its volumes' window) and the volumes'
 * operations and vertices. */
static void lists_prefetch(const unit *u, int stage)
{
    if (stage == 0) {
        if (u->h.cf)
            __builtin_prefetch(u->h.cf);
    } else {
        int n = obj_ncf(&u->h) < PF_MAX_ITEMS ? obj_ncf(&u->h) : PF_MAX_ITEMS;
        for (int k = 0; k < n; k++) {
            const dc_conflict *c = obj_cf(&u->h, k);
            if (stage == 1) {
                __builtin_prefetch(c);
                __builtin_prefetch((const char *)c + 64);
                __builtin_prefetch((const char *)c + CONFLICT_HOT - 1);
            } else {
                const obj *o = c->a == &u->h ? c->b : c->a;
                __builtin_prefetch(o);
                __builtin_prefetch((const char *)o + 64);
            }
        }
    }
    engine_nl_prefetch(u, stage);
}

void dc_unit_prefetch(const dc_unit_ref *ref, int stage)
{
    const unit *u = (const unit *)ref;
    if (stage == 0)
        unit_prefetch(u);
    else if (stage <= 3)
        lists_prefetch(u, stage - 1);
}

/* The pipeline shared by both batch calls: given[] when the caller found
 * the units already, else they are looked up (party p, as party_id). */
static dc_status run(dc_engine *e, const char *party_id, const party *p, dc_unit_ref *const *given,
                     const dc_report *r, size_t n, dc_time now, dc_changes *ch, size_t *ch_end,
                     size_t *accepted, dc_error *err)
{
    lookup lk[RING];
    unit *found[RING];
    ptrdiff_t nn = (ptrdiff_t)n, j;
    size_t done = 0;
    dc_status st = DC_OK;
    size_t np = p ? strlen(p->id) : 0;
    for (ptrdiff_t i = -AHEAD_ID; i < nn; i++) {
        /* the caller's id strings may be scattered (the benchmark's are) */
        if (!given && (j = i + AHEAD_ID) >= 0 && j < nn)
            __builtin_prefetch(r[j].unit);
        if (!given && (j = i + AHEAD_HASH) >= 0 && j < nn)
            lookup_start(&lk[j % RING], e, p, np, r[j].unit);
        if ((j = i + AHEAD_UNIT) >= 0 && j < nn) {
            if (given)
                unit_prefetch((const unit *)given[j]);
            else
                lookup_peek(&lk[j % RING], e);
        }
        if ((j = i + AHEAD_LISTS) >= 0 && j < nn) {
            unit *u = given ? (unit *)given[j] : lookup_finish(&lk[j % RING], e);
            found[j % RING] = u;
            if (u)
                lists_prefetch(u, 0);
        }
        if ((j = i + AHEAD_ITEMS) >= 0 && j < nn && found[j % RING])
            lists_prefetch(found[j % RING], 1);
        if ((j = i + AHEAD_SIDES) >= 0 && j < nn && found[j % RING])
            lists_prefetch(found[j % RING], 2);
        if (i < 0)
            continue;
        const dc_report *x = &r[i];
        unit *u = found[i % RING];
        if (u)
            st = dc_position_report_unit(e, (dc_unit_ref *)u, x->lon, x->lat, x->alt_m, x->ce_m,
                                         x->t, now, ch, err);
        else /* no such party or unit: the very error a single call gives */
            st = dc_position_report(e, party_id, x->unit, x->lon, x->lat, x->alt_m, x->ce_m, x->t,
                                    now, ch, err);
        if (st != DC_OK)
            break;
        if (ch_end)
            ch_end[i] = ch ? ch->n : 0;
        done++;
    }
    if (accepted)
        *accepted = done;
    return st;
}

dc_status dc_position_report_batch(dc_engine *e, const char *party, const dc_report *r, size_t n,
                                   dc_time now, dc_changes *ch, size_t *ch_end, size_t *accepted,
                                   dc_error *err)
{
    return run(e, party, engine_party(e, party), NULL, r, n, now, ch, ch_end, accepted, err);
}

dc_status dc_position_report_units(dc_engine *e, dc_unit_ref *const *u, const dc_report *r,
                                   size_t n, dc_time now, dc_changes *ch, size_t *ch_end,
                                   size_t *accepted, dc_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!u[i]) { /* a programmer's error: say so rather than crash */
            if (accepted)
                *accepted = 0;
            return model_fail(err, DC_ERR_INVALID, "unit", "no unit handle for report %zu", i);
        }
    return run(e, NULL, NULL, u, r, n, now, ch, ch_end, accepted, err);
}

size_t dc_units_find(const dc_engine *e, const char *party_id, const dc_report *r, size_t n,
                     dc_unit_ref **out)
{
    const party *p = engine_party(e, party_id);
    size_t np = p ? strlen(p->id) : 0;
    lookup lk[RING];
    ptrdiff_t nn = (ptrdiff_t)n, j;
    for (ptrdiff_t i = -FIND_ID; i < nn; i++) {
        if ((j = i + FIND_ID) >= 0 && j < nn)
            __builtin_prefetch(r[j].unit);
        if ((j = i + FIND_HASH) >= 0 && j < nn)
            lookup_start(&lk[j % RING], e, p, np, r[j].unit);
        if ((j = i + FIND_UNIT) >= 0 && j < nn)
            lookup_peek(&lk[j % RING], e);
        if (i >= 0 && !(out[i] = (dc_unit_ref *)lookup_finish(&lk[i % RING], e)))
            return (size_t)i;
    }
    return n;
}
