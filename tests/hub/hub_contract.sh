#!/usr/bin/env bash
# Hub ids fetched over HTTP into the local Hugging Face cache, against a
# local stand-in for the Hub (hub_server.py, started here on loopback, with a
# CDN on another host and injected faults). The cache is read back
# independently: refs, relative links into blobs/, blob names against the
# served bytes' git blob id or SHA-256. The token never shows in any output
# or file. Nothing here reaches the real Hub.
# Usage: hub_contract.sh PATH_TO_FLOPSMETER SOURCE_DIR
set -uo pipefail
FM="$1"
SRC="$2"
WORK="$(mktemp -d)"
server=""
stop() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$WORK"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
# shellcheck source=../cli/lib/contract.sh
source "$SRC/tests/cli/lib/contract.sh"
isolate_environment "$WORK/env"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

TOKEN=hf_SeCrEtToKeN0123456789abcdef
C1=1111111111111111111111111111111111111111
C2=2222222222222222222222222222222222222222
repos="$WORK/served/repos"

# The repositories the server holds: acme/tiny (main -> C1, dev -> C2, a
# small tokenizer served through the CDN as an LFS file), acme/gated
# (wants $TOKEN), acme/old (renamed to acme/tiny), acme/noconfig, and one
# per fault.
make_repo() {  # make_repo ORG/NAME COMMIT LAYERS
  local dir="$repos/$1/$2"
  mkdir -p "$dir" "$repos/$1/refs" &&
    python3 -c "
import json
c = json.load(open('$SRC/data/models/meta-llama__Llama-3.2-1B.json'))['config']
c['num_hidden_layers'] = $3
json.dump(c, open('$dir/config.json', 'w'), indent=2)" &&
    cat >"$dir/tokenizer.json" <<'EOF' &&
{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "<s>": 2, "</s>": 3}, "merges": []},
 "added_tokens": [{"id": 2, "content": "<s>", "special": true}, {"id": 3, "content": "</s>", "special": true}],
 "post_processor": {"type": "TemplateProcessing",
                    "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}],
                    "special_tokens": {"<s>": {"id": "<s>", "ids": [2]}}}}
EOF
    touch "$dir/tokenizer.json.lfs" &&
    printf '{"bos_token": "<s>", "eos_token": "</s>"}' >"$dir/tokenizer_config.json"
}
setup_repos() {
  make_repo acme/tiny "$C1" 16 && make_repo acme/tiny "$C2" 2 &&
    printf '%s' "$C1" >"$repos/acme/tiny/refs/main" && printf '%s\n' "$C2" >"$repos/acme/tiny/refs/dev" &&
    make_repo acme/gated "$C1" 16 && printf '%s' "$C1" >"$repos/acme/gated/refs/main" &&
    printf '%s\n' "$TOKEN" >"$repos/acme/gated/token" &&
    mkdir -p "$repos/acme/old" && printf 'acme/tiny' >"$repos/acme/old/renamed" &&
    make_repo acme/noconfig "$C1" 16 && rm "$repos/acme/noconfig/$C1/config.json" &&
    printf '%s' "$C1" >"$repos/acme/noconfig/refs/main" &&
    for fault in stall drop truncated oversized bad-etag loop; do
      make_repo acme/$fault "$C1" 16 && printf '%s' "$C1" >"$repos/acme/$fault/refs/main" &&
        printf '%s' "$fault" >"$repos/acme/$fault/fault" || return 1
    done
}
setup_repos || { echo "could not lay out the served repositories" >&2; exit 1; }

python3 "$SRC/tests/hub/hub_server.py" "$WORK/served" >"$WORK/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  [[ -f $WORK/served/hub.env ]] && break
  kill -0 "$server" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "hub_server.py failed" >&2; exit 1; }
  sleep 0.1
