/* bench_engine: deconflict in-process, one core, on the workload of
 * bench/workload.h. Measurements (bench/README):
 *   M  memory: resident growth per unit;
 *   B  submit: 1,000 new operations with 100-vertex polygons (latencies);
 *   A  ingest: 2M position reports, each checked;
 *   C  scale series: units, sites and operations x10 per step;
 *   D  replay: a hash-chained log of >= 10M records.
 * Prints one JSON object on stdout; progress on stderr. With --out DIR it
 * writes DIR/expect_a.txt and DIR/expect_b.txt, the conflict counts the
 * other contenders must reproduce.
 *
 * usage: bench_engine [--smoke] [--seed N] [--out DIR] [--only MBACD]
 *                     [--log FILE] [--replay-cap SECONDS] [--scale-steps N]
 * --replay-cap stops each replay pass after that many seconds (the rate is
 * then over the records replayed, and replay_records says how many). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "wl_json.h"

static void die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "bench_engine: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    exit(1);
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * sysconf(_SC_PAGESIZE);
}

static void check(dc_status st, dc_error *err, const char *what)
{
    if (st != DC_OK)
        die("%s failed: %s", what, err->message);
}

static size_t count_type(const dc_changes *ch, size_t from, dc_change_type t)
{
    size_t n = 0;
    for (size_t i = from; i < ch->n; i++)
        n += ch->v[i].type == t;
    return n;
}

/* ---- building an engine from a theatre ---- */

typedef struct {
    dc_engine *e;
    char **uid;
    double t_sites, t_ops, t_units;
    long rss_before_units, rss_after_units;
    size_t conflicts_before_units;
} built;

static void build(built *b, const wl_theatre *w, int with_units)
{
    memset(b, 0, sizeof *b);
    dc_error err = {0};
    dc_changes ch;
    dc_changes_init(&ch);
    b->e = dc_engine_new();
    for (int p = 0; p < w->nparties; p++)
        check(dc_party_add(b->e, w->party[p], w->party[p], 0, &err), &err, "party_add");
    char id[32];
    double t0 = wl_now_s();
    for (int i = 0; i < w->nsites; i++) {
        snprintf(id, sizeof id, "s%d", i);
        json_t *j = wl_site_json(w, i, id);
        check(dc_site_put(b->e, w->party[w->sites[i].party], NULL, j, 1, WL_T0, &ch, &err), &err,
              "site_put");
        json_decref(j);
        ch.n = 0;
    }
    double t1 = wl_now_s();
    for (int i = 0; i < w->nops; i++) {
        snprintf(id, sizeof id, "o%d", i);
        json_t *j = wl_op_json(&w->ops[i], id);
        check(dc_operation_put(b->e, w->party[w->ops[i].party], NULL, j, 1, WL_T0, &ch, &err),
              &err, "operation_put");
        json_decref(j);
        ch.n = 0;
    }
    double t2 = wl_now_s();
    b->t_sites = t1 - t0;
    b->t_ops = t2 - t1;
    b->uid = malloc(sizeof(char *) * w->nunits);
    for (int i = 0; i < w->nunits; i++) {
        snprintf(id, sizeof id, "u%d", i);
        b->uid[i] = strdup(id);
    }
    if (with_units) {
        dc_stats st;
        dc_engine_stats(b->e, &st);
        b->conflicts_before_units = st.conflicts_open;
        json_t *bodies = json_array(); /* built before measuring memory */
        for (int i = 0; i < w->nunits; i++)
            json_array_append_new(bodies, wl_unit_json(w, i, b->uid[i]));
        b->rss_before_units = rss_bytes();
        double t3 = wl_now_s();
        for (int i = 0; i < w->nunits; i++) {
            const wl_unit *u = &w->units[i];
            check(dc_unit_put(b->e, w->party[u->party], b->uid[i], json_array_get(bodies, i),
                              WL_T0, &ch, &err),
                  &err, "unit_put");
            check(dc_position_report(b->e, w->party[u->party], b->uid[i], u->lon, u->lat, u->alt,
                                     u->ce, WL_T0, WL_T0, &ch, &err),
                  &err, "position_report");
            ch.n = 0;
        }
        b->t_units = wl_now_s() - t3;
        b->rss_after_units = rss_bytes();
        json_decref(bodies);
    }
    dc_changes_free(&ch);
}

