"""The desired state of a stack: what every tenant needs, as plain data.

The single source of truth: the Pulumi components, ``plan``, ``diff``, ``records``, ``check``
and ``migrate`` all read ``StackState``. Nothing here imports Pulumi.

- ``state``: the data classes (``StackState``, ``TenantState``, ``DnsRecord``, ...);
- ``build``: tenants and a stack's settings in, ``StackState`` out;
- ``rules``: what one tenant, and any two tenants, must satisfy (run by every command);
- ``naming``: the logical names of the Pulumi resources each item becomes;
- ``publish``: the records a customer publishes, as a table, a zone-file snippet or JSON.
"""
