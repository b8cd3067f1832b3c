/* test_shape: GeoJSON validation (every rule, with the field path of the
 * offending element) and separations between discs and polygons, checked
 * against an independent reference built only from PROJ's geod_inverse /
 * geod_position: point-in-polygon by winding angle (azimuths from the point
 * along the densified boundary), edge crossings by azimuth side tests, and
 * distances by golden-section search along each edge. shape_check() is run
 * on every prepared shape. Seeded; the seed is printed (DC_TEST_SEED to
 * replay). */
#include <geodesic.h>
#include <stdint.h>
#include <stdlib.h>

#include "shape.h"
#include "testlib.h"

static struct geod_geodesic G;

/* ---- seeded generator ---- */
static uint64_t rng_state;
static double urand(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}
static double uni(double lo, double hi)
{
    return lo + (hi - lo) * urand();
}

/* ---- test shapes: plain coordinates, independent of the engine ---- */
#define MAXR 4
typedef struct {
    int n; /* distinct vertices (the ring is closed implicitly) */
    double *lon, *lat;
} tring;
typedef struct {
    int nr;
    tring r[MAXR];
} tpoly;
typedef struct {
    int disc;
    double clon, clat, rad;
    int np;
    tpoly p[2];
} tshape;

static void ring_init(tring *r, int n)
{
    r->n = n;
    r->lon = calloc(n, sizeof *r->lon);
    r->lat = calloc(n, sizeof *r->lat);
}

static void tshape_free(tshape *s)
{
    for (int i = 0; i < s->np; i++)
        for (int j = 0; j < s->p[i].nr; j++) {
            free(s->p[i].r[j].lon);
            free(s->p[i].r[j].lat);
        }
    s->np = 0;
}

static double norm_lon(double lon)
{
    while (lon >= 180)
        lon -= 360;
    while (lon < -180)
        lon += 360;
    return lon;
}

static json_t *ring_json(const tring *r, int reverse)
{
    json_t *a = json_array();
    for (int k = 0; k <= r->n; k++) {
        int i = reverse ? (r->n - k % r->n) % r->n : k % r->n;
        json_array_append_new(a, json_pack("[f,f]", r->lon[i], r->lat[i]));
    }
    return a;
}

static json_t *tshape_json(const tshape *s, int reverse)
{
    if (s->disc)
        return json_pack("{s:s,s:[f,f]}", "type", "Point", "coordinates", s->clon, s->clat);
    json_t *polys = json_array();
    for (int i = 0; i < s->np; i++) {
        json_t *rings = json_array();
        for (int j = 0; j < s->p[i].nr; j++)
            json_array_append_new(rings, ring_json(&s->p[i].r[j], reverse));
        json_array_append_new(polys, rings);
    }
    if (s->np == 1) {
        json_t *p = json_incref(json_array_get(polys, 0));
        json_decref(polys);
        return json_pack("{s:s,s:o}", "type", "Polygon", "coordinates", p);
    }
    return json_pack("{s:s,s:o}", "type", "MultiPolygon", "coordinates", polys);
}

static dc_shape *prepare(const tshape *s, int reverse)
{
    json_t *j = tshape_json(s, reverse);
    dc_shape *out = NULL;
    shape_error err;
    int rc = shape_from_geojson(j, s->disc ? s->rad : 0, SHAPE_ALLOW_MULTI, "geometry", &out, &err);
    if (rc != 0) {
        char *txt = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
        TL_FAIL_("prepare failed (%d): %s: %s\n  %.300s", rc, err.field, err.message, txt);
        free(txt);
    }
    json_decref(j);
    if (out && shape_check(out) != 0)
        TL_FAIL_("shape_check failed on a prepared shape");
    return out;
}

/* ---- the independent reference ---- */

static double inv(double lat1, double lon1, double lat2, double lon2, double *azi1)
{
    double s, a1, a2;
    geod_inverse(&G, lat1, lon1, lat2, lon2, &s, &a1, &a2);
    if (azi1)
        *azi1 = a1;
    return s;
}

static double ang_diff(double a, double b)
{
    double d = fmod(b - a, 360.0);
    if (d > 180)
        d -= 360;
    if (d <= -180)
        d += 360;
    return d;
}

/* Distance from (plon, plat) to the geodesic edge a-b: 40 samples, then a
 * golden-section search around the best one. */
static double ref_edge(double plon, double plat, double alon, double alat, double blon,
                       double blat)
{
    struct geod_geodesicline l;
    geod_inverseline(&l, &G, alat, alon, blat, blon,
                     GEOD_LATITUDE | GEOD_LONGITUDE | GEOD_DISTANCE_IN);
    const int n = 40;
    double h = l.s13 / n, best = INFINITY, lat, lon;
    int bi = 0;
    for (int i = 0; i <= n; i++) {
        geod_position(&l, i * h, &lat, &lon, 0);
        double d = inv(plat, plon, lat, lon, 0);
        if (d < best) {
            best = d;
            bi = i;
        }
    }
    double lo = bi > 0 ? (bi - 1) * h : 0, hi = bi < n ? (bi + 1) * h : l.s13;
    const double gr = (sqrt(5.0) - 1) / 2;
    for (int it = 0; it < 100 && hi - lo > 1e-6; it++) {
        double x1 = hi - gr * (hi - lo), x2 = lo + gr * (hi - lo), f1, f2;
        geod_position(&l, x1, &lat, &lon, 0);
        f1 = inv(plat, plon, lat, lon, 0);
        geod_position(&l, x2, &lat, &lon, 0);
        f2 = inv(plat, plon, lat, lon, 0);
        best = fmin(best, fmin(f1, f2));
        if (f1 < f2)
            hi = x2;
        else
            lo = x1;
    }
    return best;
}

/* Winding angle of the edge a-b seen from p, subdividing the geodesic
 * until each piece subtends less than 20 degrees. */
static double wind_edge(double plon, double plat, double alon, double alat, double blon,
                        double blat, int depth)
{
    double za, zb;
    double da = inv(plat, plon, alat, alon, &za), db = inv(plat, plon, blat, blon, &zb);
    if (da < 1e-6 || db < 1e-6)
        return 0;
    double d = ang_diff(za, zb);
    if (fabs(d) < 20 || depth > 40)
        return d;
    double s = inv(alat, alon, blat, blon, 0), mlat, mlon;
    struct geod_geodesicline l;
    geod_inverseline(&l, &G, alat, alon, blat, blon,
                     GEOD_LATITUDE | GEOD_LONGITUDE | GEOD_DISTANCE_IN);
    geod_position(&l, s / 2, &mlat, &mlon, 0);
    return wind_edge(plon, plat, alon, alat, mlon, mlat, depth + 1) +
           wind_edge(plon, plat, mlon, mlat, blon, blat, depth + 1);
}

static int ref_in_ring(const tring *r, double lon, double lat)
{
    /* Seen from afar (near the antipode) any ring winds once; rings here
     * are at most a few hundred km, so a point that far away is outside. */
    if (inv(lat, lon, r->lat[0], r->lon[0], 0) > 5e6)
        return 0;
    double w = 0;
    for (int i = 0; i < r->n; i++) {
        int j = (i + 1) % r->n;
        w += wind_edge(lon, lat, r->lon[i], r->lat[i], r->lon[j], r->lat[j], 0);
    }
    return fabs(w) > 180;
}

static int ref_in_poly(const tpoly *p, double lon, double lat)
{
    if (!ref_in_ring(&p->r[0], lon, lat))
        return 0;
    for (int k = 1; k < p->nr; k++)
        if (ref_in_ring(&p->r[k], lon, lat))
            return 0;
    return 1;
}

static int ref_in_shape(const tshape *s, double lon, double lat)
{
    for (int i = 0; i < s->np; i++)
        if (ref_in_poly(&s->p[i], lon, lat))
            return 1;
    return 0;
}

static double ref_point_boundary(const tshape *s, double lon, double lat)
{
    double best = INFINITY;
    for (int i = 0; i < s->np; i++)
        for (int k = 0; k < s->p[i].nr; k++) {
            const tring *r = &s->p[i].r[k];
            for (int e = 0; e < r->n; e++) {
                int f = (e + 1) % r->n;
                best = fmin(best, ref_edge(lon, lat, r->lon[e], r->lat[e], r->lon[f], r->lat[f]));
            }
        }
    return best;
}

