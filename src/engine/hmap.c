/* hmap: linear probing with tombstones, FNV-1a hashing, load <= 1/2. */
#include "hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char TOMB[] = "";

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

void hmap_init(hmap *m)
{
    memset(m, 0, sizeof *m);
}

void hmap_free(hmap *m)
{
    free(m->keys);
    free(m->vals);
    free(m->hashes);
    memset(m, 0, sizeof *m);
}

static size_t find(const hmap *m, const char *key)
{
    uint64_t h = hash(key);
    size_t mask = m->cap - 1, i = h & mask;
    for (;;) {
        const char *k = m->keys[i];
        if (!k)
            return (size_t)-1;
        if (m->hashes[i] == (unsigned)h && k != TOMB && strcmp(k, key) == 0)
            return i;
        i = (i + 1) & mask;
    }
}

void *hmap_get(const hmap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t i = find(m, key);
    return i == (size_t)-1 ? NULL : m->vals[i];
}

static int grow(hmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    if ((m->n + 1) * 2 <= m->cap)
        cap = m->cap; /* only tombstones to clear */
    if (cap > ((size_t)1 << 32))
        return -1; /* slots are placed by the stored 32-bit hashes */
    const char **keys = calloc(cap, sizeof *keys);
    void **vals = calloc(cap, sizeof *vals);
    unsigned *hashes = calloc(cap, sizeof *hashes);
    if (!keys || !vals || !hashes) {
        free(keys);
        free(vals);
        free(hashes);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        const char *k = m->keys[i];
        if (!k || k == TOMB)
            continue;
        size_t j = m->hashes[i] & (cap - 1); /* cap <= 2^32: the low bits suffice */
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = k;
        vals[j] = m->vals[i];
        hashes[j] = m->hashes[i];
    }
    free(m->keys);
    free(m->vals);
    free(m->hashes);
    m->keys = keys;
    m->vals = vals;
    m->hashes = hashes;
    m->cap = cap;
    m->tomb = 0;
    return 0;
}

int hmap_put(hmap *m, const char *key, void *val)
{
    if (m->cap) {
        size_t i = find(m, key);
        if (i != (size_t)-1) {
            m->vals[i] = val;
            m->keys[i] = key;
            return 0;
        }
    }
    if ((m->n + m->tomb + 1) * 2 > m->cap && grow(m))
        return -1;
    uint64_t h = hash(key);
    size_t mask = m->cap - 1, i = h & mask;
    while (m->keys[i] && m->keys[i] != TOMB)
        i = (i + 1) & mask;
    if (m->keys[i] == TOMB)
        m->tomb--;
    m->keys[i] = key;
    m->vals[i] = val;
    m->hashes[i] = (unsigned)h;
    m->n++;
    return 0;
}

void *hmap_del(hmap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t i = find(m, key);
    if (i == (size_t)-1)
        return NULL;
    void *v = m->vals[i];
    m->keys[i] = TOMB;
    m->vals[i] = NULL;
    m->n--;
    m->tomb++;
    return v;
}
