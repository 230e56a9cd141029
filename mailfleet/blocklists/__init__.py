"""``mailfleet blocklists``: every sending IP and domain against DNS blocklists."""