done
# shellcheck disable=SC1091
source "$WORK/served/hub.env" || { echo "hub_server.py did not start in 10 s" >&2; exit 1; }
ENDPOINT="http://127.0.0.1:$FM_TEST_HUB_PORT"
LOG="$WORK/served/requests.log"
touch "$LOG"
mkdir -p "$WORK/outputs"
printf '{"text": "ab"}\n{"text": "abab"}\n' >"$WORK/data.jsonl"
# What the served tokenizer counts, read straight from the served files.
expect_exit 0 tokens --tokenizer "$repos/acme/tiny/$C1" --json "$WORK/data.jsonl" || exit 1
TOKENS=$(python3 -c "import json; print(json.load(open('$WORK/stdout'))['tokens'])")

# hub EXIT ARGS...: flopsmeter online against the server, with the cache
# in $CACHE; stdout and stderr also kept for the token check at the end.
runs=0
hub() {
  local want=$1
  shift
  runs=$((runs + 1))
  HF_HUB_OFFLINE=0 HF_ENDPOINT="$ENDPOINT" HF_HUB_CACHE="$CACHE" expect_exit "$want" "$@"
  local status=$?
  cp "$WORK/stdout" "$WORK/outputs/$runs.out"
  cp "$WORK/stderr" "$WORK/outputs/$runs.err"
  return $status
}
requests() { wc -l <"$LOG"; }

# The cache holds FILE of REPO at COMMIT as huggingface_hub lays it out: a
# relative link into blobs/, the blob named by the served bytes' git blob
# id (or SHA-256 for an LFS file), with the served bytes.
cached_as_served() {  # cached_as_served ORG/NAME COMMIT FILE [SERVED_REPO]
  local repo_dir="$CACHE/models--${1/\//--}" served="$repos/${4:-$1}/$2/$3"
  local link="$repo_dir/snapshots/$2/$3" target etag
  [[ -L $link ]] || { echo "$link is not a link"; return 1; }
  target=$(readlink "$link")
  if [[ -f $served.lfs ]]; then etag=$(sha256sum <"$served" | cut -d' ' -f1); else etag=$(git hash-object "$served"); fi
  [[ $target == "../../blobs/$etag" ]] || { echo "$link -> $target, wanted ../../blobs/$etag"; return 1; }
  [[ -f $repo_dir/blobs/$etag && ! -L $repo_dir/blobs/$etag ]] || { echo "no blob $etag"; return 1; }
  [[ $(sha256sum <"$repo_dir/blobs/$etag") == "$(sha256sum <"$served")" ]] || { echo "blob $etag differs"; return 1; }
}
no_temporary_files() {
  local left
  left=$(find "$CACHE" -name '.*' -o -name '*.tmp*' -o -name '*.incomplete' 2>/dev/null)
  [[ -z $left ]] || { echo "left in the cache: $left"; return 1; }
}

public_repo() {
  CACHE="$WORK/cache-public"
  local before
  hub 0 estimate --model acme/tiny --tokens 1e6 --json &&
    json_has "j['model']['hub'] == {'repo': 'acme/tiny', 'revision': 'main', 'commit': '$C1',
              'snapshot': '$CACHE/models--acme--tiny/snapshots/$C1', 'fetched': True}" &&
    json_has "j['model']['params_total'] == 1235814400" &&
    json_has "any('fetched from the Hugging Face Hub' in n for n in j['model']['notes'])" &&
    [[ $(cat "$CACHE/models--acme--tiny/refs/main") == "$C1" ]] &&
    cached_as_served acme/tiny "$C1" config.json &&
    [[ ! -e $CACHE/models--acme--tiny/snapshots/$C1/tokenizer.json ]] && no_temporary_files &&
    ! grep -q "Bearer" "$LOG" &&
    before=$(requests) &&
    HF_HUB_OFFLINE=1 HF_ENDPOINT="http://127.0.0.1:1" HF_HUB_CACHE="$CACHE" expect_exit 0 estimate --model acme/tiny \
      --tokens 1e6 --json &&
    json_has "j['model']['hub']['fetched'] == False and j['model']['hub']['commit'] == '$C1'" &&
    [[ $(requests) == "$before" ]]
}
check "a public repository is fetched with no token into the cache layout, then read offline" public_repo

