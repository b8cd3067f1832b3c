/* test_geo: geodesy on WGS84 (geo.c).
 *
 * geo_dist is checked against published reference values:
 *  - the 20 random test geodesics of GeographicLib's C test suite
 *    (C. F. F. Karney, geodtest.c, "testcases", drawn from GeodTest.dat,
 *    https://geographiclib.sourceforge.io/C/doc/ and
 *    https://zenodo.org/record/32156), each accurate to 1e-8 m there;
 *  - the GeodSolve regression cases in the same file: GeodSolve0 (JFK to
 *    Paris CDG, 5853226 m), GeodSolve4 (a 0.072 m line) and the
 *    nearly antipodal GeodSolve6, 9, 10 and 11.
 *
 * geo_point_edge_dist is checked against an independent reference: the
 * edge is sampled along its geodesic (geod_position), and the nearest
 * sample is refined by golden-section search on geod_inverse distances;
 * for short edges the reference also samples densely at <= 1 m spacing.
 * Cases cover mid-latitudes, the antimeridian, the poles (78 degrees and
 * more) and the equator, edges from 10 m to 500 km. The tolerance is
 * 1 mm + 1e-6 * d. The random generator's seed is printed; set
 * DC_TEST_SEED to replay. */
#include <geodesic.h>
#include <stdint.h>
#include <stdlib.h>

#include "geo.h"
#include "testlib.h"

static struct geod_geodesic G;

/* ---- seeded generator (xorshift64*) ---- */
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

static double norm_lon(double lon)
{
    while (lon >= 180)
        lon -= 360;
    while (lon < -180)
        lon += 360;
    return lon;
}

static double ref_inv(double lat1, double lon1, double lat2, double lon2)
{
    double s12;
    geod_inverse(&G, lat1, lon1, lat2, lon2, &s12, 0, 0);
    return s12;
}

/* Published test geodesics: lat1, lon1, lat2, lon2, s12 (GeographicLib
 * geodtest.c, testcases[i][0,1,3,4,6]). */
static const double published[][5] = {
    {35.60777, -139.44815, -11.17491, -69.95921, 8935244.5604818305},
    {55.52454, 106.05087, 77.03196, 197.18234, 4105086.1713924406},
    {-21.97856, 142.59065, 41.84138, 98.56635, 8394328.894657671},
    {-66.99028, 112.2363, -12.70631, 285.90344, 11150344.2312080241},
    {-17.42761, 173.34268, -15.84784, 5.93557, 16076603.1631180673},
    {32.84994, 48.28919, -56.28556, 202.29132, 16727068.9438164461},
    {6.96833, 52.74123, -7.39675, 206.17291, 17102477.2496958388},
    {-50.56724, -16.30485, -33.56571, -94.97412, 6455670.5118668696},
    {-58.93002, -8.90775, -8.91104, 133.13503, 11756066.0219864627},
    {-68.82867, -74.28391, -50.63005, -8.36685, 3956936.926063544},
    {-10.62672, -32.0898, 5.883, -134.31681, 11470869.3864563009},
    {-21.76221, 166.90563, 48.72884, 213.97627, 9098627.3986554915},
    {-19.79938, -174.47484, -11.99349, -154.35109, 2319004.8601169389},
    {-11.95887, -116.94513, 4.57352, 7.16501, 13834722.5801401374},
    {-87.85331, 85.66836, 66.48646, 16.09921, 17286615.3147144645},
    {1.74708, 128.32011, -11.16617, 11.87109, 12942901.1241347408},
    {-25.72959, -144.90758, -57.70581, -269.17879, 9413446.7452453107},
    {-41.22777, 122.32875, -7.57291, 130.37946, 3812686.035106021},
    {11.01307, 138.25278, 6.62726, 247.05981, 11911190.819018408},
    {-29.47124, 95.14681, -27.46601, -69.15955, 13487015.8381145492},
};

TEST(dist_published_geodtest)
{
    for (size_t i = 0; i < sizeof published / sizeof *published; i++) {
        geo_pt a = geo_pt_make(norm_lon(published[i][1]), published[i][0]);
        geo_pt b = geo_pt_make(norm_lon(published[i][3]), published[i][2]);
        EXPECT_NEAR(geo_dist(&a, &b), published[i][4], 1e-6);
        EXPECT_NEAR(geo_dist(&b, &a), published[i][4], 1e-6);
        /* the chord is a lower bound of the geodesic distance */
        EXPECT(geo_chord(&a, &b) <= published[i][4]);
    }
}

