"""Computes the package list; all other configuration is in pyproject.toml.

`package-dir` in pyproject.toml installs the top-level folders kernels/ and cluster/ as
dtf.kernels and dtf.cluster. pyproject's `packages.find` cannot discover packages under such a
remapped folder, so the list is built here, and every subpackage added under dtf/, kernels/ or
cluster/ is picked up without editing this file.
"""

from setuptools import find_packages, setup

# (installed name, folder) for each root of the distribution.
ROOTS = [("dtf", "dtf"), ("dtf.kernels", "kernels"), ("dtf.cluster", "cluster")]

packages = []
for name, folder in ROOTS:
    packages.append(name)
    packages.extend(f"{name}.{sub}" for sub in find_packages(folder))

setup(packages=packages)
