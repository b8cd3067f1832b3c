/* shape: validated, prepared 2D shapes on the ellipsoid and the exact
 * separation between them.
 *
 * A shape is a disc (centre and radius, the shape of a unit, a Point site
 * or a Point volume) or a set of polygons with geodesic edges (Polygon or
 * MultiPolygon). Preparation precomputes ECEF bounding balls per edge, per
 * chunk of edges and per polygon, so that separation queries prune almost
 * everything with chord lower bounds and run the exact geodesic
 * computations only where they can matter. */
#ifndef DC_SHAPE_H
#define DC_SHAPE_H

#include <jansson.h>
#include <stddef.h>

#include "geo.h"

typedef struct dc_shape dc_shape;

/* Limits on one geometry (documented in docs/limits.md). */
#define SHAPE_MAX_RING_VERTICES 10000
#define SHAPE_MAX_RINGS 1000
#define SHAPE_MAX_POLYGONS 1000
#define SHAPE_MAX_TOTAL_VERTICES 100000
#define SHAPE_MAX_EXTENT_M 1000000.0 /* every vertex within this of the centre */
#define SHAPE_MAX_RADIUS_M 1000000.0

/* Flags for shape_from_geojson. */
#define SHAPE_ALLOW_MULTI 1  /* MultiPolygon accepted (sites) */
#define SHAPE_POINT_NEEDS_RADIUS 2 /* a Point needs radius_m > 0 (volumes) */

/* A validation error: the offending field (a JSON path relative to the
 * object, such as "geometry.coordinates[0][3]") and a message. */
typedef struct {
    char field[128];
    char message[256];
} shape_error;

/* shape_from_geojson validates a GeoJSON geometry (Point, Polygon or, with
 * SHAPE_ALLOW_MULTI, MultiPolygon) and prepares it. radius_m is the disc
 * radius for a Point (ignored for polygons). field_prefix names the
 * geometry in errors ("geometry", "volumes[2].geometry").
 * Returns 0 and a new shape (owned by the caller), or -1 with *err filled
 * when the input is invalid, or -2 when out of memory. */
int shape_from_geojson(const json_t *geometry, double radius_m, int flags, const char *field_prefix,
                       dc_shape **out, shape_error *err);

/* shape_disc returns a new disc shape, or NULL when out of memory. */
dc_shape *shape_disc(double lon, double lat, double radius_m);

/* shape_free releases a shape (NULL is fine). */
void shape_free(dc_shape *s);

/* shape_ball returns a ball containing the whole shape (borrowed). */
const geo_ball *shape_ball(const dc_shape *s);

/* shape_is_disc tells whether s is a disc; shape_disc_center and
 * shape_disc_radius describe it. */
int shape_is_disc(const dc_shape *s);
geo_pt shape_disc_center(const dc_shape *s);
double shape_disc_radius(const dc_shape *s);

/* shape_vertex_count returns the number of polygon vertices (0 for discs). */
size_t shape_vertex_count(const dc_shape *s);

/* shape_separation returns the minimum geodesic distance in metres between
 * a and b (0 when they touch or overlap) when it is at most cutoff;
 * otherwise it returns some value greater than cutoff. Accuracy: within
 * 1 mm plus the geodesic library's error for distances up to 1,000 km.
 * Nearby shapes are measured in tangent planes with proven error bounds
 * (falling back to the exact geodesic path where a bound is not met). */
double shape_separation(const dc_shape *a, const dc_shape *b, double cutoff);

/* shape_separation_exact is shape_separation without the tangent-plane
 * fast paths: every distance from the intercept iteration. Much slower; for
 * tests and cross-checks of the fast paths. */
double shape_separation_exact(const dc_shape *a, const dc_shape *b, double cutoff);

/* shape_contains_point tells whether p lies inside the polygons of s
 * (boundary counts as inside within 1 mm). Discs: within the radius. */
int shape_contains_point(const dc_shape *s, const geo_pt *p);

/* shape_check walks the prepared structure and verifies its invariants
 * (every vertex inside its edge, chunk and shape balls). Returns 0 or -1. */
int shape_check(const dc_shape *s);

/* shape_separation_disc is shape_separation with a disc given inline
 * (centre c, radius r), so that units need no shape object. */
double shape_separation_disc(const geo_pt *c, double r, const dc_shape *b, double cutoff);

/* shape_witness: what one disc-to-polygon measurement from a centre p0
 * proved about the polygon near p0 (shape.c, "witnesses"): a window of a
 * few edges holding the nearest one, lower bounds on the distance to every
 * other edge, and the side of the boundary p0 is on. A later measurement
 * from a centre near p0 then reads the window only. Owned by the caller;
 * all zero is an empty witness. A witness stays true for as long as its
 * shape lives, whatever happens meanwhile, but it is about one shape: pass
 * it only with the shape it was filled with (a witness passed with another
 * shape is not used, only emptied and refilled: it records its shape). */
typedef struct {
    double ref[3];   /* ECEF of p0 */
    const geo_pt *v; /* the vertices of the window's ring (borrowed from the shape) */
    double lo_other; /* planar distance at p0 to every edge outside the window, at least */
    double d_near;   /* planar distance at p0 to every edge, at least */
    double reach;    /* chord from p0 to the far side of the polygon's ball */
    double lmax;     /* the polygon's longest edge */
    int n, first;    /* the ring's vertex count; the window's first edge */
    int state;       /* 0 empty, 1 p0 outside, 2 p0 inside */
    const dc_shape *shape; /* the shape it was filled with: compared, never read */
} shape_witness;

/* shape_separation_disc_w is shape_separation_disc, returning the very same
 * value (bit for bit) when that is at most cutoff, and a value greater than
 * cutoff exactly when that is, that reads and refreshes the witness w (may
 * be NULL) of b: when w proves that the nearest edge from c is still in its
 * window, only that window is read. */
double shape_separation_disc_w(const geo_pt *c, double r, const dc_shape *b, double cutoff,
                               shape_witness *w);

/* shape_witness_prefetch asks the CPU to start loading the vertices that
 * a measurement with w will read (a hint: no effect on any result). */
void shape_witness_prefetch(const shape_witness *w);

/* shape_witness_check verifies that w (filled by shape_separation_disc_w
 * with b) holds for b: its ring, and its bounds recomputed at p0. Returns 0
 * (also for an empty witness) or -1. Costs a full scan of the polygon. */
int shape_witness_check(const dc_shape *b, const shape_witness *w);

#endif
