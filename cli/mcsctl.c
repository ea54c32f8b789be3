/* mcsctl: inspect and change mcsd's reservations through its control socket. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "hook.h"
#include "mcs-config.h"
#include "mcs-registry.h"
#include "table.h"

typedef struct cmd cmd;
typedef int (*cmd_fn)(const cmd *c, int argc, char **argv);

struct cmd {
        const char *name, *args, *brief, *summary, *options;
        cmd_fn fn;
};

static client_opts opts = {.timeout_ms = 120000};
static bool json_out;

/* ---- helpers ---- */

static const char *str(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v)
                       : NULL;
}

static json_object *obj(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static long long num(json_object *o, const char *key) {
        json_object *v = obj(o, key);
        return v ? (long long) json_object_get_int64(v) : 0;
}

static bool flag(json_object *o, const char *key) {
        json_object *v = obj(o, key);
        return v && json_object_get_boolean(v);
}

static void print_json(json_object *o) {
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void help(const cmd *c, FILE *f) {
        fprintf(f, "Usage: mcsctl [GLOBAL OPTIONS] %s%s%s\n%s\n", c->name, c->args[0] ? " " : "", c->args, c->summary);
        if (c->options[0])
                fprintf(f, "\nOptions:\n%s", c->options);
        fprintf(f, "  -h, --help           show this help\n");
}

/* Parses a command's options; returns the index of the first operand, or
 * -1 after printing the error (or -2 after --help). want_operands below
 * 0: up to -want_operands of them. */
static int parse(const cmd *c, int argc, char **argv, const struct option *lo, const char *so,
                 void (*set)(int opt, const char *arg, void *ctx), void *ctx, int want_operands) {
        int ch;
        optind = 0; /* 0, not 1: glibc forgets the "+" mode of the global parse */
        opterr = 0;
        while ((ch = getopt_long(argc, argv, so, lo, NULL)) != -1) {
                if (ch == 'h') {
                        help(c, stdout);
                        return -2;
                }
                if (ch == '?' || ch == ':') {
                        const char *bad = argv[optind - 1];
                        fprintf(stderr, "mcsctl %s: %s '%s'\n", c->name,
                                ch == ':' ? "missing value for option" : "unknown option", bad);
                        help(c, stderr);
                        return -1;
                }
                set(ch, optarg, ctx);
        }
        int at_most = want_operands < 0 ? -want_operands : want_operands;
        want_operands = want_operands < 0 ? 0 : want_operands;
        if (argc - optind < want_operands || argc - optind > at_most) {
                if (argc - optind < want_operands)
                        fprintf(stderr, "mcsctl %s: missing %s\n", c->name, c->args);
                else
                        fprintf(stderr, "mcsctl %s: unexpected argument '%s'\n", c->name, argv[optind + at_most]);
                help(c, stderr);
                return -1;
        }
        return optind;
}

#define PARSE_OR_RETURN(idx, ...)                              \
        int idx = parse(__VA_ARGS__);                          \
        (void) idx;                                            \
        if (idx < 0)                                           \
        return idx == -2 ? EXIT_OK : EXIT_USAGE

static const struct option help_only[] = {{"help", no_argument, NULL, 'h'}, {0}};
static void no_options(int opt, const char *arg, void *ctx) {
        (void) opt;
        (void) arg;
        (void) ctx;
}

static int call(const char *method, json_object *params, json_object **result) {
        return client_call(&opts, method, params, result);
}

static void format_time(long long us, char *buf, size_t len) {
        time_t t = (time_t) (us / 1000000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- commands ---- */

static int cmd_status(const cmd *c, int argc, char **argv) {
        PARSE_OR_RETURN(i, c, argc, argv, help_only, ":h", no_options, NULL, 0);
        json_object *r;
        int rc = call("status", NULL, &r);
        if (rc)
                return rc;
        if (json_out)
                print_json(r);
        else {
                json_object *reg = obj(r, "registry"), *lv = obj(r, "libvirt"), *lb = obj(r, "labels"),
                            *g = obj(r, "guests");
                printf("mcsd:       %s (pid %lld)\n", str(r, "version"), num(r, "pid"));
                printf("host:       %s\n", str(r, "host"));
                printf("registry:   %s (%s): %s\n", str(reg, "location"), str(reg, "backend"), str(reg, "health"));
                json_object *hosts = obj(reg, "hosts");
                for (size_t k = 0; hosts && k < json_object_array_length(hosts); k++) {
                        json_object *h = json_object_array_get_idx(hosts, k);
                        char when[32];
                        format_time(num(h, "seen_us"), when, sizeof when);
                        printf("%s %s, last heartbeat %s%s\n", k ? "           " : "hosts:     ", str(h, "host"), when,
                               flag(h, "silent") ? ": SILENT, its records are kept until `mcsctl gc --host` releases them"
                                                 : "");
                }
                printf("libvirt:    %s (%s)\n", str(lv, "uri"), flag(lv, "connected") ? "connected" : "not connected");
                if (str(lv, "security_models"))
                        printf("security:   %s\n", str(lv, "security_models"));
                printf("labelling:  %s\n", str(r, "labelling_why"));
                printf("range:      %s\n", str(r, "range"));
                if (str(lb, "error"))
                        printf("labels:     unknown: %s\n", str(lb, "error"));
                else
                        printf("labels:     %lld held; %lld of %lld pairs free\n", num(lb, "held"), num(lb, "free_pairs"),
                               num(lb, "pool_pairs"));
                printf("guests:     %lld managed, %lld unmanaged, %lld refused, %lld failed, %lld waiting for a label, "
                       "%lld in collision (this host)\n",
                       num(g, "managed"), num(g, "unmanaged"), num(g, "refused"), num(g, "failed"), num(g, "waiting"),
                       num(g, "collision"));
                if (num(g, "unverified"))
                        printf("            %lld of them not verified since the registry failed (`mcsctl show` says "
                               "since when)\n",
                               num(g, "unverified"));
                if (num(g, "collision"))
                        printf("COLLISION:  %lld %s with a label another guest holds: they can read each other's "
                               "images now (mcsctl check names them)\n",
                               num(g, "collision"), num(g, "collision") == 1 ? "guest runs" : "guests run");
                json_object *cl = obj(r, "clients");
                printf("clients:    %lld of %lld connected\n", num(cl, "connected"), num(cl, "max"));
                json_object *w = obj(r, "client_writes");
                if (w)
                        printf("writes:     %lld reservations changed by clients in %lld commits (at most %lld in one)\n",
                               num(w, "writes"), num(w, "commits"), num(w, "largest"));
        }
        json_object_put(r);
        return EXIT_OK;
}

static void list_set(int opt, const char *arg, void *ctx) {
        json_object *p = ctx;
        const char *key = opt == 'H' ? "host" : opt == 's' ? "state" : opt == 'k' ? "kind" : "name";
        json_object_object_add(p, key, json_object_new_string(arg));
}

static void records_table(json_object *records) {
        static const char *const head[] = {"UUID", "NAME", "LABEL", "KIND", "STATE", "HOST"};
        table *t = table_new(6, head);
        size_t silent = 0;
        for (size_t i = 0; i < json_object_array_length(records); i++) {
                json_object *x = json_object_array_get_idx(records, i);
                char host[300];
                bool quiet = flag(x, "host_silent");
                snprintf(host, sizeof host, "%s%s", str(x, "host"), quiet ? " (silent)" : "");
                silent += quiet;
                const char *row[] = {str(x, "uuid"), str(x, "name"), str(x, "label"),
                                     str(x, "kind"), str(x, "state"), host};
                table_add(t, row);
        }
        table_print(t);
        table_free(t);
        if (silent)
                printf("%zu record%s on silent hosts: kept until `mcsctl gc --host HOST` releases them\n", silent,
                       silent == 1 ? "" : "s");
}

static int cmd_list(const cmd *c, int argc, char **argv) {
        static const struct option lo[] = {{"host", required_argument, NULL, 'H'}, {"state", required_argument, NULL, 's'},
                                           {"kind", required_argument, NULL, 'k'}, {"name", required_argument, NULL, 'n'},
                                           {"help", no_argument, NULL, 'h'},       {0}};
        json_object *p = json_object_new_object(), *r;
        int i = parse(c, argc, argv, lo, ":H:s:k:n:h", list_set, p, 0);
        if (i < 0) {
                json_object_put(p);
                return i == -2 ? EXIT_OK : EXIT_USAGE;
        }
        int rc = call("list", p, &r);
        if (rc)
                return rc;
        if (json_out)
                print_json(r);
        else
                records_table(obj(r, "records"));
        json_object_put(r);
        return EXIT_OK;
}

static json_object *guest_param(const char *guest) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "guest", json_object_new_string(guest));
        return p;
}

static void show_libvirt(json_object *lv) {
        json_object *sl = obj(lv, "seclabel"), *disks = obj(lv, "disks");
        printf("on this host: %s, %s%s%s\n", flag(lv, "active") ? "running" : "shut off",
               flag(lv, "persistent") ? "persistent" : "transient", str(lv, "status") ? ", " : "",
               str(lv, "status") ? str(lv, "status") : "");
        if (str(lv, "why"))
                printf("  why:        %s\n", str(lv, "why"));
        if (str(lv, "unverified_since"))
                printf("  not verified since %s: %s\n", str(lv, "unverified_since"), str(lv, "unverified_why"));
        json_object *cw = obj(lv, "collides_with");
        if (cw)
                printf("  collides:   guest '%s' (%s) on host %s%s%s, %s\n", str(cw, "name") ? str(cw, "name") : "?",
                       str(cw, "uuid"), str(cw, "host"), str(cw, "label") ? " holding " : "",
                       str(cw, "label") ? str(cw, "label") : "", str(cw, "state"));
        if (str(lv, "error"))
                printf("  error:      %s\n", str(lv, "error"));
        if (sl)
                printf("  seclabel:   %s, relabel=%s%s%s\n", str(sl, "mode"), flag(sl, "relabel") ? "yes" : "no",
                       str(sl, "label") ? ", " : "", str(sl, "label") ? str(sl, "label") : "");
        if (flag(lv, "active"))
                printf("  live label: %s\n", str(lv, "live_label") ? str(lv, "live_label") : "(none in its XML)");
        if (!disks || !json_object_array_length(disks))
                return;
        static const char *const head[] = {"  DISK", "TYPE", "FLAGS", "LABEL"};
        table *t = table_new(4, head);
        for (size_t i = 0; i < json_object_array_length(disks); i++) {
                json_object *k = json_object_array_get_idx(disks, i);
                char path[4200], flags[64];
                snprintf(path, sizeof path, "  %s", str(k, "path"));
                snprintf(flags, sizeof flags, "%s%s%s", flag(k, "readonly") ? "readonly " : "",
                         flag(k, "shareable") ? "shareable " : "", flag(k, "relabel") ? "" : "norelabel");
                const char *row[] = {path, str(k, "type"), flags[0] ? flags : NULL,
                                     str(k, "label") ? str(k, "label") : str(k, "error")};
                table_add(t, row);
        }
        table_print(t);
        table_free(t);
}

static int cmd_show(const cmd *c, int argc, char **argv) {
        PARSE_OR_RETURN(i, c, argc, argv, help_only, ":h", no_options, NULL, 1);
        json_object *r;
        int rc = call("show", guest_param(argv[i]), &r);
        if (rc)
                return rc;
        if (json_out) {
                print_json(r);
                json_object_put(r);
                return EXIT_OK;
        }
        json_object *res = obj(r, "reservation"), *lv = obj(r, "libvirt");
        printf("guest:        %s (%s)\n", str(r, "name") && *str(r, "name") ? str(r, "name") : "?", str(r, "uuid"));
        if (res) {
                char created[32], updated[32];
                format_time(num(res, "created_us"), created, sizeof created);
                format_time(num(res, "updated_us"), updated, sizeof updated);
                printf("reservation:  %s (%s), %s on host %s\n", str(res, "label"), str(res, "kind"), str(res, "state"),
                       str(res, "host"));
                printf("  since %s, updated %s, generation %lld\n", created, updated, num(res, "generation"));
        } else if (str(r, "registry_error"))
                printf("reservation:  unknown: the registry fails: %s\n", str(r, "registry_error"));
        else
                printf("reservation:  none\n");
        if (lv)
                show_libvirt(lv);
        else
                printf("on this host: not defined\n");
        json_object_put(r);
        return EXIT_OK;
}

static void reserve_set(int opt, const char *arg, void *ctx) {
        json_object_object_add(ctx, opt == 'l' ? "label" : "name", json_object_new_string(arg));
}

static int cmd_reserve(const cmd *c, int argc, char **argv) {
        static const struct option lo[] = {{"label", required_argument, NULL, 'l'}, {"name", required_argument, NULL, 'n'},
                                           {"help", no_argument, NULL, 'h'},        {0}};
        json_object *p = json_object_new_object(), *r;
        int i = parse(c, argc, argv, lo, ":l:n:h", reserve_set, p, 1);
        if (i < 0) {
                json_object_put(p);
                return i == -2 ? EXIT_OK : EXIT_USAGE;
        }
        json_object_object_add(p, "guest", json_object_new_string(argv[i]));
        int rc = call("reserve", p, &r);
        if (rc)
                return rc;
        json_object *rec = obj(r, "record");
        if (json_out)
                print_json(r);
        else if (flag(r, "created"))
                printf("reserved %s for guest '%s' (%s)\n", str(rec, "label"), str(rec, "name"), str(rec, "uuid"));
        else
                printf("guest '%s' (%s) already holds %s\n", str(rec, "name"), str(rec, "uuid"), str(rec, "label"));
        json_object_put(r);
        return EXIT_OK;
}

static int cmd_release(const cmd *c, int argc, char **argv) {
        PARSE_OR_RETURN(i, c, argc, argv, help_only, ":h", no_options, NULL, 1);
        json_object *r;
        int rc = call("release", guest_param(argv[i]), &r);
        if (rc)
                return rc;
        json_object *rec = obj(r, "record");
        if (json_out)
                print_json(r);
        else
                printf("released %s of guest '%s' (%s)\n", str(rec, "label"), str(rec, "name"), str(rec, "uuid"));
        json_object_put(r);
        return EXIT_OK;
}

static void print_report(json_object *x) {
        printf("guest '%s' (%s): %s%s%s%s%s%s\n", str(x, "name"), str(x, "uuid"), str(x, "outcome"),
               str(x, "label") ? ", " : "", str(x, "label") ? str(x, "label") : "",
               flag(x, "rewritten") ? " (written into its XML)" : "", str(x, "why") ? ": " : "",
               str(x, "why") ? str(x, "why") : "");
}

static void relabel_set(int opt, const char *arg, void *ctx) {
        json_object_object_add(ctx, opt == 't' ? "path" : "label", json_object_new_string(arg));
}

static int relabel_tree(json_object *p) {
        json_object *r, *v;
        if (!json_object_object_get_ex(p, "label", &v)) {
                json_object_put(p);
                fprintf(stderr, "mcsctl relabel: --tree needs --label CONTEXT\n");
                return EXIT_USAGE;
        }
        int rc = call("relabel_tree", p, &r);
        if (rc)
                return rc;
        if (json_out)
                print_json(r);
        else
                printf("labelled %lld files and directories; left %lld links and special files alone\n",
                       num(r, "labelled"), num(r, "skipped"));
        json_object_put(r);
        return EXIT_OK;
}

static int cmd_relabel(const cmd *c, int argc, char **argv) {
        static const struct option lo[] = {{"tree", required_argument, NULL, 't'}, {"label", required_argument, NULL, 'l'},
                                           {"help", no_argument, NULL, 'h'},       {0}};
        json_object *p = json_object_new_object(), *r, *v;
        /* relabel GUEST, or relabel --tree PATH --label CONTEXT */
        bool tree = false;
        for (int k = 1; k < argc; k++)
                tree |= !strcmp(argv[k], "--tree") || !strncmp(argv[k], "--tree=", 7);
        int i = parse(c, argc, argv, lo, ":t:l:h", relabel_set, p, tree ? 0 : 1);
        if (i < 0) {
                json_object_put(p);
                return i == -2 ? EXIT_OK : EXIT_USAGE;
        }
        if (tree)
                return relabel_tree(p);
        if (json_object_object_get_ex(p, "label", &v)) {
                json_object_put(p);
                fprintf(stderr, "mcsctl relabel: --label goes with --tree\n");
                return EXIT_USAGE;
        }
        json_object_put(p);
        int rc = call("relabel", guest_param(argv[i]), &r);
        if (rc)
                return rc;
        json_object *images = obj(r, "images");
        size_t bad = 0;
        if (json_out)
                print_json(r);
        else
                print_report(r);
        for (size_t k = 0; images && k < json_object_array_length(images); k++) {
                json_object *x = json_object_array_get_idx(images, k);
                bad += str(x, "error") != NULL;
                if (json_out)
                        continue;
                if (str(x, "error"))
                        printf("  %s: FAILED: %s\n", str(x, "path"), str(x, "error"));
                else if (str(x, "note"))
                        printf("  %s: %s\n", str(x, "path"), str(x, "note"));
                else
                        printf("  %s: %s %s%s%s%s\n", str(x, "path"), str(x, "outcome"), str(x, "context"),
                               str(x, "previous") ? " (was " : "", str(x, "previous") ? str(x, "previous") : "",
                               str(x, "previous") ? ")" : "");
        }
        rc = bad || (str(r, "outcome") && !strcmp(str(r, "outcome"), "refused")) ? EXIT_FAILED : EXIT_OK;
        json_object_put(r);
        return rc;
}

static int cmd_check(const cmd *c, int argc, char **argv) {
        PARSE_OR_RETURN(i, c, argc, argv, help_only, ":h", no_options, NULL, 0);
        json_object *r;
        int rc = call("check", NULL, &r);
        if (rc)
                return rc;
        json_object *problems = obj(r, "problems"), *lv = obj(r, "libvirt");
        size_t n = problems ? json_object_array_length(problems) : 0;
        const char *reg_err = str(r, "registry_error");
        if (json_out)
                print_json(r);
        else {
                for (size_t k = 0; k < n; k++) {
                        json_object *x = json_object_array_get_idx(problems, k);
                        printf("%s (%s): %s\n", str(x, "name"), str(x, "uuid"), str(x, "problem"));
                }
                for (size_t k = 0; lv && k < json_object_array_length(lv); k++) {
                        json_object *x = json_object_array_get_idx(lv, k);
                        printf("%s (%s): %s, %s%s%s%s%s\n", str(x, "name"), str(x, "uuid"),
                               flag(x, "active") ? "running" : "shut off",
                               str(x, "status") ? str(x, "status") : "not seen yet",
                               str(x, "unverified_since") ? ", not verified since " : "",
                               str(x, "unverified_since") ? str(x, "unverified_since") : "", str(x, "why") ? ": " : "",
                               str(x, "why") ? str(x, "why") : "");
                }
                if (reg_err)
                        printf("registry: FAILING: %s\nreservations not compared: %zu problem%s known; %lld guests on "
                               "this host as libvirt has them\n",
                               reg_err, n, n == 1 ? "" : "s", num(r, "guests"));
                else
                        printf("%zu problem%s; %lld guests on this host, %lld reservations held by it\n", n,
                               n == 1 ? "" : "s", num(r, "guests"), num(r, "records"));
        }
        json_object_put(r);
        return n ? EXIT_PROBLEMS : reg_err ? EXIT_NO_REGISTRY : EXIT_OK;
}

static int cmd_import(const cmd *c, int argc, char **argv) {
        PARSE_OR_RETURN(i, c, argc, argv, help_only, ":h", no_options, NULL, 0);
        json_object *r;
        int rc = call("import", NULL, &r);
        if (rc)
                return rc;
        json_object *guests = obj(r, "guests");
        size_t failed = 0;
        static const char *const head[] = {"NAME", "UUID", "OUTCOME", "LABEL", "WHY"};
        table *t = json_out ? NULL : table_new(5, head);
        for (size_t k = 0; k < json_object_array_length(guests); k++) {
                json_object *x = json_object_array_get_idx(guests, k);
                const char *outcome = str(x, "outcome");
                failed += outcome && (!strcmp(outcome, "failed") || !strcmp(outcome, "refused") ||
                                    !strcmp(outcome, "waiting"));
                const char *row[] = {str(x, "name"), str(x, "uuid"), outcome, str(x, "label"), str(x, "why")};
                table_add(t, row);
        }
        if (json_out)
                print_json(r);
        table_print(t);
        table_free(t);
        json_object_put(r);
        return failed ? EXIT_FAILED : EXIT_OK;
}

static void nfs_set(int opt, const char *arg, void *ctx) {
        if (opt == 't')
                json_object_object_add(ctx, "type", json_object_new_string(arg));
        else
                json_object_object_add(ctx, "remove", json_object_new_boolean(1));
}

static int cmd_nfs_export(const cmd *c, int argc, char **argv) {
        static const struct option lo[] = {{"type", required_argument, NULL, 't'}, {"remove", no_argument, NULL, 'r'},
                                           {"help", no_argument, NULL, 'h'},       {0}};
        json_object *p = json_object_new_object(), *r;
        int i = parse(c, argc, argv, lo, ":t:rh", nfs_set, p, 1);
        if (i < 0) {
                json_object_put(p);
                return i == -2 ? EXIT_OK : EXIT_USAGE;
        }
        json_object_object_add(p, "path", json_object_new_string(argv[i]));
        int rc = call("nfs_export", p, &r);
        if (rc)
                return rc;
        if (json_out)
                print_json(r);
        else {
                printf("%s: %s -> %s\n", str(r, "outcome"), str(r, "rule"), str(r, "context"));
                if (str(r, "applied"))
                        printf("%s\n", str(r, "applied"));
        }
        json_object_put(r);
        return EXIT_OK;
}

static void gc_set(int opt, const char *arg, void *ctx) {
        if (opt == 'H')
                json_object_object_add(ctx, "host", json_object_new_string(arg));
        else
                json_object_object_add(ctx, opt == 's' ? "static" : "dry_run", json_object_new_boolean(1));
}

static int cmd_gc(const cmd *c, int argc, char **argv) {
        static const struct option lo[] = {{"host", required_argument, NULL, 'H'}, {"static", no_argument, NULL, 's'},
                                           {"dry-run", no_argument, NULL, 'n'},   {"help", no_argument, NULL, 'h'},
                                           {0}};
        json_object *p = json_object_new_object(), *r;
        int i = parse(c, argc, argv, lo, ":H:snh", gc_set, p, 0);
        if (i < 0) {
                json_object_put(p);
                return i == -2 ? EXIT_OK : EXIT_USAGE;
        }
        int rc = call("gc", p, &r);
        if (rc)
                return rc;
        json_object *rel = obj(r, "released");
        bool dry = flag(r, "dry_run");
        if (json_out)
                print_json(r);
        else {
                for (size_t k = 0; k < json_object_array_length(rel); k++) {
                        json_object *x = json_object_array_get_idx(rel, k);
                        printf("%s %s of guest '%s' (%s, host %s)\n", dry ? "would release" : "released",
                               str(x, "label"), str(x, "name"), str(x, "uuid"), str(x, "host"));
                }
                printf("%s %zu, kept %lld\n", dry ? "would release" : "released", json_object_array_length(rel),
                       num(r, "kept"));
        }
        json_object_put(r);
        return EXIT_OK;
}

static int cmd_metrics(const cmd *c, int argc, char **argv) {
        PARSE_OR_RETURN(i, c, argc, argv, help_only, ":h", no_options, NULL, 0);
        json_object *r;
        int rc = call("metrics", NULL, &r);
        if (rc)
                return rc;
        if (json_out)
                print_json(r);
        else
                fputs(str(r, "text") ? str(r, "text") : "", stdout);
        json_object_put(r);
        return EXIT_OK;
}

/* ---- history ---- */

typedef struct history_args {
        json_object *p;
        const char *since, *until, *limit, *before;
} history_args;

static void history_set(int opt, const char *arg, void *ctx) {
        history_args *a = ctx;
        switch (opt) {
        case 'l': json_object_object_add(a->p, "label", json_object_new_string(arg)); break;
        case 'H': json_object_object_add(a->p, "host", json_object_new_string(arg)); break;
        case 's': a->since = arg; break;
        case 'u': a->until = arg; break;
        case 'n': a->limit = arg; break;
        case 'b': a->before = arg; break;
        }
}

/* A TIME option as mcsd takes it: checked here (a usage error, not
 * mcsd's), an age turned into the time it names on this clock. */
static int history_time(json_object *p, const char *key, const char *text) {
        struct timespec ts;
        int64_t us;
        mcs_err e = {0};
        char iso[32];
        if (!text)
                return 0;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (mcs_history_parse_time(text, (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000, &us, &e) < 0) {
                fprintf(stderr, "mcsctl history: --%s: %s\n", key, e.msg);
                return -1;
        }
        format_time(us, iso, sizeof iso);
        json_object_object_add(p, key, json_object_new_string(iso));
        return 0;
}

static int history_count(json_object *p, const char *key, const char *text, long long max) {
        char *end;
        if (!text)
                return 0;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        /* Digits only: strtoll would take a sign or leading blanks. */
        if (!*text || *end || errno || strspn(text, "0123456789") != strlen(text) || v < 1 || v > max) {
                fprintf(stderr, "mcsctl history: --%s '%s' is not a number from 1 to %lld\n", key, text, max);
                return -1;
        }
        json_object_object_add(p, key, json_object_new_int64(v));
        return 0;
}

static void history_table(json_object *entries) {
        static const char *const head[] = {"TIME", "OP", "NAME", "UUID", "LABEL", "STATE", "HOST", "ASKED BY"};
        table *t = table_new(8, head);
        for (size_t k = 0; k < json_object_array_length(entries); k++) {
                json_object *x = json_object_array_get_idx(entries, k), *uid = obj(x, "uid");
                char by[64];
                if (uid && !json_object_is_type(uid, json_type_null))
                        snprintf(by, sizeof by, "uid %lld pid %lld", num(x, "uid"), num(x, "pid"));
                else
                        snprintf(by, sizeof by, "mcsd");
                const char *row[] = {str(x, "time"), str(x, "op"), str(x, "name"), str(x, "uuid"),
                                     str(x, "label"), str(x, "state"), str(x, "host"), by};
                table_add(t, row);
        }
        table_print(t);
        table_free(t);
}

static int cmd_history(const cmd *c, int argc, char **argv) {
        static const struct option lo[] = {{"label", required_argument, NULL, 'l'}, {"host", required_argument, NULL, 'H'},
                                           {"since", required_argument, NULL, 's'}, {"until", required_argument, NULL, 'u'},
                                           {"limit", required_argument, NULL, 'n'}, {"before", required_argument, NULL, 'b'},
                                           {"help", no_argument, NULL, 'h'},        {0}};
        history_args a = {.p = json_object_new_object()};
        json_object *r;
        int i = parse(c, argc, argv, lo, ":l:H:s:u:n:b:h", history_set, &a, -1);
        if (i < 0 || history_time(a.p, "since", a.since) < 0 || history_time(a.p, "until", a.until) < 0 ||
            history_count(a.p, "limit", a.limit, MCS_HISTORY_PAGE_MAX) < 0 ||
            history_count(a.p, "before", a.before, INT64_MAX) < 0) {
                json_object_put(a.p);
                if (i >= 0)
                        help(c, stderr);
                return i == -2 ? EXIT_OK : EXIT_USAGE;
        }
        if (i < argc)
                json_object_object_add(a.p, "guest", json_object_new_string(argv[i]));
        int rc = call("history", a.p, &r);
        if (rc)
                return rc;
        if (json_out)
                print_json(r);
        else {
                history_table(obj(r, "entries"));
                if (num(r, "next"))
                        printf("more: add --before %lld for the next page\n", num(r, "next"));
                else if (num(r, "history_from"))
                        printf("the history begins at entry %lld: the registry's older entries were moved away, "
                               "and their history with them\n", num(r, "history_from"));
        }
        json_object_put(r);
        return EXIT_OK;
}

static const cmd commands[] = {
        {"status", "", "daemon, registry, libvirt connection, label counts",  "Show the daemon, its registry, its libvirt connection and how many labels are held.", "",
         cmd_status},
        {"list", "", "reservations of every host",  "List the reservations in the registry, every host's.",
         "      --host HOST      only those held by HOST\n"
         "      --state STATE    reserved or running\n"
         "      --kind KIND      dynamic, static or transient\n"
         "      --name NAME      only guests named NAME\n",
         cmd_list},
        {"show", "GUEST", "one guest: reservation, labels, disk images",  "Show a guest (by name or UUID): its reservation, and on this host its XML label, live\n"
                          "label and the labels of its disk images.",
         "", cmd_show},
        {"history", "[GUEST]", "who held which label, when, where, asked by whom",
         "Show the registry's history, newest first: every reservation, release and state change, with\n"
         "its time (UTC), guest, label, host, and the uid and pid that asked through the control socket\n"
         "(\"mcsd\" for mcsd's own changes). GUEST is a name or UUID; a name no guest has now matches the\n"
         "entries recorded under it. TIME is ISO-8601 UTC (2026-12-01T10:00:00Z), 'YYYY-MM-DD[ HH:MM[:SS]]'\n"
         "(UTC) or an age: 30m, 2h, 3d, 1w. On dir:// and nfs:// registries the history is the log: entries\n"
         "an operator moved away (docs/registry.md) are no longer in it.",
         "      --label LEVEL    only labels equal to, containing or contained in LEVEL\n"
         "      --host HOST      only entries recorded on HOST\n"
         "      --since TIME     only entries at or after TIME\n"
         "      --until TIME     only entries at or before TIME\n"
         "      --limit N        at most N entries (default 50, at most 1000)\n"
         "      --before SEQ     the page after the one that said 'more: add --before SEQ'\n",
         cmd_history},
        {"reserve", "GUEST", "reserve a label for a guest, defined yet or not", 
         "Reserve a label for a guest (a name on this host or in the registry, or a UUID, also of a guest\n"
         "not defined yet). No host can take the label afterwards. A guest defined here gets it in its XML.",
         "      --label LEVEL    this label (s0:cA,cB) instead of a free pair from the range\n"
         "      --name NAME      the name to record for a guest not defined yet\n",
         cmd_reserve},
        {"release", "GUEST", "release a guest's reservation", 
         "Release a guest's reservation. Refused while the guest runs, or is defined on this host\n"
         "(undefine it: mcsd then releases its label itself).",
         "", cmd_release},
        {"relabel", "GUEST", "apply the rules to a guest of this host now",
         "Apply the rules to a guest of this host now and write its static label.\n"
         "With --tree PATH --label CONTEXT instead of GUEST: label every file and directory under PATH\n"
         "with CONTEXT (checked against the policy first), a thread per core; links are not followed.",
         "      --tree PATH      label the tree under PATH instead of a guest\n"
         "      --label CONTEXT  the context for --tree, e.g. system_u:object_r:virt_content_t:s0\n",
         cmd_relabel},
        {"check", "", "compare registry, libvirt and images",  "Compare the registry, this host's guests and their images; print every discrepancy.\n"
                      "Exits with 5 when there is any, with 6 when the registry cannot be read (libvirt's view is\n"
                      "printed).",
         "", cmd_check},
        {"import", "", "adopt the labels of this host's guests",  "Apply the rules to every guest of this host now, adopting the labels that running guests\n"
                       "and static guests already have, and report each guest.",
         "", cmd_import},
        {"nfs-export", "PATH", "file-context rule for an NFS export root",
         "Add (or with --remove take away) the local file-context rule PATH(/.*)? -> virt_var_lib_t\n"
         "through libsemanage, as the RHEL guide's NFS step asks, and label PATH itself. Idempotent;\n"
         "libsemanage refuses a type the policy does not know. Images under PATH keep their labels.",
         "      --type TYPE      another type than virt_var_lib_t\n"
         "      --remove         take the rule away\n",
         cmd_nfs_export},
        {"gc", "", "release labels of guests that are gone",  "Release the labels of guests this host no longer has (operators' static reservations only\n"
                   "with --static). With --host, every label of that host, which must be gone for good.",
         "      --host HOST      a host that is gone for good\n"
         "      --static         release static reservations too\n"
         "      --dry-run        only show what would be released\n",
         cmd_gc},
        {"metrics", "", "metrics in the Prometheus text format",
         "Print mcsd's metrics in the Prometheus text exposition format: registry health, pool,\n"
         "guests by status, reservations, hook requests and latencies, reconciles, heartbeats.",
         "", cmd_metrics},
};

static void usage(FILE *f) {
        fprintf(f, "Usage: mcsctl [--socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS]\n"
                   "Inspect and change mcsd's label reservations.\n\nCommands:\n");
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
                const cmd *c = &commands[i];
                fprintf(f, "  %-8s %-7s %s\n", c->name, c->args, c->brief);
        }
        fprintf(f, "  %-8s %-7s %s\n", "hook", "...", "libvirt's hook entry point (contrib/libvirt/hooks)");
        fprintf(f, "\nGlobal options:\n"
                   "  -s, --socket PATH    mcsd's control socket (default $MCSD_SOCKET or " MCS_DEFAULT_SOCKET ")\n"
                   "  -j, --json           print mcsd's JSON result instead of text\n"
                   "  -t, --timeout SECS   give up waiting for mcsd after this long (default 120)\n"
                   "  -h, --help           show this help; COMMAND --help shows a command's\n"
                   "\nExit codes: 0 ok, 1 failed, 2 usage error, 3 mcsd unreachable, 4 permission denied,\n"
                   "5 check found problems, 6 check could not read the registry.\n");
}

int main(int argc, char **argv) {
        static const struct option lo[] = {{"socket", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
                                           {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
                                           {0}};
        int ch;
        opts.socket = getenv("MCSD_SOCKET") && *getenv("MCSD_SOCKET") ? getenv("MCSD_SOCKET") : MCS_DEFAULT_SOCKET;
        opterr = 0;
        while ((ch = getopt_long(argc, argv, "+:s:jt:h", lo, NULL)) != -1) {
                switch (ch) {
                case 's':
                        opts.socket = optarg;
                        break;
                case 'j':
                        json_out = true;
                        break;
                case 't': {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || v < 1 || v > 3600) {
                                fprintf(stderr, "mcsctl: --timeout '%s' is not a number of seconds from 1 to 3600\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        opts.timeout_ms = (int) v * 1000;
                        break;
                }
                case 'h':
                        usage(stdout);
                        return EXIT_OK;
                default:
                        fprintf(stderr, "mcsctl: %s '%s'\n", ch == ':' ? "missing value for option" : "unknown option",
                                argv[optind - 1]);
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "mcsctl: no command given\n");
                usage(stderr);
                return EXIT_USAGE;
        }
        if (!strcmp(argv[optind], "hook"))
                return hook_main(argc - optind, argv + optind);
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (!strcmp(commands[i].name, argv[optind]))
                        return commands[i].fn(&commands[i], argc - optind, argv + optind);
        fprintf(stderr, "mcsctl: unknown command '%s'\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
}
