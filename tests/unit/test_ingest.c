/* test_ingest: the batch calls of ingest.c against single reports. Three
 * engines get the same theatre and the same seeded random stream of
 * position batches: one through dc_position_report_batch, one through
 * dc_units_find + dc_position_report_units (the service's path), one
 * through a dc_position_report call per report. Batches repeat units
 * (within the prefetch distance, too), carry reports older than the unit's
 * last one, and sometimes a report that fails (no such unit or party,
 * coordinates, ce_m, a time too far ahead); between batches the clock
 * advances and operations are filed, replaced and deleted (neighbour lists
 * dropped). After every batch: the same status, error, accepted count and
 * change list (type, conflict id, order; the batch's ch_end against the
 * single calls' list lengths); at the end the same conflicts and units,
 * and dc_engine_check / dc_engine_recompute_check hold. Seed: DC_SEED
 * (default: time), printed. */
#include <stdlib.h>
#include <time.h>

#include "engine.h"
#include "testlib.h"

static unsigned long long seed, rng;
static unsigned long long next_u64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static int irand(int n)
{
    return (int)(next_u64() % (unsigned long long)n);
}
static double urand(double a, double b)
{
    return a + (b - a) * (double)(next_u64() >> 11) / 9007199254740992.0;
}

#define NENG 3 /* 0: dc_position_report_batch, 1: units path, 2: single calls */
#define NPARTY 3
#define NUNIT 40 /* per party */
#define NOP 24
static const char *const PARTY[NPARTY] = {"RU", "TR", "US"};
static const double LON0 = 37.5, LAT0 = 36.4, SPAN = 8000; /* metres */
#define MIN (60 * DC_USEC)
#define HOUR (3600 * DC_USEC)

static dc_engine *E[NENG];
static dc_time T0, now;
static double ux[NPARTY][NUNIT], uy[NPARTY][NUNIT]; /* metres from the centre */
static int op_live[NOP], op_failed, batches, batches_failed;

static void to_lonlat(double x, double y, double *lon, double *lat)
{
    *lat = LAT0 + y / 111320.0;
    *lon = LON0 + x / (111320.0 * cos(LAT0 * M_PI / 180));
}

/* A random hazardous (mostly) operation near the theatre's centre: one or
 * two volumes, star-shaped polygons or discs, some with altitude bands. */
static json_t *op_body(int k)
{
    static const char *const kinds[] = {"strike", "artillery", "demolition", "air-transit",
                                        "convoy"};
    char id[16];
    snprintf(id, sizeof id, "op%d", k);
    json_t *vols = json_array();
    int nv = 1 + irand(2);
    for (int v = 0; v < nv; v++) {
        double cx = urand(-SPAN / 2, SPAN / 2), cy = urand(-SPAN / 2, SPAN / 2);
        json_t *geom, *vol;
        if (irand(4) == 0) {
            double lon, lat;
            to_lonlat(cx, cy, &lon, &lat);
            geom = json_pack("{s:s,s:[f,f]}", "type", "Point", "coordinates", lon, lat);
            vol = json_pack("{s:o,s:f}", "geometry", geom, "radius_m", urand(0, 600));
        } else {
            int n = 5 + irand(20);
            json_t *ring = json_array();
            double lon0 = 0, lat0 = 0;
            for (int i = 0; i < n; i++) {
                double a = 2 * M_PI * i / n, r = urand(150, 900), lon, lat;
                to_lonlat(cx + r * cos(a), cy + r * sin(a), &lon, &lat);
                if (i == 0)
                    lon0 = lon, lat0 = lat;
                json_array_append_new(ring, json_pack("[f,f]", lon, lat));
            }
            json_array_append_new(ring, json_pack("[f,f]", lon0, lat0));
            geom = json_pack("{s:s,s:[o]}", "type", "Polygon", "coordinates", ring);
            vol = json_pack("{s:o}", "geometry", geom);
        }
        dc_time s = now - (dc_time)irand(120) * MIN, e = now + (dc_time)(5 + irand(600)) * MIN;
        json_object_set_new(vol, "start", json_string(iso(s)));
        json_object_set_new(vol, "end", json_string(iso(e)));
        if (irand(3) == 0) {
            json_object_set_new(vol, "alt_lower_m", json_real(urand(0, 2000)));
            json_object_set_new(vol, "alt_upper_m", json_real(urand(2000, 6000)));
        }
        json_array_append_new(vols, vol);
    }
    double hazard = urand(50, 800);
    json_t *b = json_pack("{s:s,s:s,s:s,s:f,s:o}", "id", id, "name", id, "kind",
                          kinds[irand(6) == 0 ? 3 + irand(2) : irand(3)], "hazard_m", hazard,
                          "volumes", vols);
    if (irand(2))
        json_object_set_new(b, "warning_m", json_real(urand(0.25, 1) * hazard));
    return b;
}

