-- 003: the cluster policy's watermark: what the last evaluation over all hosts depended on
-- (a signature of the evaluating host's policy, the allowlist, the blocks in force and the
-- events shipped), so that a `run` with nothing new skips counting the windows again.
-- One row at most; absent or stale: the next evaluation counts everything.
CREATE TABLE policy_watermark (
    only_row     boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    signature    bigint  NOT NULL,  -- as computed by saslguard (src/enforce.rs, watermark)
    evaluated_at bigint  NOT NULL   -- unix seconds of that evaluation
);
