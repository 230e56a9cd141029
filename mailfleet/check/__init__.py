"""``mailfleet check``: every record the model says must exist, verified live in DNS.

A package per concept: ``resolver`` (asyncio, bounded, cached, honest about timeouts) over
``wire`` (a lean DNS codec), one module of rules per record kind (``spf``, ``dkim``,
``dmarc``, ``mx``, ``tracking``), ``mailgun_state`` (Mailgun's own verification state),
``runner`` (all tenants concurrently), ``result`` (statuses, exit codes) and ``report``
(table and JSON outputs).
"""
