/* store: SQLite data directory holding the hash-chained log and the event
 * streams. See store.h for the record format. */
#include "store.h"

#include "jtext.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* WAL pages that make a checkpoint worth doing (SQLite's default), and
 * the WAL size at which the writer checkpoints itself because the thread
 * is behind (a bound on the WAL file). */
#define STORE_CKPT_PAGES 1000
#define STORE_CKPT_BACKSTOP_PAGES 65536

/* text_memo: shared texts by number, open addressing (texts never change
 * once written). Bounded in bytes; beyond that, texts are read each time. */
typedef struct {
    int64_t *ids; /* 0: empty slot */
    char **texts;
    size_t *lens;
    size_t cap, n, bytes;
} text_memo;

#define STORE_MEMO_BYTES (256u * 1024 * 1024)

static size_t memo_slot(const text_memo *m, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 17) & (m->cap - 1);
    while (m->ids[i] && m->ids[i] != id)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static const char *memo_get(const text_memo *m, int64_t id, size_t *len)
{
    if (!m->cap)
        return NULL;
    size_t i = memo_slot(m, id);
    if (!m->ids[i])
        return NULL;
    *len = m->lens[i];
    return m->texts[i];
}

/* memo_put keeps a copy of text; silently does nothing when full or out
 * of memory (the text is then read again when next needed). */
static void memo_put(text_memo *m, int64_t id, const char *text, size_t len)
{
    if (id == 0 || m->bytes + len > STORE_MEMO_BYTES)
        return;
    if ((m->n + 1) * 2 > m->cap) {
        text_memo g = {0};
        g.cap = m->cap ? m->cap * 2 : 1024;
        g.ids = calloc(g.cap, sizeof *g.ids);
        g.texts = calloc(g.cap, sizeof *g.texts);
        g.lens = calloc(g.cap, sizeof *g.lens);
        if (!g.ids || !g.texts || !g.lens) {
            free(g.ids);
            free(g.texts);
            free(g.lens);
            return;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->ids[i]) {
                size_t j = memo_slot(&g, m->ids[i]);
                g.ids[j] = m->ids[i];
                g.texts[j] = m->texts[i];
                g.lens[j] = m->lens[i];
            }
        g.n = m->n;
        g.bytes = m->bytes;
        free(m->ids);
        free(m->texts);
        free(m->lens);
        *m = g;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, text, len);
    copy[len] = 0;
    size_t i = memo_slot(m, id);
    m->ids[i] = id;
    m->texts[i] = copy;
    m->lens[i] = len;
    m->n++;
    m->bytes += len;
}

static void memo_free(text_memo *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->ids[i])
            free(m->texts[i]);
    free(m->ids);
    free(m->texts);
    free(m->lens);
    memset(m, 0, sizeof *m);
}

struct store {
    sqlite3 *wdb; /* writes: committer, startup, rebuild */
    sqlite3 *rdb; /* event reads */
    pthread_mutex_t wmu, rmu;
    int lock_fd;
    int fix;

    /* The event check of a replay (store_events_*_check): statements kept
     * prepared for the whole pass, and shared texts held in memory by
     * number, as the same geometries come back in event after event. */
    sqlite3_stmt *chk_get, *chk_put, *chk_text;
    text_memo memo;

    /* Checkpoints run in their own thread and connection, so that the
     * commit path (and the answer to a write) never waits for a copy of
     * the WAL into the database; a PASSIVE checkpoint does not block the
     * writer. wal_hook wakes the thread. */
    sqlite3 *cdb;
    pthread_t ckpt_thread;
    int ckpt_running, ckpt_stop, ckpt_wanted;
    pthread_mutex_t cmu;
    pthread_cond_t ccond;
};

static void check_done(store *st);

/* Events are rows in commit order, found by the unique index on (party,
 * seq). Until 2026-12-07 they were a WITHOUT ROWID table keyed on (party,
 * seq): each commit then appended into one place per party, and every
 * full leaf split rewrote its siblings. A commit of a batch of 1,000
 * reports (a 109 KB record, ~90 events of ~660 bytes for 5 parties) wrote
 * 97 WAL pages that way and 60 this way (1.77 ms against 1.19 ms per
 * commit, a standalone SQLite test on this machine), and a checkpoint
 * copies each page again. The statements are the same for both layouts,
 * so a data directory made before keeps its table and works as it did. */
