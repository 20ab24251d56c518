"""Ship the top-level data folders (templates/, hw/, boards/) inside the wheel as nbq/_data/*.

The rest of the metadata lives in pyproject.toml; nbq.resources finds these folders
at the repository top level (editable install) or under nbq/_data (wheel).
Every folder of the data trees is listed as a package of its own: setuptools warns about (and will stop
shipping) data folders that are importable paths but not configured packages.
"""

from pathlib import Path

from setuptools import find_packages, setup

DATA = ("templates", "hw", "boards")
SKIP = {"__pycache__"}


def data_packages() -> dict[str, str]:
    """nbq._data.<folder>.<sub>... -> its folder, for every folder of the data trees."""
    packages: dict[str, str] = {}
    for top in DATA:
        for folder in [Path(top), *sorted(p for p in Path(top).rglob("*") if p.is_dir())]:
            if SKIP.intersection(folder.parts):
                continue
            packages[".".join(("nbq._data", *folder.parts))] = folder.as_posix()
    return packages


DATA_PACKAGES = data_packages()

setup(
    packages=find_packages(include=["nbq", "nbq.*"]) + list(DATA_PACKAGES),
    package_dir=DATA_PACKAGES,
    # data files inside the code packages (the resource model's calibration) ship beside their modules
    package_data={"nbq.estimation": ["*.json"], **{name: ["*"] for name in DATA_PACKAGES}},
    exclude_package_data={name: ["*.pyc"] for name in DATA_PACKAGES},
)
