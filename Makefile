# mailrelay.exchange: the two commands a newcomer needs are `make lab` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
VENV ?= $(ROOT)/.venv
BIN := $(VENV)/bin
export PATH := $(BIN):$(PATH)
export CONTAINERS_CONF ?= $(ROOT)/lab/containers.conf
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
COLLECTIONS_DIR ?= $(ROOT)/.collections
export ANSIBLE_COLLECTIONS_PATH := $(ROOT)/.collections
export ANSIBLE_FORCE_COLOR ?= 0
export PY_COLORS ?= 0

VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL := .build/collection/mailrelay-exchange-$(VERSION).tar.gz
SANITY_TREE := .build/sanity/ansible_collections/mailrelay/exchange
# Every Molecule scenario, in a stable order; `make molecule SCENARIOS=relay` runs one.
SCENARIOS ?= $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))
LAB_SCENARIO ?= site
FRESH_TARGETS ?= lab test

.PHONY: help setup smoke lab lab-check fresh-check mutation lab-destroy collection ee-context docs lint sanity unit rules-test molecule test list-scenarios bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## install Podman, the pinned tools and the Debian 12/13 lab images (idempotent)
	lab/setup.sh

collection: ## build the collection tarball and install it where the lab and tests find it
	@# Each Molecule scenario installs into its own COLLECTIONS_DIR, so scenarios
	@# running side by side never read a collection another one is replacing.
	out="$$(mktemp -d)" && trap 'rm -rf "$$out"' EXIT && \
	    $(BIN)/ansible-galaxy collection build --force --output-path "$$out" . >/dev/null && \
	    rm -rf "$(COLLECTIONS_DIR)/ansible_collections/mailrelay/exchange" && \
	    ANSIBLE_COLLECTIONS_PATH="$(COLLECTIONS_DIR)" $(BIN)/ansible-galaxy collection install \
	        --offline --force --no-deps -p "$(COLLECTIONS_DIR)" "$$out/$(notdir $(TARBALL))" >/dev/null && \
	    mkdir -p "$(dir $(TARBALL))" && cp "$$out/$(notdir $(TARBALL))" "$(TARBALL).tmp.$$$$" && \
	    mv -f "$(TARBALL).tmp.$$$$" "$(TARBALL)"
	@echo "collection mailrelay.exchange $(VERSION) built ($(TARBALL)) and installed into $(COLLECTIONS_DIR)"

lab: setup collection ## bring up the lab and configure the relay in it with playbooks/site.yml
	lab/lab-up.sh $(LAB_SCENARIO)

smoke: ## can this machine run the lab? (the last step of make setup)
	lab/smoke-check.sh

lab-check: ## run the steps the lab's howto prints and check every answer
	lab/howto.sh --check $(LAB_SCENARIO)

fresh-check: ## rehearse a newcomer: the README's commands in a fresh Debian 12 system (FRESH_TARGETS="lab test")
	lab/fresh-check.sh $(FRESH_TARGETS)

lab-destroy: ## remove the lab containers
	cd $(ROOT) && $(BIN)/molecule destroy -s $(LAB_SCENARIO)

ee-context: collection ## build context for the AWX execution environment (ansible-builder create)
	lab/check-ee.sh

docs: collection ## every plugin's and role's documentation renders with ansible-doc
	$(BIN)/ansible-doc mailrelay.exchange.relay_recipient_map >/dev/null
	for f in mail_domains smtp_nexthops postfix_networks postfix_map_file; do $(BIN)/ansible-doc -t filter mailrelay.exchange.$$f >/dev/null; done
	for r in $(notdir $(wildcard roles/*)); do $(BIN)/ansible-doc -t role mailrelay.exchange.$$r >/dev/null; done
	@echo "ansible-doc renders the module, the filters and the roles"

lint: collection ## ansible-lint (production profile), yamllint, shellcheck
	$(BIN)/ansible-lint --offline
	$(BIN)/yamllint -s .
	shellcheck .ci/run $$(git ls-files '*.sh')

sanity: ## ansible-test sanity on a copy of the collection laid out as ansible_collections/
	lab/ansible-test-pip.sh
	rm -rf .build/sanity && mkdir -p $(SANITY_TREE)
	git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -C $(SANITY_TREE) -xf -
	cd $(SANITY_TREE) && git init -q && git add -A && \
	    $(BIN)/ansible-test sanity --local --requirements --python 3.11 --color no

mutation: ## mutation score of the address rules, gate, map build and LDAP page checks (mutmut, slow)
	lab/mutation.sh

unit: ## pytest for module_utils and modules
	$(BIN)/python -m pytest -q tests/unit

rules-test: ## promtool: check and unit-test the Prometheus alert rules (Debian: apt-get install prometheus)
	@command -v promtool >/dev/null || { echo "promtool not found: apt-get install prometheus (Debian 12 has 2.42)"; exit 1; }
	promtool check rules extras/prometheus/rules/mailrelay.rules.yml
	cd tests/prometheus && promtool test rules mailrelay.rules.test.yml

molecule: setup collection ## every Molecule scenario (create, converge, check, idempotence, verify, destroy)
	for s in $(SCENARIOS); do \
	    echo "=== molecule test -s $$s"; \
	    $(BIN)/molecule test -s $$s || exit 1; \
	done

test: setup ## everything: lint, sanity, unit tests, all Molecule scenarios (summary line at the end)
	lab/run-tests.sh

list-scenarios:
	@echo $(SCENARIOS)

bench: ## measure export, map types, dictionary attack, DKIM signing, Samba and DirSync at 100,000 objects (about 45 min) and write docs/benchmarks.md; BENCH_AB_REF=<commit> adds an A/B against that commit's module
	bench/run.sh

clean: ## remove build output (not the venv or the images)
	rm -rf .build .collections tests/output
