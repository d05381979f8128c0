/*
 * persist_native: the few system calls Node.js lacks, and a thin interposer over fuse-native.
 *
 * fuse-native (FUSE 2 high-level API) drops facts a root filesystem needs: the caller's uid/gid
 * (new files must belong to the caller), create() flags, utimens' mtime and nanoseconds, 64-bit
 * inode numbers and nanosecond stat times. This module is loaded with RTLD_GLOBAL before
 * fuse-native, so fuse-native's call to fuse_new() lands here first. We wrap every operation:
 * the wrapper publishes the request's missing facts in a shared array that JS reads, calls
 * fuse-native's operation, and then applies JS's extra reply (inode, nanoseconds) to the stat.
 *
 * libfuse serves requests on several threads (fuse_loop_mt), and fuse-native gives each thread
 * its own semaphore, so several requests may be in JS at once: JS handles them on one thread,
 * but one may wait (a write held by backpressure, an fsync waiting for a flush) while others are
 * answered. The shared slots hold one request's facts, so a mutex covers only the operations
 * whose JS handler reads or writes them (LOCKED below); the JS handlers of those answer
 * synchronously, so the lock is held only for the moment JS needs. Every other operation
 * (PLAIN) neither takes the lock nor touches the slots, and may wait in JS as long as it likes
 * without holding anyone else. A JS handler that reads the slots must be LOCKED and must read
 * them before it returns; one that may wait must be PLAIN.
 *
 * fuse_loop_mt() is wrapped too: when the kernel ends the session (umount, fusermount -u, the
 * last user of a lazily unmounted mount gone), the loop returns and JS is told through a
 * threadsafe function, so the daemon can flush and exit like every libfuse daemon.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 29
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <node_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "attr_cache.h"
#include "kernel_cache.h"

/* Slots of the shared Float64Array; keep in sync with src/fuse/native.ts. */
enum {
  S_UID, S_GID, S_PID, S_UMASK, S_FLAGS, S_FH,
  S_ATIME_SEC, S_ATIME_NSEC, S_MTIME_SEC, S_MTIME_NSEC,
  R_VALID, R_INO, R_ATIME_SEC, R_ATIME_NSEC, R_MTIME_SEC, R_MTIME_NSEC, R_CTIME_SEC, R_CTIME_NSEC,
  R_SIZE, R_BLOCKS,
  /* Set by JS: this getattr's answer (or ENOENT) may be cached; this path holds no xattrs;
     the object changes only through us (the kernel may cache it: kernel_cache.c). */
  R_CACHEABLE, R_NO_XATTRS, R_STABLE,
  SLOT_COUNT
};

static double side[SLOT_COUNT];
static pthread_mutex_t op_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fuse_operations orig;
static int interpose_enabled = 0;

typedef struct fuse *(*fuse_new_fn)(struct fuse_chan *, struct fuse_args *,
                                     const struct fuse_operations *, size_t, void *);
typedef struct fuse_context *(*fuse_get_context_fn)(void);
typedef int (*fuse_loop_mt_fn)(struct fuse *);
static fuse_new_fn real_fuse_new;
static fuse_get_context_fn real_get_context;
static fuse_loop_mt_fn real_fuse_loop_mt;
/* The low-level notify calls (invalidate() below). */
typedef int (*notify_inval_inode_fn)(struct fuse_chan *, fuse_ino_t, off_t, off_t);
typedef int (*notify_inval_entry_fn)(struct fuse_chan *, fuse_ino_t, const char *, size_t);
static notify_inval_inode_fn real_inval_inode;
static notify_inval_entry_fn real_inval_entry;
typedef int (*reply_entry_fn)(fuse_req_t, const struct fuse_entry_param *);
typedef int (*reply_attr_fn)(fuse_req_t, const struct stat *, double);
static reply_entry_fn real_reply_entry;
static reply_attr_fn real_reply_attr;

static int resolve_libfuse(void) {
  if (real_fuse_new && real_get_context && real_fuse_loop_mt) return 0;
  void *lib = dlopen("libfuse.so.2", RTLD_NOW);
  if (!lib) return -1;
  real_fuse_new = (fuse_new_fn) dlvsym(lib, "fuse_new", "FUSE_2.6");
  real_get_context = (fuse_get_context_fn) dlvsym(lib, "fuse_get_context", "FUSE_2.8");
  real_fuse_loop_mt = (fuse_loop_mt_fn) dlvsym(lib, "fuse_loop_mt", "FUSE_2.2");
  real_inval_inode = (notify_inval_inode_fn) dlvsym(lib, "fuse_lowlevel_notify_inval_inode", "FUSE_2.8");
  real_inval_entry = (notify_inval_entry_fn) dlvsym(lib, "fuse_lowlevel_notify_inval_entry", "FUSE_2.8");
  real_reply_entry = (reply_entry_fn) dlvsym(lib, "fuse_reply_entry", "FUSE_2.4");
  real_reply_attr = (reply_attr_fn) dlvsym(lib, "fuse_reply_attr", "FUSE_2.4");
  return real_fuse_new && real_get_context && real_fuse_loop_mt && real_reply_entry && real_reply_attr ? 0 : -1;
}

/* The session whose end JS waits for (the one fuse_new made with our wrappers), and how JS is
   told: a threadsafe function registered by onSessionEnd(). Guarded by session_lock. */
static pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fuse *wrapped_fuse;
static struct fuse_chan *wrapped_chan;
static napi_threadsafe_function session_end;

static void begin(void) {
  pthread_mutex_lock(&op_lock);
  struct fuse_context *c = real_get_context();
  side[S_UID] = c->uid;
  side[S_GID] = c->gid;
  side[S_PID] = c->pid;
  side[S_UMASK] = c->umask;
  side[S_FLAGS] = 0;
  side[S_FH] = 0;
  side[R_VALID] = 0;
  side[R_CACHEABLE] = 0;
  side[R_NO_XATTRS] = 0;
  side[R_STABLE] = 0;
}

static int end(int res) {
  pthread_mutex_unlock(&op_lock);
  return res;
}

/* Open-but-unlinked files reach us with a NULL path (hard_remove + nullpath_ok); fuse-native
   cannot turn NULL into a JS string, so it gets "" and JS works from the file handle. */
#define P(path) ((path) ? (path) : "")

static void apply_stat_reply(int res, struct stat *st) {
  if (res != 0 || side[R_VALID] == 0) return;
  st->st_ino = (ino_t) side[R_INO];
  st->st_atim.tv_sec = (time_t) side[R_ATIME_SEC];
  st->st_atim.tv_nsec = (long) side[R_ATIME_NSEC];
  st->st_mtim.tv_sec = (time_t) side[R_MTIME_SEC];
  st->st_mtim.tv_nsec = (long) side[R_MTIME_NSEC];
  st->st_ctim.tv_sec = (time_t) side[R_CTIME_SEC];
  st->st_ctim.tv_nsec = (long) side[R_CTIME_NSEC];
  st->st_size = (off_t) side[R_SIZE];
  st->st_blocks = (blkcnt_t) side[R_BLOCKS];
}

static void note_fi(struct fuse_file_info *fi) {
  if (!fi) return;
  side[S_FLAGS] = fi->flags;
  side[S_FH] = (double) fi->fh;
}

/* What the last getattr on this thread said, for the lookup reply that libfuse sends right
   after it (persist_fuse_reply_entry). */
static __thread struct {
  int stable;
  int root;
  uint64_t ino;
  attr_cache_stamp stamp;
} last_getattr;

/* getattr also serves every LOOKUP of the high-level API: a hit answers both without JS. */
static int w_getattr(const char *path, struct stat *st) {
  int res, stable = 0;
  attr_cache_stamp gen = attr_cache_now();
  if (!attr_cache_get_stat(path, st, &res, &stable)) {
    begin();
    res = orig.getattr(P(path), st);
    apply_stat_reply(res, st);
    int cacheable = side[R_CACHEABLE] != 0;
    stable = side[R_STABLE] != 0;
    end(res);
    if (cacheable) attr_cache_put_stat(path, gen, res, st, stable);
  }
  last_getattr.stable = res == 0 && stable;
  last_getattr.root = path && strcmp(path, "/") == 0;
  last_getattr.ino = res == 0 ? (uint64_t) st->st_ino : 0;
  last_getattr.stamp = gen;
  return res;
}

static int w_getxattr(const char *path, const char *name, char *value, size_t size) {
  if (attr_cache_has_no_xattrs(path)) return -ENODATA;
  attr_cache_stamp gen = attr_cache_now();
  begin();
  int res = orig.getxattr(P(path), name, value, size);
  int none = side[R_NO_XATTRS] != 0;
  end(res);
  if (none) attr_cache_put_no_xattrs(path, gen);
  return res;
}

static int w_listxattr(const char *path, char *list, size_t size) {
  if (attr_cache_has_no_xattrs(path)) return 0;
  attr_cache_stamp gen = attr_cache_now();
  begin();
  int res = orig.listxattr(P(path), list, size);
  int none = side[R_NO_XATTRS] != 0;
  end(res);
  if (none) attr_cache_put_no_xattrs(path, gen);
  return res;
}

static int w_fgetattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  last_getattr.stable = 0; /* an answer from a descriptor: not one kernel_cache.c may keep */
  begin();
  note_fi(fi);
  int res = orig.fgetattr(P(path), st, fi);
  apply_stat_reply(res, st);
  return end(res);
}

static int w_utimens(const char *path, const struct timespec tv[2]) {
  attr_cache_bump();
  begin();
  side[S_ATIME_SEC] = (double) tv[0].tv_sec;
  side[S_ATIME_NSEC] = (double) tv[0].tv_nsec;
  side[S_MTIME_SEC] = (double) tv[1].tv_sec;
  side[S_MTIME_NSEC] = (double) tv[1].tv_nsec;
  int res = orig.utimens(P(path), tv);
  attr_cache_bump();
  return end(res);
}

/* LOCKED: the JS handler reads the caller (and for create its flags) from the slots.
   CHANGING: the operation may change what some path shows, so the attribute cache forgets
   everything before it reaches JS and again once it is done (see attr_cache.c). */
#define LOCKED_CHANGING(name, params, args) \
  static int w_##name params { attr_cache_bump(); begin(); int r = orig.name args; attr_cache_bump(); return end(r); }
#define LOCKED_FI_CHANGING(name, params, args, fi) \
  static int w_##name params { attr_cache_bump(); begin(); note_fi(fi); int r = orig.name args; attr_cache_bump(); return end(r); }
