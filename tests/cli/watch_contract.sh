#!/usr/bin/env bash
# The command-line contract of `flopsmeter watch -- COMMAND`: COMMAND's exit
# status passed through (127 not found, 128 + signal), arguments after `--`
# taken verbatim, signals forwarded once, tokens from a token file and from a
# Hugging Face output directory, the budget stop, a machine without a GPU,
# and GPU attribution to COMMAND's pid through the fake NVML library.
#
#   bash tests/cli/watch_contract.sh FLOPSMETER_BINARY REPO_ROOT
#
# Uses python3 to read the record's JSON. Every wait is a bounded polling
# loop, never a fixed sleep that a slow machine could outrun.
set -uo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 FLOPSMETER_BINARY REPO_ROOT" >&2
  exit 2
fi
FM=$1
command -v python3 >/dev/null 2>&1 || { echo "watch_contract: python3 not found" >&2; exit 1; }
PY=$(python3 -c 'import sys; print(sys.executable)') && [[ -x $PY ]] || PY=python3
[[ -x $FM ]] || { echo "watch_contract: $FM is not an executable" >&2; exit 1; }
# The fake NVML library the build makes beside the binary (tests/fake_nvml).
FAKE_NVML=$(find "$(dirname "$FM")/tests/fake_nvml" -name 'libnvidia-ml-fake.so' 2>/dev/null | head -1)

D=$(mktemp -d "${TMPDIR:-/tmp}/watch_contract.XXXXXX")
trap 'rm -rf "$D"' EXIT
WORK=$D
# shellcheck source=lib/contract.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/contract.sh"
# A model by its counts, so no catalog model is loaded.
MODEL=(--n-total 1000000 --n-trainable 1000000)

# watch WANT_EXIT ARGS...: runs flopsmeter watch, keeps stdout and stderr
watch() {
  local want=$1
  shift
  "$FM" watch "$@" >"$D/stdout" 2>"$D/stderr"
  local got=$?
  if [[ $got -ne $want ]]; then
    echo "exit $got, wanted $want: flopsmeter watch $*"
    head -c 2000 "$D/stderr"
    return 1
  fi
}
stderr_has() {
  grep -qF -- "$1" "$D/stderr" || { echo "stderr does not say '$1':"; head -c 2000 "$D/stderr"; return 1; }
}
json_has() {  # json_has PYTHON_EXPR, with j = the record printed by --json
  "$PY" - "$1" "$D/stdout" <<'PY' || return 1
import json, sys
expr, out = sys.argv[1:]
j = json.load(open(out))
ok = False
try:
    ok = eval(expr)
except Exception as e:  # noqa: BLE001
    print(f"json check raised {type(e).__name__}: {e}: {expr}")
if not ok:
    print(f"json check failed: {expr}")
    print(json.dumps({k: j.get(k) for k in ("status", "tokens_processed", "tokens", "hardware", "budget")})[:1500])
    sys.exit(1)
PY
}
wait_for() {  # wait_for FILE: up to 10 s
  for _ in $(seq 500); do [[ -e $1 ]] && return 0; sleep 0.02; done
  echo "timed out waiting for $1"
  return 1
}

# ------------------------------------------------------------ exit status
exit_status() {
  # Without a token source the job's compute is unknown: never "below" (exit 3).
  watch 3 --run "$D/ok" "${MODEL[@]}" --json -- true || return 1
  json_has 'j["status"] == "completed"' || return 1
  json_has 'j["verdict"]["determined"] is False and j["exceeds_30pct"] is None and j["compliance"]["flop"] is None' ||
    return 1
  stderr_has "the run's compute is UNDETERMINED: the job exposed no token count" || return 1
  [[ -f $D/ok/flops_meter.json ]] || { echo "no flops_meter.json"; return 1; }
  watch 0 --run "$D/ok-tokens" "${MODEL[@]}" --tokens-from "$D/ok-tokens.txt" --json -- sh -c 'echo 100 > "$0"' \
    "$D/ok-tokens.txt" || return 1
  json_has 'j["verdict"]["determined"] is True and j["exceeds_30pct"] is False' || return 1
  watch 3 --run "$D/three" "${MODEL[@]}" --json -- sh -c 'exit 3' || return 1
  json_has 'j["status"] == "failed"' || return 1
  watch 137 --run "$D/killed" "${MODEL[@]}" --json -- sh -c 'kill -9 $$' || return 1
  json_has 'j["status"] == "failed"'
}
check "exit status passes through; a signal death is 128 + signal" exit_status

