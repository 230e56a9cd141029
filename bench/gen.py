"""Generate N valid tenant files covering the three ways of using mail, in both regions.

Used by the benchmarks (plan, validate, diff over 10,000 tenants). Deterministic for a seed.
``python bench/gen.py DIR N`` writes DIR/<slug>.yaml.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

INCLUDES = [
    "_spf.google.com",
    "sendgrid.net",
    "spf.protection.outlook.com",
    "amazonses.com",
    "servers.mcsv.net",
]
POLICIES = ["none", "quarantine", "reject"]


def tenant_yaml(i: int, rng: random.Random) -> tuple[str, str]:
    slug = f"t{i:05d}"
    region = "eu" if i % 2 == 0 else "us"
    way = i % 3
    lines = [
        f"slug: {slug}",
        f"name: Tenant {i} Ltd",
        f"region: {region}",
        f"mailboxes: [support, sales{'' if i % 4 else ', billing'}]",
    ]
    if way >= 1:
        dns = ["manual", f"cloudflare:{rng.getrandbits(128):032x}", f"route53:Z{rng.getrandbits(40):010X}"][
            i % 3
        ]
        includes = rng.sample(INCLUDES, k=i % 3)
        if "_spf.google.com" in includes and "spf.protection.outlook.com" in includes:
            # mailgun.org (5) + Google (4) + Microsoft 365 (2) is over SPF's 10 lookups.
            includes.remove("spf.protection.outlook.com")
        lines += [
            "sender_domain:",
            f"  name: tenant{i}.example.com",
            f"  dns: {dns}",
            f"  spf_includes: [{', '.join(includes)}]",
        ]
    lines += [
        "dmarc:",
        f"  policy: {POLICIES[i % 3]}",
        f"  rua: [mailto:dmarc@tenant{i}.example.com]",
        "dkim:",
        f"  selector: s{i % 7}",
        f"  bits: {2048 if i % 5 else 1024}",
        f"tracking: {'true' if i % 2 else 'false'}",
    ]
    if way == 2:
        lines += [
            "outbound:",
            "  service: smtp",
            "  marketing: mailgun",
            "  smtp:",
            f"    host: smtp.tenant{i}.example.com",
            "    port: 587",
        ]
    return slug, "\n".join(lines) + "\n"


def generate(tenants_dir: Path, n: int, seed: int = 1) -> list[Path]:
    rng = random.Random(seed)
    tenants_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        slug, text = tenant_yaml(i, rng)
        path = tenants_dir / f"{slug}.yaml"
        path.write_text(text)
        paths.append(path)
    return paths


if __name__ == "__main__":
    generate(Path(sys.argv[1]), int(sys.argv[2]))
