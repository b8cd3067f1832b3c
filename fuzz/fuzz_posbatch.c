/* fuzz_posbatch: libFuzzer harness for the position fast path's parser
 * (src/service/posbatch.c). Any input: no crash, no leak; an accepted
 * batch must be valid JSON to jansson with the same reports, and its log
 * text must read back as the same body. */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "posbatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    posbatch b;
    if (posbatch_parse((const char *)data, size, 10000, &b) != POSBATCH_OK)
        return 0;
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    json_t *rec = json_loads(b.args_text, JSON_REJECT_DUPLICATES, &je);
    if (!j || !rec || !json_equal(j, rec))
        __builtin_trap();
    json_t *reps = json_object_get(j, "reports");
    if (json_object_size(j) != 1 || json_array_size(reps) != b.n)
        __builtin_trap();
    for (size_t i = 0; i < b.n; i++) {
        json_t *r = json_array_get(reps, i);
        if (strcmp(b.v[i].unit, json_string_value(json_object_get(r, "unit"))) != 0 ||
            b.v[i].lon != json_number_value(json_object_get(r, "lon")) ||
            b.v[i].lat != json_number_value(json_object_get(r, "lat")))
            __builtin_trap();
    }
    json_decref(j);
    json_decref(rec);
    posbatch_free(&b);
    return 0;
}
