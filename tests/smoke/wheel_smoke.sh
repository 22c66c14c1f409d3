#!/usr/bin/env bash
# The built wheel, used as a pip user would: installed into a fresh venv outside the checkout
# (with the [server] extra and constraints.txt), run from a scratch folder, with a dataset given
# by path. Checks outputs, not just exit statuses:
#   index $HYBRIDIR_DATA/adi      every document of corpus.jsonl indexed
#   search --json                 k hits ranked 1..k by falling score, each with matched terms
#   evaluate PATH (BM25)          the checkout's numbers exactly (.venv/bin/hybridir, same path)
#   evaluate NAME                 found in $HYBRIDIR_DATA; without it, one `error:` line, exit 1,
#                                 having searched only the cache (nothing beside the package)
#   serve --port 0                GET /health is {"status": "ok"}; the API's search = the CLI's
# Usage: tests/smoke/wheel_smoke.sh [DIST_DIR]   (make smoke: builds dist/ and sets HYBRIDIR_DATA)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
dist=${1:-$repo/dist}
python=${PYTHON:-python3}
checkout_cli=$repo/.venv/bin/hybridir

fail() { echo "wheel smoke: FAIL: $*" >&2; exit 1; }
step() { echo "wheel smoke: $*" >&2; }

[ -n "${HYBRIDIR_DATA:-}" ] || fail "set HYBRIDIR_DATA to the folder holding adi/ (make smoke does)"
dataset=$HYBRIDIR_DATA/adi
[ -f "$dataset/corpus.jsonl" ] || fail "no dataset at $dataset"
[ -x "$checkout_cli" ] || fail "$checkout_cli missing (make install)"
shopt -s nullglob
wheels=("$dist"/hybridir-*.whl)
sdists=("$dist"/hybridir-*.tar.gz)
[ ${#wheels[@]} -eq 1 ] || fail "expected one wheel in $dist, found ${#wheels[@]}"
[ ${#sdists[@]} -eq 1 ] || fail "expected one sdist in $dist, found ${#sdists[@]}"
wheel=${wheels[0]}

tmp=$(mktemp -d)
case "$tmp/" in "$repo"/*) fail "scratch folder $tmp is inside the checkout" ;; esac
server_pid=""
# The kernel warm-up that `hybridir index` started in the background writes into the cache
# until it removes its lock; the scratch folder goes only after it (at most 3 minutes).
warmup_lock() { echo "$tmp/cache/numba/warmup.lock"; }
wait_for_warmup() {
    local waited=0
    while [ -e "$(warmup_lock)" ] && [ "$waited" -lt 1800 ]; do sleep 0.1; waited=$((waited + 1)); done
    [ ! -e "$(warmup_lock)" ]
}
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    wait_for_warmup || true
    rm -rf "$tmp"
}
trap cleanup EXIT

step "installing $(basename "$wheel")[server] into a fresh $("$python" --version 2>&1) venv in $tmp"
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet -c "$repo/constraints.txt" "$wheel[server]"
bin=$tmp/venv/bin
py=$bin/python
mkdir "$tmp/work"
cd "$tmp/work"
unset PYTHONPATH
export HYBRIDIR_CACHE=$tmp/cache  # numba, downloads: nothing shared with the user's cache

where=$("$py" -c 'import hybridir; print(hybridir.__file__)')
case "$where" in "$tmp/venv/"*) ;; *) fail "hybridir imported from $where, not the fresh venv" ;; esac

step "index $dataset"
docs=$(grep -c . "$dataset/corpus.jsonl")
"$bin/hybridir" index "$dataset" col > index.out 2>&1 || { cat index.out >&2; fail "index failed"; }
grep -q "indexed $docs documents" index.out || { cat index.out >&2; fail "expected 'indexed $docs documents'"; }

step "search"
query="information retrieval systems"
"$bin/hybridir" search col "$query" -k 3 --json > search.json 2> search.err \
    || { cat search.err >&2; fail "search failed"; }
"$py" - search.json <<'EOF' || fail "search output is wrong: $(cat search.json)"
import json, sys
hits = json.load(open(sys.argv[1]))["hits"]
assert [h["rank"] for h in hits] == [1, 2, 3], hits
scores = [h["score"] for h in hits]
assert scores == sorted(scores, reverse=True) and scores[-1] > 0, scores
assert all(h["lists"][0]["matched_terms"] for h in hits), hits
EOF

step "evaluate $dataset (against the checkout's numbers)"
"$bin/hybridir" evaluate "$dataset" --retriever bm25 --json > eval.out 2>&1 || { cat eval.out >&2; fail "evaluate failed"; }
(cd "$repo" && "$checkout_cli" evaluate "$dataset" --retriever bm25 --json) > expected.out 2>&1 \
    || { cat expected.out >&2; fail "the checkout's evaluate failed"; }
"$py" - eval.out expected.out <<'EOF' || fail "evaluate differs: $(tail -1 eval.out) vs $(tail -1 expected.out)"
import json, sys
got, want = (json.loads(open(p).read().splitlines()[-1]) for p in sys.argv[1:])
assert got == want and got["queries"] > 0 and 0 < got["ndcg@10"] <= 1, (got, want)
EOF

step "evaluate adi by name: \$HYBRIDIR_DATA, then the cache only"
"$bin/hybridir" evaluate adi --retriever bm25 --json > byname.out 2>&1 || { cat byname.out >&2; fail "evaluate adi failed"; }
[ "$(tail -1 byname.out)" = "$(tail -1 eval.out)" ] || fail "evaluate adi differs from evaluate PATH"
status=0
env -u HYBRIDIR_DATA "$bin/hybridir" evaluate adi > noname.out 2>&1 || status=$?
[ "$status" -eq 1 ] || { cat noname.out >&2; fail "evaluate adi without HYBRIDIR_DATA: exit $status, not 1"; }
[ "$(wc -l < noname.out)" -eq 1 ] || { cat noname.out >&2; fail "expected one error line"; }
grep -qF "error: dataset 'adi' not found; searched ['$HYBRIDIR_CACHE/datasets']" noname.out \
    || { cat noname.out >&2; fail "unexpected lookup without HYBRIDIR_DATA"; }

step "serve, GET /health, POST a search"
"$bin/hybridir" serve col --port 0 > serve.out 2>&1 &
server_pid=$!
url=""
for _ in $(seq 1 600); do
    url=$(grep -o "serving .* on http://[0-9.:]*" serve.out | grep -o "http://.*" || true)
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat serve.out >&2; fail "serve exited"; }
    sleep 0.1
done
[ -n "$url" ] || { cat serve.out >&2; fail "serve did not start within 60 s"; }
"$py" - "$url" "$query" search.json <<'EOF' || fail "the HTTP API answered wrongly"
import json, sys, urllib.request
url, query, cli = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
with urllib.request.urlopen(f"{url}/health", timeout=30) as response:
    assert response.status == 200 and json.load(response) == {"status": "ok"}
body = json.dumps({"query": query, "k": 3}).encode()
request = urllib.request.Request(
    f"{url}/collections/col/search", body, {"content-type": "application/json"}
)
with urllib.request.urlopen(request, timeout=30) as response:
    hits = json.load(response)["hits"]
ids = [h["doc_id"] for h in hits]
assert ids == [h["doc_id"] for h in cli["hits"]], ids
EOF

step "the background kernel warm-up started by index finishes and leaves its ready marker"
wait_for_warmup || fail "the kernel warm-up still held $(warmup_lock) after 3 minutes"
markers=("$tmp"/cache/numba/ready-*)
[ ${#markers[@]} -ge 1 ] || { ls -la "$tmp/cache/numba" >&2; fail "no ready marker in $tmp/cache/numba"; }

step "OK in ${SECONDS} s"
