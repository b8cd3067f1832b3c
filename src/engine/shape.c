/* shape: geometry validation and exact separations.
 *
 * Hand-written rather than delegated to GEOS because the edges here are
 * geodesics on the ellipsoid, not planar segments, and because the conflict
 * engine calls these functions millions of times a second: the ECEF ball
 * hierarchy below lets almost every call end after a few multiplications.
 *
 * Rigour: the chord between two ECEF surface points never exceeds their
 * geodesic distance, and every point of a geodesic edge of length L lies
 * within L/2 (chord) of the chord's midpoint; so every ball bound used for
 * pruning is a true lower bound, whatever the latitude or longitude. The
 * exact distances come from geo_point_edge_dist. Point-in-polygon runs in
 * a plane about the polygon's centre: for small polygons (up to 50 km, edges
 * straying at most 5 cm) the tangent plane, where every edge stays within a
 * proven `eps` of its segment (sag_of); otherwise the gnomonic projection,
 * where geodesic edges are straight to within `eps` (measured: 0.75 m at
 * 1,000 km from the centre, 5 mm at 300 km). A point closer than eps to an
 * edge is decided again in the projection centred on the point itself,
 * where the edges near it are straight.
 *
 * Fast paths (tangent planes with proven error bounds, falling back to the
 * exact path whenever the bound is not met) serve a disc against a polygon
 * (poly_dist_fast) and a polygon against a polygon (poly_poly_fast);
 * shape_separation_exact bypasses both, for tests. A witness (see
 * "witnesses") lets a disc that moved a little since its last measurement
 * against a polygon be measured from a few edges, with the same result. */
#include "shape.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 16

/* The tangent (east, north) plane at a surface point. */
typedef struct {
    double e[3], n[3];
    double inv_m, inv_n; /* 1 / meridional and 1 / prime-vertical radii */
} enu_frame;

static enu_frame enu_at(const geo_pt *p)
{
    double sc[4];
    geo_trig(p, sc);
    double sl = sc[0], cl = sc[1], sp = sc[2], cp = sc[3];
    const double a = 6378137.0, e2 = 6.69437999014e-3;
    double w2 = 1 - e2 * sp * sp, w = sqrt(w2);
    enu_frame f = {{-sl, cl, 0}, {-sp * cl, -sp * sl, cp}, w2 * w / (a * (1 - e2)), w / a};
    return f;
}

enum { SHP_DISC = 1, SHP_POLY = 2 };

typedef struct {
    int n;           /* distinct vertices; edge i runs v[i] -> v[(i+1) % n] */
    geo_pt *v;
    double *len;     /* geodesic edge lengths (upper bounds, see len_bound) */
    geo_ball *eball; /* per edge */
    int nchunk;
    geo_ball *cball; /* per CHUNK consecutive edges */
    double *px, *py; /* planar coordinates about the polygon centre */
} shp_ring;

typedef struct {
    int nrings; /* ring 0 is the shell */
    shp_ring *rings;
    geo_ball ball;
    geo_pt pc;      /* projection centre */
    int ortho;      /* plane: 1 the tangent plane at pc (fr), 0 gnomonic */
    enu_frame fr;
    double eps;     /* bound on edge curvature in that projection */
    double rho_max; /* largest planar radius of a vertex */
    double lmax;    /* longest edge, metres */
    int nvert;
} shp_poly;

struct dc_shape {
    int kind;
    geo_pt c; /* disc centre */
    double r; /* disc radius */
    int npoly;
    shp_poly *polys;
    geo_ball ball;
    size_t nvert;
};

/* ---------- balls ---------- */

/* The least radius of curvature of WGS84 (b^2 / a, rounded down): no
 * geodesic, seen as a space curve, bends more sharply than this. */
#define CURV_R 6335439.0

/* len_bound returns an upper bound of the length of a geodesic whose
 * endpoints are `chord` apart: by Schur's comparison theorem a curve of
 * curvature at most 1 / R and length s has chord >= 2 R sin(s / 2R). Tight
 * to a micrometre at a few kilometres, and costs no geodesic solution. */
static double len_bound(double chord)
{
    double s = chord / (2 * CURV_R);
    if (s >= 1)
        return INFINITY;
    return 2 * CURV_R * asin(s) * (1 + 1e-12) + 1e-9;
}

#define PP_SLACK 1e-6 /* rounding in metres-sized planar coordinates */

/* sag_of bounds how far a geodesic of length at most len strays from its
 * chord, point by point (see the polygon fast path below), and so how far
 * its orthogonal projection strays from the straight segment between its
 * projected ends. */
static double sag_of(double len)
{
    return len * len / (8 * CURV_R) + PP_SLACK;
}

/* Polygons up to this extent whose edges stray at most this far use the
 * tangent plane at their centre for point-in-polygon and validation: no
 * geodesic solution per vertex, and a proven bound (sag_of) rather than a
 * measured one. Larger ones keep the gnomonic plane, where long edges stay
 * nearly straight. */
#define ORTHO_MAX_EXT 50e3
#define ORTHO_MAX_SAG 0.01
/* Validation in the tangent plane decides edge pairs within the sag
 * exactly (about 50 us each); past this many, the polygon goes back to the
 * gnomonic plane, so no input costs more than it did there. */
#define ORTHO_EXACT_BUDGET 32

static geo_ball ball_of_edge(const geo_pt *a, const geo_pt *b, double len)
{
    geo_ball e;
    e.c[0] = (a->x + b->x) / 2;
    e.c[1] = (a->y + b->y) / 2;
    e.c[2] = (a->z + b->z) / 2;
    /* Chord to either end is at most len/2 for points on the geodesic; a
     * millimetre of slack absorbs rounding. */
    e.r = len / 2 + 1e-3;
    return e;
}

static double vdist(const double a[3], const double b[3])
{
    double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    return sqrt(dx * dx + dy * dy + dz * dz);
}

/* Smallest-effort enclosing ball of a set of balls: centred on their mean. */
static geo_ball ball_union(const geo_ball *bs, int n)
{
    geo_ball u = {{0, 0, 0}, 0};
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            u.c[k] += bs[i].c[k] / n;
    for (int i = 0; i < n; i++) {
        double r = vdist(u.c, bs[i].c) + bs[i].r;
        if (r > u.r)
            u.r = r;
    }
    return u;
}

/* geo_ball_gap(a, b) > 0, without the square root (validation asks it of
 * every pair of edges). */
static int balls_apart(const geo_ball *a, const geo_ball *b)
{
    double dx = a->c[0] - b->c[0], dy = a->c[1] - b->c[1], dz = a->c[2] - b->c[2];
    double r = a->r + b->r;
    return dx * dx + dy * dy + dz * dz > r * r;
}

static int ball_contains_pt(const geo_ball *b, const geo_pt *p)
{
    double c[3] = {p->x, p->y, p->z};
    return vdist(b->c, c) <= b->r + 1e-6;
}

/* ---------- lifetime ---------- */

static void ring_free(shp_ring *r)
{
    free(r->v);
    free(r->len);
    free(r->eball);
    free(r->cball);
    free(r->px);
    free(r->py);
}

void shape_free(dc_shape *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->npoly; i++) {
        for (int j = 0; j < s->polys[i].nrings; j++)
            ring_free(&s->polys[i].rings[j]);
        free(s->polys[i].rings);
    }
    free(s->polys);
    free(s);
}

dc_shape *shape_disc(double lon, double lat, double radius_m)
{
    dc_shape *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->kind = SHP_DISC;
    s->c = geo_pt_make(lon, lat);
    s->r = radius_m;
    s->ball.c[0] = s->c.x;
    s->ball.c[1] = s->c.y;
    s->ball.c[2] = s->c.z;
    s->ball.r = radius_m + 1e-3;
    return s;
}

const geo_ball *shape_ball(const dc_shape *s)
{
    return &s->ball;
}

int shape_is_disc(const dc_shape *s)
{
    return s->kind == SHP_DISC;
}

geo_pt shape_disc_center(const dc_shape *s)
{
    return s->c;
}

double shape_disc_radius(const dc_shape *s)
{
    return s->r;
}

size_t shape_vertex_count(const dc_shape *s)
{
    return s->nvert;
}

/* ---------- planar helpers (in a gnomonic plane) ---------- */

static double orient(double ax, double ay, double bx, double by, double cx, double cy)
{
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
}

static double seg_dist(double px, double py, double ax, double ay, double bx, double by)
{
    double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0;
    if (t < 0)
        t = 0;
    if (t > 1)
        t = 1;
    double ex = px - (ax + t * dx), ey = py - (ay + t * dy);
    return sqrt(ex * ex + ey * ey);
}

/* Closed segments a-b and c-d intersect (touching counts). */
static int seg_intersect(double ax, double ay, double bx, double by, double cx, double cy,
                         double dx, double dy, double tol)
{
    /* Bounding boxes first: most pairs end here. */
    if (fmin(ax, bx) > fmax(cx, dx) + tol || fmin(cx, dx) > fmax(ax, bx) + tol ||
        fmin(ay, by) > fmax(cy, dy) + tol || fmin(cy, dy) > fmax(ay, by) + tol)
        return 0;
    double o1 = orient(ax, ay, bx, by, cx, cy), o2 = orient(ax, ay, bx, by, dx, dy);
    double o3 = orient(cx, cy, dx, dy, ax, ay), o4 = orient(cx, cy, dx, dy, bx, by);
    if (((o1 > 0 && o2 < 0) || (o1 < 0 && o2 > 0)) && ((o3 > 0 && o4 < 0) || (o3 < 0 && o4 > 0)))
        return 1;
    /* Near-touching within tol counts as touching. */
    if (seg_dist(cx, cy, ax, ay, bx, by) <= tol || seg_dist(dx, dy, ax, ay, bx, by) <= tol ||
        seg_dist(ax, ay, cx, cy, dx, dy) <= tol || seg_dist(bx, by, cx, cy, dx, dy) <= tol)
        return 1;
    return 0;
}

/* Ray-crossing parity of (x, y) against a ring in the plane, and the
 * distance to the nearest edge. */
static int ring_parity(const double *px, const double *py, int n, double x, double y,
                       double *mind)
{
    int in = 0;
    for (int i = 0, j = n - 1; i < n; j = i++) {
        if ((py[i] > y) != (py[j] > y)) {
            double xi = px[j] + (y - py[j]) * (px[i] - px[j]) / (py[i] - py[j]);
            if (x < xi)
                in = !in;
        }
        double d = seg_dist(x, y, px[j], py[j], px[i], py[i]);
        if (d < *mind)
            *mind = d;
    }
    return in;
}