/* PLAIN: the JS handler needs nothing from the slots; no lock, no slot written. write and fsync
   are here on purpose: they may wait in JS (backpressure, an honoured fsync) for seconds.
   Reads, readlink and readdir may move an atime on the writable layer: JS bumps for those. */
#define PLAIN(name, params, args) \
  static int w_##name params { return orig.name args; }
#define PLAIN_CHANGING(name, params, args) \
  static int w_##name params { attr_cache_bump(); int r = orig.name args; attr_cache_bump(); return r; }

LOCKED_CHANGING(mknod, (const char *p, mode_t m, dev_t d), (P(p), m, d))
LOCKED_CHANGING(mkdir, (const char *p, mode_t m), (P(p), m))
LOCKED_CHANGING(symlink, (const char *a, const char *b), (P(a), P(b)))
LOCKED_FI_CHANGING(create, (const char *p, mode_t m, struct fuse_file_info *fi), (P(p), m, fi), fi)
PLAIN(access, (const char *p, int m), (P(p), m))
PLAIN(readlink, (const char *p, char *b, size_t s), (P(p), b, s))
PLAIN_CHANGING(unlink, (const char *p), (P(p)))
PLAIN_CHANGING(rmdir, (const char *p), (P(p)))
PLAIN_CHANGING(rename, (const char *a, const char *b), (P(a), P(b)))
PLAIN_CHANGING(link, (const char *a, const char *b), (P(a), P(b)))
PLAIN_CHANGING(chmod, (const char *p, mode_t m), (P(p), m))
PLAIN_CHANGING(chown, (const char *p, uid_t u, gid_t g), (P(p), u, g))
PLAIN_CHANGING(truncate, (const char *p, off_t o), (P(p), o))
PLAIN(statfs, (const char *p, struct statvfs *s), (P(p), s))
PLAIN_CHANGING(setxattr, (const char *p, const char *n, const char *v, size_t s, int f), (P(p), n, v, s, f))
PLAIN_CHANGING(removexattr, (const char *p, const char *n), (P(p), n))
PLAIN(read, (const char *p, char *b, size_t s, off_t o, struct fuse_file_info *fi), (P(p), b, s, o, fi))
PLAIN_CHANGING(write, (const char *p, const char *b, size_t s, off_t o, struct fuse_file_info *fi), (P(p), b, s, o, fi))
PLAIN_CHANGING(fsync, (const char *p, int d, struct fuse_file_info *fi), (P(p), d, fi))
PLAIN_CHANGING(ftruncate, (const char *p, off_t o, struct fuse_file_info *fi), (P(p), o, fi))

/* Closing a file opened for writing may finish a change (a stub's last bytes, an unlinked
   file's end); closing one opened for reading changes nothing. */
static int w_release(const char *p, struct fuse_file_info *fi) {
  int changing = (fi->flags & O_ACCMODE) != O_RDONLY;
  if (changing) attr_cache_bump();
  int r = orig.release(P(p), fi);
  if (changing) attr_cache_bump();
  return r;
}

/* An open for writing may copy the file up (its ctime, blocks and layer change); one for
   reading changes nothing. */
static int w_open(const char *p, struct fuse_file_info *fi) {
  int changing = (fi->flags & (O_ACCMODE | O_TRUNC)) != O_RDONLY;
  if (changing) attr_cache_bump();
  int r = orig.open(P(p), fi);
  if (changing) attr_cache_bump();
  return r;
}

/* Answered here, never in JS, where each was a round trip to say 0: the union keeps no state
   per open directory and nothing to do at close(2) (release is where a file's handle ends). */
static int w_flush(const char *p, struct fuse_file_info *fi) {
  (void) p, (void) fi;
  return 0;
}

static int w_releasedir(const char *p, struct fuse_file_info *fi) {
  (void) p, (void) fi;
  return 0;
}

static int w_fsyncdir(const char *p, int d, struct fuse_file_info *fi) {
  (void) p, (void) d, (void) fi;
  return 0;
}

/* opendir only checks that the path is a directory (the kernel checked the permissions): a fresh
   answer of the attribute cache says so without JS. */
static int w_opendir(const char *p, struct fuse_file_info *fi) {
  struct stat st;
  int res, stable;
  if (attr_cache_get_stat(p, &st, &res, &stable) && res == 0 && S_ISDIR(st.st_mode)) {
    fi->fh = 0;
    return 0;
  }
  return orig.opendir(P(p), fi);
}
PLAIN(readdir, (const char *p, void *b, fuse_fill_dir_t f, off_t o, struct fuse_file_info *fi), (P(p), b, f, o, fi))

/* Exported under libfuse's own version so that fuse-native's versioned reference binds here. */
__asm__(".symver persist_fuse_new, fuse_new@@FUSE_2.6");
struct fuse *persist_fuse_new(struct fuse_chan *ch, struct fuse_args *args,
                              const struct fuse_operations *op, size_t op_size, void *user_data) {
  if (resolve_libfuse() != 0) return NULL;
  if (!interpose_enabled) return real_fuse_new(ch, args, op, op_size, user_data);
  memset(&orig, 0, sizeof orig);
  memcpy(&orig, op, op_size < sizeof orig ? op_size : sizeof orig);
  struct fuse_operations w = orig;
#define USE(name) if (orig.name) w.name = w_##name;
  USE(getattr) USE(fgetattr) USE(utimens) USE(access) USE(readlink) USE(mknod) USE(mkdir)
  USE(unlink) USE(rmdir) USE(symlink) USE(rename) USE(link) USE(chmod) USE(chown) USE(truncate)
  USE(statfs) USE(setxattr) USE(getxattr) USE(listxattr) USE(removexattr) USE(open) USE(create)
  USE(read) USE(write) USE(flush) USE(release) USE(fsync) USE(ftruncate) USE(opendir)
  USE(releasedir) USE(fsyncdir) USE(readdir)
#undef USE
  w.flag_nullpath_ok = 1;
  w.flag_utime_omit_ok = 1;
  struct fuse *f = real_fuse_new(ch, args, &w, sizeof w, user_data);
  pthread_mutex_lock(&session_lock);
  wrapped_fuse = f;
  wrapped_chan = f ? ch : NULL;
  pthread_mutex_unlock(&session_lock);
  return f;
}

