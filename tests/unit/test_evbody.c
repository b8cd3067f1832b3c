/* test_evbody: the direct writer of event bodies (evbody_text) gives
 * exactly the bytes of the jansson path (evbody_json, then jtext_dump or
 * jtext_dump_packed with the geometry cache), packed and in full, for
 * every event of seeded random scenarios: units, sites and operations of
 * every kind among parties with random sharing, with and without
 * altitudes and bands, disc and polygon shapes, one to three volumes,
 * reports that open, change and resolve conflicts, acknowledgements with
 * notes (odd characters, invalid UTF-8), activations with overrides,
 * ends, cancels, replacements, deletions and the clock. Each way runs
 * with its own cache and its own store of shared texts, which must end up
 * identical. Both paths render the facts dc_conflict_facts_get gives, so
 * this checks the renderings; what a side may see (need-to-know) is
 * checked by test_engine (listings_and_need_to_know) and the service tests
 * (test_api: notes stay their author's). Prints its seed; rerun with
 * DC_SEED=N. */
#include <geodesic.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "engine.h"
#include "evbody.h"
#include "jtext.h"
#include "testlib.h"

static uint64_t rng;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static double unif(double a, double b)
{
    return a + (b - a) * ((double)(rnd() >> 11) / 9007199254740992.0);
}
static int coin(int percent)
{
    return (int)(rnd() % 100) < percent;
}

static struct geod_geodesic G;
static dc_time T0;
#define MIN (60 * DC_USEC)
#define HOUR (3600 * DC_USEC)
static const double LON0 = 37.5, LAT0 = 36.4;

/* A point within about 2 km of the base: conflicts are frequent. */
static void near_point(double *lon, double *lat)
{
    geod_direct(&G, LAT0, LON0, unif(0, 360), unif(0, 2000), lat, lon, 0);
}

/* Distances of many forms: integers, short decimals, full doubles, tiny. */
static double odd_dist(double hi)
{
    switch (rnd() % 6) {
    case 0: return (double)(rnd() % (uint64_t)hi);
    case 1: return (double)(rnd() % 100000) / 100.0;
    case 2: return unif(0, hi);
    case 3: return 1e-7 * (double)(rnd() % 100);
    case 4: return 0;
    default: return hi;
    }
}

static json_t *point_geometry(void)
{
    double lon, lat;
    near_point(&lon, &lat);
    if (coin(30)) { /* coordinates as a client might round them */
        lon = round(lon * 1e5) / 1e5;
        lat = round(lat * 1e5) / 1e5;
    }
    return json_pack("{s:s,s:[f,f]}", "type", "Point", "coordinates", lon, lat);
}

/* A star-shaped polygon of 4 to 12 vertices, 30 to 600 m. */
static json_t *polygon_geometry(void)
{
    double clon, clat;
    near_point(&clon, &clat);
    int n = 4 + (int)(rnd() % 9);
    json_t *ring = json_array();
    json_t *first = NULL;
    for (int i = 0; i < n; i++) {
        double lon, lat;
        geod_direct(&G, clat, clon, 360.0 * i / n, unif(30, 600), &lat, &lon, 0);
        json_t *pt = json_pack("[f,f]", lon, lat);
        if (!first)
            first = json_incref(pt);
        json_array_append_new(ring, pt);
    }
    json_array_append_new(ring, first);
    return json_pack("{s:s,s:[o]}", "type", "Polygon", "coordinates", ring);
}

#define MAXP 4
static const char *const party_sets[][MAXP] = {
    {"A", "B", "C", "D"},
    {"b", "A", "a_1", "RU-2"}, /* key order differs from creation order */
    {"TR", "RU", "UN", "SY"},
    {"z", "y", "x", "w"},
};
static const char *const kinds[] = {"strike",      "artillery", "demolition", "air-transit",
                                    "ground-move", "convoy",    "other"};
static const char *const categories[] = {"hospital", "school",    "shelter", "humanitarian",
                                         "cultural", "religious", "base",    "other"};
static const char *const domains[] = {"ground", "air", "sea"};
static const char *const notes[] = {
    "seen",
    "quote \" back \\ slash / done",
    "ctl \x01\x1f\n\t\r\b\f end",
    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
    "\x7f del",
    "",
    "bad \xff utf-8",      /* jansson refuses it: the view has no note */
    "overlong \xc0\xaf",   /* likewise */
    "surrogate \xed\xa0\x80",
};

