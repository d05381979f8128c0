/*
 * The attribute cache: getattr and "no xattrs here" answers kept by union path, so that a
 * repeated stat, lookup or getxattr is answered on the FUSE thread without the round trip into
 * JS (a thread handoff each way, most of an operation's cost: see BENCHMARKS.md).
 *
 * Freshness is by generation, not by time: one global counter, bumped before and after every
 * operation that may change what any path shows (the wrappers in persist_native.c) and by JS
 * whenever the daemon changes the union on its own (a flush, a discard, an atime a read moved).
 * An answer is stored under the generation read *before* JS computed it, so an answer that raced
 * with a change is stale the moment it is stored. A change known to touch one path only (a
 * listing moving its directory's atime) forgets just that path; an answer computed across such
 * a forget is not stored at all. Nothing is ever served across a change:
 * hard links, renames and daemon-side changes need no bookkeeping of their own.
 *
 * A chained hash table of at most CAPACITY paths; past that, the oldest entry makes room (FIFO:
 * a walk of the tree touches each path once, so recency buys little). Memory: the bucket and ring
 * arrays plus one small allocation per cached path, about 250 bytes.
 */
#define _GNU_SOURCE
#include "attr_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 65536 /* a power of two */
#define CAPACITY 49152

/* What a FUSE reply uses of a struct stat (st_dev is the kernel's own), in 84 bytes, not 144. */
typedef struct {
  uint64_t ino, size, blocks, rdev;
  int64_t atime, mtime, ctime;
  uint32_t atime_ns, mtime_ns, ctime_ns, mode, nlink, uid, gid, blksize;
} packed_stat;

static void pack(packed_stat *p, const struct stat *st) {
  *p = (packed_stat) {
    .ino = st->st_ino, .size = (uint64_t) st->st_size, .blocks = (uint64_t) st->st_blocks, .rdev = st->st_rdev,
    .atime = st->st_atim.tv_sec, .mtime = st->st_mtim.tv_sec, .ctime = st->st_ctim.tv_sec,
    .atime_ns = (uint32_t) st->st_atim.tv_nsec, .mtime_ns = (uint32_t) st->st_mtim.tv_nsec,
    .ctime_ns = (uint32_t) st->st_ctim.tv_nsec, .mode = st->st_mode, .nlink = (uint32_t) st->st_nlink,
    .uid = st->st_uid, .gid = st->st_gid, .blksize = (uint32_t) st->st_blksize,
  };
}

static void unpack(struct stat *st, const packed_stat *p) {
  memset(st, 0, sizeof *st);
  st->st_ino = p->ino;
  st->st_size = (off_t) p->size;
  st->st_blocks = (blkcnt_t) p->blocks;
  st->st_rdev = p->rdev;
  st->st_atim.tv_sec = p->atime;
  st->st_atim.tv_nsec = p->atime_ns;
  st->st_mtim.tv_sec = p->mtime;
  st->st_mtim.tv_nsec = p->mtime_ns;
  st->st_ctim.tv_sec = p->ctime;
  st->st_ctim.tv_nsec = p->ctime_ns;
  st->st_mode = p->mode;
  st->st_nlink = p->nlink;
  st->st_uid = p->uid;
  st->st_gid = p->gid;
  st->st_blksize = p->blksize;
}

typedef struct entry {
  struct entry *next; /* in its bucket */
  uint64_t hash;
  uint64_t stat_gen;  /* 0: no stat answer */
  uint64_t xattr_gen; /* 0: not known to have no xattrs */
  int stat_res;       /* 0 or -ENOENT */
  int stat_stable;    /* the answer's object changes only through us (kernel_cache.c) */
  packed_stat st;
  char path[]; /* NUL-terminated */
} entry_t;

static entry_t *buckets[BUCKETS];
static entry_t *ring[CAPACITY]; /* every entry, oldest at ring_head once full */
static size_t ring_head, ring_count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t generation = 1;
/* Bumped by attr_cache_forget(): an answer computed across a forget is not stored. */
static uint64_t forgets;
static int enabled = 1;
static attr_cache_counts counts;

/* FNV-1a */
static uint64_t hash_of(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char) *s) * 1099511628211ULL;
  return h;
}

void attr_cache_enable(int on) {
  enabled = on;
  attr_cache_bump();
}

static uint64_t current_generation(void) {
  return __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
}

attr_cache_stamp attr_cache_now(void) {
  attr_cache_stamp now = { current_generation(), __atomic_load_n(&forgets, __ATOMIC_ACQUIRE) };
  return now;
}

