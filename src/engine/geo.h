/* geo: geodesy on the WGS84 ellipsoid for the engine.
 *
 * Points carry both their geographic coordinates and their Earth-centred
 * (ECEF) position in metres. The straight-line (chord) distance between two
 * ECEF points never exceeds their geodesic distance, which gives the engine
 * rigorous, cheap lower bounds; exact distances come from PROJ's
 * implementation of Karney's geodesic algorithms (geodesic.h). */
#ifndef DC_GEO_H
#define DC_GEO_H

typedef struct {
    double lon, lat; /* degrees, lon normalised to [-180, 180) */
    double x, y, z;  /* ECEF metres, on the ellipsoid surface */
} geo_pt;

/* A ball in ECEF space: every surface point of a shape lies inside it. */
typedef struct {
    double c[3];
    double r;
} geo_ball;

/* Mean Earth radius, used only where a scale is needed for iteration. */
#define GEO_R_MEAN 6371008.8

/* geo_pt_make returns the point at lon, lat (degrees). */
geo_pt geo_pt_make(double lon, double lat);
/* geo_trig: sin lon, cos lon, sin lat, cos lat of p (radians of its
 * degrees), bit for bit as computed from p->lon and p->lat; free when p is
 * the last point this thread's geo_pt_make made. */
void geo_trig(const geo_pt *p, double sc[4]);

/* geo_pt_from_ecef returns the surface point nearest the direction of
 * the ECEF vector v (used for centroids). */
geo_pt geo_pt_from_ecef(const double v[3]);

/* geo_dist returns the geodesic distance in metres between a and b. */
double geo_dist(const geo_pt *a, const geo_pt *b);

/* geo_chord returns the ECEF straight-line distance (a lower bound of
 * geo_dist). */
double geo_chord(const geo_pt *a, const geo_pt *b);

/* geo_ball_dist returns a lower bound of the geodesic distance from p to
 * any point inside ball b (0 when p is inside). */
double geo_ball_dist(const geo_pt *p, const geo_ball *b);

/* geo_ball_gap returns a lower bound of the geodesic distance between any
 * point of a and any point of b (0 when they overlap). */
double geo_ball_gap(const geo_ball *a, const geo_ball *b);

/* geo_point_edge_dist returns the geodesic distance from p to the
 * geodesic segment a-b, found by Karney's intercept iteration (closest
 * point on the geodesic, re-centred until stable). */
double geo_point_edge_dist(const geo_pt *p, const geo_pt *a, const geo_pt *b);

/* geo_gnomonic projects p with the ellipsoidal gnomonic projection centred
 * at c: geodesics through c map to straight lines. Returns 0, or -1 when p
 * is too far from c to project (90 degrees or more). */
int geo_gnomonic(const geo_pt *c, const geo_pt *p, double *x, double *y);

/* geo_direct returns the point at distance s metres from p at azimuth azi
 * degrees. */
geo_pt geo_direct(const geo_pt *p, double azi, double s);

/* geo_azimuth returns the forward azimuth in degrees from a to b. */
double geo_azimuth(const geo_pt *a, const geo_pt *b);

#endif