typedef struct {
    const char *party;
    char id[16];
    int alive;
} thing;

typedef struct {
    dc_engine *e;
    const char *const *parties;
    int np;
    thing units[24], sites[12], ops[12];
    int nu, ns, no;
    dc_time now;
    char cids[512][24];
    int ncid;
} world;

/* ---- the two ways, each with its own cache and texts ---- */

typedef struct {
    jtext_cache *cache;
    char **text; /* by reference number - 1 */
    size_t *len;
    long long n, cap;
} way;

static long long way_new_ref(void *ctx, const char *text, size_t len)
{
    way *w = ctx;
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->text = realloc(w->text, (size_t)w->cap * sizeof *w->text);
        w->len = realloc(w->len, (size_t)w->cap * sizeof *w->len);
    }
    w->text[w->n] = malloc(len + 1);
    memcpy(w->text[w->n], text, len);
    w->text[w->n][len] = 0;
    w->len[w->n] = len;
    return ++w->n;
}

static const char *way_lookup(void *ctx, long long ref, size_t *len)
{
    way *w = ctx;
    if (ref < 1 || ref > w->n)
        return NULL;
    *len = w->len[ref - 1];
    return w->text[ref - 1];
}

static void way_init(way *w, size_t entries, size_t bytes)
{
    memset(w, 0, sizeof *w);
    w->cache = jtext_cache_new(entries, bytes);
}

static void way_free(way *w)
{
    jtext_cache_free(w->cache);
    for (long long i = 0; i < w->n; i++)
        free(w->text[i]);
    free(w->text);
    free(w->len);
}

/* render writes the body as the service does: direct (evbody_text, and
 * evbody_json for what it does not cover) or always through evbody_json.
 * Returns the malloc'd text; *fell_back tells whether direct fell back. */
static char *render(int direct, way *w, int packed, const dc_engine *e, const dc_change *c,
                    const char *party, int64_t seq, int64_t record, const char *time,
                    const json_t *args, int *fell_back)
{
    jtext_buf b = {0};
    int rc = 1;
    jtext_new_ref_fn nr = packed ? way_new_ref : NULL;
    if (direct) {
        rc = evbody_text(&b, e, c, party, seq, record, time, w->cache, nr, w);
        if (rc == 1 && b.len != 0)
            TL_FAIL_("evbody_text fell back after writing %zu bytes", b.len);
        *fell_back = rc == 1;
    }
    if (rc == 1) {
        json_t *ev = evbody_json(e, c, party, seq, record, time, args);
        if (packed)
            jtext_dump_packed(&b, ev, EVBODY_FLAGS, w->cache, nr, w);
        else
            jtext_dump(&b, ev, EVBODY_FLAGS, w->cache);
        json_decref(ev);
    }
    return jtext_take(&b);
}

typedef struct {
    way ref_full, dir_full, ref_packed, dir_packed;
    long events, fallbacks, geometry_refs;
    long seen[5][4]; /* events by change type and by what the other side shows */
    int64_t record;
    int failed;
} check_state;