/* fuse-native runs fuse_loop_mt() on its own thread (libfuse serves on several threads). It
   returns when the kernel ends the session: our own unmount, or an external umount, fusermount
   -u, or a lazy unmount once the last open file is closed. Tell JS, which knows whether it asked. */
__asm__(".symver persist_fuse_loop_mt, fuse_loop_mt@@FUSE_2.2");
int persist_fuse_loop_mt(struct fuse *f) {
  if (resolve_libfuse() != 0) return -1;
  int res = real_fuse_loop_mt(f);
  pthread_mutex_lock(&session_lock);
  if (f == wrapped_fuse && session_end) {
    napi_call_threadsafe_function(session_end, (void *) (intptr_t) res, napi_tsfn_nonblocking);
    napi_release_threadsafe_function(session_end, napi_tsfn_release);
    session_end = NULL;
  }
  if (f == wrapped_fuse) {
    wrapped_fuse = NULL;
    wrapped_chan = NULL;
  }
  pthread_mutex_unlock(&session_lock);
  return res;
}

/* ---------- Kernel attribute caching (kernel_cache.c) ---------- */

/* How long the kernel may keep what kernel_cache.c lets it keep; the same as entry_timeout in
   src/fuse/filesystem.ts, so that a name and its attributes expire together. */
#define STABLE_ATTR_TIMEOUT 60.0

static int notify_attributes(void *chan, uint64_t nodeid) {
  return real_inval_inode((struct fuse_chan *) chan, (fuse_ino_t) nodeid, -1, 0);
}

/* libfuse's own calls (lookup, mkdir, symlink, link, mknod) reach this through its PLT: this
   module is in the global scope before libfuse is loaded. A reply about an object that only
   changes through us, and whose answer nothing changed since, gets the long attr_timeout. */
__asm__(".symver persist_fuse_reply_entry, fuse_reply_entry@@FUSE_2.4");
int persist_fuse_reply_entry(fuse_req_t req, const struct fuse_entry_param *e) {
  if (resolve_libfuse() != 0) return -ENOSYS;
  int stable = interpose_enabled && last_getattr.stable && e->ino != 0 && (uint64_t) e->attr.st_ino == last_getattr.ino;
  last_getattr.stable = 0;
  if (!stable) return real_reply_entry(req, e);
  struct fuse_entry_param copy = *e;
  kernel_cache_lock();
  pthread_mutex_lock(&session_lock);
  struct fuse_chan *ch = wrapped_chan;
  pthread_mutex_unlock(&session_lock);
  if (ch && real_inval_inode && attr_cache_unchanged_since(last_getattr.stamp) &&
      kernel_cache_record(e->attr.st_ino, e->ino, S_ISDIR(e->attr.st_mode), notify_attributes, ch))
    copy.attr_timeout = STABLE_ATTR_TIMEOUT;
  int res = real_reply_entry(req, &copy);
  kernel_cache_unlock();
  return res;
}

/* GETATTR replies (and setattr's): the same, for a node the kernel got from a recorded lookup.
   Only a directory or a single-link file: with one name the recorded node is this node. The
   root is never looked up: its node id is known. */
__asm__(".symver persist_fuse_reply_attr, fuse_reply_attr@@FUSE_2.4");
int persist_fuse_reply_attr(fuse_req_t req, const struct stat *attr, double attr_timeout) {
  if (resolve_libfuse() != 0) return -ENOSYS;
  int stable = interpose_enabled && last_getattr.stable && (uint64_t) attr->st_ino == last_getattr.ino &&
               (S_ISDIR(attr->st_mode) || attr->st_nlink == 1);
  int root = last_getattr.root;
  last_getattr.stable = 0;
  if (!stable) return real_reply_attr(req, attr, attr_timeout);
  kernel_cache_lock();
  pthread_mutex_lock(&session_lock);
  struct fuse_chan *ch = wrapped_chan;
  pthread_mutex_unlock(&session_lock);
  double timeout = attr_timeout;
  if (ch && real_inval_inode && attr_cache_unchanged_since(last_getattr.stamp) &&
      (root ? kernel_cache_record(attr->st_ino, FUSE_ROOT_ID, 1, notify_attributes, ch) : kernel_cache_known(attr->st_ino)))
    timeout = STABLE_ATTR_TIMEOUT;
  int res = real_reply_attr(req, attr, timeout);
  kernel_cache_unlock();
  return res;
}

