/* The etcd registry backend against a real 3-member etcd cluster started
 * here: the API cases every backend shares (registry-api.c), and etcd's
 * own: compaction, lost answers, processes racing, members killed, quorum
 * lost and regained, TLS with client certificates. */
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "etcd-cluster.h"
#include "mcs-level.h"
#include "mcs-registry.h"
#include "race-util.h"
#include "registry-api.h"
#include "test-util.h"

static etcd_cluster shared; /* the suite's cluster, started once in the parent */

static int open_at(const char *location, const char *host, const char *pool, mcs_registry **r, mcs_err *e) {
        mcs_registry_config cfg = {.create = true, .host_id = host, .busy_timeout_ms = 15000};
        if (mcs_catset_parse(pool ? pool : "c0.c1023", &cfg.pool, e) < 0)
                return -1;
        return mcs_registry_open(location, &cfg, r, e);
}

/* Opens once the cluster answers: members take a moment to elect a leader. */
static mcs_registry *open_when_ready(const char *location, const char *host, const char *pool) {
        mcs_registry *r = NULL;
        mcs_err e = {0};
        for (int i = 0; i < 240; i++) {
                if (open_at(location, host, pool, &r, &e) == 0)
                        return r;
                usleep(250000);
        }
        ck_abort_msg("etcd at %s never answered: %s", location, e.msg);
        return NULL;
}

static void shared_start(void) {
        etcd_start(&shared, false);
        char *loc = etcd_location(&shared, "ready", NULL);
        mcs_registry_close(open_when_ready(loc, "probe", NULL));
        free(loc);
}

static void shared_stop(void) {
        etcd_stop(&shared);
}

static mcs_registry *open_shared(const char *prefix, const char *host, const char *pool) {
        char *loc = etcd_location(&shared, prefix, NULL);
        mcs_registry *r = open_when_ready(loc, host, pool);
        free(loc);
        return r;
}

/* The shared API cases (registry-api.c) on the suite's cluster: a fresh key
 * prefix for each case is a fresh registry (unique across the forked
 * cases by pid, within one process by count). */
static char api_prefix[64], *api_location;
static long long api_saved_revision;

static void api_prefix_setup(void) {
        static unsigned cases;
        snprintf(api_prefix, sizeof api_prefix, "api-%ld-%u", (long) getpid(), cases++);
        api_location = etcd_location(&shared, api_prefix, NULL);
}

static void api_prefix_teardown(void) {
        free(api_location);
        api_location = NULL;
}

static const char *api_location_now(void) {
        return api_location;
}

static mcs_registry *api_open(const char *host, const char *pool) {
        return open_when_ready(api_location, host, pool);
}

static char *base64(const char *s) {
        static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t n = strlen(s);
        char *out = malloc(4 * (n / 3 + 1) + 1), *o = out;
        ck_assert_ptr_nonnull(out);
        for (size_t i = 0; i < n; i += 3) {
                unsigned v = (unsigned char) s[i] << 16 | (i + 1 < n ? (unsigned char) s[i + 1] << 8 : 0) |
                             (i + 2 < n ? (unsigned char) s[i + 2] : 0);
                *o++ = abc[v >> 18 & 63];
                *o++ = abc[v >> 12 & 63];
                *o++ = i + 1 < n ? abc[v >> 6 & 63] : '=';
                *o++ = i + 2 < n ? abc[v & 63] : '=';
        }
        *o = '\0';
        return out;
}

/* The JSON body naming every key under the case's prefix, with extra fields. */
static char *prefix_range(const char *extra) {
        char from[80], to[80], *body;
        snprintf(from, sizeof from, "/%s/", api_prefix);
        snprintf(to, sizeof to, "/%s0", api_prefix); /* '0' follows '/' */
        char *f = base64(from), *t = base64(to);
        ck_assert_int_ge(asprintf(&body, "{\"key\":\"%s\",\"range_end\":\"%s\"%s}", f, t, extra), 0);
        free(f);
        free(t);
        return body;
}

/* An older copy put back as restoring a dump of the prefix's keys does it:
 * every key deleted at once, then the keys as they were at the saved
 * revision written again in one transaction (at new revisions: etcd's only
 * go forward; putting the revisions back too takes restoring a snapshot
 * into a new cluster). */
static void api_save_copy(void) {
        api_saved_revision = etcd_revision(&shared);
}

static void api_put_back_copy(void) {
        char at[64];
        snprintf(at, sizeof at, ",\"revision\":\"%lld\"", api_saved_revision);
        char *range = prefix_range(at), *old = etcd_post(&shared, "/v3/kv/range", range);
        free(range);
        ck_assert_msg(strstr(old, "\"kvs\"") != NULL, "nothing under /%s/ at revision %lld: %s", api_prefix,
                      api_saved_revision, old);
        range = prefix_range("");
        free(etcd_post(&shared, "/v3/kv/deleterange", range));
        free(range);

        /* {"kvs":[{"key":"...",...,"value":"..."},...]}: base64 both, no braces inside */
        size_t cap = 2 * strlen(old) + 64, len = 0;
        char *txn = malloc(cap);
        ck_assert_ptr_nonnull(txn);
        len += (size_t) snprintf(txn, cap, "{\"success\":[");
        int puts = 0;
        for (const char *p = strstr(old, "\"kvs\""); (p = strstr(p, "\"key\":\"")); puts++) {
                const char *key = p + strlen("\"key\":\""), *key_end = strchr(key, '"'), *kv_end = strchr(key, '}');
                ck_assert_ptr_nonnull(key_end);
                ck_assert_ptr_nonnull(kv_end);
                const char *value = strstr(key, "\"value\":\"");
                int vlen = 0;
                if (value && value < kv_end) {
                        value += strlen("\"value\":\"");
                        vlen = (int) (strchr(value, '"') - value);
                } else {
                        value = "";
                }
                len += (size_t) snprintf(txn + len, cap - len, "%s{\"request_put\":{\"key\":\"%.*s\",\"value\":\"%.*s\"}}",
                                         puts ? "," : "", (int) (key_end - key), key, vlen, value);
                ck_assert_uint_lt(len, cap);
                p = kv_end;
        }
        len += (size_t) snprintf(txn + len, cap - len, "]}");
        ck_assert_uint_lt(len, cap);
        ck_assert_int_gt(puts, 0);
        char *answer = etcd_post(&shared, "/v3/kv/txn", txn);
        ck_assert_msg(strstr(answer, "\"succeeded\":true") != NULL, "putting back: %s", answer);
        free(answer);
        free(txn);
        free(old);
}

