/* reference: a slow, obviously right model of SPEC section 3 geometry,
 * independent of the engine's shape code, for property tests.
 *
 * Distances to geodesic edges come from sampling the edge with PROJ's
 * geod_position and refining the best bracket by golden-section search on
 * geod_inverse; point-in-polygon from the winding number of azimuths seen
 * from the point. The only pruning is the chord bound
 * d(P, edge) >= chord(P, A) - length(edge), which follows from the
 * triangle inequality. */
#ifndef DC_REFERENCE_H
#define DC_REFERENCE_H

#include <jansson.h>

typedef struct {
    int n;            /* distinct vertices (ring not repeated-closed) */
    double *lon, *lat;
    double *len;      /* edge lengths, computed on first use (may be NULL) */
} rring;

typedef struct {
    int nrings; /* ring 0 is the shell */
    rring *rings;
} rpoly;

typedef struct {
    int is_disc;
    double lon, lat, r; /* disc */
    int npoly;
    rpoly *polys;
} rshape;

/* ref_shape_free releases the shape's arrays (not the struct). */
void ref_shape_free(rshape *s);
/* ref_shape_copy deep-copies src into dst. */
void ref_shape_copy(rshape *dst, const rshape *src);
/* ref_shape_geojson returns the GeoJSON geometry of s (Point for a disc). */
json_t *ref_shape_geojson(const rshape *s);

/* ref_dist returns the geodesic distance between two points. */
double ref_dist(double lon1, double lat1, double lon2, double lat2);
/* ref_point_edge returns the distance from a point to a geodesic edge. */
double ref_point_edge(double plon, double plat, double alon, double alat, double blon,
                      double blat);
/* ref_inside tells whether the point is inside the polygon (holes
 * excluded). */
int ref_inside(const rpoly *p, double lon, double lat);
/* ref_separation returns the separation of two shapes (0 when they touch
 * or overlap). */
double ref_separation(const rshape *a, const rshape *b);

#endif