static void built_free(built *b, const wl_theatre *w)
{
    for (int i = 0; i < w->nunits; i++)
        free(b->uid[i]);
    free(b->uid);
    dc_engine_free(b->e);
}

/* ---- measurement B: submits ---- */

typedef struct {
    double p50, p90, p99, max, mean;
    long opened;
} submit_res;

static submit_res run_submits(dc_engine *e, const wl_theatre *w, int n, const char *prefix,
                              FILE *expect)
{
    wl_op *ops = wl_submits(w, n);
    char **text = malloc(sizeof(char *) * n);
    char id[32];
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%s%d", prefix, i);
        json_t *j = wl_op_json(&ops[i], id);
        text[i] = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    double *lat = malloc(sizeof(double) * n);
    dc_changes ch;
    dc_changes_init(&ch);
    dc_error err = {0};
    submit_res r = {0};
    for (int i = 0; i < n; i++) {
        double t0 = wl_now_s();
        json_t *j = json_loads(text[i], 0, NULL);
        dc_status st = dc_operation_put(e, w->party[ops[i].party], NULL, j, 1, WL_T0, &ch, &err);
        double t1 = wl_now_s();
        check(st, &err, "operation_put (submit)");
        json_decref(j);
        lat[i] = (t1 - t0) * 1e3;
        long opened = (long)count_type(&ch, 0, DC_CH_OPENED);
        r.opened += opened;
        if (expect)
            fprintf(expect, "%d %ld\n", i, opened);
        ch.n = 0;
        free(text[i]);
    }
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += lat[i];
    qsort(lat, n, sizeof *lat, wl_cmp_double);
    r.p50 = wl_pct(lat, n, 50);
    r.p90 = wl_pct(lat, n, 90);
    r.p99 = wl_pct(lat, n, 99);
    r.max = lat[n - 1];
    r.mean = sum / n;
    free(lat);
    free(text);
    dc_changes_free(&ch);
    wl_submits_free(ops, n);
    return r;
}

/* ---- measurement A: ingest ---- */

typedef struct {
    long reports;
    double secs;
    long hits, opened, resolved;
} ingest_res;

static ingest_res run_ingest(dc_engine *e, const wl_theatre *w, char **uid, long nreports,
                             FILE *expect)
{
    long nb = (nreports + WL_BATCH - 1) / WL_BATCH;
    wl_report *rep = malloc(sizeof *rep * nb * WL_BATCH);
    int *bn = malloc(sizeof(int) * nb), *bp = malloc(sizeof(int) * nb);
    wl_stream s;
    wl_stream_init(&s, w, w->seed);
    long total = 0;
    for (long b = 0; b < nb; b++) {
        bn[b] = wl_batch(&s, w, b, rep + b * WL_BATCH, &bp[b]);
        total += bn[b];
    }
    wl_stream_free(&s);
    /* per-unit open conflicts, kept from the change reports: a report of
     * unit U only opens or resolves U's own conflicts */
    int *open = calloc(w->nunits, sizeof(int));
    /* start from the conflicts units hold now */
    long *bh = calloc(nb, sizeof(long)), *bo = calloc(nb, sizeof(long));
    dc_changes ch;
    dc_changes_init(&ch);
    dc_error err = {0};
    ingest_res r = {0};
    /* baseline: the conflicts each unit holds before the first report,
     * from the public conflict listings */
    for (int p = 0; p < w->nparties; p++) {
        json_t *cl = dc_conflicts_json(e, w->party[p], "open");
        json_t *arr = json_object_get(cl, "conflicts"), *c;
        size_t i;
        json_array_foreach(arr, i, c)
        {
            json_t *mine = json_object_get(c, "mine");
            const char *ty = json_string_value(json_object_get(mine, "type"));
            const char *id = json_string_value(json_object_get(mine, "id"));
            if (ty && id && strcmp(ty, "unit") == 0 && id[0] == 'u')
                open[atoi(id + 1)]++;
        }
        json_decref(cl);
    }
    double t0 = wl_now_s();
    for (long b = 0; b < nb; b++) {
        const char *party = w->party[bp[b]];
        dc_time t = wl_batch_time(b);
        const wl_report *rb = rep + b * WL_BATCH;
        long hits = 0, opened = 0, resolved = 0;
        for (int i = 0; i < bn[b]; i++) {
            size_t before = ch.n;
            dc_status st = dc_position_report(e, party, uid[rb[i].unit], rb[i].lon, rb[i].lat,
                                              rb[i].alt, rb[i].ce, t, t, &ch, &err);
            if (st != DC_OK)
                die("position_report failed: %s%s", err.message, "");
            for (size_t k = before; k < ch.n; k++) {
                if (ch.v[k].type == DC_CH_OPENED) {
                    open[rb[i].unit]++;
                    opened++;
                } else if (ch.v[k].type == DC_CH_RESOLVED) {
                    open[rb[i].unit]--;
                    resolved++;
                }
            }
            hits += open[rb[i].unit];
        }
        ch.n = 0;
        bh[b] = hits;
        bo[b] = opened;
        r.hits += hits;
        r.opened += opened;
        r.resolved += resolved;
    }
    r.secs = wl_now_s() - t0;
    r.reports = total;
    if (expect)
        for (long b = 0; b < nb; b++)
            fprintf(expect, "%ld %ld %ld\n", b, bh[b], bo[b]);
    dc_changes_free(&ch);
    free(open);
    free(bh);
    free(bo);
    free(rep);
    free(bn);
    free(bp);
    return r;
}