static double ref_point_shape(const tshape *s, double lon, double lat)
{
    if (s->disc) {
        double d = inv(lat, lon, s->clat, s->clon, 0) - s->rad;
        return d > 0 ? d : 0;
    }
    if (ref_in_shape(s, lon, lat))
        return 0;
    return ref_point_boundary(s, lon, lat);
}

/* Side of q relative to the geodesic a->b, by azimuths at a. */
static int side(double alon, double alat, double blon, double blat, double qlon, double qlat)
{
    double zb, zq;
    inv(alat, alon, blat, blon, &zb);
    double dq = inv(alat, alon, qlat, qlon, &zq);
    if (dq < 1e-9)
        return 0;
    double d = ang_diff(zb, zq);
    return d > 0 ? 1 : d < 0 ? -1 : 0;
}

static int ref_edges_cross(const tring *A, int i, const tring *B, int j)
{
    int i2 = (i + 1) % A->n, j2 = (j + 1) % B->n;
    int s1 = side(A->lon[i], A->lat[i], A->lon[i2], A->lat[i2], B->lon[j], B->lat[j]);
    int s2 = side(A->lon[i], A->lat[i], A->lon[i2], A->lat[i2], B->lon[j2], B->lat[j2]);
    int t1 = side(B->lon[j], B->lat[j], B->lon[j2], B->lat[j2], A->lon[i], A->lat[i]);
    int t2 = side(B->lon[j], B->lat[j], B->lon[j2], B->lat[j2], A->lon[i2], A->lat[i2]);
    return s1 * s2 < 0 && t1 * t2 < 0;
}

/* Reference separation of two polygon shapes: 0 when a boundary crossing
 * or a vertex inside the other; otherwise the least vertex-to-edge
 * distance either way. */
static double ref_poly_poly(const tshape *a, const tshape *b)
{
    for (int pa = 0; pa < a->np; pa++)
        for (int ra = 0; ra < a->p[pa].nr; ra++)
            for (int pb = 0; pb < b->np; pb++)
                for (int rb = 0; rb < b->p[pb].nr; rb++) {
                    const tring *A = &a->p[pa].r[ra], *B = &b->p[pb].r[rb];
                    for (int i = 0; i < A->n; i++)
                        for (int j = 0; j < B->n; j++)
                            if (ref_edges_cross(A, i, B, j))
                                return 0;
                }
    double best = INFINITY;
    for (int pass = 0; pass < 2; pass++) {
        const tshape *P = pass ? b : a, *Q = pass ? a : b;
        for (int i = 0; i < P->np; i++)
            for (int k = 0; k < P->p[i].nr; k++) {
                const tring *r = &P->p[i].r[k];
                for (int v = 0; v < r->n; v++) {
                    if (ref_in_shape(Q, r->lon[v], r->lat[v]))
                        return 0;
                    best = fmin(best, ref_point_boundary(Q, r->lon[v], r->lat[v]));
                }
            }
    }
    return best;
}

static double ref_sep(const tshape *a, const tshape *b)
{
    if (a->disc && b->disc) {
        double d = inv(a->clat, a->clon, b->clat, b->clon, 0) - a->rad - b->rad;
        return d > 0 ? d : 0;
    }
    if (b->disc) {
        const tshape *t = a;
        a = b;
        b = t;
    }
    if (a->disc) {
        double d = ref_point_shape(b, a->clon, a->clat) - a->rad;
        return d > 0 ? d : 0;
    }
    return ref_poly_poly(a, b);
}

/* Dense upper bound: the least distance between boundary samples (every
 * edge cut in `k` pieces). No separation may exceed it. */
static double dense_upper(const tshape *a, const tshape *b, int k)
{
    double best = INFINITY;
    int na = 0, nb = 0;
    static double la[20000], pa[20000], lb[20000], pb[20000];
    const tshape *s[2] = {a, b};
    for (int w = 0; w < 2; w++) {
        double *lo = w ? lb : la, *lt = w ? pb : pa;
        int *n = w ? &nb : &na;
        if (s[w]->disc) {
            for (int i = 0; i < 64; i++) {
                double lat, lon;
                geod_direct(&G, s[w]->clat, s[w]->clon, i * 360.0 / 64, s[w]->rad, &lat, &lon, 0);
                lo[*n] = lon;
                lt[(*n)++] = lat;
            }
            continue;
        }
        for (int i = 0; i < s[w]->np; i++)
            for (int q = 0; q < s[w]->p[i].nr; q++) {
                const tring *r = &s[w]->p[i].r[q];
                for (int e = 0; e < r->n; e++) {
                    int f = (e + 1) % r->n;
                    struct geod_geodesicline l;
                    geod_inverseline(&l, &G, r->lat[e], r->lon[e], r->lat[f], r->lon[f],
                                     GEOD_LATITUDE | GEOD_LONGITUDE | GEOD_DISTANCE_IN);
                    for (int t = 0; t < k && *n < 20000; t++) {
                        geod_position(&l, l.s13 * t / k, &lt[*n], &lo[*n], 0);
                        (*n)++;
                    }
                }
            }
    }
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            best = fmin(best, inv(pa[i], la[i], pb[j], lb[j], 0));
    return best;
}

/* ---- shape generators ---- */

static void dest(double lon, double lat, double azi, double s, double *olon, double *olat)
{
    geod_direct(&G, lat, lon, azi, s, olat, olon, 0);
    *olon = norm_lon(*olon);
}

/* A star-shaped ring around (lon, lat): n vertices at evenly spaced
 * azimuths (jittered), radii in [rmin, rmax]. Simple by construction. */
static void star_ring(tring *r, int n, double lon, double lat, double rmin, double rmax, int ccw)
{
    ring_init(r, n);
    double a0 = uni(0, 360);
    for (int i = 0; i < n; i++) {
        double az = a0 + (ccw ? -1 : 1) * (i + uni(-0.3, 0.3)) * 360.0 / n;
        dest(lon, lat, az, uni(rmin, rmax), &r->lon[i], &r->lat[i]);
    }
}

static void make_disc(tshape *s, double lon, double lat, double rad)
{
    memset(s, 0, sizeof *s);
    s->disc = 1;
    s->clon = norm_lon(lon);
    s->clat = lat;
    s->rad = rad;
}

static void make_star(tshape *s, double lon, double lat, double size, int hole)
{
    memset(s, 0, sizeof *s);
    s->np = 1;
    s->p[0].nr = hole ? 2 : 1;
    int n = 8 + (int)uni(0, 10);
    star_ring(&s->p[0].r[0], n, lon, lat, 0.6 * size, size, urand() < 0.5);
    if (hole)
        star_ring(&s->p[0].r[1], 6 + (int)uni(0, 6), lon, lat, 0.15 * size, 0.35 * size,
                  urand() < 0.5);
}

/* A polygon from literal rings of (lon, lat) pairs. */
static void make_poly(tshape *s, int nr, const int *ns, const double *const *coords)
{
    memset(s, 0, sizeof *s);
    s->np = 1;
    s->p[0].nr = nr;
    for (int k = 0; k < nr; k++) {
        ring_init(&s->p[0].r[k], ns[k]);
        for (int i = 0; i < ns[k]; i++) {
            s->p[0].r[k].lon[i] = coords[k][2 * i];
            s->p[0].r[k].lat[i] = coords[k][2 * i + 1];
        }
    }
}

static void make_rect(tshape *s, double lon0, double lat0, double lon1, double lat1)
{
    double c[8] = {lon0, lat0, lon1, lat0, lon1, lat1, lon0, lat1};
    const double *cs[1] = {c};
    int n = 4;
    make_poly(s, 1, &n, cs);
}

/* ---- validation ---- */

static int try_geojson(const char *text, double radius, int flags, shape_error *err)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) {
        TL_FAIL_("bad test JSON %s: %s", text, je.text);
        return 99;
    }
    dc_shape *s = NULL;
    memset(err, 0, sizeof *err);
    int rc = shape_from_geojson(j, radius, flags, "geometry", &s, err);
    if (rc == 0) {
        if (!s || shape_check(s) != 0)
            TL_FAIL_("accepted shape fails shape_check: %s", text);
    } else if (s) {
        TL_FAIL_("error return left a shape behind");
    }
    shape_free(s);
    json_decref(j);
    return rc;
}

