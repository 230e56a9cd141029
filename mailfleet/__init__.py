"""mailfleet: per-tenant Mailgun and DNS infrastructure, declared per region stack."""

__version__ = "0.1.0"
