/* dc_redisbench: the Redis 7 GEO contender on the workload of
 * bench/workload.h, over one pipelined connection (raw RESP on a socket).
 *
 * The centres of the hazardous operations' volumes go into one GEO key.
 * Each report is GEOADD units (the new position) plus GEOSEARCH vols
 * FROMLONLAT BYRADIUS R WITHDIST, R = the largest volume radius + the
 * largest reach + ce_m (+1% + 10 m for Redis's spherical distances); the
 * client then keeps a volume when its centre is within that volume's own
 * radius + reach + ce_m (+1% + 10 m), its window ends after the report,
 * its party differs and the altitude band admits an air unit. This is a
 * looser check than the engine's exact polygon separation: it is a
 * superset. The run fails if it ever finds fewer conflicts than the engine
 * in a batch (it would then be missing real ones).
 *
 * usage: dc_redisbench HOST PORT [--smoke] [--seed N] --expect DIR */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "workload.h"

static int fd;
static char *rb;
static size_t rn, rp, rcap;

static void die(const char *m)
{
    fprintf(stderr, "dc_redisbench: %s\n", m);
    exit(1);
}

static void send_all(const char *s, size_t n)
{
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k <= 0)
            die("write failed");
        s += k;
        n -= (size_t)k;
    }
}

static void fill(void)
{
    if (rp > 0 && rp == rn)
        rp = rn = 0;
    if (rn == rcap) {
        if (rp > 0) {
            memmove(rb, rb + rp, rn - rp);
            rn -= rp;
            rp = 0;
        } else {
            rcap = rcap ? rcap * 2 : 1 << 20;
            rb = realloc(rb, rcap);
        }
    }
    ssize_t k = read(fd, rb + rn, rcap - rn);
    if (k <= 0)
        die("connection closed");
    rn += (size_t)k;
}

/* reads one line (without CRLF) into out */
static void read_line(char *out, size_t cap)
{
    for (;;) {
        char *e = memchr(rb + rp, '\r', rn - rp);
        if (e && (size_t)(e - rb) + 1 < rn) {
            size_t len = (size_t)(e - (rb + rp));
            if (len >= cap)
                die("reply line too long");
            memcpy(out, rb + rp, len);
            out[len] = 0;
            rp += len + 2;
            return;
        }
        fill();
    }
}

static void read_bulk(char *out, size_t cap, long n)
{
    while (rn - rp < (size_t)n + 2)
        fill();
    if ((size_t)n >= cap)
        die("bulk too long");
    memcpy(out, rb + rp, (size_t)n);
    out[n] = 0;
    rp += (size_t)n + 2;
}

/* expects an integer or simple-string reply */
static long read_int(void)
{
    char l[256];
    read_line(l, sizeof l);
    if (l[0] == '-') {
        fprintf(stderr, "dc_redisbench: error reply: %s\n", l);
        exit(1);
    }
    return l[0] == ':' ? atol(l + 1) : 0;
}

/* command buffer */
static char *cb;
static size_t cn, ccap;
static void cput(const char *s, size_t n)
{
    if (cn + n > ccap) {
        ccap = (cn + n) * 2;
        cb = realloc(cb, ccap);
    }
    memcpy(cb + cn, s, n);
    cn += n;
}
static void rarg(const char *s)
{
    char h[32];
    size_t n = strlen(s);
    int k = snprintf(h, sizeof h, "$%zu\r\n", n);
    cput(h, (size_t)k);
    cput(s, n);
    cput("\r\n", 2);
}
static void ccmd(int nargs)
{
    char h[32];
    int k = snprintf(h, sizeof h, "*%d\r\n", nargs);
    cput(h, (size_t)k);
}
static void cflush(void)
{
    send_all(cb, cn);
    cn = 0;
}

typedef struct {
    int op, party;
    double lim; /* rmax + reach */
    double alt_lo, alt_hi;
    int64_t end;
} vinfo;

