"""Dedicated Mailgun IPs: binding each tenant's domains to the IPs (or pool) its files name."""
