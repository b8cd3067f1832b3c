/* dc_pgbench: the PostGIS contender on the workload of bench/workload.h.
 *
 * Setup: geography columns with GiST indexes, loaded with COPY; operation
 * attributes denormalised into the volumes table (no join at query time).
 *   B  each submit is one transaction: insert the volumes, then one
 *      prepared query counting the units, sites and operations of other
 *      parties within reach of the new polygons: an index prefilter with a
 *      radius that does not depend on the candidate row (geog &&
 *      _ST_Expand(g, R), which is what ST_DWithin inlines to, without
 *      ST_DWithin's exact test at the prefilter radius), then the exact
 *      per-row ST_DWithin threshold (spheroid), plus time, altitude and
 *      validity filters.
 *   A  batches of 1,000 reports; each batch is one prepared statement
 *      (one transaction) that updates the units from arrays and counts, per
 *      report, the hazardous volumes of other parties within reach
 *      (index prefilter: && _ST_Expand by the largest reach, exact: ST_DWithin with
 *      the volume's own reach plus the unit's ce_m), window and altitude.
 *      Two client connections, as for the HTTP contender.
 * The counts are compared with bench_engine's (DIR/expect_a.txt,
 * DIR/expect_b.txt); a difference beyond 0.1% fails the run.
 *
 * usage: dc_pgbench CONNINFO [--smoke] [--seed N] --expect DIR
 *                   [--cap SECONDS] [--conns N] */
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>

#include "workload.h"

static void die(PGconn *c, const char *what)
{
    fprintf(stderr, "dc_pgbench: %s: %s\n", what, c ? PQerrorMessage(c) : "");
    exit(1);
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "dc_pgbench: %s\n  in: %.200s\n", PQerrorMessage(c), sql);
        exit(1);
    }
    PQclear(r);
}

/* growable text buffer */
typedef struct {
    char *s;
    size_t n, cap;
} buf;
static void bput(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void bput(buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k >= 0 && b->n + k < b->cap) {
            b->n += k;
            return;
        }
        b->cap = b->cap ? b->cap * 2 + (size_t)k : 4096 + (size_t)k;
        b->s = realloc(b->s, b->cap);
    }
}

static void wkt_vol(buf *b, const wl_vol *v)
{
    bput(b, "SRID=4326;POLYGON((");
    for (int i = 0; i <= v->nv; i++) {
        int k = i % v->nv;
        bput(b, "%s%.9f %.9f", i ? "," : "", v->xy[2 * k], v->xy[2 * k + 1]);
    }
    bput(b, "))");
}

static void fmt_alt(char *o, size_t n, double a)
{
    if (isinf(a))
        snprintf(o, n, "%s", a > 0 ? "Infinity" : "-Infinity");
    else
        snprintf(o, n, "%.3f", a);
}

static void copy_in(PGconn *c, const char *sql, buf *b)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        die(c, "COPY");
    PQclear(r);
    if (PQputCopyData(c, b->s, (int)b->n) != 1 || PQputCopyEnd(c, NULL) != 1)
        die(c, "COPY data");
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die(c, "COPY end");
    PQclear(r);
    b->n = 0;
}

static void vol_row(buf *b, long opid, int vi, const wl_op *o, const wl_vol *v)
{
    char lo[32], hi[32];
    fmt_alt(lo, sizeof lo, v->alt_lo);
    fmt_alt(hi, sizeof hi, v->alt_hi);
    bput(b, "%ld\t%d\t%d\t%d\t%s\t%.3f\t%.3f\t%.3f\t", opid, vi, o->party, o->kind,
         o->hazardous ? "t" : "f", o->hazard, o->warning, o->hazard + o->warning);
    wkt_vol(b, v);
    bput(b, "\t%s\t%s\t%" PRId64 "\t%" PRId64 "\n", lo, hi, v->start, v->end);
}

