"""pytest set-up of the browser test (test_lab.py).

scripts/test runs this directory in the same pytest call as the notebook tests,
under tests/notebooks/pytest.ini (--nbval-lax): the fixture notebook here is
opened in JupyterLab by test_lab.py and must not be collected by nbval too.
"""

collect_ignore_glob = ["*.ipynb"]