not_found() {
  watch 127 --run "$D/nf" "${MODEL[@]}" -- fm-no-such-command || return 1
  stderr_has "fm-no-such-command: command not found" || return 1
  [[ ! -e $D/nf ]] || { echo "a run directory was created for a command that cannot run"; return 1; }
}
check "a missing command exits 127 like a shell, before anything is metered" not_found

verbatim() {
  # after --, options of flopsmeter's (and -h) belong to the command
  watch 3 --run "$D/verbatim" "${MODEL[@]}" -- sh -c 'printf "%s|" "$@" > "$0"' "$D/args" --json -h --help || return 1
  [[ $(cat "$D/args") == "--json|-h|--help|" ]] || { echo "the command got: $(cat "$D/args")"; return 1; }
  # The text record leads with the answer: here, that there is none.
  head -1 "$D/stdout" | grep -q '^UNDETERMINED (eu_modification' ||
    { echo "stdout does not lead with the verdict:"; head -3 "$D/stdout"; return 1; }
  grep -q '^run ' "$D/stdout" || { echo "stdout is not the text record:"; head -3 "$D/stdout"; return 1; }
}
check "arguments after -- are the command's, verbatim" verbatim

begin_fails() {
  watch 2 --run "$D/bad" "${MODEL[@]}" --tokens-from "$D/t" --budget-fraction 2 -- touch "$D/ran" || return 1
  stderr_has "--budget-fraction" || return 1
  [[ ! -e $D/ran ]] || { echo "the command ran though the meter could not begin"; return 1; }
  watch 2 --run "$D/nobudget" "${MODEL[@]}" --budget 1e12 -- true || return 1
  stderr_has "a budget needs --tokens-from"
}
check "invalid options exit 2 and the command never runs" begin_fails

one_writer() {
  # Two watches on one run directory (the same rank): the second is refused
  # before its command runs, and the first one's journal stays readable.
  rm -f "$D/ready1" "$D/ran2"
  "$FM" watch --run "$D/shared" "${MODEL[@]}" --tokens-from "$D/shared-tokens" -- \
    sh -c 'echo 10 > "$0"; touch "$0.ready"; sleep 1' "$D/shared-tokens" >/dev/null 2>&1 &
  local w=$!
  wait_for "$D/shared-tokens.ready" || { kill -9 $w; return 1; }
  watch 2 --run "$D/shared" --resume "${MODEL[@]}" -- touch "$D/ran2" || { wait $w; return 1; }
  stderr_has "another process is writing this journal" || { wait $w; return 1; }
  [[ ! -e $D/ran2 ]] || { echo "the second command ran"; wait $w; return 1; }
  wait $w || { echo "the first watch failed"; return 1; }
  "$FM" report --run "$D/shared" --json >"$D/stdout" 2>"$D/stderr" || { cat "$D/stderr"; return 1; }
  json_has 'j["tokens_processed"] == 10 and len(j["segments"]) == 1'
}
check "a second meter of the same rank in one run directory is refused before its command runs" one_writer

symlinked_journal() {
  mkdir -p "$D/planted"
  echo outside > "$D/outside"
  ln -s "$D/outside" "$D/planted/journal-rank0.jsonl"
  watch 2 --run "$D/planted" "${MODEL[@]}" -- touch "$D/ran-planted" || return 1
  stderr_has "journal-rank0.jsonl: is a symbolic link" || return 1
  [[ $(cat "$D/outside") == outside && ! -e $D/ran-planted ]] || { echo "the link's target was touched"; return 1; }
}
check "a journal planted as a symbolic link is refused, its target untouched" symlinked_journal