#define EXPECT_VALID(text, radius, flags)                                                      \
    do {                                                                                       \
        shape_error e_;                                                                        \
        int rc_ = try_geojson(text, radius, flags, &e_);                                       \
        if (rc_ != 0)                                                                          \
            TL_FAIL_("rejected valid geometry (%s: %s): %.200s", e_.field, e_.message, text);  \
    } while (0)

#define EXPECT_INVALID(text, radius, flags, field_)                                            \
    do {                                                                                       \
        shape_error e_;                                                                        \
        int rc_ = try_geojson(text, radius, flags, &e_);                                       \
        if (rc_ != -1)                                                                         \
            TL_FAIL_("accepted invalid geometry (rc %d): %.200s", rc_, text);                  \
        else if (strcmp(e_.field, field_) != 0)                                                \
            TL_FAIL_("error field \"%s\" (%s), expected \"%s\" for %.200s", e_.field,          \
                     e_.message, field_, text);                                                \
        else if (!e_.message[0])                                                               \
            TL_FAIL_("empty error message for %.200s", text);                                  \
    } while (0)

#define SQ "[[[10,10],[10.01,10],[10.01,10.01],[10,10.01],[10,10]]]"

TEST(valid_basics)
{
    EXPECT_VALID("{\"type\":\"Polygon\",\"coordinates\":" SQ "}", 0, 0);
    /* clockwise too */
    EXPECT_VALID("{\"type\":\"Polygon\",\"coordinates\":[[[10,10],[10,10.01],[10.01,10.01],"
                 "[10.01,10],[10,10]]]}",
                 0, 0);
    /* a triangle (4 positions) */
    EXPECT_VALID("{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[0.01,0],[0,0.01],[0,0]]]}", 0, 0);
    /* positions with altitude; repeated consecutive vertices */
    EXPECT_VALID("{\"type\":\"Polygon\",\"coordinates\":[[[10,10,5],[10.01,10,5],[10.01,10,5],"
                 "[10.01,10.01,0],[10,10.01],[10,10]]]}",
                 0, 0);
    /* extreme but legal coordinates */
    EXPECT_VALID("{\"type\":\"Point\",\"coordinates\":[180,90]}", 10, 0);
    EXPECT_VALID("{\"type\":\"Point\",\"coordinates\":[-180,-90]}", 10, 0);
    EXPECT_VALID("{\"type\":\"Point\",\"coordinates\":[37.5,36.4]}", 0, 0);
    EXPECT_VALID("{\"type\":\"Polygon\",\"coordinates\":[[[179.99,-0.01],[-179.99,-0.01],"
                 "[-179.99,0.01],[179.99,0.01],[179.99,-0.01]]]}",
                 0, 0);
    /* with 180 written as the antimeridian */
    EXPECT_VALID("{\"type\":\"Polygon\",\"coordinates\":[[[179.99,-0.01],[180,-0.01],"
                 "[180,0.01],[179.99,0.01],[179.99,-0.01]]]}",
                 0, 0);
    /* near (not around) the pole */
    EXPECT_VALID("{\"type\":\"Polygon\",\"coordinates\":[[[10,85],[30,85],[30,86],[10,86],"
                 "[10,85]]]}",
                 0, 0);
}

TEST(invalid_coordinates)
{
    EXPECT_INVALID("{\"type\":\"Point\",\"coordinates\":[180.0001,0]}", 1, 0,
                   "geometry.coordinates");
    EXPECT_INVALID("{\"type\":\"Point\",\"coordinates\":[-180.5,0]}", 1, 0,
                   "geometry.coordinates");
    EXPECT_INVALID("{\"type\":\"Point\",\"coordinates\":[0,90.0001]}", 1, 0,
                   "geometry.coordinates");
    EXPECT_INVALID("{\"type\":\"Point\",\"coordinates\":[0,-91]}", 1, 0, "geometry.coordinates");
    EXPECT_INVALID("{\"type\":\"Point\",\"coordinates\":[1e308,0]}", 1, 0, "geometry.coordinates");
    EXPECT_INVALID("{\"type\":\"Point\",\"coordinates\":[0]}", 1, 0, "geometry.coordinates");
    EXPECT_INVALID("{\"type\":\"Point\",\"coordinates\":[0,0,0,0]}", 1, 0, "geometry.coordinates");
    EXPECT_INVALID("{\"type\":\"Point\",\"coordinates\":[\"0\",0]}", 1, 0, "geometry.coordinates");
    EXPECT_INVALID("{\"type\":\"Point\",\"coordinates\":[null,0]}", 1, 0, "geometry.coordinates");
    EXPECT_INVALID("{\"type\":\"Point\",\"coordinates\":{}}", 1, 0, "geometry.coordinates");
    /* the offending vertex is named */
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":[[[10,10],[10.01,10],[10.01,95],"
                   "[10,10.01],[10,10]]]}",
                   0, 0, "geometry.coordinates[0][2]");
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":[[[10,10],[10.01,10],[10.01,10.01],"
                   "[true,10.01],[10,10]]]}",
                   0, 0, "geometry.coordinates[0][3]");
    /* Non-finite numbers cannot be written in JSON; the closest thing,
     * an overflowing literal, is refused by the parser itself. */
    json_error_t je;
    json_t *j = json_loads("{\"type\":\"Point\",\"coordinates\":[1e999,0]}", 0, &je);
    EXPECT(j == NULL);
    json_decref(j);
}

TEST(invalid_rings)
{
    /* not closed */
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":[[[10,10],[10.01,10],[10.01,10.01],"
                   "[10,10.01],[10,10.0001]]]}",
                   0, 0, "geometry.coordinates[0]");
    /* fewer than 4 positions */
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":[[[10,10],[10.01,10],[10,10]]]}", 0, 0,
                   "geometry.coordinates[0]");
    /* 4 positions but only 2 distinct vertices */
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":[[[10,10],[10.01,10],[10.01,10],"
                   "[10,10]]]}",
                   0, 0, "geometry.coordinates[0]");
    /* no rings, ring not an array */
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":[]}", 0, 0, "geometry.coordinates");
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":[5]}", 0, 0, "geometry.coordinates[0]");
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":5}", 0, 0, "geometry.coordinates");
    /* bow-tie */
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":[[[10,10],[10.01,10.01],[10.01,10],"
                   "[10,10.01],[10,10]]]}",
                   0, 0, "geometry.coordinates[0]");
    /* fold-back spike: out along an edge and straight back */
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":[[[10,10],[10.01,10],[10.02,10],"
                   "[10.015,10],[10.01,10.01],[10,10.01],[10,10]]]}",
                   0, 0, "geometry.coordinates[0]");
    /* spike from a vertex out and back to the same vertex */
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":[[[10,10],[10.01,10],[10.02,10.005],"
                   "[10.01,10],[10.01,10.01],[10,10.01],[10,10]]]}",
                   0, 0, "geometry.coordinates[0]");
    /* a ring touching itself at a vertex (figure eight) */
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":[[[10,10],[10.01,10],[10.005,10.005],"
                   "[10.01,10.01],[10,10.01],[10.005,10.005],[10,10]]]}",
                   0, 0, "geometry.coordinates[0]");
    /* a self-intersecting hole is named as the hole */
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":[[[10,10],[10.1,10],[10.1,10.1],"
                   "[10,10.1],[10,10]],[[10.02,10.02],[10.05,10.05],[10.05,10.02],[10.02,10.05],"
                   "[10.02,10.02]]]}",
                   0, 0, "geometry.coordinates[1]");
    /* a ring around the north pole, and one around the south pole */
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":[[[0,88],[90,88],[180,88],[-90,88],"
                   "[0,88]]]}",
                   0, 0, "geometry.coordinates[0]");
    EXPECT_INVALID("{\"type\":\"Polygon\",\"coordinates\":[[[0,-89],[-120,-89],[120,-89],"
                   "[0,-89]]]}",
                   0, 0, "geometry.coordinates[0]");
}

