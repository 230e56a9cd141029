"""DNS over loopback and the internet: a lean asyncio resolver (``resolver``) over a small
codec (``wire``), honest about timeouts and unreachable servers. A ground-floor utility: ``check``
verifies records with it, ``tenant adopt`` reads what a customer's zone holds with it."""
