"""Ship the top-level data folders (templates/, hw/, boards/) inside the wheel as nbq/_data/*.

The rest of the metadata lives in pyproject.toml; nbq.resources finds these folders
at the repository top level (editable install) or under nbq/_data (wheel).
"""

from setuptools import find_packages, setup

DATA = {"templates": "templates", "hw": "hw", "boards": "boards"}

setup(
    packages=find_packages(include=["nbq", "nbq.*"]) + [f"nbq._data.{name}" for name in DATA],
    package_dir={f"nbq._data.{name}": folder for name, folder in DATA.items()},
    package_data={f"nbq._data.{name}": ["**/*"] for name in DATA},
)
