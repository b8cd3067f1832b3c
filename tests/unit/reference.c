/* reference: see reference.h. Slow on purpose; clarity over speed. */
#include "reference.h"

#include <geodesic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct geod_geodesic *G(void)
{
    static struct geod_geodesic g;
    static int init;
    if (!init) {
        geod_init(&g, 6378137.0, 1 / 298.257223563);
        init = 1;
    }
    return &g;
}

void ref_shape_free(rshape *s)
{
    for (int p = 0; p < s->npoly; p++) {
        for (int r = 0; r < s->polys[p].nrings; r++) {
            free(s->polys[p].rings[r].lon);
            free(s->polys[p].rings[r].lat);
            free(s->polys[p].rings[r].len);
        }
        free(s->polys[p].rings);
    }
    free(s->polys);
    memset(s, 0, sizeof *s);
}

void ref_shape_copy(rshape *d, const rshape *s)
{
    *d = *s;
    if (s->is_disc || !s->npoly) {
        d->polys = NULL;
        d->npoly = 0;
        return;
    }
    d->polys = calloc(s->npoly, sizeof *d->polys);
    for (int p = 0; p < s->npoly; p++) {
        d->polys[p].nrings = s->polys[p].nrings;
        d->polys[p].rings = calloc(s->polys[p].nrings, sizeof(rring));
        for (int r = 0; r < s->polys[p].nrings; r++) {
            const rring *a = &s->polys[p].rings[r];
            rring *b = &d->polys[p].rings[r];
            b->n = a->n;
            b->len = NULL;
            b->lon = malloc(sizeof(double) * a->n);
            b->lat = malloc(sizeof(double) * a->n);
            memcpy(b->lon, a->lon, sizeof(double) * a->n);
            memcpy(b->lat, a->lat, sizeof(double) * a->n);
        }
    }
}

static json_t *ring_json(const rring *r)
{
    json_t *a = json_array();
    for (int i = 0; i <= r->n; i++)
        json_array_append_new(a, json_pack("[f,f]", r->lon[i % r->n], r->lat[i % r->n]));
    return a;
}

static json_t *poly_json(const rpoly *p)
{
    json_t *a = json_array();
    for (int r = 0; r < p->nrings; r++)
        json_array_append_new(a, ring_json(&p->rings[r]));
    return a;
}

json_t *ref_shape_geojson(const rshape *s)
{
    if (s->is_disc)
        return json_pack("{s:s,s:[f,f]}", "type", "Point", "coordinates", s->lon, s->lat);
    if (s->npoly == 1)
        return json_pack("{s:s,s:o}", "type", "Polygon", "coordinates", poly_json(&s->polys[0]));
    json_t *a = json_array();
    for (int p = 0; p < s->npoly; p++)
        json_array_append_new(a, poly_json(&s->polys[p]));
    return json_pack("{s:s,s:o}", "type", "MultiPolygon", "coordinates", a);
}

double ref_dist(double lon1, double lat1, double lon2, double lat2)
{
    double s12;
    geod_inverse(G(), lat1, lon1, lat2, lon2, &s12, 0, 0);
    return s12;
}

static void ecef(double lon, double lat, double v[3])
{
    double a = 6378137.0, e2 = 6.69437999014e-3;
    double phi = lat * M_PI / 180, lam = lon * M_PI / 180;
    double n = a / sqrt(1 - e2 * sin(phi) * sin(phi));
    v[0] = n * cos(phi) * cos(lam);
    v[1] = n * cos(phi) * sin(lam);
    v[2] = n * (1 - e2) * sin(phi);
}

static double chord(double lon1, double lat1, double lon2, double lat2)
{
    double a[3], b[3];
    ecef(lon1, lat1, a);
    ecef(lon2, lat2, b);
    return sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                (a[2] - b[2]) * (a[2] - b[2]));
}

