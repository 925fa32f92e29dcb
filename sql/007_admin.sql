-- 007_admin.sql - roles, bans and the admin audit log (issue 13 "Admin
-- controls", docs/API.md "Admin").
--
-- role: 'user' or 'admin'.  Only `natter admin grant|revoke` (an operator
-- with database access) changes it; no API sets it.  The auth pool reads it
-- on every admin request, so a revoke takes effect on the next request.
--
-- A ban is banned_at NOT NULL; banned_until NULL means for good, otherwise
-- the ban ends at that time (ms) by itself.  Unban clears all three.  The
-- login's session transaction reads these under the user's row lock, the
-- same lock the ban takes, so a login cannot slip a session in after a ban
-- commits (store/session_revoke.c).
--
-- admin_audit: one row per admin action, never updated.  actor_name is
-- copied so the log still reads after the admin's account is gone.
-- Times are BIGINT milliseconds (see 001_accounts.sql).
-- ALTER TABLE ... ADD COLUMN IF NOT EXISTS: idempotent (see 001).

ALTER TABLE users
  ADD COLUMN IF NOT EXISTS role VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL
    DEFAULT 'user',
  ADD COLUMN IF NOT EXISTS banned_at BIGINT NULL,
  ADD COLUMN IF NOT EXISTS banned_until BIGINT NULL,
  ADD COLUMN IF NOT EXISTS ban_reason VARCHAR(500) NOT NULL DEFAULT '';

CREATE TABLE IF NOT EXISTS admin_audit (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  actor_id    BIGINT UNSIGNED NOT NULL,
  actor_name  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  action      VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  target      VARCHAR(128) NOT NULL DEFAULT '',
  detail      VARCHAR(600) NOT NULL DEFAULT '',
  address     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
