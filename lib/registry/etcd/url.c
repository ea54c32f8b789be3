/* "etcd://h1:2379,h2:2379/prefix?cacert=..&cert=..&key=..&lease_ttl=.." */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"
#include "mcs-macro.h"

static const char *const options[] = {"cacert", "cert", "key", "lease_ttl"};

static int add_endpoint(ec *b, const char *s, size_t n, mcs_err *e) {
        if (n == 0 || n > 255)
                return mcs_fail(e, MCS_E_INVALID, "registry %s: %s endpoint", b->location,
                                n ? "too long an" : "an empty");
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]", s[i]))
                        return mcs_fail(e, MCS_E_INVALID, "registry %s: endpoint '%.*s' has a '%c' at column %zu",
                                        b->location, (int) n, s, s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?', i + 1);
        char **v = realloc(b->endpoints, (b->n_endpoints + 1) * sizeof *v);
        if (!v)
                return ec_fail_nomem(e);
        b->endpoints = v;
        if (!(v[b->n_endpoints] = strndup(s, n)))
                return ec_fail_nomem(e);
        b->n_endpoints++;
        return 0;
}

static int set_option(ec *b, const char *name, size_t nlen, const char *value, char *unknown, size_t ulen,
                      mcs_err *e) {
        size_t i;
        for (i = 0; i < MCS_ARRAY_SIZE(options); i++)
                if (strlen(options[i]) == nlen && strncmp(options[i], name, nlen) == 0)
                        break;
        if (i == MCS_ARRAY_SIZE(options)) {
                snprintf(unknown + strlen(unknown), ulen - strlen(unknown), "%s'%.*s'", *unknown ? ", " : "",
                         (int) nlen, name);
                return 0;
        }
        if (!value || !*value)
                return mcs_fail(e, MCS_E_INVALID, "registry %s: option %s needs a value", b->location, options[i]);
        if (i == 3) {
                char *end;
                long ttl = strtol(value, &end, 10);
                if (*end || ttl < 5 || ttl > 3600)
                        return mcs_fail(e, MCS_E_INVALID, "registry %s: lease_ttl '%s' is not a number of seconds "
                                        "from 5 to 3600", b->location, value);
                b->lease_ttl_s = ttl;
                return 0;
        }
        if (value[0] != '/')
                return mcs_fail(e, MCS_E_INVALID, "registry %s: %s '%s' is not an absolute path", b->location,
                                options[i], value);
        char **slot = i == 0 ? &b->cacert : i == 1 ? &b->cert : &b->key;
        free(*slot);
        if (!(*slot = strdup(value)))
                return ec_fail_nomem(e);
        b->tls = true;
        return 0;
}

static int parse_options(ec *b, char *q, mcs_err *e) {
        char unknown[256] = "";
        for (char *save = NULL, *opt = strtok_r(q, "&", &save); opt; opt = strtok_r(NULL, "&", &save)) {
                char *eq = strchr(opt, '=');
                int r = set_option(b, opt, eq ? (size_t) (eq - opt) : strlen(opt), eq ? eq + 1 : NULL, unknown,
                                   sizeof unknown, e);
                if (r < 0)
                        return r;
        }
        if (*unknown)
                return mcs_fail(e, MCS_E_INVALID, "registry %s: unknown option%s %s (known: cacert, cert, key, "
                                "lease_ttl)", b->location, strchr(unknown, ',') ? "s" : "", unknown);
        if (!b->cert != !b->key)
                return mcs_fail(e, MCS_E_INVALID, "registry %s: a client certificate needs both cert= and key=",
                                b->location);
        return 0;
}

int ec_parse_location(ec *b, const char *location, mcs_err *e) {
        if (strncmp(location, "//", 2) != 0)
                return mcs_fail(e, MCS_E_INVALID, "registry %s: write etcd://HOST:PORT[,HOST:PORT...]/PREFIX",
                                b->location);
        const char *hosts = location + 2;
        size_t hlen = strcspn(hosts, "/?");
        for (const char *p = hosts, *end = hosts + hlen; p <= end;) {
                size_t n = strcspn(p, ",/?");
                if (p + n > end)
                        n = (size_t) (end - p);
                int r = add_endpoint(b, p, n, e);
                if (r < 0)
                        return r;
                p += n + 1;
        }
        const char *path = hosts + hlen;
        size_t plen = strcspn(path, "?");
        if (plen < 2 || path[0] != '/')
                return mcs_fail(e, MCS_E_INVALID, "registry %s: no key prefix: write etcd://HOST:PORT/PREFIX, "
                                "e.g. etcd://%s/mcsd", b->location, b->n_endpoints ? b->endpoints[0] : "host:2379");
        for (size_t i = 0; i < plen; i++)
                if ((unsigned char) path[i] < 0x20 || path[i] == 0x7f)
                        return mcs_fail(e, MCS_E_INVALID, "registry %s: control character in the key prefix",
                                        b->location);
        bool slash = path[plen - 1] == '/';
        if (asprintf(&b->prefix, "%.*s%s", (int) plen, path, slash ? "" : "/") < 0) {
                b->prefix = NULL;
                return ec_fail_nomem(e);
        }
        if (path[plen] == '?') {
                _cleanup_free_ char *q = strdup(path + plen + 1);
                if (!q)
                        return ec_fail_nomem(e);
                return parse_options(b, q, e);
        }
        return 0;
}
