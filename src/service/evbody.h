/* evbody: the body of a party's event about a conflict change (SPEC
 * section 4): {"by", "conflict", "reason", "record", "seq", "time",
 * "type"}, where "conflict" is dc_conflict_view as that party sees it.
 *
 * Two ways to the same bytes: evbody_json builds the jansson object (the
 * reference, and what covers every case); evbody_text writes its text
 * directly from dc_conflict_facts, without building it, for the changes a
 * position batch makes (a fifth of the engine-lock time of a batch went
 * to building and freeing those objects). tests/unit/test_evbody.c checks
 * that both give the same bytes, packed and not. */
#ifndef DC_EVBODY_H
#define DC_EVBODY_H

#include <jansson.h>
#include <stdint.h>

#include "engine.h"
#include "jtext.h"

/* The flags of an event body's text. */
#define EVBODY_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15))

/* evbody_change_name returns a change type's name ("opened"...). */
const char *evbody_change_name(dc_change_type t);

/* evbody_json returns the event of change c for party (a side of it):
 * seq its number in party's stream, record the log record that made it,
 * time the record's time (formatted), args the record's args (an
 * override's reason; may be NULL). A new reference, or NULL when out of
 * memory. */
json_t *evbody_json(const dc_engine *e, const dc_change *c, const char *party, int64_t seq,
                    int64_t record, const char *time, const json_t *args);

/* evbody_text appends the text jtext_dump (new_ref NULL) or
 * jtext_dump_packed (new_ref given) would write for evbody_json's object
 * with EVBODY_FLAGS and cache, without building it. Returns 0; 1 when it
 * does not cover this change (an override, a view the writer cannot give
 * exactly: a value jansson would refuse), with nothing appended and the
 * cache untouched: use evbody_json; -1 when out of memory (b->oom). */
int evbody_text(jtext_buf *b, const dc_engine *e, const dc_change *c, const char *party,
                int64_t seq, int64_t record, const char *time, jtext_cache *cache,
                jtext_new_ref_fn new_ref, void *ctx);

/* evbody_time_format writes t into buf (DC_TIME_BUFLEN bytes) exactly as
 * dc_time_format does, faster, and returns its length. */
size_t evbody_time_format(dc_time t, char *buf);

#endif