static void check_changes(world *wd, check_state *cs, const dc_changes *ch, const json_t *args)
{
    cs->record++;
    char tbuf[DC_TIME_BUFLEN];
    dc_time_format(wd->now, tbuf);
    for (size_t i = 0; i < ch->n && !cs->failed; i++) {
        const dc_change *c = &ch->v[i];
        const char *side[2];
        dc_conflict_sides(c->conflict, &side[0], &side[1]);
        if (c->type == DC_CH_OPENED && wd->ncid < 512)
            snprintf(wd->cids[wd->ncid++], 24, "%s", dc_conflict_id(c->conflict));
        for (int k = 0; k < 2; k++) {
            if (k == 1 && strcmp(side[0], side[1]) == 0)
                continue;
            int64_t seq = (int64_t)(rnd() % 100000) + 1;
            dc_conflict_facts f;
            dc_conflict_facts_get(wd->e, c->conflict, side[k], &f);
            int fb = 0, fb2 = 0, dummy;
            /* The direct ways first: a cache holds a reference to each
             * geometry it has text for, so a geometry first shown here has
             * only its owner's reference, as in the service (the jansson
             * path's view holds another). */
            char *df = render(1, &cs->dir_full, 0, wd->e, c, side[k], seq, cs->record, tbuf, args,
                              &fb);
            char *dp = render(1, &cs->dir_packed, 1, wd->e, c, side[k], seq, cs->record, tbuf,
                              args, &fb2);
            char *rf = render(0, &cs->ref_full, 0, wd->e, c, side[k], seq, cs->record, tbuf, args,
                              &dummy);
            char *rp = render(0, &cs->ref_packed, 1, wd->e, c, side[k], seq, cs->record, tbuf,
                              args, &dummy);
            /* and jansson's own text of the object, with no cache at all */
            json_t *ev = evbody_json(wd->e, c, side[k], seq, cs->record, tbuf, args);
            char *jd = json_dumps(ev, EVBODY_FLAGS);
            json_decref(ev);
            jtext_buf ub = {0};
            int unpack_rc = jtext_unpack(&ub, dp, strlen(dp), way_lookup, &cs->dir_packed);
            char *up = jtext_take(&ub);
            cs->events++;
            cs->seen[c->type][f.other_shows]++;
            cs->fallbacks += fb;
            if (strchr(dp, JTEXT_REF_OPEN))
                cs->geometry_refs++;
            /* only overrides (the reason) and notes jansson refuses are
             * left to the jansson path */
            int want_fb = c->type == DC_CH_OVERRIDDEN ||
                          (f.note && !jtext_utf8_valid(f.note, strlen(f.note)));
            if (fb != want_fb || fb2 != want_fb)
                TL_FAIL_("fallback %d/%d (want %d) for a %s event", fb, fb2, want_fb,
                         evbody_change_name(c->type));
            if (!rf || !df || !rp || !dp || !jd || !up || unpack_rc != 0) {
                TL_FAIL_("rendering failed (out of memory or bad reference)");
                cs->failed = 1;
            } else if (strcmp(rf, jd) != 0) {
                TL_FAIL_("cached text differs from json_dumps:\n  %s\n  %s", rf, jd);
                cs->failed = 1;
            } else if (strcmp(rf, df) != 0) {
                TL_FAIL_("direct text differs (%s event for %s):\n  jansson %s\n  direct  %s",
                         evbody_change_name(c->type), side[k], rf, df);
                cs->failed = 1;
            } else if (strcmp(rp, dp) != 0) {
                TL_FAIL_("direct packed text differs (%s event for %s):\n  jansson %s\n  direct  %s",
                         evbody_change_name(c->type), side[k], rp, dp);
                cs->failed = 1;
            } else if (strcmp(up, rf) != 0) {
                TL_FAIL_("direct packed text unpacks to other text:\n  %s\n  %s", up, rf);
                cs->failed = 1;
            }
            free(rf);
            free(df);
            free(rp);
            free(dp);
            free(jd);
            free(up);
        }
    }
    /* the stores of shared texts grew alike */
    if (!cs->failed && cs->ref_packed.n != cs->dir_packed.n) {
        TL_FAIL_("shared texts: %lld by jansson, %lld direct", cs->ref_packed.n,
                 cs->dir_packed.n);
        cs->failed = 1;
    }
    for (long long i = 0; !cs->failed && i < cs->ref_packed.n; i++) {
        if (strcmp(cs->ref_packed.text[i], cs->dir_packed.text[i]) != 0) {
            TL_FAIL_("shared text %lld differs", i + 1);
            cs->failed = 1;
        }
    }
}

/* ---- building the world ---- */

static json_t *volume_body(dc_time now)
{
    json_t *v;
    if (coin(50)) {
        v = json_pack("{s:o,s:f}", "geometry", point_geometry(), "radius_m",
                      coin(20) ? odd_dist(3000) : unif(50, 1500));
    } else {
        v = json_pack("{s:o}", "geometry", polygon_geometry());
    }
    dc_time s = now - (dc_time)(rnd() % 3) * HOUR + (dc_time)(rnd() % 60) * MIN;
    dc_time e = s + HOUR + (dc_time)(rnd() % 240) * MIN + (dc_time)(rnd() % 1000);
    json_object_set_new(v, "start", json_string(iso(s)));
    json_object_set_new(v, "end", json_string(iso(e)));
    if (coin(40)) {
        double lo = coin(50) ? (double)(rnd() % 3000) - 100 : unif(-500, 3000);
        json_object_set_new(v, "alt_lower_m", json_real(lo));
        if (coin(70))
            json_object_set_new(v, "alt_upper_m", json_real(lo + odd_dist(8000)));
    } else if (coin(20)) {
        json_object_set_new(v, "alt_upper_m", json_real(unif(0, 5000)));
    }
    return v;
}

