/* hmap: open-addressing hash map from NUL-terminated string keys to
 * pointers. Keys are borrowed: they must live as long as their entry
 * (the engine points them at the owning object's own strings). */
#ifndef DC_HMAP_H
#define DC_HMAP_H

#include <stddef.h>

typedef struct {
    const char **keys;
    void **vals;
    unsigned *hashes; /* low 32 bits of each key's hash: most probes end here */
    size_t cap, n, tomb;
} hmap;

void hmap_init(hmap *m);
void hmap_free(hmap *m);
/* hmap_get returns the value for key, or NULL. */
void *hmap_get(const hmap *m, const char *key);
/* hmap_put sets key to val (replacing). Returns 0, or -1 when out of
 * memory (the map is unchanged). */
int hmap_put(hmap *m, const char *key, void *val);
/* hmap_del removes key; returns the old value or NULL. */
void *hmap_del(hmap *m, const char *key);

#endif
