/*
 * Kernel attribute caching for what only changes through us: lookups of directories and of
 * files shown from a read-only lower reply with a long attr_timeout, so a repeated stat or path
 * walk never reaches the daemon. Everything else keeps attr_timeout=0 (a hard link written
 * through another name must show at once: the high-level API gives each name its own node).
 *
 * Such an object's attributes change without the kernel knowing in three ways only, and each
 * tells the kernel (fuse_lowlevel_notify_inval_inode, attributes only):
 * - a copy-up (of the object, or into a directory: its ctime), and an xattr change (a POSIX ACL
 *   carries the mode): kernel_cache_forget_ino();
 * - a change of the layer stack (a flush, a discard, a revert): kernel_cache_forget_dirs(), since
 *   a directory may now come from another layer (lower files do not: they are below it all).
 * Changes the kernel makes itself (chmod, a create in a directory, an atime moved by a listing)
 * it invalidates itself.
 *
 * The node ids come from the lookup replies (fuse_reply_entry, interposed in persist_native.c):
 * a lookup reply gets the long timeout only once its node is recorded here, a getattr reply
 * (fuse_reply_attr, which names no node) only for an object with one name whose node is. A
 * reply computed before a change and sent after it would plant a stale answer, so replies and
 * forgets are serialized by one lock and a reply checks, under it, that the attribute cache's
 * generation did not move since its answer was computed (every change bumps it first).
 */
#define _GNU_SOURCE
#include "kernel_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define BUCKETS 65536 /* a power of two */
#define CAPACITY 65536 /* ~2.5 MiB; when full, the kernel is told to forget them all */

typedef struct node {
  struct node *next;
  uint64_t ino;    /* the union's inode number */
  uint64_t nodeid; /* libfuse's node id: what notify_inval_inode names */
  int is_dir;
} node_t;

static node_t *buckets[BUCKETS];
static size_t count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void kernel_cache_lock(void) {
  pthread_mutex_lock(&lock);
}

void kernel_cache_unlock(void) {
  pthread_mutex_unlock(&lock);
}

static node_t **bucket_of(uint64_t ino) {
  return &buckets[(ino * 0x9E3779B97F4A7C15ULL) >> 48 & (BUCKETS - 1)];
}

static void forget_where(int dirs_only, kernel_cache_notify_fn inval, void *chan);

int kernel_cache_known(uint64_t ino) {
  for (node_t *n = *bucket_of(ino); n; n = n->next)
    if (n->ino == ino) return 1;
  return 0;
}

int kernel_cache_record(uint64_t ino, uint64_t nodeid, int is_dir, kernel_cache_notify_fn inval, void *chan) {
  node_t **bucket = bucket_of(ino);
  for (node_t *n = *bucket; n; n = n->next)
    if (n->ino == ino && n->nodeid == nodeid) return 1;
  /* Nodes the kernel forgot are never reported: start over rather than grow. */
  if (count >= CAPACITY) forget_where(0, inval, chan);
  node_t *n = malloc(sizeof *n);
  if (!n) return 0;
  n->ino = ino;
  n->nodeid = nodeid;
  n->is_dir = is_dir;
  n->next = *bucket;
  *bucket = n;
  count++;
  return 1;
}

/* Tells the kernel to forget `n`'s attributes; 1 when the record should go. It stays while the
   kernel holds the node (a later answer for it may be kept again), and goes once the kernel has
   forgotten the node (ENOENT), when there is no session, or when `drop` says so. */
static int notify_and_drop(const node_t *n, kernel_cache_notify_fn inval, void *chan, int drop) {
  if (!chan) return 1;
  return inval(chan, n->nodeid) == -ENOENT || drop;
}

/* Visits the records of one bucket (`ino` set) or all (`ino` 0: `dirs_only` or every one). */
static void forget_in(node_t **link, uint64_t ino, int dirs_only, kernel_cache_notify_fn inval, void *chan) {
  while (*link) {
    node_t *n = *link;
    int mine = ino ? n->ino == ino : (!dirs_only || n->is_dir);
    if (mine && notify_and_drop(n, inval, chan, !ino && !dirs_only)) {
      *link = n->next;
      free(n);
      count--;
    } else {
      link = &n->next;
    }
  }
}

void kernel_cache_forget_ino(uint64_t ino, kernel_cache_notify_fn inval, void *chan) {
  forget_in(bucket_of(ino), ino, 0, inval, chan);
}

static void forget_where(int dirs_only, kernel_cache_notify_fn inval, void *chan) {
  for (size_t b = 0; b < BUCKETS; b++) forget_in(&buckets[b], 0, dirs_only, inval, chan);
}

void kernel_cache_forget_dirs(kernel_cache_notify_fn inval, void *chan) {
  forget_where(1, inval, chan);
}

size_t kernel_cache_count(void) {
  return count;
}
