"""``python -m hybridir.cli``: the ``hybridir`` command."""

from hybridir.cli import entry_point

if __name__ == "__main__":
    entry_point()
