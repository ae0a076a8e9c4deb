"""Install oocbench's wheel into an asv environment with every backend that installs there.

``asv.conf.json``'s ``install_command`` runs this with the environment's interpreter::

    in-dir={env_dir} python {conf_dir}/benchmarks/install_backends.py {wheel_file}

(``{conf_dir}``: the checkout running asv, so an older commit being measured needs no copy of this file). It
installs ``wheel[all]`` in one resolution, so the backends get versions that work together. If that fails (a
backend without a wheel for this Python or platform), it installs the bare wheel and then each extra on its
own, and names the extras that did not install: their adapters record ``not-installed`` and their asv
benchmarks are n/a with that reason (``asv run -e`` shows it). Only a failure of the bare wheel fails the
environment.

``OOCBENCH_ASV_EXTRAS`` (comma-separated extras, default ``all``) installs fewer backends: the CI test of the
asv wiring uses a light subset. asv does not see environment variables when it decides whether an
environment is up to date, so set it only for an environment that does not exist yet (a fresh ``env_dir``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

#: extras that are not backends
NOT_BACKENDS = ("all", "test", "docs")


def wheel_extras(wheel: Path) -> list[str]:
    """The extras the wheel declares (``Provides-Extra`` in its METADATA), backends only."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(name).decode())
    return [e for e in meta.get_all("Provides-Extra") or [] if e not in NOT_BACKENDS]


def pip_install(requirement: str) -> bool:
    print(f"install_backends: pip install {requirement}", flush=True)
    return subprocess.run([sys.executable, "-m", "pip", "install", requirement]).returncode == 0


def install(wheel: Path, extras: list[str]) -> list[str]:
    """Install ``wheel`` with ``extras``; returns the extras that did not install.

    Raises
    ------
    SystemExit
        When not even the bare wheel installs.
    """
    if extras and pip_install(f"{wheel}[{','.join(extras)}]"):
        return []
    if not pip_install(str(wheel)):
        raise SystemExit(f"install_backends: {wheel.name} itself does not install")
    # one at a time: `all` stands for every backend extra the wheel declares
    each = [e for x in extras for e in (wheel_extras(wheel) if x == "all" else [x])]
    return [e for e in dict.fromkeys(each) if not pip_install(f"{wheel}[{e}]")]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: install_backends.py WHEEL_FILE", file=sys.stderr)
        return 2
    extras = [e.strip() for e in os.environ.get("OOCBENCH_ASV_EXTRAS", "all").split(",") if e.strip()]
    failed = install(Path(argv[0]), extras)
    if failed:
        print(f"install_backends: not installed (their benchmarks will be n/a): {', '.join(failed)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