static const registry_api_backend etcd_backend = {
        .name = "etcd",
        .setup = api_prefix_setup,
        .teardown = api_prefix_teardown,
        .location = api_location_now,
        .open = api_open,
        .save_copy = api_save_copy,
        .put_back_copy = api_put_back_copy,
};

static mcs_guest guest(const char *uuid, const char *name, mcs_kind kind) {
        return (mcs_guest){.uuid = uuid, .name = name, .kind = kind};
}

/* Too many categories for one etcd transaction: refused, saying why, with
 * another guest's random pair in the registry (its conflict would be found
 * first if the range held it). */
START_TEST(too_many_categories_for_one_transaction) {
        mcs_registry *a = open_shared("wide", "host-a", "c10.c1023"), *b = open_shared("wide", "host-b", NULL);
        mcs_record rec;
        mcs_err e = {0};
        mcs_guest g1 = guest(U1, "web1", MCS_KIND_DYNAMIC), g4 = guest(U4, "four", MCS_KIND_STATIC);

        ck_assert_ok(mcs_registry_reserve(a, &g1, &rec, NULL, &e), &e);
        mcs_level l;
        ck_assert_ok(mcs_level_parse(rec.label, &l, &e), &e);
        mcs_record_clear(&rec);
        /* Of four windows of 200 categories, two at least are clear of web1's pair. */
        unsigned lo;
        for (lo = 200; lo <= 800; lo += 200) {
                unsigned c = lo;
                while (c < lo + 200 && !mcs_catset_has(&l.cats, c))
                        c++;
                if (c == lo + 200)
                        break;
        }
        ck_assert_uint_le(lo, 800);
        char wide[32];
        snprintf(wide, sizeof wide, "s0:c%u.c%u", lo, lo + 199);
        ck_assert_fails(mcs_registry_reserve_label(b, &g4, wide, &rec, NULL, &e), &e, MCS_E_INVALID,
                        "at most 124 categories");
        mcs_registry_close(a);
        mcs_registry_close(b);
}
END_TEST

START_TEST(hosts_health_and_options) {
        mcs_registry *a = open_shared("orig", "host-a", NULL), *b = open_shared("orig", "host-b", NULL);
        mcs_err e = {0};

        /* heartbeats: a lease per host; both listed */
        ck_assert_ok(mcs_registry_heartbeat(a, &e), &e);
        ck_assert_ok(mcs_registry_heartbeat(a, &e), &e);
        ck_assert_ok(mcs_registry_heartbeat(b, &e), &e);
        mcs_host_list hl;
        ck_assert_ok(mcs_registry_hosts(a, &hl, &e), &e);
        ck_assert_uint_eq(hl.n, 2);
        ck_assert_str_eq(hl.v[0].host, "host-a");
        ck_assert_str_eq(hl.v[1].host, "host-b");
        ck_assert_int_gt(hl.v[0].seen_us, 0);
        mcs_host_list_clear(&hl);

        /* host-a's lease revoked (as when it expires): host-a is gone from the list until it beats again */
        char *kv = etcd_post(&shared, "/v3/kv/range", "{\"key\":\"L29yaWcvaG9zdHMvaG9zdC1h\"}"); /* /orig/hosts/host-a */
        const char *lease = strstr(kv, "\"lease\":\"");
        ck_assert_msg(lease != NULL, "no lease on host-a's key: %s", kv);
        char body[96];
        snprintf(body, sizeof body, "{\"ID\":\"%lld\"}", strtoll(lease + strlen("\"lease\":\""), NULL, 10));
        free(kv);
        free(etcd_post(&shared, "/v3/lease/revoke", body));
        ck_assert_ok(mcs_registry_hosts(b, &hl, &e), &e);
        ck_assert_uint_eq(hl.n, 1);
        ck_assert_str_eq(hl.v[0].host, "host-b");
        mcs_host_list_clear(&hl);
        ck_assert_ok(mcs_registry_heartbeat(a, &e), &e); /* a new lease */
        ck_assert_ok(mcs_registry_hosts(b, &hl, &e), &e);
        ck_assert_uint_eq(hl.n, 2);
        mcs_host_list_clear(&hl);

        char line[512];
        ck_assert_ok(mcs_registry_health(a, line, sizeof line, &e), &e);
        ck_assert_msg(strstr(line, "ok: etcd, 3 of 3 endpoints healthy") != NULL, "health: %s", line);
        mcs_registry_close(a);
        mcs_registry_close(b);

        /* locations the backend refuses, saying what is wrong */
        mcs_registry *r;
        char *loc = etcd_location(&shared, "x", "cacert=/nonexistent&colour=blue&size=2");
        ck_assert_fails(open_at(loc, "h", NULL, &r, &e), &e, MCS_E_INVALID, "unknown options 'colour', 'size'");
        free(loc);
        loc = etcd_location(&shared, "x", "cert=/a.pem");
        ck_assert_fails(open_at(loc, "h", NULL, &r, &e), &e, MCS_E_INVALID, "needs both cert= and key=");
        free(loc);
        ck_assert_fails(open_at("etcd:/x", "h", NULL, &r, &e), &e, MCS_E_INVALID, "write etcd://HOST:PORT");
        ck_assert_fails(open_at("etcd://127.0.0.1:1", "h", NULL, &r, &e), &e, MCS_E_INVALID, "no key prefix");
        ck_assert_fails(open_at("etcd://127.0.0.1:1,/x", "h", NULL, &r, &e), &e, MCS_E_INVALID, "an empty endpoint");
        ck_assert_fails(open_at("etcd://a b:1/x", "h", NULL, &r, &e), &e, MCS_E_INVALID, "has a ' ' at column 2");
        /* nothing listens: a clear error, no hang beyond the timeout */
        ck_assert_fails(open_at("etcd://127.0.0.1:1/x", "h", NULL, &r, &e), &e, MCS_E_IO, "etcd at 127.0.0.1:1");
}
END_TEST