# ------------------------------------------------------------ signals
forwarded_term() {
  rm -f "$D/ready" "$D/term"
  "$FM" watch --run "$D/term-run" "${MODEL[@]}" --json -- \
    sh -c 'trap "echo got-term > \"$0/term\"; exit 7" TERM; touch "$0/ready"; while :; do sleep 0.05; done' "$D" \
    >"$D/stdout" 2>"$D/stderr" &
  local w=$!
  wait_for "$D/ready" || { kill -9 $w; return 1; }
  kill -TERM $w
  wait $w
  local got=$?
  [[ $got -eq 7 ]] || { echo "exit $got, wanted 7"; cat "$D/stderr"; return 1; }
  [[ $(cat "$D/term") == got-term ]] || { echo "the command's TERM trap did not run"; return 1; }
  json_has 'j["status"] == "interrupted"'
}
check "SIGTERM to watch reaches the command; its exit status comes back" forwarded_term

ctrl_c_once() {
  # A terminal's Ctrl-C signals watch's whole process group: with job control
  # watch runs in a group of its own, as in an interactive shell.
  rm -f "$D/ready" "$D/ints"
  set -m
  "$FM" watch --run "$D/int-run" "${MODEL[@]}" --json -- \
    sh -c 'trap "echo int >> \"$0/ints\"" INT; trap "exit 4" TERM; touch "$0/ready"; while :; do sleep 0.05; done' \
    "$D" >"$D/stdout" 2>"$D/stderr" &
  local w=$!
  set +m
  wait_for "$D/ready" || { kill -9 $w; return 1; }
  kill -INT -- -"$w"
  wait_for "$D/ints" || { kill -9 $w; return 1; }
  # a second delivery, if any, would come within this
  for _ in $(seq 25); do sleep 0.02; done
  kill -TERM $w
  wait $w
  local got=$?
  [[ $got -eq 4 ]] || { echo "exit $got, wanted 4"; cat "$D/stderr"; return 1; }
  [[ $(wc -l <"$D/ints") -eq 1 ]] || { echo "the command got SIGINT $(wc -l <"$D/ints") times"; return 1; }
  json_has 'j["status"] == "interrupted"'
}
check "Ctrl-C on watch's process group reaches the command exactly once" ctrl_c_once

# ------------------------------------------------------------ tokens
token_file() {
  watch 0 --run "$D/tokfile" "${MODEL[@]}" --tokens-from "$D/tokens" --json -- \
    sh -c 'for i in 1 2 3 4 5; do echo $((i * 1000)) >> "$0"; sleep 0.05; done; printf 6 >> "$0"' "$D/tokens" || return 1
  json_has 'j["tokens_processed"] == 5000' || return 1
  json_has 'j["tokens"]["spent"]["tokens"] == "5000"' || return 1
  json_has 'j["tokens"]["optimizer_steps"] == 5' || return 1
  stderr_has "positions are unknown from outside the job"
}
check "tokens from a token file the command appends to (a partial last line is not counted)" token_file

trainer_state() {
  local out=$D/hf-out
  watch 0 --run "$D/hf" "${MODEL[@]}" --tokens-from "$out" --json -- sh -c '
    mkdir -p "$0/checkpoint-2" "$0/checkpoint-10"
    printf "{\n  \"global_step\": 2,\n  \"log_history\": [{\"grad_norm\": NaN}],\n  \"num_input_tokens_seen\": 1024\n}" \
      > "$0/checkpoint-2/trainer_state.json"
    sleep 0.3
    printf "{\n  \"global_step\": 10,\n  \"log_history\": [],\n  \"num_input_tokens_seen\": 4096\n}" \
      > "$0/checkpoint-10/trainer_state.json"' "$out" || return 1
  json_has 'j["tokens_processed"] == 4096' || return 1
  stderr_has 'include_num_input_tokens_seen="non_padding"'
}
check "tokens from a Hugging Face output directory's newest checkpoint" trainer_state

