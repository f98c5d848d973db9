"""Who is calling and what they may do: passwords, tokens, the caller's roles per band,
the policies routes declare, throttling and the audit log."""
