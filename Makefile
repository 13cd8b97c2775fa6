# The two commands of the README, and a few more. Each target sets up what it needs (scripts/setup.sh).
.PHONY: demo test test-fast setup lint clean

demo:  ## start the graph in the simulated workcell and run three instructions (outputs/demo/)
	bash scripts/run.sh vla-ros demo

test:  ## the whole test suite
	bash scripts/test.sh

test-fast:  ## the suite without the tests marked slow
	bash scripts/test.sh -m "not slow"

setup:  ## install the environment (.venv) and build the workspace (build/, install/)
	bash scripts/setup.sh

lint:
	bash scripts/run.sh ruff check .

clean:  ## remove the build products (the venv stays: rm -rf .venv for that)
	rm -rf build install log
