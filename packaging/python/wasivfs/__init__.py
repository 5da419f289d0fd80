"""The wasivfs command, installed by pip.

The wheel carries the native ``wasivfs`` binary as a script, so ``pip install wasivfs`` puts the
command on PATH. This package only finds that binary again, for ``python -m wasivfs`` and for
build scripts written in Python::

    import subprocess, wasivfs
    subprocess.run([wasivfs.find_wasivfs_bin(), "pack", "app.wasm", "--mapdir", "/app::app",
                    "-o", "packed.wasm"], check=True)
"""

import os
import sys
import sysconfig

__all__ = ["find_wasivfs_bin"]


def _candidates():
    exe = "wasivfs" + (sysconfig.get_config_var("EXE") or "")
    if sys.platform == "win32" and not exe.endswith(".exe"):
        exe += ".exe"
    # The scripts directory of this interpreter's installation (a venv, the system, --prefix).
    yield os.path.join(sysconfig.get_path("scripts"), exe)
    # pip install --user.
    user_scheme = "nt_user" if os.name == "nt" else "posix_user"
    if user_scheme in sysconfig.get_scheme_names():
        yield os.path.join(sysconfig.get_path("scripts", user_scheme), exe)
    # pip install --target DIR puts the scripts in DIR/bin, beside the package.
    package = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(os.path.dirname(package), "bin", exe)
    # pip install --prefix DIR: DIR/lib/pythonX.Y/site-packages/wasivfs -> DIR/bin.
    yield os.path.join(package, os.pardir, os.pardir, os.pardir, os.pardir, "bin", exe)


def find_wasivfs_bin():
    """The path of the installed ``wasivfs`` binary; raises FileNotFoundError if it is missing."""
    for path in _candidates():
        if os.path.isfile(path):
            return os.path.normpath(path)
    raise FileNotFoundError("the wasivfs binary of this installation was not found")