/* Forgets (kernel side) what `forget` names, after making every answer computed so far stale. */
static void kernel_forget(void (*forget)(uint64_t, kernel_cache_notify_fn, void *), uint64_t ino, int all_dirs) {
  attr_cache_bump();
  kernel_cache_lock();
  pthread_mutex_lock(&session_lock);
  struct fuse_chan *ch = real_inval_inode ? wrapped_chan : NULL;
  pthread_mutex_unlock(&session_lock);
  if (all_dirs) kernel_cache_forget_dirs(notify_attributes, ch);
  else forget(ino, notify_attributes, ch);
  kernel_cache_unlock();
}

/* ---------- N-API helpers ---------- */

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  const char *code = strerrorname_np(err);
  char msg[4200];
  snprintf(msg, sizeof msg, "%s: %s, %s '%s'", code ? code : "EIO", strerror(err), syscall,
           path ? path : "");
  napi_value m, c, e, n;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, code ? code : "EIO", NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, m, &e);
  napi_create_int32(env, -err, &n);
  napi_set_named_property(env, e, "errno", n);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &n);
  napi_set_named_property(env, e, "syscall", n);
  napi_throw(env, e);
  return NULL;
}

#define ARGS(n) \
  size_t argc = n; napi_value argv[n]; \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL)

static int get_str(napi_env env, napi_value v, char *buf, size_t len) {
  size_t got;
  if (napi_get_value_string_utf8(env, v, buf, len, &got) != napi_ok) return -1;
  return got + 1 >= len ? -1 : 0;
}

#define STR_ARG(var, i) \
  char var[4096]; \
  if (get_str(env, argv[i], var, sizeof var) != 0) return throw_errno(env, ENAMETOOLONG, #var, "")

static double num_arg(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* lgetxattr(path, name) -> Buffer; never follows a symlink. */
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  ARGS(2);
  STR_ARG(path, 0);
  STR_ARG(name, 1);
  for (;;) {
    ssize_t size = lgetxattr(path, name, NULL, 0);
    if (size < 0) return throw_errno(env, errno, "lgetxattr", path);
    void *data;
    napi_value buf;
    napi_create_buffer(env, size, &data, &buf);
    ssize_t got = size ? lgetxattr(path, name, data, size) : 0;
    if (got < 0 && errno == ERANGE) continue; /* grew in between */
    if (got < 0) return throw_errno(env, errno, "lgetxattr", path);
    if (got == size) return buf;
    napi_value slice;
    napi_create_buffer_copy(env, got, data, NULL, &slice);
    return slice;
  }
}

/* llistxattr(path) -> string[] */
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  ARGS(1);
  STR_ARG(path, 0);
  for (;;) {
    ssize_t size = llistxattr(path, NULL, 0);
    if (size < 0) return throw_errno(env, errno, "llistxattr", path);
    char *list = malloc(size + 1);
    ssize_t got = size ? llistxattr(path, list, size) : 0;
    if (got < 0) {
      int err = errno;
      free(list);
      if (err == ERANGE) continue;
      return throw_errno(env, err, "llistxattr", path);
    }
    napi_value arr;
    napi_create_array(env, &arr);
    uint32_t i = 0;
    for (ssize_t off = 0; off < got;) {
      size_t len = strnlen(list + off, got - off);
      napi_value s;
      napi_create_string_utf8(env, list + off, len, &s);
      napi_set_element(env, arr, i++, s);
      off += len + 1;
    }
    free(list);
    return arr;
  }
}

/* lsetxattr(path, name, value: Buffer, flags) */
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  ARGS(4);
  STR_ARG(path, 0);
  STR_ARG(name, 1);
  void *data;
  size_t len;
  napi_get_buffer_info(env, argv[2], &data, &len);
  if (lsetxattr(path, name, data, len, (int) num_arg(env, argv[3])) != 0)
    return throw_errno(env, errno, "lsetxattr", path);
  return undefined(env);
}

static napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
  ARGS(2);
  STR_ARG(path, 0);
  STR_ARG(name, 1);
  if (lremovexattr(path, name) != 0) return throw_errno(env, errno, "lremovexattr", path);
  return undefined(env);
}

/* mknod(path, mode, rdev): fifos, sockets, device nodes and overlayfs whiteouts (char 0/0). */
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  ARGS(3);
  STR_ARG(path, 0);
  if (mknod(path, (mode_t) num_arg(env, argv[1]), (dev_t) num_arg(env, argv[2])) != 0)
    return throw_errno(env, errno, "mknod", path);
  return undefined(env);
}

/* lutimens(path, atimeSec, atimeNsec, mtimeSec, mtimeNsec): nanoseconds exact, UTIME_NOW and
   UTIME_OMIT pass through, symlinks are not followed. */
static napi_value js_lutimens(napi_env env, napi_callback_info info) {
  ARGS(5);
  STR_ARG(path, 0);
  struct timespec ts[2] = {
    { (time_t) num_arg(env, argv[1]), (long) num_arg(env, argv[2]) },
    { (time_t) num_arg(env, argv[3]), (long) num_arg(env, argv[4]) },
  };
  if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0)
    return throw_errno(env, errno, "utimensat", path);
  return undefined(env);
}

/* rename2(old, new, flags): renameat2, for RENAME_NOREPLACE, RENAME_EXCHANGE and RENAME_WHITEOUT
   (the kernel overlayfs's own tools for atomic whiteouts and replacing a whiteout by a dir). */
