"""``python -m node.cli``: the ``motcua`` command without the installed entry point (tests, benches)."""

from node.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