dataset_with_tokenizer() {
  CACHE="$WORK/cache-public"  # holds config.json at C1 from above: the tokenizer's files are added
  hub 0 estimate --model acme/tiny --dataset "$WORK/data.jsonl" --json &&
    json_has "j['dataset']['tokens'] == $TOKENS and j['model']['hub']['fetched'] == True" &&
    cached_as_served acme/tiny "$C1" tokenizer.json && cached_as_served acme/tiny "$C1" tokenizer_config.json &&
    cached_as_served acme/tiny "$C1" config.json &&
    grep -q "^cdn GET /blobs/" "$LOG" && no_temporary_files &&
    HF_HUB_OFFLINE=1 HF_HUB_CACHE="$CACHE" expect_exit 0 estimate --model acme/tiny --dataset "$WORK/data.jsonl" --json &&
    json_has "j['dataset']['tokens'] == $TOKENS and j['model']['hub']['fetched'] == False"
}
check "counting a dataset fetches the tokenizer's files (an LFS file through the CDN) beside the config" \
  dataset_with_tokenizer

revisions() {
  CACHE="$WORK/cache-public"
  hub 0 estimate --model acme/tiny --revision dev --tokens 1e6 --json &&
    json_has "j['model']['hub']['commit'] == '$C2' and j['model']['hub']['revision'] == 'dev'" &&
    json_has "j['model']['hub']['fetched'] == True and j['model']['params_total'] != 1235814400" &&
    [[ $(cat "$CACHE/models--acme--tiny/refs/dev") == "$C2" ]] && cached_as_served acme/tiny "$C2" config.json &&
    CACHE="$WORK/cache-commit" &&
    hub 0 estimate --model acme/tiny --revision "$C2" --tokens 1e6 --json &&
    json_has "j['model']['hub']['commit'] == '$C2'" &&
    [[ ! -e $CACHE/models--acme--tiny/refs/$C2 && ! -e $CACHE/models--acme--tiny/refs/main ]] &&
    cached_as_served acme/tiny "$C2" config.json &&
    hub 2 estimate --model acme/tiny --revision nope --tokens 1e6 &&
    grep -q "$ENDPOINT/acme/tiny/resolve/nope/config.json: HTTP 404: acme/tiny has no revision 'nope'" "$WORK/stderr"
}
check "a revision: a branch (refs/ written) and a commit hash (no ref); a missing one is a 404 naming it" revisions

gated() {
  CACHE="$WORK/cache-gated"
  hub 2 estimate --model acme/gated --tokens 1e6 &&
    grep -q "HTTP 401: acme/gated is gated or private, and no Hugging Face token was given: set HF_TOKEN" "$WORK/stderr" &&
    HF_TOKEN=hf_wrong hub 2 estimate --model acme/gated --tokens 1e6 &&
    grep -q "HTTP 403: the Hub refused the token from HF_TOKEN for acme/gated (a gated model" "$WORK/stderr" &&
    [[ ! -e $CACHE/models--acme--gated ]] &&
    HF_TOKEN="$TOKEN" hub 0 estimate --model acme/gated --dataset "$WORK/data.jsonl" --json &&
    json_has "j['dataset']['tokens'] == $TOKENS" && cached_as_served acme/gated "$C1" tokenizer.json &&
    grep -q "^hub GET /acme/gated/resolve/main/config.json Bearer $TOKEN\$" "$LOG" &&
    grep -q "^cdn GET /blobs/" "$LOG" && ! grep "^cdn " "$LOG" | grep -q "Bearer" &&
    printf '%s\n' "$TOKEN" >"$WORK/token-file" && CACHE="$WORK/cache-gated-file" &&
    HF_TOKEN_PATH="$WORK/token-file" hub 0 estimate --model acme/gated --tokens 1e6 --json &&
    mkdir -p "$WORK/hf-home" && printf '%s' "$TOKEN" >"$WORK/hf-home/token" && CACHE="$WORK/cache-gated-home" &&
    HF_HOME="$WORK/hf-home" hub 0 estimate --model acme/gated --tokens 1e6 --json
}
check "a gated repository: 401 without a token names HF_TOKEN, 403 with a wrong one, fetched with the right one \
(from HF_TOKEN, HF_TOKEN_PATH or \$HF_HOME/token), never sent to the CDN on another host" gated

