/* svc: the service core (see svc.h). The write path is: take the engine
 * mutex, read the clock, advance the engine to it, apply the write, turn
 * the record and its events into a pending batch entry, release the mutex,
 * then wait for group commit. Whoever waits first becomes the committer
 * and writes everything queued in one transaction; others wait for it. */
#include "svc.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evbody.h"
#include "jtext.h"
#include "slog.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define TOKEN_PREFIX "dct_"

typedef struct {
    char id[40];
    unsigned char tok[crypto_hash_sha256_BYTES];
    int has_tok;
    int64_t head_seq;    /* last assigned (engine mutex) */
    int64_t durable_seq; /* last committed (pmu) */
    int64_t delivered;   /* highest seq a reader has fetched (pmu) */
} party_slot;

struct svc {
    store *st;
    dc_engine *e;
    int readonly;
    pthread_mutex_t emu; /* the engine, the clock, head_seq, the chain tip */
    pthread_mutex_t pmu; /* party table: nparties, tokens, durable_seq */
    party_slot *parties;
    size_t nparties;

    /* clock */
    int realtime;
    dc_time base, last_now;
    struct timespec mono_base;

    /* last shared text number given to a packed event body (emu) */
    int64_t last_text_id;

    /* chain tip (emu) */
    int64_t next_idx;
    char tip[STORE_HASH_HEX];

    /* group commit (qmu) */
    pthread_mutex_t qmu;
    pthread_cond_t qcond;
    store_pending *qhead, *qtail;
    int64_t durable_idx;
    int committing, broken;
    int applying; /* a writer holds emu and will queue a record */
    int bulk;     /* svc_bulk: commit every SVC_BULK_RECORDS records */
    uint64_t commits, commit_le[8];
    double commit_sum;

    void (*notify)(void *);
    void *notify_ctx;

    /* text of engine geometries, shared by many event bodies (emu) */
    jtext_cache *geo_text;


    /* clock thread */
    pthread_t clock_thread;
    int clock_running;
    pthread_mutex_t cmu;
    pthread_cond_t ccond;
    int clock_stop;

    /* replay */
    int replaying;
    int replay_fix;
    int64_t replay_bad_events;
    int64_t replay_rebuilt; /* differing + extra events found at open */
    char replay_first_bad[256];
};

static const double commit_buckets[8] = SVC_COMMIT_BUCKETS;

/* The geometry text cache: entries and bytes (docs/limits.md). */
#define SVC_GEO_CACHE_ENTRIES 65536
#define SVC_GEO_CACHE_BYTES (64u * 1024 * 1024)
/* How long a committer waits for a write inside the engine mutex to join
 * its transaction. */
#define SVC_GROUP_WAIT_US 3000

/* ---- small helpers ---- */

static int64_t mono_us(const struct timespec *since)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)(ts.tv_sec - since->tv_sec) * DC_USEC + (ts.tv_nsec - since->tv_nsec) / 1000;
}

static dc_time realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (dc_time)ts.tv_sec * DC_USEC + ts.tv_nsec / 1000;
}

/* clock_now returns the service time; never goes backwards. emu held. */
static dc_time clock_now(svc *s)
{
    dc_time t = s->realtime ? realtime_us() : s->base + mono_us(&s->mono_base);
    if (t < s->last_now)
        t = s->last_now;
    s->last_now = t;
    return t;
}

static void seterr(dc_error *err, dc_status code, const char *field, const char *msg)
{
    if (!err)
        return;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    snprintf(err->message, sizeof err->message, "%s", msg);
}

static party_slot *party_find(svc *s, const char *id)
{
    for (size_t i = 0; i < s->nparties; i++)
        if (strcmp(s->parties[i].id, id) == 0)
            return &s->parties[i];
    return NULL;
}

void svc_result_free(svc_result *r)
{
    json_decref(r->object);
    json_decref(r->conflict);
    json_decref(r->conflicts);
    sodium_memzero(r->token, sizeof r->token);
    memset(r, 0, sizeof *r);
}

/* ---- applying one record (live and replay) ---- */

static dc_status get_opt_bool(const json_t *args, const char *key, int *out, dc_error *err)
{
    json_t *v = args ? json_object_get(args, key) : NULL;
    *out = 0;
    if (!v || json_is_null(v))
        return DC_OK;
    if (!json_is_boolean(v)) {
        seterr(err, DC_ERR_MALFORMED, key, "must be a boolean");
        return DC_ERR_MALFORMED;
    }
    *out = json_is_true(v);
    return DC_OK;
}

static dc_status get_opt_string(const json_t *args, const char *key, size_t maxlen,
                                const char **out, dc_error *err)
{
    json_t *v = args ? json_object_get(args, key) : NULL;
    *out = NULL;
    if (!v || json_is_null(v))
        return DC_OK;
    if (!json_is_string(v)) {
        seterr(err, DC_ERR_MALFORMED, key, "must be a string");
        return DC_ERR_MALFORMED;
    }
    if (json_string_length(v) > maxlen) {
        seterr(err, DC_ERR_TOOLARGE, key, "too long");
        return DC_ERR_TOOLARGE;
    }
    *out = json_string_value(v);
    return DC_OK;
}

static dc_status apply_party_add(svc *s, const json_t *args, const char *token_hex, dc_error *err)
{
    const char *id = NULL, *name = NULL;
    dc_status st;
    if (!json_is_object(args)) {
        seterr(err, DC_ERR_MALFORMED, "", "body must be a JSON object");
        return DC_ERR_MALFORMED;
    }
    if ((st = get_opt_string(args, "id", 64, &id, err)) != DC_OK ||
        (st = get_opt_string(args, "name", DC_MAX_NAME, &name, err)) != DC_OK)
        return st;
    if (!id) {
        seterr(err, DC_ERR_MALFORMED, "id", "required");
        return DC_ERR_MALFORMED;
    }
    if (!name) {
        seterr(err, DC_ERR_MALFORMED, "name", "required");
        return DC_ERR_MALFORMED;
    }
    int64_t stale = 0;
    json_t *sv = json_object_get(args, "stale_after_s");
    if (sv && !json_is_null(sv)) {
        if (!json_is_integer(sv)) {
            seterr(err, DC_ERR_MALFORMED, "stale_after_s", "must be an integer");
            return DC_ERR_MALFORMED;
        }
        stale = json_integer_value(sv);
        if (stale <= 0 || stale > 366LL * 86400) {
            seterr(err, DC_ERR_INVALID, "stale_after_s", "must be between 1 and 31622400");
            return DC_ERR_INVALID;
        }
    }
    if (s->nparties >= DC_MAX_PARTIES) {
        seterr(err, DC_ERR_TOOLARGE, "id", "too many parties");
        return DC_ERR_TOOLARGE;
    }
    st = dc_party_add(s->e, id, name, stale, err);
    if (st != DC_OK)
        return st;
    pthread_mutex_lock(&s->pmu);
    party_slot *p = &s->parties[s->nparties];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    if (token_hex && sodium_hex2bin(p->tok, sizeof p->tok, token_hex, strlen(token_hex), NULL,
                                    NULL, NULL) == 0)
        p->has_tok = 1;
    s->nparties++;
    pthread_mutex_unlock(&s->pmu);
    return DC_OK;
}

/* apply_positions_fast applies a batch that posbatch_parse validated:
 * first every report's unit and time (as dc_positions_report checks
 * them), then each report, through the unit handles the first pass found.
 * given (may be NULL) holds the units when the caller found them already
 * (a restart, ahead of the record: replay_find_ahead). A failed check
 * sets *fallback and applies nothing. emu held. */
static dc_status apply_positions_fast(svc *s, const char *party, const posbatch *b,
                                      dc_unit_ref *const *given, dc_time now, dc_changes *ch,
                                      size_t *accepted, int *fallback, dc_error *err)
{
    *accepted = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].t > now + DC_FUTURE_SLACK_US) {
            *fallback = 1;
            return DC_ERR_INVALID;
        }
    if (given) /* a report never deletes a unit: the handles stay valid */
        return dc_position_report_units(s->e, given, b->v, b->n, now, ch, NULL, accepted, err);
    if (!dc_party_exists(s->e, party)) {
        *fallback = 1;
        return DC_ERR_INVALID;
    }
    dc_unit_ref **u = malloc(sizeof *u * (b->n ? b->n : 1));
    if (!u) {
        seterr(err, DC_ERR_NOMEM, "", "out of memory");
        return DC_ERR_NOMEM;
    }
    /* dc_units_find and dc_position_report_units prefetch the next
     * reports' units and lists (engine ingest.c) */
    if (dc_units_find(s->e, party, b->v, b->n, u) < b->n) {
        free(u);
        *fallback = 1;
        return DC_ERR_INVALID;
    }
    dc_status st = dc_position_report_units(s->e, u, b->v, b->n, now, ch, NULL, accepted, err);
    free(u);
    return st; /* not OK only when out of memory: svc_write_impl marks the log broken */
}

/* parsed_before_lock: an operation or site write's body, parsed before
 * the engine lock is taken (dc_parsed in engine.h says why); NULL for
 * other writes. Returns DC_OK, or the body's error. */
