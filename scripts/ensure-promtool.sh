#!/usr/bin/env bash
# promtool (the alert-rule and dashboard tests run it) comes with Debian's prometheus package. When it is
# missing (and PROMTOOL does not name it), root on Debian/Ubuntu installs the package; anyone else is told
# how. The package's postinst starts a Prometheus server: a policy-rc.d that answers 101 stops that, and
# anything that still runs is stopped by PID.
set -euo pipefail

[[ -n "${PROMTOOL:-}" && -x "${PROMTOOL}" ]] && exit 0
command -v promtool >/dev/null && exit 0
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
  echo "promtool is missing: install Debian's prometheus package (sudo apt-get install prometheus), or set PROMTOOL to a promtool binary" >&2
  exit 1
fi

echo "[promtool] installing Debian's prometheus package (for promtool)"
policy=/usr/sbin/policy-rc.d created=0 rc=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# temporary, from scripts/ensure-promtool.sh: do not start services during apt-get install\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created=1
fi
{ DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; } </dev/null || rc=$?
((created == 0)) || rm -f "$policy"
((rc == 0)) || { echo "apt-get install prometheus failed" >&2; exit 1; }
if [[ -s /run/prometheus/prometheus.pid ]]; then
  pid="$(cat /run/prometheus/prometheus.pid)"
  if kill -0 "$pid" 2>/dev/null; then
    echo "installing prometheus started a server (pid $pid); stopping it"
    kill -TERM "$pid"
  fi
fi
# Nothing listening is the usual case: grep then fails, which must not end the script (set -e, pipefail).
pid="$(ss -ltnpH 'sport = :9090' 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 || true)"
if [[ -n "$pid" ]] && grep -q prometheus "/proc/$pid/cmdline" 2>/dev/null; then
  echo "a prometheus server listens on :9090 (pid $pid); stopping it"
  kill -TERM "$pid"
fi
command -v promtool >/dev/null || { echo "promtool still missing after installing prometheus" >&2; exit 1; }
