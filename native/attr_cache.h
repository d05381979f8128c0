/* The attribute cache of attr_cache.c: answers by union path, fresh by generation. */
#ifndef PERSIST_ATTR_CACHE_H
#define PERSIST_ATTR_CACHE_H
#include <stdint.h>
#include <sys/stat.h>

typedef struct {
  uint64_t stat_hits, stat_misses, xattr_hits, xattr_misses, generation;
} attr_cache_counts;

/* Turns the cache on or off (off: every answer comes from JS, for A/B runs and tests). */
void attr_cache_enable(int on);
/* Read before asking JS; the answer is stored only if nothing changed since. */
typedef struct {
  uint64_t generation, forgets;
} attr_cache_stamp;
attr_cache_stamp attr_cache_now(void);
/* Something may have changed what a path shows: forget every answer. */
void attr_cache_bump(void);
/* What `path` shows changed, and nothing else did (its atime, say). */
void attr_cache_forget(const char *path);
/* True when nothing changed since `then`. */
int attr_cache_unchanged_since(attr_cache_stamp then);
/* 1 and the stored answer (res 0 with st, or -ENOENT; `stable` as JS said) when fresh; 0 on a miss. */
int attr_cache_get_stat(const char *path, struct stat *st, int *res, int *stable);
void attr_cache_put_stat(const char *path, attr_cache_stamp then, int res, const struct stat *st, int stable);
/* 1 when path is known to hold no extended attributes at all. */
int attr_cache_has_no_xattrs(const char *path);
void attr_cache_put_no_xattrs(const char *path, attr_cache_stamp then);
attr_cache_counts attr_cache_stats(void);
#endif
