/* dc_loadclient: deconflict over HTTP, on the workload of bench/workload.h.
 * Plain sockets, HTTP/1.1 keep-alive.
 *
 *   setup  parties (admin token from DECONFLICT_ADMIN_TOKEN), then sites,
 *          operations, units and their first positions, over 16
 *          connections (not measured, except its duration);
 *   B      the 1,000 submits, POST /v1/operations, one at a time on one
 *          connection: latency distribution (includes the durable commit);
 *   A      the 2M reports, POST /v1/positions in batches of 1,000, two
 *          connections (batch b on connection b % 2). Request bodies are
 *          built before the clock starts.
 * Counts: the conflicts the responses report as opened are compared with
 * bench_engine's (DIR/expect_a.txt column 3, DIR/expect_b.txt).
 *
 * Modes (scripts/bench.sh uses the last two):
 *   (default)          setup, B, then A;
 *   --no-ingest        setup and B only;
 *   --batches DIR      A only, posting DIR/batches.tsv, to a service that
 *                      already holds setup and B (a copy of the data
 *                      directory of a --no-ingest run). scripts/http_check.py,
 *                      the independent check, posts the same file the same
 *                      way to another copy, so the two clients send the
 *                      same bytes to services in the same state.
 *
 * --save-last DIR (not with --batches) writes A's batches, each with its
 * party's token, to DIR/batches.tsv ("TOKEN<tab>BODY" per line, in stream
 * order).
 *
 * usage: dc_loadclient HOST PORT [--smoke] [--seed N] --expect DIR
 *                      [--conns N] [--cap SECONDS]
 *                      [[--no-ingest] [--save-last DIR] | --batches DIR] */
#define _GNU_SOURCE /* memmem, strndup */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wl_json.h"

static const char *g_host;
static int g_port;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "dc_loadclient: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

typedef struct {
    int fd;
    char *rb;
    size_t rn, rp, rcap;
} conn;

static void conn_open(conn *c)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)g_port);
    inet_pton(AF_INET, g_host, &sa.sin_addr);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("cannot connect to %s:%d", g_host, g_port);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void conn_close(conn *c)
{
    close(c->fd);
    free(c->rb);
}

static void fill(conn *c)
{
    if (c->rp > 0) {
        memmove(c->rb, c->rb + c->rp, c->rn - c->rp);
        c->rn -= c->rp;
        c->rp = 0;
    }
    if (c->rn + 65536 > c->rcap) {
        c->rcap = c->rcap ? c->rcap * 2 : 1 << 20;
        c->rb = realloc(c->rb, c->rcap);
    }
    ssize_t k = recv(c->fd, c->rb + c->rn, c->rcap - c->rn, 0);
    if (k <= 0)
        die("connection closed by the server");
    c->rn += (size_t)k;
}

/* send_req sends a request's head and body in one call, as most HTTP
 * clients do (Python's http.client among them). Sent as two (the head on
 * its own, TCP_NODELAY), phase A measured 131k-235k reports/s over seven
 * runs and the independent check 0.97-1.44x that; in one call, four runs
 * gave 225k-322k and 1.01-1.23x. */
static void send_req(conn *c, const char *head, size_t hn, const char *body, size_t blen)
{
    struct iovec v[2] = {{(void *)head, hn}, {(void *)body, blen}};
    int nv = blen ? 2 : 1;
    size_t left = hn + blen;
    while (left) {
        struct msghdr m = {0};
        m.msg_iov = v;
        m.msg_iovlen = (size_t)nv;
        ssize_t k = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        if (k <= 0)
            die("send failed");
        left -= (size_t)k;
        for (int i = 0; i < nv && k > 0; i++) {
            size_t d = (size_t)k < v[i].iov_len ? (size_t)k : v[i].iov_len;
            v[i].iov_base = (char *)v[i].iov_base + d;
            v[i].iov_len -= d;
            k -= (ssize_t)d;
        }
    }
}