static json_t *op_body(const char *id, dc_time now)
{
    json_t *vols = json_array();
    int n = 1 + (int)(rnd() % 3);
    for (int i = 0; i < n; i++)
        json_array_append_new(vols, volume_body(now));
    double hazard = coin(20) ? odd_dist(2000) : unif(100, 2000);
    json_t *b = json_pack("{s:s,s:s,s:s,s:f,s:o}", "id", id, "name", id, "kind",
                          kinds[rnd() % 7], "hazard_m", hazard, "volumes", vols);
    if (coin(50))
        json_object_set_new(b, "warning_m", json_real(hazard + odd_dist(1000)));
    return b;
}

static json_t *site_body(const char *id, dc_time now)
{
    json_t *b;
    if (coin(60))
        b = json_pack("{s:s,s:s,s:s,s:o,s:f}", "id", id, "name", id, "category",
                      categories[rnd() % 8], "geometry", point_geometry(), "radius_m",
                      odd_dist(300));
    else
        b = json_pack("{s:s,s:s,s:s,s:o}", "id", id, "name", id, "category",
                      categories[rnd() % 8], "geometry", polygon_geometry());
    if (coin(70))
        json_object_set_new(b, "standoff_m", json_real(odd_dist(200)));
    if (coin(30))
        json_object_set_new(b, "valid_from", json_string(iso(now - HOUR + (dc_time)(rnd() % 100))));
    if (coin(30))
        json_object_set_new(b, "valid_to", json_string(iso(now + (dc_time)(rnd() % 180) * MIN + MIN)));
    if (coin(30))
        json_object_set_new(b, "disclose", json_string(coin(50) ? "all" : "conflicts"));
    return b;
}

static void report_unit(world *wd, check_state *cs, thing *u)
{
    double lon, lat;
    near_point(&lon, &lat);
    double alt = coin(40) ? NAN : coin(50) ? (double)(rnd() % 4000) - 50 : unif(-100, 6000);
    double ce = coin(30) ? (double)(rnd() % 60) : odd_dist(50);
    dc_time t = wd->now - (dc_time)(rnd() % 5) * MIN - (dc_time)(rnd() % 1000000);
    dc_changes ch;
    dc_changes_init(&ch);
    dc_error err = {0};
    dc_position_report(wd->e, u->party, u->id, lon, lat, alt, ce, t, wd->now, &ch, &err);
    check_changes(wd, cs, &ch, NULL);
    dc_changes_free(&ch);
    dc_error_clear(&err);
}

