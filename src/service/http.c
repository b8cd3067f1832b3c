/* http: libmicrohttpd front end (see http.h).
 *
 * A request's body is collected into a per-request buffer (bounded by
 * HTTP_MAX_BODY), parsed with jansson after a cheap nesting-depth scan, and
 * dispatched by route. Long polls and SSE streams with nothing to send are
 * parked with MHD_suspend_connection on a waiter list; a commit that makes
 * events durable, or the waker thread (deadlines, heartbeats, shutdown),
 * resumes them. Nothing is buffered per consumer beyond one page of
 * events, so a stalled consumer costs at most HTTP_SSE_BUFFER; MHD's idle
 * timeout closes it when it stops reading. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jtext.h"
#include "slog.h"

/* ---- routes ---- */

enum {
    R_STATIC, R_HEALTHZ, R_METRICS, R_PARTIES, R_SHARING, R_SITES, R_SITE, R_UNITS, R_UNIT,
    R_POSITIONS, R_OPERATIONS, R_OPERATION, R_OP_ACTION, R_CHECK, R_CONFLICTS, R_CONFLICT,
    R_ACK, R_EVENTS, R_STREAM, R_COP, R_NOTFOUND, R_COUNT
};

static const char *route_names[R_COUNT] = {
    "static", "healthz", "metrics", "parties", "sharing", "sites", "site", "units", "unit",
    "positions", "operations", "operation", "operation_action", "check", "conflicts",
    "conflict", "conflict_ack", "events", "events_stream", "cop", "not_found"};

#define M_GET 1
#define M_POST 2
#define M_PUT 4
#define M_DELETE 8

static const int route_methods[R_COUNT] = {
    M_GET, M_GET, M_GET, M_GET | M_POST, M_PUT, M_GET | M_POST, M_GET | M_PUT | M_DELETE,
    M_GET, M_GET | M_PUT | M_DELETE, M_POST, M_GET | M_POST, M_GET | M_PUT | M_DELETE, M_POST,
    M_POST, M_GET, M_GET, M_POST, M_GET, M_GET, M_GET, 0xff};

/* ---- waiters (parked long polls and streams) ---- */

typedef struct waiter {
    struct waiter *prev, *next;
    struct MHD_Connection *conn;
    char party[40];
    int64_t after;
    int64_t deadline_us; /* monotonic */
    int in_list;
} waiter;

/* ---- metrics ---- */

#define N_LAT 10
static const double lat_buckets[N_LAT] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                          0.05,  0.1,    0.25,  1.0,  5.0};
#define N_CODES 16
static const int code_list[N_CODES] = {200, 201, 204, 304, 400, 401, 403, 404,
                                       405, 409, 413, 422, 500, 503, 0, 0};

struct http_server {
    svc *s;
    struct MHD_Daemon *d;
    char web_dir[1024];
    int have_web;
    unsigned char admin_hash[crypto_hash_sha256_BYTES];
    int admin_on;
    int heartbeat_s;
    int port;

    pthread_mutex_t wmu;
    waiter head; /* circular list sentinel */
    int stopping;
    pthread_t waker;
    pthread_cond_t wcond;

    pthread_mutex_t mmu;
    uint64_t req_count[R_COUNT][N_CODES];
    uint64_t lat_le[N_LAT], lat_count;
    double lat_sum;
    int streams_open;
};

static int64_t mono_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void waiter_add(http_server *h, waiter *w)
{
    w->next = &h->head;
    w->prev = h->head.prev;
    h->head.prev->next = w;
    h->head.prev = w;
    w->in_list = 1;
}

static void waiter_del(waiter *w)
{
    if (!w->in_list)
        return;
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->in_list = 0;
}

/* wake resumes parked connections that have events, are due, or (when
 * stopping) all of them. */
static void wake(http_server *h, int all_due)
{
    int64_t now = mono_now_us();
    pthread_mutex_lock(&h->wmu);
    waiter *w = h->head.next;
    while (w != &h->head) {
        waiter *next = w->next;
        if (h->stopping || (all_due && now >= w->deadline_us) ||
            svc_events_head(h->s, w->party) > w->after) {
            waiter_del(w);
            MHD_resume_connection(w->conn);
        }
        w = next;
    }
    pthread_mutex_unlock(&h->wmu);
}

static void on_commit(void *ctx)
{
    wake(ctx, 0);
}

static void *waker_main(void *arg)
{
    prctl(PR_SET_NAME, "dc-waker", 0, 0, 0); /* a name in top -H and /proc */
    http_server *h = arg;
    pthread_mutex_lock(&h->wmu);
    while (!h->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&h->wcond, &h->wmu, &ts);
        pthread_mutex_unlock(&h->wmu);
        wake(h, 1);
        pthread_mutex_lock(&h->wmu);
    }
    pthread_mutex_unlock(&h->wmu);
    return NULL;
}

/* ---- requests ---- */

typedef struct {
    http_server *h;
    struct MHD_Connection *conn;
    int started;
    char *body;
    size_t len, cap;
    int too_large;
    int route;
    int code;
    int64_t t0;
    char party[40]; /* authenticated party, for the log line */
    char method[8];
    /* long poll */
    int lp_started;
    int64_t lp_after;
    int lp_limit;
    waiter w;
} req;

typedef struct {
    char seg[6][160];
    int n;
} path_parts;

static int split_path(const char *url, path_parts *pp)
{
    pp->n = 0;
    const char *p = url;
    if (*p != '/')
        return -1;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *q = strchr(p, '/');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (pp->n >= 6 || len >= sizeof pp->seg[0])
            return -1;
        memcpy(pp->seg[pp->n], p, len);
        pp->seg[pp->n][len] = 0;
        pp->n++;
        p += len;
    }
    return 0;
}

