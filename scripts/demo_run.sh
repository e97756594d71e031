# Shared by the demo scripts: `run ARGS...` shows a flopsmeter command as a
# user would type it (arguments with spaces quoted), then runs $FM with them.
run() {
  echo
  local shown=() arg
  for arg in "$@"; do [[ $arg == *" "* ]] && shown+=("'$arg'") || shown+=("$arg"); done
  echo "\$ flopsmeter ${shown[*]}"
  "$FM" "$@"
}