static dc_status parsed_before_lock(const char *op, const char *id, const json_t *args,
                                    dc_parsed **out, dc_error *err)
{
    *out = NULL;
    if (strcmp(op, "site.create") == 0)
        return dc_site_parse(NULL, args, out, err);
    if (strcmp(op, "site.put") == 0)
        return dc_site_parse(id, args, out, err);
    if (strcmp(op, "operation.create") == 0)
        return dc_operation_parse(NULL, args, out, err);
    if (strcmp(op, "operation.put") == 0)
        return dc_operation_parse(id, args, out, err);
    return DC_OK;
}

/* apply applies one write. pre: its body as parsed_before_lock parsed it
 * (taken), or NULL (parsed here). */
static dc_status apply(svc *s, const char *op, const char *party, const char *id,
                       const json_t *args, dc_parsed *pre, const char *token_hex, dc_time now,
                       dc_changes *ch, size_t *accepted, dc_error *err)
{
    dc_engine *e = s->e;
    dc_status st;
    if (pre) {
        if (!party) {
            dc_parsed_free(pre);
            seterr(err, DC_ERR_MALFORMED, "", "record without party");
            return DC_ERR_MALFORMED;
        }
        int create = strstr(op, ".create") != NULL;
        return strncmp(op, "site.", 5) == 0
                   ? dc_site_put_parsed(e, party, pre, create, now, ch, err)
                   : dc_operation_put_parsed(e, party, pre, create, now, ch, err);
    }
    if (strcmp(op, "advance") == 0)
        return dc_advance(e, now, ch);
    if (strcmp(op, "party.add") == 0)
        return apply_party_add(s, args, token_hex, err);
    if (!party) {
        seterr(err, DC_ERR_MALFORMED, "", "record without party");
        return DC_ERR_MALFORMED;
    }
    if (strcmp(op, "sharing.set") == 0) {
        int units, ops;
        if (args && !json_is_object(args)) {
            seterr(err, DC_ERR_MALFORMED, "", "body must be a JSON object");
            return DC_ERR_MALFORMED;
        }
        if ((st = get_opt_bool(args, "units", &units, err)) != DC_OK ||
            (st = get_opt_bool(args, "operations", &ops, err)) != DC_OK)
            return st;
        if (!id || !dc_party_exists(e, id)) {
            seterr(err, DC_ERR_NOTFOUND, "party", "no such party");
            return DC_ERR_NOTFOUND;
        }
        return dc_sharing_set(e, party, id, units, ops, err);
    }
    if (strcmp(op, "site.create") == 0)
        return dc_site_put(e, party, NULL, args, 1, now, ch, err);
    if (strcmp(op, "site.put") == 0)
        return dc_site_put(e, party, id, args, 0, now, ch, err);
    if (strcmp(op, "site.delete") == 0)
        return dc_site_delete(e, party, id, now, ch, err);
    if (strcmp(op, "unit.put") == 0)
        return dc_unit_put(e, party, id, args, now, ch, err);
    if (strcmp(op, "unit.delete") == 0)
        return dc_unit_delete(e, party, id, now, ch, err);
    if (strcmp(op, "positions") == 0)
        return dc_positions_report(e, party, args, now, accepted, ch, err);
    if (strcmp(op, "operation.create") == 0)
        return dc_operation_put(e, party, NULL, args, 1, now, ch, err);
    if (strcmp(op, "operation.put") == 0)
        return dc_operation_put(e, party, id, args, 0, now, ch, err);
    if (strcmp(op, "operation.delete") == 0)
        return dc_operation_delete(e, party, id, now, ch, err);
    if (strcmp(op, "operation.activate") == 0) {
        const char *reason = NULL;
        json_t *ov = args ? json_object_get(args, "override") : NULL;
        if (args && !json_is_object(args)) {
            seterr(err, DC_ERR_MALFORMED, "", "body must be a JSON object");
            return DC_ERR_MALFORMED;
        }
        if (ov && !json_is_null(ov)) {
            if (!json_is_object(ov)) {
                seterr(err, DC_ERR_MALFORMED, "override", "must be an object");
                return DC_ERR_MALFORMED;
            }
            if ((st = get_opt_string(ov, "reason", DC_MAX_NOTE, &reason, err)) != DC_OK) {
                snprintf(err->field, sizeof err->field, "override.reason");
                return st;
            }
            if (!reason || !reason[0]) {
                seterr(err, DC_ERR_INVALID, "override.reason", "an override needs a reason");
                return DC_ERR_INVALID;
            }
        }
        return dc_operation_activate(e, party, id, reason, now, ch, err);
    }
    if (strcmp(op, "operation.end") == 0)
        return dc_operation_end(e, party, id, now, ch, err);
    if (strcmp(op, "operation.cancel") == 0)
        return dc_operation_cancel(e, party, id, now, ch, err);
    if (strcmp(op, "conflict.ack") == 0) {
        const char *note = NULL;
        if (args && !json_is_object(args)) {
            seterr(err, DC_ERR_MALFORMED, "", "body must be a JSON object");
            return DC_ERR_MALFORMED;
        }
        if ((st = get_opt_string(args, "note", DC_MAX_NOTE, &note, err)) != DC_OK)
            return st;
        return dc_conflict_ack(e, party, id, note, now, ch, err);
    }
    seterr(err, DC_ERR_MALFORMED, "op", "unknown operation");
    return DC_ERR_MALFORMED;
}

/* ---- records and events ---- */

/* new_text is jtext's new_ref for packed event bodies: the text goes to
 * the texts table with the record that first refers to it. emu held. */
typedef struct {
    svc *s;
    store_pending *p;
} text_ctx;

static long long new_text(void *ctx, const char *text, size_t len)
{
    text_ctx *tc = ctx;
    store_text *t = malloc(sizeof *t);
    char *copy = malloc(len + 1);
    if (!t || !copy) {
        free(t);
        free(copy);
        return 0; /* written in full instead */
    }
    memcpy(copy, text, len);
    copy[len] = 0;
    t->id = ++tc->s->last_text_id;
    t->text = copy;
    t->len = len;
    t->next = tc->p->texts;
    tc->p->texts = t;
    return t->id;
}

/* each_event turns the changes of record idx into per-party event body
 * texts, assigning seqs, and gives each to fn (which takes the text; a
 * party has its seq only once fn returned 0). The text is packed when
 * new_ref is given (jtext_dump_packed's new_ref and ctx), else in full.
 * Returns 0, or -1 (out of memory, or fn's -1). emu held. */
typedef int (*event_fn)(void *ctx, const char *party, int64_t seq, char *body);
static int each_event(svc *s, const dc_changes *ch, int64_t idx, dc_time now,
                      const json_t *args, jtext_new_ref_fn new_ref, void *ref_ctx,
                      event_fn fn, void *ctx)
{
    if (ch->n == 0)
        return 0;
    char tbuf[DC_TIME_BUFLEN];
    dc_time_format(now, tbuf);
    jtext_buf tb = {0};
    int rc = 0;
    for (size_t i = 0; i < ch->n && rc == 0; i++) {
        const dc_change *c = &ch->v[i];
        const char *side[2] = {NULL, NULL};
        dc_conflict_sides(c->conflict, &side[0], &side[1]);
        for (int k = 0; k < 2; k++) {
            if (!side[k] || (k == 1 && side[0] && strcmp(side[0], side[1]) == 0))
                continue;
            party_slot *ps = party_find(s, side[k]);
            if (!ps)
                continue;
            int64_t seq = ps->head_seq + 1;
            tb.len = 0;
            /* the text written directly, or (what that does not cover)
             * from the event's jansson object */
            int direct = evbody_text(&tb, s->e, c, side[k], seq, idx, tbuf, s->geo_text,
                                     new_ref, ref_ctx);
            if (direct == 1) {
                json_t *ev = evbody_json(s->e, c, side[k], seq, idx, tbuf, args);
                if (!ev) {
                    rc = -1;
                    break;
                }
                if (new_ref)
                    jtext_dump_packed(&tb, ev, EVBODY_FLAGS, s->geo_text, new_ref, ref_ctx);
                else
                    jtext_dump(&tb, ev, EVBODY_FLAGS, s->geo_text);
                json_decref(ev);
            }
            char *body = tb.oom ? NULL : malloc(tb.len + 1);
            if (!body) {
                rc = -1;
                break;
            }
            memcpy(body, tb.buf ? tb.buf : "", tb.len);
            body[tb.len] = 0;
            if (fn(ctx, side[k], seq, body) != 0) {
                rc = -1;
                break;
            }
            ps->head_seq = seq;
        }
    }
    jtext_free(&tb);
    return rc;
}

typedef struct {
    svc *s;
    store_pending *p;
    size_t cap;
} pending_events;

/* add_event is make_events' event_fn: the body (packed: the other side's
 * geometry text comes from the cache and is stored once rather than in
 * every event that shows it) joins the record. */
static int add_event(void *ctx, const char *party, int64_t seq, char *body)
{
    pending_events *pe = ctx;
    store_pending *p = pe->p;
    if (p->nevents == pe->cap) {
        size_t cap = pe->cap ? pe->cap * 2 : 4;
        store_event *ne = realloc(p->events, cap * sizeof *ne);
        if (!ne) {
            free(body);
            return -1;
        }
        p->events = ne;
        pe->cap = cap;
    }
    store_event *se = &p->events[p->nevents++];
    snprintf(se->party, sizeof se->party, "%s", party);
    se->seq = seq;
    se->body = body;
    return 0;
}