static void one_scenario(check_state *cs)
{
    world wd;
    memset(&wd, 0, sizeof wd);
    wd.e = dc_engine_new();
    wd.parties = party_sets[rnd() % 4];
    wd.np = 2 + (int)(rnd() % 3);
    wd.now = T0;
    dc_error err = {0};
    for (int i = 0; i < wd.np; i++)
        dc_party_add(wd.e, wd.parties[i], wd.parties[i], coin(50) ? 0 : 60, &err);
    for (int i = 0; i < wd.np; i++)
        for (int j = 0; j < wd.np; j++)
            if (i != j && coin(40))
                dc_sharing_set(wd.e, wd.parties[i], wd.parties[j], coin(50), coin(50), &err);
    dc_error_clear(&err);

    int steps = 60 + (int)(rnd() % 60);
    for (int step = 0; step < steps && !cs->failed; step++) {
        dc_changes ch;
        dc_changes_init(&ch);
        memset(&err, 0, sizeof err);
        json_t *args = NULL;
        int what = (int)(rnd() % 100);
        wd.now += (dc_time)(rnd() % 120) * DC_USEC + (dc_time)(rnd() % 1000);
        if (what < 12 && wd.ns < 12) {
            thing *s = &wd.sites[wd.ns++];
            s->party = wd.parties[rnd() % (uint64_t)wd.np];
            snprintf(s->id, sizeof s->id, "s%d", wd.ns);
            s->alive = 1;
            json_t *b = site_body(s->id, wd.now);
            dc_site_put(wd.e, s->party, NULL, b, 1, wd.now, &ch, &err);
            json_decref(b);
        } else if (what < 24 && wd.no < 12) {
            thing *o = &wd.ops[wd.no++];
            o->party = wd.parties[rnd() % (uint64_t)wd.np];
            snprintf(o->id, sizeof o->id, "op-%d", wd.no);
            o->alive = 1;
            json_t *b = op_body(o->id, wd.now);
            dc_operation_put(wd.e, o->party, NULL, b, 1, wd.now, &ch, &err);
            json_decref(b);
        } else if (what < 34 && wd.nu < 24) {
            thing *u = &wd.units[wd.nu++];
            u->party = wd.parties[rnd() % (uint64_t)wd.np];
            snprintf(u->id, sizeof u->id, "u.%d:x", wd.nu);
            u->alive = 1;
            json_t *b = json_pack("{s:s,s:s}", "callsign", u->id, "domain", domains[rnd() % 3]);
            dc_unit_put(wd.e, u->party, u->id, b, wd.now, &ch, &err);
            json_decref(b);
        } else if (what < 70 && wd.nu > 0) {
            /* a batch of reports, as a position batch makes them */
            int n = 1 + (int)(rnd() % 6);
            for (int i = 0; i < n; i++) {
                thing *u = &wd.units[rnd() % (uint64_t)wd.nu];
                if (u->alive)
                    report_unit(&wd, cs, u);
            }
        } else if (what < 78 && wd.ncid > 0) {
            const char *cid = wd.cids[rnd() % (uint64_t)wd.ncid];
            const char *who = wd.parties[rnd() % (uint64_t)wd.np];
            const char *note = coin(60) ? notes[rnd() % (sizeof notes / sizeof notes[0])] : NULL;
            dc_conflict_ack(wd.e, who, cid, note, wd.now, &ch, &err);
        } else if (what < 84 && wd.no > 0) {
            thing *o = &wd.ops[rnd() % (uint64_t)wd.no];
            const char *reason = coin(50) ? "urgent: \"ok\"/\xc3\xa9" : NULL;
            if (reason)
                args = json_pack("{s:{s:s}}", "override", "reason", reason);
            dc_operation_activate(wd.e, o->party, o->id, reason, wd.now, &ch, &err);
        } else if (what < 88 && wd.no > 0) {
            thing *o = &wd.ops[rnd() % (uint64_t)wd.no];
            if (coin(50))
                dc_operation_end(wd.e, o->party, o->id, wd.now, &ch, &err);
            else
                dc_operation_cancel(wd.e, o->party, o->id, wd.now, &ch, &err);
        } else if (what < 92 && wd.no > 0) {
            thing *o = &wd.ops[rnd() % (uint64_t)wd.no];
            json_t *b = op_body(o->id, wd.now);
            dc_operation_put(wd.e, o->party, NULL, b, 0, wd.now, &ch, &err);
            json_decref(b);
        } else if (what < 95) {
            int k = (int)(rnd() % 3);
            thing *t = k == 0 && wd.ns ? &wd.sites[rnd() % (uint64_t)wd.ns]
                       : k == 1 && wd.nu ? &wd.units[rnd() % (uint64_t)wd.nu]
                       : wd.no           ? &wd.ops[rnd() % (uint64_t)wd.no]
                                         : NULL;
            if (t && t->alive) {
                t->alive = 0;
                if (t >= wd.sites && t < wd.sites + 12)
                    dc_site_delete(wd.e, t->party, t->id, wd.now, &ch, &err);
                else if (t >= wd.units && t < wd.units + 24)
                    dc_unit_delete(wd.e, t->party, t->id, wd.now, &ch, &err);
                else
                    dc_operation_delete(wd.e, t->party, t->id, wd.now, &ch, &err);
            }
        } else {
            wd.now += (dc_time)(rnd() % 90) * MIN; /* reports go stale, things end */
            dc_advance(wd.e, wd.now, &ch);
        }
        check_changes(&wd, cs, &ch, args);
        json_decref(args);
        dc_changes_free(&ch);
        dc_error_clear(&err);
    }
    dc_engine_free(wd.e);
}

