# Shortcuts for the scripts of the README: `make demo` = scripts/demo.sh, `make test` = scripts/test.sh.
# On a machine without make, run the scripts with bash directly.
.PHONY: all demo test bench clean
all:
	bash scripts/bootstrap.sh
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build -j $$(nproc)

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

bench: all
	bash bench/run_all.sh

clean:
	rm -rf build build-test