/* make_events turns the changes of record idx into per-party events in p.
 * Returns 0 or -1 (out of memory). emu held. */
static int make_events(svc *s, const dc_changes *ch, int64_t idx, dc_time now,
                       const json_t *args, store_pending *p)
{
    pending_events pe = {s, p, 0};
    text_ctx tc = {s, p};
    return each_event(s, ch, idx, now, args, new_text, &tc, add_event, &pe);
}

#define RECORD_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

/* record_args_text returns the canonical text of a record's args, or NULL
 * when out of memory. It is most of a position batch's record, so
 * svc_write builds it before taking the engine mutex. */
static char *record_args_text(const json_t *args)
{
    jtext_buf b = {0};
    jtext_dump(&b, args, RECORD_FLAGS, NULL);
    return jtext_take(&b);
}

/* record_content builds the canonical JSON of a record's inputs: the bytes
 * json_dumps(RECORD_FLAGS) gives for {"args", "id", "op", "party", "t",
 * "time", "token_sha256", "v"} (sorted keys, so "args" comes first and its
 * text, from record_args_text or NULL for none, is copied in). */
static char *record_content(const char *op, const char *party, const char *id,
                            const char *args_text, const char *token_hex, dc_time now)
{
    jtext_buf b = {0};
    char tbuf[DC_TIME_BUFLEN], num[32];
    jtext_add(&b, "{", 1);
    if (args_text) {
        jtext_adds(&b, "\"args\":");
        jtext_adds(&b, args_text);
        jtext_add(&b, ",", 1);
    }
    if (id) {
        jtext_adds(&b, "\"id\":");
        jtext_string(&b, id, strlen(id), RECORD_FLAGS);
        jtext_add(&b, ",", 1);
    }
    jtext_adds(&b, "\"op\":");
    jtext_string(&b, op, strlen(op), RECORD_FLAGS);
    if (party) {
        jtext_adds(&b, ",\"party\":");
        jtext_string(&b, party, strlen(party), RECORD_FLAGS);
    }
    snprintf(num, sizeof num, ",\"t\":%" PRId64 ",\"time\":", (int64_t)now);
    jtext_adds(&b, num);
    dc_time_format(now, tbuf);
    jtext_string(&b, tbuf, strlen(tbuf), RECORD_FLAGS);
    if (token_hex) {
        jtext_adds(&b, ",\"token_sha256\":");
        jtext_string(&b, token_hex, strlen(token_hex), RECORD_FLAGS);
    }
    jtext_adds(&b, ",\"v\":1}");
    return jtext_take(&b);
}

/* chain_record assigns the next index and chains content; emu held. */
static store_pending *chain_record(svc *s, char *content)
{
    store_pending *p = calloc(1, sizeof *p);
    if (!p) {
        free(content);
        return NULL;
    }
    p->idx = s->next_idx;
    p->content = content;
    memcpy(p->prev, s->tip, STORE_HASH_HEX);
    store_record_hash(p->idx, p->prev, content, p->hash);
    return p;
}

static void commit_tip(svc *s, store_pending *p)
{
    s->next_idx = p->idx + 1;
    memcpy(s->tip, p->hash, STORE_HASH_HEX);
}

static void enqueue(svc *s, store_pending *p)
{
    pthread_mutex_lock(&s->qmu);
    if (s->qtail)
        s->qtail->next = p;
    else
        s->qhead = p;
    s->qtail = p;
    pthread_mutex_unlock(&s->qmu);
}

/* wait_durable returns once record idx is committed (0) or the log broke
 * (-1). The first waiter to find no commit running commits the queue. */
static int wait_durable(svc *s, int64_t idx)
{
    pthread_mutex_lock(&s->qmu);
    while (s->durable_idx < idx && !s->broken) {
        if (s->committing) {
            pthread_cond_wait(&s->qcond, &s->qmu);
            continue;
        }
        /* Group commit: a writer inside the engine mutex now is about to
         * queue its record. Let it join this fsync rather than wait a whole
         * fsync for the next one (with a few clients, each with one request
         * in flight, commits would otherwise carry one record each). The
         * wait is bounded, so a long apply costs at most that much. */
        if (s->applying) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_nsec += SVC_GROUP_WAIT_US * 1000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            while (s->applying && !s->committing && !s->broken &&
                   pthread_cond_timedwait(&s->qcond, &s->qmu, &dl) == 0)
                ;
            if (s->committing || s->broken || s->durable_idx >= idx)
                continue; /* someone else committed meanwhile */
        }
        store_pending *batch = s->qhead;
        s->qhead = s->qtail = NULL;
        if (!batch) { /* cannot happen: idx was queued */
            s->broken = 1;
            break;
        }
        s->committing = 1;
        pthread_mutex_unlock(&s->qmu);

        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        char errbuf[256];
        int rc = store_append(s->st, batch, errbuf, sizeof errbuf);
        double secs = (double)mono_us(&t0) / 1e6;
        int64_t last = 0;
        int had_events = 0;
        if (rc == 0) {
            pthread_mutex_lock(&s->pmu);
            for (store_pending *p = batch; p; p = p->next) {
                last = p->idx;
                for (size_t i = 0; i < p->nevents; i++) {
                    party_slot *ps = party_find(s, p->events[i].party);
                    if (ps && p->events[i].seq > ps->durable_seq)
                        ps->durable_seq = p->events[i].seq;
                    had_events = 1;
                }
            }
            pthread_mutex_unlock(&s->pmu);
        } else {
            char q[300];
            slog_error("log_commit_failed", "\"error\":\"%s\"", slog_quote(errbuf, q, sizeof q));
        }
        store_pending_free(batch);

        pthread_mutex_lock(&s->qmu);
        s->committing = 0;
        if (rc != 0) {
            s->broken = 1;
        } else {
            s->durable_idx = last;
            s->commits++;
            s->commit_sum += secs;
            for (int i = 0; i < 8; i++)
                if (secs <= commit_buckets[i])
                    s->commit_le[i]++;
        }
        pthread_cond_broadcast(&s->qcond);
        if (had_events && s->notify) {
            void (*fn)(void *) = s->notify;
            void *ctx = s->notify_ctx;
            pthread_mutex_unlock(&s->qmu);
            fn(ctx);
            pthread_mutex_lock(&s->qmu);
        }
    }
    int ok = s->durable_idx >= idx;
    pthread_mutex_unlock(&s->qmu);
    return ok ? 0 : -1;
}

/* log_record queues a record for an applied input with its events and
 * gives its index and hash. Returns 0, or -1 when out of memory. emu
 * held. */
static int log_record(svc *s, const char *op, const char *party, const char *id,
                      const json_t *args, const char *args_text, const char *token_hex,
                      dc_time now, const dc_changes *ch, int64_t *idx,
                      char hash[STORE_HASH_HEX])
{
    char *content = record_content(op, party, id, args_text, token_hex, now);
    if (!content)
        return -1;
    store_pending *p = chain_record(s, content);
    if (!p)
        return -1;
    if (make_events(s, ch, p->idx, now, args, p) != 0) {
        store_pending_free(p);
        return -1;
    }
    commit_tip(s, p);
    /* Copy out before enqueueing: from then on a committer in another
     * thread (wait_durable runs without emu) may commit and free p. */
    *idx = p->idx;
    if (hash)
        memcpy(hash, p->hash, STORE_HASH_HEX);
    enqueue(s, p);
    return 0;
}

/* set_applying marks that this writer holds emu with a record to queue
 * (1), or no longer (0), for the group commit wait. */
static void set_applying(svc *s, int on)
{
    pthread_mutex_lock(&s->qmu);
    s->applying = on;
    if (!on)
        pthread_cond_broadcast(&s->qcond);
    pthread_mutex_unlock(&s->qmu);
}

static void mark_broken(svc *s)
{
    pthread_mutex_lock(&s->qmu);
    s->broken = 1;
    pthread_mutex_unlock(&s->qmu);
    slog_error("log_broken", "\"why\":\"a change could not be logged; writes refused\"");
}

static int is_broken(svc *s)
{
    pthread_mutex_lock(&s->qmu);
    int b = s->broken;
    pthread_mutex_unlock(&s->qmu);
    return b;
}

/* advance_locked advances the engine to now, logging an "advance" record
 * when that changed anything. Returns the record index or 0. emu held. */
static int64_t advance_locked(svc *s, dc_time now)
{
    dc_changes ch;
    dc_changes_init(&ch);
    int64_t idx = 0;
    if (dc_advance(s->e, now, &ch) == DC_OK && ch.n > 0) {
        if (log_record(s, "advance", NULL, NULL, NULL, NULL, NULL, now, &ch, &idx, NULL) != 0) {
            idx = 0;
            mark_broken(s); /* state changed but cannot be logged */
        }
    }
    dc_changes_free(&ch);
    return idx;
}

/* ---- the write path ---- */

static int is_create(const char *op)
{
    return strcmp(op, "site.create") == 0 || strcmp(op, "operation.create") == 0 ||
           strcmp(op, "party.add") == 0;
}

static json_t *opened_views(svc *s, const dc_changes *ch, const char *party)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < ch->n; i++) {
        if (ch->v[i].type != DC_CH_OPENED)
            continue;
        int dup = 0;
        for (size_t j = 0; j < i; j++)
            if (ch->v[j].type == DC_CH_OPENED && ch->v[j].conflict == ch->v[i].conflict)
                dup = 1;
        json_t *v = dup ? NULL : dc_conflict_view(s->e, ch->v[i].conflict, party);
        if (v)
            json_array_append_new(arr, v);
    }
    return arr;
}