/* One request; returns the status and a malloc'd NUL-terminated body. */
static int request(conn *c, const char *method, const char *path, const char *token,
                   const char *body, size_t blen, char **out)
{
    char head[1024];
    int hn = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: keep-alive\r\n\r\n",
                      method, path, g_host, g_port, token, body ? blen : 0);
    send_req(c, head, (size_t)hn, body, body ? blen : 0);
    /* headers */
    char *end;
    for (;;) {
        end = c->rn > c->rp ? memmem(c->rb + c->rp, c->rn - c->rp, "\r\n\r\n", 4) : NULL;
        if (end)
            break;
        fill(c);
    }
    size_t hlen = (size_t)(end - (c->rb + c->rp)) + 4;
    char *h = strndup(c->rb + c->rp, hlen);
    c->rp += hlen;
    int status = 0;
    sscanf(h, "HTTP/1.%*d %d", &status);
    long clen = -1;
    int chunked = 0;
    for (char *l = strstr(h, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, "content-length:", 15) == 0)
            clen = atol(l + 17);
        if (strncasecmp(l + 2, "transfer-encoding:", 18) == 0 && strstr(l + 20, "chunked"))
            chunked = 1;
    }
    free(h);
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    if (chunked) {
        for (;;) {
            char *crlf;
            while (!(crlf = c->rn > c->rp ? memmem(c->rb + c->rp, c->rn - c->rp, "\r\n", 2) : NULL))
                fill(c);
            long k = strtol(c->rb + c->rp, NULL, 16);
            c->rp = (size_t)(crlf - c->rb) + 2;
            while (c->rn - c->rp < (size_t)k + 2)
                fill(c);
            if (n + (size_t)k + 1 > cap) {
                cap = (n + (size_t)k + 1) * 2;
                b = realloc(b, cap);
            }
            memcpy(b + n, c->rb + c->rp, (size_t)k);
            n += (size_t)k;
            c->rp += (size_t)k + 2;
            if (k == 0)
                break;
        }
    } else if (clen > 0) {
        while (c->rn - c->rp < (size_t)clen)
            fill(c);
        if ((size_t)clen + 1 > cap) {
            cap = (size_t)clen + 1;
            b = realloc(b, cap);
        }
        memcpy(b, c->rb + c->rp, (size_t)clen);
        n = (size_t)clen;
        c->rp += (size_t)clen;
    }
    b[n] = 0;
    if (out)
        *out = b;
    else
        free(b);
    return status;
}

/* number of conflicts opened in a write's answer: its "conflicts" list */
static long count_conflicts(const char *body)
{
    json_t *j = json_loads(body, 0, NULL);
    long n = (long)json_array_size(json_object_get(j, "conflicts"));
    json_decref(j);
    return n;
}

/* ---- parallel setup ---- */

typedef struct {
    const wl_theatre *w;
    char (*tok)[128];
    int k, nk;
    long opened;
} setup_ctx;

static void *setup_objects(void *arg)
{
    setup_ctx *x = arg;
    const wl_theatre *w = x->w;
    conn c;
    conn_open(&c);
    char id[32], path[128];
    for (int i = x->k; i < w->nsites; i += x->nk) {
        snprintf(id, sizeof id, "s%d", i);
        json_t *j = wl_site_json(w, i, id);
        char *s = json_dumps(j, JSON_COMPACT), *resp;
        int st = request(&c, "POST", "/v1/sites", x->tok[w->sites[i].party], s, strlen(s), &resp);
        if (st != 201)
            die("POST /v1/sites: %d %s", st, resp);
        x->opened += count_conflicts(resp);
        free(resp);
        free(s);
        json_decref(j);
    }
    for (int i = x->k; i < w->nops; i += x->nk) {
        snprintf(id, sizeof id, "o%d", i);
        json_t *j = wl_op_json(&w->ops[i], id);
        char *s = json_dumps(j, JSON_COMPACT), *resp;
        int st = request(&c, "POST", "/v1/operations", x->tok[w->ops[i].party], s, strlen(s),
                         &resp);
        if (st != 201)
            die("POST /v1/operations: %d %s", st, resp);
        x->opened += count_conflicts(resp);
        free(resp);
        free(s);
        json_decref(j);
    }
    for (int i = x->k; i < w->nunits; i += x->nk) {
        snprintf(id, sizeof id, "u%d", i);
        snprintf(path, sizeof path, "/v1/units/%s", id);
        json_t *j = wl_unit_json(w, i, id);
        char *s = json_dumps(j, JSON_COMPACT), *resp;
        int st = request(&c, "PUT", path, x->tok[w->units[i].party], s, strlen(s), &resp);
        if (st != 200 && st != 201)
            die("PUT /v1/units: %d %s", st, resp);
        free(resp);
        free(s);
        json_decref(j);
    }
    conn_close(&c);
    return NULL;
}

