/* store: the data directory. One SQLite database (WAL) holding the
 * hash-chained append-only log of accepted inputs and the per-party event
 * streams derived from it.
 *
 * Log record i carries prev = hash of record i-1 (64 zeros for record 1)
 * and hash = SHA-256("dclog1\n" i "\n" prev "\n" content), hex encoded.
 * content is the canonical JSON of the input (sorted keys, compact).
 *
 * Events are state kept beside the log: the service rebuilds them from the
 * log at start, and `audit verify` checks them against a replay. An event
 * body may be stored packed (jtext.h): the text of a subtree many events
 * share (an operation's geometry) is kept once in the texts table and
 * referred to by number; every read gives the full text.
 *
 * Threading: a store has a write connection and a read connection, each
 * behind its own mutex, so one committer and many event readers may use
 * it at once. */
#ifndef DC_STORE_H
#define DC_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct store store;

#define STORE_HASH_HEX 65 /* 64 hex digits + NUL */

/* store_open opens (creating when absent, unless readonly) DIR/deconflict.db.
 * lock=1 takes an exclusive lock on DIR/lock so that only one process
 * writes a data directory. Returns 0, or -1 with a message in errbuf. */
int store_open(const char *dir, int readonly, int lock, store **out, char *errbuf, size_t n);
void store_close(store *st);

/* store_record_hash computes a record's hash (hex) from its parts. */
void store_record_hash(int64_t idx, const char *prev_hex, const char *content, char out[STORE_HASH_HEX]);

/* store_each_record calls fn for every log record in order. fn returns 0
 * to continue, non-zero to stop (that value is returned). Returns -1 on a
 * database error (message in errbuf). Strings are valid during the call. */
typedef int (*store_record_fn)(void *ctx, int64_t idx, const char *prev, const char *hash,
                               const char *content);
int store_each_record(store *st, store_record_fn fn, void *ctx, char *errbuf, size_t n);

/* store_record_count returns the number of log records. */
int64_t store_record_count(store *st);

/* A record and the events it produced, queued for commit. */
typedef struct store_event {
    char party[40];
    int64_t seq;
    char *body; /* owned (malloc) */
} store_event;

/* A shared text first referred to by a record's events. */
typedef struct store_text {
    int64_t id;
    char *text; /* owned (malloc) */
    size_t len;
    struct store_text *next;
} store_text;

typedef struct store_pending {
    int64_t idx;
    char prev[STORE_HASH_HEX];
    char hash[STORE_HASH_HEX];
    char *content; /* owned (malloc) */
    store_event *events; /* bodies may be packed */
    size_t nevents;
    store_text *texts; /* written before the events */
    struct store_pending *next;
} store_pending;

void store_pending_free(store_pending *p);

/* store_text_max_id returns the largest shared text number (0: none). */
int64_t store_text_max_id(store *st);

/* store_append writes a list of records, their shared texts and their
 * events in one transaction (one fsync: group commit). Returns 0 or -1. */
int store_append(store *st, const store_pending *list, char *errbuf, size_t n);

/* store_events_after calls fn(ctx, seq, body) for party's events with
 * seq > after, in order, at most limit of them, stopping after the one
 * that brings the total body size over max_bytes. Bodies are full text.
 * Returns the number delivered, or -1 on error. */
typedef void (*store_event_fn)(void *ctx, int64_t seq, const char *body);
int store_events_after(store *st, const char *party, int64_t after, int limit, size_t max_bytes,
                       store_event_fn fn, void *ctx);

/* ---- rebuilding and verifying events against a replay ---- */

/* store_events_begin_check starts a pass comparing replayed events with
 * the stored ones. fix=1 repairs differences (in one transaction,
 * committed by store_events_end_check); fix=0 only counts them. */
int store_events_begin_check(store *st, int fix);
/* store_events_check_one compares one replayed event; returns 0 when the
 * stored one is identical, 1 when it differed (and was fixed if fix=1),
 * -1 on error. */
int store_events_check_one(store *st, const char *party, int64_t seq, const char *body);
/* store_check_texts calls fn for each shared text the pass has read so far
 * and kept in memory, with its number: the texts the checked events refer
 * to, as far as the check read them (it stops at an event's first
 * difference) and up to its memory cap (STORE_MEMO_BYTES). Call it before
 * store_events_end_check, which releases them; the text stays valid until
 * then. */
typedef void (*store_text_fn)(void *ctx, int64_t id, const char *text, size_t len);
void store_check_texts(store *st, store_text_fn fn, void *ctx);
/* store_events_end_check removes (fix=1) or counts stored events beyond
 * each party's replayed head; heads is called to get the head of a party
 * (returns -1 for a party the replay does not know). Returns the number of
 * extra events, or -1 on error. */
typedef int64_t (*store_head_fn)(void *ctx, const char *party);
int64_t store_events_end_check(store *st, store_head_fn head, void *ctx, char *first_bad,
                               size_t first_bad_len);

#endif
