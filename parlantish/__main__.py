"""``python -m parlantish`` runs the CLI."""

from parlantish.cli.main import main

if __name__ == "__main__":
    main()
