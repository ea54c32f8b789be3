/* The storage under the dir and nfs backends: a handful of file operations
 * on names relative to the registry's directory ("log/00000000000000000042").
 * The algorithm (log.c) needs nothing else; the POSIX layer (io-posix.c)
 * works on a mounted directory, the libnfs one (../nfs/io-nfs.c) talks
 * NFSv3 to the server itself.
 *
 * Every operation returns 0 or a negative errno; io->detail may then hold
 * the layer's own words for it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct dir_io dir_io;
typedef int (*dir_io_name_fn)(void *ctx, const char *name);

typedef struct dir_io_ops {
        /* Creates name, which must not exist (-EEXIST: the server said so,
         * atomically), writes data and makes it durable before returning. */
        int (*put_new)(dir_io *io, const char *name, const void *data, size_t len);
        /* A second name for from; -EEXIST when to exists (nothing changed). */
        int (*link)(dir_io *io, const char *from, const char *to);
        /* Replaces to with from in one step. */
        int (*rename)(dir_io *io, const char *from, const char *to);
        /* The whole file, NUL-terminated (*len without the NUL); -ENOENT. */
        int (*read)(dir_io *io, const char *name, char **data, size_t *len);
        /* Every name in dir but "." and "..". fn's non-zero answer stops and is returned. */
        int (*list)(dir_io *io, const char *dir, dir_io_name_fn fn, void *ctx);
        int (*unlink)(dir_io *io, const char *name);
        /* 0 when it exists already. */
        int (*mkdir)(dir_io *io, const char *name);
        /* Makes the names created in dir durable (a no-op where the server does it). */
        int (*sync_dir)(dir_io *io, const char *dir);
        /* Before each round of reads: find the directory again (it may have
         * been replaced), reconnect after a failure. */
        int (*refresh)(dir_io *io);
        void (*close)(dir_io *io);
} dir_io_ops;

/* The most a registry file may hold: a snapshot of a full pool (523,776
 * records) is the largest file, well below it (docs/registry.md). */
#define DIR_IO_READ_MAX ((size_t) 128 << 20)

struct dir_io {
        const dir_io_ops *ops;
        char *where;      /* for messages: the path or URL */
        char detail[256]; /* the layer's words for the last failure, or "" */
        size_t read_max;  /* read refuses a longer file (-EFBIG); DIR_IO_READ_MAX, lower in tests */
};

/* What a layer's read does for dir_io_read_all: up to len bytes of h into
 * buf; how many, 0 at the end of the file, or a negative errno. */
typedef int (*dir_io_read_fn)(void *h, char *buf, size_t len);
/* The whole file through rd, NUL-terminated (*len without the NUL);
 * -EFBIG past max bytes, -ENOMEM, or rd's error. */
int dir_io_read_all(dir_io_read_fn rd, void *h, size_t max, char **data, size_t *len);

/* The POSIX layer: a directory on a mounted filesystem (created if its
 * parent exists). */
int dir_io_posix_open(const char *path, bool create, dir_io **out, char *why, size_t why_len);