/* Exact fallback: re-project the polygon about p itself. */
static int poly_contains_exact(const shp_poly *pg, const geo_pt *p)
{
    int inside = 0;
    for (int r = 0; r < pg->nrings; r++) {
        const shp_ring *rg = &pg->rings[r];
        int in = 0;
        double x0 = 0, y0 = 0, xp, yp;
        if (geo_gnomonic(p, &rg->v[rg->n - 1], &xp, &yp))
            return 0;
        for (int i = 0; i < rg->n; i++) {
            double xi, yi;
            if (geo_gnomonic(p, &rg->v[i], &xi, &yi))
                return 0;
            if ((yi > y0) != (yp > y0)) {
                double xc = xp + (y0 - yp) * (xi - xp) / (yi - yp);
                if (x0 < xc)
                    in = !in;
            }
            xp = xi;
            yp = yi;
        }
        if (r == 0 && !in)
            return 0;
        if (r > 0 && in)
            return 0;
        inside = 1;
    }
    return inside;
}

/* A point projected into a polygon's gnomonic plane, with the factor k
 * that turns planar lengths there into lower bounds of true lengths: the
 * gnomonic scale is at most sec^2(theta) at angular radius theta, so a
 * geodesic of length d maps to a curve no longer than d / cos^2(theta);
 * 0.1 % is kept in hand for the ellipsoid. */
typedef struct {
    int ok;
    double x, y, k;
} planar;

/* Orthogonal projection onto pg's tangent plane. It never lengthens
 * (planar <= chord <= geodesic), wherever p is. */
static void ortho_xy(const shp_poly *pg, const geo_pt *p, double *x, double *y)
{
    double d[3] = {p->x - pg->pc.x, p->y - pg->pc.y, p->z - pg->pc.z};
    *x = pg->fr.e[0] * d[0] + pg->fr.e[1] * d[1] + pg->fr.e[2] * d[2];
    *y = pg->fr.n[0] * d[0] + pg->fr.n[1] * d[1] + pg->fr.n[2] * d[2];
}

static planar planar_of(const shp_poly *pg, const geo_pt *p)
{
    planar pl = {0, 0, 0, 0};
    if (pg->ortho) {
        /* k = 1: the projection never lengthens; eps covers the edges' sag */
        ortho_xy(pg, p, &pl.x, &pl.y);
        pl.k = 1;
        pl.ok = 1;
        return pl;
    }
    if (geo_gnomonic(&pg->pc, p, &pl.x, &pl.y))
        return pl;
    double rho = fmax(hypot(pl.x, pl.y), pg->rho_max);
    double c = cos(atan(rho / 6335439.0));
    pl.k = c * c * (1 - 1e-3);
    pl.ok = 1;
    return pl;
}

/* 1 inside, 0 outside; points within ~1 mm of the boundary may go either
 * way, which changes no distance by more than that. */
static int poly_contains_at(const shp_poly *pg, const geo_pt *p, const planar *pl)
{
    if (!pl->ok)
        return 0;
    double mind = INFINITY;
    int in_shell = 0, in_hole = 0;
    for (int r = 0; r < pg->nrings; r++) {
        const shp_ring *rg = &pg->rings[r];
        int in = ring_parity(rg->px, rg->py, rg->n, pl->x, pl->y, &mind);
        if (r == 0)
            in_shell = in;
        else if (in)
            in_hole = 1;
    }
    if (mind <= pg->eps)
        return poly_contains_exact(pg, p);
    return in_shell && !in_hole;
}

static int poly_contains(const shp_poly *pg, const geo_pt *p)
{
    if (!ball_contains_pt(&pg->ball, p))
        return 0;
    planar pl = planar_of(pg, p);
    return poly_contains_at(pg, p, &pl);
}

int shape_contains_point(const dc_shape *s, const geo_pt *p)
{
    if (s->kind == SHP_DISC)
        return geo_dist(&s->c, p) <= s->r + 1e-3;
    for (int i = 0; i < s->npoly; i++)
        if (poly_contains(&s->polys[i], p))
            return 1;
    return 0;
}

/* ---------- exact distances ---------- */

/* Distance from p to the boundary of pg, exact when below `bound`;
 * otherwise a lower bound greater than `bound`. pl (may be NULL) is p in
 * pg's plane, which prunes long edges that the balls cannot. */
static double poly_boundary_dist(const shp_poly *pg, const geo_pt *p, double bound,
                                 const planar *pl)
{
    double best = INFINITY, lbmin = INFINITY;
    int use_pl = pl && pl->ok;
    for (int r = 0; r < pg->nrings; r++) {
        const shp_ring *rg = &pg->rings[r];
        for (int c = 0; c < rg->nchunk; c++) {
            double lim = best < bound ? best : bound;
            double lb = geo_ball_dist(p, &rg->cball[c]);
            if (lb > lim) {
                if (lb < lbmin)
                    lbmin = lb;
                continue;
            }
            int end = (c + 1) * CHUNK < rg->n ? (c + 1) * CHUNK : rg->n;
            for (int i = c * CHUNK; i < end; i++) {
                lim = best < bound ? best : bound;
                double le = geo_ball_dist(p, &rg->eball[i]);
                if (use_pl) {
                    int j = (i + 1) % rg->n;
                    double lp = pl->k * (seg_dist(pl->x, pl->y, rg->px[i], rg->py[i], rg->px[j],
                                                  rg->py[j]) -
                                         pg->eps);
                    if (lp > le)
                        le = lp;
                }
                if (le > lim) {
                    if (le < lbmin)
                        lbmin = le;
                    continue;
                }
                double d = geo_point_edge_dist(p, &rg->v[i], &rg->v[(i + 1) % rg->n]);
                if (d < best)
                    best = d;
            }
        }
    }
    return best < INFINITY ? best : lbmin;
}

static double point_poly_dist(const geo_pt *p, const shp_poly *pg, double cutoff)
{
    double lb = geo_ball_dist(p, &pg->ball);
    if (lb > cutoff)
        return lb;
    planar pl = planar_of(pg, p);
    if (ball_contains_pt(&pg->ball, p) && poly_contains_at(pg, p, &pl))
        return 0;
    return poly_boundary_dist(pg, p, cutoff, &pl);
}

/* Do geodesic segments a1-a2 and b1-b2 cross or touch? Decided exactly by
 * side tests in gnomonic projections centred on a1 and on b1, where the
 * respective geodesic is a straight line through the origin. */
static int geodesic_edges_meet(const geo_pt *a1, const geo_pt *a2, const geo_pt *b1,
                               const geo_pt *b2)
{
    double ax, ay, p1x, p1y, p2x, p2y;
    if (geo_gnomonic(a1, a2, &ax, &ay) || geo_gnomonic(a1, b1, &p1x, &p1y) ||
        geo_gnomonic(a1, b2, &p2x, &p2y))
        return 0;
    double s1 = ax * p1y - ay * p1x, s2 = ax * p2y - ay * p2x;
    if ((s1 > 0 && s2 > 0) || (s1 < 0 && s2 < 0))
        return 0;
    double bx, by, q1x, q1y, q2x, q2y;
    if (geo_gnomonic(b1, b2, &bx, &by) || geo_gnomonic(b1, a1, &q1x, &q1y) ||
        geo_gnomonic(b1, a2, &q2x, &q2y))
        return 0;
    double t1 = bx * q1y - by * q1x, t2 = bx * q2y - by * q2x;
    if ((t1 > 0 && t2 > 0) || (t1 < 0 && t2 < 0))
        return 0;
    /* Both straddle: the lines cross; make sure it is within both segments
     * (collinear cases fall through to the distance computation). */
    if (s1 == 0 && s2 == 0)
        return 0;
    return 1;
}

/* Planar distance between segments p1-p2 and q1-q2 (0 when they cross),
 * and the smallest distance from an endpoint to the other segment. */
static double segseg_dist(const double *p1, const double *p2, const double *q1, const double *q2,
                          double *end_min, int *cross)
{
    double d1 = seg_dist(q1[0], q1[1], p1[0], p1[1], p2[0], p2[1]);
    double d2 = seg_dist(q2[0], q2[1], p1[0], p1[1], p2[0], p2[1]);
    double d3 = seg_dist(p1[0], p1[1], q1[0], q1[1], q2[0], q2[1]);
    double d4 = seg_dist(p2[0], p2[1], q1[0], q1[1], q2[0], q2[1]);
    double m = fmin(fmin(d1, d2), fmin(d3, d4));
    double o1 = orient(p1[0], p1[1], p2[0], p2[1], q1[0], q1[1]);
    double o2 = orient(p1[0], p1[1], p2[0], p2[1], q2[0], q2[1]);
    double o3 = orient(q1[0], q1[1], q2[0], q2[1], p1[0], p1[1]);
    double o4 = orient(q1[0], q1[1], q2[0], q2[1], p2[0], p2[1]);
    *cross = ((o1 > 0) != (o2 > 0)) && ((o3 > 0) != (o4 > 0)) && o1 != 0 && o2 != 0 && o3 != 0 &&
             o4 != 0;
    *end_min = m;
    return *cross ? 0 : m;
}

/* Above this many edge pairs, boundaries_meet first decides in B's plane
 * and runs exact tests only where the plane is ambiguous. This bounds the
 * work of adversarial inputs (long, interleaved spikes) that the ball
 * hierarchy alone cannot prune. */
#define PLANAR_MIN_PAIRS 4096

