-- 003_contacts.sql - contact requests and contacts (auth pool, issue 5).
--
-- A request goes from from_id to to_id and is pending until the target
-- accepts or rejects it (status).  At most one request is pending per
-- unordered pair of users, whichever side sent it: pending_key is
-- "<low uid>:<high uid>" while the request is pending and NULL once it is
-- handled (UNIQUE, and NULLs never collide).  That is what makes "a second
-- apply returns the pending one" and "applying back accepts theirs" the
-- only possible outcomes, even for two processes racing.  Handled requests
-- are kept (status, handled_at) as the pair's history.
--
-- A contact is symmetric and stored as two rows, (a, b) and (b, a), so
-- "the contacts of uid" is one range scan of the primary key, for the list
-- and for whoever needs to fan out to a user's contacts (presence).
-- Accepting inserts both rows, deleting removes both, in one transaction.
--
-- The contact operations of one pair are serialised by locking both users
-- rows (SELECT ... FOR UPDATE, in id order) first; see store/contact_store.c.
-- Foreign keys: kept, as in 001: a request or contact cannot point at a
-- missing user, and deleting a user removes both by cascade.
-- Times are BIGINT milliseconds (see 001_accounts.sql).

CREATE TABLE IF NOT EXISTS contact_requests (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  from_id     BIGINT UNSIGNED NOT NULL,
  to_id       BIGINT UNSIGNED NOT NULL,
  message     VARCHAR(200) NOT NULL DEFAULT '',
  status      VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  pending_key VARCHAR(48) CHARACTER SET ascii COLLATE ascii_bin NULL,
  created_at  BIGINT NOT NULL,
  handled_at  BIGINT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY contact_requests_pending (pending_key),
  KEY contact_requests_to (to_id, status),
  KEY contact_requests_from (from_id, status),
  CONSTRAINT contact_requests_from_user FOREIGN KEY (from_id) REFERENCES users (id)
    ON DELETE CASCADE,
  CONSTRAINT contact_requests_to_user FOREIGN KEY (to_id) REFERENCES users (id)
    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS contacts (
  user_id    BIGINT UNSIGNED NOT NULL,
  contact_id BIGINT UNSIGNED NOT NULL,
  since      BIGINT NOT NULL,
  PRIMARY KEY (user_id, contact_id),
  KEY contacts_contact (contact_id),
  CONSTRAINT contacts_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT contacts_contact_user FOREIGN KEY (contact_id) REFERENCES users (id)
    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
