/* geo: thin, careful wrappers over PROJ's geodesic routines plus the
 * intercept iteration. The geodesic object is immutable once built; it is
 * initialised exactly once (pthread_once) and shared read-only. */
#include "geo.h"

#include <geodesic.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

static struct geod_geodesic wgs84;
static pthread_once_t wgs84_once = PTHREAD_ONCE_INIT;

static void wgs84_init(void)
{
    geod_init(&wgs84, 6378137.0, 1 / 298.257223563);
}

static const struct geod_geodesic *geod(void)
{
    pthread_once(&wgs84_once, wgs84_init);
    return &wgs84;
}

static const double WGS84_A = 6378137.0;
static const double WGS84_E2 = 6.69437999014e-3;

/* The sines and cosines of the last point geo_pt_make made, for geo_trig:
 * a position report makes its point once, then takes its tangent frame
 * (shape.c, enu_at) once per shape it is measured against; each of those
 * paid two sincos calls again (5 % of bench_engine A's profile, with the
 * frame's other arithmetic). The same expressions on the same operands,
 * so the same bits; remembered by the two coordinates' bits. Per thread,
 * as engine.c's point memo. */
static _Thread_local struct {
    double ll[2];
    double sc[4]; /* sin lon, cos lon, sin lat, cos lat */
    int ok;
} trig_memo;

/* trig_of: sin lon, cos lon, sin lat, cos lat (degrees in), the one place
 * both geo_pt_make and geo_trig compute them, so that their bits agree. */
static void trig_of(double lon, double lat, double sc[4])
{
    double lam = lon * M_PI / 180.0, phi = lat * M_PI / 180.0;
    sc[0] = sin(lam);
    sc[1] = cos(lam);
    sc[2] = sin(phi);
    sc[3] = cos(phi);
}

geo_pt geo_pt_make(double lon, double lat)
{
    geo_pt p;
    if (lon >= 180.0)
        lon -= 360.0;
    p.lon = lon;
    p.lat = lat;
    trig_of(lon, lat, trig_memo.sc);
    trig_memo.ll[0] = lon;
    trig_memo.ll[1] = lat;
    trig_memo.ok = 1;
    double slam = trig_memo.sc[0], clam = trig_memo.sc[1];
    double sphi = trig_memo.sc[2], cphi = trig_memo.sc[3];
    double n = WGS84_A / sqrt(1.0 - WGS84_E2 * sphi * sphi);
    p.x = n * cphi * clam;
    p.y = n * cphi * slam;
    p.z = n * (1.0 - WGS84_E2) * sphi;
    return p;
}

void geo_trig(const geo_pt *p, double sc[4])
{
    if (trig_memo.ok && memcmp(trig_memo.ll, &p->lon, sizeof trig_memo.ll) == 0)
        memcpy(sc, trig_memo.sc, sizeof trig_memo.sc);
    else
        trig_of(p->lon, p->lat, sc);
}

geo_pt geo_pt_from_ecef(const double v[3])
{
    double h = hypot(v[0], v[1]);
    /* Geodetic latitude of the normal through v; one Bowring step is ample
     * for a centroid, which only has to be near the shape. */
    double lat = atan2(v[2], h * (1.0 - WGS84_E2));
    double lon = atan2(v[1], v[0]);
    return geo_pt_make(lon * 180.0 / M_PI, lat * 180.0 / M_PI);
}

double geo_dist(const geo_pt *a, const geo_pt *b)
{
    double s12 = 0;
    geod_inverse(geod(), a->lat, a->lon, b->lat, b->lon, &s12, 0, 0);
    return s12;
}

double geo_chord(const geo_pt *a, const geo_pt *b)
{
    double dx = a->x - b->x, dy = a->y - b->y, dz = a->z - b->z;
    return sqrt(dx * dx + dy * dy + dz * dz);
}