double ref_point_edge(double plon, double plat, double alon, double alat, double blon, double blat)
{
    struct geod_geodesicline l;
    geod_inverseline(&l, G(), alat, alon, blat, blon, GEOD_ALL);
    double len = l.s13;
    const int N = 64;
    double best = INFINITY;
    int bi = 0;
    for (int i = 0; i <= N; i++) {
        double la, lo, az;
        geod_position(&l, len * i / N, &la, &lo, &az);
        double d = ref_dist(plon, plat, lo, la);
        if (d < best) {
            best = d;
            bi = i;
        }
    }
    /* Golden-section search on the bracket around the best sample. */
    double lo_s = len * (bi > 0 ? bi - 1 : 0) / N, hi_s = len * (bi < N ? bi + 1 : N) / N;
    const double gr = (sqrt(5) - 1) / 2;
    for (int it = 0; it < 60 && hi_s - lo_s > 1e-4; it++) {
        double m1 = hi_s - gr * (hi_s - lo_s), m2 = lo_s + gr * (hi_s - lo_s);
        double la1, lo1, la2, lo2, az;
        geod_position(&l, m1, &la1, &lo1, &az);
        geod_position(&l, m2, &la2, &lo2, &az);
        double d1 = ref_dist(plon, plat, lo1, la1), d2 = ref_dist(plon, plat, lo2, la2);
        if (d1 < best)
            best = d1;
        if (d2 < best)
            best = d2;
        if (d1 < d2)
            hi_s = m2;
        else
            lo_s = m1;
    }
    return best;
}

/* Winding number of the ring around the point, from the azimuths at which
 * the point sees each vertex. */
static int ring_winds(const rring *r, double lon, double lat)
{
    double sum = 0, prev = 0, first = 0;
    for (int i = 0; i <= r->n; i++) {
        double s12, az1, az2;
        geod_inverse(G(), lat, lon, r->lat[i % r->n], r->lon[i % r->n], &s12, &az1, &az2);
        if (s12 < 1e-6)
            return 1; /* on a vertex */
        if (i == 0)
            first = prev = az1;
        else {
            double d = az1 - prev;
            while (d > 180)
                d -= 360;
            while (d <= -180)
                d += 360;
            sum += d;
            prev = az1;
        }
    }
    (void)first;
    return fabs(sum) > 180;
}

int ref_inside(const rpoly *p, double lon, double lat)
{
    if (!ring_winds(&p->rings[0], lon, lat))
        return 0;
    for (int r = 1; r < p->nrings; r++)
        if (ring_winds(&p->rings[r], lon, lat))
            return 0;
    return 1;
}

/* Geodesic length of edge i of g (cached: a ring's edges never change). */
static double edge_len(const rring *g, int i)
{
    rring *m = (rring *)g;
    if (!m->len) {
        m->len = malloc(sizeof(double) * g->n);
        for (int k = 0; k < g->n; k++)
            m->len[k] = ref_dist(g->lon[k], g->lat[k], g->lon[(k + 1) % g->n],
                                 g->lat[(k + 1) % g->n]);
    }
    return m->len[i];
}

/* Distance from a point to a polygon's boundary. Edges are visited in
 * order of their chord lower bound and the scan stops once that bound
 * passes the best exact distance: the same answer as trying every edge,
 * without thousands of exact searches on a 9,000-vertex ring. */
typedef struct {
    double lb;
    int r, i;
} edge_lb;

static int lb_cmp(const void *a, const void *b)
{
    double x = ((const edge_lb *)a)->lb, y = ((const edge_lb *)b)->lb;
    return x < y ? -1 : x > y;
}

static double boundary_dist(const rpoly *p, double lon, double lat)
{
    int n = 0;
    for (int r = 0; r < p->nrings; r++)
        n += p->rings[r].n;
    edge_lb *v = malloc(sizeof *v * n);
    int k = 0;
    for (int r = 0; r < p->nrings; r++) {
        const rring *g = &p->rings[r];
        for (int i = 0; i < g->n; i++) {
            v[k].lb = chord(lon, lat, g->lon[i], g->lat[i]) - edge_len(g, i);
            v[k].r = r;
            v[k++].i = i;
        }
    }
    qsort(v, n, sizeof *v, lb_cmp);
    double best = INFINITY;
    for (k = 0; k < n && v[k].lb <= best; k++) {
        const rring *g = &p->rings[v[k].r];
        int i = v[k].i, j = (i + 1) % g->n;
        double d = ref_point_edge(lon, lat, g->lon[i], g->lat[i], g->lon[j], g->lat[j]);
        if (d < best)
            best = d;
    }
    free(v);
    return best;
}

