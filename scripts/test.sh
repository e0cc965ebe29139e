#!/usr/bin/env bash
# The test suite, as `make test` runs it after lint and type checks.
#
# Two phases: first every test but the end-to-end ones, spread over processes by pytest-xdist (one test
# file per process at a time, so module fixtures are built once); then the end-to-end and browser tests
# (marker e2e), which mostly wait on the camera_sim, worker and command centre they start: in two lanes,
# two pytest processes side by side, each with a NATS of its own, one running the tests that analyse
# video (one at a time: their deadlines assume the analysis has a core), the other the rest (see
# E2E_LANES in tests/conftest.py). TEST_E2E_LANES=1 runs them all in one process, one at a time.
# pytest-xdist cannot do this: its loadgroup does not group under pytest 9 (it sets item._nodeid).
# Arguments, when given, replace both phases with one plain pytest run.
# pytest exits 5 when it collects no test; that is said, not failed.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST=${PYTEST:-.venv/bin/pytest}
JOBS=${TEST_JOBS:-3}
E2E_LANES=${TEST_E2E_LANES:-2}
# A phase that hangs (a test's leftover thread keeping pytest alive after its summary, say) fails here
# instead of holding CI for its whole allowance.
PHASE_LIMIT_S=${TEST_PHASE_LIMIT_S:-1500}

run() {
    timeout --kill-after=30 "$PHASE_LIMIT_S" "$PYTEST" "$@"
    local rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "scripts/test.sh: pytest did not finish within ${PHASE_LIMIT_S} s: $*"
    fi
    if [ "$rc" -eq 5 ]; then
        echo "scripts/test.sh: pytest collected no tests for: $*"
        rc=0
    fi
    return "$rc"
}

if [ "$#" -gt 0 ]; then
    run "$@"
    exit $?
fi

run -n "$JOBS" --dist loadfile -m "not e2e" --durations=20
parallel=$?
# The plain install runs beside the end-to-end phase, which mostly waits on its services (the parallel
# phase keeps both cores busy); its output is shown when it ends.
install_log=$(mktemp)
bash scripts/check-install.sh >"$install_log" 2>&1 &
install_pid=$!
if [ "$E2E_LANES" -gt 1 ]; then
    # The services lane's output is shown when it ends, after the video lane's.
    lane_log=$(mktemp)
    SAFECITY_TEST_PRIVATE_NATS=1 SAFECITY_TEST_E2E_LANE=services \
        run -p no:xdist -m e2e --durations=10 -p no:cacheprovider >"$lane_log" 2>&1 &
    lane_pid=$!
    SAFECITY_TEST_PRIVATE_NATS=1 SAFECITY_TEST_E2E_LANE=video run -p no:xdist -m e2e --durations=10
    video=$?
    wait "$lane_pid"
    services=$?
    cat "$lane_log"
    rm -f "$lane_log"
    echo "scripts/test.sh: end-to-end video lane exit $video, services lane exit $services"
    serial=$((video || services))
else
    run -p no:xdist -m e2e --durations=20
    serial=$?
fi
wait "$install_pid"
install=$?
cat "$install_log"
rm -f "$install_log"
echo "scripts/test.sh: plain install exit $install, parallel phase exit $parallel, end-to-end phase exit $serial"
[ "$install" -eq 0 ] && [ "$parallel" -eq 0 ] && [ "$serial" -eq 0 ]