static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS log ("
    "  idx INTEGER PRIMARY KEY, prev TEXT NOT NULL, hash TEXT NOT NULL, content TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS events ("
    "  party TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, UNIQUE (party, seq));"
    "CREATE TABLE IF NOT EXISTS texts (id INTEGER PRIMARY KEY, text TEXT NOT NULL);";

static void set_err(char *buf, size_t n, const char *what, sqlite3 *db)
{
    if (buf && n)
        snprintf(buf, n, "%s: %s", what, db ? sqlite3_errmsg(db) : "error");
}

static int open_db(const char *path, int readonly, sqlite3 **out, char *errbuf, size_t n)
{
    int flags = SQLITE_OPEN_FULLMUTEX | (readonly ? SQLITE_OPEN_READONLY
                                                  : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        set_err(errbuf, n, path, db);
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    *out = db;
    return 0;
}

static void *ckpt_main(void *arg)
{
    prctl(PR_SET_NAME, "dc-checkpoint", 0, 0, 0); /* a name in top -H and /proc */
    store *st = arg;
    pthread_mutex_lock(&st->cmu);
    while (!st->ckpt_stop) {
        if (!st->ckpt_wanted) {
            pthread_cond_wait(&st->ccond, &st->cmu);
            continue;
        }
        st->ckpt_wanted = 0;
        pthread_mutex_unlock(&st->cmu);
        int log_pages = 0, done_pages = 0;
        sqlite3_wal_checkpoint_v2(st->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_pages,
                                  &done_pages);
        pthread_mutex_lock(&st->cmu);
    }
    pthread_mutex_unlock(&st->cmu);
    return NULL;
}

/* wal_hook runs in the committer after each commit (wmu held). */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    store *st = arg;
    if (pages >= STORE_CKPT_BACKSTOP_PAGES) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (pages >= STORE_CKPT_PAGES) {
        pthread_mutex_lock(&st->cmu);
        st->ckpt_wanted = 1;
        pthread_cond_signal(&st->ccond);
        pthread_mutex_unlock(&st->cmu);
    }
    return SQLITE_OK;
}

/* ckpt_start moves checkpoints to their thread; without it (no thread,
 * no connection) SQLite's own automatic checkpoint stays on. */
static void ckpt_start(store *st, const char *path)
{
    char eb[64];
    if (open_db(path, 0, &st->cdb, eb, sizeof eb) != 0)
        return;
    sqlite3_exec(st->cdb, "PRAGMA synchronous=FULL;", NULL, NULL, NULL);
    if (pthread_create(&st->ckpt_thread, NULL, ckpt_main, st) != 0) {
        sqlite3_close(st->cdb);
        st->cdb = NULL;
        return;
    }
    st->ckpt_running = 1;
    sqlite3_wal_hook(st->wdb, wal_hook, st); /* replaces the automatic checkpoint */
}

int store_open(const char *dir, int readonly, int lock, store **out, char *errbuf, size_t n)
{
    *out = NULL;
    if (!readonly && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(errbuf, n, "cannot create data directory %s: %s", dir, strerror(errno));
        return -1;
    }
    store *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(errbuf, n, "out of memory");
        return -1;
    }
    st->lock_fd = -1;
    pthread_mutex_init(&st->wmu, NULL);
    pthread_mutex_init(&st->rmu, NULL);
    pthread_mutex_init(&st->cmu, NULL);
    pthread_cond_init(&st->ccond, NULL);
    char path[4096];
    if (lock) {
        snprintf(path, sizeof path, "%s/lock", dir);
        st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (st->lock_fd < 0 || flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            snprintf(errbuf, n, "data directory %s is in use by another process", dir);
            store_close(st);
            return -1;
        }
    }
    snprintf(path, sizeof path, "%s/deconflict.db", dir);
    if (readonly && access(path, R_OK) != 0) {
        snprintf(errbuf, n, "no log in %s", dir);
        store_close(st);
        return -1;
    }
    if (open_db(path, readonly, &st->wdb, errbuf, n) != 0 ||
        open_db(path, readonly, &st->rdb, errbuf, n) != 0) {
        store_close(st);
        return -1;
    }
    if (!readonly) {
        char *msg = NULL;
        if (sqlite3_exec(st->wdb, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
                         &msg) != SQLITE_OK ||
            sqlite3_exec(st->wdb, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(errbuf, n, "%s: %s", path, msg ? msg : "cannot initialise");
            sqlite3_free(msg);
            store_close(st);
            return -1;
        }
        ckpt_start(st, path);
    } else {
        /* A readonly open of a database that lacks our tables is not a log. */
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->wdb, "SELECT count(*) FROM log", -1, &q, NULL) != SQLITE_OK) {
            set_err(errbuf, n, path, st->wdb);
            sqlite3_finalize(q);
            store_close(st);
            return -1;
        }
        sqlite3_finalize(q);
    }
    *out = st;
    return 0;
}

