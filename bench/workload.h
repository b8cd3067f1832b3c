/* workload: the seeded synthetic theatre shared by every benchmark
 * contender (bench_engine, the HTTP load client, the PostGIS and Redis
 * drivers). Each program regenerates exactly the same data from the same
 * seed and scale, so no data files need to be exchanged.
 *
 * Theatre: a square of side_m metres centred at (lon0, lat0) (default
 * 500 km at 36 N), 3-5 parties, units (random positions, 80% ground, 12%
 * air, 8% sea), sites (70% points with a radius, 30% small polygons),
 * operations with 1-3 polygon volumes of 8-64 vertices, windows spread over
 * 24 h, hazard 100-2000 m. See bench/README.
 *
 * Header-only (static functions); include once per program. */
#ifndef DC_BENCH_WORKLOAD_H
#define DC_BENCH_WORKLOAD_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WL_T0 1486612800000000LL /* 2017-02-09T04:00:00Z in microseconds */
#define WL_BATCH 1000
#define WL_PI 3.14159265358979323846

/* ---- deterministic random numbers (splitmix64) ---- */
typedef struct {
    uint64_t s;
} wl_rng;
static inline uint64_t wl_next(wl_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static inline double wl_u(wl_rng *r) /* [0, 1) */
{
    return (wl_next(r) >> 11) * (1.0 / 9007199254740992.0);
}
static inline double wl_uni(wl_rng *r, double a, double b)
{
    return a + (b - a) * wl_u(r);
}
static inline int wl_int(wl_rng *r, int a, int b) /* [a, b] */
{
    return a + (int)(wl_next(r) % (uint64_t)(b - a + 1));
}

enum { WL_GROUND, WL_AIR, WL_SEA };
static const char *const wl_domain_names[] = {"ground", "air", "sea"};
enum { WL_STRIKE, WL_ARTILLERY, WL_DEMOLITION, WL_AIR_TRANSIT, WL_GROUND_MOVE, WL_CONVOY, WL_OTHER };
static const char *const wl_kind_names[] = {"strike",      "artillery", "demolition", "air-transit",
                                            "ground-move", "convoy",    "other"};
static const char *const wl_cat_names[] = {"hospital", "school",    "shelter", "humanitarian",
                                           "cultural", "religious", "base",    "other"};

typedef struct {
    int nv;          /* distinct vertices (ring has nv + 1 positions); 0 = point */
    double *xy;      /* lon, lat pairs, nv of them */
    double clon, clat;
    double rmax;     /* every vertex within rmax metres of the centre (flat estimate) */
    int has_lo, has_hi;
    double alt_lo, alt_hi;
    int64_t start, end;
} wl_vol;

typedef struct {
    int party, kind, hazardous;
    double hazard, warning; /* warning as the engine will take it */
    int warning_given;
    int nvol;
    wl_vol vol[3];
} wl_op;

typedef struct {
    int party, category;
    int poly; /* 1: polygon (vol.xy), 0: point with radius */
    wl_vol g; /* geometry (centre, vertices) */
    double radius, standoff;
    int has_to;
    int64_t valid_to;
} wl_site;

typedef struct {
    int party, domain;
    double lon, lat, alt, ce; /* alt NAN unless air */
} wl_unit;

typedef struct {
    int unit;
    double lon, lat, alt, ce;
} wl_report;

typedef struct {
    uint64_t seed;
    int nparties;
    char party[5][4];
    double lon0, lat0, side_m;
    int nunits, nsites, nops;
    wl_unit *units;
    wl_site *sites;
    wl_op *ops;
    /* units of each party, for per-party batches */
    int *pu[5];
    int npu[5];
} wl_theatre;

/* metres to degrees at latitude lat */
static inline double wl_dlon(double m, double lat)
{
    return m / (111320.0 * cos(lat * WL_PI / 180));
}
static inline double wl_dlat(double m)
{
    return m / 110574.0;
}

/* A star-shaped polygon around (clon, clat): vertex i at angle
 * 2*pi*(i + jitter)/nv (jitter < 0.8, so angles increase) and radius in
 * [0.55, 1] * r0. Star-shaped with increasing angles means simple. */
static void wl_star(wl_rng *r, wl_vol *v, double clon, double clat, int nv, double r0)
{
    v->nv = nv;
    v->xy = malloc(sizeof(double) * 2 * nv);
    v->clon = clon;
    v->clat = clat;
    v->rmax = r0;
    for (int i = 0; i < nv; i++) {
        double a = 2 * WL_PI * (i + wl_uni(r, 0, 0.8)) / nv;
        double rr = r0 * wl_uni(r, 0.55, 1.0);
        v->xy[2 * i] = clon + wl_dlon(rr * cos(a), clat);
        v->xy[2 * i + 1] = clat + wl_dlat(rr * sin(a));
    }
}

static void wl_random_point(wl_rng *r, const wl_theatre *w, double *lon, double *lat)
{
    *lat = w->lat0 + wl_dlat(wl_uni(r, -0.5, 0.5) * w->side_m);
    *lon = w->lon0 + wl_dlon(wl_uni(r, -0.5, 0.5) * w->side_m, *lat);
}

/* wl_make_op fills o with a random operation: 1-3 volumes of nvmin..nvmax
 * vertices, windows starting within 24 h of t0. */
static void wl_make_op(wl_rng *r, const wl_theatre *w, wl_op *o, int party, int nvmin, int nvmax,
                       int64_t t0)
{
    memset(o, 0, sizeof *o);
    o->party = party;
    double k = wl_u(r);
    o->kind = k < 0.30   ? WL_STRIKE
              : k < 0.45 ? WL_ARTILLERY
              : k < 0.55 ? WL_DEMOLITION
              : k < 0.70 ? WL_AIR_TRANSIT
              : k < 0.80 ? WL_GROUND_MOVE
              : k < 0.90 ? WL_CONVOY
                         : WL_OTHER;
    o->hazardous = o->kind <= WL_DEMOLITION;
    o->hazard = round(wl_uni(r, 100, 2000));
    o->warning_given = wl_u(r) < 0.5;
    o->warning = o->warning_given ? round(o->hazard * wl_uni(r, 0.25, 1.0)) : o->hazard;
    o->nvol = wl_int(r, 1, 3);
    double clon, clat;
    wl_random_point(r, w, &clon, &clat);
    for (int i = 0; i < o->nvol; i++) {
        wl_vol *v = &o->vol[i];
        /* successive volumes of one operation are near each other */
        double vlat = clat + wl_dlat(wl_uni(r, -3000, 3000));
        double vlon = clon + wl_dlon(wl_uni(r, -3000, 3000), vlat);
        wl_star(r, v, vlon, vlat, wl_int(r, nvmin, nvmax), wl_uni(r, 200, 1500));
        if (wl_u(r) < 0.5) {
            v->has_lo = v->has_hi = 1;
            v->alt_lo = round(wl_uni(r, 0, 1000));
            v->alt_hi = v->alt_lo + round(wl_uni(r, 500, 5000));
        } else {
            v->alt_lo = -INFINITY;
            v->alt_hi = INFINITY;
        }
        v->start = t0 + (int64_t)(wl_uni(r, 0, 24 * 3600)) * 1000000LL;
        v->end = v->start + (int64_t)(wl_uni(r, 1800, 4 * 3600)) * 1000000LL;
    }
}

/* wl_generate builds the theatre. side_m is the side of the square. */
static void wl_generate(wl_theatre *w, uint64_t seed, int nunits, int nsites, int nops, double side_m)
{
    memset(w, 0, sizeof *w);
    wl_rng r = {seed};
    w->seed = seed;
    w->nparties = wl_int(&r, 3, 5);
    for (int p = 0; p < w->nparties; p++)
        snprintf(w->party[p], sizeof w->party[p], "P%d", p + 1);
    w->lon0 = 37.5;
    w->lat0 = 36.0;
    w->side_m = side_m;
    w->nunits = nunits;
    w->nsites = nsites;
    w->nops = nops;
    w->units = calloc(nunits, sizeof *w->units);
    w->sites = calloc(nsites, sizeof *w->sites);
    w->ops = calloc(nops, sizeof *w->ops);
    for (int p = 0; p < w->nparties; p++)
        w->pu[p] = malloc(sizeof(int) * (nunits / w->nparties + 1));
    for (int i = 0; i < nunits; i++) {
        wl_unit *u = &w->units[i];
        u->party = i % w->nparties;
        w->pu[u->party][w->npu[u->party]++] = i;
        double d = wl_u(&r);
        u->domain = d < 0.80 ? WL_GROUND : d < 0.92 ? WL_AIR : WL_SEA;
        wl_random_point(&r, w, &u->lon, &u->lat);
        u->alt = u->domain == WL_AIR ? round(wl_uni(&r, 0, 6000)) : NAN;
        u->ce = round(wl_uni(&r, 5, 50));
    }
    for (int i = 0; i < nsites; i++) {
        wl_site *s = &w->sites[i];
        s->party = wl_int(&r, 0, w->nparties - 1);
        s->category = wl_int(&r, 0, 7);
        double lon, lat;
        wl_random_point(&r, w, &lon, &lat);
        s->poly = wl_u(&r) < 0.3;
        if (s->poly) {
            wl_star(&r, &s->g, lon, lat, wl_int(&r, 4, 12), wl_uni(&r, 30, 300));
        } else {
            s->g.clon = lon;
            s->g.clat = lat;
            s->radius = round(wl_uni(&r, 0, 300));
            s->g.rmax = s->radius;
        }
        s->standoff = round(wl_uni(&r, 0, 200));
        s->has_to = wl_u(&r) < 0.1;
        s->valid_to = s->has_to ? WL_T0 + (int64_t)wl_uni(&r, 3600, 48 * 3600) * 1000000LL : INT64_MAX;
    }
    for (int i = 0; i < nops; i++)
        wl_make_op(&r, w, &w->ops[i], wl_int(&r, 0, w->nparties - 1), 8, 64, WL_T0);
}

static void wl_vol_free(wl_vol *v)
{
    free(v->xy);
    v->xy = NULL;
}

static void wl_free(wl_theatre *w)
{
    for (int i = 0; i < w->nsites; i++)
        wl_vol_free(&w->sites[i].g);
    for (int i = 0; i < w->nops; i++)
        for (int k = 0; k < w->ops[i].nvol; k++)
            wl_vol_free(&w->ops[i].vol[k]);
    for (int p = 0; p < w->nparties; p++)
        free(w->pu[p]);
    free(w->units);
    free(w->sites);
    free(w->ops);
}

/* ---- the report stream ----
 * Batch b belongs to party b % nparties and holds WL_BATCH reports of
 * distinct units of that party (taken cyclically). Each report moves its
 * unit 5-40 m in a random direction (a random walk, reflected at the
 * theatre's edge); air units also climb or descend up to 50 m. Batch b
 * carries time WL_T0 + 1 s + b * 10 ms. */
typedef struct {
    wl_rng r;
    int cursor[5];
    wl_unit *pos; /* current positions (copy) */
} wl_stream;

static void wl_stream_init(wl_stream *s, const wl_theatre *w, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->r.s = seed ^ 0x5eed5eedULL;
    s->pos = malloc(sizeof *s->pos * w->nunits);
    memcpy(s->pos, w->units, sizeof *s->pos * w->nunits);
}

static void wl_stream_free(wl_stream *s)
{
    free(s->pos);
}

static inline int64_t wl_batch_time(long b)
{
    return WL_T0 + 1000000LL + b * 10000LL;
}

/* wl_batch fills out[0..n) with batch b; returns n and the party. */
static int wl_batch(wl_stream *s, const wl_theatre *w, long b, wl_report *out, int *party)
{
    int p = (int)(b % w->nparties);
    *party = p;
    int n = WL_BATCH < w->npu[p] ? WL_BATCH : w->npu[p];
    double half = w->side_m / 2;
    for (int i = 0; i < n; i++) {
        int ui = w->pu[p][s->cursor[p]++ % w->npu[p]];
        wl_unit *u = &s->pos[ui];
        double a = wl_uni(&s->r, 0, 2 * WL_PI), d = wl_uni(&s->r, 5, 40);
        double dy = d * sin(a), dx = d * cos(a);
        double y = (u->lat - w->lat0) * 110574.0 + dy;
        if (fabs(y) > half)
            dy = -dy;
        u->lat += wl_dlat(dy);
        double x = (u->lon - w->lon0) * 111320.0 * cos(u->lat * WL_PI / 180) + dx;
        if (fabs(x) > half)
            dx = -dx;
        u->lon += wl_dlon(dx, u->lat);
        if (u->domain == WL_AIR) {
            u->alt += round(wl_uni(&s->r, -50, 50));
            if (u->alt < 0)
                u->alt = -u->alt;
        }
        out[i].unit = ui;
        out[i].lon = u->lon;
        out[i].lat = u->lat;
        out[i].alt = u->alt;
        out[i].ce = u->ce;
    }
    return n;
}

/* wl_submits generates the n operations of measurement B: like the
 * theatre's, but every volume is a 100-vertex polygon. */
static wl_op *wl_submits(const wl_theatre *w, int n)
{
    wl_rng r = {w->seed ^ 0xB0B0B0B0ULL};
    wl_op *v = calloc(n > 0 ? n : 1, sizeof *v);
    for (int i = 0; i < n; i++)
        wl_make_op(&r, w, &v[i], wl_int(&r, 0, w->nparties - 1), 100, 100, WL_T0);
    return v;
}

static void wl_submits_free(wl_op *v, int n)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < v[i].nvol; k++)
            wl_vol_free(&v[i].vol[k]);
    free(v);
}

