/* The node ids kernel_cache.c let the kernel cache attributes of, by union inode number. */
#ifndef PERSIST_KERNEL_CACHE_H
#define PERSIST_KERNEL_CACHE_H
#include <stddef.h>
#include <stdint.h>

/* notify_inval_inode(chan, nodeid) for attributes only. */
typedef int (*kernel_cache_notify_fn)(void *chan, uint64_t nodeid);

/* Held around a long-timeout reply and around every forget. */
void kernel_cache_lock(void);
void kernel_cache_unlock(void);
/* 1 when recorded: the reply may carry the long timeout. Lock held. */
int kernel_cache_record(uint64_t ino, uint64_t nodeid, int is_dir, kernel_cache_notify_fn inval, void *chan);
/* 1 when the kernel holds a recorded node of `ino` (a directory has just one). Lock held. */
int kernel_cache_known(uint64_t ino);
/* The object `ino` changed: the kernel forgets its attributes under every name. Lock held. */
void kernel_cache_forget_ino(uint64_t ino, kernel_cache_notify_fn inval, void *chan);
/* The layer stack changed: the kernel forgets every directory's attributes. Lock held. */
void kernel_cache_forget_dirs(kernel_cache_notify_fn inval, void *chan);
size_t kernel_cache_count(void);
#endif
