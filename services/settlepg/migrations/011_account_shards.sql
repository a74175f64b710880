-- Operator and provider accounts are credited by every batch of taps. Their
-- balance is kept in shards, one per settlement committer, so that two
-- batches never wait for each other on one row: an account's balance is
-- accounts.balance plus the sum of its shards.
CREATE TABLE account_shards (
    account_id  text NOT NULL REFERENCES accounts (id),
    shard       int NOT NULL,
    balance     numeric(20, 0) NOT NULL,
    PRIMARY KEY (account_id, shard)
);
