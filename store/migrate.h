/*
 * migrate.h - applies sql/NNN_name.sql files in order, each inside a
 * transaction, and records them in schema_migrations(version, name,
 * applied_at).  Already-applied versions are skipped, so running it twice
 * does nothing the second time.  MariaDB commits DDL implicitly; migrations
 * are written to be idempotent where DDL is involved (IF NOT EXISTS) so a
 * crash between a DDL and the record is harmless on the next run.
 */
#ifndef NT_MIGRATE_H
#define NT_MIGRATE_H

#include <mysql.h>

/* Apply pending migrations from dir.  *applied (may be NULL) gets how many
 * were applied this run. */
int migrate_run(MYSQL *conn, const char *dir, int *applied);

#endif