TEST(holes)
{
    const char *shell = "[[10,10],[10.1,10],[10.1,10.1],[10,10.1],[10,10]]";
    char buf[1024];
    /* inside: fine, either orientation */
    snprintf(buf, sizeof buf,
             "{\"type\":\"Polygon\",\"coordinates\":[%s,[[10.02,10.02],[10.05,10.02],"
             "[10.05,10.05],[10.02,10.05],[10.02,10.02]]]}",
             shell);
    EXPECT_VALID(buf, 0, 0);
    snprintf(buf, sizeof buf,
             "{\"type\":\"Polygon\",\"coordinates\":[%s,[[10.02,10.02],[10.02,10.05],"
             "[10.05,10.05],[10.05,10.02],[10.02,10.02]],[[10.06,10.06],[10.08,10.06],"
             "[10.08,10.08],[10.06,10.06]]]}",
             shell);
    EXPECT_VALID(buf, 0, 0);
    /* crossing the shell */
    snprintf(buf, sizeof buf,
             "{\"type\":\"Polygon\",\"coordinates\":[%s,[[10.05,10.05],[10.15,10.05],"
             "[10.15,10.08],[10.05,10.08],[10.05,10.05]]]}",
             shell);
    EXPECT_INVALID(buf, 0, 0, "geometry.coordinates[1]");
    /* outside the shell */
    snprintf(buf, sizeof buf,
             "{\"type\":\"Polygon\",\"coordinates\":[%s,[[10.2,10.2],[10.3,10.2],[10.3,10.3],"
             "[10.2,10.3],[10.2,10.2]]]}",
             shell);
    EXPECT_INVALID(buf, 0, 0, "geometry.coordinates[1]");
    /* enclosing the shell */
    snprintf(buf, sizeof buf,
             "{\"type\":\"Polygon\",\"coordinates\":[%s,[[9.9,9.9],[10.2,9.9],[10.2,10.2],"
             "[9.9,10.2],[9.9,9.9]]]}",
             shell);
    EXPECT_INVALID(buf, 0, 0, "geometry.coordinates[1]");
    /* nested holes: the second lies inside the first */
    snprintf(buf, sizeof buf,
             "{\"type\":\"Polygon\",\"coordinates\":[%s,[[10.02,10.02],[10.08,10.02],"
             "[10.08,10.08],[10.02,10.08],[10.02,10.02]],[[10.04,10.04],[10.06,10.04],"
             "[10.06,10.06],[10.04,10.06],[10.04,10.04]]]}",
             shell);
    EXPECT_INVALID(buf, 0, 0, "geometry.coordinates[2]");
    /* the same pair the other way round: the first lies inside the second */
    snprintf(buf, sizeof buf,
             "{\"type\":\"Polygon\",\"coordinates\":[%s,[[10.04,10.04],[10.06,10.04],"
             "[10.06,10.06],[10.04,10.06],[10.04,10.04]],[[10.02,10.02],[10.08,10.02],"
             "[10.08,10.08],[10.02,10.08],[10.02,10.02]]]}",
             shell);
    {
        shape_error e;
        int rc = try_geojson(buf, 0, 0, &e);
        EXPECT_EQ(rc, -1);
        EXPECT(strncmp(e.field, "geometry.coordinates[", 21) == 0);
    }
    /* two holes crossing each other */
    snprintf(buf, sizeof buf,
             "{\"type\":\"Polygon\",\"coordinates\":[%s,[[10.02,10.02],[10.05,10.02],"
             "[10.05,10.05],[10.02,10.05],[10.02,10.02]],[[10.04,10.04],[10.07,10.04],"
             "[10.07,10.07],[10.04,10.07],[10.04,10.04]]]}",
             shell);
    EXPECT_INVALID(buf, 0, 0, "geometry.coordinates[2]");
}

static char *circle_ring_json(int nvert, double lon, double lat, double r)
{
    size_t cap = (size_t)(nvert + 1) * 48 + 128, len = 0;
    char *s = malloc(cap);
    len += snprintf(s + len, cap - len, "{\"type\":\"Polygon\",\"coordinates\":[[");
    double flon = 0, flat = 0;
    for (int i = 0; i <= nvert; i++) {
        double olon, olat;
        if (i < nvert)
            dest(lon, lat, i * 360.0 / nvert, r, &olon, &olat);
        else
            olon = flon, olat = flat;
        if (i == 0)
            flon = olon, flat = olat;
        len += snprintf(s + len, cap - len, "%s[%.12f,%.12f]", i ? "," : "", olon, olat);
    }
    snprintf(s + len, cap - len, "]]}");
    return s;
}

/* A 550 m square at the equator with `nslot` slots cut down from its top,
 * 445 m deep; slot k is width[k] metres wide. The slot sides are meridians
 * (geodesics) exactly width[k] apart. */
static char *comb_json(int nslot, const double *width)
{
    size_t cap = 64 + (size_t)nslot * 4 * 64 + 256, n = 0;
    char *t = malloc(cap);
    const double L = 0.005, top = 0.005, bottom = 0.001, m_per_deg = 111319.49;
    n += snprintf(t + n, cap - n, "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[%.10f,0],[%.10f,%.10f]",
                  L, L, top);
    for (int k = nslot - 1; k >= 0; k--) {
        double x = (k + 1) * L / (nslot + 1), h = width[k] / m_per_deg / 2;
        n += snprintf(t + n, cap - n, ",[%.12f,%.10f],[%.12f,%.10f],[%.12f,%.10f],[%.12f,%.10f]",
                      x + h, top, x + h, bottom, x - h, bottom, x - h, top);
    }
    snprintf(t + n, cap - n, ",[0,%.10f],[0,0]]]}", top);
    return t;
}

TEST(validation_tangent_plane)
{
    /* Small polygons are validated in their tangent plane, where edges
     * within their sag (here ~4 mm) are decided exactly: a 5 mm slot is
     * valid, a 0.5 mm one touches itself (1 mm rule), as in the gnomonic
     * plane. */
    double w[48];
    char *t;
    w[0] = 0.005;
    t = comb_json(1, w);
    EXPECT_VALID(t, 0, 0);
    free(t);
    w[0] = 0.0005;
    t = comb_json(1, w);
    EXPECT_INVALID(t, 0, 0, "geometry.coordinates[0]");
    free(t);
    /* 40 close pairs: past the exact budget the polygon is validated in
     * the gnomonic plane instead, with the same answers. */
    for (int k = 0; k < 40; k++)
        w[k] = 0.005;
    t = comb_json(40, w);
    EXPECT_VALID(t, 0, 0);
    free(t);
    w[39] = 0.0005;
    t = comb_json(40, w);
    EXPECT_INVALID(t, 0, 0, "geometry.coordinates[0]");
    free(t);
    w[39] = 0.005;
    w[0] = 0.0005;
    t = comb_json(40, w);
    EXPECT_INVALID(t, 0, 0, "geometry.coordinates[0]");
    free(t);
}

TEST(vertex_limit)
{
    /* 10,000 vertices (10,001 positions with the closing one) pass;
     * 10,001 vertices fail. */
    char *ok = circle_ring_json(10000, 37.5, 36.4, 50000);
    char *bad = circle_ring_json(10001, 37.5, 36.4, 50000);
    EXPECT_VALID(ok, 0, 0);
    EXPECT_INVALID(bad, 0, 0, "geometry.coordinates[0]");
    free(ok);
    free(bad);
}

