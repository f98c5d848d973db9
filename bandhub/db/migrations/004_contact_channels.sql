-- A contact is reached by a channel: a signed webhook (address = URL) or e-mail
-- (address = mailbox). The secret signs webhooks and is empty for e-mail.
ALTER TABLE contacts RENAME COLUMN url TO address;
ALTER TABLE contacts ADD CONSTRAINT contacts_channel CHECK (channel IN ('webhook', 'email'));
