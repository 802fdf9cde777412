#!/usr/bin/env bash
# Brings what the test suite needs beyond npm packages, so `npm test` alone passes on a fresh
# machine: a Java runtime and Maven (the integration tests start a real Kafka broker from its Maven
# Central jars) and promtool (Debian package prometheus) for the alerting-rule and dashboard tests.
# Installs with apt-get when run as root; otherwise names the packages to install and fails.
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test prerequisites missing: install the Debian packages ${missing[*]} (apt-get install ${missing[*]}), then run npm test again" >&2
  exit 1
fi

echo "test prerequisites: installing ${missing[*]} with apt-get" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The prometheus package starts a service; the tests need only the promtool binary.
if printf '%s\n' "${missing[@]}" | grep -qx prometheus; then
  service prometheus stop >/dev/null 2>&1 || systemctl stop prometheus >/dev/null 2>&1 || true
fi