/* a positions body for reports rep[0..n) at time t */
static char *positions_body(const wl_report *rep, int n, dc_time t, size_t *len)
{
    char tb[DC_TIME_BUFLEN];
    dc_time_format(t, tb);
    size_t cap = (size_t)n * 160 + 64, k = 0;
    char *b = malloc(cap);
    k += (size_t)snprintf(b + k, cap - k, "{\"reports\":[");
    for (int i = 0; i < n; i++) {
        char alt[48] = "";
        if (!isnan(rep[i].alt))
            snprintf(alt, sizeof alt, ",\"alt_m\":%.1f", rep[i].alt);
        k += (size_t)snprintf(b + k, cap - k,
                              "%s{\"unit\":\"u%d\",\"lon\":%.7f,\"lat\":%.7f%s,\"ce_m\":%.1f,"
                              "\"time\":\"%s\"}",
                              i ? "," : "", rep[i].unit, rep[i].lon, rep[i].lat, alt, rep[i].ce, tb);
    }
    k += (size_t)snprintf(b + k, cap - k, "]}");
    *len = k;
    return b;
}

/* ---- A ---- */

/* A party's batches must reach the service in stream order, as they reach
 * the engine in bench_engine: batches b and b + nparties move the same
 * units, and applied the other way round (the older report is then
 * ignored) they open different conflicts. Batch b is on connection b % nk,
 * its party's previous batch may be on another, which a busy machine can
 * let fall behind; so a batch waits for its party's previous one. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *done; /* per batch */
    int stopped;         /* a connection stopped early, at the time cap */
} ing_order;

static int wait_turn(ing_order *o, long b, int gap)
{
    if (b < gap)
        return 1;
    pthread_mutex_lock(&o->mu);
    while (!o->done[b - gap] && !o->stopped)
        pthread_cond_wait(&o->cv, &o->mu);
    int ok = o->done[b - gap];
    pthread_mutex_unlock(&o->mu);
    return ok;
}

