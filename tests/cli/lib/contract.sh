# Shared by the contract scripts in tests/cli/: checks that count passes and
# failures, and flopsmeter run under a time limit with its output kept.
# Source it after setting FM (the binary) and WORK (a scratch directory).
passed=0
failed=0

check() {  # check NAME FUNCTION...: passes when it returns 0
  local name=$1
  shift
  if "$@" >"$WORK/check.log" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $name"
    sed 's/^/  | /' "$WORK/check.log" | head -30
  fi
}

# expect_exit CODE ARGS...: runs flopsmeter (at most 120 s: a hang is a
# failure, not a stuck test), keeps stdout and stderr in $WORK
expect_exit() {
  local want=$1
  shift
  timeout -k 5 "${FM_CONTRACT_TIMEOUT:-120}" "$FM" "$@" >"$WORK/stdout" 2>"$WORK/stderr"
  local got=$?
  if [[ $got -ne $want ]]; then
    echo "exit $got, wanted $want: flopsmeter $*"
    head -c 2000 "$WORK/stderr"
    return 1
  fi
}

# json_has PYTHON_EXPR: true when EXPR holds, with j = the JSON flopsmeter
# printed (the last expect_exit's stdout)
json_has() {
  python3 -c "import json,sys; j=json.load(open('$WORK/stdout')); sys.exit(0 if ($1) else 1)" || {
    echo "json check failed: $1"; return 1; }
}

# report_checks NAME: the summary line, and the script's exit status
report_checks() {
  echo "$1: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}

# isolate_environment DIR: HOME and the XDG directories under DIR, and none
# of the variables flopsmeter or the meter read from the caller's
# environment (FLOPSMETER_*, PRETRAIN_FLOPS, FLOPS_METER_*, the launcher's
# rank variables, the Hugging Face Hub's, AWS credentials and settings), so
# that no user's ledger, key, cache, credential or setting is touched or read. Call it before any command that may read them.
# HF_HUB_OFFLINE=1 keeps a Hub id no cache holds from reaching the real Hub;
# tests/hub/ points HF_ENDPOINT at its own server and lifts it.
isolate_environment() {
  local dir=$1 name
  mkdir -p "$dir/home" "$dir/data" "$dir/config"
  export HOME=$dir/home XDG_DATA_HOME=$dir/data XDG_CONFIG_HOME=$dir/config
  for name in $(compgen -e); do
    case $name in
      FLOPSMETER_* | FLOPS_METER_* | PRETRAIN_FLOPS | RANK | WORLD_SIZE | LOCAL_RANK | TRAINING_JOB_NAME | \
        FAKE_NVML_SCRIPT | HF_* | XDG_CACHE_HOME | AWS_*) unset "$name" ;;
    esac
  done
  export HF_HUB_OFFLINE=1
}
