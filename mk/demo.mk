# The README's demo: `make demo` builds what every layer lists in
# DEMO_BUILD_TARGETS (the C examples: mk/ffi.mk), then scripts/demo.sh starts
# the C echo_server on a free port and runs each example client against it.
# A binding adds its build step to DEMO_BUILD_TARGETS in its own mk file and
# its client as one `client` line in scripts/demo.sh.
.PHONY: demo-run
DEMO_TARGETS += demo-run

# Built from the recipe, so the targets appended by mk files read after this
# one are included.
demo-run:
	@$(MAKE) --no-print-directory $(DEMO_BUILD_TARGETS)
	FFI_PROFILE=$(FFI_PROFILE) bash scripts/demo.sh
