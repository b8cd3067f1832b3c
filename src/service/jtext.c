/* jtext: jansson-identical compact JSON text, with a cache for shared
 * subtrees (see jtext.h). The formatting rules are jansson 2.14's dump.c:
 * keys sorted by bytes then length, "\uXXXX" in upper-case hex, reals as
 * "%.*g" (17 digits unless a precision is given) with ".0" appended when
 * the text has neither '.' nor 'e', and no '+' or leading zeros in the
 * exponent. tests/unit/test_jtext.c checks it against json_dumps. */
#include "jtext.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JTEXT_MAX_DEPTH 2048 /* jansson's own parse limit; deeper input is refused */

void jtext_add(jtext_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->oom = 1;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = 0;
}

void jtext_adds(jtext_buf *b, const char *s)
{
    jtext_add(b, s, strlen(s));
}

char *jtext_take(jtext_buf *b)
{
    if (b->oom) {
        jtext_free(b);
        return NULL;
    }
    if (!b->buf)
        jtext_add(b, "", 0);
    char *s = b->buf;
    if (b->oom)
        s = NULL;
    b->buf = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
    return s;
}

void jtext_free(jtext_buf *b)
{
    free(b->buf);
    memset(b, 0, sizeof *b);
}

/* utf8_next decodes one code point of s[0..n) (valid UTF-8: jansson checks
 * every string it holds). Returns its length, or 0 when invalid. */
static size_t utf8_next(const unsigned char *s, size_t n, int32_t *cp)
{
    unsigned c = s[0];
    size_t len;
    int32_t v;
    if (c < 0x80) {
        *cp = (int32_t)c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = (int32_t)(c & 0x1F);
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = (int32_t)(c & 0x0F);
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = (int32_t)(c & 0x07);
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (int32_t)(s[i] & 0x3F);
    }
    *cp = v;
    return len;
}

void jtext_string(jtext_buf *b, const char *str, size_t n, size_t flags)
{
    const unsigned char *s = (const unsigned char *)str;
    jtext_add(b, "\"", 1);
    size_t run = 0, i = 0;
    while (i < n) {
        unsigned char c = s[i];
        /* the common case: printable ASCII that needs no escape */
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        int32_t cp;
        size_t len = utf8_next(s + i, n - i, &cp);
        if (len == 0) { /* not UTF-8: cannot happen for a json_t string */
            b->oom = 1;
            return;
        }
        if (cp >= 0x80 && !(flags & JSON_ENSURE_ASCII)) {
            i += len;
            continue;
        }
        jtext_add(b, str + run, i - run);
        char seq[16];
        const char *text = seq;
        switch (cp) {
        case '\\': text = "\\\\"; break;
        case '"': text = "\\\""; break;
        case '\b': text = "\\b"; break;
        case '\f': text = "\\f"; break;
        case '\n': text = "\\n"; break;
        case '\r': text = "\\r"; break;
        case '\t': text = "\\t"; break;
        default:
            if (cp < 0x10000) {
                snprintf(seq, sizeof seq, "\\u%04X", (unsigned)cp);
            } else {
                int32_t v = cp - 0x10000;
                snprintf(seq, sizeof seq, "\\u%04X\\u%04X", (unsigned)(0xD800 | ((v & 0xffc00) >> 10)),
                         (unsigned)(0xDC00 | (v & 0x3ff)));
            }
        }
        jtext_adds(b, text);
        i += len;
        run = i;
    }
    jtext_add(b, str + run, n - run);
    jtext_add(b, "\"", 1);
}