static const char *body_id(const json_t *args)
{
    json_t *v = args ? json_object_get(args, "id") : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* bulk_defers says whether record idx may stay queued (svc_bulk). */
static int bulk_defers(svc *s, int64_t idx)
{
    pthread_mutex_lock(&s->qmu);
    int defer = s->bulk && !s->broken && idx - s->durable_idx < SVC_BULK_RECORDS;
    pthread_mutex_unlock(&s->qmu);
    return defer;
}

int svc_bulk(svc *s, int on)
{
    pthread_mutex_lock(&s->emu);
    int64_t last = s->next_idx - 1;
    pthread_mutex_unlock(&s->emu);
    pthread_mutex_lock(&s->qmu);
    s->bulk = on;
    int pending = s->durable_idx < last;
    pthread_mutex_unlock(&s->qmu);
    return !on && pending ? wait_durable(s, last) : 0;
}

/* svc_write_impl: svc_write, or with fast != NULL a "positions" write of
 * a parsed batch (args NULL; see svc_write_positions). */
static dc_status svc_write_impl(svc *s, const char *op, const char *party, const char *id,
                                const json_t *args, const posbatch *fast, int *fallback,
                                svc_result *res, dc_error *err)
{
    memset(res, 0, sizeof *res);
    if (s->readonly) {
        seterr(err, DC_ERR_STATE, "", "read-only");
        return DC_ERR_STATE;
    }
    char token_hex[2 * crypto_hash_sha256_BYTES + 1];
    const char *tokp = NULL;
    if (strcmp(op, "party.add") == 0) {
        unsigned char raw[32], h[crypto_hash_sha256_BYTES];
        char rawhex[65];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(rawhex, sizeof rawhex, raw, sizeof raw);
        snprintf(res->token, sizeof res->token, TOKEN_PREFIX "%s", rawhex);
        crypto_hash_sha256(h, (const unsigned char *)res->token, strlen(res->token));
        sodium_bin2hex(token_hex, sizeof token_hex, h, sizeof h);
        sodium_memzero(raw, sizeof raw);
        sodium_memzero(rawhex, sizeof rawhex);
        tokp = token_hex;
    }

    /* The body of an operation or a site is parsed, and its geometry
     * validated, before the engine lock (dc_parsed in engine.h). */
    dc_parsed *pre = NULL;
    dc_status pst = fast || !party ? DC_OK : parsed_before_lock(op, id, args, &pre, err);
    if (pst != DC_OK) {
        /* As when the engine parsed under the lock: an unknown party is
         * the error, before anything wrong in the body. */
        dc_error pe = {0};
        pthread_mutex_lock(&s->emu);
        dc_status pc = dc_party_check(s->e, party, &pe);
        pthread_mutex_unlock(&s->emu);
        if (pc != DC_OK) {
            dc_error_clear(err);
            *err = pe;
            return pc;
        }
        return pst;
    }

    char *args_own = NULL;
    const char *args_text = fast ? fast->args_text : NULL;
    if (args && !(args_text = args_own = record_args_text(args))) {
        dc_parsed_free(pre);
        seterr(err, DC_ERR_NOMEM, "", "out of memory");
        return DC_ERR_NOMEM;
    }

    pthread_mutex_lock(&s->emu);
    if (is_broken(s)) {
        pthread_mutex_unlock(&s->emu);
        dc_parsed_free(pre);
        free(args_own);
        seterr(err, DC_ERR_NOMEM, "", "the log cannot be written; service degraded");
        return DC_ERR_NOMEM;
    }
    set_applying(s, 1);
    dc_time now = clock_now(s);
    int64_t adv_idx = advance_locked(s, now);
    /* A PUT that creates answers 201, like a POST (SPEC 4). */
    int unit_new = 0;
    if (party && id &&
        (strcmp(op, "unit.put") == 0 || strcmp(op, "site.put") == 0 ||
         strcmp(op, "operation.put") == 0)) {
        json_t *tmp = NULL;
        dc_error e2 = {0};
        dc_status found = op[0] == 'u'   ? dc_unit_json(s->e, party, id, now, &tmp, &e2)
                          : op[0] == 's' ? dc_site_json(s->e, party, id, &tmp, &e2)
                                         : dc_operation_json(s->e, party, id, &tmp, &e2);
        unit_new = found == DC_ERR_NOTFOUND;
        json_decref(tmp);
        dc_error_clear(&e2);
    }
    dc_changes ch;
    dc_changes_init(&ch);
    size_t accepted = 0;
    dc_status st;
    if (fast) {
        st = apply_positions_fast(s, party, fast, NULL, now, &ch, &accepted, fallback, err);
        if (st != DC_OK && !*fallback) {
            /* Part of a validated batch may be applied and cannot be
             * logged: refuse writes rather than diverge from the log. */
            mark_broken(s);
        }
    } else {
        st = apply(s, op, party, id, args, pre, tokp, now, &ch, &accepted, err);
        pre = NULL; /* taken */
        if (st != DC_OK && accepted > 0)
            mark_broken(s); /* a batch failed part-way (out of memory): as above */
    }
    int64_t idx = adv_idx;
    if (st == DC_OK) {
        int64_t rec_idx = 0;
        if (log_record(s, op, party, id, args, args_text, tokp, now, &ch, &rec_idx,
                       res->hash) != 0) {
            mark_broken(s);
            st = DC_ERR_NOMEM;
            seterr(err, DC_ERR_NOMEM, "", "out of memory writing the log");
        } else {
            idx = rec_idx;
            res->record = rec_idx;
            dc_time_format(now, res->time);
            res->accepted = accepted;
            res->http = is_create(op) || unit_new ? 201 : 200;
            if (strstr(op, ".delete"))
                res->http = 204;
            if (party && strcmp(op, "conflict.ack") != 0 && strcmp(op, "sharing.set") != 0)
                res->conflicts = opened_views(s, &ch, party);
            const char *oid = id ? id : body_id(args);
            json_t *obj = NULL;
            dc_error e2 = {0};
            if (oid && strncmp(op, "site.", 5) == 0 && res->http != 204)
                dc_site_json(s->e, party, oid, &obj, &e2);
            else if (oid && strncmp(op, "operation.", 10) == 0 && res->http != 204)
                dc_operation_json(s->e, party, oid, &obj, &e2);
            else if (oid && strcmp(op, "unit.put") == 0)
                dc_unit_json(s->e, party, oid, now, &obj, &e2);
            dc_error_clear(&e2);
            res->object = obj;
            if (strcmp(op, "conflict.ack") == 0) {
                dc_conflict *c = dc_conflict_find(s->e, id);
                res->conflict = c ? dc_conflict_view(s->e, c, party) : NULL;
            }
        }
    }
    dc_changes_free(&ch);
    dc_parsed_free(pre); /* not reached apply (a positions write): none */
    set_applying(s, 0);
    pthread_mutex_unlock(&s->emu);
    free(args_own);

    if (idx > 0 && !bulk_defers(s, idx) && wait_durable(s, idx) != 0 && st == DC_OK) {
        svc_result_free(res);
        seterr(err, DC_ERR_NOMEM, "", "the log cannot be written");
        return DC_ERR_NOMEM;
    }
    if (st != DC_OK)
        sodium_memzero(res->token, sizeof res->token);
    return st;
}

dc_status svc_write(svc *s, const char *op, const char *party, const char *id,
                    const json_t *args, svc_result *res, dc_error *err)
{
    return svc_write_impl(s, op, party, id, args, NULL, NULL, res, err);
}

dc_status svc_write_positions(svc *s, const char *party, const posbatch *b, int *fallback,
                              svc_result *res, dc_error *err)
{
    *fallback = 0;
    return svc_write_impl(s, "positions", party, NULL, NULL, b, fallback, res, err);
}

/* ---- reads ---- */

dc_engine *svc_engine_lock(svc *s, dc_time *now)
{
    pthread_mutex_lock(&s->emu);
    if (now)
        *now = clock_now(s);
    return s->e;
}

void svc_engine_unlock(svc *s)
{
    pthread_mutex_unlock(&s->emu);
}

int svc_auth(svc *s, const char *token, char party[40])
{
    if (!token || !token[0] || strlen(token) > 200)
        return 0;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    int found = 0;
    pthread_mutex_lock(&s->pmu);
    /* Compare against every party so the time does not depend on which. */
    for (size_t i = 0; i < s->nparties; i++) {
        int eq = s->parties[i].has_tok && sodium_memcmp(h, s->parties[i].tok, sizeof h) == 0;
        if (eq && !found) {
            snprintf(party, 40, "%s", s->parties[i].id);
            found = 1;
        }
    }
    pthread_mutex_unlock(&s->pmu);
    sodium_memzero(h, sizeof h);
    return found;
}

int64_t svc_events_head(svc *s, const char *party)
{
    int64_t head = 0;
    pthread_mutex_lock(&s->pmu);
    party_slot *p = party_find(s, party);
    if (p)
        head = p->durable_seq;
    pthread_mutex_unlock(&s->pmu);
    return head;
}

typedef struct {
    store_event_fn fn;
    void *ctx;
    int64_t last;
} read_ctx;

static void read_cb(void *ctx, int64_t seq, const char *body)
{
    read_ctx *rc = ctx;
    rc->last = seq;
    rc->fn(rc->ctx, seq, body);
}

int svc_events_read(svc *s, const char *party, int64_t after, int limit, size_t max_bytes,
                    store_event_fn fn, void *ctx)
{
    read_ctx rc = {fn, ctx, after};
    int n = store_events_after(s->st, party, after, limit, max_bytes, read_cb, &rc);
    pthread_mutex_lock(&s->pmu);
    party_slot *p = party_find(s, party);
    if (p && rc.last > p->delivered)
        p->delivered = rc.last;
    pthread_mutex_unlock(&s->pmu);
    return n;
}

void svc_set_notify(svc *s, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&s->qmu);
    s->notify = fn;
    s->notify_ctx = ctx;
    pthread_mutex_unlock(&s->qmu);
}