void store_close(store *st)
{
    if (!st)
        return;
    if (st->ckpt_running) {
        pthread_mutex_lock(&st->cmu);
        st->ckpt_stop = 1;
        pthread_cond_signal(&st->ccond);
        pthread_mutex_unlock(&st->cmu);
        pthread_join(st->ckpt_thread, NULL);
        sqlite3_wal_hook(st->wdb, NULL, NULL);
    }
    check_done(st);
    sqlite3_close(st->cdb);
    sqlite3_close(st->rdb);
    sqlite3_close(st->wdb);
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    pthread_mutex_destroy(&st->wmu);
    pthread_mutex_destroy(&st->rmu);
    pthread_mutex_destroy(&st->cmu);
    pthread_cond_destroy(&st->ccond);
    free(st);
}

/* The record hash is SHA-256 through OpenSSL's libcrypto when it offers
 * it, else libsodium's (the same digest). Measured on this machine (AMD
 * EPYC, SHA extensions): a 109 KB record (a batch of 1,000 reports)
 * 282 us with libsodium's portable code, 64 us with libcrypto; a 200-byte
 * record 1,174 ns against 285 ns. The first is inside the engine lock of
 * every write, the second once per record at restart. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int sha256_two(const void *a, size_t an, const void *b, size_t bn, unsigned char out[32])
{
    pthread_once(&sha256_once, sha256_fetch);
    if (!sha256_md)
        return -1;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = c && EVP_DigestInit_ex(c, sha256_md, NULL) && EVP_DigestUpdate(c, a, an) &&
             EVP_DigestUpdate(c, b, bn) && EVP_DigestFinal_ex(c, out, &n) && n == 32;
    EVP_MD_CTX_free(c);
    return ok ? 0 : -1;
}

void store_record_hash(int64_t idx, const char *prev_hex, const char *content,
                       char out[STORE_HASH_HEX])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    char head[128];
    int len = snprintf(head, sizeof head, "dclog1\n%" PRId64 "\n%s\n", idx, prev_hex);
    size_t cn = strlen(content);
    if (sha256_two(head, (size_t)len, content, cn, digest) != 0) {
        crypto_hash_sha256_state h;
        crypto_hash_sha256_init(&h);
        crypto_hash_sha256_update(&h, (const unsigned char *)head, (unsigned long long)len);
        crypto_hash_sha256_update(&h, (const unsigned char *)content, cn);
        crypto_hash_sha256_final(&h, digest);
    }
    sodium_bin2hex(out, STORE_HASH_HEX, digest, sizeof digest);
}

int store_each_record(store *st, store_record_fn fn, void *ctx, char *errbuf, size_t n)
{
    pthread_mutex_lock(&st->wmu);
    sqlite3_stmt *q = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(st->wdb, "SELECT idx, prev, hash, content FROM log ORDER BY idx", -1,
                           &q, NULL) != SQLITE_OK) {
        set_err(errbuf, n, "reading log", st->wdb);
        pthread_mutex_unlock(&st->wmu);
        return -1;
    }
    for (;;) {
        int s = sqlite3_step(q);
        if (s == SQLITE_DONE)
            break;
        if (s != SQLITE_ROW) {
            set_err(errbuf, n, "reading log", st->wdb);
            rc = -1;
            break;
        }
        const char *prev = (const char *)sqlite3_column_text(q, 1);
        const char *hash = (const char *)sqlite3_column_text(q, 2);
        const char *content = (const char *)sqlite3_column_text(q, 3);
        rc = fn(ctx, sqlite3_column_int64(q, 0), prev ? prev : "", hash ? hash : "",
                content ? content : "");
        if (rc != 0)
            break;
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->wmu);
    return rc;
}

int64_t store_record_count(store *st)
{
    pthread_mutex_lock(&st->rmu);
    sqlite3_stmt *q = NULL;
    int64_t count = -1;
    if (sqlite3_prepare_v2(st->rdb, "SELECT count(*) FROM log", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        count = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->rmu);
    return count;
}

/* ---- packed event bodies ---- */

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *q;
    int failed;
} text_lookup;