not_found() {
  CACHE="$WORK/cache-missing"
  hub 2 estimate --model acme/nope --tokens 1e6 &&
    grep -q "resolve/main/config.json: HTTP 401: acme/nope does not exist or is private, and no Hugging Face token.*set HF_TOKEN.*closest catalog ids" \
      "$WORK/stderr" &&
    HF_TOKEN="$TOKEN" hub 2 estimate --model acme/nope --tokens 1e6 &&
    grep -q "HTTP 404: the Hub ($ENDPOINT) has no model repository acme/nope" "$WORK/stderr" &&
    hub 2 estimate --model acme/noconfig --tokens 1e6 &&
    grep -q "acme/noconfig/resolve/main/config.json: HTTP 404: acme/noconfig at main has no such file" "$WORK/stderr" &&
    [[ ! -e $CACHE/models--acme--nope && ! -e $CACHE/models--acme--noconfig ]]
}
check "404: a missing repository and a missing file are told apart (X-Error-Code)" not_found

redirects() {
  CACHE="$WORK/cache-renamed"
  HF_TOKEN="$TOKEN" hub 0 estimate --model acme/old --dataset "$WORK/data.jsonl" --json &&
    json_has "j['model']['hub']['repo'] == 'acme/old' and j['model']['hub']['commit'] == '$C1'" &&
    cached_as_served acme/old "$C1" config.json acme/tiny && cached_as_served acme/old "$C1" tokenizer.json acme/tiny &&
    grep -q "^hub GET /acme/tiny/resolve/main/config.json Bearer $TOKEN\$" "$LOG" &&
    ! grep "^cdn " "$LOG" | grep -q "Bearer" &&
    hub 2 estimate --model acme/loop --tokens 1e6 && grep -q "more than 5 redirects" "$WORK/stderr" &&
    [[ ! -e $CACHE/models--acme--loop ]]
}
check "redirects: a relative 307 (renamed repository) keeps the token, a CDN on another host never gets it, a loop ends" \
  redirects

faults() {
  CACHE="$WORK/cache-faults"
  local started=$SECONDS
  HF_HUB_DOWNLOAD_TIMEOUT=2 hub 2 estimate --model acme/stall --tokens 1e6 &&
    grep -q "$ENDPOINT/acme/stall/resolve/main/config.json: no answer within 2 s" "$WORK/stderr" &&
    ((SECONDS - started < 20)) &&
    hub 2 estimate --model acme/drop --tokens 1e6 && grep -q "$ENDPOINT/acme/drop/resolve/main/config.json: " "$WORK/stderr" &&
    hub 2 estimate --model acme/truncated --tokens 1e6 && grep -q "acme/truncated/resolve/main/config.json" "$WORK/stderr" &&
    hub 2 estimate --model acme/oversized --tokens 1e6 && grep -q "the answer is longer than 16777216 bytes" "$WORK/stderr" &&
    HF_TOKEN="$TOKEN" hub 2 estimate --model acme/bad-etag --tokens 1e6 &&
    grep -q "ETag '../../escapeBearer \[token\]' is not a blob name" "$WORK/stderr" &&
    HF_HUB_DOWNLOAD_TIMEOUT=soon hub 2 estimate --model acme/tiny --tokens 1e6 &&
    grep -q "HF_HUB_DOWNLOAD_TIMEOUT 'soon'" "$WORK/stderr" &&
    [[ -z $(find "$CACHE" -mindepth 1 2>/dev/null) ]]
}
check "a stalled, dropped, truncated, oversized or misnamed answer is a clear error and nothing is written" faults

