/* bench_flat: does the cost of a position report grow with the number of
 * operations? (issue 2's acceptance point)
 *
 * Three engines hold the same local picture, 10,000 units of one party and
 * 1,000 hazardous operations of another in a 50 x 50 km box, plus 0, 9,000
 * or 99,000 further operations spread over the rest of the world: 1k, 10k
 * and 100k operations in all. The same 200,000 position reports (random
 * walks inside the box) are replayed into each. The conflicts they open
 * and resolve must be identical; the cost per report should not grow.
 * Usage: bench_flat [--smoke] [--seed N]. Prints the seed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

static unsigned long long rng;

static double urand(double a, double b)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return a + (b - a) * (double)(rng >> 11) / 9007199254740992.0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define LON0 37.5
#define LAT0 36.0
#define HALF_DEG 0.25 /* about 50 km across */

static json_t *op_json(int i, double lon, double lat, dc_time t0)
{
    char id[32], s[DC_TIME_BUFLEN], e[DC_TIME_BUFLEN];
    snprintf(id, sizeof id, "op%d", i);
    json_t *ring = json_array();
    double r = urand(200, 1000);
    for (int k = 0; k <= 16; k++) {
        double a = 2 * M_PI * (k % 16) / 16;
        json_array_append_new(ring, json_pack("[f,f]", lon + r * cos(a) / (111320 * cos(lat * M_PI / 180)),
                                              lat + r * sin(a) / 110540));
    }
    double hz = urand(100, 1000);
    return json_pack("{s:s,s:s,s:f,s:f,s:[{s:{s:s,s:[o]},s:s,s:s}]}", "id", id, "kind", "strike",
                     "hazard_m", hz, "warning_m", hz, "volumes", "geometry", "type", "Polygon",
                     "coordinates", ring, "start", dc_time_format(t0, s), "end",
                     dc_time_format(t0 + 24 * 3600 * DC_USEC, e));
}

int main(int argc, char **argv)
{
    unsigned long long seed = 20170209;
    int smoke = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0)
            smoke = 1;
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
    }
    int nunits = smoke ? 1000 : 10000, nlocal = smoke ? 100 : 1000;
    long nrep = smoke ? 20000 : 200000;
    int totals[3] = {nlocal, nlocal * 10, nlocal * 100};
    printf("bench_flat: seed %llu; %d units and %d local operations; %ld reports\n", seed, nunits,
           nlocal, nrep);
    dc_time t0;
    dc_time_parse("2017-02-09T04:00:00Z", &t0);
    double ns[3];
    long opened[3], resolved[3];
    for (int step = 0; step < 3; step++) {
        rng = seed * 2654435761ULL + 1;
        dc_engine *e = dc_engine_new();
        dc_error err = {0};
        dc_party_add(e, "U", "units", 0, &err);
        dc_party_add(e, "O", "operations", 0, &err);
        double *lon = malloc(sizeof(double) * nunits), *lat = malloc(sizeof(double) * nunits);
        char id[32];
        for (int i = 0; i < nunits; i++) {
            snprintf(id, sizeof id, "u%d", i);
            json_t *b = json_pack("{s:s,s:s}", "callsign", id, "domain", "ground");
            dc_unit_put(e, "U", id, b, t0, NULL, &err);
            json_decref(b);
            lon[i] = LON0 + urand(-HALF_DEG, HALF_DEG);
            lat[i] = LAT0 + urand(-HALF_DEG, HALF_DEG);
            dc_position_report(e, "U", id, lon[i], lat[i], NAN, 20, t0, t0, NULL, &err);
        }
        for (int i = 0; i < nlocal; i++) {
            json_t *b = op_json(i, LON0 + urand(-HALF_DEG, HALF_DEG),
                                LAT0 + urand(-HALF_DEG, HALF_DEG), t0);
            if (dc_operation_put(e, "O", NULL, b, 1, t0, NULL, &err) != DC_OK) {
                fprintf(stderr, "bench_flat: %s %s\n", err.field, err.message);
                return 1;
            }
            json_decref(b);
        }
        /* The far operations come from their own stream, so that the local
         * picture and the reports are the same in every step. */
        unsigned long long keep = rng;
        rng = seed * 7919ULL + 3;
        for (int i = nlocal; i < totals[step]; i++) {
            double flon, flat;
            do {
                flon = urand(-179, 179);
                flat = urand(-60, 60);
            } while (fabs(flon - LON0) < 3 && fabs(flat - LAT0) < 3);
            json_t *b = op_json(i, flon, flat, t0);
            dc_operation_put(e, "O", NULL, b, 1, t0, NULL, &err);
            json_decref(b);
        }
        rng = keep;
        dc_changes ch;
        dc_changes_init(&ch);
        opened[step] = resolved[step] = 0;
        double start = now_s();
        for (long r = 0; r < nrep; r++) {
            int u = (int)urand(0, nunits);
            lon[u] += urand(-0.001, 0.001);
            lat[u] += urand(-0.001, 0.001);
            snprintf(id, sizeof id, "u%d", u);
            ch.n = 0;
            dc_position_report(e, "U", id, lon[u], lat[u], NAN, 20, t0 + r, t0 + r, &ch, &err);
            for (size_t k = 0; k < ch.n; k++) {
                opened[step] += ch.v[k].type == DC_CH_OPENED;
                resolved[step] += ch.v[k].type == DC_CH_RESOLVED;
            }
        }
        ns[step] = (now_s() - start) * 1e9 / nrep;
        printf("  %6d operations: %7.0f ns/report (opened %ld, resolved %ld)\n", totals[step],
               ns[step], opened[step], resolved[step]);
        dc_changes_free(&ch);
        free(lon);
        free(lat);
        dc_engine_free(e);
    }
    int same = opened[0] == opened[1] && opened[1] == opened[2] && resolved[0] == resolved[1] &&
               resolved[1] == resolved[2];
    printf("bench_flat: cost ratio %d/%d operations %.2f; local results %s\n", totals[2],
           totals[0], ns[2] / ns[0], same ? "identical" : "DIFFER");
    return same ? 0 : 1;
}