TEST(dist_published_geodsolve)
{
    /* GeodSolve0: JFK (40.6, -73.8) to CDG (49.01666667, 2.55), 5853226 m
     * to 0.5 m. */
    geo_pt a = geo_pt_make(-73.8, 40.6), b = geo_pt_make(2.55, 49.01666667);
    EXPECT_NEAR(geo_dist(&a, &b), 5853226, 0.5);
    /* GeodSolve4: a 0.072 m line. */
    a = geo_pt_make(0, 36.493349428792);
    b = geo_pt_make(.0000008, 36.49334942879201);
    EXPECT_NEAR(geo_dist(&a, &b), 0.072, 0.5e-3);
    /* GeodSolve6, 9, 10, 11: nearly antipodal points, to 0.5 mm. */
    static const double anti[][5] = {
        {88.202499451857, 0, -88.202499451857, 179.981022032992859592, 20003898.214},
        {89.262080389218, 0, -89.262080389218, 179.992207982775375662, 20003925.854},
        {89.333123580033, 0, -89.333123580032997687, 179.99295812360148422, 20003926.881},
        {56.320923501171, 0, -56.320923501171, 179.664747671772880215, 19993558.287},
        {52.784459512564, 0, -52.784459512563990912, 179.634407464943777557, 19991596.095},
        {48.522876735459, 0, -48.52287673545898293, 179.599720456223079643, 19989144.774},
    };
    for (size_t i = 0; i < sizeof anti / sizeof *anti; i++) {
        a = geo_pt_make(anti[i][1], anti[i][0]);
        b = geo_pt_make(anti[i][3], anti[i][2]);
        EXPECT_NEAR(geo_dist(&a, &b), anti[i][4], 0.5e-3);
    }
    /* Quarter meridian of WGS84: 10001965.729 m (pole to equator). */
    a = geo_pt_make(0, 0);
    b = geo_pt_make(0, 90);
    EXPECT_NEAR(geo_dist(&a, &b), 10001965.729, 1e-3);
    /* Across the antimeridian the short way round. */
    a = geo_pt_make(179.99, 0);
    b = geo_pt_make(-179.99, 0);
    EXPECT_NEAR(geo_dist(&a, &b), 2 * 1113.1949079327358, 1e-3);
}

TEST(pt_make_and_ecef)
{
    geo_pt p = geo_pt_make(180, 10);
    EXPECT_NEAR(p.lon, -180, 0);
    p = geo_pt_make(0, 0);
    EXPECT_NEAR(p.x, 6378137.0, 1e-6);
    EXPECT_NEAR(p.y, 0, 1e-6);
    p = geo_pt_make(0, 90);
    EXPECT_NEAR(p.z, 6356752.314245, 1e-3); /* WGS84 semi-minor axis */
    /* geo_pt_from_ecef returns the point itself for surface points */
    for (int i = 0; i < 100; i++) {
        geo_pt q = geo_pt_make(uni(-180, 180), uni(-89, 89));
        double v[3] = {q.x, q.y, q.z};
        geo_pt r = geo_pt_from_ecef(v);
        EXPECT(geo_dist(&q, &r) < 1.0);
    }
}

TEST(direct_and_azimuth)
{
    for (int i = 0; i < 500; i++) {
        geo_pt p = geo_pt_make(uni(-180, 180), uni(-85, 85));
        double azi = uni(-180, 180), s = uni(1, 1e6);
        geo_pt q = geo_direct(&p, azi, s);
        EXPECT_NEAR(geo_dist(&p, &q), s, 1e-6);
        double az = geo_azimuth(&p, &q), dd = fabs(az - azi);
        if (dd > 180)
            dd = 360 - dd;
        EXPECT(dd < 1e-6);
    }
}

TEST(ball_bounds)
{
    /* The chord never exceeds the geodesic distance, and ball distances are
     * lower bounds of the distance to any point in the ball. */
    for (int i = 0; i < 2000; i++) {
        geo_pt a = geo_pt_make(uni(-180, 180), uni(-90, 90));
        geo_pt b = geo_direct(&a, uni(-180, 180), uni(0, 2e6));
        double d = geo_dist(&a, &b);
        EXPECT(geo_chord(&a, &b) <= d + 1e-9);
        geo_ball ball = {{b.x, b.y, b.z}, uni(0, 1000)};
        EXPECT(geo_ball_dist(&a, &ball) <= d);
        geo_ball ba = {{a.x, a.y, a.z}, uni(0, 1000)};
        EXPECT(geo_ball_gap(&ba, &ball) <= d);
    }
}

