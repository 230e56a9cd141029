"""``mailfleet check``: every record the model says must exist, verified live in DNS.

A package per concept, over the ground-floor ``mailfleet.dns`` resolver (asyncio, bounded,
cached, honest about timeouts): one module of rules per record kind (``spf``, ``dkim``,
``dmarc``, ``mx``, ``tracking``), ``mailgun_state`` (Mailgun's own verification state),
``runner`` (all tenants concurrently), ``result`` (statuses, exit codes) and ``report``
(table and JSON outputs).
"""