/* Applies the same write to every engine; the changes must agree too. */
static int same_changes(const dc_changes *a, const dc_changes *b, const char *what)
{
    if (a->n != b->n) {
        TL_FAIL_("%s: %zu changes against %zu (seed %llu)", what, a->n, b->n, seed);
        return -1;
    }
    for (size_t k = 0; k < a->n; k++)
        if (a->v[k].type != b->v[k].type ||
            strcmp(dc_conflict_id(a->v[k].conflict), dc_conflict_id(b->v[k].conflict)) != 0 ||
            (a->v[k].by_party == NULL) != (b->v[k].by_party == NULL)) {
            TL_FAIL_("%s: change %zu differs: %d %s against %d %s (seed %llu)", what, k,
                     (int)a->v[k].type, dc_conflict_id(a->v[k].conflict), (int)b->v[k].type,
                     dc_conflict_id(b->v[k].conflict), seed);
            return -1;
        }
    return 0;
}

static int op_write(int k)
{
    dc_changes ch[NENG];
    dc_error err[NENG];
    dc_status st[NENG];
    json_t *body = op_live[k] && irand(3) == 0 ? NULL : op_body(k);
    int party = k % NPARTY;
    char id[16];
    snprintf(id, sizeof id, "op%d", k);
    for (int i = 0; i < NENG; i++) {
        dc_changes_init(&ch[i]);
        memset(&err[i], 0, sizeof err[i]);
        st[i] = body ? dc_operation_put(E[i], PARTY[party], id, body, 0, now, &ch[i], &err[i])
                     : dc_operation_delete(E[i], PARTY[party], id, now, &ch[i], &err[i]);
        if (getenv("DC_VERBOSE") && st[i] && i == 0)
            printf("     operation write refused: %s: %s\n", err[i].field, err[i].message);
        dc_error_clear(&err[i]);
    }
    int rc = 0;
    for (int i = 1; i < NENG && !rc; i++) {
        if (st[i] != st[0]) {
            TL_FAIL_("operation write: status %d against %d (seed %llu)", st[i], st[0], seed);
            rc = -1;
        } else {
            rc = same_changes(&ch[0], &ch[i], "operation write");
        }
    }
    if (st[0] == DC_OK)
        op_live[k] = body != NULL;
    else
        op_failed++;
    for (int i = 0; i < NENG; i++)
        dc_changes_free(&ch[i]);
    json_decref(body);
    return rc;
}

/* One random batch for one party: mostly walks of a few units (repeated
 * within a batch), a few reports older than the last, and with some
 * probability one report that fails. */