static int route_of(const char *url, path_parts *pp)
{
    if (split_path(url, pp) != 0)
        return strncmp(url, "/v1/", 4) == 0 ? R_NOTFOUND : R_STATIC;
    int n = pp->n;
    char(*s)[160] = pp->seg;
    if (n == 1 && strcmp(s[0], "healthz") == 0)
        return R_HEALTHZ;
    if (n == 1 && strcmp(s[0], "metrics") == 0)
        return R_METRICS;
    if (n == 0 || strcmp(s[0], "v1") != 0)
        return R_STATIC;
    if (n == 2 && strcmp(s[1], "parties") == 0)
        return R_PARTIES;
    if (n == 3 && strcmp(s[1], "sharing") == 0)
        return R_SHARING;
    if (strcmp(s[1], "sites") == 0 && n <= 3)
        return n == 2 ? R_SITES : R_SITE;
    if (strcmp(s[1], "units") == 0 && n <= 3)
        return n == 2 ? R_UNITS : R_UNIT;
    if (n == 2 && strcmp(s[1], "positions") == 0)
        return R_POSITIONS;
    if (strcmp(s[1], "operations") == 0) {
        if (n == 2)
            return R_OPERATIONS;
        if (n == 3)
            return R_OPERATION;
        if (n == 4 && (strcmp(s[3], "activate") == 0 || strcmp(s[3], "end") == 0 ||
                       strcmp(s[3], "cancel") == 0))
            return R_OP_ACTION;
        return R_NOTFOUND;
    }
    if (n == 2 && strcmp(s[1], "check") == 0)
        return R_CHECK;
    if (strcmp(s[1], "conflicts") == 0) {
        if (n == 2)
            return R_CONFLICTS;
        if (n == 3)
            return R_CONFLICT;
        if (n == 4 && strcmp(s[3], "ack") == 0)
            return R_ACK;
        return R_NOTFOUND;
    }
    if (n == 2 && strcmp(s[1], "events") == 0)
        return R_EVENTS;
    if (n == 3 && strcmp(s[1], "events") == 0 && strcmp(s[2], "stream") == 0)
        return R_STREAM;
    if (n == 2 && strcmp(s[1], "cop.geojson") == 0)
        return R_COP;
    return R_NOTFOUND;
}

static int method_bit(const char *m)
{
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
        return M_GET;
    if (strcmp(m, "POST") == 0)
        return M_POST;
    if (strcmp(m, "PUT") == 0)
        return M_PUT;
    if (strcmp(m, "DELETE") == 0)
        return M_DELETE;
    return 0;
}

/* ---- responses ---- */

static enum MHD_Result queue(req *r, int code, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    r->code = code;
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)code, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result respond_text(req *r, int code, const char *ctype, char *text, size_t len,
                                    const char *allow)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (allow)
        MHD_add_response_header(resp, "Allow", allow);
    if (code == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    return queue(r, code, resp);
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* unescape decodes "%HH" in paths and query values, as MHD's default
 * does, except "%00": decoded, its NUL would cut the string short
 * ("/v1/sites/%00" would be read as "/v1/sites/" and list the sites).
 * It is left as it is, and no id or parameter accepts a '%'. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *w = s;
    const char *r = s;
    while (*r) {
        int hi = r[0] == '%' ? hex_digit(r[1]) : -1;
        int lo = hi >= 0 ? hex_digit(r[2]) : -1;
        if (lo >= 0 && (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

static enum MHD_Result respond_json(req *r, int code, json_t *body)
{
    /* jtext: the bytes json_dumps gives, with faster number formatting
     * (a batch's answer lists every conflict it opened) */
    char *text = NULL;
    if (body) {
        jtext_buf tb = {0};
        jtext_dump(&tb, body, JSON_REAL_PRECISION(15), NULL);
        text = jtext_take(&tb);
    }
    json_decref(body);
    if (!text) {
        const char *oom = "{\"error\":{\"code\":\"unavailable\",\"message\":\"out of memory\","
                          "\"field\":\"\"}}";
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            strlen(oom), (void *)oom, MHD_RESPMEM_PERSISTENT);
        if (resp)
            MHD_add_response_header(resp, "Content-Type", "application/json");
        return queue(r, 503, resp);
    }
    return respond_text(r, code, "application/json", text, strlen(text), NULL);
}

static enum MHD_Result respond_error_allow(req *r, int code, const char *ecode, const char *msg,
                                          const char *field, json_t *detail, const char *allow)
{
    json_t *e = json_pack("{s:s,s:s,s:s}", "code", ecode, "message", msg, "field",
                          field ? field : "");
    json_t *body = json_object();
    if (e && detail && json_is_object(detail)) {
        json_object_update(e, detail);
        json_object_update(body, detail);
    }
    json_object_set_new(body, "error", e ? e : json_object());
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        return respond_json(r, 503, NULL);
    return respond_text(r, code, "application/json", text, strlen(text), allow);
}

static enum MHD_Result respond_error(req *r, int code, const char *ecode, const char *msg,
                                     const char *field)
{
    return respond_error_allow(r, code, ecode, msg, field, NULL, NULL);
}

static enum MHD_Result respond_status(req *r, const dc_error *err)
{
    return respond_error_allow(r, dc_status_http(err->code), dc_status_name(err->code),
                               err->message[0] ? err->message : dc_status_name(err->code),
                               err->field, err->detail, NULL);
}

static enum MHD_Result respond_empty(req *r, int code)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"",
                                                                MHD_RESPMEM_PERSISTENT);
    return queue(r, code, resp);
}

/* ---- request parsing ---- */

/* json_depth_ok scans JSON text for nesting deeper than max (outside
 * strings). Jansson itself would accept up to 2048 levels. */
static int json_depth_ok(const char *p, size_t n, int max)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return 0;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 1;
}

/* parse_body returns the parsed body (NULL when empty and !required), or
 * queues an error and sets *done. */
