"""Record builders: one small module per record kind (SPF, DMARC, DKIM, MX, tracking, TXT)."""
