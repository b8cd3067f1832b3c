/* jtext: compact JSON text from jansson values, byte for byte what
 * json_dumps(j, JSON_COMPACT | flags) gives (flags: JSON_SORT_KEYS,
 * JSON_ENSURE_ASCII, JSON_REAL_PRECISION), but into a growing buffer the
 * caller reuses, and with an optional cache of the text of shared,
 * immutable subtrees.
 *
 * Why: event bodies embed the other side's geometry (an operation's
 * polygons, twice), and formatting their coordinates was most of the cost
 * of a position batch. Engine geometries are deep copies that are never
 * changed once stored, and every view of them shares the same json_t
 * (refcount > 1); the cache keeps a reference to each one it has text for,
 * so the pointer cannot be freed and reused while its text is cached.
 *
 * Threading: a jtext_buf belongs to one thread; a jtext_cache must be used
 * under the lock that serialises its users (svc: the engine mutex). */
#ifndef DC_JTEXT_H
#define DC_JTEXT_H

#include <jansson.h>
#include <stddef.h>

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} jtext_buf;

/* jtext_add appends n bytes; jtext_adds a NUL-terminated string. On out of
 * memory they set b->oom and append nothing more. */
void jtext_add(jtext_buf *b, const char *s, size_t n);
void jtext_adds(jtext_buf *b, const char *s);
/* jtext_string appends s (n bytes of UTF-8) as a JSON string literal. */
void jtext_string(jtext_buf *b, const char *s, size_t n, size_t flags);
/* jtext_int appends v as jansson writes an integer; jtext_real appends v as
 * jansson writes a real with JSON_REAL_PRECISION(precision) (0: 17
 * digits), v finite. jtext_real returns 0, or -1 when v cannot be written. */
void jtext_int(jtext_buf *b, json_int_t v);
int jtext_real(jtext_buf *b, double v, int precision);
/* jtext_utf8_valid returns 1 when s[0..n) is UTF-8 that jansson accepts in
 * a string (json_stringn gives NULL otherwise), else 0. */
int jtext_utf8_valid(const char *s, size_t n);
/* jtext_take returns the text as a malloc'd NUL-terminated string (the
 * buffer is left empty), or NULL on out of memory. */
char *jtext_take(jtext_buf *b);
void jtext_free(jtext_buf *b);

typedef struct jtext_cache jtext_cache;

/* jtext_cache_new returns a cache of at most max_entries subtrees and
 * max_bytes of text (least recently added are dropped first), or NULL. */
jtext_cache *jtext_cache_new(size_t max_entries, size_t max_bytes);
void jtext_cache_free(jtext_cache *c);

/* jtext_dump appends the text of j (an object or array, or any value) to
 * b. cache may be NULL. Returns 0, or -1 on out of memory (b->oom). */
int jtext_dump(jtext_buf *b, const json_t *j, size_t flags, jtext_cache *cache);

/* Packed text: what the store keeps for an event body. Each cached
 * subtree is written as JTEXT_REF_OPEN, its reference number in decimal,
 * JTEXT_REF_CLOSE (control bytes never found raw in JSON text), instead of
 * its text. A subtree gets its number the first time it is written so:
 * jtext_dump_packed calls new_ref(ctx, text, len), which stores the text
 * under a fresh number and returns it (or 0: then the text is written in
 * full). jtext_unpack turns packed text back into the full text. */
#define JTEXT_REF_OPEN '\x01'
#define JTEXT_REF_CLOSE '\x02'
typedef long long (*jtext_new_ref_fn)(void *ctx, const char *text, size_t len);
int jtext_dump_packed(jtext_buf *b, const json_t *j, size_t flags, jtext_cache *cache,
                      jtext_new_ref_fn new_ref, void *ctx);

/* jtext_cache_set_refs gives each cached subtree that has no reference
 * number yet the one ref_of(ctx, text, len) returns for its text (0:
 * none). A restart writes the events it re-derives in full, so its cache
 * holds no numbers; this finds the texts stored before, rather than
 * storing each again at its next use. Returns how many got one. */
size_t jtext_cache_set_refs(jtext_cache *c, long long (*ref_of)(void *ctx, const char *text,
                                                                size_t len),
                            void *ctx);

/* jtext_dump_shared appends j as jtext_dump (new_ref NULL) or
 * jtext_dump_packed (new_ref given) write it where it sits in a larger
 * value that holds a reference to it besides its owner's (refcount >= 2:
 * cached and packed as a shared subtree, whatever j's own refcount is),
 * at nesting depth `depth` of that larger value. For writers of a
 * value's text that do not build the value itself (evbody.c). Returns 0,
 * or -1 as jtext_dump. */
int jtext_dump_shared(jtext_buf *b, const json_t *j, size_t flags, jtext_cache *cache,
                      jtext_new_ref_fn new_ref, void *ctx, int depth);

/* jtext_unpack appends text with every reference replaced by the text
 * lookup(ctx, ref) gives (NULL: an unknown reference, an error). Returns 0
 * or -1 (unknown reference, or out of memory). */
typedef const char *(*jtext_lookup_fn)(void *ctx, long long ref, size_t *len);
int jtext_unpack(jtext_buf *b, const char *text, size_t len, jtext_lookup_fn lookup, void *ctx);
/* jtext_ref_read reads the reference number that follows a JTEXT_REF_OPEN
 * (p points just after it; end is the end of the packed text): sets *ref
 * and returns the position after its JTEXT_REF_CLOSE, or NULL when the
 * reference is malformed. */
const char *jtext_ref_read(const char *p, const char *end, long long *ref);

#endif