TEST(types_and_flags)
{
    EXPECT_INVALID("{\"type\":\"LineString\",\"coordinates\":[[0,0],[1,1]]}", 0, 0,
                   "geometry.type");
    EXPECT_INVALID("{\"type\":\"MultiPoint\",\"coordinates\":[[0,0]]}", 0, SHAPE_ALLOW_MULTI,
                   "geometry.type");
    EXPECT_INVALID("{\"type\":\"GeometryCollection\",\"geometries\":[],\"coordinates\":[]}", 0,
                   SHAPE_ALLOW_MULTI, "geometry.type");
    EXPECT_INVALID("{\"type\":\"polygon\",\"coordinates\":" SQ "}", 0, 0, "geometry.type");
    EXPECT_INVALID("{\"type\":5,\"coordinates\":" SQ "}", 0, 0, "geometry.type");
    EXPECT_INVALID("{\"coordinates\":" SQ "}", 0, 0, "geometry.type");
    EXPECT_INVALID("{\"type\":\"Polygon\"}", 0, 0, "geometry.coordinates");
    EXPECT_INVALID("[1,2]", 0, 0, "geometry");
    /* Point: radius_m >= 0; > 0 when the flag asks for it */
    EXPECT_VALID("{\"type\":\"Point\",\"coordinates\":[1,2]}", 0, 0);
    EXPECT_INVALID("{\"type\":\"Point\",\"coordinates\":[1,2]}", 0, SHAPE_POINT_NEEDS_RADIUS,
                   "radius_m");
    EXPECT_VALID("{\"type\":\"Point\",\"coordinates\":[1,2]}", 0.5, SHAPE_POINT_NEEDS_RADIUS);
    EXPECT_INVALID("{\"type\":\"Point\",\"coordinates\":[1,2]}", -1, 0, "radius_m");
    EXPECT_INVALID("{\"type\":\"Point\",\"coordinates\":[1,2]}", NAN, 0, "radius_m");
    EXPECT_INVALID("{\"type\":\"Point\",\"coordinates\":[1,2]}", INFINITY, 0, "radius_m");
    /* MultiPolygon only with SHAPE_ALLOW_MULTI */
    const char *mp = "{\"type\":\"MultiPolygon\",\"coordinates\":[" SQ
                     ",[[[11,11],[11.01,11],[11.01,11.01],[11,11]]]]}";
    EXPECT_INVALID(mp, 0, 0, "geometry.type");
    EXPECT_INVALID(mp, 0, SHAPE_POINT_NEEDS_RADIUS, "geometry.type");
    EXPECT_VALID(mp, 0, SHAPE_ALLOW_MULTI);
    /* overlapping parts are allowed */
    EXPECT_VALID("{\"type\":\"MultiPolygon\",\"coordinates\":[" SQ
                 ",[[[10.005,10.005],[10.02,10.005],[10.02,10.02],[10.005,10.005]]]]}",
                 0, SHAPE_ALLOW_MULTI);
    /* errors inside a MultiPolygon name the part */
    EXPECT_INVALID("{\"type\":\"MultiPolygon\",\"coordinates\":[" SQ
                   ",[[[11,11],[11.01,11.01],[11.01,11],[11,11.01],[11,11]]]]}",
                   0, SHAPE_ALLOW_MULTI, "geometry.coordinates[1][0]");
    EXPECT_INVALID("{\"type\":\"MultiPolygon\",\"coordinates\":[" SQ
                   ",[[[11,11],[11.01,11],[11.01,91],[11,11]]]]}",
                   0, SHAPE_ALLOW_MULTI, "geometry.coordinates[1][0][2]");
    EXPECT_INVALID("{\"type\":\"MultiPolygon\",\"coordinates\":[]}", 0, SHAPE_ALLOW_MULTI,
                   "geometry.coordinates");
    /* a custom prefix is used in paths */
    {
        json_t *j = json_loads("{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,1],[1,0],"
                               "[0,1],[0,0]]]}",
                               0, NULL);
        dc_shape *s = NULL;
        shape_error e;
        EXPECT_EQ(shape_from_geojson(j, 0, 0, "volumes[3].geometry", &s, &e), -1);
        EXPECT_STREQ(e.field, "volumes[3].geometry.coordinates[0]");
        EXPECT(s == NULL);
        json_decref(j);
    }
}

TEST(orientation_independent)
{
    for (int i = 0; i < 20; i++) {
        tshape a, b;
        make_star(&a, uni(-10, 10), uni(-50, 50), uni(100, 5000), i % 2);
        make_disc(&b, a.p[0].r[0].lon[0], a.p[0].r[0].lat[0], 1);
        dest(b.clon, b.clat, uni(0, 360), uni(0, 3000), &b.clon, &b.clat);
        dc_shape *s1 = prepare(&a, 0), *s2 = prepare(&a, 1), *d = prepare(&b, 0);
        if (s1 && s2 && d)
            EXPECT_NEAR(shape_separation(s1, d, 1e9), shape_separation(s2, d, 1e9), 1e-6);
        shape_free(s1);
        shape_free(s2);
        shape_free(d);
        tshape_free(&a);
    }
}

/* ---- separations ---- */

static int sep_cases, sep_fail;
static double sep_worst;

static void check_sep(const tshape *a, const tshape *b, const char *what)
{
    dc_shape *sa = prepare(a, 0), *sb = prepare(b, 0);
    if (!sa || !sb) {
        shape_free(sa);
        shape_free(sb);
        return;
    }
    double want = ref_sep(a, b);
    double got = shape_separation(sa, sb, 1e9), got2 = shape_separation(sb, sa, 1e9);
    double tol = 1e-3 + 1e-6 * want;
    sep_cases++;
    double err = fmax(fabs(got - want), fabs(got2 - want));
    if (err / tol > sep_worst)
        sep_worst = err / tol;
    if (!(err <= tol)) {
        json_t *xa = tshape_json(a, 0), *xb = tshape_json(b, 0);
        char *ja = json_dumps(xa, JSON_COMPACT | JSON_REAL_PRECISION(12));
        char *jb = json_dumps(xb, JSON_COMPACT | JSON_REAL_PRECISION(12));
        json_decref(xa);
        json_decref(xb);
        if (sep_fail++ < 10)
            TL_FAIL_("%s: separation %.6f / %.6f, reference %.6f (tol %.3g)\n  a = %s r=%g\n"
                     "  b = %s r=%g",
                     what, got, got2, want, tol, ja, a->rad, jb, b->rad);
        free(ja);
        free(jb);
    }
    /* never more than any actual pair of boundary points */
    double up = dense_upper(a, b, 6);
    if (!(got <= up + tol))
        TL_FAIL_("%s: separation %.6f exceeds a sampled boundary distance %.6f", what, got, up);
    /* cutoff semantics: exact up to the cutoff, above it otherwise */
    if (want > 1) {
        double c = want * 0.5;
        double g = shape_separation(sa, sb, c);
        if (!(g > c))
            TL_FAIL_("%s: with cutoff %.3f got %.6f (true %.6f)", what, c, g, want);
        g = shape_separation(sa, sb, want + 1);
        if (!(fabs(g - want) <= tol))
            TL_FAIL_("%s: with cutoff %.3f got %.6f (true %.6f)", what, want + 1, g, want);
    }
    shape_free(sa);
    shape_free(sb);
}