void svc_get_stats(svc *s, svc_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->emu);
    dc_stats es;
    dc_engine_stats(s->e, &es);
    out->conflicts_open = es.conflicts_open;
    out->records = s->next_idx - 1;
    out->replay_rebuilt = s->replay_rebuilt;
    pthread_mutex_unlock(&s->emu);
    pthread_mutex_lock(&s->pmu);
    for (size_t i = 0; i < s->nparties; i++) {
        out->events_total += s->parties[i].durable_seq;
        if (s->parties[i].durable_seq > s->parties[i].delivered)
            out->events_pending += s->parties[i].durable_seq - s->parties[i].delivered;
    }
    pthread_mutex_unlock(&s->pmu);
    pthread_mutex_lock(&s->qmu);
    out->commits = s->commits;
    memcpy(out->commit_le, s->commit_le, sizeof out->commit_le);
    out->commit_sum_s = s->commit_sum;
    pthread_mutex_unlock(&s->qmu);
}

int64_t svc_record_count(svc *s)
{
    pthread_mutex_lock(&s->emu);
    int64_t n = s->next_idx - 1;
    pthread_mutex_unlock(&s->emu);
    return n;
}

int svc_is_empty(svc *s)
{
    return svc_record_count(s) == 0;
}

void svc_clock_set(svc *s, dc_time t)
{
    pthread_mutex_lock(&s->emu);
    s->realtime = 0;
    s->base = t > s->last_now ? t : s->last_now;
    s->last_now = s->base;
    clock_gettime(CLOCK_MONOTONIC, &s->mono_base);
    pthread_mutex_unlock(&s->emu);
}

/* ---- the clock thread ---- */

static void *clock_main(void *arg)
{
    prctl(PR_SET_NAME, "dc-clock", 0, 0, 0); /* a name in top -H and /proc */
    svc *s = arg;
    pthread_mutex_lock(&s->cmu);
    while (!s->clock_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&s->ccond, &s->cmu, &ts);
        if (s->clock_stop)
            break;
        pthread_mutex_unlock(&s->cmu);
        pthread_mutex_lock(&s->emu);
        int64_t idx = is_broken(s) ? 0 : advance_locked(s, clock_now(s));
        pthread_mutex_unlock(&s->emu);
        if (idx > 0)
            wait_durable(s, idx);
        pthread_mutex_lock(&s->cmu);
    }
    pthread_mutex_unlock(&s->cmu);
    return NULL;
}

int svc_clock_start(svc *s)
{
    if (s->clock_running)
        return 0;
    s->clock_stop = 0;
    if (pthread_create(&s->clock_thread, NULL, clock_main, s) != 0)
        return -1;
    s->clock_running = 1;
    return 0;
}

void svc_clock_stop(svc *s)
{
    if (!s->clock_running)
        return;
    pthread_mutex_lock(&s->cmu);
    s->clock_stop = 1;
    pthread_cond_signal(&s->ccond);
    pthread_mutex_unlock(&s->cmu);
    pthread_join(s->clock_thread, NULL);
    s->clock_running = 0;
}

/* ---- open and replay ----
 *
 * A restart runs on two threads (the machine has two cores). The reader
 * reads the log from SQLite, checks the chain and each record's hash,
 * parses position records of the usual shape (posbatch_parse_record), and
 * checks (fix: repairs) the events the replay re-derives against the
 * stored ones: everything that touches the database. The caller's thread
 * applies the records in order and re-derives their events. Records go
 * one way and events the other, in batches, through two bounded queues;
 * both stay in log order, so a restart stops at, and reports, the same
 * first problem as a replay of one record after another, and checks the
 * same events before it. Each thread frees what it allocated, and batches
 * go back to their maker once used, to be used again: with glibc, memory
 * freed by the other thread, and large blocks freed and allocated again
 * (each one consolidates the free lists), cost more than the replay. */

#define REPLAY_BATCH 256 /* records per batch */
#define REPLAY_QUEUE 8   /* batches in flight each way */

typedef struct {
    int64_t idx;
    char hash[STORE_HASH_HEX];
    char *content; /* owned */
    int fast;      /* pb, party and t hold the parsed record */
    posbatch pb;
    char party[64];
    dc_time t;
    /* applier: the unit of a one-report record, found ahead of it
     * (replay_find_ahead); NULL: found when the record is applied */
    dc_unit_ref *ref;
} replay_rec;

typedef struct replay_batch {
    replay_rec *rec;
    size_t n;
    int last;     /* no records after these; why in err ("" at the log's end) */
    char err[256];
    struct replay_batch *next;
} replay_batch;

typedef struct {
    char party[40];
    int64_t seq, idx; /* idx: the event's record */
    char *body;       /* owned */
} replay_event;

typedef struct event_batch {
    replay_event *v;
    size_t n, cap;
    struct event_batch *next;
} event_batch;

typedef struct {
    svc *s;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    replay_batch *rhead, *rtail;
    event_batch *ehead, *etail;
    int nr, ne;       /* batches queued each way */
    int stop;         /* the applier wants no more records */
    int applier_done; /* and will send no more events */
    replay_batch *rdone; /* used, back to the reader */
    event_batch *edone;  /* checked, back to the applier */
    replay_batch *rspare; /* the reader's, emptied */
    event_batch *espare;  /* the applier's, emptied */
    /* the reader's own */
    int64_t expect_idx;
    char prev[STORE_HASH_HEX];
    replay_batch *cur;
} replay_pipe;

/* replay_batch_clear empties b for use again. */
static void replay_batch_clear(replay_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->rec[i].content);
        if (b->rec[i].fast)
            posbatch_free(&b->rec[i].pb);
    }
    b->n = 0;
    b->last = 0;
    b->err[0] = 0;
    b->next = NULL;
}

static void replay_batch_free(replay_batch *b)
{
    if (!b)
        return;
    replay_batch_clear(b);
    free(b->rec);
    free(b);
}

static void event_batch_clear(event_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i].body);
    b->n = 0;
    b->next = NULL;
}

static void event_batch_free(event_batch *b)
{
    if (!b)
        return;
    event_batch_clear(b);
    free(b->v);
    free(b);
}

static replay_batch *replay_batch_new(replay_pipe *rp)
{
    if (rp->rspare) {
        replay_batch *b = rp->rspare;
        rp->rspare = b->next;
        b->next = NULL;
        return b;
    }
    replay_batch *b = calloc(1, sizeof *b);
    if (b && !(b->rec = malloc(REPLAY_BATCH * sizeof *b->rec))) {
        free(b);
        b = NULL;
    }
    return b;
}

/* check_events checks a batch of re-derived events (reader). */
static void check_events(replay_pipe *rp, event_batch *b)
{
    svc *s = rp->s;
    for (size_t i = 0; i < b->n; i++) {
        const replay_event *e = &b->v[i];
        if (store_events_check_one(s->st, e->party, e->seq, e->body) != 0) {
            s->replay_bad_events++;
            if (!s->replay_first_bad[0])
                snprintf(s->replay_first_bad, sizeof s->replay_first_bad,
                         "event %s/%" PRId64 " (record %" PRId64 ") differs from the replay",
                         e->party, e->seq, e->idx);
        }
    }
}

/* drain_events checks every queued event batch; mu held (released while
 * checking). */
static void drain_events(replay_pipe *rp)
{
    while (rp->ehead) {
        event_batch *b = rp->ehead;
        rp->ehead = b->next;
        if (!rp->ehead)
            rp->etail = NULL;
        rp->ne--;
        pthread_cond_broadcast(&rp->cond);
        pthread_mutex_unlock(&rp->mu);
        check_events(rp, b);
        pthread_mutex_lock(&rp->mu);
        b->next = rp->edone;
        rp->edone = b;
    }
}

/* push_records queues the reader's current batch, checking events while
 * the queue is full. Returns 0, or 1 when the applier stopped. */
static int push_records(replay_pipe *rp)
{
    replay_batch *b = rp->cur;
    rp->cur = NULL;
    pthread_mutex_lock(&rp->mu);
    for (;;) {
        while (rp->rdone) {
            replay_batch *d = rp->rdone;
            rp->rdone = d->next;
            pthread_mutex_unlock(&rp->mu);
            replay_batch_clear(d);
            d->next = rp->rspare;
            rp->rspare = d;
            pthread_mutex_lock(&rp->mu);
        }
        drain_events(rp);
        if (rp->stop || rp->nr < REPLAY_QUEUE)
            break;
        pthread_cond_wait(&rp->cond, &rp->mu);
    }
    int stopped = rp->stop;
    if (!stopped) {
        if (rp->rtail)
            rp->rtail->next = b;
        else
            rp->rhead = b;
        rp->rtail = b;
        rp->nr++;
        pthread_cond_broadcast(&rp->cond);
    }
    pthread_mutex_unlock(&rp->mu);
    if (stopped)
        replay_batch_free(b);
    return stopped;
}