static json_t *parse_body(req *r, int required, enum MHD_Result *done, int *failed)
{
    *failed = 0;
    if (r->len == 0) {
        if (required) {
            *failed = 1;
            *done = respond_error(r, 400, "malformed", "a JSON object body is required", "");
        }
        return NULL;
    }
    if (!json_depth_ok(r->body, r->len, HTTP_MAX_DEPTH)) {
        *failed = 1;
        *done = respond_error(r, 413, "too_large", "JSON nested deeper than 32 levels", "");
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        char msg[300];
        snprintf(msg, sizeof msg, "malformed JSON at line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        *failed = 1;
        *done = respond_error(r, 400, "malformed", msg, "");
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        *failed = 1;
        *done = respond_error(r, 400, "malformed", "the body must be a JSON object", "");
        return NULL;
    }
    return j;
}

static const char *bearer(struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return NULL;
    a += 7;
    while (*a == ' ')
        a++;
    return a;
}

static int is_admin(http_server *h, const char *tok)
{
    if (!h->admin_on || !tok)
        return 0;
    unsigned char t[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(t, (const unsigned char *)tok, strlen(tok));
    return sodium_memcmp(t, h->admin_hash, sizeof t) == 0;
}

/* parse_int parses a whole decimal integer query value. */
static int parse_int(const char *v, int64_t *out)
{
    if (!v || !*v || strlen(v) > 18)
        return -1;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*end || errno)
        return -1;
    *out = x;
    return 0;
}

/* ---- events ---- */

/* An event list being written: the text and how many events it holds. */
typedef struct {
    jtext_buf b;
    int count;
} ev_list;

static void ev_json_cb(void *ctx, int64_t seq, const char *body)
{
    (void)seq;
    ev_list *l = ctx;
    if (l->count++)
        jtext_add(&l->b, ",", 1);
    jtext_adds(&l->b, body);
}

static enum MHD_Result handle_events(req *r, const char *party)
{
    http_server *h = r->h;
    if (!r->lp_started) {
        const char *va = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "after");
        const char *vw = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "wait");
        const char *vl = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "limit");
        int64_t after = 0, wait = 0, limit = HTTP_DEFAULT_EVENTS;
        if (va && (parse_int(va, &after) != 0 || after < 0))
            return respond_error(r, 400, "malformed", "after must be an integer >= 0", "after");
        if (vw && (parse_int(vw, &wait) != 0 || wait < 0))
            return respond_error(r, 400, "malformed", "wait must be an integer >= 0", "wait");
        if (wait > HTTP_MAX_WAIT_S)
            return respond_error(r, 413, "too_large", "wait is at most 60 seconds", "wait");
        if (vl && (parse_int(vl, &limit) != 0 || limit < 1))
            return respond_error(r, 400, "malformed", "limit must be an integer >= 1", "limit");
        if (limit > HTTP_MAX_EVENTS)
            return respond_error(r, 413, "too_large", "limit is at most 1000", "limit");
        r->lp_started = 1;
        r->lp_after = after;
        r->lp_limit = (int)limit;
        r->w.deadline_us = mono_now_us() + wait * 1000000;
        snprintf(r->w.party, sizeof r->w.party, "%s", party);
        r->w.after = after;
        r->w.conn = r->conn;
    }
    pthread_mutex_lock(&h->wmu);
    if (!h->stopping && mono_now_us() < r->w.deadline_us &&
        svc_events_head(h->s, party) <= r->lp_after) {
        waiter_add(h, &r->w);
        MHD_suspend_connection(r->conn);
        pthread_mutex_unlock(&h->wmu);
        return MHD_YES;
    }
    pthread_mutex_unlock(&h->wmu);
    ev_list l = {{0}, 0};
    jtext_add(&l.b, "{\"events\":[", 11);
    int n = svc_events_read(h->s, party, r->lp_after, r->lp_limit, HTTP_EVENTS_MAX_BYTES,
                            ev_json_cb, &l);
    jtext_add(&l.b, "]}", 2);
    if (n < 0 || l.b.oom) {
        free(l.b.buf);
        return respond_error(r, 503, "unavailable", "cannot read events", "");
    }
    return respond_text(r, 200, "application/json", l.b.buf, l.b.len, NULL);
}

typedef struct {
    http_server *h;
    struct MHD_Connection *conn;
    char party[40];
    int64_t last;
    jtext_buf out;
    size_t off;
    int64_t last_write_us;
    waiter w;
} sse;

