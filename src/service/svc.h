/* svc: the service core. Owns the engine (behind one mutex), the clock,
 * party tokens, the durable log and the per-party event streams.
 *
 * Every accepted write is turned into a log record holding its *inputs*
 * (operation, party, target id, request body, time), appended with group
 * commit before svc_write returns. A restart replays the records through
 * the same apply function into a fresh engine, which yields the same
 * objects, conflict ids and events. Clock ticks that change something are
 * logged as "advance" records; every write is preceded by an advance to its
 * own time, both live and in replay.
 *
 * The HTTP layer (http.c) and the CLI sit above this module. */
#ifndef DC_SVC_H
#define DC_SVC_H

#include <jansson.h>
#include <stdint.h>

#include "engine.h"
#include "posbatch.h"
#include "store.h"

typedef struct svc svc;

typedef struct {
    const char *data_dir;
    int has_clock_start;
    dc_time clock_start;
    int readonly; /* audit: open without locking or writing */
} svc_options;

/* svc_open opens the data directory, verifies the chain and replays it
 * (on two threads: a reader of the log and the caller's; see svc.c).
 * Returns 0, or -1 with a message in errbuf (naming the first bad record
 * when the chain does not verify). */
int svc_open(const svc_options *o, svc **out, char *errbuf, size_t n);
/* svc_close stops the clock (if started) and frees everything. */
void svc_close(svc *s);

/* svc_verify (readonly svc) checks the chain and the stored events
 * against the replay. Returns 0 when all is well, or -1 with the first
 * problem in errbuf. *records is the number of records checked. */
int svc_verify(const char *data_dir, int64_t *records, char *errbuf, size_t n);

/* svc_record_count returns the number of records in the log. */
int64_t svc_record_count(svc *s);
int svc_is_empty(svc *s);

/* svc_clock_set restarts the clock at t (only for a fresh log). */
void svc_clock_set(svc *s, dc_time t);

/* svc_clock_start starts the thread that advances the engine once per
 * second; svc_clock_stop stops it. */
int svc_clock_start(svc *s);
void svc_clock_stop(svc *s);

/* ---- authentication ---- */

/* svc_auth finds the party whose token is `token` (constant-time compare
 * of SHA-256 hashes). Returns 1 and copies the id, or 0. */
int svc_auth(svc *s, const char *token, char party[40]);

/* ---- writes ---- */

typedef struct {
    int http;           /* success status: 200, 201 or 204 */
    json_t *object;     /* the object after the write, or NULL */
    json_t *conflicts;  /* conflicts opened, as the writer sees them */
    json_t *conflict;   /* ack: the conflict after it */
    size_t accepted;    /* positions */
    int64_t record;     /* the log record */
    char hash[STORE_HASH_HEX];
    char time[DC_TIME_BUFLEN];
    char token[80];     /* party.add: the new token (never logged) */
} svc_result;

void svc_result_free(svc_result *r);

/* svc_write applies one write (op names: party.add, sharing.set,
 * site.create, site.put, site.delete, unit.put, unit.delete, positions,
 * operation.create, operation.put, operation.delete, operation.activate,
 * operation.end, operation.cancel, conflict.ack) for party on id with
 * body args (borrowed; may be NULL), logs it durably and fills res.
 * Returns DC_OK or the engine's error (nothing logged). DC_ERR_NOMEM also
 * covers a failed commit. */
dc_status svc_write(svc *s, const char *op, const char *party, const char *id,
                    const json_t *args, svc_result *res, dc_error *err);

/* svc_write_positions is svc_write(s, "positions", party, NULL, body)
 * for a batch posbatch_parse accepted (borrowed): the same checks,
 * record and result, with the batch's own log text. When a check made
 * under the engine mutex fails (a unit the party does not have, a time too
 * far ahead), nothing is applied or logged and *fallback is set: the
 * caller then takes the general path, which answers with the exact error
 * (it may also succeed, if the unit appeared meanwhile). */
dc_status svc_write_positions(svc *s, const char *party, const posbatch *b, int *fallback,
                              svc_result *res, dc_error *err);

/* svc_bulk turns bulk loading on (on=1) or off (on=0, which commits what
 * is queued). Writes made meanwhile are applied, logged and chained
 * exactly as otherwise, but committed together, SVC_BULK_RECORDS records
 * per transaction, instead of each before its svc_write returns: a write
 * may return before its record is durable. For loading a data directory
 * (benchmarks, imports) from one thread only; never behind the HTTP layer.
 * Returns 0, or -1 when a commit failed (the log is then broken). */
int svc_bulk(svc *s, int on);
#define SVC_BULK_RECORDS 20000

/* svc_load_scenario loads a scenario into an empty log as ordinary
 * records, starting the clock at its "clock". *tokens gets
 * {"party": "token"}. */
dc_status svc_load_scenario(svc *s, const json_t *scenario, json_t **tokens, dc_error *err);

/* ---- reads ---- */

/* svc_engine_lock takes the engine mutex and returns the engine and the
 * current time; svc_engine_unlock releases it. */
dc_engine *svc_engine_lock(svc *s, dc_time *now);
void svc_engine_unlock(svc *s);

/* ---- events ---- */

/* svc_events_head returns the seq of party's last durable event (0 when
 * none). */
int64_t svc_events_head(svc *s, const char *party);
/* svc_events_read: see store_events_after. Also records the delivery for
 * the events-pending metric. */
int svc_events_read(svc *s, const char *party, int64_t after, int limit, size_t max_bytes,
                    store_event_fn fn, void *ctx);
/* svc_set_notify registers fn, called (outside locks) after each commit
 * that made events durable. */
void svc_set_notify(svc *s, void (*fn)(void *ctx), void *ctx);

/* ---- metrics ---- */

typedef struct {
    int64_t records;
    int64_t events_total;
    int64_t events_pending;
    size_t conflicts_open;
    uint64_t commits;
    uint64_t commit_le[8]; /* cumulative buckets, see SVC_COMMIT_BUCKETS */
    double commit_sum_s;
    int64_t replay_rebuilt; /* events found differing or extra at open */
} svc_stats;
#define SVC_COMMIT_BUCKETS {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5}
void svc_get_stats(svc *s, svc_stats *st);

#endif