static int boundaries_meet(const shp_poly *a, const shp_poly *b)
{
    int planar_mode = (long)a->nvert * b->nvert > PLANAR_MIN_PAIRS;
    double **axy = NULL, eps = 0;
    if (planar_mode) {
        axy = calloc(a->nrings, sizeof *axy);
        double rho = b->rho_max;
        for (int r = 0; axy && r < a->nrings && planar_mode; r++) {
            const shp_ring *A = &a->rings[r];
            axy[r] = malloc(sizeof(double) * 2 * A->n);
            if (!axy[r])
                planar_mode = 0;
            for (int i = 0; planar_mode && i < A->n; i++) {
                if (b->ortho)
                    ortho_xy(b, &A->v[i], &axy[r][2 * i], &axy[r][2 * i + 1]);
                else if (geo_gnomonic(&b->pc, &A->v[i], &axy[r][2 * i], &axy[r][2 * i + 1]))
                    planar_mode = 0;
                else
                    rho = fmax(rho, hypot(axy[r][2 * i], axy[r][2 * i + 1]));
            }
        }
        if (!axy)
            planar_mode = 0;
        if (b->ortho) {
            /* Each projected edge strays at most its sag (any distance);
             * a crossing in the plane is a true one only where the plane is
             * one-to-one, so a must be near b. */
            double pc[3] = {b->pc.x, b->pc.y, b->pc.z};
            if (!(vdist(pc, a->ball.c) + a->ball.r <= ORTHO_MAX_EXT))
                planar_mode = 0;
            eps = fmax(b->eps, 1e-3 + sag_of(a->lmax));
        } else {
            /* Planar radii exceed true distances, so this over-estimates. */
            eps = 1e-3 + 1e-3 * rho * rho * rho / 4e13;
        }
    }
    int meet = 0;
    for (int ra = 0; ra < a->nrings && !meet; ra++) {
        const shp_ring *A = &a->rings[ra];
        for (int rb = 0; rb < b->nrings && !meet; rb++) {
            const shp_ring *B = &b->rings[rb];
            for (int ca = 0; ca < A->nchunk && !meet; ca++) {
                if (geo_ball_gap(&A->cball[ca], &b->ball) > 0)
                    continue;
                for (int cb = 0; cb < B->nchunk && !meet; cb++) {
                    if (geo_ball_gap(&A->cball[ca], &B->cball[cb]) > 0)
                        continue;
                    int ea = (ca + 1) * CHUNK < A->n ? (ca + 1) * CHUNK : A->n;
                    int eb = (cb + 1) * CHUNK < B->n ? (cb + 1) * CHUNK : B->n;
                    for (int i = ca * CHUNK; i < ea && !meet; i++) {
                        int i2 = (i + 1) % A->n;
                        for (int j = cb * CHUNK; j < eb; j++) {
                            int j2 = (j + 1) % B->n;
                            if (geo_ball_gap(&A->eball[i], &B->eball[j]) > 0)
                                continue;
                            if (planar_mode) {
                                double q1[2] = {B->px[j], B->py[j]}, q2[2] = {B->px[j2], B->py[j2]};
                                double end_min;
                                int cross;
                                double d = segseg_dist(&axy[ra][2 * i], &axy[ra][2 * i2], q1, q2,
                                                       &end_min, &cross);
                                double band = 2 * eps + 1e-3;
                                if (d > band)
                                    continue; /* the true edges are too far apart to meet */
                                if (cross && end_min > band) {
                                    meet = 1; /* a clear crossing, beyond any curvature */
                                    break;
                                }
                            }
                            if (geodesic_edges_meet(&A->v[i], &A->v[i2], &B->v[j], &B->v[j2])) {
                                meet = 1;
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
    if (axy)
        for (int r = 0; r < a->nrings; r++)
            free(axy[r]);
    free(axy);
    return meet;
}

static double poly_poly_dist(const shp_poly *a, const shp_poly *b, double cutoff)
{
    double lb = geo_ball_gap(&a->ball, &b->ball);
    if (lb > cutoff)
        return lb;
    /* Containment first: it is cheap and ends most overlapping cases. If
     * no boundaries cross, each ring lies wholly inside or outside the other
     * polygon, so one vertex per ring decides overlap. */
    for (int r = 0; r < a->nrings; r++)
        if (poly_contains(b, &a->rings[r].v[0]))
            return 0;
    for (int r = 0; r < b->nrings; r++)
        if (poly_contains(a, &b->rings[r].v[0]))
            return 0;
    if (boundaries_meet(a, b))
        return 0;
    /* Disjoint: the nearest pair is a vertex of one against an edge of the
     * other. */
    double best = INFINITY, lbmin = INFINITY;
    for (int pass = 0; pass < 2; pass++) {
        const shp_poly *P = pass ? b : a, *Q = pass ? a : b;
        int use_pl = Q->nvert > 64; /* a projection per vertex pays off */
        for (int r = 0; r < P->nrings; r++) {
            const shp_ring *rg = &P->rings[r];
            for (int i = 0; i < rg->n; i++) {
                double lim = best < cutoff ? best : cutoff;
                double l = geo_ball_dist(&rg->v[i], &Q->ball);
                if (l > lim) {
                    if (l < lbmin)
                        lbmin = l;
                    continue;
                }
                planar pl;
                if (use_pl)
                    pl = planar_of(Q, &rg->v[i]);
                double d = poly_boundary_dist(Q, &rg->v[i], lim, use_pl ? &pl : NULL);
                if (d <= lim && d < best)
                    best = d;
                else if (d < lbmin)
                    lbmin = d;
            }
        }
    }
    return best < INFINITY ? best : lbmin;
}

/* ---------- the fast path: a tangent plane at the point ----------
 *
 * Why: the exact intercept iteration costs 5-10 us per edge, and a
 * position report meets a handful of polygons; the tangent (ENU) plane at
 * the unit gives the same answer to a fraction of a millimetre for the
 * shapes and distances that matter, in a few nanoseconds per vertex.
 *
 * For a surface point at geodesic distance d in azimuth a from P, its
 * horizontal offset in P's tangent plane is h = rho sin(d / rho), rho the
 * radius of curvature of the normal section in that azimuth (Euler:
 * 1/rho = cos^2 a / M + sin^2 a / N); so d = rho asin(h / rho). What
 * remains (the curvature varying along the path, an edge bulging off its
 * chord by L^2 / (8 R) seen at an angle d / R, or L / (2 R) along the
 * edge: with 1 mm allowed, edges up to about 8 km) is bounded by fast_eps,
 * which is twice the sum of those terms, measured against the exact path.
 * The answer is used only when that bound is under FAST_MAX_ERR and every
 * vertex is well inside P's hemisphere; otherwise the exact path runs.
 * Point-in-polygon needs only a one-to-one map (the plane is one over the
 * hemisphere) and edges straight near P, which they are. */
#define FAST_R 6335439.0
#define FAST_MAX_ERR 1e-3
#define FAST_MAX_REACH 2.0e6

static double fast_eps(double d, double lmax)
{
    double r2 = FAST_R * FAST_R;
    return 2 * (0.02 * d * d * d / (6 * r2) + d * d * d * d * d / (40 * r2 * r2) +
                lmax * lmax * d / (8 * r2) + lmax * lmax * lmax / (16 * r2)) +
           1e-5;
}

/* Geodesic length of the tangent-plane offset (x east, y north). */
static double plane_to_geodesic(const enu_frame *f, double x, double y)
{
    double h2 = x * x + y * y;
    if (h2 <= 0)
        return 0;
    double k = (y * y * f->inv_m + x * x * f->inv_n) / h2; /* 1 / rho */
    double h = sqrt(h2), s = h * k;
    return s < 1 ? asin(s) / k : INFINITY;
}

/* p's tangent-plane coordinates of vertex v (east, north). */
static inline void fast_proj(const geo_pt *p, const enu_frame *f, const geo_pt *v, double *x,
                             double *y)
{
    double dx = v->x - p->x, dy = v->y - p->y, dz = v->z - p->z;
    *x = f->e[0] * dx + f->e[1] * dy + f->e[2] * dz;
    *y = f->n[0] * dx + f->n[1] * dy + f->n[2] * dz;
}

/* The point (*qx, *qy) of segment (px,py)-(x,y) nearest the origin, and
 * its squared distance. The witness path (below) calls this same function
 * with the same operands as the full scan, so both get the same bits. */
static inline double fast_seg(double px, double py, double x, double y, double *qx, double *qy)
{
    double sx = x - px, sy = y - py, l2 = sx * sx + sy * sy;
    double t = l2 > 0 ? -(px * sx + py * sy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    *qx = px + t * sx;
    *qy = py + t * sy;
    return *qx * *qx + *qy * *qy;
}

/* Edge i of a ring, in the loops below, runs from v[i - 1] (v[n - 1] for
 * i = 0) to v[i]. A witness window is WIT_EDGES consecutive edges, the
 * nearest in the middle (in the ingest benchmark, 3 edges answered 83 % of
 * the measurements, 5 edges 88 %, 7 edges 92 % but read more). */
#define WIT_EDGES 5

/* poly_dist_fast keeps each edge's distance for the witness when the
 * polygon has at most this many vertices (4 KB of stack). */
#define FAST_KEEP_EDGES 512

static int wit_in_window(int i, int first, int n)
{
    int k = i - first;
    if (k < 0)
        k += n;
    return k < WIT_EDGES;
}

/* Distance from p to polygon pg via p's tangent plane (0 inside). Returns
 * 1 with *out set when the error bound allows, 0 to fall back. When w is
 * not NULL and the answer is given, w is refilled for p (see "witnesses"
 * below); otherwise w is left as it was. */
static int poly_dist_fast(const geo_pt *p, const enu_frame *f, const shp_poly *pg, double *out,
                          shape_witness *w)
{
    double cx = pg->ball.c[0] - p->x, cy = pg->ball.c[1] - p->y, cz = pg->ball.c[2] - p->z;
    double reach = sqrt(cx * cx + cy * cy + cz * cz) + pg->ball.r;
    if (reach > FAST_MAX_REACH)
        return 0;
    int in_shell = 0, in_hole = 0, br = 0, bi = 0;
    double best2 = INFINITY, bx = 0, by = 0;
    /* Each edge's squared distance, kept for the witness's second look
     * (below) when the polygon is small enough: that look then reads these
     * instead of projecting every vertex again, which was half the cost of
     * a refill. The same values either way, so the same bits. */
    double seen[FAST_KEEP_EDGES];
    int keep = w && pg->nvert <= FAST_KEEP_EDGES, k = 0;
    for (int r = 0; r < pg->nrings; r++) {
        const shp_ring *rg = &pg->rings[r];
        double px, py;
        fast_proj(p, f, &rg->v[rg->n - 1], &px, &py);
        int in = 0;
        for (int i = 0; i < rg->n; i++) {
            double x, y, qx, qy;
            fast_proj(p, f, &rg->v[i], &x, &y);
            if ((y > 0) != (py > 0) && 0 < px + (0 - py) * (x - px) / (y - py))
                in = !in;
            /* nearest point of segment (px,py)-(x,y) to the origin */
            double d2 = fast_seg(px, py, x, y, &qx, &qy);
            if (keep)
                seen[k++] = d2;
            if (d2 < best2) {
                best2 = d2;
                bx = qx;
                by = qy;
                br = r;
                bi = i;
            }
            px = x;
            py = y;
        }
        if (r == 0)
            in_shell = in;
        else if (in)
            in_hole = 1;
    }
    double d = plane_to_geodesic(f, bx, by);
    if (!(fast_eps(d, pg->lmax) <= FAST_MAX_ERR))
        return 0;
    /* Within the bound of the boundary the side may be wrong, but then the
     * true separation is under the bound as well. */
    *out = (in_shell && !in_hole) ? 0 : d;
    if (w) {
        /* The window is the nearest edge and its neighbours on both sides
         * (the whole ring when it has fewer edges), so that a nearest
         * vertex has both its edges inside. lo_other: the least distance
         * to any other edge (a second pass; the vertices are in cache). */
        const shp_ring *rb = &pg->rings[br];
        int first = rb->n <= WIT_EDGES ? 0 : (bi + rb->n - WIT_EDGES / 2) % rb->n;
        double other2 = INFINITY;
        k = 0;
        for (int r = 0; r < pg->nrings; r++) {
            const shp_ring *rg = &pg->rings[r];
            if (keep) {
                for (int i = 0; i < rg->n; i++, k++)
                    if ((r != br || !wit_in_window(i, first, rg->n)) && seen[k] < other2)
                        other2 = seen[k];
                continue;
            }
            double px, py;
            fast_proj(p, f, &rg->v[rg->n - 1], &px, &py);
            for (int i = 0; i < rg->n; i++) {
                double x, y, qx, qy;
                fast_proj(p, f, &rg->v[i], &x, &y);
                if (r != br || !wit_in_window(i, first, rg->n)) {
                    double d2 = fast_seg(px, py, x, y, &qx, &qy);
                    if (d2 < other2)
                        other2 = d2;
                }
                px = x;
                py = y;
            }
        }
        w->ref[0] = p->x;
        w->ref[1] = p->y;
        w->ref[2] = p->z;
        w->v = rb->v;
        w->n = rb->n;
        w->first = first;
        w->lo_other = sqrt(other2);
        w->d_near = sqrt(best2);
        w->reach = reach;
        w->lmax = pg->lmax;
        w->state = (in_shell && !in_hole) ? 2 : 1;
    }
    return 1;
}

/* ---------- witnesses: the fast path again, a few edges at a time ----------
 *
 * Why: a unit in an open conflict is measured against the same polygon at
 * every report, and poly_dist_fast reads every vertex of it (most of the
 * cost of a report is waiting for them); yet a unit that moved 20 m is
 * nearest the same edge or its neighbours. A witness records, for one
 * polygon and one point p0: a window of WIT_EDGES consecutive edges holding
 * the nearest, lo_other (the planar distance at p0 to every other edge, at
 * least), d_near (to every edge, at least), and the planar parity. From a
 * point p1 near p0, poly_dist_witness scans the window only, and answers
 * exactly what poly_dist_fast would answer at p1, bit for bit, or declines.
 *
 * Why the answer is the same. Let q_i(p) be the planar distance, in the
 * tangent plane at p, from p to edge i's segment: the segment is the
 * orthogonal projection of the 3D chord S_i between its vertices, so
 * q_i(p) = min over x in S_i of |P_p (x - p)|, P_p the projection along
 * p's normal u_p (the east/north basis only rotates within the plane,
 * which changes no length). For x in S_i and any surface point p',
 *   |P_p' (x - p') - P_p (x - p)| <= |P_p' (p - p')| + |P_p' - P_p| |x - p|
 *                                 <= |p' - p| + sin(angle(u_p, u_p')) |x - p|.
 * Along a path of length s from p0 on the surface, |p' - p0| <= s and the
 * normal turns by at most s / CURV_R (no normal curvature of WGS84 exceeds
 * 1 / CURV_R); |x - p0| <= reach (S_i lies in the polygon's ball, which is
 * convex). So along the geodesic from p0 to p1, whose length is at most
 * s = len_bound(chord(p0, p1)), every q_i moves by at most
 *   delta = s (1 + reach / CURV_R).
 * Rounding in the computed planar distances is below 1e-8 m (coordinates
 * under FAST_MAX_REACH, a few operations each); WIT_SLACK (1e-6 m plus
 * 1e-12 of reach) covers it more than a hundred times over. Then:
 *  - Parity. The planar parity at p is the parity of the winding of the
 *    projected rings around p; it can change along the path only where
 *    some q_i reaches 0. If d_near - delta > 2 slack, no q_i comes within
 *    slack of 0 on the whole path, so the true parity at p1 is the one at
 *    p0, and the computed parity at p1 would be too (a crossing test is
 *    decided correctly when its segment is farther than the rounding).
 *  - Nearest edge. If the least computed window distance q at p1 satisfies
 *    q + delta + 2 slack < lo_other, every edge outside the window is
 *    farther than q at p1 even after rounding, so the full scan's strict
 *    minimum lies in the window; scanning the window's edges in ascending
 *    index order, through the same fast_proj and fast_seg, finds the same
 *    edge, the same nearest point and so the same d.
 *  - The rest of poly_dist_fast: its reach test passes when reach + chord
 *    + 1 mm is within FAST_MAX_REACH (triangle inequality); fast_eps runs
 *    on the same d and lmax.
 *  - Inside (state 2), the answer is 0 whatever d is, once fast_eps(d)
 *    passes; so no vertex is read. The full scan's planar distance is at
 *    most the nearest edge's at p0 (d_near) + delta + 2 slack = h (the
 *    same Lipschitz bound, upwards). Its d is asin(h k) / k with k under
 *    1 / CURV_R (every radius of curvature of WGS84 is at least b^2 / a,
 *    which CURV_R rounds down), and asin(h k) / k grows with k: so d is at
 *    most CURV_R asin(h / CURV_R), kept 1e-9 high against rounding; and
 *    fast_eps grows with d (with rounding too: every step is monotonic).
 *    If fast_eps passes at that bound, it passes at d.
 * Anything else declines, and the caller runs the full scan. */
#define WIT_SLACK 1e-6

static int poly_dist_witness(const geo_pt *p, const enu_frame *f, const shape_witness *w,
                             double *out)
{
    double dx = p->x - w->ref[0], dy = p->y - w->ref[1], dz = p->z - w->ref[2];
    double m = sqrt(dx * dx + dy * dy + dz * dz);
    if (!(w->reach + m + 1e-3 <= FAST_MAX_REACH))
        return 0;
    double delta = len_bound(m) * (1 + w->reach / CURV_R);
    double slack = WIT_SLACK + 1e-12 * w->reach;
    if (!(w->d_near - delta > 2 * slack))
        return 0;
    if (w->state == 2) {
        double h = w->d_near + delta + 2 * slack;
        if (!(h < CURV_R &&
              fast_eps(CURV_R * asin(h / CURV_R) * (1 + 1e-9), w->lmax) <= FAST_MAX_ERR))
            return 0;
        *out = 0;
        return 1;
    }
    /* The window's vertices, each projected once: position j + 1 holds
     * vertex first + j (mod n), j = -1 .. k - 1, so that the window's edge
     * at position j runs from wx[j] to wx[j + 1] (edge i runs from vertex
     * i - 1 to i). The same fast_proj on the same operands as projecting
     * each edge's two ends apart, so the same bits, with k + 1 projections
     * instead of 2k and no division for the indices. */
    int n = w->n, k = n < WIT_EDGES ? n : WIT_EDGES;
    double wx[WIT_EDGES + 1], wy[WIT_EDGES + 1];
    int vi = w->first == 0 ? n - 1 : w->first - 1;
    for (int j = 0; j <= k; j++) {
        fast_proj(p, f, &w->v[vi], &wx[j], &wy[j]);
        if (++vi == n)
            vi = 0;
    }
    /* The edges in ascending index order (the full scan's order, which
     * decides ties): when the window wraps past the ring's last edge, its
     * positions from n - first on hold the edges 0, 1, ..., and come
     * first. */
    int wrap = w->first + k > n ? n - w->first : k;
    double best2 = INFINITY, bx = 0, by = 0;
    for (int t = 0; t < k; t++) {
        int j = t < k - wrap ? wrap + t : t - (k - wrap);
        double qx, qy;
        double d2 = fast_seg(wx[j], wy[j], wx[j + 1], wy[j + 1], &qx, &qy);
        if (d2 < best2) {
            best2 = d2;
            bx = qx;
            by = qy;
        }
    }
    if (!(sqrt(best2) + delta + 2 * slack < w->lo_other))
        return 0;
    double d = plane_to_geodesic(f, bx, by);
    if (!(fast_eps(d, w->lmax) <= FAST_MAX_ERR))
        return 0;
    *out = d; /* outside */
    return 1;
}

/* Chord between two surface points: short of the geodesic by about
 * c^3 / (24 R^2); corrected for that, under 0.1 mm below 5 km. */
static double point_dist_fast(const geo_pt *a, const geo_pt *b)
{
    double c = geo_chord(a, b);
    return c < 5000 ? c * (1 + c * c / (24 * FAST_R * 6371008.8)) : geo_dist(a, b);
}

/* A witness answer is used only when the separation it gives is below
 * cutoff by this much; see shape_separation_disc_w. */
#define WIT_CUTOFF_MARGIN 1.0

static double separation_disc(const geo_pt *c, double r, const dc_shape *b, double cutoff,
                              shape_witness *w)
{
    enu_frame f;
    int have_f = 0;
    /* A filled witness was filled with this b, which is therefore a single
     * polygon: b itself (a cache miss) need not be read to know it. */
    if (w && w->state && w->shape == b) {
        /* Shortcut, bit for bit the value of the full path below: the
         * polygon term is poly_dist_fast's (see poly_dist_witness). The
         * full path could also end earlier, at one of its two ball tests,
         * returning a lower bound instead; it does not here, because each
         * ball lower bound is at most the true separation, which is within
         * FAST_MAX_ERR (1 mm) of d + r from the centre, and d is at least
         * WIT_CUTOFF_MARGIN (1 m) under cutoff: so lb <= d + 1 mm < cutoff
         * and the full path reaches poly_dist_fast as well. */
        double d;
        f = enu_at(c);
        have_f = 1;
        if (poly_dist_witness(c, &f, w, &d)) {
            d -= r;
            if (d + WIT_CUTOFF_MARGIN < cutoff)
                return d > 0 ? d : 0;
            /* Beyond cutoff: every way out of the full path is beyond it
             * too (a ball lower bound above cutoff, or this very d - r),
             * and beyond cutoff shape.h promises only "greater than
             * cutoff". A unit near a volume but out of its reach paid a
             * full scan at each such measurement (bench_engine A: 470,732
             * full scans in 2M reports before, 409,043 with this). */
            if (d > cutoff)
                return d;
        }
    }
    if (b->kind != SHP_POLY || b->npoly != 1)
        w = NULL; /* witnesses cover one polygon */
    if (w && w->shape != b) { /* filled with another shape: of no use here */
        memset(w, 0, sizeof *w);
        w->shape = b;
    }
    geo_ball ball = {{c->x, c->y, c->z}, r + 1e-3};
    double lb = geo_ball_gap(&ball, &b->ball);
    if (lb > cutoff)
        return lb;
    if (b->kind == SHP_DISC) {
        double d = point_dist_fast(c, &b->c) - r - b->r;
        return d > 0 ? d : 0;
    }
    double best = INFINITY;
    if (!have_f)
        f = enu_at(c);
    for (int i = 0; i < b->npoly; i++) {
        double d;
        if (geo_ball_dist(c, &b->polys[i].ball) > cutoff + r)
            d = geo_ball_dist(c, &b->polys[i].ball);
        else if (!poly_dist_fast(c, &f, &b->polys[i], &d, w))
            d = point_poly_dist(c, &b->polys[i], cutoff + r);
        d -= r;
        if (d < best)
            best = d;
        if (best <= 0)
            return 0;
    }
    return best;
}

double shape_separation_disc(const geo_pt *c, double r, const dc_shape *b, double cutoff)
{
    return separation_disc(c, r, b, cutoff, NULL);
}

double shape_separation_disc_w(const geo_pt *c, double r, const dc_shape *b, double cutoff,
                               shape_witness *w)
{
    return separation_disc(c, r, b, cutoff, w);
}

/* prefetch_span asks for the cache lines of v[0..n), n >= 1. */
static void prefetch_span(const geo_pt *v, int n)
{
    const char *a = (const char *)v, *end = (const char *)(v + n);
    for (; a < end; a += 64)
        __builtin_prefetch(a);
    __builtin_prefetch(end - 1);
}

void shape_witness_prefetch(const shape_witness *w)
{
    if (w->state != 1)
        return; /* empty, or inside: no vertex will be read */
    /* vertices first - 1 .. first + k - 1 (mod n): one or two runs, a
     * prefetch per cache line of each (no division per vertex) */
    int n = w->n, k = n < WIT_EDGES ? n : WIT_EDGES;
    int lo = w->first == 0 ? n - 1 : w->first - 1, cnt = k + 1;
    int run1 = lo + cnt <= n ? cnt : n - lo;
    prefetch_span(&w->v[lo], run1);
    if (run1 < cnt)
        prefetch_span(&w->v[0], cnt - run1);
}

int shape_witness_check(const dc_shape *b, const shape_witness *w)
{
    if (!w->state)
        return 0;
    if (w->state != 1 && w->state != 2)
        return -1;
    if (b->kind != SHP_POLY || b->npoly != 1 || w->shape != b)
        return -1;
    const shp_poly *pg = &b->polys[0];
    int found = 0;
    for (int r = 0; r < pg->nrings; r++)
        found |= pg->rings[r].v == w->v && pg->rings[r].n == w->n;
    if (!found || w->first < 0 || w->first >= w->n || w->lmax != pg->lmax)
        return -1;
    /* Recompute at p0 (its frame from its ECEF position, which may differ
     * from the one used in the last bits: hence the tolerance, well inside
     * the 2 WIT_SLACK that poly_dist_witness keeps). */
    geo_pt p = geo_pt_from_ecef(w->ref);
    if (geo_chord(&p, &(geo_pt){0, 0, w->ref[0], w->ref[1], w->ref[2]}) > 1e-6)
        return -1;
    enu_frame f = enu_at(&p);
    const double tol = 1e-7;
    double cx = pg->ball.c[0] - p.x, cy = pg->ball.c[1] - p.y, cz = pg->ball.c[2] - p.z;
    double reach = sqrt(cx * cx + cy * cy + cz * cz) + pg->ball.r;
    if (w->reach < reach - tol)
        return -1;
    int in_shell = 0, in_hole = 0;
    for (int r = 0; r < pg->nrings; r++) {
        const shp_ring *rg = &pg->rings[r];
        double px, py;
        fast_proj(&p, &f, &rg->v[rg->n - 1], &px, &py);
        int in = 0;
        for (int i = 0; i < rg->n; i++) {
            double x, y, qx, qy;
            fast_proj(&p, &f, &rg->v[i], &x, &y);
            if ((y > 0) != (py > 0) && 0 < px + (0 - py) * (x - px) / (y - py))
                in = !in;
            double q = sqrt(fast_seg(px, py, x, y, &qx, &qy));
            if (q < w->d_near - tol)
                return -1;
            if (!(rg->v == w->v && wit_in_window(i, w->first, rg->n)) && q < w->lo_other - tol)
                return -1;
            px = x;
            py = y;
        }
        if (r == 0)
            in_shell = in;
        else if (in)
            in_hole = 1;
    }
    if (w->d_near > 1e-3 && (in_shell && !in_hole) != (w->state == 2))
        return -1;
    return 0;
}

/* ---------- the fast path for two polygons ----------
 *
 * Why: a new 100-vertex operation meets site polygons and other volumes
 * within a few kilometres; the exact path measures every vertex against
 * every nearby edge with the intercept iteration (5-10 us each), which was
 * most of a submit. Here both polygons are projected orthogonally onto the
 * tangent plane at a surface point O between them, and three facts make
 * every decision rigorous, with no measured constant:
 *
 *  1. Orthogonal projection never lengthens: planar <= chord <= geodesic.
 *  2. A geodesic's curvature as a space curve is its normal curvature, at
 *     most 1 / CURV_R (CURV_R = b^2 / a, the least radius of curvature of
 *     WGS84). A curve f of length s with |f''| <= k deviates from the
 *     uniform parametrisation of its chord by at most k u (s - u) / 2 <=
 *     k s^2 / 8; so a projected edge stays, point by point, within
 *     sag = s^2 / (8 CURV_R) of the straight segment between its projected
 *     vertices (which project exactly).
 *  3. Schur's comparison theorem: such a curve's chord c >= 2 R sin(s / 2R),
 *     so s <= len_bound(c) = 2 R asin(c / 2R) (used for edge lengths too).
 *
 * Consequences, with sag_P and sag_Q the two polygons' bounds:
 *  - a vertex w of P is at least planar(w, Q') - sag_Q from Q's boundary
 *    (Q' the straight-edged planar polygon);
 *  - if two straight edges cross and every endpoint is farther than
 *    sag_P + sag_Q from the other edge, the true edges cross (bending each
 *    by at most its sag never moves an edge through the other's endpoint,
 *    so the crossing parity survives);
 *  - if every edge pair is farther apart than sag_P + sag_Q, the boundaries
 *    are disjoint, and a vertex's planar inside/outside test against the
 *    other polygon is the true one (same argument, and the projection is
 *    one-to-one this close to O);
 *  - upward: the surface over the plane has slope at most tan(tilt), tilt
 *    the largest angle between a normal within `reach` of O and O's normal
 *    (<= distance / CURV_R; twice that is used), so a planar length p is a
 *    chord of at most p (1 + tilt^2) and a geodesic of at most len_bound of
 *    that: ub(w) = len_bound((planar(w, Q') + sag_Q) (1 + tilt^2)).
 *
 * The sweep over edge pairs (chunk discs first, nearest first) finds a
 * clear crossing (answer 0), or proves the boundaries apart; then the one
 * ring vertex per ring decides containment (answer 0); otherwise the only
 * vertices that can be nearest (lower bound under the least upper bound)
 * are measured, nearest first, with the unit path poly_dist_fast (within
 * FAST_MAX_ERR) or exactly. Edges within sag of each other without a clear
 * crossing (touching shapes) are left to the exact path. */
#define PP_MAX_REACH 100e3   /* chord from O to the far side of either ball */
#define PP_MAX_SAG 0.5       /* beyond this, near-contacts are too blurred */
#define PP_MAX_CHUNK_PAIRS 65536

typedef struct {
    double gap;
    int ca, cb; /* flat chunk indices */
} pp_pair;

typedef struct {
    int ring, chunk;
    double x, y, r;
} pp_chunk;

typedef struct {
    const shp_poly *pg;
    int nv, nc;
    int *roff;    /* first flat vertex of each ring */
    double *xy;   /* projected vertices */
    double *pd;   /* planar distance of each vertex to the other polygon */
    pp_chunk *ch; /* projected chunk balls (a ball projects to a disc) */
    double sag;
} pp_side;

static int pp_pair_cmp(const void *x, const void *y)
{
    double a = ((const pp_pair *)x)->gap, b = ((const pp_pair *)y)->gap;
    return a < b ? -1 : a > b;
}

static void pp_project(pp_side *S, const enu_frame *f, const double o[3])
{
    const shp_poly *pg = S->pg;
    int k = 0, kc = 0;
    for (int r = 0; r < pg->nrings; r++) {
        const shp_ring *rg = &pg->rings[r];
        S->roff[r] = k;
        for (int i = 0; i < rg->n; i++, k++) {
            double d[3] = {rg->v[i].x - o[0], rg->v[i].y - o[1], rg->v[i].z - o[2]};
            S->xy[2 * k] = f->e[0] * d[0] + f->e[1] * d[1] + f->e[2] * d[2];
            S->xy[2 * k + 1] = f->n[0] * d[0] + f->n[1] * d[1] + f->n[2] * d[2];
            S->pd[k] = INFINITY;
        }
        for (int c = 0; c < rg->nchunk; c++, kc++) {
            const geo_ball *b = &rg->cball[c];
            double d[3] = {b->c[0] - o[0], b->c[1] - o[1], b->c[2] - o[2]};
            S->ch[kc].ring = r;
            S->ch[kc].chunk = c;
            S->ch[kc].x = f->e[0] * d[0] + f->e[1] * d[1] + f->e[2] * d[2];
            S->ch[kc].y = f->n[0] * d[0] + f->n[1] * d[1] + f->n[2] * d[2];
            S->ch[kc].r = b->r;
        }
    }
}

/* Planar inside test of point (x, y) against the straight-edged projection
 * of S's polygon (shell minus holes). */
static int pp_inside(const pp_side *S, double x, double y)
{
    int in_shell = 0, in_hole = 0;
    for (int r = 0; r < S->pg->nrings; r++) {
        const double *v = &S->xy[2 * S->roff[r]];
        int n = S->pg->rings[r].n, in = 0;
        for (int i = 0, j = n - 1; i < n; j = i++) {
            double yi = v[2 * i + 1], yj = v[2 * j + 1];
            if ((yi > y) != (yj > y)) {
                double xc = v[2 * j] + (y - yj) * (v[2 * i] - v[2 * j]) / (yi - yj);
                if (x < xc)
                    in = !in;
            }
        }
        if (r == 0)
            in_shell = in;
        else if (in)
            in_hole = 1;
    }
    return in_shell && !in_hole;
}

/* Distance from a vertex to polygon q, within FAST_MAX_ERR when at most
 * lim (else some value above lim, a lower bound when exact). */
static double pp_vertex_dist(const geo_pt *w, const shp_poly *q, double lim)
{
    enu_frame f = enu_at(w);
    double d;
    if (poly_dist_fast(w, &f, q, &d, NULL))
        return d;
    return point_poly_dist(w, q, lim);
}

typedef struct {
    double lb;
    int side, k;
} pp_cand;

static int pp_cand_cmp(const void *x, const void *y)
{
    double a = ((const pp_cand *)x)->lb, b = ((const pp_cand *)y)->lb;
    return a < b ? -1 : a > b;
}

static const geo_pt *pp_vertex(const pp_side *S, int k)
{
    int r = 0;
    while (r + 1 < S->pg->nrings && S->roff[r + 1] <= k)
        r++;
    return &S->pg->rings[r].v[k - S->roff[r]];
}

/* Returns 1 with *out set (the separation within FAST_MAX_ERR when it is at
 * most cutoff, otherwise a lower bound above cutoff), or 0 to fall back to
 * the exact path. */
static int poly_poly_fast(const shp_poly *a, const shp_poly *b, double cutoff, double *out)
{
    double m[3] = {(a->ball.c[0] + b->ball.c[0]) / 2, (a->ball.c[1] + b->ball.c[1]) / 2,
                   (a->ball.c[2] + b->ball.c[2]) / 2};
    geo_pt og = geo_pt_from_ecef(m);
    double o[3] = {og.x, og.y, og.z};
    double reach = fmax(vdist(o, a->ball.c) + a->ball.r, vdist(o, b->ball.c) + b->ball.r);
    if (!(reach <= PP_MAX_REACH))
        return 0;
    pp_side S[2] = {{.pg = a}, {.pg = b}};
    for (int s = 0; s < 2; s++) {
        S[s].nv = S[s].pg->nvert;
        S[s].sag = sag_of(S[s].pg->lmax);
        for (int r = 0; r < S[s].pg->nrings; r++)
            S[s].nc += S[s].pg->rings[r].nchunk;
    }
    double near = S[0].sag + S[1].sag + PP_SLACK;
    if (!(near <= PP_MAX_SAG) || (long)S[0].nc * S[1].nc > PP_MAX_CHUNK_PAIRS)
        return 0;
    double sagmax = fmax(S[0].sag, S[1].sag);
    double tilt = 2 * len_bound(reach) / CURV_R, stretch = 1 + tilt * tilt;

    /* One block for everything; small cases stay on the stack. */
    size_t nv = (size_t)S[0].nv + S[1].nv, nc = (size_t)S[0].nc + S[1].nc;
    size_t nr = (size_t)a->nrings + b->nrings, npairs = (size_t)S[0].nc * S[1].nc;
    size_t bytes = nv * 3 * sizeof(double) + nc * sizeof(pp_chunk) + npairs * sizeof(pp_pair) +
                   nv * sizeof(pp_cand) + nr * sizeof(int) + 64;
    _Alignas(16) unsigned char stackbuf[16384];
    unsigned char *mem = bytes <= sizeof stackbuf ? stackbuf : malloc(bytes);
    if (!mem)
        return 0;
    unsigned char *p = mem;
    for (int s = 0; s < 2; s++) {
        S[s].xy = (double *)p;
        p += sizeof(double) * 2 * S[s].nv;
        S[s].pd = (double *)p;
        p += sizeof(double) * S[s].nv;
    }
    pp_chunk *chunks = (pp_chunk *)p;
    S[0].ch = chunks;
    S[1].ch = chunks + S[0].nc;
    p += sizeof(pp_chunk) * nc;
    pp_pair *pairs = (pp_pair *)p;
    p += sizeof(pp_pair) * npairs;
    pp_cand *cands = (pp_cand *)p;
    p += sizeof(pp_cand) * nv;
    S[0].roff = (int *)p;
    S[1].roff = S[0].roff + a->nrings;

    enu_frame f = enu_at(&og);
    pp_project(&S[0], &f, o);
    pp_project(&S[1], &f, o);

    /* Chunk pairs that can matter, nearest first. Nothing beyond
     * cutoff + sagmax can change the answer, nor hide a contact. */
    double tau = fmax(cutoff + sagmax, near);
    double skipped = INFINITY; /* least planar gap of what was skipped */
    size_t np = 0;
    for (int i = 0; i < S[0].nc; i++)
        for (int j = 0; j < S[1].nc; j++) {
            const pp_chunk *A = &S[0].ch[i], *B = &S[1].ch[j];
            double g = hypot(A->x - B->x, A->y - B->y) - A->r - B->r;
            if (g <= tau)
                pairs[np++] = (pp_pair){g, i, j};
            else if (g < skipped)
                skipped = g;
        }
    if (np > 1)
        qsort(pairs, np, sizeof *pairs, pp_pair_cmp);

    int ambiguous = 0, result = 1;
    double pdmin = INFINITY;
    for (size_t q = 0; q < np; q++) {
        double lim = fmax(tau, near);
        if (pairs[q].gap > lim) {
            skipped = fmin(skipped, pairs[q].gap);
            break;
        }
        const pp_chunk *CA = &S[0].ch[pairs[q].ca], *CB = &S[1].ch[pairs[q].cb];
        const shp_ring *RA = &a->rings[CA->ring], *RB = &b->rings[CB->ring];
        const double *va = &S[0].xy[2 * S[0].roff[CA->ring]];
        const double *vb = &S[1].xy[2 * S[1].roff[CB->ring]];
        double *pda = &S[0].pd[S[0].roff[CA->ring]], *pdb = &S[1].pd[S[1].roff[CB->ring]];
        int ia0 = CA->chunk * CHUNK, ia1 = ia0 + CHUNK < RA->n ? ia0 + CHUNK : RA->n;
        int jb0 = CB->chunk * CHUNK, jb1 = jb0 + CHUNK < RB->n ? jb0 + CHUNK : RB->n;
        for (int i = ia0; i < ia1; i++) {
            int i2 = i + 1 < RA->n ? i + 1 : 0;
            const double *p1 = &va[2 * i], *p2 = &va[2 * i2];
            double axl = fmin(p1[0], p2[0]), axh = fmax(p1[0], p2[0]);
            double ayl = fmin(p1[1], p2[1]), ayh = fmax(p1[1], p2[1]);
            for (int j = jb0; j < jb1; j++) {
                int j2 = j + 1 < RB->n ? j + 1 : 0;
                const double *q1 = &vb[2 * j], *q2 = &vb[2 * j2];
                lim = fmax(tau, near);
                /* the boxes' gap bounds every distance between the edges */
                double gx = fmax(fmin(q1[0], q2[0]) - axh, axl - fmax(q1[0], q2[0]));
                double gy = fmax(fmin(q1[1], q2[1]) - ayh, ayl - fmax(q1[1], q2[1]));
                if (gx > lim || gy > lim) {
                    skipped = fmin(skipped, fmax(gx, gy));
                    continue;
                }
                double d1 = seg_dist(p1[0], p1[1], q1[0], q1[1], q2[0], q2[1]);
                double d2 = seg_dist(q1[0], q1[1], p1[0], p1[1], p2[0], p2[1]);
                if (d1 < pda[i])
                    pda[i] = d1;
                if (d2 < pdb[j])
                    pdb[j] = d2;
                double dm = fmin(d1, d2);
                if (dm < pdmin) {
                    pdmin = dm;
                    double ub = len_bound((pdmin + sagmax) * stretch);
                    tau = fmin(cutoff, ub) + sagmax;
                }
                if (gx > near || gy > near)
                    continue;
                double d3 = seg_dist(p2[0], p2[1], q1[0], q1[1], q2[0], q2[1]);
                double d4 = seg_dist(q2[0], q2[1], p1[0], p1[1], p2[0], p2[1]);
                double endmin = fmin(fmin(d1, d2), fmin(d3, d4));
                double o1 = orient(p1[0], p1[1], p2[0], p2[1], q1[0], q1[1]);
                double o2 = orient(p1[0], p1[1], p2[0], p2[1], q2[0], q2[1]);
                double o3 = orient(q1[0], q1[1], q2[0], q2[1], p1[0], p1[1]);
                double o4 = orient(q1[0], q1[1], q2[0], q2[1], p2[0], p2[1]);
                int cross = ((o1 > 0 && o2 < 0) || (o1 < 0 && o2 > 0)) &&
                            ((o3 > 0 && o4 < 0) || (o3 < 0 && o4 > 0));
                if (cross && endmin > near) {
                    *out = 0; /* a clear crossing, beyond any bending */
                    goto done;
                }
                if (cross || endmin <= near)
                    ambiguous = 1;
            }
        }
    }
    if (ambiguous) {
        result = 0;
        goto done;
    }
    /* Boundaries apart: one vertex per ring decides containment. */
    for (int s = 0; s < 2; s++)
        for (int r = 0; r < S[s].pg->nrings; r++) {
            const double *v = &S[s].xy[2 * S[s].roff[r]];
            if (pp_inside(&S[1 - s], v[0], v[1])) {
                *out = 0;
                goto done;
            }
        }
    /* Disjoint: measure the vertices that can be nearest, nearest first. */
    double ubmin = len_bound((pdmin + sagmax) * stretch);
    double keep = fmin(cutoff, ubmin);
    size_t ncand = 0;
    double lbrest = skipped - sagmax; /* every vertex not listed is farther */
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < S[s].nv; k++) {
            double lb = S[s].pd[k] - S[1 - s].sag;
            if (lb <= keep)
                cands[ncand++] = (pp_cand){lb, s, k};
            else if (lb < lbrest)
                lbrest = lb;
        }
    if (ncand > 1)
        qsort(cands, ncand, sizeof *cands, pp_cand_cmp);
    double best = INFINITY, lbmin = lbrest;
    for (size_t c = 0; c < ncand; c++) {
        double lim = fmin(best, cutoff);
        if (cands[c].lb > lim) {
            lbmin = fmin(lbmin, cands[c].lb);
            break;
        }
        const geo_pt *w = pp_vertex(&S[cands[c].side], cands[c].k);
        double d = pp_vertex_dist(w, S[1 - cands[c].side].pg, lim);
        if (d <= lim && d < best)
            best = d;
        else if (d < lbmin)
            lbmin = d;
    }
    /* Nothing measured within cutoff: every vertex is then farther than
     * cutoff (to within FAST_MAX_ERR); say so unambiguously. */
    *out = best < INFINITY ? best : fmax(lbmin, nextafter(cutoff, INFINITY));
done:
    if (mem != stackbuf)
        free(mem);
    return result;
}

/* Both shapes as (disc, polygons) with a the disc when there is one. */
static double separation(const dc_shape *a, const dc_shape *b, double cutoff, int fast)
{
    double lb = geo_ball_gap(&a->ball, &b->ball);
    if (lb > cutoff)
        return lb;
    if (a->kind == SHP_DISC && b->kind == SHP_DISC) {
        double d = (fast ? point_dist_fast(&a->c, &b->c) : geo_dist(&a->c, &b->c)) - a->r - b->r;
        return d > 0 ? d : 0;
    }
    if (b->kind == SHP_DISC) {
        const dc_shape *t = a;
        a = b;
        b = t;
    }
    if (a->kind == SHP_DISC && fast)
        return shape_separation_disc(&a->c, a->r, b, cutoff);
    double best = INFINITY;
    if (a->kind == SHP_DISC) {
        for (int j = 0; j < b->npoly; j++) {
            double d = point_poly_dist(&a->c, &b->polys[j], cutoff + a->r) - a->r;
            if (d < best)
                best = d;
        }
        return best > 0 ? best : 0;
    }
    for (int i = 0; i < a->npoly; i++)
        for (int j = 0; j < b->npoly; j++) {
            const shp_poly *pa = &a->polys[i], *pb = &b->polys[j];
            double d = geo_ball_gap(&pa->ball, &pb->ball);
            if (d <= cutoff && !(fast && poly_poly_fast(pa, pb, cutoff, &d)))
                d = poly_poly_dist(pa, pb, cutoff);
            if (d < best)
                best = d;
            if (best <= 0)
                return 0;
        }
    return best;
}

double shape_separation(const dc_shape *a, const dc_shape *b, double cutoff)
{
    return separation(a, b, cutoff, 1);
}

double shape_separation_exact(const dc_shape *a, const dc_shape *b, double cutoff)
{
    return separation(a, b, cutoff, 0);
}

/* ---------- parsing and validation ---------- */

static int fail(shape_error *err, const char *field, const char *fmt, const char *detail)
{
    snprintf(err->field, sizeof err->field, "%s", field);
    snprintf(err->message, sizeof err->message, fmt, detail ? detail : "");
    return -1;
}

static int parse_position(const json_t *pos, double *lon, double *lat, const char *field,
                          shape_error *err)
{
    if (!json_is_array(pos) || json_array_size(pos) < 2 || json_array_size(pos) > 3)
        return fail(err, field, "a position must be an array [lon, lat] or [lon, lat, alt]%s", "");
    for (size_t i = 0; i < json_array_size(pos); i++)
        if (!json_is_number(json_array_get(pos, i)))
            return fail(err, field, "position values must be numbers%s", "");
    *lon = json_number_value(json_array_get(pos, 0));
    *lat = json_number_value(json_array_get(pos, 1));
    if (!isfinite(*lon) || !isfinite(*lat))
        return fail(err, field, "coordinates must be finite%s", "");
    if (*lon < -180 || *lon > 180)
        return fail(err, field, "longitude must be within [-180, 180]%s", "");
    if (*lat < -90 || *lat > 90)
        return fail(err, field, "latitude must be within [-90, 90]%s", "");
    return 0;
}

static int ring_alloc(shp_ring *r, int n)
{
    r->n = n;
    r->nchunk = (n + CHUNK - 1) / CHUNK;
    r->v = malloc(sizeof *r->v * n);
    r->len = malloc(sizeof *r->len * n);
    r->eball = malloc(sizeof *r->eball * n);
    r->cball = malloc(sizeof *r->cball * r->nchunk);
    r->px = malloc(sizeof *r->px * n);
    r->py = malloc(sizeof *r->py * n);
    return r->v && r->len && r->eball && r->cball && r->px && r->py ? 0 : -1;
}

/* Reads a ring's vertices, dropping the closing vertex and consecutive
 * repeats (they change nothing about the shape). */
static int parse_ring(const json_t *coords, shp_ring *r, const char *field, shape_error *err)
{
    char f[160];
    if (!json_is_array(coords))
        return fail(err, field, "a ring must be an array of positions%s", "");
    size_t np = json_array_size(coords);
    if (np < 4)
        return fail(err, field, "a ring needs at least 4 positions (closed), got fewer%s", "");
    if (np > SHAPE_MAX_RING_VERTICES + 1)
        return fail(err, field, "a ring may have at most 10000 vertices%s", "");
    if (ring_alloc(r, (int)np))
        return -2;
    int n = 0;
    double flon = 0, flat = 0, llon = 0, llat = 0;
    for (size_t i = 0; i < np; i++) {
        double lon, lat;
        if (parse_position(json_array_get(coords, i), &lon, &lat, field, err)) {
            /* name the offending position (formatted only on failure) */
            snprintf(f, sizeof f, "%s[%zu]", field, i);
            snprintf(err->field, sizeof err->field, "%s", f);
            return -1;
        }
        if (i == 0) {
            flon = lon;
            flat = lat;
        }
        llon = lon;
        llat = lat;
        if (i == np - 1)
            break;
        if (n > 0 && r->v[n - 1].lon == (lon >= 180 ? lon - 360 : lon) && r->v[n - 1].lat == lat)
            continue;
        r->v[n++] = geo_pt_make(lon, lat);
    }
    if (flon != llon || flat != llat)
        return fail(err, field, "a ring must be closed: the last position must equal the first%s",
                    "");
    while (n > 1 && r->v[n - 1].lon == r->v[0].lon && r->v[n - 1].lat == r->v[0].lat)
        n--;
    if (n < 3)
        return fail(err, field, "a ring needs at least 3 distinct vertices%s", "");
    r->n = n;
    r->nchunk = (n + CHUNK - 1) / CHUNK;
    return 0;
}

static void ring_measure(shp_ring *r)
{
    for (int i = 0; i < r->n; i++) {
        const geo_pt *a = &r->v[i], *b = &r->v[(i + 1) % r->n];
        /* An upper bound is all the balls and lmax need (they only have to
         * contain the edge, or over-estimate an error). */
        r->len[i] = len_bound(geo_chord(a, b));
        r->eball[i] = ball_of_edge(a, b, r->len[i]);
    }
    for (int c = 0; c < r->nchunk; c++) {
        int end = (c + 1) * CHUNK < r->n ? (c + 1) * CHUNK : r->n;
        r->cball[c] = ball_union(&r->eball[c * CHUNK], end - c * CHUNK);
    }
}

static void ring_project(shp_ring *r, const shp_poly *pg)
{
    for (int i = 0; i < r->n; i++) {
        if (pg->ortho)
            ortho_xy(pg, &r->v[i], &r->px[i], &r->py[i]);
        else if (geo_gnomonic(&pg->pc, &r->v[i], &r->px[i], &r->py[i]))
            r->px[i] = r->py[i] = NAN;
    }
}

/* Do geodesic edges a1-a2 and b1-b2 cross, or come within tol? Exact, for
 * the pairs the plane cannot decide. */
static int edges_touch_exact(const geo_pt *a1, const geo_pt *a2, const geo_pt *b1,
                             const geo_pt *b2, double tol)
{
    return geodesic_edges_meet(a1, a2, b1, b2) || geo_point_edge_dist(a1, b1, b2) <= tol ||
           geo_point_edge_dist(a2, b1, b2) <= tol || geo_point_edge_dist(b1, a1, a2) <= tol ||
           geo_point_edge_dist(b2, a1, a2) <= tol;
}

/* Sum of signed longitude steps: about +-360 when the ring winds around a
 * pole. */
static int ring_encloses_pole(const shp_ring *r)
{
    double sum = 0;
    for (int i = 0; i < r->n; i++) {
        double d = r->v[(i + 1) % r->n].lon - r->v[i].lon;
        if (d > 180)
            d -= 360;
        if (d < -180)
            d += 360;
        sum += d;
    }
    return fabs(sum) > 180;
}

/* Self-intersection and ring-to-ring crossings, in the polygon's plane
 * (touching within 1 mm is treated as touching). In the gnomonic plane the
 * edges are straight to within eps; in the tangent plane, pairs within the
 * edges' sag are decided exactly. Chunk balls keep it near-linear for long rings. */
static int rings_cross(const shp_ring *A, const shp_ring *B, int same, double band, int *budget,
                       int *ia, int *ib)
{
    const double tol = 1e-3;
    for (int ca = 0; ca < A->nchunk; ca++) {
        for (int cb = same ? ca : 0; cb < B->nchunk; cb++) {
            if (balls_apart(&A->cball[ca], &B->cball[cb]))
                continue;
            int ea = (ca + 1) * CHUNK < A->n ? (ca + 1) * CHUNK : A->n;
            int eb = (cb + 1) * CHUNK < B->n ? (cb + 1) * CHUNK : B->n;
            for (int i = ca * CHUNK; i < ea; i++) {
                int i2 = (i + 1) % A->n;
                for (int j = (same && cb == ca) ? i + 1 : cb * CHUNK; j < eb; j++) {
                    int j2 = (j + 1) % B->n;
                    if (balls_apart(&A->eball[i], &B->eball[j]))
                        continue;
                    if (same && (j == i2 || i == j2)) {
                        /* Adjacent edges share a vertex; they must not fold
                         * back onto each other. */
                        int shared = (j == i2) ? i2 : i;
                        int pa = (j == i2) ? i : i2, pb = (j == i2) ? j2 : j;
                        if (pa == pb && A->n == 3)
                            continue;
                        double o = orient(A->px[pa], A->py[pa], A->px[shared], A->py[shared],
                                          A->px[pb], A->py[pb]);
                        double dx1 = A->px[pa] - A->px[shared], dy1 = A->py[pa] - A->py[shared];
                        double dx2 = A->px[pb] - A->px[shared], dy2 = A->py[pb] - A->py[shared];
                        double l1 = hypot(dx1, dy1), l2 = hypot(dx2, dy2);
                        if (fabs(o) <= 1e-9 * l1 * l2 && dx1 * dx2 + dy1 * dy2 > 0) {
                            *ia = i;
                            *ib = j;
                            return 1;
                        }
                        continue;
                    }
                    /* band: how far edges may stray from their segments in
                     * the tangent plane; what falls within it is decided
                     * exactly (0 in the gnomonic plane: as before). */
                    if (!seg_intersect(A->px[i], A->py[i], A->px[i2], A->py[i2], B->px[j],
                                       B->py[j], B->px[j2], B->py[j2], tol + band))
                        continue;
                    if (band > 0) {
                        if ((*budget)-- <= 0)
                            return -1; /* undecided: too many close pairs */
                        if (!edges_touch_exact(&A->v[i], &A->v[i2], &B->v[j], &B->v[j2], tol))
                            continue;
                    }
                    *ia = i;
                    *ib = j;
                    return 1;
                }
            }
        }
    }
    return 0;
}

/* Sets up pg's plane (tangent when pg->ortho, else gnomonic) and its eps. */
static void poly_plane(shp_poly *pg, double ext)
{
    if (pg->ortho) {
        /* Proven: every projected edge within its sag of its segment. */
        pg->fr = enu_at(&pg->pc);
        pg->eps = 1e-3 + sag_of(pg->lmax);
    } else {
        /* Gnomonic straightness bound, from measurement (see file
         * comment), with a factor of ten in hand. */
        pg->eps = 1e-3 + 1e-3 * ext * ext * ext / 4e13;
    }
    pg->rho_max = 0;
    for (int r = 0; r < pg->nrings; r++) {
        ring_project(&pg->rings[r], pg);
        for (int i = 0; i < pg->rings[r].n; i++)
            pg->rho_max = fmax(pg->rho_max, hypot(pg->rings[r].px[i], pg->rings[r].py[i]));
    }
}

/* Simple rings, holes inside the shell and apart. Returns 0, -1 with *err
 * filled, or 1 when the tangent plane left too many pairs undecided. */
static int poly_validate(const shp_poly *pg, const char *field, shape_error *err, int *budget)
{
    char f[160];
    /* Edges closer than this in the plane may touch or not. */
    double band = pg->ortho ? 2 * sag_of(pg->lmax) : 0;
    int ia, ib, rc;
    for (int r = 0; r < pg->nrings; r++) {
        snprintf(f, sizeof f, "%s[%d]", field, r);
        if ((rc = rings_cross(&pg->rings[r], &pg->rings[r], 1, band, budget, &ia, &ib)) < 0)
            return 1;
        if (rc) {
            char d[96];
            snprintf(d, sizeof d, " (edges %d and %d)", ia, ib);
            return fail(err, f, "ring is not simple: it intersects itself%s", d);
        }
    }
    for (int r = 1; r < pg->nrings; r++) {
        snprintf(f, sizeof f, "%s[%d]", field, r);
        for (int q = 0; q < r; q++) {
            if ((rc = rings_cross(&pg->rings[r], &pg->rings[q], 0, band, budget, &ia, &ib)) < 0)
                return 1;
            if (rc)
                return fail(err, f, "hole crosses or touches another ring%s", "");
        }
        double mind = INFINITY;
        const shp_ring *sh = &pg->rings[0];
        if (!ring_parity(sh->px, sh->py, sh->n, pg->rings[r].px[0], pg->rings[r].py[0], &mind))
            return fail(err, f, "hole is not inside its shell%s", "");
        for (int q = 1; q < pg->nrings; q++) {
            if (q == r)
                continue;
            const shp_ring *h = &pg->rings[q];
            if (ring_parity(h->px, h->py, h->n, pg->rings[r].px[0], pg->rings[r].py[0], &mind))
                return fail(err, f, "hole lies inside another hole%s", "");
        }
    }
    return 0;
}

static int parse_polygon(const json_t *rings, shp_poly *pg, const char *field, shape_error *err,
                         size_t *total)
{
    char f[160];
    if (!json_is_array(rings) || json_array_size(rings) == 0)
        return fail(err, field, "a Polygon needs an array of at least one ring%s", "");
    if (json_array_size(rings) > SHAPE_MAX_RINGS)
        return fail(err, field, "a Polygon may have at most 1000 rings%s", "");
    pg->nrings = (int)json_array_size(rings);
    pg->rings = calloc(pg->nrings, sizeof *pg->rings);
    if (!pg->rings)
        return -2;
    double mean[3] = {0, 0, 0};
    for (int r = 0; r < pg->nrings; r++) {
        snprintf(f, sizeof f, "%s[%d]", field, r);
        int rc = parse_ring(json_array_get(rings, r), &pg->rings[r], f, err);
        if (rc)
            return rc;
        *total += pg->rings[r].n;
        if (*total > SHAPE_MAX_TOTAL_VERTICES)
            return fail(err, field, "a geometry may have at most 100000 vertices in all%s", "");
        if (ring_encloses_pole(&pg->rings[r]))
            return fail(err, f, "rings that enclose a pole are not supported%s", "");
        if (r == 0)
            for (int i = 0; i < pg->rings[0].n; i++) {
                mean[0] += pg->rings[0].v[i].x;
                mean[1] += pg->rings[0].v[i].y;
                mean[2] += pg->rings[0].v[i].z;
            }
    }
    pg->pc = geo_pt_from_ecef(mean);
    /* The extent from chords (an upper bound); the exact distances only
     * when that bound comes near the limit, so the limit itself is decided
     * exactly. */
    double ext = 0;
    for (int r = 0; r < pg->nrings; r++)
        for (int i = 0; i < pg->rings[r].n; i++)
            ext = fmax(ext, len_bound(geo_chord(&pg->pc, &pg->rings[r].v[i])));
    if (ext > 0.99 * SHAPE_MAX_EXTENT_M) {
        ext = 0;
        for (int r = 0; r < pg->nrings; r++)
            for (int i = 0; i < pg->rings[r].n; i++)
                ext = fmax(ext, geo_dist(&pg->pc, &pg->rings[r].v[i]));
    }
    if (ext > SHAPE_MAX_EXTENT_M)
        return fail(err, field,
                    "a polygon must fit within 1000 km of its centre (split larger areas)%s", "");
    for (int r = 0; r < pg->nrings; r++) {
        ring_measure(&pg->rings[r]);
        pg->nvert += pg->rings[r].n;
        for (int i = 0; i < pg->rings[r].n; i++)
            pg->lmax = fmax(pg->lmax, pg->rings[r].len[i]);
    }
    pg->ortho = ext <= ORTHO_MAX_EXT && sag_of(pg->lmax) <= ORTHO_MAX_SAG;
    poly_plane(pg, ext);
    pg->ball = ball_union(pg->rings[0].cball, pg->rings[0].nchunk);
    /* The interior lies within the shell's ball: the ball meets the surface
     * in a disc that holds the whole shell, and the polygon is the small side
     * of its shell (pole-enclosing rings are rejected above). */
    int budget = ORTHO_EXACT_BUDGET;
    int rc = poly_validate(pg, field, err, &budget);
    if (rc == 1) {
        pg->ortho = 0;
        poly_plane(pg, ext);
        rc = poly_validate(pg, field, err, &budget);
    }
    return rc;
}

int shape_from_geojson(const json_t *geometry, double radius_m, int flags, const char *field_prefix,
                       dc_shape **out, shape_error *err)
{
    char f[160];
    *out = NULL;
    if (!json_is_object(geometry))
        return fail(err, field_prefix, "geometry must be a GeoJSON object%s", "");
    const json_t *type = json_object_get(geometry, "type");
    const json_t *coords = json_object_get(geometry, "coordinates");
    snprintf(f, sizeof f, "%s.type", field_prefix);
    if (!json_is_string(type))
        return fail(err, f, "geometry.type must be a string%s", "");
    const char *t = json_string_value(type);
    snprintf(f, sizeof f, "%s.coordinates", field_prefix);
    if (!coords)
        return fail(err, f, "geometry.coordinates is required%s", "");

    if (strcmp(t, "Point") == 0) {
        double lon, lat;
        if (parse_position(coords, &lon, &lat, f, err))
            return -1;
        if (!isfinite(radius_m) || radius_m < 0)
            return fail(err, "radius_m", "radius_m must be a finite number >= 0%s", "");
        if ((flags & SHAPE_POINT_NEEDS_RADIUS) && !(radius_m > 0))
            return fail(err, "radius_m", "a Point volume needs radius_m > 0%s", "");
        if (radius_m > SHAPE_MAX_RADIUS_M)
            return fail(err, "radius_m", "radius_m may be at most 1000000%s", "");
        *out = shape_disc(lon, lat, radius_m);
        return *out ? 0 : -2;
    }
    int multi = strcmp(t, "MultiPolygon") == 0;
    if (strcmp(t, "Polygon") != 0 && !(multi && (flags & SHAPE_ALLOW_MULTI))) {
        snprintf(f, sizeof f, "%s.type", field_prefix);
        return fail(err, f,
                    (flags & SHAPE_ALLOW_MULTI)
                        ? "unsupported geometry type '%s' (Point, Polygon or MultiPolygon)"
                        : "unsupported geometry type '%s' (Point or Polygon)",
                    t);
    }
    dc_shape *s = calloc(1, sizeof *s);
    if (!s)
        return -2;
    s->kind = SHP_POLY;
    int rc = 0;
    size_t total = 0;
    if (multi) {
        if (!json_is_array(coords) || json_array_size(coords) == 0) {
            shape_free(s);
            return fail(err, f, "a MultiPolygon needs an array of at least one polygon%s", "");
        }
        if (json_array_size(coords) > SHAPE_MAX_POLYGONS) {
            shape_free(s);
            return fail(err, f, "a MultiPolygon may have at most 1000 polygons%s", "");
        }
        s->polys = calloc(json_array_size(coords), sizeof *s->polys);
        if (!s->polys) {
            shape_free(s);
            return -2;
        }
        for (size_t i = 0; i < json_array_size(coords) && rc == 0; i++) {
            char pf[200];
            snprintf(pf, sizeof pf, "%s[%zu]", f, i);
            s->npoly++;
            rc = parse_polygon(json_array_get(coords, i), &s->polys[i], pf, err, &total);
        }
    } else {
        s->polys = calloc(1, sizeof *s->polys);
        if (!s->polys) {
            shape_free(s);
            return -2;
        }
        s->npoly = 1;
        rc = parse_polygon(coords, &s->polys[0], f, err, &total);
    }
    if (rc) {
        shape_free(s);
        return rc;
    }
    s->nvert = total;
    geo_ball *bs = malloc(sizeof *bs * s->npoly);
    if (!bs) {
        shape_free(s);
        return -2;
    }
    for (int i = 0; i < s->npoly; i++)
        bs[i] = s->polys[i].ball;
    s->ball = ball_union(bs, s->npoly);
    free(bs);
    *out = s;
    return 0;
}

int shape_check(const dc_shape *s)
{
    if (s->kind == SHP_DISC)
        return ball_contains_pt(&s->ball, &s->c) ? 0 : -1;
    for (int p = 0; p < s->npoly; p++) {
        const shp_poly *pg = &s->polys[p];
        for (int r = 0; r < pg->nrings; r++) {
            const shp_ring *rg = &pg->rings[r];
            for (int i = 0; i < rg->n; i++) {
                const geo_pt *a = &rg->v[i], *b = &rg->v[(i + 1) % rg->n];
                if (!ball_contains_pt(&rg->eball[i], a) || !ball_contains_pt(&rg->eball[i], b))
                    return -1;
                if (!ball_contains_pt(&rg->cball[i / CHUNK], a))
                    return -1;
                if (!ball_contains_pt(&pg->ball, a) || !ball_contains_pt(&s->ball, a))
                    return -1;
            }
        }
    }
    return 0;
}