TEST(direct_equals_jansson)
{
    check_state cs;
    memset(&cs, 0, sizeof cs);
    int rounds = 60;
    for (int r = 0; r < rounds && !cs.failed; r++) {
        /* small caches too: eviction, and texts that do not fit */
        size_t entries = coin(30) ? 8 : 65536, bytes = coin(30) ? 4096 : 64u << 20;
        way_init(&cs.ref_full, entries, bytes);
        way_init(&cs.dir_full, entries, bytes);
        way_init(&cs.ref_packed, entries, bytes);
        way_init(&cs.dir_packed, entries, bytes);
        one_scenario(&cs);
        way_free(&cs.ref_full);
        way_free(&cs.dir_full);
        way_free(&cs.ref_packed);
        way_free(&cs.dir_packed);
    }
    printf("     %ld events compared (%ld left to jansson, %ld with shared geometry)\n",
           cs.events, cs.fallbacks, cs.geometry_refs);
    static const char *const shows[] = {"none", "operation", "site", "unit"};
    for (int t = 0; t < 5; t++)
        printf("     %-10s: other side none %ld, operation %ld, site %ld, unit %ld\n",
               evbody_change_name((dc_change_type)t), cs.seen[t][0], cs.seen[t][1],
               cs.seen[t][2], cs.seen[t][3]);
    /* what a position batch makes, each seen (a resolved conflict
     * identifies the other side only) */
    const dc_change_type batch[] = {DC_CH_OPENED, DC_CH_CHANGED, DC_CH_RESOLVED};
    for (int t = 0; t < 3; t++)
        for (int k = 0; k < 4; k++)
            if (!cs.seen[batch[t]][k] && (batch[t] == DC_CH_RESOLVED) == (k == 0))
                TL_FAIL_("no %s event showing %s", evbody_change_name(batch[t]), shows[k]);
    ASSERT(cs.events > 1000);
    ASSERT(cs.geometry_refs > 100);
    ASSERT(cs.fallbacks < cs.events / 4);
}

/* evbody_time_format gives dc_time_format's text. */
TEST(time_format_as_engine)
{
    const dc_time edges[] = {0, 1, -1, DC_USEC - 1, 253402300800LL * DC_USEC - 1,
                             253402300800LL * DC_USEC, DC_TIME_MIN, DC_TIME_MAX,
                             951782400LL * DC_USEC, /* 2000-02-29 */
                             4107542400LL * DC_USEC /* 2100-03-01 */};
    for (int i = 0; i < 1000000; i++) {
        dc_time t;
        if (i < (int)(sizeof edges / sizeof edges[0]))
            t = edges[i];
        else if (i % 4 == 0)
            t = (dc_time)(rnd() % (253402300800ULL * DC_USEC + 10)) - 5;
        else if (i % 4 == 1) /* whole seconds */
            t = (dc_time)(rnd() % 253402300800ULL) * DC_USEC;
        else if (i % 4 == 2)
            t = (dc_time)rnd();
        else
            t = T0 + (dc_time)(rnd() % (400ULL * 366 * 86400 * DC_USEC));
        char a[DC_TIME_BUFLEN], b[DC_TIME_BUFLEN];
        dc_time_format(t, a);
        size_t n = evbody_time_format(t, b);
        if (strcmp(a, b) != 0 || n != strlen(a)) {
            TL_FAIL_("time %" PRId64 ": \"%s\" != \"%s\"", (int64_t)t, b, a);
            return;
        }
    }
}

/* jtext_utf8_valid accepts exactly what json_stringn accepts. */
TEST(utf8_validity_as_jansson)
{
    static const unsigned char pool[] = {'a', 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
                                         0xa0, 0xed, 0x9f, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5,
                                         0xff, 0x01};
    for (int i = 0; i < 200000; i++) {
        char s[8];
        size_t n = 1 + rnd() % 6;
        for (size_t k = 0; k < n; k++)
            s[k] = (char)pool[rnd() % sizeof pool];
        json_t *j = json_stringn(s, n);
        int want = j != NULL;
        json_decref(j);
        if (jtext_utf8_valid(s, n) != want) {
            TL_FAIL_("jtext_utf8_valid disagrees with jansson on %zu bytes starting %02x", n,
                     (unsigned char)s[0]);
            return;
        }
    }
}

int main(void)
{
    const char *env = getenv("DC_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    printf("test_evbody: seed %" PRIu64 " (rerun with DC_SEED=%" PRIu64 ")\n", seed, seed);
    rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    geod_init(&G, 6378137, 1 / 298.257223563);
    dc_time_parse("2017-02-09T04:00:00Z", &T0);
    RUN(utf8_validity_as_jansson);
    RUN(time_format_as_engine);
    RUN(direct_equals_jansson);
    return TL_DONE();
}
