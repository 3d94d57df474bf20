#!/usr/bin/env bash
# What the test suite needs from the machine, checked before any test runs (`npm test` calls this
# first). As root on Debian, whatever is missing is installed with apt-get (one `apt-get update`);
# anywhere else it stops at once with one line saying what to install.
#
# One entry a line: "COMMAND-OR-PATH DEBIAN-PACKAGE WHY". A feature whose tests need another
# program adds its line here; nothing else has to change.
set -euo pipefail

NEEDS='
/usr/bin/chromium chromium      the dashboard and browser-cookie tests (driven by playwright-core)
curl              curl          a real cookie-jar HTTP client
openssl           openssl       test certificates
redis-server      redis-server  shared-state tests against a real Redis
redis-cli         redis-server  shared-state tests against a real Redis
nft               nftables      kernel data-plane tests
ip                iproute2      network namespaces for kernel data-plane tests
ss                iproute2      the non-root ports test checks what is bound
capsh             libcap2-bin   kernel plane: start without CAP_NET_ADMIN
setcap            libcap2-bin   the non-root ports test (file capability on node)
setpriv           util-linux    the non-root ports test (run as the user of the manifests)
prlimit           util-linux    the descriptor-bound tests (a small open-file limit)
'

present() {
  case "$1" in
    /*) [ -x "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
while read -r what package _why; do
  [ -n "$what" ] || continue
  present "$what" && continue
  case " ${missing[*]-} " in *" $package "*) ;; *) missing+=("$package") ;; esac
done <<<"$NEEDS"

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 && [ -r /etc/debian_version ]; then
  echo "ensure-test-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } >/tmp/ensure-test-deps.log 2>&1; then
    echo "ensure-test-deps: apt-get could not install ${missing[*]} (see /tmp/ensure-test-deps.log)" >&2
    exit 1
  fi
  exit 0
fi

echo "ensure-test-deps: the tests need these Debian packages (or their equivalents): ${missing[*]} — install them (e.g. sudo apt-get install ${missing[*]}) and run npm test again" >&2
exit 1
