/* posbatch: fast parse and validation of a position batch (see
 * posbatch.h). The rules mirror the engine's get_report (src/engine/
 * engine.c): the allowed fields, their types, the ranges, the time syntax.
 * Where this parser is in any doubt it falls back; tests/unit/
 * test_posbatch.c checks that everything it accepts, the general path
 * accepts with the same values. */
#include "posbatch.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NUMBER_TEXT 32
#define MAX_ID_TEXT 64
#define MAX_TIME_TEXT 63

typedef struct {
    const char *p, *end;
} cur;

static void ws(cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cur *c, char ch)
{
    ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* plain_string reads a string of printable ASCII without escapes; gives
 * its bytes (without quotes). */
static int plain_string(cur *c, const char **s, size_t *n)
{
    ws(c);
    if (c->p >= c->end || *c->p != '"')
        return -1;
    const char *q = ++c->p;
    while (q < c->end && *q != '"') {
        unsigned char ch = (unsigned char)*q;
        if (ch < 0x20 || ch >= 0x7f || ch == '\\')
            return -1;
        q++;
    }
    if (q >= c->end)
        return -1;
    *s = c->p;
    *n = (size_t)(q - c->p);
    c->p = q + 1;
    return 0;
}

/* number reads a JSON number without exponent, as jansson converts it:
 * an integer literal with strtoll (then to double), a real with strtod. */
static int number(cur *c, const char **s, size_t *n, double *out)
{
    ws(c);
    const char *q = c->p, *start = q;
    if (q < c->end && *q == '-')
        q++;
    if (q >= c->end || *q < '0' || *q > '9')
        return -1;
    if (*q == '0') {
        q++;
    } else {
        while (q < c->end && *q >= '0' && *q <= '9')
            q++;
    }
    int real = 0;
    if (q < c->end && *q == '.') {
        real = 1;
        q++;
        if (q >= c->end || *q < '0' || *q > '9')
            return -1;
        while (q < c->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < c->end && (*q == 'e' || *q == 'E'))
        return -1; /* jansson's overflow and underflow rules: general path */
    size_t len = (size_t)(q - start);
    if (len > MAX_NUMBER_TEXT || (!real && len > 18))
        return -1;
    char tmp[MAX_NUMBER_TEXT + 1];
    memcpy(tmp, start, len);
    tmp[len] = 0;
    char *e;
    errno = 0;
    if (real) {
        *out = strtod(tmp, &e);
    } else {
        long long v = strtoll(tmp, &e, 10);
        *out = (double)v;
    }
    if (*e || errno)
        return -1;
    *s = start;
    *n = len;
    c->p = q;
    return 0;
}

enum { F_UNIT = 1, F_LON = 2, F_LAT = 4, F_ALT = 8, F_CE = 16, F_TIME = 32 };

typedef struct {
    const char *s;
    size_t n;
} span;

static int key_is(const char *k, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(k, want, n) == 0;
}

static void put(char **o, const char *s, size_t n)
{
    memcpy(*o, s, n);
    *o += n;
}

#define PUTS(o, lit) put(o, lit, sizeof lit - 1)

void posbatch_free(posbatch *b)
{
    free(b->v);
    free(b->units);
    free(b->args_text);
    memset(b, 0, sizeof *b);
}

/* parse_batch parses the batch object at c (leaving c after its closing
 * brace); see posbatch_parse. */
static int parse_batch(cur *cp, size_t max_reports, posbatch *b)
{
    cur c = *cp;
    size_t len = (size_t)(c.end - c.p);
    memset(b, 0, sizeof *b);
    const char *k;
    size_t kn;
    /* Anything else (in the log: every other record's args) falls back
     * here, before a byte is allocated. */
    if (!eat(&c, '{') || plain_string(&c, &k, &kn) || !key_is(k, kn, "reports") || !eat(&c, ':') ||
        !eat(&c, '['))
        return POSBATCH_FALLBACK;
    /* text out: never longer than the body (whitespace only shrinks) */
    b->args_text = malloc(len + 32);
    b->units = malloc(len + 1);
    /* a report takes at least ~40 bytes of text: a one-report record does
     * not need room for a thousand */
    size_t cap = len / 32 + 1 < 1024 ? len / 32 + 1 : 1024;
    b->v = malloc(cap * sizeof *b->v);
    if (!b->args_text || !b->units || !b->v) {
        posbatch_free(b);
        return POSBATCH_NOMEM;
    }
    char *o = b->args_text, *u = b->units;
    PUTS(&o, "{\"reports\":[");
    ws(&c);
    if (c.p < c.end && *c.p == ']')
        goto fallback; /* empty batch: the general path decides */
    for (;;) {
        if (b->n >= max_reports)
            goto fallback;
        if (b->n == cap) {
            cap *= 2;
            void *nv = realloc(b->v, cap * sizeof *b->v);
            if (!nv) {
                posbatch_free(b);
                return POSBATCH_NOMEM;
            }
            b->v = nv;
        }
        posbatch_report *r = &b->v[b->n];
        span f[6] = {{0}};
        int alt_null = 0;
        unsigned seen = 0;
        double alt = NAN, ce = 0;
        if (!eat(&c, '{'))
            goto fallback;
        ws(&c);
        if (c.p < c.end && *c.p == '}')
            goto fallback;
        for (;;) {
            if (plain_string(&c, &k, &kn) || !eat(&c, ':'))
                goto fallback;
            unsigned bit;
            int ok;
            if (key_is(k, kn, "unit")) {
                bit = F_UNIT;
                ok = plain_string(&c, &f[0].s, &f[0].n) == 0 && f[0].n <= MAX_ID_TEXT;
            } else if (key_is(k, kn, "lon")) {
                bit = F_LON;
                ok = number(&c, &f[1].s, &f[1].n, &r->lon) == 0;
            } else if (key_is(k, kn, "lat")) {
                bit = F_LAT;
                ok = number(&c, &f[2].s, &f[2].n, &r->lat) == 0;
            } else if (key_is(k, kn, "alt_m")) {
                bit = F_ALT;
                ws(&c);
                if (c.end - c.p >= 4 && memcmp(c.p, "null", 4) == 0) {
                    c.p += 4;
                    alt_null = 1;
                    ok = 1;
                } else {
                    ok = number(&c, &f[3].s, &f[3].n, &alt) == 0;
                }
            } else if (key_is(k, kn, "ce_m")) {
                bit = F_CE;
                ok = number(&c, &f[4].s, &f[4].n, &ce) == 0;
            } else if (key_is(k, kn, "time")) {
                bit = F_TIME;
                ok = plain_string(&c, &f[5].s, &f[5].n) == 0 && f[5].n <= MAX_TIME_TEXT;
            } else {
                goto fallback; /* "owner" and unknown fields: general path */
            }
            if (!ok || (seen & bit))
                goto fallback;
            seen |= bit;
            if (eat(&c, ','))
                continue;
            if (eat(&c, '}'))
                break;
            goto fallback;
        }
        if ((seen & (F_UNIT | F_LON | F_LAT | F_TIME)) != (F_UNIT | F_LON | F_LAT | F_TIME))
            goto fallback;
        /* the engine's ranges (get_report) */
        if (!(r->lon >= -180 && r->lon <= 180) || !(r->lat >= -90 && r->lat <= 90) ||
            ((seen & F_ALT) && !alt_null && !(alt >= -20000 && alt <= 1e6)) ||
            !(ce >= 0 && ce <= 1e6))
            goto fallback;
        char tb[MAX_TIME_TEXT + 1];
        memcpy(tb, f[5].s, f[5].n);
        tb[f[5].n] = 0;
        if (dc_time_parse(tb, &r->t) != 0)
            goto fallback;
        r->alt_m = alt;
        r->ce_m = ce;
        memcpy(u, f[0].s, f[0].n);
        u[f[0].n] = 0;
        r->unit = (const char *)(uintptr_t)(u - b->units); /* offset until done */
        u += f[0].n + 1;
        /* canonical text: keys sorted, as jansson's JSON_SORT_KEYS */
        if (b->n)
            PUTS(&o, ",");
        PUTS(&o, "{");
        if (seen & F_ALT) {
            PUTS(&o, "\"alt_m\":");
            if (alt_null)
                PUTS(&o, "null");
            else
                put(&o, f[3].s, f[3].n);
            PUTS(&o, ",");
        }
        if (seen & F_CE) {
            PUTS(&o, "\"ce_m\":");
            put(&o, f[4].s, f[4].n);
            PUTS(&o, ",");
        }
        PUTS(&o, "\"lat\":");
        put(&o, f[2].s, f[2].n);
        PUTS(&o, ",\"lon\":");
        put(&o, f[1].s, f[1].n);
        PUTS(&o, ",\"time\":\"");
        put(&o, f[5].s, f[5].n);
        PUTS(&o, "\",\"unit\":\"");
        put(&o, f[0].s, f[0].n);
        PUTS(&o, "\"}");
        b->n++;
        if (eat(&c, ','))
            continue;
        if (eat(&c, ']'))
            break;
        goto fallback;
    }
    if (!eat(&c, '}'))
        goto fallback;
    PUTS(&o, "]}");
    *o = 0;
    for (size_t i = 0; i < b->n; i++)
        b->v[i].unit = b->units + (uintptr_t)b->v[i].unit;
    *cp = c;
    return POSBATCH_OK;
fallback:
    posbatch_free(b);
    return POSBATCH_FALLBACK;
}

int posbatch_parse(const char *body, size_t len, size_t max_reports, posbatch *b)
{
    cur c = {body, body + len};
    int rc = parse_batch(&c, max_reports, b);
    if (rc != POSBATCH_OK)
        return rc;
    ws(&c);
    if (c.p != c.end) {
        posbatch_free(b);
        return POSBATCH_FALLBACK;
    }
    return POSBATCH_OK;
}

/* lit consumes the literal text want, byte for byte. */
static int lit(cur *c, const char *want)
{
    size_t n = strlen(want);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, want, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

/* integer reads a JSON integer (no fraction, no exponent) of at most 18
 * digits, which strtoll converts exactly as jansson does. */
static int integer(cur *c, int64_t *out)
{
    const char *q = c->p;
    int neg = 0;
    if (q < c->end && *q == '-') {
        neg = 1;
        q++;
    }
    const char *digits = q;
    while (q < c->end && *q >= '0' && *q <= '9')
        q++;
    size_t nd = (size_t)(q - digits);
    if (nd == 0 || nd > 18 || (nd > 1 && digits[0] == '0'))
        return -1;
    if (q < c->end && (*q == '.' || *q == 'e' || *q == 'E'))
        return -1;
    int64_t v = 0;
    for (const char *d = digits; d < q; d++)
        v = v * 10 + (*d - '0');
    *out = neg ? -v : v;
    c->p = q;
    return 0;
}

int posbatch_parse_record(const char *content, size_t len, size_t max_reports, posbatch *b,
                          char *party, size_t party_size, int64_t *t)
{
    cur c = {content, content + len};
    memset(b, 0, sizeof *b);
    if (!lit(&c, "{\"args\":"))
        return POSBATCH_FALLBACK;
    int rc = parse_batch(&c, max_reports, b);
    if (rc != POSBATCH_OK)
        return rc;
    const char *p, *tm;
    size_t pn, tn;
    if (!lit(&c, ",\"op\":\"positions\",\"party\":") || plain_string(&c, &p, &pn) ||
        pn >= party_size || !lit(&c, ",\"t\":") || integer(&c, t) || !lit(&c, ",\"time\":") ||
        plain_string(&c, &tm, &tn) || !lit(&c, ",\"v\":1}") || c.p != c.end) {
        posbatch_free(b);
        return POSBATCH_FALLBACK;
    }
    memcpy(party, p, pn);
    party[pn] = 0;
    return POSBATCH_OK;
}