void jtext_int(jtext_buf *b, json_int_t v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    jtext_add(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* short_decimal writes v when it is the double nearest a decimal of at
 * most 15 significant digits and 9 decimals, with 1e-4 <= |v| < 1e9: then
 * "%.15g" prints exactly that decimal (the double lies within half an ulp,
 * v * 2^-53, of it, less than half a step, more than v * 5e-16, of the
 * 15-digit grid, so rounding to 15 digits gives it back), and "%g"
 * prints it in fixed notation without trailing zeros. Distances rounded to
 * 0.1 m and coordinates sent with a few decimals are such values. Returns
 * the length, or 0 (use snprintf). */
static size_t short_decimal(char *out, double v, int precision)
{
    static const double pow10[10] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    if (precision != 15)
        return 0;
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e9))
        return 0;
    for (int d = 0; d <= 9; d++) {
        double scaled = a * pow10[d];
        if (scaled >= 1e15)
            return 0;
        long long k = llround(scaled);
        if ((double)k / pow10[d] != a)
            continue;
        /* k has at most 15 digits: a decimal of d places, none trailing 0 */
        char digits[24];
        int n = 0;
        do {
            digits[n++] = (char)('0' + k % 10);
            k /= 10;
        } while (k);
        while (n <= d) /* a leading "0." and zeros */
            digits[n++] = '0';
        size_t o = 0;
        if (v < 0)
            out[o++] = '-';
        for (int i = n - 1; i >= 0; i--) {
            out[o++] = digits[i];
            if (i == d && d > 0)
                out[o++] = '.';
        }
        out[o] = 0;
        return o;
    }
    return 0;
}

/* exact_g writes what snprintf "%.*g" writes for v with P significant
 * digits (1 <= P <= 17), for normal v with 1e-6 <= |v| < 2^52, and
 * returns its length; 0 for any other v (use snprintf).
 *
 * Hand-written because it was measured: glibc's printf formats a real
 * through multi-precision arithmetic (__mpn_divrem, hack_digit), about
 * 1 us each. Event bodies and answers carry polygons of up to 64
 * vertices, so under bench A over HTTP (2 connections, batches of 1,000)
 * snprintf was 16 % of the service's CPU, most of it in writing the
 * answer to a batch (SPEC 4: the conflicts it opened, with the other
 * side's volumes).
 *
 * It is exact for the same reason: with v = m * 2^e (m < 2^53, e < 0)
 * and X the decimal exponent, the P digits are v * 10^(P-1-X) rounded,
 * that is m * 10^p / 2^-e with p = P-1-X <= 22, so m * 10^p < 2^53 *
 * 2^73.1 fits in 128 bits and the division is a shift whose remainder
 * decides the rounding: to nearest, ties to even, as glibc rounds in the
 * default rounding mode (the service never changes it). test_jtext
 * compares it with snprintf on millions of values, ties included. */
__extension__ typedef unsigned __int128 u128; /* GCC and clang */

static size_t exact_g(char *out, double v, int P)
{
    static const u128 TEN19 = 10000000000000000000ULL;
    static const uint64_t p10[20] = {1ULL,
                                     10ULL,
                                     100ULL,
                                     1000ULL,
                                     10000ULL,
                                     100000ULL,
                                     1000000ULL,
                                     10000000ULL,
                                     100000000ULL,
                                     1000000000ULL,
                                     10000000000ULL,
                                     100000000000ULL,
                                     1000000000000ULL,
                                     10000000000000ULL,
                                     100000000000000ULL,
                                     1000000000000000ULL,
                                     10000000000000000ULL,
                                     100000000000000000ULL,
                                     1000000000000000000ULL,
                                     10000000000000000000ULL};
    if (P < 1 || P > 17)
        return 0;
    double a = fabs(v);
    if (!(a >= 1e-6 && a < 4503599627370496.0)) /* also NaN */
        return 0;
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    uint64_t m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
    int shift = 1075 - (int)(bits >> 52); /* a = m / 2^shift; 1 <= shift <= 72 here */
    if (shift < 1 || shift > 126)
        return 0;
    int X = (int)floor(log10(a)); /* may be one off either way: checked below */
    uint64_t N = 0;
    for (int tries = 0;; tries++) {
        int p = P - 1 - X;
        if (tries > 2 || p < 0 || p > 22)
            return 0;
        u128 scale = p <= 19 ? (u128)p10[p] : TEN19 * p10[p - 19];
        u128 prod = (u128)m * scale;
        u128 q = prod >> shift;
        u128 r = prod - (q << shift);
        u128 half = (u128)1 << (shift - 1);
        if (q < p10[P - 1]) { /* a < 10^X */
            X--;
            continue;
        }
        if (q >= p10[P]) { /* a >= 10^(X+1) */
            X++;
            continue;
        }
        if (r > half || (r == half && (q & 1)))
            q++;
        if (q == p10[P]) { /* rounded up to 10^P: one digit, one decade up */
            q = p10[P - 1];
            X++;
        }
        N = (uint64_t)q;
        break;
    }
    char d[20];
    for (int i = P - 1; i >= 0; i--) {
        d[i] = (char)('0' + N % 10);
        N /= 10;
    }
    int nd = P; /* %g drops trailing zeros */
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    size_t o = 0;
    if (v < 0)
        out[o++] = '-';
    if (X < -4 || X >= P) {
        out[o++] = d[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, d + 1, (size_t)nd - 1);
            o += (size_t)nd - 1;
        }
        int ex = X < 0 ? -X : X;
        out[o++] = 'e';
        out[o++] = X < 0 ? '-' : '+';
        if (ex >= 100)
            out[o++] = (char)('0' + ex / 100);
        out[o++] = (char)('0' + ex / 10 % 10);
        out[o++] = (char)('0' + ex % 10);
    } else if (X >= 0) {
        for (int i = 0; i <= X; i++)
            out[o++] = i < nd ? d[i] : '0';
        if (nd > X + 1) {
            out[o++] = '.';
            memcpy(out + o, d + X + 1, (size_t)(nd - X - 1));
            o += (size_t)(nd - X - 1);
        }
    } else {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -X - 1; i++)
            out[o++] = '0';
        memcpy(out + o, d, (size_t)nd);
        o += (size_t)nd;
    }
    out[o] = 0;
    return o;
}

