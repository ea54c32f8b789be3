/* A real etcd cluster for the etcd registry suite: members on loopback
 * ports in a temp dir, started and stopped by the test. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#define ETCD_MEMBERS 3

typedef struct etcd_cluster {
        char *dir;
        int client_port[ETCD_MEMBERS], peer_port[ETCD_MEMBERS];
        pid_t pid[ETCD_MEMBERS];
        bool tls; /* clients must show a certificate signed by dir/ca.pem */
} etcd_cluster;

/* Starts every member (tls: with certificates made by openssl under dir).
 * The members die with the process that started them. */
void etcd_start(etcd_cluster *c, bool tls);
void etcd_stop(etcd_cluster *c); /* every member; removes dir */
void etcd_kill(etcd_cluster *c, int member);
void etcd_restart(etcd_cluster *c, int member);
/* POSTs a JSON body to a live member's gateway (plain http clusters);
 * returns the answer (the caller frees it). */
char *etcd_post(const etcd_cluster *c, const char *path, const char *body);
/* The cluster's revision now. */
long long etcd_revision(const etcd_cluster *c);
/* A proxy on a free loopback port in front of member m, in a thread: it
 * forwards each request; the first `drops` POSTs to path whose body holds
 * needle it forwards too, but then closes the connection without an
 * answer (an answer lost on the way). Returns the port. */
int etcd_lossy_proxy(const etcd_cluster *c, int m, const char *path, const char *needle, int drops);
/* "etcd://127.0.0.1:A,127.0.0.1:B,127.0.0.1:C/prefix[?query]"; the caller frees it. */
char *etcd_location(const etcd_cluster *c, const char *prefix, const char *query);