static const char *lookup_text(void *ctx, long long ref, size_t *len)
{
    text_lookup *tl = ctx;
    if (!tl->q && sqlite3_prepare_v2(tl->db, "SELECT text FROM texts WHERE id = ?", -1, &tl->q,
                                     NULL) != SQLITE_OK) {
        tl->failed = 1;
        return NULL;
    }
    sqlite3_reset(tl->q);
    sqlite3_bind_int64(tl->q, 1, ref);
    if (sqlite3_step(tl->q) != SQLITE_ROW)
        return NULL;
    const char *t = (const char *)sqlite3_column_text(tl->q, 0);
    *len = (size_t)sqlite3_column_bytes(tl->q, 0);
    return t ? t : "";
}

/* unpack gives body's full text: body itself when it is not packed, else
 * the text in *buf. NULL when a reference cannot be resolved. */
static const char *unpack(text_lookup *tl, const char *body, jtext_buf *buf, size_t *len)
{
    size_t n = strlen(body);
    if (!memchr(body, JTEXT_REF_OPEN, n)) {
        *len = n;
        return body;
    }
    buf->len = 0;
    if (jtext_unpack(buf, body, n, lookup_text, tl) != 0 || !buf->buf)
        return NULL;
    *len = buf->len;
    return buf->buf;
}

int64_t store_text_max_id(store *st)
{
    pthread_mutex_lock(&st->rmu);
    sqlite3_stmt *q = NULL;
    int64_t id = 0;
    if (sqlite3_prepare_v2(st->rdb, "SELECT coalesce(max(id), 0) FROM texts", -1, &q, NULL) ==
            SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        id = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->rmu);
    return id;
}

void store_pending_free(store_pending *p)
{
    while (p) {
        store_pending *next = p->next;
        for (store_text *t = p->texts, *tn; t; t = tn) {
            tn = t->next;
            free(t->text);
            free(t);
        }
        for (size_t i = 0; i < p->nevents; i++)
            free(p->events[i].body);
        free(p->events);
        free(p->content);
        free(p);
        p = next;
    }
}

