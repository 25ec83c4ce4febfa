# The Rust core: protocol unit and property tests, and the net layer's own tests.
.PHONY: test-core
TEST_TARGETS += test-core

test-core:
	$(CARGO) test $(CARGO_FLAGS) -p wsx-core
