"""Build step that ships ``squall-tornado-alias.pth`` next to the package.

Everything else about the build lives in pyproject.toml. A ``.pth`` file must
sit directly in site-packages, which no pyproject key can express, so
``build_py`` writes it into the build root; wheels and editable installs both
take it from there. The hook is inert unless SQUALL_AS_TORNADO=1 (see
squall/compat.py and docs/compat.md).
"""

from __future__ import annotations

import os
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH_NAME = "squall-tornado-alias.pth"
# One line: site.py executes .pth lines that start with "import". The
# environment check happens before squall is imported, so interpreters
# without the variable pay for one dictionary lookup.
PTH_LINE = (
    "import os; os.environ.get('SQUALL_AS_TORNADO') == '1' and "
    "__import__('squall.compat').compat.install_from_environment()\n"
)


def write_hook(directory: str) -> str:
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, PTH_NAME)
    with open(target, "w", encoding="ascii") as f:
        f.write(PTH_LINE)
    return target


class BuildPyWithAliasHook(build_py):
    """Wheels: the hook goes into the build root, which is site-packages."""

    def run(self) -> None:
        super().run()
        write_hook(self.build_lib)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), os.path.join(self.build_lib, PTH_NAME)]


class EditableWheelWithAliasHook(editable_wheel):
    """Editable installs: only the files setuptools puts in the unpacked
    wheel directory reach site-packages (build outputs are linked to, not
    copied), so the hook is written there. The method is setuptools'
    internal step, present since editable wheels arrived (v64); if it ever
    goes away, editable installs lose the hook and wheels keep it."""

    def _run_build_commands(
        self, dist_name: str, unpacked_wheel: Any, *args: Any, **kwargs: Any
    ) -> Any:
        result = super()._run_build_commands(dist_name, unpacked_wheel, *args, **kwargs)
        write_hook(os.fspath(unpacked_wheel))
        return result


setup(cmdclass={"build_py": BuildPyWithAliasHook, "editable_wheel": EditableWheelWithAliasHook})
