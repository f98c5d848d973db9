-- A gateway is registered to an account (POST /gateways, `bandhub gateway register
-- --account`). The column came with 009, before the accounts table existed; an id that
-- names no account (an operator's typo) becomes NULL, an operator's gateway.
UPDATE gateways g SET account_id = NULL
WHERE account_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = g.account_id);
ALTER TABLE gateways
    ADD CONSTRAINT gateways_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id)
        ON DELETE SET NULL;
CREATE INDEX gateways_account ON gateways (account_id) WHERE account_id IS NOT NULL;