/* True when nothing was forgotten since `then` (lock held). */
static int still(attr_cache_stamp then) {
  return then.generation == current_generation() && then.forgets == __atomic_load_n(&forgets, __ATOMIC_ACQUIRE);
}


void attr_cache_bump(void) {
  __atomic_add_fetch(&generation, 1, __ATOMIC_ACQ_REL);
}

/* The entry for path if present (lock held). */
static entry_t *find(const char *path, uint64_t h) {
  for (entry_t *e = buckets[h & (BUCKETS - 1)]; e; e = e->next)
    if (e->hash == h && strcmp(e->path, path) == 0) return e;
  return NULL;
}

static void unlink_entry(entry_t *victim) {
  entry_t **link = &buckets[victim->hash & (BUCKETS - 1)];
  while (*link != victim) link = &(*link)->next;
  *link = victim->next;
  free(victim);
}

/* The entry for path, made if absent (lock held), evicting the oldest when full; NULL if out of memory. */
static entry_t *claim(const char *path, uint64_t h) {
  entry_t *e = find(path, h);
  if (e) return e;
  size_t len = strlen(path);
  e = malloc(sizeof *e + len + 1);
  if (!e) return NULL;
  e->hash = h;
  e->stat_gen = 0;
  e->xattr_gen = 0;
  memcpy(e->path, path, len + 1);
  if (ring_count == CAPACITY) {
    unlink_entry(ring[ring_head]);
    ring[ring_head] = e;
    ring_head = (ring_head + 1) % CAPACITY;
  } else {
    ring[(ring_head + ring_count++) % CAPACITY] = e;
  }
  entry_t **bucket = &buckets[h & (BUCKETS - 1)];
  e->next = *bucket;
  *bucket = e;
  return e;
}

void attr_cache_forget(const char *path) {
  uint64_t h = hash_of(path);
  pthread_mutex_lock(&lock);
  __atomic_add_fetch(&forgets, 1, __ATOMIC_ACQ_REL);
  entry_t *e = find(path, h);
  if (e) {
    e->stat_gen = 0;
    e->xattr_gen = 0;
  }
  pthread_mutex_unlock(&lock);
}

int attr_cache_unchanged_since(attr_cache_stamp then) {
  return still(then);
}

int attr_cache_get_stat(const char *path, struct stat *st, int *res, int *stable) {
  if (!enabled || !path) return 0;
  uint64_t h = hash_of(path), gen = current_generation();
  pthread_mutex_lock(&lock);
  entry_t *e = find(path, h);
  int hit = e && e->stat_gen == gen;
  if (hit) {
    *res = e->stat_res;
    *stable = e->stat_stable;
    if (e->stat_res == 0) unpack(st, &e->st);
    counts.stat_hits++;
  } else {
    counts.stat_misses++;
  }
  pthread_mutex_unlock(&lock);
  return hit;
}

void attr_cache_put_stat(const char *path, attr_cache_stamp then, int res, const struct stat *st, int stable) {
  if (!enabled || !path || (res != 0 && res != -ENOENT)) return;
  uint64_t h = hash_of(path), gen = then.generation;
  pthread_mutex_lock(&lock);
  if (still(then)) {
    entry_t *e = claim(path, h);
    if (e) {
      if (e->xattr_gen != gen) e->xattr_gen = 0;
      e->stat_gen = gen;
      e->stat_res = res;
      e->stat_stable = stable;
      if (res == 0) pack(&e->st, st);
    }
  }
  pthread_mutex_unlock(&lock);
}

int attr_cache_has_no_xattrs(const char *path) {
  if (!enabled || !path) return 0;
  uint64_t h = hash_of(path), gen = current_generation();
  pthread_mutex_lock(&lock);
  entry_t *e = find(path, h);
  int hit = e && e->xattr_gen == gen;
  if (hit) counts.xattr_hits++;
  else counts.xattr_misses++;
  pthread_mutex_unlock(&lock);
  return hit;
}

void attr_cache_put_no_xattrs(const char *path, attr_cache_stamp then) {
  if (!enabled || !path) return;
  uint64_t h = hash_of(path), gen = then.generation;
  pthread_mutex_lock(&lock);
  if (still(then)) {
    entry_t *e = claim(path, h);
    if (e) {
      if (e->stat_gen != gen) e->stat_gen = 0;
      e->xattr_gen = gen;
    }
  }
  pthread_mutex_unlock(&lock);
}

attr_cache_counts attr_cache_stats(void) {
  pthread_mutex_lock(&lock);
  attr_cache_counts c = counts;
  pthread_mutex_unlock(&lock);
  c.generation = current_generation();
  return c;
}