/* jtext_real: jansson's jsonp_dtostr (C locale: the service never calls
 * setlocale, so the decimal point is '.'). */
int jtext_real(jtext_buf *b, double v, int precision)
{
    char quick[40];
    size_t qn = short_decimal(quick, v, precision);
    if (qn) {
        jtext_add(b, quick, qn);
        if (!memchr(quick, '.', qn))
            jtext_add(b, ".0", 2);
        return 0;
    }
    char buf[100];
    size_t en = exact_g(buf, v, precision ? precision : 17);
    int ret = en ? (int)en : snprintf(buf, sizeof buf, "%.*g", precision ? precision : 17, v);
    if (ret < 0 || (size_t)ret >= sizeof buf - 3)
        return -1;
    size_t length = (size_t)ret;
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        buf[length++] = '.';
        buf[length++] = '0';
        buf[length] = 0;
    }
    char *start = strchr(buf, 'e');
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, length - (size_t)(end - buf));
            length -= (size_t)(end - start);
        }
    }
    jtext_add(b, buf, length);
    return 0;
}

/* ---- the subtree cache: direct-mapped on the pointer ---- */

typedef struct {
    const json_t *j; /* holds a reference */
    size_t flags;
    char *text;
    size_t len;
    long long ref; /* packed reference number, 0 until given one */
    unsigned long long used; /* for replacement: the cache's clock when last used */
} centry;

/* WAYS entries per set: a subtree can sit in any of its set's entries,
 * and the least recently used one makes room, so that two busy subtrees
 * hashing alike do not evict each other at every use. */
#define WAYS 4

struct jtext_cache {
    centry *slot;
    size_t nslots; /* power of two, a multiple of WAYS */
    size_t bytes, max_bytes;
    unsigned long long clock;
};

jtext_cache *jtext_cache_new(size_t max_entries, size_t max_bytes)
{
    jtext_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    size_t n = 4 * WAYS;
    while (n < max_entries)
        n *= 2;
    c->slot = calloc(n, sizeof *c->slot);
    if (!c->slot) {
        free(c);
        return NULL;
    }
    c->nslots = n;
    c->max_bytes = max_bytes;
    return c;
}

static void centry_drop(jtext_cache *c, centry *e)
{
    if (!e->j)
        return;
    c->bytes -= e->len;
    json_decref((json_t *)e->j);
    free(e->text);
    memset(e, 0, sizeof *e);
}

void jtext_cache_free(jtext_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nslots; i++)
        centry_drop(c, &c->slot[i]);
    free(c->slot);
    free(c);
}

size_t jtext_cache_set_refs(jtext_cache *c, long long (*ref_of)(void *ctx, const char *text,
                                                                size_t len),
                            void *ctx)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nslots; i++) {
        centry *e = &c->slot[i];
        if (e->j && !e->ref && (e->ref = ref_of(ctx, e->text, e->len)) > 0)
            n++;
    }
    return n;
}

/* cache_slot returns j's entry when cached, else the entry to replace in
 * its set. */
