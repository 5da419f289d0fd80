"""``python -m wasivfs ARGS...`` runs the installed wasivfs binary with ARGS."""

import os
import subprocess
import sys

from wasivfs import find_wasivfs_bin


def main():
    try:
        binary = find_wasivfs_bin()
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if sys.platform == "win32":
        return subprocess.run([binary, *sys.argv[1:]]).returncode
    os.execv(binary, [binary, *sys.argv[1:]])
    return 1  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())