static size_t make_batch(dc_report *r, char (*ids)[16], int *party_out, const char **party_id)
{
    int p = irand(NPARTY);
    *party_out = p;
    *party_id = irand(60) == 0 ? "XX" : PARTY[p];
    size_t n = irand(10) == 0 ? (size_t)irand(3) : (size_t)(1 + irand(120));
    int pool = 1 + irand(NUNIT); /* a small pool: the same unit again soon */
    int bad = irand(5) == 0 ? irand((int)n + 1) : -1;
    for (size_t i = 0; i < n; i++) {
        int u = irand(pool);
        double step = irand(10) == 0 ? urand(0, 3000) : urand(0, 60), a = urand(0, 2 * M_PI);
        ux[p][u] = fmax(-SPAN / 2, fmin(SPAN / 2, ux[p][u] + step * cos(a)));
        uy[p][u] = fmax(-SPAN / 2, fmin(SPAN / 2, uy[p][u] + step * sin(a)));
        snprintf(ids[i], sizeof ids[i], "u%d", u);
        r[i].unit = ids[i];
        to_lonlat(ux[p][u], uy[p][u], &r[i].lon, &r[i].lat);
        r[i].alt_m = irand(3) == 0 ? NAN : urand(0, 6000);
        r[i].ce_m = irand(4) == 0 ? 0 : urand(0, 120);
        r[i].t = now - (irand(6) == 0 ? (dc_time)irand(600) * DC_USEC : 0);
        if ((int)i == bad) {
            switch (irand(6)) {
            case 0:
                snprintf(ids[i], sizeof ids[i], "nobody");
                break;
            case 1:
                snprintf(ids[i], sizeof ids[i], "u%d", NUNIT + 1);
                break;
            case 2:
                r[i].lon = 200;
                break;
            case 3:
                r[i].ce_m = -1;
                break;
            case 4:
                r[i].t = now + 2 * MIN;
                break;
            default:
                r[i].lat = NAN;
                break;
            }
        }
    }
    return n;
}

static int run_batch(void)
{
    dc_report r[128];
    char ids[128][16];
    size_t ch_end[128], single_end[128];
    dc_unit_ref *refs[128];
    int p;
    const char *party;
    size_t n = make_batch(r, ids, &p, &party);
    dc_changes ch[NENG];
    dc_error err[NENG];
    dc_status st[NENG];
    size_t acc[NENG];
    for (int i = 0; i < NENG; i++) {
        dc_changes_init(&ch[i]);
        memset(&err[i], 0, sizeof err[i]);
    }
    /* a report neither creates nor deletes units: found before is found then */
    size_t first_missing = n;
    for (size_t i = 0; i < n && first_missing == n; i++)
        if (!dc_unit_find(E[2], party, r[i].unit))
            first_missing = i;
    /* 0: the batch call */
    memset(ch_end, 0xff, sizeof ch_end);
    st[0] = dc_position_report_batch(E[0], party, r, n, now, &ch[0], ch_end, &acc[0], &err[0]);
    /* 1: the service's path; where a unit is missing, single calls (the
     * service falls back to its general path then) */
    size_t found = dc_units_find(E[1], party, r, n, refs);
    st[1] = DC_OK;
    acc[1] = 0;
    if (found == n) {
        st[1] = dc_position_report_units(E[1], refs, r, n, now, &ch[1], NULL, &acc[1], &err[1]);
    } else {
        for (size_t i = 0; i < n && st[1] == DC_OK; i++)
            if ((st[1] = dc_position_report(E[1], party, r[i].unit, r[i].lon, r[i].lat, r[i].alt_m,
                                            r[i].ce_m, r[i].t, now, &ch[1], &err[1])) == DC_OK)
                acc[1]++;
    }
    /* 2: one call per report */
    st[2] = DC_OK;
    acc[2] = 0;
    for (size_t i = 0; i < n && st[2] == DC_OK; i++) {
        st[2] = dc_position_report(E[2], party, r[i].unit, r[i].lon, r[i].lat, r[i].alt_m,
                                   r[i].ce_m, r[i].t, now, &ch[2], &err[2]);
        if (st[2] == DC_OK)
            single_end[acc[2]++] = ch[2].n;
    }
    batches++;
    batches_failed += st[2] != DC_OK;
    int rc = 0;
    if (found != first_missing) {
        TL_FAIL_("dc_units_find: %zu, first missing unit %zu (seed %llu)", found, first_missing,
                 seed);
        rc = -1;
    }
    for (int i = 0; i < 2 && !rc; i++) {
        if (st[i] != st[2] || acc[i] != acc[2] || err[i].code != err[2].code ||
            strcmp(err[i].field, err[2].field) != 0 ||
            strcmp(err[i].message, err[2].message) != 0) {
            TL_FAIL_("engine %d: status %d accepted %zu '%s: %s' against %d %zu '%s: %s' (seed "
                     "%llu)",
                     i, st[i], acc[i], err[i].field, err[i].message, st[2], acc[2], err[2].field,
                     err[2].message, seed);
            rc = -1;
        } else {
            rc = same_changes(&ch[i], &ch[2], i ? "units path" : "batch");
        }
    }
    for (size_t k = 0; k < acc[0] && !rc; k++)
        if (ch_end[k] != single_end[k]) {
            TL_FAIL_("ch_end[%zu] = %zu, single calls %zu (seed %llu)", k, ch_end[k], single_end[k],
                     seed);
            rc = -1;
        }
    for (int i = 0; i < NENG; i++) {
        dc_changes_free(&ch[i]);
        dc_error_clear(&err[i]);
    }
    return rc;
}

