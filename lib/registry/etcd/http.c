/* One JSON request at a time over libcurl, to the first endpoint that
 * answers. An endpoint that cannot be reached, times out, or answers that it
 * is unavailable (no leader, a request timed out inside etcd) is skipped for
 * the next; each attempt is bounded by attempt_ms, so a request waits at most
 * about busy_timeout in all. Retrying a write elsewhere is safe because every
 * write is a conditional transaction that also creates a unique history key:
 * the writers (records.c) read that key when the retry's condition fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"
#include "mcs-macro.h"

typedef struct body {
        char *data;
        size_t len, cap;
} body;

#define BODY_MAX (64u << 20)

static size_t collect(char *p, size_t size, size_t n, void *ctx) {
        body *b = ctx;
        size_t add = size * n;
        if (b->len + add + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                while (cap < b->len + add + 1)
                        cap *= 2;
                char *d = cap <= BODY_MAX ? realloc(b->data, cap) : NULL;
                if (!d)
                        return 0; /* curl fails the transfer */
                b->data = d;
                b->cap = cap;
        }
        memcpy(b->data + b->len, p, add);
        b->len += add;
        b->data[b->len] = 0;
        return add;
}

/* Sets up the handle for one attempt at endpoint i; curl's details of a
 * failure go to errbuf (CURL_ERROR_SIZE). */
static int prepare(ec *b, size_t i, const char *path, body *out, char *url, size_t ulen, char *errbuf) {
        CURL *c = b->curl;
        curl_easy_reset(c);
        errbuf[0] = 0;
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        snprintf(url, ulen, "%s://%s%s", b->tls ? "https" : "http", b->endpoints[i], path);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, b->attempt_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, b->attempt_ms);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        if (b->cacert)
                curl_easy_setopt(c, CURLOPT_CAINFO, b->cacert);
        if (b->cert) {
                curl_easy_setopt(c, CURLOPT_SSLCERT, b->cert);
                curl_easy_setopt(c, CURLOPT_SSLKEY, b->key);
        }
        return 0;
}

/* etcd's error reply: {"error": "...", "code": N} (gRPC codes). */
static int etcd_error(ec *b, const char *ep, long status, json_object *reply, const char *what, bool *next,
                      mcs_err *e) {
        json_object *m = NULL, *c = NULL;
        const char *msg = "(no message)";
        int64_t code = -1;
        if (reply && json_object_object_get_ex(reply, "error", &m) && json_object_is_type(m, json_type_string))
                msg = json_object_get_string(m);
        if (reply && json_object_object_get_ex(reply, "code", &c) && json_object_is_type(c, json_type_int))
                code = json_object_get_int64(c);
        /* 14 Unavailable, 4 DeadlineExceeded: this member cannot serve now (no
         * leader, no quorum); another may. */
        *next = code == 14 || code == 4 || status >= 500;
        if (strstr(msg, "required revision has been compacted"))
                return mcs_fail(e, MCS_E_STALE, "registry %s: %s: %s", b->location, what, msg);
        return mcs_fail(e, code == 3 ? MCS_E_INVALID : MCS_E_IO, "registry %s: %s: etcd at %s answered %ld: %s",
                        b->location, what, ep, status, msg);
}

static int parse_reply(ec *b, const char *ep, const body *got, const char *what, json_object **out, mcs_err *e) {
        json_tokener *tok = json_tokener_new_ex(64);
        if (!tok)
                return ec_fail_nomem(e);
        json_object *o = json_tokener_parse_ex(tok, got->data ? got->data : "", (int) got->len);
        enum json_tokener_error err = json_tokener_get_error(tok);
        json_tokener_free(tok);
        if (!o || err != json_tokener_success || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return mcs_fail(e, MCS_E_IO, "registry %s: %s: etcd at %s answered something that is not a JSON "
                                "object (%s)", b->location, what, ep, json_tokener_error_desc(err));
        }
        *out = o;
        return 0;
}

int ec_post(ec *b, const char *path, json_object *req, const char *what, json_object **out, mcs_err *e) {
        const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
        struct curl_slist *hdr = NULL;
        char url[512], errbuf[CURL_ERROR_SIZE];
        int r = 0;

        *out = NULL;
        if (!text || !(hdr = curl_slist_append(NULL, "Content-Type: application/json")))
                return ec_fail_nomem(e);
        for (size_t k = 0; k < b->n_endpoints; k++) {
                size_t i = (b->current + k) % b->n_endpoints;
                body got = {0};
                long status = 0;
                bool next = true;
                prepare(b, i, path, &got, url, sizeof url, errbuf);
                curl_easy_setopt(b->curl, CURLOPT_HTTPHEADER, hdr);
                curl_easy_setopt(b->curl, CURLOPT_POSTFIELDS, text);
                CURLcode rc = curl_easy_perform(b->curl);
                if (rc != CURLE_OK) {
                        /* A TLS 1.3 server refuses a missing client certificate after
                         * the handshake: the next send or receive fails. */
                        bool no_cert = b->tls && !b->cert &&
                                       (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
                                        rc == CURLE_SSL_CONNECT_ERROR);
                        r = mcs_fail(e, MCS_E_IO, "registry %s: %s: etcd at %s: %s%s%s%s%s", b->location, what,
                                     b->endpoints[i], curl_easy_strerror(rc), errbuf[0] ? " (" : "", errbuf,
                                     errbuf[0] ? ")" : "",
                                     no_cert ? "; if etcd wants a client certificate, give cert= and key=" : "");
                        free(got.data);
                        continue;
                }
                curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &status);
                json_object *reply = NULL;
                r = parse_reply(b, b->endpoints[i], &got, what, &reply, e);
                free(got.data);
                if (r == 0 && status == 200) {
                        b->current = i;
                        *out = reply;
                        break;
                }
                if (r == 0)
                        r = etcd_error(b, b->endpoints[i], status, reply, what, &next, e);
                json_object_put(reply);
                if (!next)
                        break;
        }
        curl_slist_free_all(hdr);
        curl_easy_reset(b->curl);
        return r;
}

int ec_get_one(ec *b, size_t i, const char *path, char *out, size_t len, mcs_err *e) {
        char url[512], errbuf[CURL_ERROR_SIZE];
        body got = {0};
        long status = 0;
        prepare(b, i, path, &got, url, sizeof url, errbuf);
        CURLcode rc = curl_easy_perform(b->curl);
        curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_reset(b->curl);
        if (rc != CURLE_OK) {
                free(got.data);
                return mcs_fail(e, MCS_E_IO, "%s%s%s%s", curl_easy_strerror(rc), errbuf[0] ? " (" : "", errbuf,
                                errbuf[0] ? ")" : "");
        }
        snprintf(out, len, "%s", got.data ? got.data : "");
        free(got.data);
        return status == 200 ? 0 : mcs_fail(e, MCS_E_IO, "HTTP status %ld", status);
}
