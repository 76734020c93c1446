"""``python -m gazelab``: the same as the ``gazelab`` command."""

from gazelab.cli import main

if __name__ == "__main__":
    main()