static void order_mark(ing_order *o, long b, int stop)
{
    pthread_mutex_lock(&o->mu);
    if (b >= 0)
        o->done[b] = 1;
    if (stop)
        o->stopped = 1;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

/* A's batches, as built from the workload or read from batches.tsv */
typedef struct {
    char **body;
    size_t *blen;
    int *bp, *bn; /* party index and reports of each batch */
    long nb;
    int nparties;
    char tok[16][128]; /* per party index */
} a_batches;

typedef struct {
    const a_batches *ab;
    int k, nk;
    double cap, t0, t_end;
    char **answer; /* per batch, NULL when not done; read once the clock has stopped */
    long reports;
    ing_order *order;
} ing_ctx;

static void *ingest(void *arg)
{
    ing_ctx *x = arg;
    conn c;
    conn_open(&c);
    int early = 0;
    const a_batches *ab = x->ab;
    for (long b = x->k; b < ab->nb; b += x->nk) {
        if (wl_now_s() - x->t0 > x->cap || !wait_turn(x->order, b, ab->nparties)) {
            early = 1; /* the cap: let no other connection wait for this one */
            break;
        }
        char *resp;
        int st = request(&c, "POST", "/v1/positions", ab->tok[ab->bp[b]], ab->body[b], ab->blen[b],
                         &resp);
        if (st != 200)
            die("POST /v1/positions (batch %ld): %d %.300s", b, st, resp);
        x->answer[b] = resp; /* parsed after the clock, as scripts/http_check.py does */
        x->reports += ab->bn[b];
        order_mark(x->order, b, 0);
    }
    if (early)
        order_mark(x->order, -1, 1);
    x->t_end = wl_now_s();
    conn_close(&c);
    return NULL;
}

static long *read_col(const char *path, int cols, int col, long *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot read %s", path);
    long cap = 1024, k = 0, v[3];
    long *out = malloc(sizeof(long) * cap);
    for (;;) {
        int got = 0;
        for (int i = 0; i < cols; i++)
            got += fscanf(f, "%ld", &v[i]) == 1;
        if (got != cols)
            break;
        if (k == cap)
            out = realloc(out, sizeof(long) * (cap *= 2));
        out[k++] = v[col];
    }
    fclose(f);
    *n = k;
    return out;
}

/* save_batches writes phase A's batches for scripts/http_check.py to
 * DIR/batches.tsv: "TOKEN\tBODY" per line, in stream order. */
static void save_batches(const char *dir, const a_batches *ab)
{
    char fp[4096];
    snprintf(fp, sizeof fp, "%s/batches.tsv", dir);
    FILE *f = fopen(fp, "w");
    if (!f)
        die("cannot write %s", fp);
    for (long b = 0; b < ab->nb; b++)
        if (fprintf(f, "%s\t", ab->tok[ab->bp[b]]) < 0 ||
            fwrite(ab->body[b], 1, ab->blen[b], f) != ab->blen[b] || fputc('\n', f) == EOF)
            die("cannot write %s", fp);
    if (fclose(f) != 0)
        die("cannot write %s", fp);
}

static void a_free(a_batches *ab)
{
    for (long b = 0; b < ab->nb; b++)
        free(ab->body[b]);
    free(ab->body);
    free(ab->blen);
    free(ab->bp);
    free(ab->bn);
}

/* load_batches reads DIR/batches.tsv (save_batches): a party is a token,
 * numbered in order of first appearance; a batch's reports are its
 * "unit" members. */
static void load_batches(const char *dir, a_batches *ab)
{
    char fp[4096];
    snprintf(fp, sizeof fp, "%s/batches.tsv", dir);
    FILE *f = fopen(fp, "r");
    if (!f)
        die("cannot read %s", fp);
    memset(ab, 0, sizeof *ab);
    long cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    while ((n = getline(&line, &lcap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = 0;
        char *tab = memchr(line, '\t', (size_t)n);
        if (!tab || tab - line >= 128)
            die("%s, batch %ld: no token", fp, ab->nb);
        *tab = 0;
        int p = 0;
        while (p < ab->nparties && strcmp(ab->tok[p], line) != 0)
            p++;
        if (p == ab->nparties) {
            if (p == 16)
                die("%s: more than 16 parties", fp);
            snprintf(ab->tok[ab->nparties++], 128, "%s", line);
        }
        if (ab->nb == cap) {
            cap = cap ? cap * 2 : 1024;
            if (!(ab->body = realloc(ab->body, sizeof(char *) * (size_t)cap)) ||
                !(ab->blen = realloc(ab->blen, sizeof(size_t) * (size_t)cap)) ||
                !(ab->bp = realloc(ab->bp, sizeof(int) * (size_t)cap)) ||
                !(ab->bn = realloc(ab->bn, sizeof(int) * (size_t)cap)))
                die("out of memory reading %s", fp);
        }
        const char *body = tab + 1;
        size_t blen = (size_t)(line + n - body);
        int reports = 0;
        for (const char *q = body; (q = memmem(q, blen - (size_t)(q - body), "\"unit\":", 7));
             q += 7)
            reports++;
        if (!(ab->body[ab->nb] = strndup(body, blen)))
            die("out of memory reading %s", fp);
        ab->blen[ab->nb] = blen;
        ab->bp[ab->nb] = p;
        ab->bn[ab->nb] = reports;
        ab->nb++;
    }
    free(line);
    fclose(f);
    if (ab->nb == 0)
        die("%s: no batches", fp);
}

/* run_a posts A's batches over nconns connections and checks the
 * conflicts the answers open against bench_engine's (exdir). Returns 1
 * when they agree. */
static int run_a(const a_batches *ab, int nconns, double cap, const char *exdir, double *rate,
                 long *reports_out, long *ho_out, long *eo_out)
{
    long nb = ab->nb;
    char **answer = calloc((size_t)nb, sizeof *answer);
    if (nconns < 1 || nconns > 16)
        nconns = 2;
    ing_ctx ix[16];
    pthread_t th[16];
    ing_order order = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, calloc(nb, 1), 0};
    double ts = wl_now_s();
    for (int k = 0; k < nconns; k++) {
        ix[k] = (ing_ctx){ab, k, nconns, cap, ts, ts, answer, 0, &order};
        pthread_create(&th[k], NULL, ingest, &ix[k]);
    }
    long reports = 0;
    double tend = ts;
    for (int k = 0; k < nconns; k++) {
        pthread_join(th[k], NULL);
        reports += ix[k].reports;
        if (ix[k].t_end > tend)
            tend = ix[k].t_end;
    }
    *rate = reports / (tend - ts);
    long nexp_a;
    char path[4096];
    snprintf(path, sizeof path, "%s/expect_a.txt", exdir);
    long *exp_a = read_col(path, 3, 2, &nexp_a);
    /* The answers, once the clock has stopped: the reports each accepted
     * and the conflicts it opened. Parsing them (jansson, on this machine's
     * two cores that the service needs) in the timed loop cost the
     * service's rate more than the noise. */
    long ho = 0, eo = 0, done = 0;
    for (long b = 0; b < nb; b++) {
        if (!answer[b])
            continue;
        json_t *j = json_loads(answer[b], 0, NULL);
        long acc = (long)json_integer_value(json_object_get(j, "accepted"));
        long opened = (long)json_array_size(json_object_get(j, "conflicts"));
        json_decref(j);
        free(answer[b]);
        if (acc != ab->bn[b])
            die("batch %ld: accepted %ld of %d", b, acc, ab->bn[b]);
        if (b < nexp_a) {
            ho += opened;
            eo += exp_a[b];
            done++;
        }
    }
    fprintf(stderr,
            "HTTP A: %ld reports (%ld batches) in %.1f s over %d connections: %.0f reports/s; "
            "opened %ld (engine %ld)\n",
            reports, done, tend - ts, nconns, *rate, ho, eo);
    free(answer);
    free(exp_a);
    free(order.done);
    *reports_out = reports;
    *ho_out = ho;
    *eo_out = eo;
    return done > 0 && labs(ho - eo) <= 2 + eo / 1000;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        die("usage: dc_loadclient HOST PORT [--smoke] [--seed N] --expect DIR [--conns N] [--cap S] "
            "[[--no-ingest] [--save-last DIR] | --batches DIR]");
    g_host = argv[1];
    g_port = atoi(argv[2]);
    int smoke = 0, nconns = 2, no_ingest = 0;
    uint64_t seed = 20170209;
    const char *exdir = ".", *save_dir = NULL, *from_dir = NULL;
    double cap = 1e9;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0)
            smoke = 1;
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc)
            exdir = argv[++i];
        else if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc)
            nconns = atoi(argv[++i]);
        else if (strcmp(argv[i], "--cap") == 0 && i + 1 < argc)
            cap = atof(argv[++i]);
        else if (strcmp(argv[i], "--save-last") == 0 && i + 1 < argc)
            save_dir = argv[++i];
        else if (strcmp(argv[i], "--no-ingest") == 0)
            no_ingest = 1;
        else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc)
            from_dir = argv[++i];
        else
            die("unknown argument %s", argv[i]);
    }
    if (from_dir && (no_ingest || save_dir))
        die("--batches runs A alone: it takes neither --no-ingest nor --save-last");
    if (from_dir) {
        /* A only, from a --save-last file (see the top of this file) */
        a_batches ab;
        load_batches(from_dir, &ab);
        double rate;
        long reports, ho, eo;
        int ok = run_a(&ab, nconns, cap, exdir, &rate, &reports, &ho, &eo);
        printf("{\"ingest_http_per_s\":%.0f,\"http_ingest_reports\":%ld,\"http_conns\":%d,"
               "\"http_ingest_opened\":%ld,\"engine_ingest_opened_same_batches\":%ld,"
               "\"http_counts_ok\":%s}\n",
               rate, reports, nconns, ho, eo, ok ? "true" : "false");
        a_free(&ab);
        if (!ok)
            fprintf(stderr, "dc_loadclient: FAIL: conflicts opened over HTTP disagree with the engine\n");
        return ok ? 0 : 1;
    }
    const char *admin = getenv("DECONFLICT_ADMIN_TOKEN");
    if (!admin)
        die("DECONFLICT_ADMIN_TOKEN is not set");
    wl_scale sc = wl_scale_get(smoke);
    wl_theatre w;
    wl_generate(&w, seed, sc.units, sc.sites, sc.ops, wl_side_for(smoke));
    char tok[5][128];
    conn c;
    conn_open(&c);
    for (int p = 0; p < w.nparties; p++) {
        char body[128], *resp;
        int n = snprintf(body, sizeof body, "{\"id\":\"%s\",\"name\":\"%s\"}", w.party[p], w.party[p]);
        int st = request(&c, "POST", "/v1/parties", admin, body, (size_t)n, &resp);
        json_t *j = json_loads(resp, 0, NULL);
        const char *t = json_string_value(json_object_get(j, "token"));
        if (st != 201 || !t)
            die("POST /v1/parties: %d %s", st, resp);
        snprintf(tok[p], sizeof tok[p], "%s", t);
        json_decref(j);
        free(resp);
    }
    /* setup */
    double t0 = wl_now_s();
    enum { NS = 16 };
    setup_ctx sx[NS];
    pthread_t th[NS];
    for (int k = 0; k < NS; k++) {
        sx[k] = (setup_ctx){&w, tok, k, NS, 0};
        pthread_create(&th[k], NULL, setup_objects, &sx[k]);
    }
    for (int k = 0; k < NS; k++)
        pthread_join(th[k], NULL);
    /* This connection sat idle through the setup, longer than the server's
     * idle timeout on a full-size theatre: start a fresh one. */
    conn_close(&c);
    conn_open(&c);
    /* first positions, batched per party */
    for (int p = 0; p < w.nparties; p++)
        for (int s0 = 0; s0 < w.npu[p]; s0 += WL_BATCH) {
            wl_report rep[WL_BATCH];
            int n = 0;
            for (int i = s0; i < w.npu[p] && n < WL_BATCH; i++, n++) {
                const wl_unit *u = &w.units[w.pu[p][i]];
                rep[n] = (wl_report){w.pu[p][i], u->lon, u->lat, u->alt, u->ce};
            }
            size_t len;
            char *b = positions_body(rep, n, WL_T0, &len), *resp;
            int st = request(&c, "POST", "/v1/positions", tok[p], b, len, &resp);
            if (st != 200)
                die("first positions: %d %.300s", st, resp);
            free(resp);
            free(b);
        }
    double t_setup = wl_now_s() - t0;
    fprintf(stderr, "HTTP setup: %d sites, %d operations, %d units with positions in %.1f s\n",
            w.nsites, w.nops, w.nunits, t_setup);

    /* B */
    wl_op *sub = wl_submits(&w, sc.submits);
    double *lat = malloc(sizeof(double) * sc.submits);
    long nexp_b, http_b = 0, eng_b = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/expect_b.txt", exdir);
    long *exp_b = read_col(path, 2, 1, &nexp_b);
    for (int i = 0; i < sc.submits; i++) {
        char id[32];
        snprintf(id, sizeof id, "b%d", i);
        json_t *j = wl_op_json(&sub[i], id);
        char *s = json_dumps(j, JSON_COMPACT), *resp;
        double a = wl_now_s();
        int st = request(&c, "POST", "/v1/operations", tok[sub[i].party], s, strlen(s), &resp);
        lat[i] = (wl_now_s() - a) * 1e3;
        if (st != 201)
            die("POST /v1/operations (submit %d): %d %.300s", i, st, resp);
        http_b += count_conflicts(resp);
        free(resp);
        free(s);
        json_decref(j);
    }
    for (long i = 0; i < nexp_b; i++)
        eng_b += exp_b[i];
    qsort(lat, sc.submits, sizeof *lat, wl_cmp_double);
    double sp50 = wl_pct(lat, sc.submits, 50), sp99 = wl_pct(lat, sc.submits, 99);
    fprintf(stderr, "HTTP B: %d submits: p50 %.2f ms, p99 %.2f ms; opened %ld (engine %ld)\n",
            sc.submits, sp50, sp99, http_b, eng_b);
    conn_close(&c);

    /* A */
    a_batches ab;
    memset(&ab, 0, sizeof ab);
    ab.nb = (sc.reports + WL_BATCH - 1) / WL_BATCH;
    ab.nparties = w.nparties;
    memcpy(ab.tok, tok, sizeof tok);
    ab.body = malloc(sizeof(char *) * ab.nb);
    ab.blen = malloc(sizeof(size_t) * ab.nb);
    ab.bn = malloc(sizeof(int) * ab.nb);
    ab.bp = malloc(sizeof(int) * ab.nb);
    wl_stream s;
    wl_stream_init(&s, &w, w.seed);
    wl_report rep[WL_BATCH];
    for (long b = 0; b < ab.nb; b++) {
        ab.bn[b] = wl_batch(&s, &w, b, rep, &ab.bp[b]);
        ab.body[b] = positions_body(rep, ab.bn[b], wl_batch_time(b), &ab.blen[b]);
    }
    wl_stream_free(&s);
    int b_ok = labs(http_b - eng_b) <= 2 + eng_b / 1000;
    if (save_dir)
        save_batches(save_dir, &ab);
    if (no_ingest) {
        /* setup and B only: A runs on copies of this state (--batches) */
        printf("{\"http_setup_s\":%.1f,\"http_submit_p50_ms\":%.3f,\"http_submit_p99_ms\":%.3f,"
               "\"http_submit_opened\":%ld,\"engine_submit_opened_same\":%ld,"
               "\"http_counts_ok\":%s}\n",
               t_setup, sp50, sp99, http_b, eng_b, b_ok ? "true" : "false");
        a_free(&ab);
        wl_submits_free(sub, sc.submits);
        wl_free(&w);
        if (!b_ok)
            fprintf(stderr, "dc_loadclient: FAIL: conflicts opened over HTTP disagree with the engine\n");
        return b_ok ? 0 : 1;
    }
    double rate;
    long reports, ho, eo;
    int ok = run_a(&ab, nconns, cap, exdir, &rate, &reports, &ho, &eo) && b_ok;
    printf("{\"ingest_http_per_s\":%.0f,\"http_ingest_reports\":%ld,\"http_conns\":%d,"
           "\"http_setup_s\":%.1f,\"http_submit_p50_ms\":%.3f,\"http_submit_p99_ms\":%.3f,"
           "\"http_ingest_opened\":%ld,\"engine_ingest_opened_same_batches\":%ld,"
           "\"http_submit_opened\":%ld,\"http_note\":\"A opened %ld (%ld), B %ld (%ld)\","
           "\"http_counts_ok\":%s}\n",
           rate, reports, nconns, t_setup, sp50, sp99, ho, eo, http_b, ho, eo, http_b, eng_b,
           ok ? "true" : "false");
    a_free(&ab);
    wl_submits_free(sub, sc.submits);
    wl_free(&w);
    if (!ok) {
        fprintf(stderr, "dc_loadclient: FAIL: conflicts opened over HTTP disagree with the engine\n");
        return 1;
    }
    return 0;
}