TEST(sep_designed)
{
    tshape a, b, c;
    /* disc - disc */
    make_disc(&a, 37.5, 36.4, 200);
    make_disc(&b, 37.5, 36.4, 300);
    dest(37.5, 36.4, 45, 1000, &b.clon, &b.clat);
    check_sep(&a, &b, "disc-disc apart");
    {
        dc_shape *x = prepare(&a, 0), *y = prepare(&b, 0);
        EXPECT_NEAR(shape_separation(x, y, 1e9), 500, 1e-6);
        shape_free(x);
        shape_free(y);
    }
    dest(37.5, 36.4, 45, 400, &b.clon, &b.clat);
    check_sep(&a, &b, "disc-disc overlapping");
    /* disc - polygon: inside, outside, straddling */
    make_rect(&c, 37.49, 36.36, 37.51, 36.38);
    make_disc(&a, 37.5, 36.37, 10);
    check_sep(&a, &c, "disc inside polygon");
    make_disc(&a, 37.5, 36.37, 5000);
    check_sep(&a, &c, "polygon inside disc");
    make_disc(&a, 37.5, 36.39, 100);
    check_sep(&a, &c, "disc north of polygon");
    make_disc(&a, 37.52, 36.35, 0);
    check_sep(&a, &c, "point off a corner");
    make_disc(&a, 37.5, 36.3805, 100);
    check_sep(&a, &c, "disc straddling an edge");
    tshape_free(&c);
    /* polygon - polygon: a plus sign, edges crossing, no vertex inside */
    make_rect(&a, 37.40, 36.395, 37.60, 36.405);
    make_rect(&b, 37.495, 36.30, 37.505, 36.50);
    check_sep(&a, &b, "crossing rectangles");
    {
        dc_shape *x = prepare(&a, 0), *y = prepare(&b, 0);
        EXPECT_EQ(shape_separation(x, y, 1e9), 0);
        shape_free(x);
        shape_free(y);
    }
    tshape_free(&a);
    tshape_free(&b);
    /* contained */
    make_rect(&a, 37.45, 36.35, 37.55, 36.45);
    make_rect(&b, 37.49, 36.39, 37.51, 36.41);
    check_sep(&a, &b, "contained");
    tshape_free(&b);
    /* disjoint */
    make_rect(&b, 37.56, 36.46, 37.60, 36.50);
    check_sep(&a, &b, "disjoint");
    tshape_free(&b);
    make_rect(&b, 37.55001, 36.40, 37.56, 36.41);
    check_sep(&a, &b, "nearly touching");
    tshape_free(&b);
    /* sharing an edge exactly */
    make_rect(&b, 37.55, 36.40, 37.56, 36.41);
    check_sep(&a, &b, "sharing an edge");
    tshape_free(&b);
    tshape_free(&a);
    /* inside a hole */
    {
        double sh[] = {37.40, 36.30, 37.60, 36.30, 37.60, 36.50, 37.40, 36.50};
        double ho[] = {37.45, 36.35, 37.55, 36.35, 37.55, 36.45, 37.45, 36.45};
        const double *cs[2] = {sh, ho};
        int ns[2] = {4, 4};
        make_poly(&a, 2, ns, cs);
        make_rect(&b, 37.49, 36.39, 37.51, 36.41);
        check_sep(&a, &b, "polygon inside a hole");
        {
            dc_shape *x = prepare(&a, 0), *y = prepare(&b, 0);
            double d = shape_separation(x, y, 1e9);
            EXPECT(d > 3000);
            geo_pt p = geo_pt_make(37.5, 36.4);
            EXPECT(!shape_contains_point(x, &p));
            p = geo_pt_make(37.42, 36.4);
            EXPECT(shape_contains_point(x, &p));
            shape_free(x);
            shape_free(y);
        }
        make_disc(&c, 37.5, 36.4, 100);
        check_sep(&a, &c, "disc inside a hole");
        make_disc(&c, 37.5, 36.4, 6000);
        check_sep(&a, &c, "disc filling a hole");
        tshape_free(&b);
        /* a polygon covering the hole and part of the ring */
        make_rect(&b, 37.44, 36.34, 37.56, 36.46);
        check_sep(&a, &b, "polygon over a hole");
        tshape_free(&b);
        tshape_free(&a);
    }
}

TEST(sep_antimeridian_and_poles)
{
    tshape a, b, c;
    /* the edge 179.99 -> -179.99 is short: this square is about 2.2 km */
    make_rect(&a, 179.99, -0.01, -179.99, 0.01);
    make_disc(&c, 180, 0, 0);
    check_sep(&a, &c, "antimeridian square, point at 180");
    {
        dc_shape *x = prepare(&a, 0);
        EXPECT(x && shape_vertex_count(x) == 4);
        geo_pt p = geo_pt_make(180, 0);
        EXPECT(x && shape_contains_point(x, &p));
        p = geo_pt_make(0, 0);
        EXPECT(x && !shape_contains_point(x, &p));
        shape_free(x);
    }
    make_disc(&c, 0, 0, 1000);
    check_sep(&a, &c, "antimeridian square, far disc");
    make_disc(&c, -179.97, 0, 100);
    check_sep(&a, &c, "antimeridian square, disc east");
    make_rect(&b, 179.95, -0.005, 179.985, 0.005);
    check_sep(&a, &b, "antimeridian square, polygon west");
    tshape_free(&b);
    make_rect(&b, 179.995, -0.005, -179.995, 0.005);
    check_sep(&a, &b, "antimeridian square, polygon inside");
    tshape_free(&b);
    tshape_free(&a);
    /* polar: 80 to 89 degrees north, wide longitude spans */
    make_rect(&a, -30, 84, 30, 86);
    make_disc(&c, 0, 89, 500);
    check_sep(&a, &c, "polar rectangle, disc near the pole");
    make_disc(&c, 0, 85, 500);
    check_sep(&a, &c, "polar rectangle, disc inside");
    make_rect(&b, 150, 86, 170, 87);
    check_sep(&a, &b, "polar rectangles across the pole");
    tshape_free(&b);
    tshape_free(&a);
    make_rect(&a, 100, -80, 140, -78);
    make_rect(&b, 120, -81, 125, -77);
    check_sep(&a, &b, "south polar crossing");
    tshape_free(&b);
    tshape_free(&a);
}

static void random_pairs(const char *what, double lon, double lat, int n)
{
    for (int i = 0; i < n; i++) {
        double size = pow(10, uni(1.5, 4.7)); /* 30 m to 50 km */
        tshape a, b;
        make_star(&a, lon, lat, size, urand() < 0.4);
        double blon, blat;
        dest(lon, lat, uni(0, 360), uni(0, 3) * size, &blon, &blat);
        double bsize = size * pow(10, uni(-1.5, 0.5));
        if (urand() < 0.35)
            make_disc(&b, blon, blat, urand() < 0.2 ? 0 : bsize * uni(0.1, 1));
        else
            make_star(&b, blon, blat, bsize, urand() < 0.3);
        check_sep(&a, &b, what);
        tshape_free(&a);
        tshape_free(&b);
    }
}

TEST(sep_random)
{
    sep_cases = sep_fail = 0;
    sep_worst = 0;
    random_pairs("random mid-latitude", 37.5, 36.4, 30);
    random_pairs("random antimeridian", 180, -16.5, 30);
    random_pairs("random north polar", 45, 82, 30);
    random_pairs("random south polar", -120, -79, 20);
    random_pairs("random equator", 0, 0, 30);
    printf("     separations: %d cases, worst error %.3g of tolerance\n", sep_cases, sep_worst);
    EXPECT_EQ(sep_fail, 0);
}

/* ---- the polygon fast path against the exact path ----
 *
 * shape_separation runs polygon pairs in a tangent plane between them with
 * proven bounds, falling back to the exact path on near contacts, long
 * edges and far shapes; shape_separation_exact never takes a fast path.
 * Both must agree to 1 mm (+1 ppm) on every pair, with the cutoff
 * semantics intact, and the small pairs also agree with the reference. */

static int fx_cases, fx_fail, fx_ref;
static double fx_worst;

static void fx_check(const tshape *a, const tshape *b, const char *what, int with_ref)
{
    dc_shape *sa = prepare(a, 0), *sb = prepare(b, 0);
    if (!sa || !sb) {
        shape_free(sa);
        shape_free(sb);
        return;
    }
    double want = shape_separation_exact(sa, sb, 1e9);
    double got = shape_separation(sa, sb, 1e9), got2 = shape_separation(sb, sa, 1e9);
    double tol = 1e-3 + 1e-6 * want;
    double err = fmax(fabs(got - want), fabs(got2 - want));
    if (with_ref) {
        double ref = ref_sep(a, b);
        err = fmax(err, fabs(got - ref));
        fx_ref++;
    }
    fx_cases++;
    if (err / tol > fx_worst)
        fx_worst = err / tol;
    int bad = !(err <= tol);
    /* cutoff semantics: exact at or under the cutoff, above it otherwise */
    double cuts[5] = {want * 0.5, want - 3 * tol, want + 3 * tol, want + 1, 0.05};
    for (int k = 0; k < 5 && !bad; k++) {
        double c = cuts[k];
        if (c < 0)
            continue;
        double g = shape_separation(sa, sb, c), g2 = shape_separation(sb, sa, c);
        if (want > c + tol && !(g > c && g2 > c))
            bad = 1;
        if (want <= c - tol && !(fabs(g - want) <= tol && fabs(g2 - want) <= tol))
            bad = 1;
    }
    if (bad && fx_fail++ < 10) {
        json_t *xa = tshape_json(a, 0), *xb = tshape_json(b, 0);
        char *ja = json_dumps(xa, JSON_COMPACT | JSON_REAL_PRECISION(12));
        char *jb = json_dumps(xb, JSON_COMPACT | JSON_REAL_PRECISION(12));
        TL_FAIL_("%s: fast %.6f / %.6f, exact %.6f (tol %.3g), or a cutoff answer wrong\n"
                 "  a = %.2000s\n  b = %.2000s",
                 what, got, got2, want, tol, ja, jb);
        free(ja);
        free(jb);
        json_decref(xa);
        json_decref(xb);
    }
    shape_free(sa);
    shape_free(sb);
}

