"""Explicit providers of one region stack, created once and passed to every child.

Region is data: the Mailgun provider is region-neutral (pulumi-mailgun takes ``region`` per
resource, and every resource sets it), the AWS provider is pinned to the stack's
``aws:region``, and the Cloudflare provider exists only when some tenant's DNS is on
Cloudflare (a stack without Cloudflare tenants needs no token). Credentials come from secret
config (``mailgun:apiKey``, ``cloudflare:apiToken``) or, for AWS, the environment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_cloudflare as cloudflare
import pulumi_mailgun as mailgun

from components.secrets import StackSecrets
from mailfleet.model.stack import StackConfig

log = logging.getLogger("components.providers")


@dataclass(frozen=True)
class RegionProviders:
    """The providers every ``TenantMail`` child uses; ``cloudflare`` is None when not needed."""

    region: str
    aws_region: str
    mailgun: mailgun.Provider
    aws: aws.Provider
    cloudflare: cloudflare.Provider | None

    def require_cloudflare(self, slug: str) -> cloudflare.Provider:
        if self.cloudflare is None:
            raise pulumi.RunError(
                f"tenant {slug!r} has Cloudflare DNS but the stack has no Cloudflare provider"
            )
        return self.cloudflare


def create_providers(config: StackConfig, secrets: StackSecrets, *, with_cloudflare: bool) -> RegionProviders:
    """Create the stack's providers (names ``mailgun-<region>``, ``aws-<aws region>``, ``cloudflare``)."""
    log.debug("providers stack=%s region=%s aws_region=%s", config.name, config.region, config.aws_region)
    mg = mailgun.Provider(f"mailgun-{config.region}", api_key=secrets.mailgun_api_key())
    aw = aws.Provider(f"aws-{config.aws_region}", region=config.aws_region)
    cf = (
        cloudflare.Provider("cloudflare", api_token=secrets.cloudflare_api_token())
        if with_cloudflare
        else None
    )
    return RegionProviders(config.region, config.aws_region, mg, aw, cf)
