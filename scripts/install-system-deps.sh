#!/usr/bin/env bash
# Installs the Debian packages Conclave needs. Called by `npm test` (everything the tests need)
# and `npm start` (--server: what running the server needs).
#
#   install-system-deps.sh            install what the tests need (apt-get when root), then check
#   install-system-deps.sh --server   the same for what running the server needs
#   install-system-deps.sh --check    install nothing; print the missing packages on one line and exit 1
#   install-system-deps.sh --list     print "what package group" for every requirement
#
# As root it installs with apt-get; otherwise it prints the apt-get command and exits 1.
set -euo pipefail

# What we need, one per line: <what to look for> <Debian package> <group>
#   what:  a command on PATH, or an absolute path to a file the package installs
#   group: server (running `conclave serve` needs it) or test (only the tests need it)
# Add a line here whenever code or a test starts needing a system package.
# g++ and make build pkcs11js (the PKCS#11 binding of @conclave/kms) during npm ci; softhsm2,
# python3-pykmip and binutils (strings) serve the data-at-rest tests.
# (read, not $(cat): --check must work with a PATH that has nothing but bash)
IFS= read -r -d '' REQUIREMENTS <<'EOF' || true
openssl                  openssl           server
/usr/bin/g++             g++               server
make                     make              server
chromium                 chromium          test
pebble                   pebble            test
pebble-challtestsrv      pebble            test
turnserver               coturn            test
turnutils_uclient        coturn            test
sslscan                  sslscan           test
softhsm2-util            softhsm2          test
/usr/lib/softhsm/libsofthsm2.so softhsm2   test
pykmip-server            python3-pykmip    test
strings                  binutils          test
ffmpeg                   ffmpeg            server
espeak-ng                espeak-ng         server
ffprobe                  ffmpeg            test
baresip                  baresip-core      test
/usr/lib/baresip/modules/ctrl_tcp.so baresip-core test
/usr/lib/baresip/modules/avcodec.so baresip-ffmpeg test
rtpengine                rtpengine-daemon  test
nginx                    nginx-light       test
/usr/lib/nginx/modules/ngx_rtmp_module.so libnginx-mod-rtmp test
pocketsphinx_continuous  pocketsphinx      server
/usr/share/pocketsphinx/model/en-us/en-us.lm.bin pocketsphinx-en-us server
/usr/share/pocketsphinx/test/data/librivox/transcription pocketsphinx-testdata test
EOF

mode=install
group=test
for arg in "$@"; do
  case "$arg" in
    --server) group=server ;;
    --check) mode=check ;;
    --list) mode=list ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-system-deps: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

if [[ $mode == list ]]; then
  printf '%s\n' "$REQUIREMENTS"
  exit 0
fi

# The requirements of the chosen group (the test group includes the server's).
missing=()
missing_what=()
missing_pkg=()
while read -r what pkg grp; do
  [[ -z "${what:-}" ]] && continue
  if [[ $group == server && $grp != server ]]; then continue; fi
  if [[ $what == /* ]]; then
    [[ -e $what ]] && continue
  else
    command -v "$what" >/dev/null 2>&1 && continue
  fi
  missing_what+=("$what")
  missing_pkg+=("$pkg")
  # One package may provide several requirements: list it once.
  if [[ " ${missing[*]-} " != *" $pkg "* ]]; then missing+=("$pkg"); fi
done <<<"$REQUIREMENTS"

# One line: each missing package with what it provides, then the command that installs them.
report_missing() {
  local pkg i whats line=""
  for pkg in "${missing[@]}"; do
    whats=""
    for i in "${!missing_what[@]}"; do
      [[ ${missing_pkg[$i]} == "$pkg" ]] && whats+="${whats:+, }${missing_what[$i]}"
    done
    line+="${line:+, }$pkg ($whats)"
  done
  echo "install-system-deps: missing Debian packages: $line; install with: sudo apt-get install ${missing[*]}" >&2
}

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $mode == check ]]; then
  report_missing
  exit 1
fi

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Check again: a package that installed but does not provide what we look for is a bug here.
  if [[ $group == server ]]; then exec bash "$0" --check --server; else exec bash "$0" --check; fi
else
  report_missing
  exit 1
fi