int store_append(store *st, const store_pending *list, char *errbuf, size_t n)
{
    pthread_mutex_lock(&st->wmu);
    sqlite3_stmt *ql = NULL, *qe = NULL, *qt = NULL;
    int rc = -1;
    if (sqlite3_exec(st->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        set_err(errbuf, n, "begin", st->wdb);
        pthread_mutex_unlock(&st->wmu);
        return -1;
    }
    if (sqlite3_prepare_v2(st->wdb, "INSERT INTO log(idx, prev, hash, content) VALUES (?,?,?,?)",
                           -1, &ql, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->wdb, "INSERT INTO events(party, seq, body) VALUES (?,?,?)", -1, &qe,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->wdb, "INSERT INTO texts(id, text) VALUES (?,?)", -1, &qt, NULL) !=
            SQLITE_OK) {
        set_err(errbuf, n, "prepare", st->wdb);
        goto done;
    }
    for (const store_pending *p = list; p; p = p->next) {
        sqlite3_reset(ql);
        sqlite3_bind_int64(ql, 1, p->idx);
        sqlite3_bind_text(ql, 2, p->prev, -1, SQLITE_STATIC);
        sqlite3_bind_text(ql, 3, p->hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(ql, 4, p->content, -1, SQLITE_STATIC);
        if (sqlite3_step(ql) != SQLITE_DONE) {
            set_err(errbuf, n, "insert log record", st->wdb);
            goto done;
        }
        for (const store_text *t = p->texts; t; t = t->next) {
            sqlite3_reset(qt);
            sqlite3_bind_int64(qt, 1, t->id);
            sqlite3_bind_text(qt, 2, t->text, (int)t->len, SQLITE_STATIC);
            if (sqlite3_step(qt) != SQLITE_DONE) {
                set_err(errbuf, n, "insert text", st->wdb);
                goto done;
            }
        }
        for (size_t i = 0; i < p->nevents; i++) {
            sqlite3_reset(qe);
            sqlite3_bind_text(qe, 1, p->events[i].party, -1, SQLITE_STATIC);
            sqlite3_bind_int64(qe, 2, p->events[i].seq);
            sqlite3_bind_text(qe, 3, p->events[i].body, -1, SQLITE_STATIC);
            if (sqlite3_step(qe) != SQLITE_DONE) {
                set_err(errbuf, n, "insert event", st->wdb);
                goto done;
            }
        }
    }
    if (sqlite3_exec(st->wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        set_err(errbuf, n, "commit", st->wdb);
        goto done;
    }
    rc = 0;
done:
    sqlite3_finalize(ql);
    sqlite3_finalize(qe);
    sqlite3_finalize(qt);
    if (rc != 0)
        sqlite3_exec(st->wdb, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&st->wmu);
    return rc;
}

int store_events_after(store *st, const char *party, int64_t after, int limit, size_t max_bytes,
                       store_event_fn fn, void *ctx)
{
    pthread_mutex_lock(&st->rmu);
    sqlite3_stmt *q = NULL;
    int count = 0;
    if (sqlite3_prepare_v2(st->rdb,
                           "SELECT seq, body FROM events WHERE party = ? AND seq > ? "
                           "ORDER BY seq LIMIT ?",
                           -1, &q, NULL) != SQLITE_OK) {
        pthread_mutex_unlock(&st->rmu);
        return -1;
    }
    sqlite3_bind_text(q, 1, party, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, after);
    sqlite3_bind_int(q, 3, limit);
    size_t bytes = 0;
    int s;
    text_lookup tl = {st->rdb, NULL, 0};
    jtext_buf full = {0};
    while ((s = sqlite3_step(q)) == SQLITE_ROW) {
        const char *body = (const char *)sqlite3_column_text(q, 1);
        size_t len;
        if (!body)
            body = "{}";
        if (!(body = unpack(&tl, body, &full, &len))) {
            s = SQLITE_ERROR; /* a missing text: never deliver a wrong event */
            break;
        }
        fn(ctx, sqlite3_column_int64(q, 0), body);
        count++;
        bytes += len;
        if (bytes >= max_bytes)
            break;
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        count = count ? count : -1;
    jtext_free(&full);
    sqlite3_finalize(tl.q);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->rmu);
    return count;
}

int store_events_begin_check(store *st, int fix)
{
    st->fix = fix;
    if (fix && sqlite3_exec(st->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    return 0;
}

/* check_text gives shared text number ref for the event check: from the
 * memo, else read (and memoised). NULL when there is no such text. */
static const char *check_text(store *st, long long ref, size_t *len)
{
    const char *t = memo_get(&st->memo, ref, len);
    if (t)
        return t;
    if (!st->chk_text && sqlite3_prepare_v2(st->wdb, "SELECT text FROM texts WHERE id = ?", -1,
                                            &st->chk_text, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_reset(st->chk_text);
    sqlite3_bind_int64(st->chk_text, 1, ref);
    if (sqlite3_step(st->chk_text) != SQLITE_ROW)
        return NULL;
    t = (const char *)sqlite3_column_text(st->chk_text, 0);
    *len = (size_t)sqlite3_column_bytes(st->chk_text, 0);
    if (!t)
        t = "";
    memo_put(&st->memo, ref, t, *len);
    return t; /* valid until the next step or reset of chk_text */
}

/* packed_equals says whether stored (packed, jtext.h) unpacks to exactly
 * body[0..blen), comparing piece by piece instead of building the full
 * text. A reference that cannot be resolved is a difference. */
static int packed_equals(store *st, const char *stored, size_t slen, const char *body,
                         size_t blen)
{
    const char *end = stored + slen;
    size_t at = 0;
    while (stored < end) {
        const char *open = memchr(stored, JTEXT_REF_OPEN, (size_t)(end - stored));
        size_t lit = (size_t)((open ? open : end) - stored);
        if (lit > blen - at || memcmp(stored, body + at, lit) != 0)
            return 0;
        at += lit;
        if (!open)
            break;
        long long ref;
        const char *next = jtext_ref_read(open + 1, end, &ref);
        if (!next)
            return 0;
        size_t tlen = 0;
        const char *t = check_text(st, ref, &tlen);
        if (!t || tlen > blen - at || memcmp(t, body + at, tlen) != 0)
            return 0;
        at += tlen;
        stored = next;
    }
    return at == blen;
}

int store_events_check_one(store *st, const char *party, int64_t seq, const char *body)
{
    int differs = 1;
    if (!st->chk_get && sqlite3_prepare_v2(st->wdb,
                                           "SELECT body FROM events WHERE party = ? AND seq = ?",
                                           -1, &st->chk_get, NULL) != SQLITE_OK)
        return -1;
    sqlite3_stmt *q = st->chk_get;
    sqlite3_reset(q);
    sqlite3_bind_text(q, 1, party, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, seq);
    int s = sqlite3_step(q);
    if (s == SQLITE_ROW) {
        const char *stored = (const char *)sqlite3_column_text(q, 0);
        if (stored)
            differs = !packed_equals(st, stored, (size_t)sqlite3_column_bytes(q, 0), body,
                                     strlen(body));
    } else if (s != SQLITE_DONE) {
        sqlite3_reset(q);
        return -1;
    }
    sqlite3_reset(q);
    if (differs && st->fix) {
        if (!st->chk_put &&
            sqlite3_prepare_v2(st->wdb,
                               "INSERT OR REPLACE INTO events(party, seq, body) VALUES (?,?,?)", -1,
                               &st->chk_put, NULL) != SQLITE_OK)
            return -1;
        q = st->chk_put;
        sqlite3_reset(q);
        sqlite3_bind_text(q, 1, party, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, seq);
        sqlite3_bind_text(q, 3, body, -1, SQLITE_STATIC);
        s = sqlite3_step(q);
        sqlite3_reset(q);
        if (s != SQLITE_DONE)
            return -1;
    }
    return differs;
}

void store_check_texts(store *st, store_text_fn fn, void *ctx)
{
    for (size_t i = 0; i < st->memo.cap; i++)
        if (st->memo.ids[i])
            fn(ctx, st->memo.ids[i], st->memo.texts[i], st->memo.lens[i]);
}

/* check_done releases what the event check held. */
static void check_done(store *st)
{
    sqlite3_finalize(st->chk_get);
    sqlite3_finalize(st->chk_put);
    sqlite3_finalize(st->chk_text);
    st->chk_get = st->chk_put = st->chk_text = NULL;
    memo_free(&st->memo);
}

int64_t store_events_end_check(store *st, store_head_fn head, void *ctx, char *first_bad,
                               size_t first_bad_len)
{
    sqlite3_stmt *q = NULL;
    int64_t extra = 0;
    check_done(st);
    if (first_bad_len)
        first_bad[0] = 0;
    if (sqlite3_prepare_v2(st->wdb, "SELECT party, max(seq), count(*) FROM events GROUP BY party",
                           -1, &q, NULL) != SQLITE_OK)
        goto fail;
    char (*drop)[40] = NULL;
    int64_t *drop_after = NULL;
    size_t ndrop = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *party = (const char *)sqlite3_column_text(q, 0);
        int64_t maxseq = sqlite3_column_int64(q, 1);
        int64_t count = sqlite3_column_int64(q, 2);
        int64_t h = head(ctx, party ? party : "");
        if (h < 0)
            h = 0;
        if (maxseq > h || count != h) {
            extra += maxseq > h ? maxseq - h : 1;
            if (first_bad_len && !first_bad[0])
                snprintf(first_bad, first_bad_len, "party %s: %" PRId64
                         " stored events up to seq %" PRId64 ", replay gives %" PRId64,
                         party ? party : "?", count, maxseq, h);
            void *nd = realloc(drop, (ndrop + 1) * sizeof *drop);
            void *na = realloc(drop_after, (ndrop + 1) * sizeof *drop_after);
            if (nd)
                drop = nd;
            if (na)
                drop_after = na;
            if (nd && na) {
                snprintf(drop[ndrop], sizeof drop[ndrop], "%s", party ? party : "");
                drop_after[ndrop++] = h;
            }
        }
    }
    sqlite3_finalize(q);
    q = NULL;
    if (st->fix) {
        for (size_t i = 0; i < ndrop; i++) {
            if (sqlite3_prepare_v2(st->wdb, "DELETE FROM events WHERE party = ? AND seq > ?", -1,
                                   &q, NULL) != SQLITE_OK)
                break;
            sqlite3_bind_text(q, 1, drop[i], -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 2, drop_after[i]);
            sqlite3_step(q);
            sqlite3_finalize(q);
            q = NULL;
        }
        if (sqlite3_exec(st->wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            free(drop);
            free(drop_after);
            return -1;
        }
    }
    free(drop);
    free(drop_after);
    return extra;
fail:
    sqlite3_finalize(q);
    if (st->fix)
        sqlite3_exec(st->wdb, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}
