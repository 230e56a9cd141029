"""``mailfleet shard``: moving tenants between the stacks of one region (docs/sharding.md)."""