/* A star of n vertices (optionally with a hole) around (lon, lat). */
static void make_star_n(tshape *s, double lon, double lat, double size, int n, int hole)
{
    memset(s, 0, sizeof *s);
    s->np = 1;
    s->p[0].nr = hole ? 2 : 1;
    star_ring(&s->p[0].r[0], n, lon, lat, 0.6 * size, size, urand() < 0.5);
    if (hole)
        star_ring(&s->p[0].r[1], 6 + (int)uni(0, 6), lon, lat, 0.15 * size, 0.35 * size,
                  urand() < 0.5);
}

/* Moves every vertex of s as its centre moves from (lon0, lat0) along
 * azimuth azi by dist (same azimuth and distance from the new centre). */
static void move_shape(tshape *s, double lon0, double lat0, double azi, double dist,
                       double *lon1, double *lat1)
{
    dest(lon0, lat0, azi, dist, lon1, lat1);
    for (int k = 0; k < s->p[0].nr; k++) {
        tring *r = &s->p[0].r[k];
        for (int i = 0; i < r->n; i++) {
            double z, d = inv(lat0, lon0, r->lat[i], r->lon[i], &z);
            dest(*lon1, *lat1, z, d, &r->lon[i], &r->lat[i]);
        }
    }
}

/* Slides b (centred at *lon, *lat) toward or away from a's centre until the
 * exact separation is about `gap`. */
static void slide_to_gap(const tshape *a, double alon, double alat, tshape *b, double *lon,
                         double *lat, double gap)
{
    for (int it = 0; it < 6; it++) {
        dc_shape *sa = prepare(a, 0), *sb = prepare(b, 0);
        double s = sa && sb ? shape_separation_exact(sa, sb, 1e9) : 0;
        shape_free(sa);
        shape_free(sb);
        if (s <= 0 || fabs(s - gap) < 0.2 * gap)
            return;
        double z;
        inv(alat, alon, *lat, *lon, &z);
        /* moving along the line of centres changes the gap by about the move */
        move_shape(b, *lon, *lat, z + 180, s - gap, lon, lat);
    }
}

static void fx_family(const char *what, double lon, double lat, int n, int na, int nb,
                      double smin, double smax)
{
    char label[96];
    for (int i = 0; i < n; i++) {
        tshape a, b;
        double sa = uni(smin, smax), sb = uni(smin, smax);
        int kind = i % 6; /* disjoint, near, overlap, contained, in hole, far */
        double alon = norm_lon(lon + uni(-0.05, 0.05)), alat = lat + uni(-0.02, 0.02);
        make_star_n(&a, alon, alat, sa, na, kind == 4 || (kind == 0 && i % 4 == 0));
        double blon, blat, azi = uni(0, 360);
        int ref = na <= 24 && nb <= 24;
        if (kind == 3 || kind == 4) {
            /* b inside a (kind 3) or inside a's hole (kind 4): a small star
             * near a's centre */
            double bs = kind == 3 ? uni(0.05, 0.4) * sa : uni(0.02, 0.1) * sa;
            dest(alon, alat, azi, kind == 3 ? uni(0, 0.15) * sa : 0.01 * sa, &blon, &blat);
            make_star_n(&b, blon, blat, bs, nb, 0);
        } else {
            double d = kind == 2   ? uni(0.2, 1.2) * (sa + sb) / 2
                       : kind == 5 ? uni(3, 6) * (sa + sb)
                                   : uni(1.2, 3) * (sa + sb);
            dest(alon, alat, azi, d, &blon, &blat);
            make_star_n(&b, blon, blat, sb, nb, i % 5 == 1);
            if (kind == 1)
                slide_to_gap(&a, alon, alat, &b, &blon, &blat, pow(10, uni(-2.5, 1)));
        }
        snprintf(label, sizeof label, "%s #%d (kind %d)", what, i, kind);
        fx_check(&a, &b, label, ref);
        tshape_free(&a);
        tshape_free(&b);
    }
}

TEST(sep_fast_vs_exact)
{
    fx_cases = fx_fail = fx_ref = 0;
    fx_worst = 0;
    /* the submit benchmark's shapes: 100-vertex operations against smaller
     * polygons, 200-1,500 m */
    fx_family("bench-like", 37.5, 36.0, 60, 100, 24, 200, 1500);
    fx_family("bench-like, both 100", 37.5, 36.0, 24, 100, 100, 200, 1500);
    /* small ones, also against the brute-force reference */
    fx_family("small", 20, 45, 36, 12, 10, 30, 400);
    fx_family("antimeridian", 180, -16.5, 36, 40, 12, 100, 2000);
    fx_family("north >= 78", 45, 84, 36, 40, 12, 100, 2000);
    fx_family("south >= 78", -120, -80, 24, 12, 12, 100, 2000);
    fx_family("near the pole", 10, 89.3, 18, 40, 12, 100, 2000);
    fx_family("equator", 0, 0, 24, 64, 12, 100, 2000);
    /* edges of 2-10 km (sags of centimetres to metres): the plane gives
     * way to the exact path near contacts */
    fx_family("medium edges", 37.5, 36.0, 24, 16, 8, 2000, 8000);
    /* edges of tens of km: beyond the fast path's limits altogether */
    fx_family("long edges", 37.5, 36.0, 18, 6, 5, 20000, 60000);
    printf("     fast vs exact: %d pairs (%d also against the reference), worst error %.3g of "
           "tolerance\n",
           fx_cases, fx_ref, fx_worst);
    EXPECT_EQ(fx_fail, 0);
}

TEST(contains_point)
{
    for (int i = 0; i < 30; i++) {
        tshape a;
        double lon = uni(-180, 180), lat = uni(-80, 80);
        make_star(&a, lon, lat, pow(10, uni(2, 5)), i % 2);
        dc_shape *s = prepare(&a, 0);
        for (int k = 0; s && k < 20; k++) {
            double plon, plat;
            dest(lon, lat, uni(0, 360), uni(0, 1.1) * pow(10, 5), &plon, &plat);
            double bd = ref_point_boundary(&a, plon, plat);
            if (bd < 0.01)
                continue; /* too close to call */
            geo_pt p = geo_pt_make(plon, plat);
            EXPECT_EQ(shape_contains_point(s, &p), ref_in_shape(&a, plon, plat));
        }
        shape_free(s);
        tshape_free(&a);
    }
}

/* Large polygons (long edges, where the gnomonic plane bends the most) and
 * points a few centimetres to a hundred metres from an edge, either side. */
TEST(near_edges_large)
{
    int n = 0, bad = 0;
    for (int i = 0; i < 12; i++) {
        tshape a;
        double lon = uni(-180, 180), lat = i % 3 == 0 ? uni(78, 84) : uni(-70, 70);
        make_star(&a, lon, lat, uni(2e5, 9e5), 0);
        dc_shape *s = prepare(&a, 0);
        const tring *r = &a.p[0].r[0];
        for (int k = 0; s && k < 16; k++) {
            int e = (int)uni(0, r->n), f = (e + 1) % r->n;
            double len, azi, flat, flon, fazi;
            geod_inverse(&G, r->lat[e], r->lon[e], r->lat[f], r->lon[f], &len, &azi, 0);
            struct geod_geodesicline l;
            geod_inverseline(&l, &G, r->lat[e], r->lon[e], r->lat[f], r->lon[f],
                             GEOD_ALL);
            geod_position(&l, uni(0.05, 0.95) * len, &flat, &flon, &fazi);
            double off = pow(10, uni(-1.5, 2)), plat, plon;
            geod_direct(&G, flat, flon, fazi + (k % 2 ? 90 : -90), off, &plat, &plon, 0);
            int in = ref_in_shape(&a, plon, plat);
            double want = in ? 0 : ref_point_boundary(&a, plon, plat);
            geo_pt p = geo_pt_make(norm_lon(plon), plat);
            dc_shape *d = shape_disc(p.lon, p.lat, 0);
            double got = shape_separation(d, s, 1e9);
            n++;
            if (shape_contains_point(s, &p) != in || fabs(got - want) > 1e-3 + 1e-6 * want) {
                if (bad++ < 10)
                    TL_FAIL_("point %.3f m off edge %d of a %.0f km polygon: contains %d "
                             "(reference %d), separation %.6f (reference %.6f)",
                             off, e, len / 1e3, shape_contains_point(s, &p), in, got, want);
            }
            shape_free(d);
        }
        shape_free(s);
        tshape_free(&a);
    }
    printf("     near-edge points: %d\n", n);
}

