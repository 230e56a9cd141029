"""``mailfleet tenant adopt`` / ``tenant add --adopt``: take a snapshot of what a customer's
zone already holds at the names mailfleet declares, so the desired state owns only Mailgun's
part of it (``mailfleet.desired.adopt``).

- ``live``: the RRsets at each (name, type) of the tenant's customer records, read with the
  ground-floor resolver (``mailfleet.dns``); a timeout or an unreachable nameserver is an
  error, never "nothing there".
- ``ids``: for a Cloudflare zone, the record id holding each value (Cloudflare's API); a value
  one side has and the other does not is a problem, not a guess.
- ``snapshot``: the ``DnsAdoption`` block and its drift against the stored one.
- ``write``: the ``adopted:`` block replaced in the tenant file, validated, atomically, under
  the tenants directory's lock.
- ``report``: the text and ``mailfleet-adopt/1`` JSON the CLI prints.
"""
