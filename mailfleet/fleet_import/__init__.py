"""``mailfleet import --from-mailgun``: adopt the Mailgun fleet that already exists.

On day one every tenant's Mailgun domains, routes and webhooks already exist, created before
mailfleet. Creating them again fails (Mailgun answers 400 "already exists"), so mailfleet
adopts them: this package reads one account region (``read``), groups what it finds into
tenants by mailfleet's own URL convention (``convention``, ``match``), reads each domain's
DKIM selector and key size (``dkim``), and writes tenant files whose ``adopted.mailgun``
block makes the stack import the items instead of creating them (``run``, ``edit``). What it
did is an ``ImportReport`` (``report``); docs/import.md is the reference.

A command package: it uses ``mailfleet.project`` and below and the Mailgun client of the
ground floor, no other command.
"""