/* ---- witnesses: shape_separation_disc_w must equal shape_separation_disc
 * bit for bit up to the cutoff, and be beyond the cutoff exactly when it
 * is (shape.h: beyond it, any value greater than cutoff), whatever the
 * walk: nearest edge changing, crossing the boundary (shell and hole),
 * hugging a vertex, jumps of kilometres, large discs, cutoffs just above
 * the answer. Counts how often the shortcut was taken, within and beyond
 * the cutoff, so that a test that never exercises it fails too. ---- */
static int wit_steps, wit_short, wit_beyond, wit_bad;

static void wit_step(const dc_shape *s, shape_witness *w, double lon, double lat, double r,
                     double cutoff, const char *what)
{
    geo_pt p = geo_pt_make(norm_lon(lon), lat);
    shape_witness before = *w;
    double want = shape_separation_disc(&p, r, s, cutoff);
    double got = shape_separation_disc_w(&p, r, s, cutoff, w);
    wit_steps++;
    /* unchanged, yet from another point: the window answered */
    if (before.state && memcmp(&before, w, sizeof before) == 0 &&
        (before.ref[0] != p.x || before.ref[1] != p.y || before.ref[2] != p.z) && want < cutoff)
        wit_short++;
    /* unchanged, from another point, beyond the cutoff, and the polygon's
     * own distance rather than a ball's bound: the window answered that it
     * is out of reach */
    if (before.state && memcmp(&before, w, sizeof before) == 0 &&
        (before.ref[0] != p.x || before.ref[1] != p.y || before.ref[2] != p.z) && want > cutoff &&
        got == shape_separation_disc(&p, r, s, INFINITY))
        wit_beyond++;
    int same = want <= cutoff ? memcmp(&want, &got, sizeof want) == 0 : got > cutoff;
    if (!same || shape_witness_check(s, w) != 0) {
        if (wit_bad++ < 10)
            TL_FAIL_("%s: at %.9f %.9f r %.3f cutoff %.3f: with witness %.17g, without %.17g, "
                     "check %d",
                     what, p.lon, p.lat, r, cutoff, got, want, shape_witness_check(s, w));
    }
}

static void wit_walks(const char *what, double lon, double lat, double size, int n, int hole)
{
    tshape a;
    make_star_n(&a, lon, lat, size, n, hole);
    dc_shape *s = prepare(&a, 0);
    if (!s) {
        tshape_free(&a);
        return;
    }
    const tring *rg = &a.p[0].r[urand() < 0.7 || !hole ? 0 : 1];
    for (int walk = 0; walk < 12; walk++) {
        shape_witness w;
        memset(&w, 0, sizeof w);
        double r = walk % 4 == 0   ? 0
                   : walk % 4 == 1 ? uni(5, 50)
                   : walk % 4 == 2 ? uni(0, 3000)
                                   : 0.5;
        double T = uni(0, 2 * size);
        double plon, plat;
        int mode = walk % 3, v = (int)uni(0, rg->n);
        if (mode == 0) /* anywhere near */
            dest(lon, lat, uni(0, 360), uni(0, 1.6) * size, &plon, &plat);
        else /* at a vertex */
            plon = rg->lon[v], plat = rg->lat[v];
        for (int k = 0; k < 150; k++) {
            double cutoff = k % 5 == 4 ? 1e9 : T + 0.05;
            wit_step(s, &w, plon, plat, r, cutoff, what);
            double step, azi = uni(0, 360);
            double u = urand();
            if (mode == 2) /* across the edge from vertex v, back and forth */
                step = u < 0.5 ? uni(0, 0.01) : uni(0, 30);
            else
                step = u < 0.1    ? uni(0, 0.01)
                       : u < 0.8  ? uni(5, 40)
                       : u < 0.95 ? uni(40, 400)
                                  : uni(400, 3 * size);
            if (mode != 0 && urand() < 0.3) { /* back towards the vertex */
                double d = inv(plat, plon, rg->lat[v], rg->lon[v], &azi);
                step = fmin(step, d * uni(0.5, 1.2));
            }
            dest(plon, plat, azi, step, &plon, &plat);
        }
    }
    shape_free(s);
    tshape_free(&a);
}

TEST(witness_walks)
{
    wit_steps = wit_short = wit_beyond = wit_bad = 0;
    for (int i = 0; i < 6; i++) {
        /* the ingest benchmark's volumes */
        wit_walks("bench-like", uni(35, 40), uni(34, 38), uni(200, 1500), 8 + (int)uni(0, 57),
                  i % 2);
        wit_walks("small, few vertices", uni(-180, 180), uni(-70, 70), uni(30, 300), 3 + i, 0);
        wit_walks("near the pole", uni(-180, 180), 89.98, uni(200, 1500), 8 + (int)uni(0, 57),
                  i % 2);
        wit_walks("antimeridian", 180, uni(-60, 60), uni(200, 1500), 8 + (int)uni(0, 57), 1);
        wit_walks("equator", uni(-1, 1), 0, uni(200, 1500), 16, 0);
        wit_walks("large", uni(-180, 180), uni(-60, 60), uni(5e3, 5e4), 8 + (int)uni(0, 57), i % 2);
    }
    printf("     witness walks: %d steps, %d answered from the window, %d of them beyond the cutoff\n",
           wit_steps, wit_short + wit_beyond, wit_beyond);
    EXPECT_EQ(wit_bad, 0);
    EXPECT(wit_short > wit_steps / 4);
    EXPECT(wit_beyond > wit_steps / 100);
}

/* A witness is about the shape it was filled with: handed another shape
 * (which the engine never does), it must not be used, and the answer must
 * be that shape's own. */
TEST(witness_of_another_shape)
{
    tshape a, b;
    make_star_n(&a, 37.0, 36.0, 800, 24, 0);
    make_star_n(&b, 37.0, 36.0, 400, 12, 0); /* same centre, half the size */
    dc_shape *sa = prepare(&a, 0), *sb = prepare(&b, 0);
    ASSERT(sa && sb);
    shape_witness w;
    memset(&w, 0, sizeof w);
    geo_pt p = geo_pt_make(37.0 + 1500 / 89000.0, 36.0);
    double da = shape_separation_disc_w(&p, 0, sa, 1e9, &w);
    EXPECT(w.state != 0 && w.shape == sa);
    EXPECT_EQ(shape_witness_check(sb, &w), -1);
    double want = shape_separation_disc(&p, 0, sb, 1e9);
    double got = shape_separation_disc_w(&p, 0, sb, 1e9, &w);
    EXPECT(memcmp(&want, &got, sizeof want) == 0);
    EXPECT(want > da + 100); /* the other shape really is farther */
    EXPECT(w.shape == sb && shape_witness_check(sb, &w) == 0);
    shape_free(sa);
    shape_free(sb);
    tshape_free(&a);
    tshape_free(&b);
}

int main(void)
{
    geod_init(&G, 6378137.0, 1 / 298.257223563);
    const char *env = getenv("DC_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : 20170209ULL;
    if (!seed)
        seed = 1;
    rng_state = seed;
    printf("seed %llu (set DC_TEST_SEED to replay)\n", (unsigned long long)seed);
    RUN(valid_basics);
    RUN(invalid_coordinates);
    RUN(invalid_rings);
    RUN(holes);
    RUN(vertex_limit);
    RUN(validation_tangent_plane);
    RUN(types_and_flags);
    RUN(orientation_independent);
    RUN(sep_designed);
    RUN(sep_antimeridian_and_poles);
    RUN(sep_random);
    RUN(contains_point);
    RUN(near_edges_large);
    /* last, so that the tests above draw the same shapes for a seed as
     * before it was added */
    RUN(sep_fast_vs_exact);
    RUN(witness_walks);
    RUN(witness_of_another_shape);
    if (tl_failed)
        printf("seed %llu\n", (unsigned long long)seed);
    return TL_DONE();
}