static void sse_ev_cb(void *ctx, int64_t seq, const char *body)
{
    sse *s = ctx;
    char head[48];
    int n = snprintf(head, sizeof head, "id: %" PRId64 "\ndata: ", seq);
    jtext_add(&s->out, head, (size_t)n);
    jtext_add(&s->out, body, strlen(body));
    jtext_add(&s->out, "\n\n", 2);
    s->last = seq;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse *s = cls;
    http_server *h = s->h;
    for (;;) {
        if (s->off < s->out.len) {
            size_t n = s->out.len - s->off;
            if (n > max)
                n = max;
            memcpy(buf, s->out.buf + s->off, n);
            s->off += n;
            s->last_write_us = mono_now_us();
            return (ssize_t)n;
        }
        s->out.len = s->off = 0;
        if (s->out.cap > 2 * HTTP_SSE_BUFFER) { /* do not keep a big page around */
            free(s->out.buf);
            s->out.buf = NULL;
            s->out.cap = 0;
        }
        if (s->out.oom)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        int stopping;
        pthread_mutex_lock(&h->wmu);
        stopping = h->stopping;
        pthread_mutex_unlock(&h->wmu);
        if (stopping)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (svc_events_head(h->s, s->party) > s->last) {
            if (svc_events_read(h->s, s->party, s->last, HTTP_MAX_EVENTS, HTTP_SSE_BUFFER,
                                sse_ev_cb, s) < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
            if (s->out.len)
                continue;
        }
        int64_t now = mono_now_us();
        int64_t due = s->last_write_us + (int64_t)h->heartbeat_s * 1000000;
        if (now >= due) {
            jtext_add(&s->out, ": heartbeat\n\n", 13);
            continue;
        }
        pthread_mutex_lock(&h->wmu);
        if (h->stopping || svc_events_head(h->s, s->party) > s->last) {
            pthread_mutex_unlock(&h->wmu);
            continue;
        }
        s->w.conn = s->conn;
        s->w.after = s->last;
        s->w.deadline_us = due;
        snprintf(s->w.party, sizeof s->w.party, "%s", s->party);
        waiter_add(h, &s->w);
        MHD_suspend_connection(s->conn);
        pthread_mutex_unlock(&h->wmu);
        return 0;
    }
}

static void sse_free(void *cls)
{
    sse *s = cls;
    http_server *h = s->h;
    pthread_mutex_lock(&h->wmu);
    waiter_del(&s->w);
    pthread_mutex_unlock(&h->wmu);
    pthread_mutex_lock(&h->mmu);
    h->streams_open--;
    pthread_mutex_unlock(&h->mmu);
    free(s->out.buf);
    free(s);
}

static enum MHD_Result handle_stream(req *r, const char *party)
{
    const char *lei = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
    const char *va = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "after");
    int64_t after = 0;
    if (lei && (parse_int(lei, &after) != 0 || after < 0))
        return respond_error(r, 400, "malformed", "Last-Event-ID must be an integer >= 0",
                             "Last-Event-ID");
    if (!lei && va && (parse_int(va, &after) != 0 || after < 0))
        return respond_error(r, 400, "malformed", "after must be an integer >= 0", "after");
    sse *s = calloc(1, sizeof *s);
    if (!s)
        return respond_error(r, 503, "unavailable", "out of memory", "");
    s->h = r->h;
    s->conn = r->conn;
    s->last = after;
    s->last_write_us = mono_now_us();
    snprintf(s->party, sizeof s->party, "%s", party);
    /* Open with a comment so clients see the stream start at once. */
    jtext_add(&s->out, ": stream\nretry: 1000\n\n", 22);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, sse_read, s, sse_free);
    if (!resp) {
        free(s->out.buf);
        free(s);
        return respond_error(r, 503, "unavailable", "out of memory", "");
    }
    /* Keep the kernel's share of a stalled consumer small too: with a
     * bounded send buffer a reader that stops reading blocks our sends,
     * and MHD's idle timeout then closes the stream. */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) {
        int sndbuf = HTTP_SSE_SNDBUF;
        setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    pthread_mutex_lock(&r->h->mmu);
    r->h->streams_open++;
    pthread_mutex_unlock(&r->h->mmu);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return queue(r, 200, resp);
}

/* ---- API handlers ---- */

/* wrap_list returns {"name": [...]} from either the bare array or the
 * already wrapped object an engine listing returns (takes list). */
static json_t *wrap_list(json_t *list, const char *name)
{
    if (json_is_object(list) && json_is_array(json_object_get(list, name)))
        return list;
    if (json_is_array(list))
        return json_pack("{s:o}", name, list);
    json_decref(list);
    return json_pack("{s:[]}", name);
}

static json_t *with_conflicts(json_t *obj, json_t *conflicts)
{
    json_t *out = obj && json_is_object(obj) ? json_copy(obj) : json_object();
    if (out)
        json_object_set_new(out, "conflicts", conflicts ? json_incref(conflicts) : json_array());
    return out;
}

static enum MHD_Result finish_write(req *r, const char *op, const char *party, const char *id,
                                    dc_status st, svc_result *resp, dc_error *errp);

static enum MHD_Result do_write(req *r, const char *op, const char *party, const char *id,
                                json_t *args)
{
    svc_result res;
    dc_error err = {0};
    dc_status st = svc_write(r->h->s, op, party, id, args, &res, &err);
    json_decref(args);
    return finish_write(r, op, party, id, st, &res, &err);
}

/* finish_write answers a write with its result (or error), and releases
 * both. */
static enum MHD_Result finish_write(req *r, const char *op, const char *party, const char *id,
                                    dc_status st, svc_result *resp, dc_error *errp)
{
    svc_result res = *resp;
    dc_error err = *errp;
    if (st != DC_OK) {
        enum MHD_Result ret = respond_status(r, &err);
        dc_error_clear(&err);
        return ret;
    }
    dc_error_clear(&err);
    json_t *out;
    if (res.http == 204) {
        svc_result_free(&res);
        return respond_empty(r, 204);
    }
    if (strcmp(op, "positions") == 0) {
        out = json_pack("{s:I,s:O}", "accepted", (json_int_t)res.accepted, "conflicts",
                        res.conflicts ? res.conflicts : json_array());
    } else if (strcmp(op, "conflict.ack") == 0) {
        out = json_pack("{s:O?,s:{s:s,s:s,s:s,s:I,s:s},s:I,s:s}", "conflict", res.conflict,
                        "receipt", "conflict", id, "party", party, "time", res.time, "record",
                        (json_int_t)res.record, "hash", res.hash, "record", (json_int_t)res.record,
                        "hash", res.hash);
    } else if (strcmp(op, "operation.activate") == 0 || strcmp(op, "operation.end") == 0 ||
               strcmp(op, "operation.cancel") == 0) {
        out = res.object ? json_incref(res.object) : json_object();
    } else {
        out = with_conflicts(res.object, res.conflicts);
    }
    int code = res.http;
    svc_result_free(&res);
    return respond_json(r, code, out);
}

