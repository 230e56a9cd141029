"""Moving tenants between region stacks (``mailfleet migrate``).

- ``journal``: the ``migration:`` block in the tenant file and the export next to it;
- ``runner``: the ``StackRunner`` interface every Pulumi run goes through;
- ``pulumi_runner``: its Automation API implementation (imports pulumi only when used);
- ``export``: reading what the source region holds through the Mailgun API;
- ``engine``: the steps, their order, the point of no return, resume and abort;
- ``plan``: the dry-run description of the steps.

Nothing here imports pulumi at module level.
"""
