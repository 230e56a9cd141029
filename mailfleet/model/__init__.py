"""The tenant schema, the stack configuration and the region facts."""