static int same_state(const char *where)
{
    json_t *a = dc_conflicts_pairs_json(E[2]);
    int rc = 0;
    for (int i = 0; i < 2 && !rc; i++) {
        json_t *b = dc_conflicts_pairs_json(E[i]);
        if (!json_equal(a, b)) {
            TL_FAIL_("%s: engine %d's conflicts differ (seed %llu)", where, i, seed);
            rc = -1;
        }
        json_decref(b);
        for (int p = 0; p < NPARTY && !rc; p++) {
            json_t *x = dc_units_json(E[2], PARTY[p], now), *y = dc_units_json(E[i], PARTY[p], now);
            json_t *cx = dc_conflicts_json(E[2], PARTY[p], NULL),
                   *cy = dc_conflicts_json(E[i], PARTY[p], NULL);
            if (!json_equal(x, y) || !json_equal(cx, cy)) {
                TL_FAIL_("%s: engine %d's units or conflicts of %s differ (seed %llu)", where, i,
                         PARTY[p], seed);
                rc = -1;
            }
            json_decref(x);
            json_decref(y);
            json_decref(cx);
            json_decref(cy);
        }
    }
    json_decref(a);
    return rc;
}

static int setup(void)
{
    dc_error err = {0};
    for (int i = 0; i < NENG; i++) {
        E[i] = dc_engine_new();
        if (!E[i])
            return -1;
        for (int p = 0; p < NPARTY; p++)
            if (dc_party_add(E[i], PARTY[p], PARTY[p], 0, &err))
                return -1;
    }
    for (int p = 0; p < NPARTY; p++)
        for (int u = 0; u < NUNIT; u++) {
            char id[16];
            snprintf(id, sizeof id, "u%d", u);
            json_t *b =
                json_pack("{s:s,s:s}", "callsign", id, "domain", irand(4) == 0 ? "air" : "ground");
            ux[p][u] = urand(-SPAN / 2, SPAN / 2);
            uy[p][u] = urand(-SPAN / 2, SPAN / 2);
            for (int i = 0; i < NENG; i++)
                if (dc_unit_put(E[i], PARTY[p], id, b, now, NULL, &err))
                    return -1;
            json_decref(b);
        }
    for (int k = 0; k < NOP; k++)
        if (op_write(k))
            return -1;
    return 0;
}

