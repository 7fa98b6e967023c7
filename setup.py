"""Build hook: put the example lab projects inside the wheel, so `labtool init` works from any install.

Everything else about the build is in pyproject.toml.
"""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, str(Path(__file__).parent))
from labtool import examples


class BuildWithExamples(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the examples from the checkout
            return
        for name in examples.EXAMPLES:
            examples.assemble(name, Path(self.build_lib) / "labtool" / "examples" / name)


setup(cmdclass={"build_py": BuildWithExamples})
