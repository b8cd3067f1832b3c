/* hmap: open-addressing hash map from NUL-terminated string keys to
 * pointers. A map stores no keys: each value carries its own, which the
 * map reads with key_of (the engine's objects hold their "OWNER/ID" key,
 * parties and conflicts their id). That saves a pointer per slot: at
 * least 10 bytes per unit at the map's load of at most 4/5. */
#ifndef DC_HMAP_H
#define DC_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef const char *(*hmap_key_fn)(const void *val);

typedef struct {
    void **vals;      /* NULL: empty slot; a private marker: deleted */
    unsigned *hashes; /* low 32 bits of each key's hash: most probes end here */
    size_t cap, n, tomb;
    hmap_key_fn key_of;
} hmap;

void hmap_init(hmap *m, hmap_key_fn key_of);
void hmap_free(hmap *m);
/* hmap_get returns the value for key, or NULL. */
void *hmap_get(const hmap *m, const char *key);
/* hmap_put sets val under its key, key_of(val) (replacing a value with
 * the same key). Returns 0, or -1 when out of memory (the map is
 * unchanged). */
int hmap_put(hmap *m, void *val);
/* hmap_del removes key; returns the old value or NULL. */
void *hmap_del(hmap *m, const char *key);

/* Split lookups, for callers that look up many keys in a row and prefetch
 * (engine ingest.c): hmap_hash hashes key; hmap_prefetch asks the CPU to
 * start loading the slot where the probe for hash h starts; hmap_peek
 * returns the first value on that probe whose stored hash matches h (a
 * hint to prefetch: it may hold another key), or NULL; hmap_get_h is
 * hmap_get with h = hmap_hash(key) given. */
uint64_t hmap_hash(const char *key);
void hmap_prefetch(const hmap *m, uint64_t h);
void *hmap_peek(const hmap *m, uint64_t h);
void *hmap_get_h(const hmap *m, const char *key, uint64_t h);

/* hmap_at returns the value in slot i (i < cap), or NULL for an empty or
 * deleted slot: for walking every value. */
void *hmap_at(const hmap *m, size_t i);

#endif