TEST(gnomonic_geodesics_straight)
{
    /* Geodesics through the centre are straight in the gnomonic projection. */
    for (int i = 0; i < 200; i++) {
        geo_pt c = geo_pt_make(uni(-180, 180), uni(-85, 85));
        double azi = uni(-180, 180);
        geo_pt p1 = geo_direct(&c, azi, uni(1e3, 5e5)), p2 = geo_direct(&c, azi, uni(1e3, 5e5));
        double x1, y1, x2, y2;
        ASSERT_EQ(geo_gnomonic(&c, &p1, &x1, &y1), 0);
        ASSERT_EQ(geo_gnomonic(&c, &p2, &x2, &y2), 0);
        double cross = x1 * y2 - y1 * x2;
        EXPECT(fabs(cross) <= 1e-6 * hypot(x1, y1) * hypot(x2, y2) + 1e-6);
    }
    /* points 90 degrees or more away cannot be projected */
    geo_pt c = geo_pt_make(0, 0), far = geo_pt_make(120, 0);
    double x, y;
    EXPECT_EQ(geo_gnomonic(&c, &far, &x, &y), -1);
}

/* ---- point to geodesic edge: the reference ---- */

static double dist_at(const struct geod_geodesicline *l, double s, double plat, double plon)
{
    double lat, lon;
    geod_position(l, s, &lat, &lon, 0);
    return ref_inv(lat, lon, plat, plon);
}

/* Sample the edge every `step` metres and refine the best sample by
 * golden-section search over the neighbouring interval. */
static double ref_point_edge(const geo_pt *p, const geo_pt *a, const geo_pt *b, double step)
{
    struct geod_geodesicline l;
    geod_inverseline(&l, &G, a->lat, a->lon, b->lat, b->lon,
                     GEOD_LATITUDE | GEOD_LONGITUDE | GEOD_DISTANCE_IN);
    double len = l.s13;
    int n = (int)ceil(len / step);
    if (n < 1)
        n = 1;
    double h = len / n, best = INFINITY;
    int bi = 0;
    for (int i = 0; i <= n; i++) {
        double d = dist_at(&l, i * h, p->lat, p->lon);
        if (d < best) {
            best = d;
            bi = i;
        }
    }
    double lo = bi > 0 ? (bi - 1) * h : 0, hi = bi < n ? (bi + 1) * h : len;
    const double gr = (sqrt(5.0) - 1) / 2;
    double x1 = hi - gr * (hi - lo), x2 = lo + gr * (hi - lo);
    double f1 = dist_at(&l, x1, p->lat, p->lon), f2 = dist_at(&l, x2, p->lat, p->lon);
    for (int it = 0; it < 200 && hi - lo > 1e-7; it++) {
        if (f1 < f2) {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - gr * (hi - lo);
            f1 = dist_at(&l, x1, p->lat, p->lon);
        } else {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + gr * (hi - lo);
            f2 = dist_at(&l, x2, p->lat, p->lon);
        }
    }
    if (f1 < best)
        best = f1;
    if (f2 < best)
        best = f2;
    return best;
}

static int edge_cases, edge_fail;
static double edge_worst;

static void check_edge(const geo_pt *p, const geo_pt *a, const geo_pt *b, const char *what)
{
    double got = geo_point_edge_dist(p, a, b);
    double len = geo_dist(a, b);
    double want = ref_point_edge(p, a, b, len > 2e3 ? len / 2000 : 1.0);
    double tol = 1e-3 + 1e-6 * want;
    edge_cases++;
    double err = fabs(got - want);
    if (err / tol > edge_worst)
        edge_worst = err / tol;
    if (!(err <= tol)) {
        if (edge_fail++ < 20)
            TL_FAIL_("%s: P(%.9f, %.9f) edge (%.9f, %.9f)-(%.9f, %.9f) len %.3f: got %.6f "
                     "reference %.6f (err %.3g > tol %.3g)",
                     what, p->lon, p->lat, a->lon, a->lat, b->lon, b->lat, len, got, want, err,
                     tol);
    }
}

/* One region: random edges of the given lengths around (lon0, lat0), and
 * random points from on the edge to well away from it. */
static void edge_region(const char *what, double lon0, double lat0, double spread_m)
{
    static const double lens[] = {10, 100, 1e3, 1e4, 1e5, 5e5};
    geo_pt c = geo_pt_make(lon0, lat0);
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
        for (int e = 0; e < 4; e++) {
            geo_pt a = geo_direct(&c, uni(-180, 180), uni(0, spread_m));
            geo_pt b = geo_direct(&a, uni(-180, 180), lens[k]);
            double azi = geo_azimuth(&a, &b);
            for (int j = 0; j < 8; j++) {
                /* a foot somewhere near the edge (before, along, after),
                 * then sideways by 0 to 3 edge lengths (at most 300 km) */
                double along = uni(-0.5, 1.5) * lens[k];
                geo_pt f = along >= 0 ? geo_direct(&a, azi, along)
                                      : geo_direct(&a, azi + 180, -along);
                double off = j == 0 ? 0 : uni(0, fmin(3 * lens[k], 3e5));
                geo_pt p = geo_direct(&f, azi + (j % 2 ? 90 : -90) + uni(-20, 20), off);
                check_edge(&p, &a, &b, what);
            }
        }
    }
}