/* read_one is the reader's store_each_record callback: the chain and hash
 * checks, then the record joins the batch. Returns 0, 1 (a bad record or
 * out of memory: the batch's err says why) or 2 (the applier stopped). */
static int read_one(void *ctx, int64_t idx, const char *prev, const char *hash,
                    const char *content)
{
    replay_pipe *rp = ctx;
    if (!rp->cur && !(rp->cur = replay_batch_new(rp)))
        return 2; /* reader_main reports it */
    replay_batch *b = rp->cur;
    char want[STORE_HASH_HEX];
    if (idx != rp->expect_idx) {
        snprintf(b->err, sizeof b->err, "record %" PRId64 ": missing (found %" PRId64 " next)",
                 rp->expect_idx, idx);
        return 1;
    }
    if (strcmp(prev, rp->prev) != 0) {
        snprintf(b->err, sizeof b->err,
                 "record %" PRId64 ": previous-hash does not match record %" PRId64, idx, idx - 1);
        return 1;
    }
    store_record_hash(idx, prev, content, want);
    if (strcmp(want, hash) != 0) {
        snprintf(b->err, sizeof b->err, "record %" PRId64 ": content does not match its hash",
                 idx);
        return 1;
    }
    replay_rec *r = &b->rec[b->n];
    size_t len = strlen(content);
    if (!(r->content = malloc(len + 1))) {
        snprintf(b->err, sizeof b->err, "record %" PRId64 ": out of memory", idx);
        return 1;
    }
    memcpy(r->content, content, len + 1);
    r->idx = idx;
    memcpy(r->hash, hash, STORE_HASH_HEX);
    r->fast = posbatch_parse_record(content, len, DC_MAX_BATCH, &r->pb, r->party,
                                    sizeof r->party, &r->t) == POSBATCH_OK;
    r->ref = NULL;
    b->n++;
    memcpy(rp->prev, hash, STORE_HASH_HEX);
    rp->expect_idx = idx + 1;
    if (b->n == REPLAY_BATCH)
        return push_records(rp) ? 2 : 0;
    return 0;
}

static void *reader_main(void *arg)
{
    prctl(PR_SET_NAME, "dc-replay-read", 0, 0, 0); /* a name in top -H and /proc */
    replay_pipe *rp = arg;
    char eb[256] = "";
    int r = store_each_record(rp->s->st, read_one, rp, eb, sizeof eb);
    pthread_mutex_lock(&rp->mu);
    int stopped = rp->stop;
    pthread_mutex_unlock(&rp->mu);
    if (!stopped) {
        /* the last batch says why reading ended */
        if (!rp->cur && !(rp->cur = replay_batch_new(rp))) {
            pthread_mutex_lock(&rp->mu);
            rp->stop = 1; /* the applier sees an empty queue and stop */
            pthread_cond_broadcast(&rp->cond);
            pthread_mutex_unlock(&rp->mu);
        } else {
            rp->cur->last = 1;
            if (r == -1)
                snprintf(rp->cur->err, sizeof rp->cur->err, "%s", eb);
            else if (r != 0 && !rp->cur->err[0])
                snprintf(rp->cur->err, sizeof rp->cur->err, "out of memory");
            push_records(rp);
        }
    }
    replay_batch_free(rp->cur);
    rp->cur = NULL;
    /* check what the applier still sends */
    pthread_mutex_lock(&rp->mu);
    for (;;) {
        drain_events(rp);
        if (rp->applier_done)
            break;
        pthread_cond_wait(&rp->cond, &rp->mu);
    }
    pthread_mutex_unlock(&rp->mu);
    return NULL;
}

typedef struct {
    svc *s;
    dc_time last_t;
    char *errbuf;
    size_t errlen;
} replay_ctx;

/* load_record reads a record with jansson: *r (to json_decref) holds the
 * strings given. Returns 0, or -1 when it is not a valid record. */
static int load_record(const char *content, json_t **r, dc_time *t, const char **op,
                       const char **party, const char **id, const char **tok,
                       const json_t **args)
{
    json_error_t jerr;
    json_t *rec = json_loads(content, JSON_REJECT_DUPLICATES, &jerr);
    json_t *jt = rec ? json_object_get(rec, "t") : NULL;
    json_t *jop = rec ? json_object_get(rec, "op") : NULL;
    if (!json_is_integer(jt) || !json_is_string(jop)) {
        json_decref(rec);
        return -1;
    }
    *r = rec;
    *t = json_integer_value(jt);
    *op = json_string_value(jop);
    *party = json_string_value(json_object_get(rec, "party"));
    *id = json_string_value(json_object_get(rec, "id"));
    *tok = json_string_value(json_object_get(rec, "token_sha256"));
    *args = json_object_get(rec, "args");
    return 0;
}

typedef struct {
    svc *s;
    event_batch *out;
    int64_t idx;
} replay_out;

/* queue_event is the replay's event_fn: the event's text (as
 * make_events makes it, in full) joins the batch for the reader to
 * check. */
static int queue_event(void *ctx, const char *party, int64_t seq, char *body)
{
    replay_out *ro = ctx;
    event_batch *b = ro->out;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        replay_event *nv = realloc(b->v, cap * sizeof *nv);
        if (!nv) {
            free(body);
            return -1;
        }
        b->v = nv;
        b->cap = cap;
    }
    replay_event *e = &b->v[b->n++];
    snprintf(e->party, sizeof e->party, "%s", party);
    e->seq = seq;
    e->idx = ro->idx;
    e->body = body;
    return 0;
}

/* apply_one replays one record (applier): as live, an advance to its time,
 * then the record; its events go to out. Returns 0, or 1 with the reason
 * in errbuf. */
static int apply_one(replay_ctx *rc, replay_rec *rec, event_batch *out)
{
    svc *s = rc->s;
    int64_t idx = rec->idx;
    int fast = rec->fast;
    json_t *r = NULL;
    dc_time t = rec->t;
    const char *op = "positions", *party = rec->party, *id = NULL, *tok = NULL;
    const json_t *args = NULL;
    if (!fast && load_record(rec->content, &r, &t, &op, &party, &id, &tok, &args) != 0) {
        snprintf(rc->errbuf, rc->errlen, "record %" PRId64 ": not a valid record", idx);
        return 1;
    }
    if (t < rc->last_t) {
        json_decref(r);
        snprintf(rc->errbuf, rc->errlen, "record %" PRId64 ": time goes backwards", idx);
        return 1;
    }

    s->last_now = t;
    int is_advance = strcmp(op, "advance") == 0;
    dc_changes pre;
    dc_changes_init(&pre);
    if (!is_advance)
        dc_advance(s->e, t, &pre); /* as live: every write follows an advance to its time */
    int pre_changed = pre.n > 0;
    dc_changes_free(&pre);

    dc_changes ch;
    dc_changes_init(&ch);
    dc_error err = {0};
    size_t accepted = 0;
    dc_status st = DC_OK;
    int fallback = 0;
    if (fast) {
        /* as live: a batch whose units or times fail the checks is
         * applied (and its error given) by the general path */
        st = apply_positions_fast(s, party, &rec->pb, rec->ref ? &rec->ref : NULL, t, &ch,
                                  &accepted, &fallback, &err);
        if (fallback) {
            dc_error_clear(&err);
            memset(&err, 0, sizeof err);
            if (load_record(rec->content, &r, &t, &op, &party, &id, &tok, &args) != 0) {
                dc_changes_free(&ch);
                snprintf(rc->errbuf, rc->errlen, "record %" PRId64 ": not a valid record", idx);
                return 1;
            }
        }
    }
    if (!fast || fallback)
        st = apply(s, op, party, id, args, NULL, tok, t, &ch, &accepted, &err);
    int rcode = 0;
    if (pre_changed)
        slog_warn("replay_diverges", "\"record\":%" PRId64
                  ",\"why\":\"a time advance changed state without a record\"", idx);
    if (st != DC_OK) {
        snprintf(rc->errbuf, rc->errlen, "record %" PRId64 ": replay rejected it: %s (%s)", idx,
                 err.message, err.field);
        rcode = 1;
    } else {
        /* the events go to the check (as before, also those made before
         * running out of memory half-way) */
        replay_out ro = {s, out, idx};
        if (each_event(s, &ch, idx, t, args, NULL, NULL, queue_event, &ro) != 0) {
            snprintf(rc->errbuf, rc->errlen, "record %" PRId64 ": out of memory", idx);
            rcode = 1;
        }
    }
    dc_error_clear(&err);
    dc_changes_free(&ch);
    json_decref(r);
    if (rcode)
        return rcode;
    memcpy(s->tip, rec->hash, STORE_HASH_HEX);
    s->next_idx = idx + 1;
    rc->last_t = t;
    return 0;
}

