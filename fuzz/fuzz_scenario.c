/* fuzz_scenario: libFuzzer harness for the scenario loader. The bytes are
 * parsed as JSON (as `deconflict check` does), loaded into a fresh engine,
 * and then the engine's invariants must hold: dc_engine_check and the
 * from-scratch recomputation agree with the incremental state. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *scn = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!scn)
        return 0;
    dc_engine *e = dc_engine_new();
    if (!e) {
        json_decref(scn);
        return 0;
    }
    dc_changes ch;
    dc_changes_init(&ch);
    dc_error err = {0};
    dc_time clock = 0;
    dc_status rc = dc_scenario_load(e, scn, &clock, &ch, &err);
    char buf[512];
    /* Even a scenario rejected half-way leaves a consistent engine. */
    if (dc_engine_check(e, buf, sizeof buf) != 0) {
        fprintf(stderr, "dc_engine_check: %s\n", buf);
        __builtin_trap();
    }
    if (rc == DC_OK && dc_engine_recompute_check(e, clock, buf, sizeof buf) != 0) {
        fprintf(stderr, "dc_engine_recompute_check: %s\n", buf);
        __builtin_trap();
    }
    json_t *pairs = dc_conflicts_pairs_json(e);
    char *txt = json_dumps(pairs, JSON_COMPACT);
    free(txt);
    json_decref(pairs);
    dc_error_clear(&err);
    dc_changes_free(&ch);
    dc_engine_free(e);
    json_decref(scn);
    return 0;
}