/* ---- measurement D: replay of a hash-chained log ----
 * Records have the shape of the service's log (src/service/store.h): record
 * i has prev = hash of record i-1 (64 zeros for record 1), hash =
 * SHA-256("dclog1\n" i "\n" prev "\n" content) in hex, content = the
 * canonical JSON of the input ({"args", "op", "party", "t", "time", "v"},
 * sorted keys, compact). The file holds one record per line:
 * idx TAB prev TAB hash TAB content. */

static void hash_rec(int64_t idx, const char *prev, const char *content, size_t clen, char out[65])
{
    crypto_hash_sha256_state h;
    unsigned char d[32];
    char head[128];
    int len = snprintf(head, sizeof head, "dclog1\n%" PRId64 "\n%s\n", idx, prev);
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)head, (unsigned long long)len);
    crypto_hash_sha256_update(&h, (const unsigned char *)content, clen);
    crypto_hash_sha256_final(&h, d);
    sodium_bin2hex(out, 65, d, 32);
}

typedef struct {
    FILE *f;
    int64_t idx;
    char prev[65];
} logw;

static void log_put(logw *l, const char *content)
{
    char h[65];
    l->idx++;
    hash_rec(l->idx, l->prev, content, strlen(content), h);
    fprintf(l->f, "%" PRId64 "\t%s\t%s\t%s\n", l->idx, l->prev, h, content);
    memcpy(l->prev, h, 65);
}

static void log_json(logw *l, const char *op, const char *party, const char *id, json_t *args,
                     dc_time t)
{
    char tb[DC_TIME_BUFLEN];
    json_t *r = json_pack("{s:i,s:I,s:s,s:s}", "v", 1, "t", (json_int_t)t, "time",
                          dc_time_format(t, tb), "op", op);
    if (party)
        json_object_set_new(r, "party", json_string(party));
    if (id)
        json_object_set_new(r, "id", json_string(id));
    if (args)
        json_object_set(r, "args", args);
    char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    log_put(l, s);
    free(s);
    json_decref(r);
}

/* Writes the log: parties, sites, operations, units with their first
 * position, then single-report position records up to n records. */
