"""Pulumi components: the only package that imports ``pulumi`` and the provider SDKs.

``program.declare_stack`` turns a ``mailfleet.desired.state.StackState`` into resources, one
``tenant_mail.TenantMail`` per tenant, with the stack's explicit per-region providers
(``providers``) and secrets (``secrets``). ``mocked.run_program`` runs that same program under
``pulumi.runtime`` mocks and records every registration (tests, benchmarks, ``migrate``).
"""
