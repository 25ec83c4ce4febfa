# The Python binding (bindings/python, pyo3 + maturin): installs the package
# into the venv the way a user would (`pip install ./bindings/python`, an abi3
# wheel built by maturin), runs its pytest suite against the wsx server and
# `websockets` peers, checks the type stub against the native module
# (mypy.stubtest) and type-checks the package (mypy --strict).
.PHONY: python-install test-python
TEST_TARGETS += test-python
DEMO_BUILD_TARGETS += python-install

PIP := $(VENV)/bin/pip

# `make test` (FFI_PROFILE=debug) installs a debug build, as the tests of the
# other languages link the debug library: debug assertions on, and the build
# reuses the dependencies the debug library compiled. Users, `make demo` and
# `make bench` get release.
PY_BUILD_ARGS = $(if $(filter release,$(FFI_PROFILE)),,--profile dev)

python-install:
	MATURIN_PEP517_ARGS="$(PY_BUILD_ARGS)" $(PIP) install -q --disable-pip-version-check ./bindings/python

# pytest exits 0 only when every collected test passed; 1-5 (failures,
# interruption, internal error, usage error, nothing collected) all fail here.
test-python: python-install
	cd bindings/python && $(PY) -m pytest -q -p no:cacheprovider tests
	cd bindings/python && $(PY) -m mypy.stubtest wsx._wsx
	cd bindings/python && $(PY) -m mypy --strict --no-incremental python/wsx