/* ---- small helpers shared by the drivers ---- */
#include <time.h>
static inline double wl_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

__attribute__((unused)) static int wl_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* percentile of a sorted array */
static inline double wl_pct(const double *v, size_t n, double p)
{
    if (!n)
        return NAN;
    size_t i = (size_t)ceil(p / 100.0 * n);
    if (i < 1)
        i = 1;
    if (i > n)
        i = n;
    return v[i - 1];
}

/* Scale presets: full and smoke. */
typedef struct {
    int units, sites, ops;
    long reports;   /* measurement A */
    int submits;    /* measurement B */
    long replay;    /* measurement D records */
} wl_scale;

static inline wl_scale wl_scale_get(int smoke)
{
    wl_scale s;
    if (smoke) {
        s.units = 5000;
        s.sites = 2500;
        s.ops = 500;
        s.reports = 50000;
        s.submits = 50;
        s.replay = 100000;
    } else {
        s.units = 100000;
        s.sites = 50000;
        s.ops = 10000;
        s.reports = 2000000;
        s.submits = 1000;
        s.replay = 10000000;
    }
    return s;
}

/* In smoke mode the theatre shrinks with the counts (same density). */
static inline double wl_side_for(int smoke)
{
    return smoke ? 500000.0 * sqrt(0.05) : 500000.0;
}

#endif
