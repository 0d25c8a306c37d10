# The two commands of the README: `make demo` (the main job) and `make test` (every test).
# Both run scripts/bootstrap.sh first, which installs missing Debian packages.
JOBS ?= $(shell nproc)

.PHONY: all demo test bench clean bootstrap
all: bootstrap
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build -j $(JOBS)

bootstrap:
	@bash scripts/bootstrap.sh

demo: all
	./build/crec demo

# Tests build separately with -Werror, AddressSanitizer and UBSan.
test: bootstrap
	cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DCREC_SANITIZE=ON -DCREC_WERROR=ON \
	      -DCMAKE_C_FLAGS_DEBUG="-O1 -g" >/dev/null
	cmake --build build-test -j $(JOBS)
	cd build-test && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    ctest --output-on-failure -j $(JOBS)

bench: all
	bash bench/run_all.sh

clean:
	rm -rf build build-test