static int64_t write_log(const char *path, const wl_theatre *w, long n)
{
    logw l = {fopen(path, "w"), 0, {0}};
    if (!l.f)
        die("cannot write %s: %s", path, strerror(errno));
    memset(l.prev, '0', 64);
    l.prev[64] = 0;
    char id[32];
    for (int p = 0; p < w->nparties; p++) {
        json_t *a = json_pack("{s:s,s:s}", "id", w->party[p], "name", w->party[p]);
        log_json(&l, "party.add", NULL, NULL, a, WL_T0);
        json_decref(a);
    }
    for (int i = 0; i < w->nsites; i++) {
        snprintf(id, sizeof id, "s%d", i);
        json_t *a = wl_site_json(w, i, id);
        log_json(&l, "site.create", w->party[w->sites[i].party], NULL, a, WL_T0);
        json_decref(a);
    }
    for (int i = 0; i < w->nops; i++) {
        snprintf(id, sizeof id, "o%d", i);
        json_t *a = wl_op_json(&w->ops[i], id);
        log_json(&l, "operation.create", w->party[w->ops[i].party], NULL, a, WL_T0);
        json_decref(a);
    }
    for (int i = 0; i < w->nunits; i++) {
        snprintf(id, sizeof id, "u%d", i);
        json_t *a = wl_unit_json(w, i, id);
        log_json(&l, "unit.put", w->party[w->units[i].party], id, a, WL_T0);
        json_decref(a);
    }
    /* position records: one report each, in the stream's order; batch b's
     * reports get times wl_batch_time(b) */
    wl_stream s;
    wl_stream_init(&s, w, w->seed ^ 0xD);
    wl_report rep[WL_BATCH];
    char content[512], tb[DC_TIME_BUFLEN];
    for (long b = 0; l.idx < n; b++) {
        int party;
        int k = wl_batch(&s, w, b, rep, &party);
        dc_time t = wl_batch_time(b);
        dc_time_format(t, tb);
        for (int i = 0; i < k && l.idx < n; i++) {
            char alt[48] = "";
            if (!isnan(rep[i].alt))
                snprintf(alt, sizeof alt, "\"alt_m\":%.1f,", rep[i].alt);
            snprintf(content, sizeof content,
                     "{\"args\":{\"reports\":[{%s\"ce_m\":%.1f,\"lat\":%.7f,\"lon\":%.7f,"
                     "\"time\":\"%s\",\"unit\":\"u%d\"}]},\"op\":\"positions\",\"party\":\"%s\","
                     "\"t\":%" PRId64 ",\"time\":\"%s\",\"v\":1}",
                     alt, rep[i].ce, rep[i].lat, rep[i].lon, tb, rep[i].unit, w->party[party], t,
                     tb);
            log_put(&l, content);
        }
    }
    wl_stream_free(&s);
    fclose(l.f);
    return l.idx;
}

static dc_status apply_rec(dc_engine *e, const char *op, const char *party, const char *id,
                           const json_t *args, dc_time t, dc_changes *ch, dc_error *err)
{
    size_t acc;
    if (strcmp(op, "positions") == 0)
        return dc_positions_report(e, party, args, t, &acc, ch, err);
    if (strcmp(op, "party.add") == 0)
        return dc_party_add(e, json_string_value(json_object_get(args, "id")),
                            json_string_value(json_object_get(args, "name")), 0, err);
    if (strcmp(op, "site.create") == 0)
        return dc_site_put(e, party, NULL, args, 1, t, ch, err);
    if (strcmp(op, "operation.create") == 0)
        return dc_operation_put(e, party, NULL, args, 1, t, ch, err);
    if (strcmp(op, "unit.put") == 0)
        return dc_unit_put(e, party, id, args, t, ch, err);
    if (strcmp(op, "advance") == 0)
        return dc_advance(e, t, ch);
    return DC_ERR_INVALID;
}

typedef struct {
    int64_t records;
    double secs, verify_secs, parse_secs;
    size_t conflicts_open;
} replay_res;

/* mode 0: full replay (verify + parse + advance + apply); 1: verify the
 * chain only; 2: verify and parse only. */
