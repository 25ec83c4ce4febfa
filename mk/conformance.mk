# Conformance (tests/conformance): the Autobahn TestSuite (wstest 0.8.2 on
# Python 2.7, installed by scripts/install-autobahn.sh into .autobahn/) on
# 127.0.0.1 against wsx in every role and binding. tests/conformance/run.py
# starts each peer, runs wstest, and checks wstest's index.json: every
# result OK or INFORMATIONAL, UNIMPLEMENTED only for 12.x/13.x without
# compression, exceptions only as listed in tests/conformance/allowed.txt.
#
# `make conformance`: all 517 cases in every role (HTML reports in
# build/conformance/full/<role>/index.html, the table in summary.md).
# `make test` (test-conformance): the quick set, cases 1-7 and 10, for the C
# server, the C client, the Python (sync) client and the C# client (its 247
# quick cases take about 8 s).
.PHONY: conformance test-conformance autobahn conformance-csharp
TEST_TARGETS += test-conformance

CONFORMANCE_DIR := $(BUILD)/conformance
CONFORMANCE_ROLES ?= c-server c-server-deflate c-client c-sansio-server c-sansio-server-deflate \
  c-sansio-client python-asyncio-server python-asyncio-client python-sync-client csharp-client
CONFORMANCE_QUICK_ROLES ?= c-server c-client python-sync-client csharp-client
# Extra run.py flags for `make conformance`, e.g. CONFORMANCE_FLAGS="--exclude 12.*,13.*"
# (the permessage-deflate groups take most of the time: wstest is the slow side).
CONFORMANCE_FLAGS ?=
# Read when the recipes run (CSHARP_OUT and friends come from later mk files).
CONFORMANCE_RUN = $(PY) tests/conformance/run.py --examples $(EXAMPLES_DIR) --python $(PY) \
  --mono $(MONO) --csharp-exe $(CSHARP_OUT)/AutobahnClient.exe --lib-dir $(CSHARP_LIB_DIR)

autobahn:
	bash scripts/install-autobahn.sh

conformance-csharp: csharp
	$(MCS) $(CSHARP_FLAGS) -r:$(CSHARP_OUT)/Wsx.dll -out:$(CSHARP_OUT)/AutobahnClient.exe \
	  tests/conformance/AutobahnClient.cs

conformance: deps autobahn examples python-install conformance-csharp
	$(CONFORMANCE_RUN) --out $(CONFORMANCE_DIR)/full $(CONFORMANCE_FLAGS) $(CONFORMANCE_ROLES)

test-conformance: autobahn examples python-install conformance-csharp
	$(CONFORMANCE_RUN) --quick --out $(CONFORMANCE_DIR)/quick $(CONFORMANCE_QUICK_ROLES)