static void load(PGconn *c, const wl_theatre *w)
{
    exec_ok(c, "DROP TABLE IF EXISTS units, sites, volumes");
    exec_ok(c, "CREATE TABLE units (id int PRIMARY KEY, party int NOT NULL, domain smallint NOT NULL,"
               " geog geography(Point,4326) NOT NULL, alt float8, ce float8 NOT NULL,"
               " tus bigint NOT NULL) WITH (fillfactor = 50)");
    exec_ok(c, "CREATE TABLE sites (id int PRIMARY KEY, party int NOT NULL,"
               " geog geography NOT NULL, radius float8 NOT NULL, standoff float8 NOT NULL,"
               " valid_to bigint NOT NULL)");
    exec_ok(c, "CREATE TABLE volumes (op bigint NOT NULL, vi int NOT NULL, party int NOT NULL,"
               " kind smallint NOT NULL, hazardous bool NOT NULL, hazard float8 NOT NULL,"
               " warning float8 NOT NULL, reach float8 NOT NULL, geog geography(Polygon,4326) NOT NULL,"
               " alt_lo float8 NOT NULL, alt_hi float8 NOT NULL, vstart bigint NOT NULL,"
               " vend bigint NOT NULL, PRIMARY KEY (op, vi))");
    buf b = {0};
    for (int i = 0; i < w->nunits; i++) {
        const wl_unit *u = &w->units[i];
        bput(&b, "%d\t%d\t%d\tSRID=4326;POINT(%.9f %.9f)\t", i, u->party, u->domain, u->lon, u->lat);
        if (isnan(u->alt))
            bput(&b, "\\N");
        else
            bput(&b, "%.3f", u->alt);
        bput(&b, "\t%.3f\t%" PRId64 "\n", u->ce, (int64_t)WL_T0);
    }
    copy_in(c, "COPY units FROM STDIN", &b);
    for (int i = 0; i < w->nsites; i++) {
        const wl_site *s = &w->sites[i];
        bput(&b, "%d\t%d\t", i, s->party);
        if (s->poly)
            wkt_vol(&b, &s->g);
        else
            bput(&b, "SRID=4326;POINT(%.9f %.9f)", s->g.clon, s->g.clat);
        bput(&b, "\t%.3f\t%.3f\t%" PRId64 "\n", s->radius, s->standoff,
             s->has_to ? s->valid_to : INT64_MAX);
    }
    copy_in(c, "COPY sites FROM STDIN", &b);
    for (int i = 0; i < w->nops; i++)
        for (int k = 0; k < w->ops[i].nvol; k++)
            vol_row(&b, i, k, &w->ops[i], &w->ops[i].vol[k]);
    copy_in(c, "COPY volumes FROM STDIN", &b);
    free(b.s);
    exec_ok(c, "CREATE INDEX units_geog ON units USING gist (geog)");
    exec_ok(c, "CREATE INDEX sites_geog ON sites USING gist (geog)");
    exec_ok(c, "CREATE INDEX volumes_geog ON volumes USING gist (geog)");
    exec_ok(c, "VACUUM ANALYZE units");
    exec_ok(c, "VACUUM ANALYZE sites");
    exec_ok(c, "VACUUM ANALYZE volumes");
}

/* ---- B ---- */

static const char *SQL_INSERT_VOL =
    "INSERT INTO volumes VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::geography,$10,$11,$12,$13)";

/* $1 op, $2 now; the constants are the largest ce_m (50), the largest
 * standoff + site radius (200 + 300) and the largest pair threshold
 * (2000 + 2000); 0.05 m is the engine's reporting margin. */