static enum MHD_Result handle_api(req *r, const char *method, path_parts *pp)
{
    http_server *h = r->h;
    int m = method_bit(method);
    enum MHD_Result done = MHD_NO;
    int failed;
    const char *tok = bearer(r->conn);
    if (!tok && r->route == R_STREAM)
        tok = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "access_token");

    if (r->route == R_PARTIES && m == M_POST) {
        if (!h->admin_on)
            return respond_error(r, 403, "forbidden",
                                 "the admin API is off (DECONFLICT_ADMIN_TOKEN is unset)", "");
        if (!tok)
            return respond_error(r, 401, "unauthorized", "admin token required", "");
        if (!is_admin(h, tok)) {
            char p[40];
            if (svc_auth(h->s, tok, p))
                return respond_error(r, 403, "forbidden", "only the administrator creates parties",
                                     "");
            return respond_error(r, 401, "unauthorized", "bad token", "");
        }
        json_t *body = parse_body(r, 1, &done, &failed);
        if (failed)
            return done;
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v)
        {
            if (strcmp(k, "id") != 0 && strcmp(k, "name") != 0 && strcmp(k, "stale_after_s") != 0) {
                /* k lives in body: answer before releasing it */
                enum MHD_Result ret =
                    respond_error(r, 422, "invalid", "unknown field (id, name, stale_after_s)", k);
                json_decref(body);
                return ret;
            }
        }
        svc_result res;
        dc_error err = {0};
        dc_status st = svc_write(h->s, "party.add", NULL, NULL, body, &res, &err);
        if (st != DC_OK) {
            json_decref(body);
            enum MHD_Result ret = respond_status(r, &err);
            dc_error_clear(&err);
            return ret;
        }
        json_t *out = json_pack("{s:O,s:O,s:s}", "id", json_object_get(body, "id"), "name",
                                json_object_get(body, "name"), "token", res.token);
        svc_result_free(&res);
        json_decref(body);
        return respond_json(r, 201, out);
    }

    char party[40];
    if (!tok)
        return respond_error(r, 401, "unauthorized", "missing bearer token", "");
    if (!svc_auth(h->s, tok, party)) {
        if (r->route == R_PARTIES && m == M_GET && is_admin(h, tok)) {
            dc_engine *e = svc_engine_lock(h->s, NULL);
            json_t *list = dc_parties_json(e);
            svc_engine_unlock(h->s);
            return respond_json(r, 200, wrap_list(list, "parties"));
        }
        return respond_error(r, 401, "unauthorized", "bad token", "");
    }
    snprintf(r->party, sizeof r->party, "%s", party);
    const char *id = pp->n >= 3 ? pp->seg[2] : NULL;
    dc_time now;
    json_t *out = NULL;
    dc_error err = {0};
    dc_status st = DC_OK;

    switch (r->route) {
    case R_PARTIES: {
        dc_engine *e = svc_engine_lock(h->s, NULL);
        json_t *list = dc_parties_json(e);
        svc_engine_unlock(h->s);
        return respond_json(r, 200, wrap_list(list, "parties"));
    }
    case R_SHARING: {
        json_t *body = parse_body(r, 1, &done, &failed);
        if (failed)
            return done;
        /* {units: bool, operations: bool}; anything else is refused, so a
         * typo cannot silently revoke or grant. */
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v)
        {
            /* k lives in body: answer before releasing it */
            enum MHD_Result ret = MHD_NO;
            if (strcmp(k, "units") != 0 && strcmp(k, "operations") != 0)
                ret = respond_error(r, 422, "invalid", "unknown field (units, operations)", k);
            else if (!json_is_boolean(v))
                ret = respond_error(r, 400, "malformed", "must be true or false", k);
            else
                continue;
            json_decref(body);
            return ret;
        }
        int u = json_is_true(json_object_get(body, "units"));
        int o = json_is_true(json_object_get(body, "operations"));
        svc_result res;
        st = svc_write(h->s, "sharing.set", party, id, body, &res, &err);
        json_decref(body);
        svc_result_free(&res);
        if (st != DC_OK)
            break;
        return respond_json(r, 200,
                            json_pack("{s:s,s:s,s:b,s:b}", "from", party, "to", id, "units", u,
                                      "operations", o));
    }
    case R_SITES:
        if (m == M_POST) {
            json_t *body = parse_body(r, 1, &done, &failed);
            return failed ? done : do_write(r, "site.create", party, NULL, body);
        } else {
            dc_engine *e = svc_engine_lock(h->s, NULL);
            json_t *list = dc_sites_json(e, party);
            svc_engine_unlock(h->s);
            return respond_json(r, 200, wrap_list(list, "sites"));
        }
    case R_SITE:
        if (m == M_GET) {
            dc_engine *e = svc_engine_lock(h->s, NULL);
            st = dc_site_json(e, party, id, &out, &err);
            svc_engine_unlock(h->s);
            break;
        } else if (m == M_PUT) {
            json_t *body = parse_body(r, 1, &done, &failed);
            return failed ? done : do_write(r, "site.put", party, id, body);
        }
        return do_write(r, "site.delete", party, id, NULL);
    case R_UNITS: {
        dc_engine *e = svc_engine_lock(h->s, &now);
        json_t *list = dc_units_json(e, party, now);
        svc_engine_unlock(h->s);
        return respond_json(r, 200, wrap_list(list, "units"));
    }
    case R_UNIT:
        if (m == M_GET) {
            dc_engine *e = svc_engine_lock(h->s, &now);
            st = dc_unit_json(e, party, id, now, &out, &err);
            svc_engine_unlock(h->s);
            break;
        } else if (m == M_PUT) {
            json_t *body = parse_body(r, 1, &done, &failed);
            return failed ? done : do_write(r, "unit.put", party, id, body);
        }
        return do_write(r, "unit.delete", party, id, NULL);
    case R_POSITIONS: {
        /* The fast path: a batch of the usual shape is parsed, validated
         * and turned into its log text here, outside the engine mutex.
         * Anything else, and any batch it refuses, goes the general way
         * below, which gives the exact error. */
        posbatch pb;
        int pr = posbatch_parse(r->body ? r->body : "", r->len, DC_MAX_BATCH, &pb);
        if (pr == POSBATCH_NOMEM)
            return respond_error(r, 503, "unavailable", "out of memory", "");
        if (pr == POSBATCH_OK) {
            int fallback = 0;
            svc_result res;
            st = svc_write_positions(h->s, party, &pb, &fallback, &res, &err);
            posbatch_free(&pb);
            if (!fallback)
                return finish_write(r, "positions", party, NULL, st, &res, &err);
            svc_result_free(&res);
            dc_error_clear(&err);
            st = DC_OK;
        }
        json_t *body = parse_body(r, 1, &done, &failed);
        if (failed)
            return done;
        json_t *reports = json_object_get(body, "reports");
        if (json_is_array(reports) && json_array_size(reports) > DC_MAX_BATCH) {
            json_decref(body);
            return respond_error(r, 413, "too_large", "at most 10000 reports per batch",
                                 "reports");
        }
        return do_write(r, "positions", party, NULL, body);
    }
    case R_OPERATIONS:
        if (m == M_POST) {
            json_t *body = parse_body(r, 1, &done, &failed);
            return failed ? done : do_write(r, "operation.create", party, NULL, body);
        } else {
            dc_engine *e = svc_engine_lock(h->s, NULL);
            json_t *list = dc_operations_json(e, party);
            svc_engine_unlock(h->s);
            return respond_json(r, 200,
                                wrap_list(list, "operations"));
        }
    case R_OPERATION:
        if (m == M_GET) {
            dc_engine *e = svc_engine_lock(h->s, NULL);
            st = dc_operation_json(e, party, id, &out, &err);
            svc_engine_unlock(h->s);
            break;
        } else if (m == M_PUT) {
            json_t *body = parse_body(r, 1, &done, &failed);
            return failed ? done : do_write(r, "operation.put", party, id, body);
        }
        return do_write(r, "operation.delete", party, id, NULL);
    case R_OP_ACTION: {
        json_t *body = parse_body(r, 0, &done, &failed);
        if (failed)
            return done;
        char op[40];
        snprintf(op, sizeof op, "operation.%.10s", pp->seg[3]);
        if (body && strcmp(pp->seg[3], "activate") != 0 && json_object_size(body) > 0) {
            json_decref(body);
            return respond_error(r, 400, "malformed", "this action takes no body", "");
        }
        if (body && json_object_size(body) == 0) {
            json_decref(body);
            body = NULL;
        }
        return do_write(r, op, party, id, body);
    }
    case R_CHECK: {
        json_t *body = parse_body(r, 1, &done, &failed);
        if (failed)
            return done;
        /* parsed before the engine lock, as writes are (dc_parsed) */
        dc_parsed *pre = NULL;
        st = dc_check_parse(body, &pre, &err);
        json_decref(body);
        if (st != DC_OK)
            break;
        dc_engine *e = svc_engine_lock(h->s, &now);
        st = dc_check_parsed(e, party, pre, now, &out, &err);
        svc_engine_unlock(h->s);
        break;
    }
    case R_CONFLICTS: {
        const char *state = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "state");
        if (state && strcmp(state, "all") == 0)
            state = NULL;
        if (state && strcmp(state, "open") != 0 && strcmp(state, "resolved") != 0)
            return respond_error(r, 400, "malformed", "state is open, resolved or all", "state");
        dc_engine *e = svc_engine_lock(h->s, NULL);
        json_t *list = dc_conflicts_json(e, party, state);
        svc_engine_unlock(h->s);
        return respond_json(r, 200, wrap_list(list, "conflicts"));
    }
    case R_CONFLICT: {
        dc_engine *e = svc_engine_lock(h->s, NULL);
        dc_conflict *c = dc_conflict_find(e, id);
        out = c ? dc_conflict_view(e, c, party) : NULL;
        svc_engine_unlock(h->s);
        if (!out)
            return respond_error(r, 404, "not_found", "no such conflict", "id");
        break;
    }
    case R_ACK: {
        json_t *body = parse_body(r, 0, &done, &failed);
        return failed ? done : do_write(r, "conflict.ack", party, id, body);
    }
    case R_EVENTS:
        return handle_events(r, party);
    case R_STREAM:
        return handle_stream(r, party);
    case R_COP: {
        dc_engine *e = svc_engine_lock(h->s, &now);
        out = dc_cop_json(e, party, now);
        svc_engine_unlock(h->s);
        if (!out)
            return respond_error(r, 503, "unavailable", "out of memory", "");
        break;
    }
    default:
        return respond_error(r, 404, "not_found", "no such resource", "");
    }
    if (st != DC_OK) {
        json_decref(out);
        enum MHD_Result ret = respond_status(r, &err);
        dc_error_clear(&err);
        return ret;
    }
    dc_error_clear(&err);
    return respond_json(r, 200, out ? out : json_object());
}

