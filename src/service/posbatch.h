/* posbatch: the fast path for POST /v1/positions. A strict, allocation-
 * light parser for the common shape of a batch,
 *
 *     {"reports": [{"unit": "...", "lon": N, "lat": N, "alt_m": N|null,
 *                   "ce_m": N, "time": "..."}, ...]}
 *
 * that validates every report exactly as the engine's dc_positions_report
 * does (fields, types, ranges, RFC 3339 time) and builds the batch's
 * canonical log text, all in the connection's thread, before the engine
 * mutex is taken.
 *
 * It only ever accepts: anything it does not recognise (escapes in
 * strings, exponents, an "owner" field, duplicate keys, an invalid value,
 * an empty or oversized batch, malformed JSON...) is POSBATCH_FALLBACK,
 * and the caller takes the general path (jansson, then the engine), which
 * gives the same answer and the exact error it always gave.
 *
 * Numbers keep the text they arrived with in the log text; they are
 * converted as jansson converts them (integers with strtoll, others with
 * strtod), so a replay of the record reads the same values. */
#ifndef DC_POSBATCH_H
#define DC_POSBATCH_H

#include <stddef.h>
#include <stdint.h>

#include "dctime.h"
#include "engine.h"

/* The engine's dc_report, so that a batch goes to dc_units_find and
 * dc_position_report_units as it is: unit is NUL-terminated, in the batch's
 * own storage; alt_m NAN when absent or null. */
typedef dc_report posbatch_report;

typedef struct {
    posbatch_report *v;
    size_t n;
    char *units;     /* storage for the unit ids */
    char *args_text; /* canonical {"reports":[...]} for the log record */
} posbatch;

enum { POSBATCH_OK = 0, POSBATCH_FALLBACK = 1, POSBATCH_NOMEM = -1 };

/* posbatch_parse parses body[0..len) into b (owned by the caller, freed
 * with posbatch_free). Returns POSBATCH_OK, POSBATCH_FALLBACK (b is empty)
 * or POSBATCH_NOMEM. max_reports bounds the batch (larger: fallback). */
int posbatch_parse(const char *body, size_t len, size_t max_reports, posbatch *b);
void posbatch_free(posbatch *b);

/* posbatch_parse_record is the same fast path for a restart: it parses a
 * log record's content (store.h) when it is a "positions" record exactly
 * as svc writes one,
 *
 *     {"args":BATCH,"op":"positions","party":"P","t":T,"time":"S","v":1}
 *
 * with BATCH a batch posbatch_parse accepts, P and S strings without
 * escapes (P shorter than party_size), T an integer of at most 18 digits,
 * no whitespace outside BATCH and nothing after. It gives the batch in b
 * (freed with posbatch_free), the party (copied) and T, the same values
 * jansson reads from the record. Anything else is POSBATCH_FALLBACK (b
 * empty): the caller parses the record with jansson. Returns POSBATCH_OK,
 * POSBATCH_FALLBACK or POSBATCH_NOMEM. */
int posbatch_parse_record(const char *content, size_t len, size_t max_reports, posbatch *b,
                          char *party, size_t party_size, int64_t *t);

#endif