killed_mid_transfer() {
  CACHE="$WORK/cache-killed"
  local seen pid
  seen=$(grep -c "/acme/stall/" "$LOG")
  HF_HUB_OFFLINE=0 HF_ENDPOINT="$ENDPOINT" HF_HUB_CACHE="$CACHE" HF_HUB_DOWNLOAD_TIMEOUT=60 \
    "$FM" estimate --model acme/stall --tokens 1e6 >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    (($(grep -c "/acme/stall/" "$LOG") > seen)) && break
    sleep 0.1
  done
  sleep 0.5  # half the body has arrived
  kill -KILL "$pid" && wait "$pid"
  [[ $? == 137 ]] && [[ -z $(find "$CACHE" -mindepth 1 2>/dev/null) ]]
}
check "a process killed mid-transfer leaves nothing in the cache" killed_mid_transfer

catalog_ids() {
  CACHE="$WORK/cache-catalog"
  local before
  before=$(requests)
  hub 0 estimate --model meta-llama/Llama-3.2-1B --tokens 1e6 --json &&
    json_has "j['model']['hub'] is None" && [[ $(requests) == "$before" ]] &&
    hub 2 estimate --model meta-llama/Llama-3.2-1B --dataset "$WORK/data.jsonl" &&
    grep -q "counting a dataset needs a tokenizer, and the model's own could not be fetched (.*HTTP 401: .*with --tokenizer PATH" \
      "$WORK/stderr" &&
    grep -q "^hub GET /meta-llama/Llama-3.2-1B/resolve/main/config.json" "$LOG"
}
check "a catalog id is the catalog's without a request; its own tokenizer is fetched, and failing that one is asked for" \
  catalog_ids

offline_empty_cache() {
  CACHE="$WORK/cache-empty"
  local before
  before=$(requests)
  HF_HUB_OFFLINE=1 HF_ENDPOINT="$ENDPOINT" HF_HUB_CACHE="$CACHE" expect_exit 2 estimate --model acme/tiny --tokens 1e6 &&
    grep -q "nor does the Hugging Face cache ($CACHE) hold acme/tiny, and HF_HUB_OFFLINE is set" "$WORK/stderr" &&
    HF_HUB_OFFLINE=true HF_ENDPOINT="$ENDPOINT" HF_HUB_CACHE="$CACHE" expect_exit 2 estimate --model acme/tiny \
      --revision dev --tokens 1e6 &&
    [[ $(requests) == "$before" && ! -e $CACHE ]]
}
check "HF_HUB_OFFLINE with an empty cache is an error that says so, without a connection" offline_empty_cache

concurrent() {
  CACHE="$WORK/cache-concurrent"
  local a b pids=()
  for n in 1 2 3; do
    HF_HUB_OFFLINE=0 HF_ENDPOINT="$ENDPOINT/" HF_HUB_CACHE="$CACHE" timeout 60 "$FM" estimate --model acme/tiny \
      --dataset "$WORK/data.jsonl" --json >"$WORK/outputs/concurrent$n.out" 2>"$WORK/outputs/concurrent$n.err" &
    pids+=($!)
  done
  a=0
  for p in "${pids[@]}"; do wait "$p" || a=1; done
  ((a == 0)) || { cat "$WORK"/outputs/concurrent*.err; return 1; }
  for n in 1 2 3; do
    b=$(python3 -c "import json; j=json.load(open('$WORK/outputs/concurrent$n.out')); print(j['dataset']['tokens'])")
    [[ $b == "$TOKENS" ]] || { echo "process $n counted $b tokens"; return 1; }
  done
  cached_as_served acme/tiny "$C1" config.json && cached_as_served acme/tiny "$C1" tokenizer.json && no_temporary_files
}
check "three processes fetching the same repository at once all succeed, leaving one consistent cache" concurrent

token_never_shown() {
  local hits
  hits=$(grep -rl -- "$TOKEN" "$WORK/outputs" "$WORK"/cache-* 2>/dev/null)
  [[ -z $hits ]] || { echo "the token shows in: $hits"; return 1; }
  # It did reach the Hub (so the grep above looked for something real).
  grep -q "Bearer $TOKEN" "$LOG"
}
check "the token appears in no output, record, error or cache file" token_never_shown

report_checks "hub_contract"