int main(int argc, char **argv)
{
    if (argc < 3)
        die("usage: dc_redisbench HOST PORT [--smoke] [--seed N] --expect DIR");
    int smoke = 0;
    uint64_t seed = 20170209;
    const char *exdir = ".";
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0)
            smoke = 1;
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc)
            exdir = argv[++i];
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("cannot connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    wl_scale sc = wl_scale_get(smoke);
    wl_theatre w;
    wl_generate(&w, seed, sc.units, sc.sites, sc.ops, wl_side_for(smoke));
    /* The theatre's operations plus the operations submitted in
     * measurement B (the other contenders hold those too). */
    wl_op *sub = wl_submits(&w, sc.submits);
    int nall = w.nops + sc.submits;
    vinfo *vi = malloc(sizeof *vi * nall * 3);
    int nv = 0;
    double maxlim = 0;
    char a1[64], a2[64], a3[64];
    ccmd(1);
    rarg("FLUSHALL");
    cflush();
    read_int();
    double t0 = wl_now_s();
    for (int i = 0; i < nall; i++) {
        const wl_op *o = i < w.nops ? &w.ops[i] : &sub[i - w.nops];
        if (!o->hazardous)
            continue;
        for (int k = 0; k < o->nvol; k++) {
            const wl_vol *v = &o->vol[k];
            vi[nv] = (vinfo){i, o->party, v->rmax + o->hazard + o->warning, v->alt_lo, v->alt_hi,
                             v->end};
            if (vi[nv].lim > maxlim)
                maxlim = vi[nv].lim;
            ccmd(5);
            rarg("GEOADD");
            rarg("vols");
            snprintf(a1, sizeof a1, "%.9f", v->clon);
            snprintf(a2, sizeof a2, "%.9f", v->clat);
            snprintf(a3, sizeof a3, "%d", nv);
            rarg(a1);
            rarg(a2);
            rarg(a3);
            nv++;
        }
    }
    for (int i = 0; i < w.nunits; i++) {
        ccmd(5);
        rarg("GEOADD");
        rarg("units");
        snprintf(a1, sizeof a1, "%.9f", w.units[i].lon);
        snprintf(a2, sizeof a2, "%.9f", w.units[i].lat);
        snprintf(a3, sizeof a3, "u%d", i);
        rarg(a1);
        rarg(a2);
        rarg(a3);
    }
    cflush();
    for (int i = 0; i < nv + w.nunits; i++)
        read_int();
    double t_load = wl_now_s() - t0;

    long nb = (sc.reports + WL_BATCH - 1) / WL_BATCH;
    wl_report *rep = malloc(sizeof *rep * nb * WL_BATCH);
    int *bn = malloc(sizeof(int) * nb), *bp = malloc(sizeof(int) * nb);
    wl_stream s;
    wl_stream_init(&s, &w, w.seed);
    for (long b = 0; b < nb; b++)
        bn[b] = wl_batch(&s, &w, b, rep + b * WL_BATCH, &bp[b]);
    wl_stream_free(&s);
    long *hits = calloc(nb, sizeof(long));
    long reports = 0, returned = 0;
    int *seen = calloc(nall, sizeof(int)); /* op -> stamp, for distinct ops */
    int stamp = 0;
    char line[256], member[64], dist[64];
    t0 = wl_now_s();
    for (long b = 0; b < nb; b++) {
        const wl_report *r = rep + b * WL_BATCH;
        int64_t t = wl_batch_time(b);
        for (int i = 0; i < bn[b]; i++) {
            double R = (maxlim + r[i].ce) * 1.01 + 10;
            snprintf(a1, sizeof a1, "%.9f", r[i].lon);
            snprintf(a2, sizeof a2, "%.9f", r[i].lat);
            snprintf(a3, sizeof a3, "u%d", r[i].unit);
            ccmd(5);
            rarg("GEOADD");
            rarg("units");
            rarg(a1);
            rarg(a2);
            rarg(a3);
            char rr[32];
            snprintf(rr, sizeof rr, "%.2f", R);
            ccmd(9);
            rarg("GEOSEARCH");
            rarg("vols");
            rarg("FROMLONLAT");
            rarg(a1);
            rarg(a2);
            rarg("BYRADIUS");
            rarg(rr);
            rarg("m");
            rarg("WITHDIST");
        }
        cflush();
        for (int i = 0; i < bn[b]; i++) {
            read_int();
            read_line(line, sizeof line);
            if (line[0] != '*')
                die("GEOSEARCH: unexpected reply");
            long m = atol(line + 1);
            int party = w.units[r[i].unit].party;
            int air = w.units[r[i].unit].domain == WL_AIR;
            stamp++;
            for (long j = 0; j < m; j++) {
                read_line(line, sizeof line); /* *2 */
                read_line(line, sizeof line);
                read_bulk(member, sizeof member, atol(line + 1));
                read_line(line, sizeof line);
                read_bulk(dist, sizeof dist, atol(line + 1));
                returned++;
                const vinfo *v = &vi[atoi(member)];
                double d = atof(dist);
                if (v->party == party || v->end <= t)
                    continue;
                if (air && !isnan(r[i].alt) && (r[i].alt < v->alt_lo || r[i].alt > v->alt_hi))
                    continue;
                if (d > (v->lim + r[i].ce) * 1.01 + 10)
                    continue;
                if (seen[v->op] != stamp) {
                    seen[v->op] = stamp;
                    hits[b]++;
                }
            }
        }
        reports += bn[b];
    }
    double secs = wl_now_s() - t0;
    /* compare with the engine: a superset in every batch */
    char path[4096];
    snprintf(path, sizeof path, "%s/expect_a.txt", exdir);
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot read expect_a.txt");
    long bb, eh, eo, eng = 0, red = 0, under = 0;
    while (fscanf(f, "%ld %ld %ld", &bb, &eh, &eo) == 3 && bb < nb) {
        eng += eh;
        red += hits[bb];
        if (hits[bb] < eh && ++under <= 5)
            fprintf(stderr, "dc_redisbench: batch %ld: Redis %ld < engine %ld\n", bb, hits[bb], eh);
    }
    fclose(f);
    double rate = reports / secs;
    fprintf(stderr,
            "Redis A: %ld reports in %.1f s: %.0f reports/s (1 pipelined connection); hits %ld vs "
            "engine %ld exact (looser check: +%.1f%%), %.2f members returned per report\n",
            reports, secs, rate, red, eng, eng ? 100.0 * (red - eng) / eng : 0.0,
            (double)returned / reports);
    printf("{\"redis_load_s\":%.2f,\"redis_ingest_per_s\":%.0f,\"redis_ingest_reports\":%ld,"
           "\"redis_hits\":%ld,\"engine_hits\":%ld,\"redis_counts_ok\":%s}\n",
           t_load, rate, reports, red, eng, under || !eng ? "false" : "true");
    if (under || !eng) {
        fprintf(stderr, "dc_redisbench: FAIL: Redis found fewer conflicts than the engine\n");
        return 1;
    }
    wl_submits_free(sub, sc.submits);
    wl_free(&w);
    return 0;
}