static centry *cache_slot(jtext_cache *c, const json_t *j)
{
    uint64_t h = (uint64_t)(uintptr_t)j;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    centry *set = &c->slot[(h & (c->nslots / WAYS - 1)) * WAYS], *victim = set;
    c->clock++;
    for (int i = 0; i < WAYS; i++) {
        if (set[i].j == j) {
            set[i].used = c->clock;
            return &set[i];
        }
        if (!set[i].j || (victim->j && set[i].used < victim->used))
            victim = &set[i];
    }
    return victim;
}

/* Subtrees worth caching: containers someone else also holds. A value
 * only this dump's caller holds is fresh and may be changed later. */
#define CACHE_MIN_TEXT 64

typedef struct {
    jtext_new_ref_fn new_ref;
    void *ctx;
} packing;

static int dump_rec(jtext_buf *b, const json_t *j, size_t flags, jtext_cache *cache,
                    const packing *pk, int depth);
static int dump_shared(jtext_buf *b, const json_t *j, size_t flags, jtext_cache *cache,
                       const packing *pk, int depth);

static int dump_container(jtext_buf *b, const json_t *j, size_t flags, jtext_cache *cache,
                          const packing *pk, int depth)
{
    if (depth > JTEXT_MAX_DEPTH)
        return -1;
    if (json_is_array(j)) {
        size_t n = json_array_size(j);
        jtext_add(b, "[", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                jtext_add(b, ",", 1);
            if (dump_rec(b, json_array_get(j, i), flags, cache, pk, depth + 1))
                return -1;
        }
        jtext_add(b, "]", 1);
        return b->oom ? -1 : 0;
    }
    size_t n = json_object_size(j);
    jtext_add(b, "{", 1);
    struct kv {
        const char *k;
        size_t len;
        json_t *v;
    } small[16], *kv = small;
    if (n > 16) {
        kv = malloc(n * sizeof *kv);
        if (!kv) {
            b->oom = 1;
            return -1;
        }
    }
    size_t i = 0;
    for (void *it = json_object_iter((json_t *)j); it && i < n;
         it = json_object_iter_next((json_t *)j, it), i++) {
        kv[i].k = json_object_iter_key(it);
        kv[i].len = json_object_iter_key_len(it);
        kv[i].v = json_object_iter_value(it);
    }
    n = i;
    /* insertion sort: objects here have a handful of keys */
    for (size_t a = 1; (flags & JSON_SORT_KEYS) && a < n; a++) {
        struct kv x = kv[a];
        size_t c = a;
        while (c > 0) {
            size_t m = kv[c - 1].len < x.len ? kv[c - 1].len : x.len;
            int r = memcmp(kv[c - 1].k, x.k, m);
            if (r < 0 || (r == 0 && kv[c - 1].len <= x.len))
                break;
            kv[c] = kv[c - 1];
            c--;
        }
        kv[c] = x;
    }
    int rc = 0;
    for (i = 0; i < n && rc == 0; i++) {
        if (i)
            jtext_add(b, ",", 1);
        jtext_string(b, kv[i].k, kv[i].len, flags);
        jtext_add(b, ":", 1);
        rc = dump_rec(b, kv[i].v, flags, cache, pk, depth + 1);
    }
    if (kv != small)
        free(kv);
    jtext_add(b, "}", 1);
    return rc || b->oom ? -1 : 0;
}

static void add_ref(jtext_buf *b, long long ref)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%c%lld%c", JTEXT_REF_OPEN, ref, JTEXT_REF_CLOSE);
    jtext_add(b, tmp, (size_t)n);
}

/* emit_cached writes a cache entry: its reference when packing (giving it
 * one first if need be), else its text. */
static void emit_cached(jtext_buf *b, centry *e, const packing *pk)
{
    if (pk && !e->ref)
        e->ref = pk->new_ref(pk->ctx, e->text, e->len);
    if (pk && e->ref > 0)
        add_ref(b, e->ref);
    else
        jtext_add(b, e->text, e->len);
}