/* Most of a long log is position records of one report each (live
 * clients that send one report at a time, svc_bulk in bench D). Alone, a
 * record of one report waits for memory one pointer after another (unit,
 * lists, conflicts, volumes: engine ingest.c), as a batch of one would;
 * the applier knows the records that come next, so it finds their units
 * ahead and asks the CPU for what they will read, as a batch does within
 * itself. Hand-written because it was measured, if only modestly:
 * restarting bench D's log of 2M records (1.84M of them one-report
 * position records), the applying thread's CPU time over four alternating
 * restarts of each build was 7.78-9.12 s (median 8.55) without this and
 * 7.04-8.17 s (median 7.25) with it. The ranges overlap on this noisy
 * machine; the medians differ by 1.3 s, 0.7 us per position record.
 *
 * replay_find_ahead finds the units of the one-report records in the run
 * of position records that starts at i, and returns where the run ends.
 * Within a run no unit is created or deleted (neither a position report
 * nor the advance before each record does either), so a unit found ahead
 * is the one the record would find; any record may still fall back to the
 * general path, which finds its unit again. */
static size_t replay_find_ahead(svc *s, replay_batch *b, size_t i)
{
    size_t end = i;
    while (end < b->n && b->rec[end].fast)
        end++;
    dc_report r[REPLAY_BATCH];
    dc_unit_ref *u[REPLAY_BATCH];
    size_t seg = i;
    while (seg < end) { /* consecutive one-report records of one party */
        size_t n = 0, k = seg;
        for (; k < end && b->rec[k].pb.n == 1 && strcmp(b->rec[k].party, b->rec[seg].party) == 0;
             k++)
            r[n++] = b->rec[k].pb.v[0];
        if (n == 0) {
            seg++; /* a record of several reports: its batch finds them */
            continue;
        }
        size_t found = dc_units_find(s->e, b->rec[seg].party, r, n, u);
        for (size_t j = 0; j < found; j++)
            b->rec[seg + j].ref = u[j];
        seg = k;
    }
    return end;
}

/* replay_prefetch: before record i, each stage of dc_unit_prefetch for the
 * record that many ahead (ingest.c's distances, AHEAD_UNIT to AHEAD_SIDES). */
static void replay_prefetch(const replay_batch *b, size_t i, size_t run_end)
{
    static const size_t ahead[4] = {7, 4, 2, 1};
    for (int k = 0; k < 4; k++) {
        size_t j = i + ahead[k];
        if (j < run_end && b->rec[j].ref)
            dc_unit_prefetch(b->rec[j].ref, k);
    }
}

/* replay_log replays the whole log (see above). Returns 0, or -1 with the
 * first problem in errbuf. */
static int replay_log(svc *s, replay_ctx *rc)
{
    replay_pipe rp;
    memset(&rp, 0, sizeof rp);
    rp.s = s;
    rp.expect_idx = 1;
    memcpy(rp.prev, ZERO_HASH, STORE_HASH_HEX);
    pthread_mutex_init(&rp.mu, NULL);
    pthread_cond_init(&rp.cond, NULL);
    pthread_t reader;
    if (pthread_create(&reader, NULL, reader_main, &rp) != 0) {
        snprintf(rc->errbuf, rc->errlen, "cannot start the replay's reader thread");
        pthread_mutex_destroy(&rp.mu);
        pthread_cond_destroy(&rp.cond);
        return -1;
    }
    int failed = 0, done = 0;
    while (!done && !failed) {
        pthread_mutex_lock(&rp.mu);
        while (!rp.rhead && !rp.stop)
            pthread_cond_wait(&rp.cond, &rp.mu);
        replay_batch *b = rp.rhead;
        if (b) {
            rp.rhead = b->next;
            if (!rp.rhead)
                rp.rtail = NULL;
            rp.nr--;
            pthread_cond_broadcast(&rp.cond);
        }
        pthread_mutex_unlock(&rp.mu);
        if (!b) {
            snprintf(rc->errbuf, rc->errlen, "out of memory");
            failed = 1;
            break;
        }
        event_batch *ev = rp.espare;
        if (ev)
            rp.espare = ev->next;
        else
            ev = calloc(1, sizeof *ev);
        if (!ev) {
            snprintf(rc->errbuf, rc->errlen, "out of memory");
            failed = 1;
        }
        for (size_t i = 0, run_end = 0; ev && i < b->n && !failed; i++) {
            if (i >= run_end)
                run_end = replay_find_ahead(s, b, i);
            replay_prefetch(b, i, run_end);
            failed = apply_one(rc, &b->rec[i], ev);
        }
        if (!failed && b->last) {
            done = 1;
            if (b->err[0]) {
                snprintf(rc->errbuf, rc->errlen, "%s", b->err);
                failed = 1;
            }
        }
        pthread_mutex_lock(&rp.mu);
        b->next = rp.rdone;
        rp.rdone = b;
        if (ev) {
            while (rp.ne >= REPLAY_QUEUE)
                pthread_cond_wait(&rp.cond, &rp.mu);
            ev->next = NULL;
            if (rp.etail)
                rp.etail->next = ev;
            else
                rp.ehead = ev;
            rp.etail = ev;
            rp.ne++;
            pthread_cond_broadcast(&rp.cond);
        }
        event_batch *done = rp.edone;
        rp.edone = NULL;
        pthread_mutex_unlock(&rp.mu);
        while (done) {
            event_batch *d = done;
            done = d->next;
            event_batch_clear(d);
            d->next = rp.espare;
            rp.espare = d;
        }
    }
    pthread_mutex_lock(&rp.mu);
    rp.stop = 1;
    rp.applier_done = 1;
    pthread_cond_broadcast(&rp.cond);
    pthread_mutex_unlock(&rp.mu);
    pthread_join(reader, NULL);
    while (rp.rhead) {
        replay_batch *b = rp.rhead;
        rp.rhead = b->next;
        replay_batch_free(b);
    }
    while (rp.rdone) {
        replay_batch *b = rp.rdone;
        rp.rdone = b->next;
        replay_batch_free(b);
    }
    while (rp.edone) {
        event_batch *b = rp.edone;
        rp.edone = b->next;
        event_batch_free(b);
    }
    while (rp.espare) {
        event_batch *b = rp.espare;
        rp.espare = b->next;
        event_batch_free(b);
    }
    while (rp.rspare) {
        replay_batch *b = rp.rspare;
        rp.rspare = b->next;
        replay_batch_free(b);
    }

    pthread_mutex_destroy(&rp.mu);
    pthread_cond_destroy(&rp.cond);
    return failed ? -1 : 0;
}

/* ---- shared texts after a restart ----
 * A live service writes an operation's geometry into the texts table the
 * first time an event shows it, and from then on refers to it by number
 * (jtext's cache keeps the number). A restart re-derives every event in
 * full, so its cache starts with no numbers, and each geometry used to be
 * stored again at its first use after the restart: 11,800 texts (18.5 MB)
 * more while bench A ran on a restarted service than on a fresh one. So
 * the texts the event check read, with their numbers, are matched to the
 * cache's entries, by exact text (a hash only to find candidates). */
typedef struct {
    uint64_t h;
    int64_t id; /* 0: empty slot */
    const char *text;
    size_t len;
} known_text;

typedef struct {
    known_text *v;
    size_t cap, n;
} text_index;

static uint64_t text_hash(const char *t, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)t[i]) * 0x100000001b3ull;
    return h;
}

static void count_text(void *ctx, int64_t id, const char *text, size_t len)
{
    (void)id;
    (void)text;
    (void)len;
    ((text_index *)ctx)->n++;
}

static void index_text(void *ctx, int64_t id, const char *text, size_t len)
{
    text_index *ix = ctx;
    uint64_t h = text_hash(text, len);
    size_t i = (size_t)h & (ix->cap - 1);
    while (ix->v[i].id)
        i = (i + 1) & (ix->cap - 1);
    ix->v[i] = (known_text){h, id, text, len};
}

static long long text_ref_of(void *ctx, const char *text, size_t len)
{
    const text_index *ix = ctx;
    uint64_t h = text_hash(text, len);
    for (size_t i = (size_t)h & (ix->cap - 1); ix->v[i].id; i = (i + 1) & (ix->cap - 1))
        if (ix->v[i].h == h && ix->v[i].len == len && memcmp(ix->v[i].text, text, len) == 0)
            return ix->v[i].id;
    return 0;
}

/* learn_text_refs gives the cache's entries the numbers of their stored
 * texts (see above); before store_events_end_check. Out of memory: none
 * (they are then stored again, as before). */
static void learn_text_refs(svc *s)
{
    text_index ix = {0};
    store_check_texts(s->st, count_text, &ix);
    if (ix.n == 0)
        return;
    ix.cap = 16;
    while (ix.cap < 2 * ix.n)
        ix.cap *= 2;
    if (!(ix.v = calloc(ix.cap, sizeof *ix.v)))
        return;
    store_check_texts(s->st, index_text, &ix);
    size_t got = jtext_cache_set_refs(s->geo_text, text_ref_of, &ix);
    free(ix.v);
    slog_info("texts_known", "\"texts\":%zu,\"cached_with_number\":%zu", ix.n, got);
}

static int64_t head_of(void *ctx, const char *party)
{
    svc *s = ctx;
    party_slot *p = party_find(s, party);
    return p ? p->head_seq : -1;
}