static const char *SQL_SUBMIT_CHECK =
    "SELECT"
    " (SELECT count(DISTINCT u.id) FROM volumes nv JOIN units u"
    "   ON u.geog && _ST_Expand(nv.geog, nv.reach + 50.05)"
    "  WHERE nv.op = $1 AND nv.hazardous AND u.party <> nv.party AND nv.vend > $2"
    "   AND nv.vend > u.tus"
    "   AND (u.domain <> 1 OR u.alt IS NULL OR u.alt BETWEEN nv.alt_lo AND nv.alt_hi)"
    "   AND ST_DWithin(nv.geog, u.geog, nv.reach + u.ce + 0.05)),"
    " (SELECT count(DISTINCT s.id) FROM volumes nv JOIN sites s"
    "   ON s.geog && _ST_Expand(nv.geog, nv.reach + 500.05)"
    "  WHERE nv.op = $1 AND nv.hazardous AND s.party <> nv.party AND s.valid_to > $2"
    "   AND nv.vend > $2 AND nv.vstart < s.valid_to"
    "   AND ST_DWithin(nv.geog, s.geog, nv.reach + s.standoff + s.radius + 0.05)),"
    " (SELECT count(DISTINCT v.op) FROM volumes nv JOIN volumes v"
    "   ON v.geog && _ST_Expand(nv.geog, 4000.05)"
    "  WHERE nv.op = $1 AND v.op <> nv.op AND v.party <> nv.party"
    "   AND nv.vend > $2 AND v.vend > $2 AND nv.vstart < v.vend AND v.vstart < nv.vend"
    "   AND nv.alt_lo <= v.alt_hi AND v.alt_lo <= nv.alt_hi"
    "   AND (nv.hazardous OR v.hazardous OR (nv.kind = 3 AND v.kind = 3))"
    "   AND ST_DWithin(nv.geog, v.geog, CASE"
    "     WHEN nv.hazardous AND v.hazardous THEN greatest(nv.hazard, v.hazard) + greatest(nv.warning, v.warning)"
    "     WHEN nv.hazardous THEN nv.reach WHEN v.hazardous THEN v.reach"
    "     ELSE greatest(nv.warning, v.warning) END + 0.05))";

typedef struct {
    double p50, p90, p99, max, mean;
    long found;
    int mismatched;
} sub_res;

static long *read_expect(const char *path, int cols, int col, long *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "dc_pgbench: cannot read %s\n", path);
        exit(1);
    }
    long cap = 1024, k = 0, v[3];
    long *out = malloc(sizeof(long) * cap);
    for (;;) {
        int got = 0;
        for (int i = 0; i < cols; i++)
            got += fscanf(f, "%ld", &v[i]) == 1;
        if (got != cols)
            break;
        if (k == cap)
            out = realloc(out, sizeof(long) * (cap *= 2));
        out[k++] = v[col];
    }
    fclose(f);
    *n = k;
    return out;
}