static replay_res replay(const char *path, int mode, double cap)
{
    replay_res r = {0};
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0)
        die("cannot read %s: %s", path, strerror(errno));
    char *m = mmap(NULL, sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        die("mmap %s: %s", path, strerror(errno));
    madvise(m, sb.st_size, MADV_SEQUENTIAL);
    /* warm the page cache so that disk speed is not measured */
    volatile unsigned long sink = 0;
    for (off_t i = 0; i < sb.st_size; i += 4096)
        sink += m[i];
    (void)sink;
    dc_engine *e = mode == 0 ? dc_engine_new() : NULL;
    dc_changes ch, pre;
    dc_changes_init(&ch);
    dc_changes_init(&pre);
    dc_error err = {0};
    char prev[65], want[65];
    memset(prev, '0', 64);
    prev[64] = 0;
    int64_t expect = 1;
    char *content = malloc(1 << 20);
    size_t ccap = 1 << 20;
    double t0 = wl_now_s();
    const char *p = m, *end = m + sb.st_size;
    while (p < end) {
        const char *nl = memchr(p, '\n', end - p);
        if (!nl)
            die("%s: truncated last record%s", path, "");
        char *q;
        int64_t idx = strtoll(p, &q, 10);
        if (idx != expect || *q != '\t')
            die("replay: record out of sequence%s%s", "", "");
        const char *pv = q + 1, *hs = pv + 65, *ct = hs + 65;
        if (memcmp(pv, prev, 64) != 0)
            die("replay: previous-hash mismatch%s%s", "", "");
        size_t clen = nl - ct;
        hash_rec(idx, prev, ct, clen, want);
        if (memcmp(want, hs, 64) != 0)
            die("replay: content does not match its hash%s%s", "", "");
        memcpy(prev, hs, 64);
        if (mode != 1) {
            if (clen + 1 > ccap) {
                ccap = clen + 1;
                content = realloc(content, ccap);
            }
            memcpy(content, ct, clen);
            content[clen] = 0;
            json_error_t je;
            json_t *rec = json_loadb(ct, clen, JSON_REJECT_DUPLICATES, &je);
            if (!rec)
                die("replay: bad JSON: %s%s", je.text, "");
            if (mode == 0) {
                dc_time t = json_integer_value(json_object_get(rec, "t"));
                const char *op = json_string_value(json_object_get(rec, "op"));
                if (strcmp(op, "advance") != 0)
                    dc_advance(e, t, &pre); /* as the service does before every write */
                pre.n = 0;
                dc_status st = apply_rec(e, op, json_string_value(json_object_get(rec, "party")),
                                         json_string_value(json_object_get(rec, "id")),
                                         json_object_get(rec, "args"), t, &ch, &err);
                if (st != DC_OK)
                    die("replay: record rejected: %s %s", err.message, err.field);
                ch.n = 0;
            }
            json_decref(rec);
        }
        expect++;
        p = nl + 1;
        if ((expect & 1023) == 0 && wl_now_s() - t0 > cap)
            break; /* time cap: the rate is over the records replayed */
    }
    r.secs = wl_now_s() - t0;
    r.records = expect - 1;
    if (e) {
        dc_stats st;
        dc_engine_stats(e, &st);
        r.conflicts_open = st.conflicts_open;
        dc_engine_free(e);
    }
    free(content);
    dc_changes_free(&ch);
    dc_changes_free(&pre);
    munmap(m, sb.st_size);
    close(fd);
    return r;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    int smoke = 0;
    uint64_t seed = 20170209;
    const char *out = NULL, *only = "MBACD", *logpath = NULL;
    double dcap = 1e9;
    int scale_steps = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0)
            smoke = 1;
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--replay-cap") == 0 && i + 1 < argc)
            dcap = atof(argv[++i]);
        else if (strcmp(argv[i], "--scale-steps") == 0 && i + 1 < argc)
            scale_steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
            logpath = argv[++i];
        else
            die("usage: bench_engine [--smoke] [--seed N] [--out DIR] [--only MBACD] [--log FILE]%s%s",
                "", "");
    }
    if (sodium_init() < 0)
        die("sodium_init failed%s%s", "", "");
    wl_scale sc = wl_scale_get(smoke);
    json_t *res = json_object();
    json_object_set_new(res, "seed", json_integer((json_int_t)seed));
    json_object_set_new(res, "smoke", json_boolean(smoke));
    char path[4096];

    /* M: memory per unit, in an engine holding only units */
    if (strchr(only, 'M')) {
        wl_theatre w;
        wl_generate(&w, seed, sc.units, 0, 0, wl_side_for(smoke));
        built b;
        build(&b, &w, 1);
        double bpu = (double)(b.rss_after_units - b.rss_before_units) / w.nunits;
        fprintf(stderr, "M: %d units (registered and positioned): %.0f bytes/unit\n", w.nunits, bpu);
        json_object_set_new(res, "bytes_per_unit", json_real(round(bpu)));
        built_free(&b, &w);
        wl_free(&w);
    }

    /* The main theatre: B then A on the same engine. */
    if (strchr(only, 'A') || strchr(only, 'B')) {
        wl_theatre w;
        double g0 = wl_now_s();
        wl_generate(&w, seed, sc.units, sc.sites, sc.ops, wl_side_for(smoke));
        fprintf(stderr, "theatre: %d parties, %d units, %d sites, %d operations, side %.0f km (%.1f s)\n",
                w.nparties, w.nunits, w.nsites, w.nops, w.side_m / 1000, wl_now_s() - g0);
        built b;
        build(&b, &w, 1);
        dc_stats st;
        dc_engine_stats(b.e, &st);
        fprintf(stderr,
                "load: sites %.2f s, operations %.2f s, units+first positions %.2f s; %zu volumes, "
                "%zu open conflicts\n",
                b.t_sites, b.t_ops, b.t_units, st.volumes, st.conflicts_open);
        double bput = (double)(b.rss_after_units - b.rss_before_units) / w.nunits;
        json_object_set_new(res, "bytes_per_unit_in_theatre", json_real(round(bput)));
        json_object_set_new(res, "unit_conflicts_at_start",
                            json_integer((json_int_t)(st.conflicts_open - b.conflicts_before_units)));
        json_object_set_new(
            res, "theatre",
            json_pack("{s:i,s:i,s:i,s:i,s:I,s:f,s:f,s:f,s:f}", "parties", w.nparties, "units",
                      w.nunits, "sites", w.nsites, "operations", w.nops, "volumes",
                      (json_int_t)st.volumes, "side_km", w.side_m / 1000, "load_sites_s", b.t_sites,
                      "load_ops_s", b.t_ops, "load_units_s", b.t_units));
        if (strchr(only, 'B')) {
            FILE *ex = NULL;
            if (out) {
                snprintf(path, sizeof path, "%s/expect_b.txt", out);
                ex = fopen(path, "w");
            }
            submit_res r = run_submits(b.e, &w, sc.submits, "b", ex);
            if (ex)
                fclose(ex);
            fprintf(stderr,
                    "B: %d submits: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms; %ld "
                    "conflicts opened\n",
                    sc.submits, r.p50, r.p90, r.p99, r.max, r.opened);
            json_object_set_new(res, "submit_p50_ms", json_real(r.p50));
            json_object_set_new(res, "submit_p90_ms", json_real(r.p90));
            json_object_set_new(res, "submit_p99_ms", json_real(r.p99));
            json_object_set_new(res, "submit_max_ms", json_real(r.max));
            json_object_set_new(res, "submit_mean_ms", json_real(r.mean));
            json_object_set_new(res, "submit_conflicts_opened", json_integer(r.opened));
            json_object_set_new(res, "submits", json_integer(sc.submits));
        }
        if (strchr(only, 'A')) {
            FILE *ex = NULL;
            if (out) {
                snprintf(path, sizeof path, "%s/expect_a.txt", out);
                ex = fopen(path, "w");
            }
            ingest_res r = run_ingest(b.e, &w, b.uid, sc.reports, ex);
            if (ex)
                fclose(ex);
            double rate = r.reports / r.secs;
            fprintf(stderr,
                    "A: %ld reports in %.3f s: %.0f reports/s (%.0f ns/report); hits %ld, opened "
                    "%ld, resolved %ld\n",
                    r.reports, r.secs, rate, 1e9 * r.secs / r.reports, r.hits, r.opened,
                    r.resolved);
            json_object_set_new(res, "ingest_inprocess_per_s", json_real(round(rate)));
            json_object_set_new(res, "ingest_inprocess_ns_per_report",
                                json_real(1e9 * r.secs / r.reports));
            json_object_set_new(res, "ingest_reports", json_integer(r.reports));
            json_object_set_new(res, "ingest_hits", json_integer(r.hits));
            json_object_set_new(res, "ingest_opened", json_integer(r.opened));
            json_object_set_new(res, "ingest_resolved", json_integer(r.resolved));
        }
        built_free(&b, &w);
        wl_free(&w);
    }

    /* C: scale series at constant density: x10 units, sites and
     * operations per step, theatre area x10 per step. */
    if (strchr(only, 'C')) {
        json_t *steps = json_array();
        int nsteps = scale_steps;
        for (int k = 0; k < nsteps; k++) {
            double f = pow(10, k);
            int nu = (int)((smoke ? 1000 : 10000) * f), ns = nu / 2, no = nu / 10;
            double side = 500000.0 * sqrt(f / 10) * (smoke ? sqrt(0.1) : 1);
            wl_theatre w;
            wl_generate(&w, seed + k, nu, ns, no, side);
            built b;
            build(&b, &w, 1);
            long nrep = smoke ? 20000 : 200000;
            int nsub = smoke ? 20 : 200;
            ingest_res ir = run_ingest(b.e, &w, b.uid, nrep, NULL);
            submit_res sr = run_submits(b.e, &w, nsub, "c", NULL);
            double ns_rep = 1e9 * ir.secs / ir.reports;
            fprintf(stderr,
                    "C: units %d, sites %d, ops %d, side %.0f km: %.0f ns/report (%.2f hits/report), "
                    "submit mean %.3f ms p99 %.3f ms\n",
                    nu, ns, no, side / 1000, ns_rep, (double)ir.hits / ir.reports, sr.mean, sr.p99);
            json_array_append_new(
                steps, json_pack("{s:i,s:i,s:i,s:f,s:f,s:f,s:f,s:f}", "units", nu, "sites", ns,
                                 "operations", no, "side_km", side / 1000, "ns_per_report", ns_rep,
                                 "hits_per_report", (double)ir.hits / ir.reports, "submit_mean_ms",
                                 sr.mean, "submit_p99_ms", sr.p99));
            built_free(&b, &w);
            wl_free(&w);
        }
        json_object_set_new(res, "scale", steps);
        /* flatness: cost per report at the largest step over the smallest */
        json_t *a = json_array_get(steps, 0), *z = json_array_get(steps, nsteps - 1);
        json_object_set_new(res, "scale_report_cost_ratio",
                            json_real(json_real_value(json_object_get(z, "ns_per_report")) /
                                      json_real_value(json_object_get(a, "ns_per_report"))));
    }

    /* D: replay */
    if (strchr(only, 'D')) {
        wl_theatre w;
        wl_generate(&w, seed, sc.units, sc.sites, sc.ops, wl_side_for(smoke));
        char tmp[4096];
        if (logpath)
            snprintf(tmp, sizeof tmp, "%s", logpath);
        else
            snprintf(tmp, sizeof tmp, "%s/replay.log", out ? out : "/tmp");
        double g0 = wl_now_s();
        int64_t n = write_log(tmp, &w, sc.replay);
        fprintf(stderr, "D: wrote %" PRId64 " records to %s in %.1f s\n", n, tmp, wl_now_s() - g0);
        replay_res v = replay(tmp, 1, dcap);
        replay_res p = replay(tmp, 2, dcap);
        replay_res r = replay(tmp, 0, dcap);
        fprintf(stderr,
                "D: chain check only %.0f records/s; check+parse %.0f records/s; full replay "
                "%.0f records/s (%.1f s, %zu open conflicts)\n",
                v.records / v.secs, p.records / p.secs, r.records / r.secs, r.secs,
                r.conflicts_open);
        json_object_set_new(res, "replay_log_records", json_integer(n));
        json_object_set_new(res, "replay_records", json_integer(r.records));
        json_object_set_new(res, "replay_records_per_s", json_real(round(r.records / r.secs)));
        json_object_set_new(res, "replay_secs", json_real(r.secs));
        json_object_set_new(res, "replay_verify_only_per_s", json_real(round(v.records / v.secs)));
        json_object_set_new(res, "replay_verify_parse_per_s", json_real(round(p.records / p.secs)));
        json_object_set_new(res, "replay_source",
                            json_string("engine replay of a recorded input log file in the service "
                                        "log's record shape (hash chain + canonical JSON), one "
                                        "position report per record"));
        if (!logpath)
            unlink(tmp);
        wl_free(&w);
    }
    char *s = json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(8));
    printf("%s\n", s);
    free(s);
    json_decref(res);
    return 0;
}
