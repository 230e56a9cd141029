"""Comparing desired states: two git revisions (``mailfleet diff``) or a Pulumi preview.

- ``gitread``: the tenant and stack files of a revision, read without a checkout
  (``git ls-tree`` + one ``git cat-file --batch``), or of the working tree;
- ``snapshot``: those files validated and built into ``StackState``s, sharing work between
  revisions for files that did not change;
- ``change``: ``Change`` rows (create, update, replace, delete) and why a row is destructive;
- ``compare``: the rows between two snapshots, per stack and tenant, by item ``key``;
- ``preview``: the same rows from a ``pulumi preview --json`` PreviewDigest;
- ``outputs``: table, Markdown (PR comments with a marker, split past 60,000 characters), JSON.
"""
