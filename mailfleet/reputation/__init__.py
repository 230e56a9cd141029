"""``mailfleet reputation``: each tenant's sending reputation from Mailgun's Metrics API."""
