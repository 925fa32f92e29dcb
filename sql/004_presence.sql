-- 004_presence.sql - the durable part of presence (presence pool, issue 5).
--
-- Who is online lives in Redis (docs/presence.md): it changes all the time
-- and is rebuilt from the edges' heartbeats.  What must survive a Redis
-- restart is when a user was last seen: one row per user who has ever gone
-- offline, written when the presence pool publishes that transition (not on
-- every session change, and never on heartbeats), so the write rate is the
-- rate of users leaving.  An upsert keeps the larger time, so two pool
-- processes racing, or an old event retried late, never move it back.
--
-- A user with no row was never seen going offline since presence existed:
-- the API then has no last_seen to show.  Foreign key with cascade, as in
-- 001: deleting a user forgets when they were seen.
-- Times are BIGINT milliseconds (see 001_accounts.sql).

CREATE TABLE IF NOT EXISTS user_presence (
  user_id    BIGINT UNSIGNED NOT NULL,
  last_seen  BIGINT NOT NULL,
  PRIMARY KEY (user_id),
  CONSTRAINT user_presence_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