TEST(batch_equals_single_reports)
{
    now = T0;
    ASSERT_EQ(setup(), 0);
    char buf[512];
    for (int step = 0; step < 600; step++) {
        if (run_batch())
            break;
        int r = irand(100);
        if (r < 10) {
            if (op_write(irand(NOP)))
                break;
        } else if (r < 30) {
            now += (dc_time)(1 + irand(300)) * DC_USEC;
            if (irand(4) == 0) {
                int bad = 0;
                dc_changes ch[NENG];
                for (int i = 0; i < NENG; i++) {
                    dc_changes_init(&ch[i]);
                    dc_advance(E[i], now, &ch[i]);
                }
                for (int i = 0; i < 2 && !bad; i++)
                    bad = same_changes(&ch[i], &ch[2], "advance");
                for (int i = 0; i < NENG; i++)
                    dc_changes_free(&ch[i]);
                if (bad)
                    break;
            }
        }
        if (step % 100 == 99 && same_state("periodic"))
            break;
    }
    dc_changes ch[NENG];
    for (int i = 0; i < NENG; i++) { /* the checks below compare with the state at now */
        dc_changes_init(&ch[i]);
        dc_advance(E[i], now, &ch[i]);
    }
    for (int i = 0; i < 2; i++)
        same_changes(&ch[i], &ch[2], "last advance");
    for (int i = 0; i < NENG; i++)
        dc_changes_free(&ch[i]);
    EXPECT_EQ(same_state("end"), 0);
    for (int i = 0; i < NENG; i++) {
        if (dc_engine_check(E[i], buf, sizeof buf))
            TL_FAIL_("dc_engine_check of engine %d: %s (seed %llu)", i, buf, seed);
        if (dc_engine_recompute_check(E[i], now, buf, sizeof buf))
            TL_FAIL_("dc_engine_recompute_check of engine %d: %s (seed %llu)", i, buf, seed);
    }
    dc_stats st;
    dc_engine_stats(E[0], &st);
    printf("     %d batches, %d stopped by a failing report; %zu conflicts in all, %zu open; %d "
           "operation writes refused\n",
           batches, batches_failed, st.conflicts_total, st.conflicts_open, op_failed);
    EXPECT(batches_failed > 10 && batches_failed < batches / 2);

    EXPECT(st.conflicts_total > 50);
    for (int i = 0; i < NENG; i++)
        dc_engine_free(E[i]);
}

/* The edge cases by hand: an empty batch; an unknown party fails the first
 * report as a single call does; accepted and ch_end may be NULL. */
TEST(batch_edges)
{
    dc_engine *e = dc_engine_new();
    dc_error err = {0};
    ASSERT_EQ(dc_party_add(e, "RU", "RU", 0, &err), DC_OK);
    json_t *b = json_pack("{s:s,s:s}", "callsign", "a", "domain", "ground");
    ASSERT_EQ(dc_unit_put(e, "RU", "a", b, T0, NULL, &err), DC_OK);
    json_decref(b);
    dc_report r[2] = {{"a", 37.5, 36.4, NAN, 10, T0}, {"a", 37.6, 36.4, NAN, 10, T0}};
    size_t acc = 99;
    EXPECT_EQ(dc_position_report_batch(e, "RU", r, 0, T0, NULL, NULL, &acc, &err), DC_OK);
    EXPECT_EQ(acc, 0);
    EXPECT_EQ(dc_position_report_batch(e, "XX", r, 2, T0, NULL, NULL, &acc, &err), DC_ERR_NOTFOUND);
    EXPECT_EQ(acc, 0);
    EXPECT_STREQ(err.field, "party");
    dc_error_clear(&err);
    dc_unit_ref *u[2];
    EXPECT_EQ(dc_units_find(e, "XX", r, 2, u), 0);
    EXPECT_EQ(dc_units_find(e, "RU", r, 2, u), 2);
    EXPECT(u[0] == u[1] && u[0] == dc_unit_find(e, "RU", "a"));
    EXPECT_EQ(dc_position_report_units(e, u, r, 2, T0, NULL, NULL, NULL, &err), DC_OK);
    EXPECT_EQ(dc_position_report_batch(e, "RU", r, 2, T0, NULL, NULL, NULL, &err), DC_OK);
    dc_engine_free(e);
}

int main(void)
{
    const char *s = getenv("DC_SEED");
    seed = s ? strtoull(s, NULL, 10) : (unsigned long long)time(NULL);
    rng = seed * 2654435761ULL + 88172645463325252ULL;
    printf("test_ingest: seed %llu (rerun with DC_SEED=%llu)\n", seed, seed);
    dc_time_parse("2017-02-09T04:00:00Z", &T0);
    RUN(batch_equals_single_reports);
    RUN(batch_edges);
    return TL_DONE();
}