TEST(point_edge_regions)
{
    edge_cases = edge_fail = 0;
    edge_worst = 0;
    edge_region("mid-latitude", 37.5, 36.4, 5e4);
    edge_region("mid-latitude south", -58.4, -34.6, 5e4);
    edge_region("antimeridian", 179.999, 12.0, 2e3);
    edge_region("antimeridian north", -179.99, 65.0, 2e3);
    edge_region("north polar", 20.0, 84.0, 3e5);
    edge_region("near north pole", 120.0, 89.5, 3e4);
    edge_region("south polar", -60.0, -78.5, 1e5);
    edge_region("equator", 0.0, 0.0, 1e4);
    edge_region("equator antimeridian", 180.0, 0.0, 1e3);
    printf("     point-edge: %d cases, worst error %.3g of tolerance\n", edge_cases, edge_worst);
    EXPECT_EQ(edge_fail, 0);
}

TEST(point_edge_special)
{
    /* Edges with exactly known answers. */
    geo_pt a = geo_pt_make(-0.5, 0), b = geo_pt_make(0.5, 0), p = geo_pt_make(0, 1);
    /* the equator is a geodesic; the nearest point is (0, 0): one degree
     * of meridian arc from the equator = 110574.389 m */
    EXPECT_NEAR(geo_point_edge_dist(&p, &a, &b), 110574.3886, 1e-3);
    /* meridian edges: distance to a point on the same meridian beyond an
     * end is the meridian arc to that end */
    a = geo_pt_make(10, 40);
    b = geo_pt_make(10, 41);
    p = geo_pt_make(10, 43);
    EXPECT_NEAR(geo_point_edge_dist(&p, &a, &b), geo_dist(&p, &b), 1e-6);
    p = geo_pt_make(10, 40.5);
    EXPECT_NEAR(geo_point_edge_dist(&p, &a, &b), 0, 1e-3);
    /* an edge over the north pole: (0, 89.9) to (180, 89.9); the pole is
     * on it */
    a = geo_pt_make(0, 89.9);
    b = geo_pt_make(180, 89.9);
    p = geo_pt_make(0, 90);
    EXPECT_NEAR(geo_point_edge_dist(&p, &a, &b), 0, 1e-3);
    p = geo_pt_make(90, 89.95);
    check_edge(&p, &a, &b, "over the pole");
    /* across the antimeridian: 179.99 -> -179.99 is about 2.2 km, and the
     * point (180, 0) lies on it */
    a = geo_pt_make(179.99, 0);
    b = geo_pt_make(-179.99, 0);
    p = geo_pt_make(180, 0);
    EXPECT_NEAR(geo_point_edge_dist(&p, &a, &b), 0, 1e-3);
    p = geo_pt_make(0, 0);
    EXPECT(geo_point_edge_dist(&p, &a, &b) > 1e7);
    /* degenerate edge */
    a = geo_pt_make(5, 5);
    p = geo_pt_make(5.001, 5);
    EXPECT_NEAR(geo_point_edge_dist(&p, &a, &a), geo_dist(&p, &a), 1e-9);
    /* dense 1 m sampling agrees with the golden-section reference */
    a = geo_pt_make(37.5, 36.4);
    b = geo_direct(&a, 33, 800);
    p = geo_direct(&a, 80, 300);
    struct geod_geodesicline l;
    geod_inverseline(&l, &G, a.lat, a.lon, b.lat, b.lon,
                     GEOD_LATITUDE | GEOD_LONGITUDE | GEOD_DISTANCE_IN);
    double dense = INFINITY;
    for (double s = 0; s <= l.s13; s += 0.25)
        dense = fmin(dense, dist_at(&l, s, p.lat, p.lon));
    double gold = ref_point_edge(&p, &a, &b, 1.0);
    EXPECT(gold <= dense + 1e-6);
    EXPECT_NEAR(gold, dense, 1e-3);
    EXPECT_NEAR(geo_point_edge_dist(&p, &a, &b), gold, 1e-3);
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
    RUN(dist_published_geodtest);
    RUN(dist_published_geodsolve);
    RUN(pt_make_and_ecef);
    RUN(direct_and_azimuth);
    RUN(ball_bounds);
    RUN(gnomonic_geodesics_straight);
    RUN(point_edge_regions);
    RUN(point_edge_special);
    if (tl_failed)
        printf("seed %llu\n", (unsigned long long)seed);
    return TL_DONE();
}