static int dump_rec(jtext_buf *b, const json_t *j, size_t flags, jtext_cache *cache,
                    const packing *pk, int depth)
{
    if (!j)
        return -1;
    switch (json_typeof(j)) {
    case JSON_NULL: jtext_add(b, "null", 4); break;
    case JSON_TRUE: jtext_add(b, "true", 4); break;
    case JSON_FALSE: jtext_add(b, "false", 5); break;
    case JSON_INTEGER: jtext_int(b, json_integer_value(j)); break;
    case JSON_REAL:
        if (jtext_real(b, json_real_value(j), (int)((flags >> 11) & 0x1F)))
            return -1;
        break;
    case JSON_STRING: jtext_string(b, json_string_value(j), json_string_length(j), flags); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        if (!cache || j->refcount < 2)
            return dump_container(b, j, flags, cache, pk, depth);
        return dump_shared(b, j, flags, cache, pk, depth);
    default: return -1;
    }
    return b->oom ? -1 : 0;
}

/* dump_shared writes a container someone else also holds: from the cache,
 * or in full and then cached. */
static int dump_shared(jtext_buf *b, const json_t *j, size_t flags, jtext_cache *cache,
                       const packing *pk, int depth)
{
    centry *e = cache_slot(cache, j);
    if (e->j == j && e->flags == flags) {
        emit_cached(b, e, pk);
        return b->oom ? -1 : 0;
    }
    /* The subtree's full text (packing only applies at this level: a
     * cached subtree inside it is copied in full). */
    size_t start = b->len;
    if (dump_container(b, j, flags, cache, NULL, depth))
        return -1;
    size_t len = b->len - start;
    if (len >= CACHE_MIN_TEXT && cache->bytes + len <= cache->max_bytes) {
        char *text = malloc(len);
        if (text) {
            centry_drop(cache, e);
            memcpy(text, b->buf + start, len);
            e->j = json_incref((json_t *)j);
            e->flags = flags;
            e->text = text;
            e->len = len;
            e->ref = 0;
            e->used = cache->clock;
            cache->bytes += len;
            if (pk) {
                b->len = start;
                emit_cached(b, e, pk);
            }
        }
    }
    return b->oom ? -1 : 0;
}

int jtext_dump(jtext_buf *b, const json_t *j, size_t flags, jtext_cache *cache)
{
    return dump_rec(b, j, flags, cache, NULL, 0);
}

int jtext_dump_packed(jtext_buf *b, const json_t *j, size_t flags, jtext_cache *cache,
                      jtext_new_ref_fn new_ref, void *ctx)
{
    packing pk = {new_ref, ctx};
    return dump_rec(b, j, flags, cache, &pk, 0);
}

int jtext_dump_shared(jtext_buf *b, const json_t *j, size_t flags, jtext_cache *cache,
                      jtext_new_ref_fn new_ref, void *ctx, int depth)
{
    packing pk = {new_ref, ctx};
    const packing *pkp = new_ref ? &pk : NULL;
    if (cache && (json_is_object(j) || json_is_array(j)))
        return dump_shared(b, j, flags, cache, pkp, depth);
    return dump_rec(b, j, flags, cache, pkp, depth);
}

/* jansson's rules for the UTF-8 it accepts (RFC 3629): no continuation
 * byte first, no overlong form, no surrogate, nothing above U+10FFFF. */
int jtext_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t v, min;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            v = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            v = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            v = c & 0x07;
            min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            v = (v << 6) | (s[i + k] & 0x3F);
        }
        if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

const char *jtext_ref_read(const char *p, const char *end, long long *ref)
{
    long long v = 0;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9' && digits < 18) {
        v = v * 10 + (*p++ - '0');
        digits++;
    }
    if (!digits || p >= end || *p != JTEXT_REF_CLOSE)
        return NULL;
    *ref = v;
    return p + 1;
}

int jtext_unpack(jtext_buf *b, const char *text, size_t len, jtext_lookup_fn lookup, void *ctx)
{
    size_t i = 0;
    while (i < len) {
        const char *open = memchr(text + i, JTEXT_REF_OPEN, len - i);
        if (!open) {
            jtext_add(b, text + i, len - i);
            break;
        }
        jtext_add(b, text + i, (size_t)(open - (text + i)));
        long long ref;
        const char *next = jtext_ref_read(open + 1, text + len, &ref);
        if (!next)
            return -1;
        size_t n = 0;
        const char *sub = lookup(ctx, ref, &n);
        if (!sub)
            return -1;
        jtext_add(b, sub, n);
        i = (size_t)(next - text);
    }
    return b->oom ? -1 : 0;
}