static double point_poly(const rpoly *p, double lon, double lat)
{
    if (ref_inside(p, lon, lat))
        return 0;
    return boundary_dist(p, lon, lat);
}

/* Sign of the side of point q relative to the geodesic through a towards
 * b, from the azimuth difference at a. */
static int side(double alon, double alat, double blon, double blat, double qlon, double qlat)
{
    double s, az_b, az_q, t;
    geod_inverse(G(), alat, alon, blat, blon, &s, &az_b, &t);
    geod_inverse(G(), alat, alon, qlat, qlon, &s, &az_q, &t);
    if (s < 1e-6)
        return 0;
    double d = az_q - az_b;
    while (d > 180)
        d -= 360;
    while (d <= -180)
        d += 360;
    if (fabs(d) < 1e-12 || fabs(fabs(d) - 180) < 1e-12)
        return 0;
    return d > 0 ? 1 : -1;
}

static int edges_cross(const rring *A, int i, const rring *B, int j)
{
    int i2 = (i + 1) % A->n, j2 = (j + 1) % B->n;
    int s1 = side(A->lon[i], A->lat[i], A->lon[i2], A->lat[i2], B->lon[j], B->lat[j]);
    int s2 = side(A->lon[i], A->lat[i], A->lon[i2], A->lat[i2], B->lon[j2], B->lat[j2]);
    int s3 = side(B->lon[j], B->lat[j], B->lon[j2], B->lat[j2], A->lon[i], A->lat[i]);
    int s4 = side(B->lon[j], B->lat[j], B->lon[j2], B->lat[j2], A->lon[i2], A->lat[i2]);
    return s1 * s2 < 0 && s3 * s4 < 0;
}

static double poly_poly(const rpoly *a, const rpoly *b)
{
    for (int r = 0; r < a->nrings; r++)
        if (ref_inside(b, a->rings[r].lon[0], a->rings[r].lat[0]))
            return 0;
    for (int r = 0; r < b->nrings; r++)
        if (ref_inside(a, b->rings[r].lon[0], b->rings[r].lat[0]))
            return 0;
    double best = INFINITY;
    for (int pass = 0; pass < 2; pass++) {
        const rpoly *P = pass ? b : a, *Q = pass ? a : b;
        for (int r = 0; r < P->nrings; r++)
            for (int i = 0; i < P->rings[r].n; i++) {
                double d = boundary_dist(Q, P->rings[r].lon[i], P->rings[r].lat[i]);
                if (d < best)
                    best = d;
            }
    }
    /* Edges can cross with no vertex inside: only possible when the
     * vertex-edge distance is smaller than the longer edge, so check edge
     * pairs whose endpoints are within reach. */
    for (int ra = 0; ra < a->nrings; ra++)
        for (int rb = 0; rb < b->nrings; rb++) {
            const rring *A = &a->rings[ra], *B = &b->rings[rb];
            for (int i = 0; i < A->n; i++) {
                double la = edge_len(A, i);
                for (int j = 0; j < B->n; j++) {
                    double lb = edge_len(B, j);
                    if (chord(A->lon[i], A->lat[i], B->lon[j], B->lat[j]) > la + lb)
                        continue;
                    if (edges_cross(A, i, B, j))
                        return 0;
                }
            }
        }
    return best;
}

double ref_separation(const rshape *a, const rshape *b)
{
    if (!a->is_disc && b->is_disc) {
        const rshape *t = a;
        a = b;
        b = t;
    }
    if (a->is_disc && b->is_disc) {
        double d = ref_dist(a->lon, a->lat, b->lon, b->lat) - a->r - b->r;
        return d > 0 ? d : 0;
    }
    double best = INFINITY;
    if (a->is_disc) {
        for (int p = 0; p < b->npoly; p++) {
            double d = point_poly(&b->polys[p], a->lon, a->lat) - a->r;
            if (d < best)
                best = d;
        }
        return best > 0 ? best : 0;
    }
    for (int p = 0; p < a->npoly; p++)
        for (int q = 0; q < b->npoly; q++) {
            double d = poly_poly(&a->polys[p], &b->polys[q]);
            if (d < best)
                best = d;
        }
    return best;
}
