#include "etcd-cluster.h"

#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-util.h"

/* A port the kernel hands out as free now. */
static int free_port(void) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        ck_assert_int_ge(s, 0);
        ck_assert_int_eq(bind(s, (struct sockaddr *) &a, sizeof a), 0);
        ck_assert_int_eq(getsockname(s, (struct sockaddr *) &a, &len), 0);
        close(s);
        return ntohs(a.sin_port);
}

static void run(const char *cmd) {
        int rc = system(cmd);
        ck_assert_msg(rc == 0, "'%s' failed (%d)", cmd, rc);
}

/* A self-signed CA, a server certificate for 127.0.0.1 and a client certificate. */
static void make_certs(const char *dir) {
        char *cmd;
        ck_assert_int_ge(asprintf(&cmd,
                "cd %s && exec >openssl.log 2>&1 && "
                "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca-key.pem -out ca.pem && "
                "openssl req -newkey rsa:2048 -nodes -subj /CN=etcd -keyout server-key.pem -out server.csr && "
                "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > server.ext && "
                "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 "
                "-extfile server.ext -out server.pem && "
                "openssl req -newkey rsa:2048 -nodes -subj /CN=mcsd -keyout client-key.pem -out client.csr && "
                "printf 'extendedKeyUsage=clientAuth\\n' > client.ext && "
                "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 "
                "-extfile client.ext -out client.pem", dir), 0);
        run(cmd);
        free(cmd);
}

static void spawn(etcd_cluster *c, int m) {
        char name[16], data[4096], log[4096], client[64], peer[64], cluster[512] = "";
        char cert[4096], key[4096], ca[4096];
        const char *scheme = c->tls ? "https" : "http";
        snprintf(name, sizeof name, "m%d", m);
        snprintf(data, sizeof data, "%s/%s", c->dir, name);
        snprintf(log, sizeof log, "%s/%s.log", c->dir, name);
        snprintf(client, sizeof client, "%s://127.0.0.1:%d", scheme, c->client_port[m]);
        snprintf(peer, sizeof peer, "http://127.0.0.1:%d", c->peer_port[m]);
        for (int i = 0; i < ETCD_MEMBERS; i++)
                snprintf(cluster + strlen(cluster), sizeof cluster - strlen(cluster), "%sm%d=http://127.0.0.1:%d",
                         i ? "," : "", i, c->peer_port[i]);
        snprintf(cert, sizeof cert, "%s/server.pem", c->dir);
        snprintf(key, sizeof key, "%s/server-key.pem", c->dir);
        snprintf(ca, sizeof ca, "%s/ca.pem", c->dir);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* dies with the process that started it, even when a test fails half-way */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
                dup2(fd, 1);
                dup2(fd, 2);
                const char *argv[40] = {"etcd", "--name", name, "--data-dir", data, "--listen-client-urls", client,
                                        "--advertise-client-urls", client, "--listen-peer-urls", peer,
                                        "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster,
                                        "--initial-cluster-state", "new", "--initial-cluster-token", c->dir,
                                        "--logger", "zap"};
                int n = 21;
                if (c->tls) {
                        const char *more[] = {"--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca,
                                              "--client-cert-auth"};
                        for (size_t i = 0; i < sizeof more / sizeof *more; i++)
                                argv[n++] = more[i];
                }
                argv[n] = NULL;
                execvp("etcd", (char **) argv);
                _exit(127);
        }
        c->pid[m] = pid;
}

void etcd_start(etcd_cluster *c, bool tls) {
        memset(c, 0, sizeof *c);
        c->dir = test_tmpdir();
        c->tls = tls;
        for (int m = 0; m < ETCD_MEMBERS; m++) {
                c->client_port[m] = free_port();
                c->peer_port[m] = free_port();
        }
        if (tls)
                make_certs(c->dir);
        for (int m = 0; m < ETCD_MEMBERS; m++)
                spawn(c, m);
}

void etcd_kill(etcd_cluster *c, int m) {
        if (c->pid[m] > 0) {
                kill(c->pid[m], SIGKILL);
                waitpid(c->pid[m], NULL, 0);
        }
        c->pid[m] = 0;
}

void etcd_restart(etcd_cluster *c, int m) {
        etcd_kill(c, m);
        spawn(c, m);
}

void etcd_stop(etcd_cluster *c) {
        for (int m = 0; m < ETCD_MEMBERS; m++)
                etcd_kill(c, m);
        if (c->dir && !getenv("KEEP_ETCD"))
                test_rmtree(c->dir);
        free(c->dir);
        c->dir = NULL;
}

char *etcd_location(const etcd_cluster *c, const char *prefix, const char *query) {
        char *s;
        ck_assert_int_ge(asprintf(&s, "etcd://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/%s%s%s", c->client_port[0],
                                  c->client_port[1], c->client_port[2], prefix, query ? "?" : "", query ? query : ""),
                         0);
        return s;
}

struct answer {
        char *data;
        size_t len;
};

