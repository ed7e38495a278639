-- 007: lines a run rejected because their writer was not proven to be Postfix's smtpd
-- (journal entries whose trusted fields name another program or user).
ALTER TABLE runs ADD COLUMN untrusted INTEGER NOT NULL DEFAULT 0;