static int svc_open_impl(const svc_options *o, svc **out, char *errbuf, size_t n)
{
    *out = NULL;
    if (sodium_init() < 0) {
        snprintf(errbuf, n, "libsodium failed to initialise");
        return -1;
    }
    svc *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(errbuf, n, "out of memory");
        return -1;
    }
    s->readonly = o->readonly;
    pthread_mutex_init(&s->emu, NULL);
    pthread_mutex_init(&s->pmu, NULL);
    pthread_mutex_init(&s->qmu, NULL);
    pthread_mutex_init(&s->cmu, NULL);
    pthread_cond_init(&s->qcond, NULL);
    pthread_cond_init(&s->ccond, NULL);
    s->next_idx = 1;
    memcpy(s->tip, ZERO_HASH, STORE_HASH_HEX);
    s->parties = calloc(DC_MAX_PARTIES, sizeof *s->parties);
    s->e = dc_engine_new();
    s->geo_text = jtext_cache_new(SVC_GEO_CACHE_ENTRIES, SVC_GEO_CACHE_BYTES);
    if (!s->parties || !s->e || !s->geo_text) {
        snprintf(errbuf, n, "out of memory");
        svc_close(s);
        return -1;
    }
    if (store_open(o->data_dir, o->readonly, !o->readonly, &s->st, errbuf, n) != 0) {
        svc_close(s);
        return -1;
    }
    /* Replay: verify the chain, rebuild the engine, check (and unless
     * readonly, repair) the events kept beside the log. */
    replay_ctx rc = {s, DC_TIME_MIN, errbuf, n};
    s->replaying = 1;
    if (store_events_begin_check(s->st, !o->readonly) != 0) {
        snprintf(errbuf, n, "cannot check events");
        svc_close(s);
        return -1;
    }
    if (replay_log(s, &rc) != 0) {
        if (!o->readonly)
            store_events_end_check(s->st, head_of, s, NULL, 0); /* commit or nothing */
        svc_close(s);
        return -1;
    }
    learn_text_refs(s);
    char extra_msg[256];
    int64_t extra = store_events_end_check(s->st, head_of, s, extra_msg, sizeof extra_msg);
    s->replaying = 0;
    s->replay_rebuilt = s->replay_bad_events + (extra > 0 ? extra : 0);
    if (extra < 0) {
        snprintf(errbuf, n, "cannot check events");
        svc_close(s);
        return -1;
    }
    if (s->replay_bad_events > 0 || extra > 0) {
        if (o->readonly) {
            snprintf(errbuf, n, "%s", s->replay_bad_events ? s->replay_first_bad : extra_msg);
            svc_close(s);
            return -1;
        }
        slog_warn("events_rebuilt", "\"differing\":%" PRId64 ",\"extra\":%" PRId64,
                  s->replay_bad_events, extra);
    }
    s->durable_idx = s->next_idx - 1;
    s->last_text_id = store_text_max_id(s->st);
    for (size_t i = 0; i < s->nparties; i++)
        s->parties[i].durable_seq = s->parties[i].head_seq;
    /* The clock resumes from the later of --clock-start and the log. */
    dc_time last = rc.last_t == DC_TIME_MIN ? 0 : rc.last_t;
    s->last_now = last;
    if (o->has_clock_start) {
        s->realtime = 0;
        s->base = o->clock_start > last ? o->clock_start : last;
        clock_gettime(CLOCK_MONOTONIC, &s->mono_base);
    } else {
        s->realtime = 1;
    }
    *out = s;
    return 0;
}

int svc_open(const svc_options *o, svc **out, char *errbuf, size_t n)
{
    return svc_open_impl(o, out, errbuf, n);
}

int svc_verify(const char *data_dir, int64_t *records, char *errbuf, size_t n)
{
    svc_options o = {0};
    o.data_dir = data_dir;
    o.readonly = 1;
    svc *s = NULL;
    *records = 0;
    if (svc_open_impl(&o, &s, errbuf, n) != 0)
        return -1;
    *records = s->next_idx - 1;
    svc_close(s);
    return 0;
}

void svc_close(svc *s)
{
    if (!s)
        return;
    svc_clock_stop(s);
    /* Flush anything still queued (nothing is, once writers returned). */
    pthread_mutex_lock(&s->qmu);
    store_pending *left = s->qhead;
    s->qhead = s->qtail = NULL;
    pthread_mutex_unlock(&s->qmu);
    if (left && s->st) {
        char eb[200];
        store_append(s->st, left, eb, sizeof eb);
    }
    store_pending_free(left);
    store_close(s->st);
    jtext_cache_free(s->geo_text);
    dc_engine_free(s->e);
    free(s->parties);
    pthread_mutex_destroy(&s->emu);
    pthread_mutex_destroy(&s->pmu);
    pthread_mutex_destroy(&s->qmu);
    pthread_mutex_destroy(&s->cmu);
    pthread_cond_destroy(&s->qcond);
    pthread_cond_destroy(&s->ccond);
    free(s);
}

/* ---- scenarios ---- */

static json_t *without(const json_t *obj, const char *k1, const char *k2)
{
    json_t *c = json_copy((json_t *)obj);
    if (c) {
        json_object_del(c, k1);
        if (k2)
            json_object_del(c, k2);
    }
    return c;
}

static dc_status scen_err(dc_error *err, dc_status st, const char *section, size_t i)
{
    char f[sizeof err->field + 64];
    snprintf(f, sizeof f, "%s[%zu]%s%.120s", section, i, err->field[0] ? "." : "", err->field);
    f[sizeof err->field - 1] = 0;
    memcpy(err->field, f, sizeof err->field);
    return st;
}

static const char *owner_of(const json_t *item, const char *key)
{
    json_t *v = json_object_get(item, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

dc_status svc_load_scenario(svc *s, const json_t *sc, json_t **tokens, dc_error *err)
{
    *tokens = json_object();
    if (!json_is_object(sc)) {
        seterr(err, DC_ERR_MALFORMED, "", "a scenario is a JSON object");
        return DC_ERR_MALFORMED;
    }
    json_t *clock = json_object_get(sc, "clock");
    dc_time t;
    if (!json_is_string(clock) || dc_time_parse(json_string_value(clock), &t) != 0) {
        seterr(err, DC_ERR_MALFORMED, "clock", "must be an RFC 3339 time");
        return DC_ERR_MALFORMED;
    }
    svc_clock_set(s, t);
    svc_result res;
    dc_status st;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(sc, "parties"), i, item) {
        if ((st = svc_write(s, "party.add", NULL, NULL, item, &res, err)) != DC_OK)
            return scen_err(err, st, "parties", i);
        json_object_set_new(*tokens, json_string_value(json_object_get(item, "id")),
                            json_string(res.token));
        svc_result_free(&res);
    }
    json_array_foreach(json_object_get(sc, "sharing"), i, item) {
        const char *from = owner_of(item, "from"), *to = owner_of(item, "to");
        if (!from || !to) {
            seterr(err, DC_ERR_MALFORMED, "from", "from and to are required");
            return scen_err(err, DC_ERR_MALFORMED, "sharing", i);
        }
        json_t *body = without(item, "from", "to");
        st = svc_write(s, "sharing.set", from, to, body, &res, err);
        json_decref(body);
        svc_result_free(&res);
        if (st != DC_OK)
            return scen_err(err, st, "sharing", i);
    }
    static const struct {
        const char *section, *op;
        int id_in_url;
    } steps[] = {{"sites", "site.create", 0}, {"units", "unit.put", 1},
                 {"operations", "operation.create", 0}};
    for (int k = 0; k < 3; k++) {
        if (k == 2) {
            /* positions before operations: group consecutive reports of
             * one owner into batches. */
            json_t *pos = json_object_get(sc, "positions");
            size_t n = json_array_size(pos);
            for (i = 0; i < n;) {
                const char *owner = owner_of(json_array_get(pos, i), "owner");
                if (!owner) {
                    seterr(err, DC_ERR_MALFORMED, "owner", "required");
                    return scen_err(err, DC_ERR_MALFORMED, "positions", i);
                }
                json_t *reports = json_array();
                size_t j = i;
                while (j < n && json_array_size(reports) < DC_MAX_BATCH) {
                    const char *o2 = owner_of(json_array_get(pos, j), "owner");
                    if (!o2 || strcmp(o2, owner) != 0)
                        break;
                    json_array_append_new(reports, without(json_array_get(pos, j), "owner", NULL));
                    j++;
                }
                json_t *body = json_pack("{so}", "reports", reports);
                st = svc_write(s, "positions", owner, NULL, body, &res, err);
                json_decref(body);
                svc_result_free(&res);
                if (st != DC_OK)
                    return scen_err(err, st, "positions", i);
                i = j;
            }
        }
        json_array_foreach(json_object_get(sc, steps[k].section), i, item) {
            const char *owner = owner_of(item, "owner");
            const char *id = owner_of(item, "id");
            if (!owner || (steps[k].id_in_url && !id)) {
                seterr(err, DC_ERR_MALFORMED, owner ? "id" : "owner", "required");
                return scen_err(err, DC_ERR_MALFORMED, steps[k].section, i);
            }
            json_t *body = steps[k].id_in_url ? without(item, "owner", "id")
                                              : without(item, "owner", NULL);
            st = svc_write(s, steps[k].op, owner, steps[k].id_in_url ? id : NULL, body, &res,
                           err);
            json_decref(body);
            svc_result_free(&res);
            if (st != DC_OK)
                return scen_err(err, st, steps[k].section, i);
        }
    }
    return DC_OK;
}
