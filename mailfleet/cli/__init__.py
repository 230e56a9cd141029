"""The ``mailfleet`` command line (Typer). ``app`` imports only the module of the command being
run (``COMMANDS``), so each ``*_cmd`` module imports what it needs at the top, and
``mailfleet --help`` loads no command module at all."""