/* A handle whose feed position etcd compacted away rescans, and so does
 * one whose registry was deleted and made again under its prefix: both
 * still see what conflicts. */
START_TEST(compaction_and_a_new_registry_at_the_prefix) {
        mcs_registry *a = open_shared("compact", "host-a", NULL), *b = open_shared("compact", "host-b", NULL);
        mcs_record rec;
        mcs_err e = {0};
        mcs_guest g1 = guest(U1, "one", MCS_KIND_STATIC), g2 = guest(U2, "two", MCS_KIND_STATIC),
                  g3 = guest(U3, "three", MCS_KIND_STATIC);
        char body[128];

        ck_assert_ok(mcs_registry_reserve_label(a, &g1, "s0:c10,c11", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_reserve_label(b, &g2, "s0:c20,c21", &rec, NULL, &e), &e); /* b's view now current */
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_reserve_label(a, &g3, "s0:c30", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        snprintf(body, sizeof body, "{\"revision\":\"%lld\"}", etcd_revision(&shared));
        free(etcd_post(&shared, "/v3/kv/compaction", body));
        mcs_guest g4 = guest("44444444-4444-4444-4444-444444444444", "four", MCS_KIND_STATIC);
        ck_assert_fails(mcs_registry_reserve_label(b, &g4, "s0:c30,c31", &rec, NULL, &e), &e, MCS_E_CONFLICT,
                        "held by guest three");

        /* delete everything under the prefix; a registry made there anew holds only what is written after */
        free(etcd_post(&shared, "/v3/kv/deleterange",
                       "{\"key\":\"L2NvbXBhY3Qv\",\"range_end\":\"L2NvbXBhY3Qw\"}")); /* /compact/ .. /compact0 */
        mcs_registry *fresh = open_shared("compact", "host-c", NULL);
        ck_assert_ok(mcs_registry_reserve_label(fresh, &g1, "s0:c40,c41", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_fails(mcs_registry_reserve_label(b, &g4, "s0:c40", &rec, NULL, &e), &e, MCS_E_CONFLICT,
                        "held by guest one");
        ck_assert_ok(mcs_registry_reserve_label(a, &g4, "s0:c30,c31", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        mcs_record_list l;
        ck_assert_ok(mcs_registry_list(b, NULL, &l, &e), &e);
        ck_assert_uint_eq(l.n, 2);
        mcs_record_list_clear(&l);
        mcs_registry_close(fresh);
        mcs_registry_close(a);
        mcs_registry_close(b);
}
END_TEST

/* Without create, a prefix without an id key (a wrong prefix, a registry
 * deleted) is refused, and no id is put there, also under an open handle. */
START_TEST(registry_made_only_when_told) {
        char *loc = etcd_location(&shared, "untold", NULL);
        mcs_registry_config cfg = {.host_id = "host-a", .busy_timeout_ms = 15000};
        mcs_registry *r, *made;
        mcs_record_list l;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_fails(mcs_registry_open(loc, &cfg, &r, &e), &e, MCS_E_NOTFOUND, "no registry id under the prefix");
        ck_assert_fails(mcs_registry_open(loc, &cfg, &r, &e), &e, MCS_E_NOTFOUND, "registry_create = yes");
        made = open_shared("untold", "host-b", NULL); /* told */
        ck_assert_ok(mcs_registry_open(loc, &cfg, &r, &e), &e);
        mcs_registry_close(made);
        free(etcd_post(&shared, "/v3/kv/deleterange", "{\"key\":\"L3VudG9sZC8=\",\"range_end\":\"L3VudG9sZDA=\"}"));
        ck_assert_int_lt(mcs_registry_list(r, NULL, &l, &e), 0);
        ck_assert_msg(strstr(e.msg, "no registry id under the prefix"), "%s", e.msg);
        mcs_registry_close(r);
        ck_assert_fails(mcs_registry_open(loc, &cfg, &r, &e), &e, MCS_E_NOTFOUND, "no registry id under the prefix");
        free(loc);
}
END_TEST

/* A reservation etcd applied but whose answer was lost: the retry at the
 * next endpoint finds its own history key and reports it created (not
 * "held already", not twice). */
START_TEST(lost_answer_is_recognised) {
        /* only the reservation's transaction compares the registry id (target VALUE) */
        int port = etcd_lossy_proxy(&shared, 0, "/v3/kv/txn", "\"VALUE\"", 1);
        char *loc;
        ck_assert_int_ge(asprintf(&loc, "etcd://127.0.0.1:%d,127.0.0.1:%d/lost", port, shared.client_port[1]), 0);
        mcs_registry *r = open_when_ready(loc, "host-l", NULL);
        mcs_record rec;
        mcs_err e = {0};
        bool created = false;
        mcs_guest g = guest(U1, "lost", MCS_KIND_DYNAMIC);
        ck_assert_ok(mcs_registry_reserve(r, &g, &rec, &created, &e), &e);
        ck_assert_msg(created, "the reservation was applied by the first attempt but not reported as created");
        mcs_history_list h;
        ck_assert_ok(mcs_registry_history(r, U1, &h, &e), &e);
        ck_assert_uint_eq(h.n, 1);
        ck_assert_str_eq(h.v[0].rec.label, rec.label);
        mcs_history_list_clear(&h);
        mcs_record_clear(&rec);
        mcs_registry_close(r);
        free(loc);
}
END_TEST

/* An endpoint that accepts connections and never answers: each request
 * gives up on it after its share of busy_timeout and goes on to the next. */
START_TEST(silent_endpoint_is_skipped) {
        int silent = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        ck_assert_int_eq(bind(silent, (struct sockaddr *) &a, sizeof a), 0);
        ck_assert_int_eq(listen(silent, 16), 0); /* the kernel completes connections; nobody reads */
        ck_assert_int_eq(getsockname(silent, (struct sockaddr *) &a, &len), 0);
        char *loc;
        ck_assert_int_ge(asprintf(&loc, "etcd://127.0.0.1:%d,127.0.0.1:%d/silent", ntohs(a.sin_port),
                                  shared.client_port[2]), 0);
        mcs_registry_config cfg = {.create = true, .host_id = "host-s", .busy_timeout_ms = 2000};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        mcs_registry *r;
        mcs_err e = {0};
        ck_assert_ok(mcs_registry_open(loc, &cfg, &r, &e), &e);
        mcs_record rec;
        mcs_guest g = guest(U1, "silent", MCS_KIND_DYNAMIC);
        ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        mcs_registry_close(r);
        close(silent);
        free(loc);
}
END_TEST

/* A copy fills a registry through the backend's import operations: records,
 * history and originals exactly as given; a handle open meanwhile sees the
 * imported records as held. */
/* A history entry's "who" is read back exactly ({uid, pid}), absent for
 * an entry without it, and refused when no process could have asked. */
START_TEST(history_who_is_checked) {
        char *loc = etcd_location(&shared, "whohist", NULL);
        mcs_registry *reg = open_shared("whohist", "host-a", NULL);
        mcs_registry_config cfg = {.create = true, .host_id = "copier", .busy_timeout_ms = 15000};
        mcs_backend *b;
        mcs_history_list l;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_ok(mcs_backend_etcd.open(loc + strlen("etcd:"), &cfg, &b, &e), &e);
        mcs_record rec = {.name = (char *) "w", .label = (char *) "s0:c3,c4", .kind = MCS_KIND_STATIC,
                          .host = (char *) "old-host", .created_us = 1000, .updated_us = 2000, .generation = 7};
        snprintf(rec.uuid, sizeof rec.uuid, "%s", U1);
        mcs_history_entry h = {.at_us = 900, .op = MCS_OP_RESERVE, .rec = rec};
        ck_assert_ok(mcs_backend_etcd.import_history(b, &h, &e), &e);
        h.at_us = 950;
        h.who = (mcs_actor){.known = true, .uid = 0, .pid = 31337};
        ck_assert_ok(mcs_backend_etcd.import_history(b, &h, &e), &e);
        ck_assert_ok(mcs_registry_history_query(reg, &(mcs_history_query){0}, &l, NULL, &e), &e);
        ck_assert_uint_eq(l.n, 2);
        ck_assert(l.v[0].who.known);
        ck_assert_int_eq(l.v[0].who.pid, 31337);
        ck_assert(!l.v[1].who.known);
        mcs_history_list_clear(&l);
        h.at_us = 990;
        h.who.pid = -4;
        ck_assert_ok(mcs_backend_etcd.import_history(b, &h, &e), &e);
        ck_assert_fails(mcs_registry_history_query(reg, &(mcs_history_query){0}, &l, NULL, &e), &e, MCS_E_SCHEMA,
                        "who is no uid and pid");
        mcs_backend_etcd.close(b);
        mcs_registry_close(reg);
        free(loc);
}
END_TEST

START_TEST(imports_fill_a_registry) {
        char *loc = etcd_location(&shared, "import", NULL);
        mcs_registry *reg = open_shared("import", "host-a", NULL);
        mcs_registry_config cfg = {.create = true, .host_id = "copier", .busy_timeout_ms = 15000};
        mcs_backend *b;
        mcs_err e = {0};
        mcs_alloc_stats st;
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_ok(mcs_registry_stats(reg, &st, &e), &e); /* the handle's view, before the import */
        ck_assert_ok(mcs_backend_etcd.open(loc + strlen("etcd:"), &cfg, &b, &e), &e);

        mcs_record rec = {.name = (char *) "copied", .label = (char *) "s0:c3,c4", .kind = MCS_KIND_STATIC,
                          .host = (char *) "old-host", .state = MCS_STATE_RUNNING, .created_us = 1000,
                          .updated_us = 2000, .generation = 7};
        snprintf(rec.uuid, sizeof rec.uuid, "%s", U1);
        ck_assert_ok(mcs_backend_etcd.import_record(b, &rec, &e), &e);
        ck_assert_fails(mcs_backend_etcd.import_record(b, &rec, &e), &e, MCS_E_EXISTS, "is there already");
        snprintf(rec.uuid, sizeof rec.uuid, "%s", U2);
        ck_assert_fails(mcs_backend_etcd.import_record(b, &rec, &e), &e, MCS_E_EXISTS, "label s0:c3,c4");
        snprintf(rec.uuid, sizeof rec.uuid, "%s", U1);
        mcs_history_entry h = {.at_us = 900, .op = MCS_OP_RESERVE, .rec = rec};
        ck_assert_ok(mcs_backend_etcd.import_history(b, &h, &e), &e);
        h.at_us = 950;
        h.op = MCS_OP_STATE;
        ck_assert_ok(mcs_backend_etcd.import_history(b, &h, &e), &e);
        mcs_original o = {.path = (char *) "/img/x", .context = (char *) "ctx", .host = (char *) "old-host",
                          .saved_us = 5};
        snprintf(o.uuid, sizeof o.uuid, "%s", U1);
        ck_assert_ok(mcs_backend_etcd.import_original(b, &o, &e), &e);
        ck_assert_fails(mcs_backend_etcd.import_original(b, &o, &e), &e, MCS_E_EXISTS, "/img/x");
        mcs_backend_etcd.close(b);

        mcs_record got;
        ck_assert_ok(mcs_registry_get(reg, U1, &got, &e), &e);
        ck_assert_uint_eq(got.generation, 7);
        ck_assert_str_eq(got.host, "old-host");
        ck_assert_int_eq(got.created_us, 1000);
        ck_assert_int_eq(got.state, MCS_STATE_RUNNING);
        mcs_record_clear(&got);
        mcs_history_list hl;
        ck_assert_ok(mcs_registry_history(reg, U1, &hl, &e), &e);
        ck_assert_uint_eq(hl.n, 2);
        ck_assert_int_eq(hl.v[0].at_us, 900);
        ck_assert_int_eq(hl.v[1].op, MCS_OP_STATE);
        mcs_history_list_clear(&hl);
        mcs_original_list ol;
        ck_assert_ok(mcs_registry_originals(reg, U1, &ol, &e), &e);
        ck_assert_uint_eq(ol.n, 1);
        ck_assert_int_eq(ol.v[0].saved_us, 5);
        mcs_original_list_clear(&ol);
        mcs_guest g = guest(U3, "new", MCS_KIND_STATIC);
        ck_assert_fails(mcs_registry_reserve_label(reg, &g, "s0:c3", &got, NULL, &e), &e, MCS_E_CONFLICT,
                        "held by guest copied");
        mcs_registry_close(reg);
        free(loc);
}
END_TEST

/* A copy's records go in many to a transaction: 300 records,
 * one a range of 100 categories (a key each: it fills a transaction of its
 * own), every one there afterwards and held by the view; a batch whose
 * label is taken is refused whole, nothing of it written. */
START_TEST(batched_imports_fill_a_registry) {
        enum { N = 300 };
        char *loc = etcd_location(&shared, "bulk", NULL);
        mcs_registry_config cfg = {.create = true, .host_id = "copier", .busy_timeout_ms = 15000};
        mcs_backend *b;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_ok(mcs_backend_etcd.open(loc + strlen("etcd:"), &cfg, &b, &e), &e);
        static mcs_record v[N];
        static char labels[N][32], names[N][16];
        for (int i = 0; i < N; i++) {
                if (i == 150)
                        snprintf(labels[i], sizeof labels[i], "s0:c500.c599");
                else
                        snprintf(labels[i], sizeof labels[i], "s0:c%d,c%d", i / 10, 200 + i);
                snprintf(names[i], sizeof names[i], "bulk-%d", i);
                v[i] = (mcs_record){.name = names[i], .label = labels[i], .kind = MCS_KIND_STATIC,
                                    .host = (char *) "old-host", .created_us = 1000 + i, .updated_us = 2000 + i,
                                    .generation = 1};
                snprintf(v[i].uuid, sizeof v[i].uuid, "00000000-0000-4000-8000-%012d", i);
        }
        ck_assert_ok(mcs_backend_etcd.import_records(b, v, N, &e), &e);
        /* Two new guests, the second with a label taken: neither is written. */
        mcs_record more[2] = {v[0], v[1]};
        snprintf(more[0].uuid, sizeof more[0].uuid, "%s", U3);
        more[0].label = (char *) "s0:c900,c901";
        snprintf(more[1].uuid, sizeof more[1].uuid, "%s", U4);
        ck_assert_fails(mcs_backend_etcd.import_records(b, more, 2, &e), &e, MCS_E_EXISTS, "is there already");
        mcs_backend_etcd.close(b);

        mcs_registry *reg = open_shared("bulk", "host-a", NULL);
        mcs_record_list l;
        mcs_alloc_stats st;
        mcs_record got;
        ck_assert_ok(mcs_registry_list(reg, NULL, &l, &e), &e);
        ck_assert_uint_eq(l.n, N);
        mcs_record_list_clear(&l);
        ck_assert_ok(mcs_registry_get(reg, "00000000-0000-4000-8000-000000000150", &got, &e), &e);
        ck_assert_str_eq(got.label, "s0:c500.c599");
        ck_assert_int_eq(got.created_us, 1150);
        mcs_record_clear(&got);
        ck_assert_fails(mcs_registry_get(reg, U3, &got, &e), &e, MCS_E_NOTFOUND, "");
        ck_assert_ok(mcs_registry_stats(reg, &st, &e), &e);
        mcs_guest g = guest("55555555-5555-4555-8555-555555555555", "new", MCS_KIND_STATIC);
        ck_assert_fails(mcs_registry_reserve_label(reg, &g, "s0:c550", &got, NULL, &e), &e, MCS_E_CONFLICT,
                        "bulk-150");
        ck_assert_fails(mcs_registry_reserve_label(reg, &g, "s0:c29,c499", &got, NULL, &e), &e, MCS_E_CONFLICT,
                        "bulk-299");
        mcs_registry_close(reg);
        free(loc);
}
END_TEST

/* A registry larger than one page of a range (10,000 keys, json.c): the
 * scan reads page after page at one revision and hands every record over
 * once; the view holds them all. */
START_TEST(scan_reads_every_page) {
        enum { N = 25000 };
        char *loc = etcd_location(&shared, "pages", NULL);
        mcs_registry_config cfg = {.create = true, .host_id = "copier", .busy_timeout_ms = 15000};
        mcs_backend *b;
        mcs_err e = {0};
        mcs_catset_add_range(&cfg.pool, 0, 1023);
        ck_assert_ok(mcs_backend_etcd.open(loc + strlen("etcd:"), &cfg, &b, &e), &e);
        mcs_record *v = calloc(N, sizeof *v);
        char (*labels)[24] = calloc(N, sizeof *labels);
        ck_assert_ptr_nonnull(v);
        ck_assert_ptr_nonnull(labels);
        for (int i = 0; i < N; i++) {
                snprintf(labels[i], sizeof labels[i], "s0:c%d,c%d", i / 900, 100 + i % 900);
                v[i] = (mcs_record){.name = (char *) "paged", .label = labels[i], .kind = MCS_KIND_STATIC,
                                    .host = (char *) "old-host", .created_us = 1, .updated_us = 1, .generation = 1};
                snprintf(v[i].uuid, sizeof v[i].uuid, "00000000-0000-4000-8000-%012d", i);
        }
        ck_assert_ok(mcs_backend_etcd.import_records(b, v, N, &e), &e);
        mcs_backend_etcd.close(b);
        free(v);
        free(labels);

        mcs_registry *reg = open_shared("pages", "host-a", NULL);
        mcs_alloc_stats st;
        mcs_record_list l;
        ck_assert_ok(mcs_registry_stats(reg, &st, &e), &e);
        ck_assert_uint_eq(st.held_pairs, N);
        ck_assert_ok(mcs_registry_list(reg, NULL, &l, &e), &e);
        ck_assert_uint_eq(l.n, N);
        mcs_record_list_clear(&l);
        mcs_record got;
        mcs_guest g = guest("55555555-5555-4555-8555-555555555555", "new", MCS_KIND_STATIC);
        ck_assert_fails(mcs_registry_reserve_label(reg, &g, "s0:c27,c799", &got, NULL, &e), &e, MCS_E_CONFLICT, "paged");
        mcs_registry_close(reg);
        free(loc);
}
END_TEST

/* ---- processes racing ---- */

/* Moving a registry between backends: sqlite -> etcd -> sqlite, every
 * record (static, dynamic, transient, running), the history and the
 * originals, each copy verified; the end equals the start. */
START_TEST(copy_between_sqlite_and_etcd) {
        mcs_registry_config cfg = {.create = true, .host_id = "mover", .busy_timeout_ms = 15000};
        mcs_copy_report rep;
        mcs_record rec;
        mcs_err e = {0};
        char dir[] = "/var/tmp/mcs-copy.XXXXXX", *back, *start, *etcd = etcd_location(&shared, "moved", NULL);
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_ge(asprintf(&start, "%s/start.db", dir), 0);
        ck_assert_int_ge(asprintf(&back, "sqlite://%s/back.db", dir), 0);
        mcs_catset_add_range(&cfg.pool, 0, 1023);

        mcs_registry *src;
        ck_assert_ok(open_at(start, "host-a", NULL, &src, &e), &e);
        mcs_guest d = guest(U1, "dyn", MCS_KIND_DYNAMIC), st = guest(U2, "stat", MCS_KIND_STATIC),
                  tr = guest(U3, "trans", MCS_KIND_TRANSIENT);
        ck_assert_ok(mcs_registry_reserve(src, &d, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_reserve_label(src, &st, "s0:c1.c5", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_reserve_label(src, &tr, "s0:c700,c701", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        ck_assert_ok(mcs_registry_set_state(src, U3, MCS_STATE_RUNNING, NULL, &e), &e);
        ck_assert_ok(mcs_registry_set_name(src, U1, "dyn-renamed", 0, NULL, &e), &e);
        ck_assert_ok(mcs_registry_remember_original(src, U1, "/images/dyn.qcow2", "system_u:object_r:virt_image_t:s0",
                                                    &e), &e);
        mcs_registry_close(src);

        ck_assert_ok(mcs_registry_copy(start, etcd, &cfg, &rep, &e), &e);
        ck_assert_uint_eq(rep.records, 3);
        ck_assert_uint_eq(rep.records_verified, 3);
        ck_assert_uint_eq(rep.history, 5);
        ck_assert_uint_eq(rep.history_verified, 5);
        ck_assert_uint_eq(rep.originals_verified, 1);
        /* A copy into a registry in use is refused. */
        ck_assert_int_eq(mcs_registry_copy(start, etcd, &cfg, &rep, &e), -MCS_E_EXISTS);

        ck_assert_ok(mcs_registry_copy(etcd, back, &cfg, &rep, &e), &e);
        ck_assert_ok(mcs_registry_verify_copy(start, back, &cfg, &rep, &e), &e);
        ck_assert_uint_eq(rep.records_verified, 3);
        ck_assert_uint_eq(rep.history_verified, 5);

        /* The copy on etcd works as a registry: the range's pairs stay taken. */
        mcs_registry *moved = open_when_ready(etcd, "host-b", "c0.c1023");
        mcs_guest other = guest("44444444-4444-4444-4444-444444444444", "other", MCS_KIND_STATIC);
        ck_assert_int_eq(mcs_registry_reserve_label(moved, &other, "s0:c2,c3", &rec, NULL, &e), -MCS_E_CONFLICT);
        mcs_registry_close(moved);
        char *cmd;
        ck_assert_int_ge(asprintf(&cmd, "rm -rf '%s'", dir), 0);
        ck_assert_int_eq(system(cmd), 0);
        free(cmd);
        free(start);
        free(back);
        free(etcd);
}
END_TEST

static mcs_registry *child_open(const char *prefix, const char *host, const char *pool) {
        char *loc = etcd_location(&shared, prefix, NULL);
        mcs_registry *r;
        mcs_err e = {0};
        if (open_at(loc, host, pool, &r, &e) < 0) {
                fprintf(stderr, "%s: open: %s\n", host, e.msg);
                _exit(3);
        }
        free(loc);
        return r;
}

/* a small pool: the two draw the same pairs often */
static void reserver(int worker, int count, int fd) {
        char *loc = etcd_location(&shared, "race", NULL);
        race_reserver(loc, "c0.c19", worker, count, fd, -1);
}

START_TEST(two_hosts_race_for_pairs) {
        enum { WORKERS = 2, EACH = 60 };
        char path[] = "/tmp/mcs-etcd-acks.XXXXXX";
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        unlink(path);
        pid_t pids[WORKERS];
        for (int w = 0; w < WORKERS; w++) {
                pids[w] = fork();
                ck_assert_int_ge(pids[w], 0);
                if (pids[w] == 0)
                        reserver(w, EACH, fd);
        }
        for (int w = 0; w < WORKERS; w++) {
                int status;
                ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
                ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker %d failed (status %d)", w,
                              status);
        }
        race_ack acks[WORKERS * EACH + 1];
        FILE *f = fdopen(fd, "r");
        rewind(f);
        size_t n = race_read_acks(f, acks, WORKERS * EACH + 1);
        fclose(f);
        ck_assert_uint_eq(n, WORKERS * EACH);
        char *loc = etcd_location(&shared, "race", NULL);
        ck_assert_uint_eq(race_verify(loc, "c0.c19", acks, n), n);
        free(loc);
}
END_TEST

/* One side takes a single category or a range, the other a pair inside it,
 * both at once: never both. */
static int racer(const char *host, const char *uuid, const char *label, int ready, int go) {
        mcs_registry *r = child_open("dominance", host, NULL);
        mcs_guest g = guest(uuid, host, MCS_KIND_STATIC);
        mcs_record rec;
        mcs_err e = {0};
        char c = 'r';
        /* both open and their views current, then both go at once (the parent closes go) */
        mcs_alloc_stats st;
        if (mcs_registry_stats(r, &st, &e) < 0 || write(ready, &c, 1) != 1 || read(go, &c, 1) < 0)
                _exit(5);
        int rc = mcs_registry_reserve_label(r, &g, label, &rec, NULL, &e);
        if (rc == 0)
                mcs_record_clear(&rec);
        else if (rc != -(int) MCS_E_CONFLICT)
                fprintf(stderr, "%s %s: %s\n", host, label, e.msg);
        mcs_registry_close(r);
        _exit(rc == 0 ? 0 : rc == -(int) MCS_E_CONFLICT ? 1 : 2);
}

static void release_quietly(mcs_registry *r, const char *uuid) {
        mcs_err e = {0};
        int rc = mcs_registry_release(r, uuid, NULL, &e);
        ck_assert_msg(rc == 0 || rc == -(int) MCS_E_NOTFOUND, "release %s: %s", uuid, e.msg);
}

START_TEST(dominance_race_never_both) {
        enum { ROUNDS = 24 };
        static const char *const big[] = {"s0:c7", "s0:c1.c5"}, *const small[] = {"s0:c7,c8", "s0:c2,c4"};
        mcs_registry *r = open_shared("dominance", "parent", NULL);
        mcs_err e = {0};
        int won[2] = {0, 0};
        for (int round = 0; round < ROUNDS; round++) {
                int go[2], ready[2];
                char ua[40], ub[40], c[2];
                ck_assert_int_eq(pipe(go), 0);
                ck_assert_int_eq(pipe(ready), 0);
                snprintf(ua, sizeof ua, "aaaaaaaa-0000-4000-8000-%012d", round);
                snprintf(ub, sizeof ub, "bbbbbbbb-0000-4000-8000-%012d", round);
                pid_t pa = fork();
                if (pa == 0) {
                        close(go[1]);
                        racer("host-a", ua, big[round % 2], ready[1], go[0]);
                }
                pid_t pb = fork();
                if (pb == 0) {
                        close(go[1]);
                        racer("host-b", ub, small[round % 2], ready[1], go[0]);
                }
                ck_assert_int_gt(pa, 0);
                ck_assert_int_gt(pb, 0);
                ck_assert_int_eq(read(ready[0], c, 1), 1);
                ck_assert_int_eq(read(ready[0], c + 1, 1), 1);
                close(ready[0]);
                close(ready[1]);
                close(go[0]);
                close(go[1]);
                int sa, sb;
                ck_assert_int_eq(waitpid(pa, &sa, 0), pa);
                ck_assert_int_eq(waitpid(pb, &sb, 0), pb);
                ck_assert_msg(WIFEXITED(sa) && WIFEXITED(sb) && WEXITSTATUS(sa) < 2 && WEXITSTATUS(sb) < 2,
                              "round %d: a racer failed (%d, %d)", round, sa, sb);
                ck_assert_msg(!(WEXITSTATUS(sa) == 0 && WEXITSTATUS(sb) == 0), "round %d: %s and %s both reserved",
                              round, big[round % 2], small[round % 2]);
                ck_assert_msg(WEXITSTATUS(sa) == 0 || WEXITSTATUS(sb) == 0, "round %d: neither reserved", round);
                won[WEXITSTATUS(sa) == 0 ? 0 : 1]++;
                /* the registry agrees: exactly the winner holds */
                mcs_record_list l;
                ck_assert_ok(mcs_registry_list(r, NULL, &l, &e), &e);
                ck_assert_uint_eq(l.n, 1);
                mcs_record_list_clear(&l);
                release_quietly(r, ua);
                release_quietly(r, ub);
        }
        fprintf(stderr, "dominance race: the range or single category won %d rounds, the pair %d\n", won[0], won[1]);
        mcs_registry_close(r);
}
END_TEST

/* ---- members lost ---- */

static int reserve_n(mcs_registry *r, int from, int n, mcs_err *e) {
        for (int i = from; i < from + n; i++) {
                char uuid[40];
                mcs_record rec;
                snprintf(uuid, sizeof uuid, "cccccccc-0000-4000-8000-%012d", i);
                mcs_guest g = guest(uuid, "q", MCS_KIND_DYNAMIC);
                int rc = mcs_registry_reserve(r, &g, &rec, NULL, e);
                if (rc < 0)
                        return rc;
                mcs_record_clear(&rec);
        }
        return 0;
}

START_TEST(member_killed_then_quorum_lost_and_regained) {
        etcd_cluster c;
        mcs_err e = {0};
        char line[1024];
        etcd_start(&c, false);
        char *loc = etcd_location(&c, "quorum", NULL);
        mcs_registry *r = open_when_ready(loc, "host-q", NULL);
        ck_assert_ok(reserve_n(r, 0, 10, &e), &e);

        /* one member of three gone: the others still make a quorum */
        etcd_kill(&c, 0);
        ck_assert_ok(reserve_n(r, 10, 10, &e), &e);
        ck_assert_ok(mcs_registry_health(r, line, sizeof line, &e), &e);
        ck_assert_msg(strstr(line, "2 of 3 endpoints healthy") != NULL, "health: %s", line);

        /* two gone: no quorum; writes and health fail with a clear error, nothing crashes */
        etcd_kill(&c, 1);
        int rc = reserve_n(r, 20, 1, &e);
        ck_assert_msg(rc == -(int) MCS_E_IO, "reserve without quorum returned %d: %s", rc, e.msg);
        ck_assert_msg(strstr(e.msg, "etcd at 127.0.0.1:") != NULL, "message: %s", e.msg);
        ck_assert_int_eq(mcs_registry_health(r, line, sizeof line, &e), -(int) MCS_E_IO);
        ck_assert_msg(strstr(e.msg, "no quorum") != NULL, "message: %s", e.msg);

        /* back: the same handle works again, nothing acknowledged was lost */
        etcd_restart(&c, 0);
        etcd_restart(&c, 1);
        for (int i = 0; i < 240 && mcs_registry_health(r, line, sizeof line, &e) < 0; i++)
                usleep(250000);
        ck_assert_ok(reserve_n(r, 20, 10, &e), &e);
        mcs_record_list l;
        ck_assert_ok(mcs_registry_list(r, NULL, &l, &e), &e);
        ck_assert_uint_eq(l.n, 30);
        mcs_record_list_clear(&l);
        mcs_registry_close(r);
        free(loc);
        etcd_stop(&c);
}
END_TEST

START_TEST(tls_with_client_certificates) {
        etcd_cluster c;
        mcs_err e = {0};
        mcs_registry *r;
        char *q, *loc;
        etcd_start(&c, true);
        ck_assert_int_ge(asprintf(&q, "cacert=%s/ca.pem&cert=%s/client.pem&key=%s/client-key.pem", c.dir, c.dir, c.dir),
                         0);
        loc = etcd_location(&c, "tls", q);
        r = open_when_ready(loc, "host-t", NULL);
        mcs_record rec;
        mcs_guest g = guest(U1, "secure", MCS_KIND_DYNAMIC);
        ck_assert_ok(mcs_registry_reserve(r, &g, &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        mcs_registry_close(r);
        free(loc);
        free(q);

        /* the CA alone, no client certificate: etcd refuses the connection */
        ck_assert_int_ge(asprintf(&q, "cacert=%s/ca.pem", c.dir), 0);
        loc = etcd_location(&c, "tls", q);
        ck_assert_fails(open_at(loc, "host-t", NULL, &r, &e), &e, MCS_E_IO,
                        "if etcd wants a client certificate, give cert= and key=");
        free(loc);
        free(q);
        /* plain http to a TLS endpoint fails too */
        loc = etcd_location(&c, "tls", NULL);
        ck_assert_fails(open_at(loc, "host-t", NULL, &r, &e), &e, MCS_E_IO, "etcd at 127.0.0.1:");
        free(loc);
        /* a server certificate from another CA is not trusted */
        ck_assert_int_ge(asprintf(&q, "cert=%s/client.pem&key=%s/client-key.pem", c.dir, c.dir), 0);
        loc = etcd_location(&c, "tls", q);
        ck_assert_fails(open_at(loc, "host-t", NULL, &r, &e), &e, MCS_E_IO, "certificate");
        free(q);
        free(loc);
        etcd_stop(&c);
}
END_TEST

int main(void) {
        if (access("/usr/bin/etcd", X_OK) != 0) {
                fprintf(stderr, "etcd is not installed (Debian: etcd-server; scripts/deps.sh): skipped\n");
                return 77;
        }
        Suite *s = suite_create("registry-etcd");
        TCase *tc = tcase_create("shared cluster");
        tcase_add_unchecked_fixture(tc, shared_start, shared_stop);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, too_many_categories_for_one_transaction);
        tcase_add_test(tc, hosts_health_and_options);
        tcase_add_test(tc, compaction_and_a_new_registry_at_the_prefix);
        tcase_add_test(tc, registry_made_only_when_told);
        tcase_add_test(tc, imports_fill_a_registry);
        tcase_add_test(tc, batched_imports_fill_a_registry);
        tcase_add_test(tc, scan_reads_every_page);
        tcase_add_test(tc, history_who_is_checked);
        tcase_add_test(tc, copy_between_sqlite_and_etcd);
        tcase_add_test(tc, lost_answer_is_recognised);
        tcase_add_test(tc, silent_endpoint_is_skipped);
        tcase_add_test(tc, two_hosts_race_for_pairs);
        tcase_add_test(tc, dominance_race_never_both);
        registry_api_add(tc, &etcd_backend); /* on this cluster too */
        suite_add_tcase(s, tc);
        TCase *own = tcase_create("own cluster");
        tcase_set_timeout(own, 120);
        tcase_add_test(own, member_killed_then_quorum_lost_and_regained);
        tcase_add_test(own, tls_with_client_certificates);
        suite_add_tcase(s, own);
        return test_run(s);
}