static sub_res run_submits(PGconn *c, const wl_theatre *w, int n, const long *expect, long nexp)
{
    wl_op *ops = wl_submits(w, n);
    PGresult *r = PQprepare(c, "ins", SQL_INSERT_VOL, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die(c, "prepare ins");
    PQclear(r);
    r = PQprepare(c, "chk", SQL_SUBMIT_CHECK, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die(c, "prepare chk");
    PQclear(r);
    double *lat = malloc(sizeof(double) * n);
    sub_res res = {0};
    char p[13][64];
    buf wkt = {0};
    for (int i = 0; i < n; i++) {
        const wl_op *o = &ops[i];
        long opid = 1000000000L + i;
        /* parameters are prepared before the clock starts */
        char *vals[3][13];
        char *geo[3];
        char store[3][12][40];
        for (int k = 0; k < o->nvol; k++) {
            const wl_vol *v = &o->vol[k];
            wkt.n = 0;
            wkt_vol(&wkt, v);
            geo[k] = strdup(wkt.s);
            snprintf(store[k][0], 40, "%ld", opid);
            snprintf(store[k][1], 40, "%d", k);
            snprintf(store[k][2], 40, "%d", o->party);
            snprintf(store[k][3], 40, "%d", o->kind);
            snprintf(store[k][4], 40, "%s", o->hazardous ? "t" : "f");
            snprintf(store[k][5], 40, "%.3f", o->hazard);
            snprintf(store[k][6], 40, "%.3f", o->warning);
            snprintf(store[k][7], 40, "%.3f", o->hazard + o->warning);
            fmt_alt(store[k][8], 40, v->alt_lo);
            fmt_alt(store[k][9], 40, v->alt_hi);
            snprintf(store[k][10], 40, "%" PRId64, v->start);
            snprintf(store[k][11], 40, "%" PRId64, v->end);
            for (int j = 0; j < 8; j++)
                vals[k][j] = store[k][j];
            vals[k][8] = geo[k];
            for (int j = 8; j < 12; j++)
                vals[k][j + 1] = store[k][j];
        }
        snprintf(p[0], 64, "%ld", opid);
        snprintf(p[1], 64, "%" PRId64, (int64_t)WL_T0);
        const char *cp[2] = {p[0], p[1]};
        double t0 = wl_now_s();
        exec_ok(c, "BEGIN");
        for (int k = 0; k < o->nvol; k++) {
            r = PQexecPrepared(c, "ins", 13, (const char *const *)vals[k], NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                die(c, "insert volume");
            PQclear(r);
        }
        r = PQexecPrepared(c, "chk", 2, cp, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die(c, "submit check");
        long found = atol(PQgetvalue(r, 0, 0)) + atol(PQgetvalue(r, 0, 1)) + atol(PQgetvalue(r, 0, 2));
        PQclear(r);
        exec_ok(c, "COMMIT");
        lat[i] = (wl_now_s() - t0) * 1e3;
        res.found += found;
        if (i < nexp && expect[i] != found) {
            res.mismatched++;
            if (res.mismatched <= 5)
                fprintf(stderr, "dc_pgbench: submit %d: PostGIS found %ld, engine opened %ld\n", i,
                        found, expect[i]);
        }
        for (int k = 0; k < o->nvol; k++)
            free(geo[k]);
    }
    free(wkt.s);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += lat[i];
    qsort(lat, n, sizeof *lat, wl_cmp_double);
    res.p50 = wl_pct(lat, n, 50);
    res.p90 = wl_pct(lat, n, 90);
    res.p99 = wl_pct(lat, n, 99);
    res.max = lat[n - 1];
    res.mean = sum / n;
    free(lat);
    wl_submits_free(ops, n);
    return res;
}

/* ---- A ---- */

/* $1 ids, $2 lons, $3 lats, $4 alts, $5 ce, $6 time (us). The prefilter
 * radius 4000.05 + ce is the largest reach (hazard + warning <= 4000 m). */
static const char *SQL_INGEST =
    "WITH r AS (SELECT * FROM unnest($1::int[], $2::float8[], $3::float8[], $4::float8[],"
    "                                $5::float8[]) AS r(uid, lon, lat, alt, ce)),"
    " upd AS (UPDATE units u SET geog = ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326)::geography,"
    "         alt = r.alt, ce = r.ce, tus = $6 FROM r WHERE u.id = r.uid RETURNING 1),"
    " p AS (SELECT r.*, ST_SetSRID(ST_MakePoint(r.lon, r.lat), 4326)::geography AS g FROM r)"
    " SELECT (SELECT count(*) FROM upd), count(DISTINCT (p.uid, v.op))"
    " FROM p JOIN units u ON u.id = p.uid"
    " JOIN volumes v ON v.geog && _ST_Expand(p.g, 4000.05 + p.ce)"
    " WHERE v.hazardous AND v.party <> u.party AND v.vend > $6"
    "  AND (u.domain <> 1 OR p.alt IS NULL OR p.alt BETWEEN v.alt_lo AND v.alt_hi)"
    "  AND ST_DWithin(v.geog, p.g, v.reach + p.ce + 0.05)";

typedef struct {
    const char *conninfo;
    const wl_theatre *w;
    const wl_report *rep;
    const int *bn, *bp;
    long nb;
    int conn, nconns;
    double cap, t0;
    long *hits; /* per batch, -1 when not done */
    long reports;
    double t_end;
} ing_ctx;

static void *ingest_thread(void *arg)
{
    ing_ctx *x = arg;
    PGconn *c = PQconnectdb(x->conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        die(c, "connect");
    exec_ok(c, "SET synchronous_commit = off");
    PGresult *r = PQprepare(c, "ing", SQL_INGEST, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die(c, "prepare ingest");
    PQclear(r);
    buf a[5] = {{0}};
    char tb[32];
    for (long b = x->conn; b < x->nb; b += x->nconns) {
        if (wl_now_s() - x->t0 > x->cap)
            break;
        const wl_report *rb = x->rep + b * WL_BATCH;
        for (int k = 0; k < 5; k++) {
            a[k].n = 0;
            bput(&a[k], "{");
        }
        for (int i = 0; i < x->bn[b]; i++) {
            const char *sep = i ? "," : "";
            bput(&a[0], "%s%d", sep, rb[i].unit);
            bput(&a[1], "%s%.9f", sep, rb[i].lon);
            bput(&a[2], "%s%.9f", sep, rb[i].lat);
            if (isnan(rb[i].alt))
                bput(&a[3], "%sNULL", sep);
            else
                bput(&a[3], "%s%.3f", sep, rb[i].alt);
            bput(&a[4], "%s%.3f", sep, rb[i].ce);
        }
        for (int k = 0; k < 5; k++)
            bput(&a[k], "}");
        snprintf(tb, sizeof tb, "%" PRId64, wl_batch_time(b));
        const char *pv[6] = {a[0].s, a[1].s, a[2].s, a[3].s, a[4].s, tb};
        r = PQexecPrepared(c, "ing", 6, pv, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die(c, "ingest batch");
        long upd = atol(PQgetvalue(r, 0, 0));
        if (upd != x->bn[b]) {
            fprintf(stderr, "dc_pgbench: batch %ld updated %ld units, expected %d\n", b, upd,
                    x->bn[b]);
            exit(1);
        }
        x->hits[b] = atol(PQgetvalue(r, 0, 1));
        PQclear(r);
        x->reports += x->bn[b];
    }
    x->t_end = wl_now_s();
    for (int k = 0; k < 5; k++)
        free(a[k].s);
    PQfinish(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: dc_pgbench CONNINFO [--smoke] [--seed N] --expect DIR [--cap S] "
                        "[--conns N]\n");
        return 2;
    }
    const char *conninfo = argv[1], *exdir = ".";
    int smoke = 0, nconns = 2;
    uint64_t seed = 20170209;
    double cap = 1e9;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0)
            smoke = 1;
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc)
            exdir = argv[++i];
        else if (strcmp(argv[i], "--cap") == 0 && i + 1 < argc)
            cap = atof(argv[++i]);
        else if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc)
            nconns = atoi(argv[++i]);
    }
    wl_scale sc = wl_scale_get(smoke);
    wl_theatre w;
    wl_generate(&w, seed, sc.units, sc.sites, sc.ops, wl_side_for(smoke));
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        die(c, "connect");
    exec_ok(c, "SET client_min_messages = warning");
    exec_ok(c, "CREATE EXTENSION IF NOT EXISTS postgis");
    double t0 = wl_now_s();
    load(c, &w);
    double t_load = wl_now_s() - t0;
    fprintf(stderr, "PostGIS: loaded %d units, %d sites, %d operations in %.1f s\n", w.nunits,
            w.nsites, w.nops, t_load);

    char path[4096];
    long nexp_b, nexp_a, nexp_ao;
    snprintf(path, sizeof path, "%s/expect_b.txt", exdir);
    long *exp_b = read_expect(path, 2, 1, &nexp_b);
    sub_res sr = run_submits(c, &w, sc.submits, exp_b, nexp_b);
    long eng_b = 0;
    for (long i = 0; i < nexp_b; i++)
        eng_b += exp_b[i];
    fprintf(stderr,
            "PostGIS B: %d submits: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; found %ld "
            "(engine %ld, %d submits differ)\n",
            sc.submits, sr.p50, sr.p90, sr.p99, sr.max, sr.found, eng_b, sr.mismatched);
    exec_ok(c, "VACUUM ANALYZE volumes");

    /* A */
    long nb = (sc.reports + WL_BATCH - 1) / WL_BATCH;
    wl_report *rep = malloc(sizeof *rep * nb * WL_BATCH);
    int *bn = malloc(sizeof(int) * nb), *bp = malloc(sizeof(int) * nb);
    wl_stream s;
    wl_stream_init(&s, &w, w.seed);
    for (long b = 0; b < nb; b++)
        bn[b] = wl_batch(&s, &w, b, rep + b * WL_BATCH, &bp[b]);
    wl_stream_free(&s);
    long *hits = malloc(sizeof(long) * nb);
    for (long b = 0; b < nb; b++)
        hits[b] = -1;
    ing_ctx ctx[8];
    pthread_t th[8];
    if (nconns < 1 || nconns > 8)
        nconns = 2;
    double ts = wl_now_s();
    for (int k = 0; k < nconns; k++) {
        ctx[k] = (ing_ctx){conninfo, &w, rep, bn, bp, nb, k, nconns, cap, ts, hits, 0, 0};
        pthread_create(&th[k], NULL, ingest_thread, &ctx[k]);
    }
    long reports = 0;
    double tend = ts;
    for (int k = 0; k < nconns; k++) {
        pthread_join(th[k], NULL);
        reports += ctx[k].reports;
        if (ctx[k].t_end > tend)
            tend = ctx[k].t_end;
    }
    double rate = reports / (tend - ts);
    snprintf(path, sizeof path, "%s/expect_a.txt", exdir);
    long *exp_a = read_expect(path, 3, 1, &nexp_a);
    (void)nexp_ao;
    long pg_hits = 0, eng_hits = 0, bad = 0, done = 0;
    for (long b = 0; b < nb && b < nexp_a; b++) {
        if (hits[b] < 0)
            continue;
        done++;
        pg_hits += hits[b];
        eng_hits += exp_a[b];
        if (hits[b] != exp_a[b] && ++bad <= 5)
            fprintf(stderr, "dc_pgbench: batch %ld: PostGIS %ld hits, engine %ld\n", b, hits[b],
                    exp_a[b]);
    }
    fprintf(stderr,
            "PostGIS A: %ld reports (%ld batches) in %.1f s with %d connections: %.0f reports/s; "
            "hits %ld (engine %ld, %ld batches differ)\n",
            reports, done, tend - ts, nconns, rate, pg_hits, eng_hits, bad);
    long dA = labs(pg_hits - eng_hits), dB = labs(sr.found - eng_b);
    int fail = done == 0 || dA > 2 + eng_hits / 1000 || dB > 2 + eng_b / 1000;
    printf("{\"postgis_load_s\":%.2f,\"postgis_submit_p50_ms\":%.3f,\"postgis_submit_p90_ms\":%.3f,"
           "\"postgis_submit_p99_ms\":%.3f,\"postgis_submit_max_ms\":%.3f,"
           "\"postgis_submit_found\":%ld,\"engine_submit_opened\":%ld,"
           "\"postgis_ingest_per_s\":%.0f,\"postgis_ingest_reports\":%ld,"
           "\"postgis_ingest_conns\":%d,\"postgis_ingest_hits\":%ld,\"engine_ingest_hits_same_batches\":%ld,"
           "\"postgis_counts_ok\":%s}\n",
           t_load, sr.p50, sr.p90, sr.p99, sr.max, sr.found, eng_b, rate, reports, nconns, pg_hits,
           eng_hits, fail ? "false" : "true");
    if (fail) {
        fprintf(stderr, "dc_pgbench: FAIL: PostGIS counts disagree with the engine beyond 0.1%%\n");
        return 1;
    }
    PQfinish(c);
    wl_free(&w);
    return 0;
}
