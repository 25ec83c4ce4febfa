# wsx against third-party peers on 127.0.0.1: Python websockets, Node ws,
# headless Chromium (playwright-core), nginx as a reverse proxy.
# The peers come from `make deps`; WSX_PYTHON and WSX_NODE_DIR point the
# tests at them.
.PHONY: test-interop
TEST_TARGETS += test-interop

test-interop:
	WSX_PYTHON=$(PY) WSX_NODE_DIR=$(NODE_DIR) $(CARGO) test $(CARGO_FLAGS) -p wsx-interop