# Every example of `watch --help` runs as written, its COMMAND replaced by a
# job that writes what the example's --tokens-from reads.
help_examples() {
  "$FM" watch --help | sed -n '/^Examples:/,$p' | sed -n 's/^  flopsmeter watch //p' >"$D/examples" || return 1
  [[ -s $D/examples ]] || { echo "no examples"; return 1; }
  local line i=0
  while IFS= read -r line; do
    i=$((i + 1))
    local args=()
    read -r -a args <<<"${line%% -- *}"
    mkdir -p "$D/example$i" || return 1
    (cd "$D/example$i" && "$FM" watch "${args[@]}" -- sh -c 'mkdir -p out &&
      printf "{\"global_step\": 1, \"num_input_tokens_seen\": 4096}" > out/trainer_state.json' \
      >"$D/stdout" 2>"$D/stderr") || { echo "example $i failed: $line"; head -c 2000 "$D/stderr"; return 1; }
  done <"$D/examples"
}
check "watch --help's examples run as written" help_examples

resumed() {
  # A first segment fails after 3000 tokens; the job restarts from an earlier
  # checkpoint (2500) and goes on to 4000: 3000 + 1500 spent, none twice.
  watch 1 --run "$D/resume" "${MODEL[@]}" --tokens-from "$D/resume-tokens" -- \
    sh -c 'printf "1000\n2000\n3000\n" >> "$0"; exit 1' "$D/resume-tokens" || return 1
  watch 0 --run "$D/resume" --resume "${MODEL[@]}" --tokens-from "$D/resume-tokens" --json -- \
    sh -c 'sleep 0.3; echo 2500 >> "$0"; sleep 0.3; echo 4000 >> "$0"' "$D/resume-tokens" || return 1
  json_has 'j["tokens"]["spent"]["tokens"] == "4500"' || return 1
  stderr_has "reported 3000 tokens before the command started" || return 1
  stderr_has "2500 is below the previous count 3000: the job counts again"
}
check "--resume continues a run: the job's count before it starts is not counted again, re-done steps are" resumed

resumed_gap() {
  # The earlier watch read 3000; the job wrote 3600 before it died (after the
  # watch's last reading). The restarted job starts from 3600: the 600 were
  # trained and are counted now, not discarded.
  watch 1 --run "$D/gap" "${MODEL[@]}" --tokens-from "$D/gap-tokens" -- \
    sh -c 'printf "1000\n2000\n3000\n" >> "$0"; exit 1' "$D/gap-tokens" || return 1
  echo 3600 >> "$D/gap-tokens"
  watch 0 --run "$D/gap" --resume "${MODEL[@]}" --tokens-from "$D/gap-tokens" --json -- \
    sh -c 'sleep 0.3; echo 4000 >> "$0"' "$D/gap-tokens" || return 1
  json_has 'j["tokens"]["spent"]["tokens"] == "4000"' || return 1
  stderr_has "the job reported 3600 tokens before it started again, but the earlier segments metered 3000"
}
check "--resume counts the tokens the job trained after the earlier watch's last reading" resumed_gap

budget_stop() {
  rm -f "$D/int"
  # 6 FLOP per parameter-token: 6e9 FLOP per 1000 tokens against a 3e10 budget.
  # A step every 0.5 s, slower than watch's 4 polls a second even on a slow
  # (sanitizer) build, so the guard sees each step and stops after the fifth.
  watch 5 --run "$D/budget" "${MODEL[@]}" --tokens-from "$D/budget-tokens" --budget 3e10 --json -- sh -c '
    trap "echo got-int > \"$0.int\"; exit 5" INT
    i=0; while [ $i -lt 400 ]; do i=$((i + 1)); echo $((i * 1000)) >> "$0"; sleep 0.5; done' "$D/budget-tokens" ||
    return 1
  [[ $(cat "$D/budget-tokens.int") == got-int ]] || { echo "the command got no SIGINT"; return 1; }
  json_has 'j["status"] == "stopped_by_budget"' || return 1
  json_has 'j["tokens_processed"] <= 5000' || return 1
  stderr_has "budget reached: stopping sh"
}
check "the budget stops the command with SIGINT; the record says stopped_by_budget" budget_stop

watch_ledger() (
  # With a ledger, watch appends the run's record when the job ends; the
  # same record added again by hand changes nothing.
  export FLOPSMETER_LEDGER=$D/watch-ledger.sqlite FLOPSMETER_LEDGER_KEY=$D/watch-ledger.key
  "$FM" ledger keygen >/dev/null 2>"$D/stderr" || { cat "$D/stderr"; return 1; }
  "$FM" ledger register acme/base --pretrain-flops 1e24 --pretrain-source "the test" --organisation Base-Lab >/dev/null 2>"$D/stderr" ||
    { cat "$D/stderr"; return 1; }
  watch 0 --run "$D/led" "${MODEL[@]}" --tokens-from "$D/led-tokens" --ledger-model acme/base \
    --ledger-produces acme/tuned --organisation Acme -- sh -c 'echo 1000 >> "$0"' "$D/led-tokens" || return 1
  stderr_has "ledger" || return 1
  "$FM" ledger runs --json >"$D/stdout" 2>"$D/stderr" || { cat "$D/stderr"; return 1; }
  json_has '[r["model"] for r in j["runs"]] == ["acme/tuned"]' || return 1
  json_has 'j["runs"][0]["compliance_flop"] == "6000000000"' || return 1
  "$FM" ledger add "$D/led" --ledger-produces acme/tuned >"$D/stdout" 2>"$D/stderr" || { cat "$D/stderr"; return 1; }
  grep -q "No change" "$D/stdout" || { echo "adding the record again was not a no-op:"; cat "$D/stdout"; return 1; }
  "$FM" ledger lineage acme/tuned --json >"$D/stdout" 2>"$D/stderr" || { cat "$D/stderr"; return 1; }
  json_has 'j["modification"]["own_compute"]["flop"] == "6000000000"' || return 1
  "$FM" ledger verify >/dev/null 2>&1 || { echo "the ledger does not verify"; return 1; }
)  # a subshell: the ledger's variables end with it
check "with a ledger, the run's record is appended when the job ends (models registered, lineage summed)" watch_ledger

multi_node() {
  # One watch per node, node-local directories, the job's id on both: node 1
  # writes its shard, node 0 reads the job's (whole) token count and enforces
  # the budget on it unscaled: 2 nodes must not make it twice the compute.
  watch 0 --run "$D/node1" --run-id job-7 --node-rank 1 --nnodes 2 "${MODEL[@]}" -- true || return 1
  grep -qF "node 1 of run job-7 (completed)" "$D/stdout" || { echo "node 1 says:"; cat "$D/stdout"; return 1; }
  watch 5 --run "$D/node0" --run-id job-7 --node-rank 0 --nnodes 2 --end-wait 0 "${MODEL[@]}" \
    --tokens-from "$D/mn-tokens" --budget 3e10 --json -- sh -c '
    trap "exit 5" INT
    i=0; while [ $i -lt 400 ]; do i=$((i + 1)); echo $((i * 1000)) >> "$0"; sleep 0.5; done' "$D/mn-tokens" ||
    return 1
  json_has 'j["status"] == "stopped_by_budget" and 4000 <= j["tokens_processed"] <= 5000' || return 1
  json_has 'j["complete"] is False' || return 1
  "$FM" merge --run "$D/merged" --json "$D/node0" "$D/node1" >"$D/stdout" 2>"$D/stderr" || { cat "$D/stderr"; return 1; }
  json_has 'j["run_id"] == "job-7" and j["complete"] and j["gpu_size"] == 2' || return 1
  json_has '4000 <= j["tokens_processed"] <= 5000' || return 1
  json_has 'any("positions are unknown" in n for n in j["notes"])' || return 1
  watch 2 --run "$D/node1b" --node-rank 1 --nnodes 2 "${MODEL[@]}" --tokens-from "$D/mn-tokens" -- true || return 1
  stderr_has "--tokens-from and the budget are node 0's" || return 1
  watch 0 --run "$D/node1c" --node-rank 1 --nnodes 2 "${MODEL[@]}" -- true || return 1
  stderr_has "no --run-id: the nodes' shards are one run only if"
}
check "a multi-node job: a watch per node, one run id, node 0's tokens and budget, merged" multi_node

# ------------------------------------------------------------ GPUs
no_gpu() {
  watch 3 --run "$D/nogpu" "${MODEL[@]}" --nvml --nvml-library "$D/no-such-libnvidia-ml.so.1" --json -- true || return 1
  json_has 'j["hardware"]["bound_flop"] is None and j["hardware"]["sampler"].startswith("unavailable")' || return 1
  json_has 'j["energy"]["joules"] is None' || return 1
  # Asked for and not started: said at once on stderr, and kept in the record's warnings.
  stderr_has "warning: GPU sampling was requested but could not start" || return 1
  json_has 'any(w.startswith("GPU sampling was requested but could not start") for w in j["warnings"])'
}
check "without a GPU the record says the GPU figures are unavailable, and watch warns at once" no_gpu

child_pid_of() {  # child_pid_of PID: its first child's pid, once it has one
  local pid=$1 c
  for _ in $(seq 500); do
    c=$(cat /proc/"$pid"/task/*/children 2>/dev/null | awk '{print $1; exit}')
    [[ -z $c ]] && command -v pgrep >/dev/null && c=$(pgrep -P "$pid" | head -1)
    [[ -n $c ]] && { echo "$c"; return 0; }
    sleep 0.02
  done
  return 1
}

fake_nvml() {
  # The fake reads its script when the sampler starts, after watch has
  # forked (and holds) the command: a FIFO lets the script name its pid.
  mkfifo "$D/nvml-script"
  FAKE_NVML_SCRIPT=$D/nvml-script "$FM" watch --run "$D/gpu" "${MODEL[@]}" --nvml --nvml-library "$FAKE_NVML" \
    --sample-hz 50 --json -- sleep 0.5 >"$D/stdout" 2>"$D/stderr" &
  local w=$! child
  child=$(child_pid_of $w) || { kill -9 $w; echo "no child"; return 1; }
  local h100="sm_clock=1755 | max_sm_clock=1980 | util=80 | power_mw=650000 | energy_mj_per_s=650000 | cc=9.0"
  timeout 10 sh -c 'printf "%s\n" "$1" "$2" > "$0"' "$D/nvml-script" \
    "name=NVIDIA H100 80GB HBM3 | uuid=GPU-job | $h100 | pids=$child" \
    "name=NVIDIA H100 80GB HBM3 | uuid=GPU-other | $h100 | pids=1" || { kill -9 $w; echo "fake NVML never read"; return 1; }
  wait $w || { echo "exit $?"; cat "$D/stderr"; return 1; }
  json_has "[g['uuid'] for g in j['hardware']['gpus'] if g['attributed_seconds'] > 0] == ['GPU-job']" || return 1
  json_has "[g['pids_seen'] for g in j['hardware']['gpus'] if g['uuid'] == 'GPU-job'] == [[$child]]" || return 1
  json_has 'j["hardware"]["bound_flop"] > 0 and j["energy"]["joules"] > 0' || return 1
  # No token count, but every GPU of the job sampled: the hardware upper bound
  # decides the modification's verdict, and says so.
  json_has 'j["hardware"]["bound_covers_run"] and j["verdict"]["determined"] is False' || return 1
  json_has '[r["decided_by"] for r in j["regimes"] if r["id"] == "eu_modification"] == ["hardware bound"]'
}
if [[ -n $FAKE_NVML ]]; then
  check "GPUs count only while the command's processes run on them (fake NVML)" fake_nvml
else
  echo "watch_contract: fake NVML library not built beside $FM; GPU attribution not checked"
fi

report_checks watch_contract