static napi_value js_rename2(napi_env env, napi_callback_info info) {
  ARGS(3);
  STR_ARG(from, 0);
  STR_ARG(to, 1);
  if (renameat2(AT_FDCWD, from, AT_FDCWD, to, (unsigned) num_arg(env, argv[2])) != 0)
    return throw_errno(env, errno, "renameat2", from);
  return undefined(env);
}

/* syncfs(path) -> Promise: write back and flush the whole filesystem that holds path, in one
   journal commit instead of one per fsync'ed file and directory. Runs on libuv's thread pool so
   the FUSE server keeps answering meanwhile. */
/* Rejects a thread-pool job's promise with an Error whose code is the errno's name (ENOENT). */
static void reject_errno(napi_env env, napi_deferred deferred, int err) {
  napi_value message, error, code;
  const char *name = strerrorname_np(err);
  napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &message);
  napi_create_string_utf8(env, name ? name : "EIO", NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, message, &error);
  napi_reject_deferred(env, deferred, error);
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char path[4096];
  int err;
} syncfs_job;

static void syncfs_execute(napi_env env, void *data) {
  (void) env;
  syncfs_job *job = data;
  int fd = open(job->path, O_RDONLY | O_CLOEXEC);
  job->err = fd < 0 ? errno : 0;
  if (fd >= 0) {
    if (syncfs(fd) != 0) job->err = errno;
    close(fd);
  }
}