double geo_ball_dist(const geo_pt *p, const geo_ball *b)
{
    double dx = p->x - b->c[0], dy = p->y - b->c[1], dz = p->z - b->c[2];
    double d = sqrt(dx * dx + dy * dy + dz * dz) - b->r;
    return d > 0 ? d : 0;
}

double geo_ball_gap(const geo_ball *a, const geo_ball *b)
{
    double dx = a->c[0] - b->c[0], dy = a->c[1] - b->c[1], dz = a->c[2] - b->c[2];
    double d = sqrt(dx * dx + dy * dy + dz * dz) - a->r - b->r;
    return d > 0 ? d : 0;
}

int geo_gnomonic(const geo_pt *c, const geo_pt *p, double *x, double *y)
{
    double s12, azi1, azi2, m12, M12, M21, S12;
    geod_geninverse(geod(), c->lat, c->lon, p->lat, p->lon, &s12, &azi1, &azi2, &m12, &M12, &M21,
                    &S12);
    if (M12 <= 1e-9)
        return -1;
    double rho = m12 / M12, t = azi1 * M_PI / 180.0;
    *x = rho * sin(t);
    *y = rho * cos(t);
    return 0;
}

geo_pt geo_direct(const geo_pt *p, double azi, double s)
{
    double lat, lon;
    geod_direct(geod(), p->lat, p->lon, azi, s, &lat, &lon, 0);
    return geo_pt_make(lon, lat);
}

double geo_azimuth(const geo_pt *a, const geo_pt *b)
{
    double s12, azi1, azi2;
    geod_inverse(geod(), a->lat, a->lon, b->lat, b->lon, &s12, &azi1, &azi2);
    return azi1;
}

double geo_point_edge_dist(const geo_pt *p, const geo_pt *a, const geo_pt *b)
{
    double da = geo_dist(p, a), db = geo_dist(p, b);
    double best = da < db ? da : db;
    struct geod_geodesicline line;
    geod_inverseline(&line, geod(), a->lat, a->lon, b->lat, b->lon,
                     GEOD_LATITUDE | GEOD_LONGITUDE | GEOD_AZIMUTH | GEOD_DISTANCE_IN);
    double len = line.s13;
    if (len <= 0)
        return best;

    /* Start from the chord's closest point, then apply Karney's intercept
     * step: project P gnomonically about the current foot X (the edge is a
     * straight line through X there), move X by P's along-track coordinate,
     * repeat. Converges in a handful of steps. */
    double ab[3] = {b->x - a->x, b->y - a->y, b->z - a->z};
    double ap[3] = {p->x - a->x, p->y - a->y, p->z - a->z};
    double ab2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2];
    double t = ab2 > 0 ? (ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2]) / ab2 : 0;
    if (t < 0)
        t = 0;
    if (t > 1)
        t = 1;
    double s = t * len;
    for (int it = 0; it < 30; it++) {
        double xlat, xlon, xazi;
        geod_position(&line, s, &xlat, &xlon, &xazi);
        double s12, azi1, azi2, m12, M12, M21, S12;
        geod_geninverse(geod(), xlat, xlon, p->lat, p->lon, &s12, &azi1, &azi2, &m12, &M12, &M21,
                        &S12);
        if (s12 < best)
            best = s12;
        double g = (azi1 - xazi) * M_PI / 180.0;
        double along;
        if (M12 > 0.1) {
            along = (m12 / M12) * cos(g);
            along = GEO_R_MEAN * atan(along / GEO_R_MEAN);
        } else {
            along = s12 * cos(g);
        }
        double ns = s + along;
        if (ns < 0)
            ns = 0;
        if (ns > len)
            ns = len;
        if (fabs(ns - s) < 1e-5)
            break;
        s = ns;
        if (it == 29) {
            geod_position(&line, s, &xlat, &xlon, &xazi);
            double d;
            geod_inverse(geod(), xlat, xlon, p->lat, p->lon, &d, 0, 0);
            if (d < best)
                best = d;
        }
    }
    return best;
}
