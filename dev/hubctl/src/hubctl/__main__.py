"""``python -m hubctl``: the same as the ``hubctl`` command."""

from __future__ import annotations

from hubctl.cli import main

if __name__ == "__main__":
    main()
