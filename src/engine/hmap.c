/* hmap: linear probing with tombstones, FNV-1a hashing, load <= 4/5.
 *
 * Why 4/5 and not 1/2: the unit map is the engine's largest table (one
 * slot per unit), and each slot is 12 bytes. At 1/2 it cost 31.5 bytes per
 * unit at 100k units, plus the freed smaller table; at 4/5, 15.7. A probe
 * reads the 32-bit hashes first, so the longer runs (about 3 slots for a
 * hit at 4/5) stay within a cache line or two. */
#include "hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char tomb_marker;
#define TOMB ((void *)&tomb_marker)

/* Do not change this function, or the growth policy below, lightly: the
 * slot order is observable. dc_advance walks operations and sites in slot
 * order, so the order in which their conflicts resolve, and so the event
 * sequence numbers each party receives, follow it. A restart replays a log
 * with the same code and gets the same order; with another hash it would
 * re-derive events in another order and report stored events as differing. */
static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

void hmap_init(hmap *m, hmap_key_fn key_of)
{
    memset(m, 0, sizeof *m);
    m->key_of = key_of;
}

void hmap_free(hmap *m)
{
    hmap_key_fn key_of = m->key_of;
    free(m->vals);
    free(m->hashes);
    memset(m, 0, sizeof *m);
    m->key_of = key_of;
}

void *hmap_at(const hmap *m, size_t i)
{
    void *v = m->vals[i];
    return v == TOMB ? NULL : v;
}

static size_t find(const hmap *m, const char *key, uint64_t h)
{
    size_t mask = m->cap - 1, i = h & mask;
    for (;;) {
        void *v = m->vals[i];
        if (!v)
            return (size_t)-1;
        if (m->hashes[i] == (unsigned)h && v != TOMB && strcmp(m->key_of(v), key) == 0)
            return i;
        i = (i + 1) & mask;
    }
}


uint64_t hmap_hash(const char *key)
{
    return hash(key);
}

void hmap_prefetch(const hmap *m, uint64_t h)
{
    if (!m->cap)
        return;
    size_t i = h & (m->cap - 1);
    __builtin_prefetch(&m->hashes[i]);
    __builtin_prefetch(&m->vals[i]);
}

void *hmap_peek(const hmap *m, uint64_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1, i = h & mask;
    for (void *v; (v = m->vals[i]); i = (i + 1) & mask)
        if (m->hashes[i] == (unsigned)h && v != TOMB)
            return v;
    return NULL;
}

void *hmap_get_h(const hmap *m, const char *key, uint64_t h)
{
    if (!m->cap)
        return NULL;
    size_t i = find(m, key, h);
    return i == (size_t)-1 ? NULL : m->vals[i];
}

void *hmap_get(const hmap *m, const char *key)
{
    return hmap_get_h(m, key, hash(key));
}

static int grow(hmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    if ((m->n + 1) * 5 <= m->cap * 2)
        cap = m->cap; /* at most 2/5 live: clearing the tombstones is enough */
    if (cap > ((size_t)1 << 32))
        return -1; /* slots are placed by the stored 32-bit hashes */
    void **vals = calloc(cap, sizeof *vals);
    unsigned *hashes = calloc(cap, sizeof *hashes);
    if (!vals || !hashes) {
        free(vals);
        free(hashes);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        void *v = m->vals[i];
        if (!v || v == TOMB)
            continue;
        size_t j = m->hashes[i] & (cap - 1); /* cap <= 2^32: the low bits suffice */
        while (vals[j])
            j = (j + 1) & (cap - 1);
        vals[j] = v;
        hashes[j] = m->hashes[i];
    }
    free(m->vals);
    free(m->hashes);
    m->vals = vals;
    m->hashes = hashes;
    m->cap = cap;
    m->tomb = 0;
    return 0;
}

int hmap_put(hmap *m, void *val)
{
    const char *key = m->key_of(val);
    uint64_t h = hash(key);
    if (m->cap) {
        size_t i = find(m, key, h);
        if (i != (size_t)-1) {
            m->vals[i] = val;
            return 0;
        }
    }
    if ((m->n + m->tomb + 1) * 5 > m->cap * 4 && grow(m))
        return -1;
    size_t mask = m->cap - 1, i = h & mask;
    while (m->vals[i] && m->vals[i] != TOMB)
        i = (i + 1) & mask;
    if (m->vals[i] == TOMB)
        m->tomb--;
    m->vals[i] = val;
    m->hashes[i] = (unsigned)h;
    m->n++;
    return 0;
}

void *hmap_del(hmap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t i = find(m, key, hash(key));
    if (i == (size_t)-1)
        return NULL;
    void *v = m->vals[i];
    m->vals[i] = TOMB;
    m->n--;
    m->tomb++;
    return v;
}
