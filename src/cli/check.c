/* check: `deconflict check SCENARIO.json [--json]` loads a scenario offline
 * and prints every open conflict, as the service would find them. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "scenario.h"

static int usage(void)
{
    fprintf(stderr, "usage: deconflict check SCENARIO.json [--json]\n");
    return 2;
}

int cli_check(int argc, char **argv)
{
    const char *path = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return usage();
        else if (!path)
            path = argv[i];
        else
            return usage();
    }
    if (!path)
        return usage();
    json_error_t jerr;
    json_t *scn = strcmp(path, "-") == 0
                      ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr)
                      : json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!scn) {
        fprintf(stderr, "deconflict: %s: line %d, column %d: %s\n", path, jerr.line, jerr.column,
                jerr.text);
        return 2;
    }
    dc_engine *e = dc_engine_new();
    if (!e) {
        fprintf(stderr, "deconflict: out of memory\n");
        json_decref(scn);
        return 1;
    }
    dc_error err = {0};
    dc_time clock;
    dc_status rc = dc_scenario_load(e, scn, &clock, NULL, &err);
    json_decref(scn);
    if (rc) {
        fprintf(stderr, "deconflict: %s: invalid %s: %s\n", path, err.field, err.message);
        dc_error_clear(&err);
        dc_engine_free(e);
        return rc == DC_ERR_NOMEM ? 1 : 2;
    }
    json_t *pairs = dc_conflicts_pairs_json(e);
    json_t *list = json_object_get(pairs, "conflicts");
    if (as_json) {
        size_t i;
        json_t *c;
        json_array_foreach(list, i, c) json_object_del(c, "id");
        json_dumpf(pairs, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
    } else {
        char b[DC_TIME_BUFLEN];
        printf("scenario clock %s: %zu open conflict(s)\n", dc_time_format(clock, b),
               json_array_size(list));
        if (json_array_size(list)) {
            printf("%-8s  %-28s  %-28s  %-8s  %12s  %s\n", "id", "operation", "object",
                   "severity", "distance_m", "stale");
            size_t i;
            json_t *c;
            json_array_foreach(list, i, c)
            {
                char a[80], o[80];
                json_t *ja = json_object_get(c, "a"), *jb = json_object_get(c, "b");
                snprintf(a, sizeof a, "%s/%s", json_string_value(json_object_get(ja, "party")),
                         json_string_value(json_object_get(ja, "id")));
                snprintf(o, sizeof o, "%s/%s (%s)", json_string_value(json_object_get(jb, "party")),
                         json_string_value(json_object_get(jb, "id")),
                         json_string_value(json_object_get(jb, "type")));
                printf("%-8s  %-28s  %-28s  %-8s  %12.1f  %s\n",
                       json_string_value(json_object_get(c, "id")), a, o,
                       json_string_value(json_object_get(c, "severity")),
                       json_real_value(json_object_get(c, "distance_m")),
                       json_is_true(json_object_get(c, "stale")) ? "stale" : "");
            }
        }
    }
    json_decref(pairs);
    dc_engine_free(e);
    return 0;
}