static void syncfs_complete(napi_env env, napi_status status, void *data) {
  (void) status;
  syncfs_job *job = data;
  if (job->err == 0) {
    napi_resolve_deferred(env, job->deferred, undefined(env));
  } else {
    reject_errno(env, job->deferred, job->err);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value js_syncfs(napi_env env, napi_callback_info info) {
  ARGS(1);
  syncfs_job *job = calloc(1, sizeof *job);
  if (get_str(env, argv[0], job->path, sizeof job->path) != 0) {
    free(job);
    return throw_errno(env, ENAMETOOLONG, "syncfs", "");
  }
  napi_value promise, name;
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "persist_syncfs", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, syncfs_execute, syncfs_complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

/* statvfs(path) -> [bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax] */
static napi_value js_statvfs(napi_env env, napi_callback_info info) {
  ARGS(1);
  STR_ARG(path, 0);
  struct statvfs s;
  if (statvfs(path, &s) != 0) return throw_errno(env, errno, "statvfs", path);
  double vals[] = { s.f_bsize, s.f_frsize, s.f_blocks, s.f_bfree, s.f_bavail, s.f_files,
                    s.f_ffree, s.f_favail, s.f_fsid, s.f_flag, s.f_namemax };
  napi_value arr;
  napi_create_array(env, &arr);
  for (uint32_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    napi_value v;
    napi_create_double(env, vals[i], &v);
    napi_set_element(env, arr, i, v);
  }
  return arr;
}

/* lseek(fd, offset, whence) -> the new offset, or -1 when SEEK_DATA/SEEK_HOLE find nothing at or
   after offset (ENXIO: offset at or past the end, or only a hole follows). Any other failure
   throws (e.g. EINVAL where a filesystem cannot tell holes from data). */
static napi_value js_lseek(napi_env env, napi_callback_info info) {
  ARGS(3);
  off_t got = lseek((int) num_arg(env, argv[0]), (off_t) num_arg(env, argv[1]), (int) num_arg(env, argv[2]));
  if (got < 0 && errno != ENXIO) return throw_errno(env, errno, "lseek", "");
  napi_value v;
  napi_create_double(env, got < 0 ? -1 : (double) got, &v);
  return v;
}

/* punchHole(fd, offset, length): give a byte range's pages back (tmpfs: RAM); it reads as zeros. */
static napi_value js_punch_hole(napi_env env, napi_callback_info info) {
  ARGS(3);
  if (fallocate((int) num_arg(env, argv[0]), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                (off_t) num_arg(env, argv[1]), (off_t) num_arg(env, argv[2])) != 0)
    return throw_errno(env, errno, "fallocate", "");
  return undefined(env);
}

/* onSessionEnd(callback): callback(status) runs on the JS thread once the wrapped session's
   fuse_loop_mt() has returned (status: its return value, 0 = the kernel ended the session). It
   does not keep the event loop alive; a second call replaces the first callback. */
static void session_end_call(napi_env env, napi_value callback, void *context, void *data) {
  (void) context;
  if (!env || !callback) return;
  napi_value status, global;
  napi_create_int32(env, (int32_t) (intptr_t) data, &status);
  napi_get_global(env, &global);
  napi_call_function(env, global, callback, 1, &status, NULL);
}

static napi_value js_on_session_end(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_value name;
  napi_threadsafe_function fn;
  napi_create_string_utf8(env, "persist_session_end", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, NULL, NULL, NULL, session_end_call, &fn) != napi_ok) {
    return throw_errno(env, EINVAL, "onSessionEnd", "");
  }
  napi_unref_threadsafe_function(env, fn);
  pthread_mutex_lock(&session_lock);
  napi_threadsafe_function old = session_end;
  session_end = fn;
  pthread_mutex_unlock(&session_lock);
  if (old) napi_release_threadsafe_function(old, napi_tsfn_abort);
  return undefined(env);
}


/* ---------- invalidate(): tell the kernel that paths changed under it ----------
   The mount caches pages (auto_cache keeps them while mtime and size look unchanged) and entries
   (entry_timeout), and the high-level API has no invalidation call. A discard or revert swaps
   what a path shows without any request through the mount, so the kernel must be told, with the
   low-level notify calls on the session's channel. They take the kernel's node ids, which only
   the kernel and libfuse know: a FUSE file handle carries the node id (fuse_encode_fh), so
   name_to_handle_at() on the path through the mount gives it, that of the entry the kernel has
   cached. The job runs on the thread pool: the path walk may send lookups to JS, and
   notify_inval_entry locks the parent directory, which a request waiting for JS may hold. */

#define FILEID_INO64_GEN 0x81
#define FILEID_INO64_GEN_PARENT 0x82

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char *mountpoint;
  char **paths; /* union paths: "/etc/hostname" */
  uint32_t count;
  uint32_t invalidated;
  int err;
} inval_job;

/* The FUSE node id in the file handle of the entry at `host` (fuse_encode_fh: the id's high and
   low words first), 0 when it has none; `*mount_id` is the id of the mount holding it. */
static uint64_t handle_node(const char *host, int *mount_id) {
  union {
    struct file_handle fh;
    char space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
  } h;
  h.fh.handle_bytes = MAX_HANDLE_SZ;
  if (name_to_handle_at(AT_FDCWD, host, &h.fh, mount_id, 0) != 0) return 0;
  if (h.fh.handle_bytes < 8) return 0;
  if (h.fh.handle_type != FILEID_INO64_GEN && h.fh.handle_type != FILEID_INO64_GEN_PARENT) return 0;
  uint32_t words[2];
  memcpy(words, h.fh.f_handle, sizeof words);
  return ((uint64_t) words[0] << 32) | words[1];
}

/* The kernel's node id of the entry at `host`, 0 when it is not on our mount (or gone). */
static uint64_t node_id(const char *host, int mount_id) {
  int mid = -1;
  uint64_t node = handle_node(host, &mid);
  return mid == mount_id ? node : 0;
}

static void inval_execute(napi_env env, void *data) {
  (void) env;
  inval_job *job = data;
  pthread_mutex_lock(&session_lock);
  struct fuse_chan *ch = wrapped_chan;
  pthread_mutex_unlock(&session_lock);
  if (!ch || !real_inval_inode || !real_inval_entry) {
    job->err = ENOTCONN;
    return;
  }
  int mount_id = -1;
  errno = 0;
  if (handle_node(job->mountpoint, &mount_id) != FUSE_ROOT_ID) {
    job->err = errno ? errno : ESTALE; /* the path is not our mount's root (moved away?) */
    return;
  }
  size_t base = strlen(job->mountpoint);
  char host[8192];
  for (uint32_t i = 0; i < job->count; i++) {
    const char *vpath = job->paths[i];
    if (strcmp(vpath, "/") == 0) continue; /* the root's entry never goes stale */
    if (snprintf(host, sizeof host, "%s%s", job->mountpoint, vpath) >= (int) sizeof host) continue;
    uint64_t node = node_id(host, mount_id);
    char *slash = strrchr(host, '/');
    const char *name = slash + 1;
    uint64_t parent;
    if ((size_t) (slash - host) <= base) {
      parent = FUSE_ROOT_ID;
    } else {
      *slash = '\0';
      parent = node_id(host, mount_id);
      *slash = '/';
    }
    /* ENOENT: the kernel had nothing cached. Not worth failing the caller over. */
    if (parent) real_inval_entry(ch, parent, name, strlen(name));
    if (node) real_inval_inode(ch, node, 0, 0);
    if (node || parent) job->invalidated++;
  }
}

static void inval_complete(napi_env env, napi_status status, void *data) {
  (void) status;
  inval_job *job = data;
  if (job->err == 0) {
    napi_value n;
    napi_create_uint32(env, job->invalidated, &n);
    napi_resolve_deferred(env, job->deferred, n);
  } else {
    reject_errno(env, job->deferred, job->err);
  }
  for (uint32_t i = 0; i < job->count; i++) free(job->paths[i]);
  free(job->paths);
  free(job->mountpoint);
  napi_delete_async_work(env, job->work);
  free(job);
}

static char *dup_str(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

/* invalidate(mountpoint, unionPaths) -> Promise<number of paths the kernel was told about> */
static napi_value js_invalidate(napi_env env, napi_callback_info info) {
  ARGS(2);
  inval_job *job = calloc(1, sizeof *job);
  job->mountpoint = dup_str(env, argv[0]);
  napi_get_array_length(env, argv[1], &job->count);
  job->paths = calloc(job->count ? job->count : 1, sizeof *job->paths);
  for (uint32_t i = 0; i < job->count; i++) {
    napi_value item;
    napi_get_element(env, argv[1], i, &item);
    job->paths[i] = dup_str(env, item);
    if (!job->paths[i]) job->paths[i] = strdup("/");
  }
  if (!job->mountpoint) job->mountpoint = strdup("");
  napi_value promise, name;
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "persist_invalidate", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, inval_execute, inval_complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

/* bumpAttrCache(): the daemon changed what some path shows on its own (see attr_cache.c). */
static napi_value js_bump_attr_cache(napi_env env, napi_callback_info info) {
  (void) info;
  attr_cache_bump();
  return undefined(env);
}

/* forgetAttr(unionPath): only what that path shows changed (see attr_cache.c). */
static napi_value js_forget_attr(napi_env env, napi_callback_info info) {
  ARGS(1);
  STR_ARG(path, 0);
  attr_cache_forget(path);
  return undefined(env);
}

/* kernelForgetInode(ino): the object changed without an operation on it (a copy-up). */
static napi_value js_kernel_forget_inode(napi_env env, napi_callback_info info) {
  ARGS(1);
  kernel_forget(kernel_cache_forget_ino, (uint64_t) num_arg(env, argv[0]), 0);
  return undefined(env);
}

/* kernelForgetDirectories(): the layer stack changed (a flush, discard, revert). */
static napi_value js_kernel_forget_dirs(napi_env env, napi_callback_info info) {
  (void) info;
  kernel_forget(NULL, 0, 1);
  return undefined(env);
}

/* enableAttrCache(on) */
static napi_value js_enable_attr_cache(napi_env env, napi_callback_info info) {
  ARGS(1);
  bool on = true;
  napi_get_value_bool(env, argv[0], &on);
  attr_cache_enable(on);
  return undefined(env);
}

/* attrCacheStats() -> { statHits, statMisses, xattrHits, xattrMisses, generation } */
static napi_value js_attr_cache_stats(napi_env env, napi_callback_info info) {
  (void) info;
  attr_cache_counts c = attr_cache_stats();
  napi_value result, v;
  napi_create_object(env, &result);
#define FIELD(js, value) napi_create_double(env, (double) (value), &v); napi_set_named_property(env, result, js, v);
  FIELD("statHits", c.stat_hits)
  FIELD("statMisses", c.stat_misses)
  FIELD("xattrHits", c.xattr_hits)
  FIELD("xattrMisses", c.xattr_misses)
  FIELD("generation", c.generation)
  FIELD("kernelNodes", kernel_cache_count())
#undef FIELD
  return result;
}

/* interpose(): turn the fuse_new wrapper on; returns the shared Float64Array's buffer. */
static napi_value js_interpose(napi_env env, napi_callback_info info) {
  (void) info;
  if (resolve_libfuse() != 0) return throw_errno(env, ELIBACC, "dlopen", "libfuse.so.2");
  interpose_enabled = 1;
  napi_value ab;
  napi_create_external_arraybuffer(env, side, sizeof side, NULL, NULL, &ab);
  return ab;
}

/* peerCredentials(fd) -> { pid, uid, gid }: who is at the other end of a connected Unix socket
   (SO_PEERCRED: the credentials the kernel recorded when the peer called connect()). */
static napi_value js_peer_credentials(napi_env env, napi_callback_info info) {
  ARGS(1);
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt((int) num_arg(env, argv[0]), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return throw_errno(env, errno, "getsockopt", "SO_PEERCRED");
  napi_value result, v;
  napi_create_object(env, &result);
  napi_create_int32(env, cred.pid, &v);
  napi_set_named_property(env, result, "pid", v);
  napi_create_uint32(env, cred.uid, &v);
  napi_set_named_property(env, result, "uid", v);
  napi_create_uint32(env, cred.gid, &v);
  napi_set_named_property(env, result, "gid", v);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  /* One malloc arena for all threads: libfuse's threads and the caches' small allocations would
     otherwise each grow an arena of their own (measured: several MiB of RSS, no speed cost). */
  mallopt(M_ARENA_MAX, 1);
  napi_property_descriptor props[] = {
    { "interpose", NULL, js_interpose, NULL, NULL, NULL, napi_default, NULL },
    { "onSessionEnd", NULL, js_on_session_end, NULL, NULL, NULL, napi_default, NULL },
    { "lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_default, NULL },
    { "llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_default, NULL },
    { "lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_default, NULL },
    { "lremovexattr", NULL, js_lremovexattr, NULL, NULL, NULL, napi_default, NULL },
    { "mknod", NULL, js_mknod, NULL, NULL, NULL, napi_default, NULL },
    { "lutimens", NULL, js_lutimens, NULL, NULL, NULL, napi_default, NULL },
    { "rename2", NULL, js_rename2, NULL, NULL, NULL, napi_default, NULL },
    { "syncfs", NULL, js_syncfs, NULL, NULL, NULL, napi_default, NULL },
    { "statvfs", NULL, js_statvfs, NULL, NULL, NULL, napi_default, NULL },
    { "lseek", NULL, js_lseek, NULL, NULL, NULL, napi_default, NULL },
    { "punchHole", NULL, js_punch_hole, NULL, NULL, NULL, napi_default, NULL },
    { "peerCredentials", NULL, js_peer_credentials, NULL, NULL, NULL, napi_default, NULL },
    { "invalidate", NULL, js_invalidate, NULL, NULL, NULL, napi_default, NULL },
    { "bumpAttrCache", NULL, js_bump_attr_cache, NULL, NULL, NULL, napi_default, NULL },
    { "forgetAttr", NULL, js_forget_attr, NULL, NULL, NULL, napi_default, NULL },
    { "kernelForgetInode", NULL, js_kernel_forget_inode, NULL, NULL, NULL, napi_default, NULL },
    { "kernelForgetDirectories", NULL, js_kernel_forget_dirs, NULL, NULL, NULL, napi_default, NULL },
    { "enableAttrCache", NULL, js_enable_attr_cache, NULL, NULL, NULL, napi_default, NULL },
    { "attrCacheStats", NULL, js_attr_cache_stats, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
