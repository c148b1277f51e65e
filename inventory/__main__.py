"""``python -m inventory <command>``."""

from inventory.cli import main

if __name__ == "__main__":
    main()
