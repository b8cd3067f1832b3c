/* fuzz_geojson: libFuzzer harness for GeoJSON geometry validation. The
 * first byte picks the flags and the Point radius, the rest is the JSON
 * geometry. An accepted shape must pass shape_check, and separations from
 * it to a fixed polygon and a fixed disc must be finite, non-negative and
 * respect the cutoff contract. */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shape.h"

static dc_shape *fixed_poly, *fixed_disc;

static void init_fixed(void)
{
    if (fixed_poly)
        return;
    json_t *g = json_loads("{\"type\":\"Polygon\",\"coordinates\":[[[37.499,36.369],[37.505,36.369],"
                           "[37.505,36.374],[37.499,36.374],[37.499,36.369]],[[37.501,36.370],"
                           "[37.503,36.370],[37.503,36.372],[37.501,36.370]]]}",
                           0, NULL);
    shape_error err;
    if (!g || shape_from_geojson(g, 0, 0, "geometry", &fixed_poly, &err) != 0)
        __builtin_trap();
    json_decref(g);
    fixed_disc = shape_disc(179.999, 0.5, 2500);
    if (!fixed_disc)
        __builtin_trap();
}

static void check_sep(const dc_shape *a, const dc_shape *b)
{
    double cutoffs[] = {0, 100, 1e4, 1e7};
    for (int i = 0; i < 4; i++) {
        double d = shape_separation(a, b, cutoffs[i]);
        if (!(d >= 0) || isnan(d)) {
            fprintf(stderr, "separation %g with cutoff %g\n", d, cutoffs[i]);
            __builtin_trap();
        }
    }
    double full = shape_separation(a, b, 1e9);
    double again = shape_separation(a, b, full + 1);
    if (full <= 1e7 && fabs(full - again) > 1e-6) {
        fprintf(stderr, "separation %.9g with cutoff 1e9, %.9g with cutoff %.9g\n", full, again,
                full + 1);
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_fixed();
    if (size < 1)
        return 0;
    int flags = data[0] & 3;
    static const double radii[] = {0, 1, 250, 1e6, -1, 1e6 + 1, 0.001, 50};
    double radius = radii[(data[0] >> 2) & 7];
    json_t *g = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (!g)
        return 0;
    dc_shape *s = NULL;
    shape_error err;
    int rc = shape_from_geojson(g, radius, flags, "geometry", &s, &err);
    if (rc == 0) {
        if (!s || shape_check(s) != 0) {
            fprintf(stderr, "accepted shape fails shape_check\n");
            __builtin_trap();
        }
        check_sep(s, fixed_poly);
        check_sep(fixed_poly, s);
        check_sep(s, fixed_disc);
        geo_pt p = geo_pt_make(37.5, 36.37);
        (void)shape_contains_point(s, &p);
        shape_free(s);
    } else if (s) {
        __builtin_trap();
    }
    json_decref(g);
    return 0;
}
