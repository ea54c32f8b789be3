/* The log-structured registry shared by the dir and nfs backends: what
 * their files share. The algorithm is in log.c and docs/registry.md. */
#pragma once

/* Why an empty or missing location is not made a registry (mcs_registry_config.create). */
#define DIR_CREATE_HINT                                                                                  \
        "a registry is created only when told (registry_create = yes in mcsd.conf, or mcsd --init-registry): " \
        "is the shared file system mounted?"

#include <stdbool.h>

#include "../backend.h"
#include "io.h"

#define DIR_TOKEN_LEN 32 /* hex digits of an entry's random token */
#define DIR_ID_LEN 32    /* hex digits of the registry id */
#define DIR_SNAP_EVERY 1000
#define DIR_RING_MAX 8192 /* entries a handle keeps for the change feed */

/* What a log entry does. */
typedef enum dir_op {
        DIR_RESERVE,
        DIR_RELEASE,
        DIR_STATE,
        DIR_REMEMBER,
        DIR_FORGET,
        DIR_IMPORT_RECORD,
        DIR_IMPORT_HISTORY,
        DIR_IMPORT_ORIGINAL,
        DIR_OP__MAX
} dir_op;

typedef struct dir_entry {
        dir_op op;
        mcs_history_op hop; /* DIR_IMPORT_HISTORY: the operation it records */
        int64_t at_us;
        mcs_record rec;    /* record operations */
        mcs_original orig; /* original operations (path only for FORGET) */
        /* Who asked (record operations). Not in the entry's text: in
         * who/<token>, which an mcsd that predates it never reads. */
        mcs_actor who;
} dir_entry;

/* A string-keyed hash table; keys point into the values. */
typedef struct dir_map {
        struct dir_slot {
                const char *key;
                void *val;
        } *v;
        size_t cap, n;
} dir_map;

void *dir_map_get(const dir_map *m, const char *key);
int dir_map_put(dir_map *m, const char *key, void *val); /* key not present */
void *dir_map_del(dir_map *m, const char *key);
void dir_map_free(dir_map *m, void (*free_val)(void *));

/* One entry of the change feed the handle keeps. */
typedef struct dir_seen {
        uint64_t seq;
        char token[DIR_TOKEN_LEN + 1];
        bool feed; /* changes the records */
        mcs_history_op op;
        char uuid[MCS_UUID_STRLEN + 1];
        char *label;
} dir_seen;

struct mcs_backend {
        dir_io *io;
        const char *scheme; /* "dir", "nfs" */
        char *host;
        char hostkey[128]; /* host as a file name */
        unsigned max_tries;

        char id[DIR_ID_LEN + 1]; /* "" before the first load */
        uint64_t seq;            /* the last entry replayed */
        char token[DIR_TOKEN_LEN + 1];
        dir_map records;   /* uuid -> mcs_record * */
        dir_map originals; /* path -> mcs_original * */

        dir_seen *ring; /* entries base+1 .. seq */
        size_t ring_n;
        uint64_t base;
        char base_token[DIR_TOKEN_LEN + 1];

        /* Why writes stop (code MCS_OK: they do not): the registry changed
         * under the handle and the newest snapshot or the log after it could
         * not be replayed. The state above stays the last good one, for
         * reads; a write decided against it could duplicate a label. */
        mcs_err stop;
        mcs_actor who; /* who asks for the writes that follow (set_actor) */
        /* The last snapshot this handle did not write because a reader
         * would refuse it (longer than io->read_max), for health: 0, none. */
        uint64_t snap_skipped;
        size_t snap_skipped_len;
        /* An older snapshot whose next entry was moved away, seen at the
         * last load, for health: an mcsd that cannot read the newest
         * snapshot (before version 2) would start from it. 0: none. */
        uint64_t snap_left;
};
typedef struct mcs_backend dirb;

/* text.c: entries and snapshots as text. */
int dir_entry_format(const dir_entry *en, const char *token, char **out, mcs_err *e);
/* Parses text into en (strings owned by en) and token. */
int dir_entry_parse(char *text, dir_entry *en, char token[DIR_TOKEN_LEN + 1], mcs_err *e);
void dir_entry_clear(dir_entry *en);
int dir_snap_format(dirb *b, char **out, mcs_err *e);
/* Loads a snapshot into b's tables; sets b->seq and b->token. */
int dir_snap_load(dirb *b, char *text, mcs_err *e);
const char *dir_op_name(dir_op op);
void dir_hostkey(const char *host, char *out, size_t len);
int dir_heartbeat_parse(char *text, char **host, int64_t *seen_us);
int dir_heartbeat_format(const char *host, int64_t seen_us, char **out);
void dir_original_free(void *o);
/* who/<token>: "mcs-dir-who 1", then "uid=U<TAB>pid=P". */
int dir_who_format(const mcs_actor *who, char *out, size_t len);
int dir_who_parse(const char *text, mcs_actor *out, mcs_err *e);
void dir_record_free(void *r);

/* log.c: the algorithm. */
int dir_open(dirb *b, const mcs_registry_config *cfg, mcs_err *e);
void dir_free(dirb *b);
int dir_fail(dirb *b, int err, const char *what, const char *name, mcs_err *e);
/* Replays what others appended since; reloads on a replaced registry. */
int dir_refresh(dirb *b, mcs_err *e);
/* 0, or why writes stop (b->stop). */
int dir_writable(const dirb *b, mcs_err *e);
/* Appends en as entry seq+1 and applies it; -MCS_E_STALE when another
 * writer appended first (nothing written). */
int dir_append(dirb *b, const dir_entry *en, mcs_err *e);
void dir_mark(const dirb *b, const char *token, char *out, size_t len);
int dir_read_entry(dirb *b, uint64_t seq, dir_entry *en, char token[DIR_TOKEN_LEN + 1], mcs_err *e);
/* Who asked for the entry with token (en->who known false when nobody did). */
int dir_read_who(dirb *b, const char *token, mcs_actor *out, mcs_err *e);
/* The lowest entry number the log lists (0: none). */
int dir_lowest_entry(dirb *b, uint64_t *out, mcs_err *e);
void dir_cleanup_tmp(dirb *b);
/* Writes data to a new file in tmp/, complete and synced; its name in tmp. */
int dir_put_tmp(dirb *b, const char *data, size_t len, char *tmp, size_t tmp_len, mcs_err *e);

/* ops.c */
extern const mcs_backend_ops mcs_backend_dir;
/* ../nfs/io-nfs.c: nfs://SERVER/EXPORT/PATH */
int dir_nfs_open(const char *location, const mcs_registry_config *cfg, mcs_backend **out, mcs_err *e);
int dir_backend_ops_open(dir_io *io, const char *scheme, const mcs_registry_config *cfg, mcs_backend **out,
                         mcs_err *e);
