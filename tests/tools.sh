# require_tools TOOL...: fails loudly (never skips) when one is missing.
require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (run scripts/deps.sh)" >&2; exit 1; }
  done
}