/* ---- static files ---- */

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return NULL;
    static const char *map[][2] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json"}, {".png", "image/png"}, {".svg", "image/svg+xml"},
        {".ico", "image/x-icon"}, {".map", "application/json"}, {".woff2", "font/woff2"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(dot, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static const char *NO_UI_PAGE =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>deconflict</title></head>"
    "<body><h1>deconflict</h1><p>The web UI is not built. Build it in <code>web/</code> "
    "(it is served from <code>web/dist</code>, or <code>--web DIR</code>). The API is "
    "under <code>/v1</code>; see docs/api.md.</p></body></html>\n";

static enum MHD_Result handle_static(req *r, const char *url)
{
    http_server *h = r->h;
    const char *path = strcmp(url, "/") == 0 ? "/index.html" : url;
    if (!h->have_web) {
        if (strcmp(path, "/index.html") == 0) {
            char *page = strdup(NO_UI_PAGE);
            if (!page)
                return respond_error(r, 503, "unavailable", "out of memory", "");
            return respond_text(r, 200, "text/html; charset=utf-8", page, strlen(page), NULL);
        }
        return respond_error(r, 404, "not_found", "no such resource", "");
    }
    /* Only plain names: no "..", no hidden files, no odd characters. */
    size_t len = strlen(path);
    int ok = len < 512 && path[0] == '/';
    for (size_t i = 0; ok && i < len; i++) {
        char c = path[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '.' || c == '-' || c == '_'))
            ok = 0;
        if (c == '.' && i > 0 && path[i - 1] == '/')
            ok = 0;
        if (c == '/' && i > 0 && path[i - 1] == '/')
            ok = 0;
    }
    const char *ctype = ok ? content_type(path) : NULL;
    if (!ctype)
        return respond_error(r, 404, "not_found", "no such resource", "");
    char full[1600];
    snprintf(full, sizeof full, "%s%s", h->web_dir, path);
    int fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        return respond_error(r, 404, "not_found", "no such resource", "");
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (!resp) {
        close(fd);
        return respond_error(r, 503, "unavailable", "out of memory", "");
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    return queue(r, 200, resp);
}

/* ---- metrics ---- */

static enum MHD_Result handle_metrics(req *r)
{
    http_server *h = r->h;
    svc_stats st;
    svc_get_stats(h->s, &st);
    jtext_buf b = {0};
    char line[512];
#define EMIT(...)                                                                                 \
    do {                                                                                          \
        int n_ = snprintf(line, sizeof line, __VA_ARGS__);                                        \
        jtext_add(&b, line, (size_t)n_);                                                             \
    } while (0)
    EMIT("# HELP deconflict_http_requests_total HTTP requests by route and status code.\n"
         "# TYPE deconflict_http_requests_total counter\n");
    pthread_mutex_lock(&h->mmu);
    for (int rt = 0; rt < R_COUNT; rt++)
        for (int c = 0; c < N_CODES; c++)
            if (h->req_count[rt][c])
                EMIT("deconflict_http_requests_total{route=\"%s\",code=\"%d\"} %" PRIu64 "\n",
                     route_names[rt], code_list[c], h->req_count[rt][c]);
    EMIT("# HELP deconflict_http_request_duration_seconds Request latency.\n"
         "# TYPE deconflict_http_request_duration_seconds histogram\n");
    for (int i = 0; i < N_LAT; i++)
        EMIT("deconflict_http_request_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
             lat_buckets[i], h->lat_le[i]);
    EMIT("deconflict_http_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
         h->lat_count);
    EMIT("deconflict_http_request_duration_seconds_sum %.6f\n", h->lat_sum);
    EMIT("deconflict_http_request_duration_seconds_count %" PRIu64 "\n", h->lat_count);
    int streams = h->streams_open;
    pthread_mutex_unlock(&h->mmu);
    EMIT("# HELP deconflict_conflicts_open Open conflicts.\n# TYPE deconflict_conflicts_open "
         "gauge\ndeconflict_conflicts_open %zu\n",
         st.conflicts_open);
    EMIT("# HELP deconflict_events_total Events in all parties' streams.\n"
         "# TYPE deconflict_events_total counter\ndeconflict_events_total %" PRId64 "\n",
         st.events_total);
    EMIT("# HELP deconflict_events_pending Events not yet fetched by their party.\n"
         "# TYPE deconflict_events_pending gauge\ndeconflict_events_pending %" PRId64 "\n",
         st.events_pending);
    EMIT("# HELP deconflict_sse_streams_open Open SSE streams.\n"
         "# TYPE deconflict_sse_streams_open gauge\ndeconflict_sse_streams_open %d\n",
         streams);
    EMIT("# HELP deconflict_log_records Records in the hash-chained log.\n"
         "# TYPE deconflict_log_records gauge\ndeconflict_log_records %" PRId64 "\n",
         st.records);
    EMIT("# HELP deconflict_log_commit_seconds Log commit (fsync) latency.\n"
         "# TYPE deconflict_log_commit_seconds histogram\n");
    static const double cb[8] = SVC_COMMIT_BUCKETS;
    for (int i = 0; i < 8; i++)
        EMIT("deconflict_log_commit_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", cb[i],
             st.commit_le[i]);
    EMIT("deconflict_log_commit_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", st.commits);
    EMIT("deconflict_log_commit_seconds_sum %.6f\ndeconflict_log_commit_seconds_count %" PRIu64
         "\n",
         st.commit_sum_s, st.commits);
#undef EMIT
    if (b.oom || !b.buf) {
        free(b.buf);
        return respond_error(r, 503, "unavailable", "out of memory", "");
    }
    return respond_text(r, 200, "text/plain; version=0.0.4", b.buf, b.len, NULL);
}

/* ---- MHD callbacks ---- */

static void allow_header(int methods, char *buf, size_t n)
{
    buf[0] = 0;
    const char *names[] = {"GET, HEAD", "POST", "PUT", "DELETE"};
    for (int i = 0; i < 4; i++)
        if (methods & (1 << i)) {
            if (buf[0])
                strncat(buf, ", ", n - strlen(buf) - 1);
            strncat(buf, names[i], n - strlen(buf) - 1);
        }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    http_server *h = cls;
    req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->h = h;
        r->conn = conn;
        r->t0 = mono_now_us();
        *con_cls = r;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        int64_t clen;
        if (cl && parse_int(cl, &clen) == 0 && clen > (int64_t)HTTP_MAX_BODY) {
            r->route = R_NOTFOUND;
            path_parts pp;
            r->route = route_of(url, &pp);
            return respond_error(r, 413, "too_large", "request body over 16 MiB", "");
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->too_large || r->len + n > HTTP_MAX_BODY) {
            r->too_large = 1;
            return MHD_YES;
        }
        if (r->len + n + 1 > r->cap) {
            size_t cap = r->cap ? r->cap : 8192;
            while (cap < r->len + n + 1)
                cap *= 2;
            char *nb = realloc(r->body, cap);
            if (!nb) {
                r->too_large = 2;
                return MHD_YES;
            }
            r->body = nb;
            r->cap = cap;
        }
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        r->body[r->len] = 0;
        return MHD_YES;
    }
    if (r->code) /* already answered (e.g. resumed after an early error) */
        return MHD_YES;

    path_parts pp;
    r->route = route_of(url, &pp);
    snprintf(r->method, sizeof r->method, "%.7s", method);
    if (r->too_large == 1)
        return respond_error(r, 413, "too_large", "request body over 16 MiB", "");
    if (r->too_large == 2)
        return respond_error(r, 503, "unavailable", "out of memory", "");
    int m = method_bit(method);
    if (r->route == R_NOTFOUND)
        return respond_error(r, 404, "not_found", "no such resource", "");
    if (!(route_methods[r->route] & m)) {
        char allow[64];
        allow_header(route_methods[r->route], allow, sizeof allow);
        return respond_error_allow(r, 405, "method_not_allowed", "method not allowed", "", NULL,
                                   allow);
    }
    switch (r->route) {
    case R_STATIC: return handle_static(r, url);
    case R_HEALTHZ: {
        /* The service clock matters in exercises run on --clock-start: the
         * browser shows it instead of its own. */
        dc_time now;
        svc_engine_lock(h->s, &now);
        svc_engine_unlock(h->s);
        char clock[DC_TIME_BUFLEN];
        return respond_json(r, 200,
                            json_pack("{s:s,s:s,s:I}", "status", "ok", "clock",
                                      dc_time_format(now, clock), "records",
                                      (json_int_t)svc_record_count(h->s)));
    }
    case R_METRICS: return handle_metrics(r);
    default: return handle_api(r, method, &pp);
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    http_server *h = cls;
    req *r = *con_cls;
    if (!r)
        return;
    pthread_mutex_lock(&h->wmu);
    waiter_del(&r->w);
    pthread_mutex_unlock(&h->wmu);
    double secs = (double)(mono_now_us() - r->t0) / 1e6;
    int ci = N_CODES - 1;
    for (int i = 0; i < N_CODES; i++)
        if (code_list[i] == r->code) {
            ci = i;
            break;
        }
    pthread_mutex_lock(&h->mmu);
    h->req_count[r->route][ci]++;
    if (r->route != R_STREAM && r->route != R_EVENTS) {
        for (int i = 0; i < N_LAT; i++)
            if (secs <= lat_buckets[i])
                h->lat_le[i]++;
        h->lat_count++;
        h->lat_sum += secs;
    }
    pthread_mutex_unlock(&h->mmu);
    if (r->route != R_HEALTHZ && r->route != R_METRICS && r->route != R_STATIC) {
        char qm[20];
        slog_info("request", "\"method\":\"%s\",\"route\":\"%s\",\"party\":\"%s\",\"code\":%d,"
                  "\"ms\":%.2f",
                  slog_quote(r->method, qm, sizeof qm), route_names[r->route], r->party, r->code,
                  secs * 1000);
    }
    free(r->body);
    free(r);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512], q[600];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    slog_warn("http", "\"message\":\"%s\"", slog_quote(msg, q, sizeof q));
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof host)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    int64_t port;
    if (parse_int(colon + 1, &port) != 0 || port < 0 || port > 65535)
        return -1;
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[') {
        size_t hl = strlen(host);
        if (hl < 2 || host[hl - 1] != ']')
            return -1;
        host[hl - 1] = 0;
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return -1;
        *len = sizeof *a;
        return AF_INET6;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (host[0] == 0 || strcmp(host, "*") == 0)
        a->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return -1;
    *len = sizeof *a;
    return AF_INET;
}

int http_start(svc *s, const http_options *o, http_server **out, char *errbuf, size_t n)
{
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t sl;
    int fam = parse_listen(o->listen, &ss, &sl);
    if (fam < 0) {
        snprintf(errbuf, n, "bad --listen '%s' (want ADDR:PORT)", o->listen);
        return -1;
    }
    http_server *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(errbuf, n, "out of memory");
        return -1;
    }
    h->s = s;
    h->heartbeat_s = o->heartbeat_s > 0 ? o->heartbeat_s : 15;
    pthread_mutex_init(&h->wmu, NULL);
    pthread_mutex_init(&h->mmu, NULL);
    pthread_cond_init(&h->wcond, NULL);
    h->head.next = h->head.prev = &h->head;
    if (o->admin_token && o->admin_token[0]) {
        crypto_hash_sha256(h->admin_hash, (const unsigned char *)o->admin_token,
                           strlen(o->admin_token));
        h->admin_on = 1;
    }
    struct stat sb;
    if (o->web_dir && stat(o->web_dir, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(h->web_dir, sizeof h->web_dir, "%s", o->web_dir);
        h->have_web = 1;
    }
    unsigned flags = MHD_USE_EPOLL | MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (fam == AF_INET6)
        flags |= MHD_USE_IPv6;
    int threads = o->threads > 0 ? o->threads : 4;
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(o->idle_timeout_s > 0 ? o->idle_timeout_s : 60),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)HTTP_MAX_CONNECTIONS, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
    if (!h->d) {
        snprintf(errbuf, n, "cannot listen on %s: %s", o->listen, strerror(errno));
        pthread_mutex_destroy(&h->wmu);
        pthread_mutex_destroy(&h->mmu);
        pthread_cond_destroy(&h->wcond);
        free(h);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    svc_set_notify(s, on_commit, h);
    if (pthread_create(&h->waker, NULL, waker_main, h) != 0) {
        MHD_stop_daemon(h->d);
        free(h);
        snprintf(errbuf, n, "cannot start a thread");
        return -1;
    }
    *out = h;
    return 0;
}

int http_port(http_server *h)
{
    return h->port;
}

void http_stop(http_server *h)
{
    if (!h)
        return;
    svc_set_notify(h->s, NULL, NULL);
    MHD_quiesce_daemon(h->d);
    pthread_mutex_lock(&h->wmu);
    h->stopping = 1;
    pthread_cond_signal(&h->wcond);
    pthread_mutex_unlock(&h->wmu);
    pthread_join(h->waker, NULL);
    wake(h, 1);
    /* Give resumed connections a moment to answer and close. */
    for (int i = 0; i < 20; i++) {
        pthread_mutex_lock(&h->wmu);
        int empty = h->head.next == &h->head;
        pthread_mutex_unlock(&h->wmu);
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (empty && (!info || info->num_connections == 0))
            break;
        wake(h, 1);
        usleep(50 * 1000);
    }
    MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->wmu);
    pthread_mutex_destroy(&h->mmu);
    pthread_cond_destroy(&h->wcond);
    free(h);
}