static size_t take(char *p, size_t size, size_t n, void *ctx) {
        struct answer *a = ctx;
        char *d = realloc(a->data, a->len + size * n + 1);
        if (!d)
                return 0;
        memcpy(d + a->len, p, size * n);
        a->len += size * n;
        d[a->len] = 0;
        a->data = d;
        return size * n;
}

char *etcd_post(const etcd_cluster *c, const char *path, const char *body) {
        for (int m = 0; m < ETCD_MEMBERS; m++) {
                char url[128];
                struct answer a = {0};
                if (c->pid[m] <= 0)
                        continue;
                snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->client_port[m], path);
                CURL *h = curl_easy_init();
                ck_assert_ptr_nonnull(h);
                curl_easy_setopt(h, CURLOPT_URL, url);
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, take);
                curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
                CURLcode rc = curl_easy_perform(h);
                curl_easy_cleanup(h);
                if (rc == CURLE_OK && a.data)
                        return a.data;
                free(a.data);
        }
        ck_abort_msg("no etcd member answered %s", path);
        return NULL;
}

long long etcd_revision(const etcd_cluster *c) {
        char *a = etcd_post(c, "/v3/kv/range", "{\"key\":\"AA==\"}");
        const char *p = strstr(a, "\"revision\":\"");
        ck_assert_msg(p != NULL, "no revision in %s", a);
        long long rev = strtoll(p + strlen("\"revision\":\""), NULL, 10);
        free(a);
        return rev;
}

struct proxy {
        int listener, port;
        const char *path, *needle;
        int drops;
};

/* Reads one HTTP request: its path and body (the caller frees both). */
static bool read_request(int fd, char **path, char **body) {
        char head[8192];
        size_t n = 0;
        char *end = NULL;
        while (!end && n < sizeof head - 1) {
                ssize_t k = read(fd, head + n, sizeof head - 1 - n);
                if (k <= 0)
                        return false;
                n += (size_t) k;
                head[n] = 0;
                end = strstr(head, "\r\n\r\n");
        }
        if (!end)
                return false;
        char method[16], p[1024];
        if (sscanf(head, "%15s %1023s", method, p) != 2)
                return false;
        const char *cl = strcasestr(head, "Content-Length:");
        size_t len = cl ? strtoul(cl + 15, NULL, 10) : 0, have = n - (size_t) (end + 4 - head);
        char *b = calloc(1, len + 1);
        memcpy(b, end + 4, have < len ? have : len);
        while (have < len) {
                ssize_t k = read(fd, b + have, len - have);
                if (k <= 0) {
                        free(b);
                        return false;
                }
                have += (size_t) k;
        }
        *path = strdup(p);
        *body = b;
        return true;
}

static void *proxy_loop(void *arg) {
        struct proxy *px = arg;
        for (;;) {
                int fd = accept(px->listener, NULL, NULL);
                char *path, *body;
                if (fd < 0)
                        continue;
                if (!read_request(fd, &path, &body)) {
                        close(fd);
                        continue;
                }
                char url[256];
                struct answer a = {0};
                long status = 0;
                snprintf(url, sizeof url, "http://127.0.0.1:%d%s", px->port, path);
                CURL *h = curl_easy_init();
                curl_easy_setopt(h, CURLOPT_URL, url);
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, take);
                curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
                CURLcode rc = curl_easy_perform(h);
                curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
                curl_easy_cleanup(h);
                bool drop = px->drops > 0 && strcmp(path, px->path) == 0 && strstr(body, px->needle);
                if (drop)
                        px->drops--;
                if (rc == CURLE_OK && !drop) {
                        char hdr[256];
                        int hn = snprintf(hdr, sizeof hdr, "HTTP/1.1 %ld X\r\nContent-Type: application/json\r\n"
                                          "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, a.len);
                        if (write(fd, hdr, (size_t) hn) != hn || write(fd, a.data ? a.data : "", a.len) != (ssize_t) a.len)
                                fprintf(stderr, "proxy: short write\n");
                }
                free(a.data);
                free(path);
                free(body);
                close(fd);
        }
        return NULL;
}

int etcd_lossy_proxy(const etcd_cluster *c, int m, const char *path, const char *needle, int drops) {
        struct proxy *px = calloc(1, sizeof *px); /* lives as long as the test process */
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        pthread_t t;
        px->listener = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert_int_ge(px->listener, 0);
        ck_assert_int_eq(bind(px->listener, (struct sockaddr *) &a, sizeof a), 0);
        ck_assert_int_eq(listen(px->listener, 16), 0);
        ck_assert_int_eq(getsockname(px->listener, (struct sockaddr *) &a, &len), 0);
        px->port = c->client_port[m];
        px->path = path;
        px->needle = needle;
        px->drops = drops;
        ck_assert_int_eq(pthread_create(&t, NULL, proxy_loop, px), 0);
        pthread_detach(t);
        return ntohs(a.sin_port);
}
