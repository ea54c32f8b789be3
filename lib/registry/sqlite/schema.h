/* The sqlite registry's schema, as a list of migrations: entry N brings a
 * database from PRAGMA user_version N to N+1. Never edit a released entry;
 * append a new one. */
#pragma once

#define MCS_SQLITE_SCHEMA_VERSION 5

extern const char *const mcs_sqlite_migrations[MCS_SQLITE_SCHEMA_VERSION];

/* Indexes no query of any mcsd reads, dropped from every file that has one.
 * That is no new version: the file means the same to every mcsd, and an
 * older mcsd sharing it keeps working. NULL-terminated. */
extern const char *const mcs_sqlite_unused_indexes[];
