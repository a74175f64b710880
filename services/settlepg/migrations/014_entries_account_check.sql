-- Every entry names an account row, but the foreign key checked it by
-- locking that row (FOR KEY SHARE) for every entry: on an operator's
-- revenue account, credited by every fare, concurrent batches shared that
-- lock through multixacts at a high cost. The accounts of a transaction are
-- created or locked by the code that posts it (riders are locked and their
-- balance moved; operator and provider accounts are created first), and
-- Books counts entries whose account does not exist.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_account_id_fkey;
