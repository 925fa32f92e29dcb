-- 001_accounts.sql - accounts, login sessions and refresh tokens (auth pool).
--
-- Times are BIGINT milliseconds since the epoch (API.md), never DATETIME, so
-- no time zone ever enters the store.  Usernames are [a-z0-9_.] (API.md), so
-- an ascii_bin column compares them byte for byte; text a user writes is
-- utf8mb4 and its VARCHAR length is in characters, matching the limits in
-- store/user_store.h.  Ids of sessions and token hashes are ASCII too.
--
-- Foreign keys: kept.  These tables see one write per login or refresh, so
-- the parent-row check costs nothing that matters, and they give two things
-- we want: a session cannot point at a missing user (session_create gets
-- NT_ENOTFOUND), and deleting a user (ban, erasure request) removes its
-- sessions and tokens by cascade.  If these tables are ever sharded apart
-- from users, drop the constraints in a later migration.
--
-- IF NOT EXISTS everywhere: DDL commits implicitly, so a crash between a
-- table and the schema_migrations record must be harmless on the rerun.

CREATE TABLE IF NOT EXISTS users (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  username      VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  display_name  VARCHAR(64) NOT NULL,
  avatar_url    VARCHAR(512) NOT NULL DEFAULT '',
  bio           VARCHAR(500) NOT NULL DEFAULT '',
  password_hash VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY users_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per login on one device.  device_id '' means the client sent none.
-- revoked_at NULL = live; revoke_reason: logout, reuse, replaced, ...
CREATE TABLE IF NOT EXISTS sessions (
  id            VARCHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id       BIGINT UNSIGNED NOT NULL,
  platform      VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  device_id     VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
  created_at    BIGINT NOT NULL,
  revoked_at    BIGINT NULL,
  revoke_reason VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
  PRIMARY KEY (id),
  KEY sessions_user_platform (user_id, platform),
  KEY sessions_revoked_at (revoked_at),
  CONSTRAINT sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Refresh tokens, stored only as SHA-256 hex.  A session's tokens form one
-- family: each refresh spends one (spent_at) and adds the next.  Spent rows
-- are kept until they expire so that a replay is recognised as reuse.
CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash    CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  session_id    VARCHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  expires_at    BIGINT NOT NULL,
  spent_at      BIGINT NULL,
  created_at    BIGINT NOT NULL,
  PRIMARY KEY (token_hash),
  KEY refresh_tokens_session (session_id),
  KEY refresh_tokens_expires (expires_at),
  CONSTRAINT refresh_tokens_session FOREIGN KEY (session_id) REFERENCES sessions (id)
    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
