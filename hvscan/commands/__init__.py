"""One module per subcommand (as pre-commit's ``commands/``): each runs its command from typed
records (hvscan/settings/options.py) once the command line (hvscan/cli.py) has parsed and
settled the options; ``common`` holds what the scan commands share. Nothing here imports click.
"""
