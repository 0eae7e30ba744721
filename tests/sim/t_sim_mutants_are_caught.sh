# make sim-mutants: every deliberately broken variant is caught by the simulator.
source "$FL_ROOT/tests/lib/common.sh"
cd "$FL_ROOT" && scripts/sim-mutants.sh "$FL_BUILD"
