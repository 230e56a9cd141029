"""The ``mailfleet`` command line (Typer). Command modules import only typer and the
standard library at module level, so ``mailfleet --help`` stays fast; everything heavy is
imported inside the command function."""
